"""scripts/fault_table.py: the fault suite's figures rendered into RELIABILITY.md's table."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "fault_table.py"
spec = importlib.util.spec_from_file_location("fault_table", SCRIPT)
assert spec is not None and spec.loader is not None
fault_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fault_table)


def _result(folder: Path, scenario: int, outcome: str, **figures: object) -> None:
    body = {
        "scenario": str(scenario),
        "title": f"Scenario {scenario}",
        "outcome": outcome,
        "figures": figures,
        "notes": ["a note | with a bar"],
        "finished_at": "2026-12-01 21:00 UTC",
    }
    (folder / f"scenario-{scenario}.json").write_text(json.dumps(body))


def test_the_table_replaces_what_is_between_the_markers_only(tmp_path):
    results = tmp_path / "faults"
    results.mkdir()
    _result(results, 10, "passed", sent=10000, duplicates=3, lost=0, uncertain=40, kills=[1])
    _result(results, 2, "failed", sent=4543, lost=457, recover_seconds=15.5, seconds=60.0)
    target = tmp_path / "RELIABILITY.md"
    target.write_text(
        "# Head\n\n<!-- faults:begin -->\nold table\n<!-- faults:end -->\n\n## Tail\n"
    )
    assert fault_table.main(["fault_table.py", str(results), str(target)]) == 0
    text = target.read_text()
    assert text.startswith("# Head\n") and text.endswith("\n## Tail\n")
    assert "old table" not in text
    rows = [
        line for line in text.splitlines() if line.startswith("| 2 ") or line.startswith("| 10 ")
    ]
    # scenario order by number, a failure in bold, thousands separated, bars kept out of cells
    assert rows[0].startswith("| 2 | Scenario 2 | **failed** | 4,543 | – | 457 | – | 15.5 | 60 |")
    assert rows[1].startswith("| 10 | Scenario 10 | passed | 10,000 | 3 | 0 | 40 | – |")
    assert "a note / with a bar" in rows[1]


def test_no_markers_is_an_error_and_changes_nothing(tmp_path):
    target = tmp_path / "RELIABILITY.md"
    target.write_text("# nothing to fill\n")
    assert fault_table.main(["fault_table.py", str(tmp_path), str(target)]) == 1
    assert target.read_text() == "# nothing to fill\n"
