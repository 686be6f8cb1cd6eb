"""Static lists: named sets of members added by id or email; a segment targets one with
``{"list": id}`` (or ``{"field": "list", "op": "in", "value": [ids]}``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from herald.audiences.models import Contact, ContactList, ListMember
from herald.core.errors import Conflict, NotFound, ValidationError

MAX_ADD = 10_000


def create(session: Session, name: Any) -> ContactList:
    """A new, empty list; names are unique."""
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValidationError("name: 1 to 200 characters", {"name": "1 to 200 characters"})
    name = name.strip()
    if session.scalar(select(ContactList.id).where(ContactList.name == name)) is not None:
        raise Conflict(f"a list named {name!r} exists", {"name": "already used"})
    found = ContactList(name=name)
    session.add(found)
    session.flush()
    return found


def get(session: Session, list_id: int) -> ContactList:
    found = session.get(ContactList, list_id)
    if found is None:
        raise NotFound(f"list {list_id} does not exist")
    return found


def size(session: Session, list_id: int) -> int:
    """Live members in the list."""
    query = (
        select(func.count())
        .select_from(ListMember)
        .join(Contact, Contact.id == ListMember.contact_id)
        .where(ListMember.list_id == list_id, Contact.erased_at.is_(None))
    )
    return int(session.scalar(query) or 0)


MAX_CONTACT_ID = 2_147_483_647


def add(
    session: Session, list_id: int, ids: Sequence[Any] = (), emails: Sequence[Any] = ()
) -> dict[str, Any]:
    """Add members by id and/or email. Returns ``{added, already, not_found}``; unknown ids and
    emails are listed in ``not_found``, never created."""
    get(session, list_id)
    if len(ids) + len(emails) > MAX_ADD:
        raise ValidationError(f"at most {MAX_ADD} members per call", {"ids": "too many"})
    bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, int)]
    if bad:
        raise ValidationError("ids: must be whole numbers", {"ids": f"not an id: {bad[0]!r}"})
    wanted_emails = {str(e).strip().lower(): e for e in emails}
    found: dict[int, None] = {}
    live = Contact.erased_at.is_(None)
    # an id beyond what an INTEGER column holds names no contact (PostgreSQL would refuse it)
    lookup = [i for i in ids if 0 < i <= MAX_CONTACT_ID]
    for start in range(0, len(lookup), 1000):
        chunk = lookup[start : start + 1000]
        found.update(
            dict.fromkeys(session.scalars(select(Contact.id).where(live, Contact.id.in_(chunk))))
        )
    seen_emails: set[str] = set()
    keys = list(wanted_emails)
    for start in range(0, len(keys), 1000):
        rows = session.execute(
            select(Contact.id, Contact.email).where(
                live, Contact.email.in_(keys[start : start + 1000])
            )
        )
        for cid, email in rows:
            found[cid] = None
            seen_emails.add(email)
    not_found = [i for i in ids if i not in found] + [
        raw for key, raw in wanted_emails.items() if key not in seen_emails
    ]
    present = set(
        session.scalars(
            select(ListMember.contact_id).where(
                ListMember.list_id == list_id, ListMember.contact_id.in_(list(found))
            )
        )
    )
    new = [cid for cid in found if cid not in present]
    session.add_all([ListMember(list_id=list_id, contact_id=cid) for cid in new])
    session.flush()
    return {"added": len(new), "already": len(present), "not_found": not_found}


def to_dict(session: Session, contact_list: ContactList) -> dict[str, Any]:
    return {
        "id": contact_list.id,
        "name": contact_list.name,
        "size": size(session, contact_list.id),
        "created_at": contact_list.created_at.isoformat(),
    }
