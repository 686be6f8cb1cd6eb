"""Render the fault suite's figures (build/faults/scenario-*.json, written by tests/faults) into
RELIABILITY.md between the markers ``<!-- faults:begin -->`` and ``<!-- faults:end -->``.

Usage: python scripts/fault_table.py [RESULTS_DIR] [RELIABILITY.md]. Each scenario's row shows its
last run found in RESULTS_DIR (a run of one scenario leaves the others' rows as they were there)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BEGIN, END = "<!-- faults:begin -->", "<!-- faults:end -->"
COLUMNS = ("sent", "duplicates", "lost", "uncertain", "recover_seconds")


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _extra(figures: dict[str, object]) -> str:
    """The scenario's own figures beyond the common columns, as ``name: value`` pairs."""
    skip = {*COLUMNS, "seconds", "kills"}
    parts = [
        f"{name.replace('_', ' ')} {_cell(value)}"
        for name, value in sorted(figures.items())
        if name not in skip and not isinstance(value, list | dict)
    ]
    return "; ".join(parts)


def render(results: list[dict[str, object]]) -> str:
    """The markdown table of the last run's scenarios, in scenario order."""
    if not results:
        return "_No fault scenario has run yet: `make test-faults` fills this table._"
    moments = sorted(str(r.get("finished_at", "")) for r in results)
    when = moments[-1] if moments[0] == moments[-1] else f"{moments[0]} to {moments[-1]}"
    lines = [
        f"Each scenario's last run ({when}), `make test-faults`.",
        "",
        "| # | scenario | result | sent | duplicates | lost | uncertain | time to recover (s)"
        " | run (s) | other figures |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in sorted(results, key=lambda r: int(str(r["scenario"]))):
        figures = dict(result.get("figures") or {})  # type: ignore[call-overload]
        notes = "; ".join(result.get("notes") or [])  # type: ignore[arg-type]
        other = "; ".join(part for part in (_extra(figures), notes) if part)
        cells = [
            str(result["scenario"]),
            str(result["title"]),
            "passed" if result.get("outcome") == "passed" else "**failed**",
            *(_cell(figures.get(name)) for name in COLUMNS),
            _cell(figures.get("seconds", result.get("seconds"))),
            other,
        ]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    folder = Path(argv[1] if len(argv) > 1 else "build/faults")
    target = Path(argv[2] if len(argv) > 2 else "RELIABILITY.md")
    results = [json.loads(p.read_text()) for p in sorted(folder.glob("scenario-*.json"))]
    text = target.read_text()
    if BEGIN not in text or END not in text:
        print(f"{target}: no {BEGIN} … {END} markers", file=sys.stderr)
        return 1
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    target.write_text(f"{head}{BEGIN}\n{render(results)}\n{END}{tail}")
    print(f"{target}: {len(results)} fault scenarios written")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
