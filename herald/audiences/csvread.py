"""Reading a shop's CSV export without trusting it: any encoding Python knows (a UTF-8 BOM is
dropped), Windows or Unix line ends, ``,`` ``;`` or tab as separator, huge lines, undecodable
bytes. Yields one record at a time (constant memory) with the line it started on.

Decisions (documented for marketers in the import summary):
- the first line is the header; a file whose first line names no known column is refused;
- unknown columns are ignored and named in a warning (shop exports carry extra columns);
- an empty cell leaves the stored value unchanged;
- a row with more cells than the header, undecodable bytes, or over ``MAX_ROW_CHARS`` characters
  is rejected with its line number and reason.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from herald.audiences.contacts import FIELDS
from herald.audiences.models import CHANNEL_CONSENTS
from herald.core.errors import HeraldError

MAX_ROW_CHARS = 100_000
csv.field_size_limit(64 * 1024 * 1024)  # a 5 MB line must be read (and then rejected), not crash
WHOLE = re.compile(r"-?[0-9]{1,12}")
NUMBER = re.compile(r"^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,6})?$")
TRUE = {"true", "yes", "y", "1", "granted", "opt-in", "subscribed"}
FALSE = {"false", "no", "n", "0", "revoked", "opt-out", "unsubscribed"}
SCALAR_COLUMNS = [f for f in sorted(FIELDS) if f not in ("attributes", "consent")]


class ImportFailed(HeraldError):
    """The file can't be read at all (missing, empty, no header, unknown encoding)."""

    code = "import_failed"
    status = 422


@dataclass
class Record:
    """One CSV record: the line it started on, the contact payload, or why it is rejected."""

    line: int
    cells: list[str]
    payload: dict[str, Any] | None = None
    field: str = ""
    reason: str = ""


@dataclass
class Header:
    columns: list[str]
    used: dict[int, str] = field(default_factory=dict)  # cell index -> column
    ignored: list[str] = field(default_factory=list)
    # (cell index, kind, key) for each used column, worked out once for every row
    plan: list[tuple[int, str, str]] = field(default_factory=list)


class CountingReader(io.RawIOBase):
    """A binary file that counts the bytes handed out (for progress)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


def check_encoding(encoding: str) -> str:
    """The codec name for a text encoding; bytes-to-bytes codecs (hex, zlib, …) and str-to-str
    ones (rot13) are refused, as are unknown names."""
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError, ValueError):
        raise ImportFailed(f"unknown encoding {encoding!r} (try utf-8, gbk or gb18030)") from None
    if not getattr(info, "_is_text_encoding", True):
        raise ImportFailed(
            f"{encoding!r} is not a text encoding (try utf-8, gbk or gb18030)"
        ) from None
    name = info.name
    return "utf-8-sig" if name in ("utf-8", "utf-8-sig") else name


def parse_header(cells: list[str]) -> Header:
    header = Header(columns=[c.strip() for c in cells])
    seen: set[str] = set()
    for index, raw in enumerate(header.columns):
        name = raw if raw.startswith("attributes.") else raw.lower()
        known = (
            name in SCALAR_COLUMNS
            or (name.startswith("attributes.") and len(name) > len("attributes."))
            or (name.removeprefix("consent.") in CHANNEL_CONSENTS and name.startswith("consent."))
        )
        if not known:
            header.ignored.append(raw or f"(column {index + 1} has no name)")
            continue
        if name in seen:
            raise ImportFailed(f"the header names column {name!r} twice")
        seen.add(name)
        header.used[index] = name
    if not header.used:
        shown = ", ".join(header.columns[:4])[:120]
        raise ImportFailed(
            "the first line must be a header naming columns such as external_id, email, "
            f"first_name, consent.email; it reads {shown!r}"
        )
    if "external_id" not in seen and "email" not in seen:
        raise ImportFailed("the header needs an external_id or an email column")
    for index, name in header.used.items():
        if name.startswith("attributes."):
            header.plan.append((index, "attribute", name.removeprefix("attributes.")))
        elif name.startswith("consent."):
            header.plan.append((index, "consent", name.removeprefix("consent.")))
        else:
            header.plan.append((index, "points" if name == "points" else "text", name))
    return header


def to_payload(header: Header, cells: list[str]) -> Record:
    """The contact payload of one row; empty cells are left out (they change nothing)."""
    record = Record(line=0, cells=cells)
    payload: dict[str, Any] = {}
    count = len(cells)
    for index, kind, key in header.plan:
        value = cells[index].strip() if index < count else ""
        if value == "":
            continue
        if kind == "text":
            payload[key] = value
        elif kind == "attribute":
            stored: Any = value
            if NUMBER.match(value):
                stored = float(value) if "." in value else int(value)
            payload.setdefault("attributes", {})[key] = stored
        elif kind == "consent":
            flag = value.lower()
            if flag not in TRUE and flag not in FALSE:
                record.field = f"consent.{key}"
                record.reason = f"{value!r} is not yes/no or true/false"
                return record
            payload.setdefault("consent", {})[key] = flag in TRUE
        else:
            if not WHOLE.fullmatch(value):
                record.field, record.reason = key, f"{value!r} is not a whole number"
                return record
            payload[key] = int(value)
    record.payload = payload
    return record


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read(path: Path, encoding: str = "utf-8") -> tuple[Header, Iterator[Record], CountingReader]:
    """Open ``path`` and parse its header; returns the header, an iterator of records and the
    byte counter. Raises :class:`ImportFailed` when the file can't be read."""
    codec = check_encoding(encoding)
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the record iterator
    except OSError as exc:
        raise ImportFailed(f"can't open {path}: {exc.strerror}") from None
    counter = CountingReader(raw)
    text = io.TextIOWrapper(
        io.BufferedReader(counter), encoding=codec, errors="surrogateescape", newline=""
    )
    first = text.readline()
    if not first.strip():
        raw.close()
        raise ImportFailed(f"{path.name} is empty: no header line")
    if _has_bad_bytes(first):
        raw.close()
        raise ImportFailed(f"the header is not valid {encoding} text (try --encoding gbk)")
    delimiter = _delimiter(first)
    header_cells = next(csv.reader([first], delimiter=delimiter))
    try:
        header = parse_header(header_cells)
    except ImportFailed:
        raw.close()
        raise
    return header, _records(header, text, delimiter, raw, encoding), counter


_BAD_BYTE = re.compile("[\udc80-\udcff]")  # what errors="surrogateescape" made of a bad byte


def _has_bad_bytes(text: str) -> bool:
    return _BAD_BYTE.search(text) is not None


def _records(
    header: Header, text: io.TextIOWrapper, delimiter: str, raw: BinaryIO, encoding: str
) -> Iterator[Record]:
    reader = csv.reader(text, delimiter=delimiter)
    try:
        while True:
            line = reader.line_num + 2  # the record's first line; the header was line 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Record(line=line, cells=[], reason=f"unreadable CSV: {exc}")
                continue
            joined = "".join(cells)
            if not joined.strip():
                continue
            size = len(joined)
            if size > MAX_ROW_CHARS:
                yield Record(
                    line=line,
                    cells=[c[:200] for c in cells],
                    reason=f"the row is {size:,} characters long; the most is {MAX_ROW_CHARS:,}",
                )
                continue
            if _has_bad_bytes(joined):
                cells = [
                    c.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for c in cells
                ]
                yield Record(
                    line=line, cells=cells, reason=f"not valid {encoding} text (try --encoding gbk)"
                )
                continue
            if len(cells) > len(header.columns):
                yield Record(
                    line=line,
                    cells=cells,
                    reason=f"{len(cells)} cells but the header has {len(header.columns)} columns",
                )
                continue
            record = to_payload(header, cells)
            record.line = line
            yield record
    finally:
        raw.close()
