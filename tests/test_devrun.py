"""``herald run`` for an operator: no line per tick at INFO, and the admin's address and the demo
credentials printed again once everything answers."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from herald import devrun
from herald.workers.quiet import RoutineTaskFilter
from tests.conftest import free_port


def _record(message: str, args: object, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("celery.app.trace", level, __file__, 1, message, args, None)


def test_the_filter_drops_routine_task_lines_and_keeps_the_rest() -> None:
    quiet = RoutineTaskFilter()
    trace = "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s"
    tick = {"name": "herald.tick", "id": "1", "runtime": 0.01, "return_value": {}}
    batch = {**tick, "name": "herald.send_batch"}
    assert not quiet.filter(_record(trace, tick))
    assert quiet.filter(_record(trace, batch))
    assert quiet.filter(_record(trace, tick, logging.ERROR))  # a failing tick is always shown
    assert not quiet.filter(_record("Task herald.tick[abc] received", None))
    assert quiet.filter(_record("Task herald.send_batch[abc] received", None))


def test_the_banner_repeats_the_remembered_demo_login(tmp_path: Path) -> None:
    assert "demo admin" not in devrun.banner(5000, tmp_path)
    devrun.remember_credentials(tmp_path, "admin@example.com", "s3cret-pass")
    assert (tmp_path / devrun.CREDENTIALS_FILE).stat().st_mode & 0o077 == 0  # owner only
    text = devrun.banner(5123, tmp_path)
    assert "http://127.0.0.1:5123/admin/" in text
    assert "demo admin: admin@example.com / s3cret-pass" in text


@pytest.mark.slow
def test_herald_run_prints_the_login_once_up_and_no_tick_lines(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    port = free_port()
    env = {
        **os.environ,
        "HERALD_INSTANCE_PATH": str(instance),
        "HERALD_DATABASE_URL": f"sqlite:///{tmp_path / 'herald.db'}",
        "HERALD_SMTP_PORT": str(free_port()),
        "HERALD_SECRET_KEY": "devrun-test",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("HERALD_BROKER_URL", "HERALD_SMTP_HOST", "HERALD_REDIS_URL"):
        env.pop(name, None)
    exe = [sys.executable, "-m", "herald"]
    subprocess.run([*exe, "db", "upgrade"], env=env, check=True, capture_output=True, cwd=tmp_path)
    demo = subprocess.run(
        [*exe, "demo"], env=env, check=True, capture_output=True, text=True, cwd=tmp_path
    )
    login = next(line for line in demo.stdout.splitlines() if line.startswith("demo admin: "))

    log = tmp_path / "run.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*exe, "run", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=tmp_path,  # the embedded broker keeps a control folder in the working directory
        )
        try:
            deadline = time.monotonic() + 90
            while "Herald is up" not in log.read_text():
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
            time.sleep(6)  # six ticks' worth of logging
        finally:
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=30)
    text = log.read_text()
    banner = text[text.index("Herald is up") :]
    assert f"http://127.0.0.1:{port}/admin/" in banner
    assert login in banner
    assert "herald.tick[" not in text  # the worker's banner lists the task by name once
    assert "Running job" not in text and "executed successfully" not in text
