"""``herald run`` for trying Herald: remember the demo admin's credentials in the instance folder
(the database keeps only a hash) and print them with the admin's address once the web answers,
after the start-up lines have scrolled by."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

CREDENTIALS_FILE = "demo-admin.txt"


def remember_credentials(instance: Path, email: str, password: str) -> None:
    """Keep the demo admin's login in ``instance/demo-admin.txt``, readable by its owner only."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / CREDENTIALS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"{email} / {password}\n")


def remembered_credentials(instance: Path) -> str | None:
    """The demo admin's ``email / password``, or None when there is no demo admin."""
    path = instance / CREDENTIALS_FILE
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def wait_until_up(url: str, children: Sequence[subprocess.Popen], timeout: float = 60.0) -> bool:
    """Poll ``url`` until it answers 200; False when a child stops or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def banner(port: int, instance: Path) -> str:
    """What an operator needs once everything is up: where to go and how to log in."""
    lines = ["", "=" * 64, f"  Herald is up: http://127.0.0.1:{port}/admin/"]
    credentials = remembered_credentials(instance)
    if credentials:
        lines.append(f"  demo admin: {credentials}")
        lines.append(f"  (kept in {instance / CREDENTIALS_FILE}; delete it to stop this line)")
    lines += ["  Ctrl-C stops web, worker and scheduler.", "=" * 64, ""]
    return "\n".join(lines)
