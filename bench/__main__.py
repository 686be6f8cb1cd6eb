"""``python -m bench [NAME…] [--full]``: run every bench/bench_*.py module's ``main()``, or those
named (``send``, ``tracking``, ``webhooks``, ``reports``, ``audiences``, ``email``,
``send_time``). ``--full`` sends to 1,000,000 members instead of 100,000."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path


def main(args: list[str]) -> None:
    names = [a for a in args if not a.startswith("--")]
    modules = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    chosen = [m for m in modules if not names or m.removeprefix("bench_") in names or m in names]
    for name in chosen:
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        importlib.import_module(f"bench.{name}").main()
        print(f"== {name} took {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
