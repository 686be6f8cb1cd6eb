"""Spreadsheet-safe CSV: every CSV Herald writes passes its cells through :func:`safe_cell`, so a
value from a member, a shop or a marketer can't become a formula when the file is opened in Excel,
LibreOffice or Google Sheets (OWASP "CSV injection")."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from typing import IO, Any

# a cell starting with one of these is read as a formula (TAB and CR by some importers)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The cell as text that no spreadsheet runs: NUL removed, and a leading ``= + - @``, TAB or
    CR escaped with a single quote. Numbers and None pass unchanged (a negative number is data)."""
    if not isinstance(value, str):
        return value
    text = value.replace("\x00", "")
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def safe_row(row: Iterable[Any]) -> list[Any]:
    """Each cell of ``row`` made safe."""
    return [safe_cell(cell) for cell in row]


class SafeWriter:
    """``csv.writer`` whose rows are made safe first."""

    def __init__(self, file: IO[str], **options: Any) -> None:
        self._writer = csv.writer(file, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow(safe_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter(csv.DictWriter):  # type: ignore[type-arg]
    """``csv.DictWriter`` whose values are made safe first."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({key: safe_cell(value) for key, value in rowdict.items()})
