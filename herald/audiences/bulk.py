"""Many upserts at once, for the bulk API and the CSV import: one look-up query per chunk, the
suppression list preloaded, every bad item named by its index."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Integer, String, any_, bindparam, insert, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, lazyload

from herald.audiences import contacts
from herald.audiences.models import Consent, Contact, Suppression
from herald.core import clock, codes, pgbulk
from herald.core.errors import ValidationError

LOOKUP_CHUNK = 500


@dataclass
class Rejection:
    """One item that was not stored, with the first field at fault."""

    index: int
    field: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "error": {"field": self.field, "message": self.message}}


@dataclass
class BulkResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [r.to_dict() for r in self.rejected],
        }


def _reject(index: int, exc: ValidationError) -> Rejection:
    return Rejection(index, *exc.first())


def upsert_many(
    session: Session,
    payloads: Sequence[Any],
    *,
    source: str,
    region: str = "CN",
    clean: Callable[[Any, str], dict[str, Any]] = contacts.clean,
) -> BulkResult:
    """Create or update each payload (by ``external_id``, else ``email``); bad items are
    rejected, the others stored. Flushes; the caller commits."""
    result = BulkResult()
    cleaned: list[tuple[int, dict[str, Any]]] = []
    for index, payload in enumerate(payloads):
        try:
            cleaned.append((index, clean(payload, region)))
        except ValidationError as exc:
            result.rejected.append(_reject(index, exc))
    if not cleaned:
        return result
    try:
        with session.begin_nested():
            _fast(session, cleaned, source, result)
    except (IntegrityError, DataError):
        # a row clashed with a concurrent writer, or a value the database refused: redo this
        # chunk one item at a time so that only the bad item is rejected
        retry = BulkResult(rejected=[r for r in result.rejected if r.index not in dict(cleaned)])
        _slow(session, cleaned, source, retry)
        result = retry
    result.rejected.sort(key=lambda r: r.index)
    return result


@dataclass
class _Found:
    """The chunk's stored members as plain rows (their consents by member id) and the
    suppressed addresses among them: read with Core, far cheaper than ORM objects."""

    members: list[dict[str, Any]] = field(default_factory=list)
    consents: dict[int, list[tuple[str, bool]]] = field(default_factory=dict)
    suppressed: set[tuple[str, str]] = field(default_factory=set)


_MEMBER_COLUMNS = ("id", *sorted(contacts.FIELDS - {"attributes", "consent"}), "attributes")


def _preload(session: Session, cleaned: list[tuple[int, dict[str, Any]]]) -> _Found:
    ext_ids = sorted({v["external_id"] for _, v in cleaned if v.get("external_id")})
    emails = sorted({v["email"] for _, v in cleaned if v.get("email")})
    found = _Found()
    table = Contact.__table__
    columns = [table.c[name] for name in _MEMBER_COLUMNS]
    postgres = _is_postgres(session)
    pairs = zip_longest(_batches(ext_ids, postgres), _batches(emails, postgres), fillvalue=[])
    for some_ext, some_email in pairs:
        query = select(*columns).where(
            or_(
                _among(table.c.external_id, some_ext, postgres),
                _among(table.c.email, some_email, postgres),
            )
        )
        found.members += [dict(row) for row in session.execute(query).mappings()]
    # a member matched by id in one look-up and by email in another comes back twice
    found.members = list({m["id"]: m for m in found.members}.values())
    ids = sorted(m["id"] for m in found.members)
    for some_ids in _batches(ids, postgres):
        consents = select(Consent.contact_id, Consent.channel, Consent.granted).where(
            _among(Consent.contact_id, some_ids, postgres, Integer)
        )
        for contact_id, channel, granted in session.execute(consents):
            found.consents.setdefault(contact_id, []).append((channel, granted))
    addresses = {("email", e) for e in emails}
    addresses |= {("email", m["email"]) for m in found.members if m["email"]}
    phones = {v["phone"] for _, v in cleaned if v.get("phone")}
    phones |= {m["phone"] for m in found.members if m["phone"]}
    addresses |= {("sms", p) for p in phones}
    for some in _batches(sorted(addresses), postgres):
        chunk = [address for _, address in some]
        rows = session.execute(
            select(Suppression.channel, Suppression.address).where(
                _among(Suppression.address, chunk, postgres)
            )
        )
        found.suppressed |= {(ch, ad) for ch, ad in rows}
    return found


def _views(found: _Found, loaded: dict[int, Contact]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stored members by external_id and by email: the ORM object where ``loaded`` has
    one, else a fresh plain copy of the row that :func:`contacts.apply` can read and write."""
    by_ext: dict[str, Any] = {}
    by_email: dict[str, Any] = {}
    for row in found.members:
        view: Any = loaded.get(row["id"])
        if view is None:
            consents = [
                SimpleNamespace(channel=c, granted=g) for c, g in found.consents.get(row["id"], [])
            ]
            view = SimpleNamespace(**row, consents=consents)
        if row["external_id"]:
            by_ext[row["external_id"]] = view
        if row["email"]:
            by_email[row["email"]] = view
    return by_ext, by_email


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _batches(values: list[Any], postgres: bool) -> Iterator[list[Any]]:
    """``values`` in look-up sized slices: all in one array on PostgreSQL, at most
    ``LOOKUP_CHUNK`` (the parameters of one IN list) elsewhere."""
    step = max(len(values), 1) if postgres else LOOKUP_CHUNK
    for start in range(0, len(values), step):
        yield values[start : start + step]


def _among(column: Any, values: list[Any], postgres: bool, kind: Any = String) -> Any:
    """``column IN (values)``; on PostgreSQL ``= ANY(:array)``, one short statement for any
    number of values (a thousand-item IN list is a new, long statement text every chunk)."""
    if postgres:
        return column == any_(bindparam(None, values, type_=ARRAY(kind)))
    return column.in_(values)


NEW_COLUMNS = ("external_id", "email", "phone", "first_name", "last_name", "locale", "timezone")
NEW_COLUMNS += ("birthday",)


def _new_row(values: dict[str, Any]) -> dict[str, Any]:
    """A new member as a plain row (inserted in one statement per chunk, not as ORM objects)."""
    row: dict[str, Any] = dict.fromkeys(NEW_COLUMNS)
    row.update(tier="new", points=0, attributes={}, consent={})
    _merge_row(row, values)
    return row


def _merge_row(row: dict[str, Any], values: dict[str, Any]) -> bool:
    """Apply ``values`` to a pending new row (a member that appears twice in one chunk)."""
    changed = False
    for key, value in values.items():
        if key in ("attributes", "consent"):
            merged = {**row[key], **value}
            changed |= merged != row[key]
            row[key] = merged
        elif row.get(key) != value:
            row[key] = value
            changed = True
    return changed


def _key_of(target: Any, name: str) -> Any:
    return target.get(name) if isinstance(target, dict) else getattr(target, name)


def _fast(
    session: Session, cleaned: list[tuple[int, dict[str, Any]]], source: str, result: BulkResult
) -> None:
    found = _preload(session, cleaned)
    # a dry run over plain copies finds the stored members this chunk changes; only those are
    # loaded as ORM objects (loading every member of a re-imported file cost more than the rest)
    changing = (
        _walk(session, cleaned, source, found, {}, BulkResult(), []) if found.members else set()
    )
    loaded: dict[int, Contact] = {}
    postgres = _is_postgres(session)
    for ids in _batches(sorted(changing), postgres):
        query = (
            select(Contact)
            .options(lazyload(Contact.scores))  # their RFM scores are not needed
            .where(_among(Contact.id, ids, postgres, Integer))
        )
        loaded.update((c.id, c) for c in session.scalars(query))
    pending: list[dict[str, Any]] = []
    _walk(session, cleaned, source, found, loaded, result, pending)
    session.flush()
    if pending:
        _insert(session, pending, source, found.suppressed)


def _walk(
    session: Session,
    cleaned: list[tuple[int, dict[str, Any]]],
    source: str,
    found: _Found,
    loaded: dict[int, Contact],
    result: BulkResult,
    pending: list[dict[str, Any]],
) -> set[int]:
    """Apply each item in order to its member (a stored one, or one new in this chunk);
    returns the ids of the stored members that changed."""
    found_ext, found_email = _views(found, loaded)
    changing: set[int] = set()
    for index, values in cleaned:
        email = values.get("email") or ""
        target = found_ext.get(values.get("external_id") or "") or found_email.get(email)
        owner = found_email.get(email)
        if owner is not None and target is not None and owner is not target:
            result.rejected.append(Rejection(index, "email", "belongs to another contact"))
            continue
        old_ext = _key_of(target, "external_id") if target is not None else None
        old_email = _key_of(target, "email") if target is not None else None
        if target is None:
            target = _new_row(values)
            pending.append(target)
            result.created += 1
        else:
            if isinstance(target, dict):
                changed = _merge_row(target, values)
            else:
                changed = contacts.apply(session, target, values, source, found.suppressed)
                if changed:
                    changing.add(target.id)
            if changed:
                result.updated += 1
            else:
                result.unchanged += 1
        if old_ext and old_ext != _key_of(target, "external_id"):
            found_ext.pop(old_ext, None)  # the member took another id: the old one is free
        if _key_of(target, "external_id"):
            found_ext[_key_of(target, "external_id")] = target
        if old_email and old_email != _key_of(target, "email"):
            found_email.pop(old_email, None)
        if _key_of(target, "email"):
            found_email[_key_of(target, "email")] = target
    return changing


def _insert(
    session: Session,
    rows: list[dict[str, Any]],
    source: str,
    suppressed: set[tuple[str, str]],
) -> None:
    """New members in one INSERT … RETURNING, then their consent rows in one INSERT."""
    now = clock.now()
    consents = [row.pop("consent") for row in rows]
    for row in rows:
        row["created_at"] = row["updated_at"] = now
        row["referral_code"] = codes.referral_code()
    postgres = _is_postgres(session)
    if postgres:
        ids = _insert_copied(session, rows)
    else:
        ids = session.scalars(
            insert(Contact).returning(Contact.id, sort_by_parameter_order=True), rows
        ).all()
    consent_rows = []
    for contact_id, row, consent in zip(ids, rows, consents, strict=True):
        for channel, granted in consent.items():
            address = row["email"] if channel == "email" else row["phone"]
            if granted and (channel, address or "") in suppressed:
                granted = False
            consent_rows.append(
                {
                    "contact_id": contact_id,
                    "channel": channel,
                    "granted": granted,
                    "source": source,
                    "updated_at": now,
                }
            )
    if not consent_rows:
        return
    if postgres:
        columns = ("contact_id", "channel", "granted", "source", "updated_at")
        pgbulk.copy(session, Consent.__table__, columns, consent_rows)
    else:
        session.execute(insert(Consent), consent_rows)


def _insert_copied(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """PostgreSQL: the new members with ids from the sequence, in one COPY."""
    table = Contact.__table__
    ids = pgbulk.next_ids(session, table, len(rows))
    for contact_id, row in zip(ids, rows, strict=True):
        row["id"] = contact_id
    pgbulk.copy(session, table, tuple(sorted(set().union(*rows))), rows)
    return ids


def _slow(
    session: Session, cleaned: list[tuple[int, dict[str, Any]]], source: str, result: BulkResult
) -> None:
    for index, values in cleaned:
        try:
            with session.begin_nested():
                contact = contacts.find(session, values)
                contacts.check_email_free(session, contact, values)
                created = contact is None
                if contact is None:
                    contact = Contact(attributes={})
                    session.add(contact)
                changed = contacts.apply(session, contact, values, source)
                session.flush()
        except ValidationError as exc:
            result.rejected.append(_reject(index, exc))
            continue
        except IntegrityError as exc:
            result.rejected.append(
                Rejection(index, "", f"conflicts with a stored contact: {exc.orig}")
            )
            continue
        except DataError as exc:
            result.rejected.append(
                Rejection(index, "", f"the database refused a value: {str(exc.orig)[:200]}")
            )
            continue
        if created:
            result.created += 1
        elif changed:
            result.updated += 1
        else:
            result.unchanged += 1
