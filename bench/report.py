"""Helpers shared by the benchmarks: timing with medians, and writing one section of
BENCHMARKS.md between markers so each benchmark owns its own part of the file."""

from __future__ import annotations

import platform
import re
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "BENCHMARKS.md"
HEADER = """# Benchmarks

Run with `make bench`. Every figure stands beside a baseline measured in the same run on the same
machine (these machines are shared and noisy): read the ratios and medians, not single times.
"""


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls of ``fn``."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine() -> str:
    import os

    python = f"{platform.python_implementation()} {platform.python_version()}"
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip() + ", "
                break
    except OSError:
        pass
    when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    return f"{python}, {model}{os.cpu_count()} cores (shared), {when}"


def command() -> str:
    """The command that produced the figures (``make bench`` and its arguments)."""
    import sys

    args = " ".join(a for a in sys.argv[1:] if a)
    return f"make bench{' ARGS=' + repr(args) if args else ''}"


def write_section(name: str, body: str) -> None:
    """Replace (or add) the section ``name`` of BENCHMARKS.md."""
    import os

    target = Path(os.environ.get("BENCH_OUTPUT") or BENCHMARKS)
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    text = target.read_text() if target.exists() else HEADER
    block = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + block + "\n"
    )
    target.write_text(text)
