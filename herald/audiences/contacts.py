"""Checking and upserting members: the one path the API, CSV import and webhooks share."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.audiences.models import CHANNEL_CONSENTS, TIERS, Consent, Contact, Suppression
from herald.core import clock
from herald.core.errors import Conflict, ValidationError

MAX_POINTS = 2**31 - 1  # the points column is a 32-bit integer
NUL = "\x00"
TEXT_FIELDS = {"external_id": 255, "first_name": 255, "last_name": 255, "locale": 35}
FIELDS = {
    "external_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "locale",
    "timezone",
    "tier",
    "points",
    "birthday",
    "attributes",
    "consent",
}


# a plain ASCII dot-atom local part: the common case, checked here so that email-validator's
# (slow) domain checks run once per domain instead of once per address
SIMPLE_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


def normalise_email(raw: Any) -> str:
    """A syntactically valid, normalised address (no DNS look-up)."""
    if not isinstance(raw, str):
        raise ValueError("must be text")
    address = raw.strip()
    local, at, domain = address.rpartition("@")
    if at and len(local) <= 64 and len(address) <= 254 and SIMPLE_LOCAL.match(local):
        checked = _domain(domain)
        if checked.startswith("@"):
            return f"{local}{checked}".lower()
    try:
        return validate_email(address, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None


@functools.lru_cache(maxsize=4096)
def _domain(domain: str) -> str:
    """``@normalised-domain`` when email-validator accepts it, else its complaint."""
    try:
        return "@" + validate_email(f"a@{domain}", check_deliverability=False).domain
    except EmailNotValidError as exc:
        return str(exc)


def normalise_phone(raw: Any, region: str) -> str:
    """E.164 form of a phone number; numbers without ``+`` are read in ``region``."""
    if not isinstance(raw, str | int):
        raise ValueError("must be text")
    try:
        number = phonenumbers.parse(str(raw).strip(), region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def find_nul(value: Any, path: str) -> tuple[str, str] | None:
    """``(place, message)`` of the first NUL character in ``value`` (texts, keys and values of
    objects and lists, recursively), else None. Databases refuse NUL in text."""
    if isinstance(value, str):
        return (path, "must not contain NUL characters") if NUL in value else None
    if value is None or isinstance(value, int | float):  # the common cases, before the ABC checks
        return None
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if isinstance(key, str) and NUL in key:
                return path, f"key {key!r} must not contain NUL characters"
            found = find_nul(inner, f"{path}.{key}" if path else str(key))
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            found = find_nul(inner, f"{path}[{index}]")
            if found:
                return found
    return None


def _bad_number(value: Any, path: str) -> tuple[str, str] | None:
    """``(place, message)`` of the first non-finite number in an attribute value."""
    if isinstance(value, float) and not math.isfinite(value):
        return path, "must be a finite number"
    if isinstance(value, Mapping):
        for key, inner in value.items():
            found = _bad_number(inner, f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            found = _bad_number(inner, f"{path}[{index}]")
            if found:
                return found
    return None


def clean(payload: Any, region: str = "CN", partial: bool = False) -> dict[str, Any]:
    """Check a contact payload; returns cleaned values or raises :class:`ValidationError` naming
    every bad field."""
    if not isinstance(payload, Mapping):
        raise ValidationError("a contact must be a JSON object", {"": "must be an object"})
    problems: dict[str, str] = {}
    out: dict[str, Any] = {}
    for key in payload:
        if key not in FIELDS:
            problems[str(key)] = "unknown field"
    with_nul = set()
    for key in FIELDS:
        found = find_nul(payload.get(key), key) if key in payload else None
        if found:
            problems.setdefault(*found)
            with_nul.add(key)
    if with_nul:
        payload = {k: v for k, v in payload.items() if k not in with_nul}
    for key, limit in TEXT_FIELDS.items():
        if key in payload:
            value = payload[key]
            if value is None:
                out[key] = None
            elif not isinstance(value, str):
                problems[key] = "must be text"
            elif len(value) > limit:
                problems[key] = f"at most {limit} characters"
            else:
                out[key] = value.strip() or None
    for key, fn in (("email", normalise_email), ("phone", lambda v: normalise_phone(v, region))):
        if key in payload:
            if payload[key] in (None, ""):
                out[key] = None
                continue
            try:
                out[key] = fn(payload[key])
            except ValueError as exc:
                problems[key] = str(exc)
    if "timezone" in payload and payload["timezone"] not in (None, ""):
        try:
            out["timezone"] = ZoneInfo(str(payload["timezone"])).key
        except (ZoneInfoNotFoundError, ValueError):
            problems["timezone"] = f"{payload['timezone']!r} is not an IANA time zone"
    elif "timezone" in payload:
        out["timezone"] = None
    if "tier" in payload:
        if payload["tier"] not in TIERS:
            problems["tier"] = f"must be one of {', '.join(TIERS)}"
        else:
            out["tier"] = payload["tier"]
    if "points" in payload:
        points = payload["points"]
        if isinstance(points, bool) or not isinstance(points, int):
            problems["points"] = "must be a whole number"
        elif points < 0:
            problems["points"] = "must not be negative"
        elif points > MAX_POINTS:
            problems["points"] = f"at most {MAX_POINTS:,}"
        else:
            out["points"] = points
    if "birthday" in payload:
        raw = payload["birthday"]
        if raw in (None, ""):
            out["birthday"] = None
        else:
            try:
                out["birthday"] = date.fromisoformat(str(raw))
            except ValueError:
                problems["birthday"] = "must be a date such as 1990-05-17"
    if "attributes" in payload:
        if not isinstance(payload["attributes"], Mapping):
            problems["attributes"] = "must be an object"
        elif found := _bad_number(payload["attributes"], "attributes"):
            problems.setdefault(*found)
        else:
            out["attributes"] = dict(payload["attributes"])
    if "consent" in payload:
        consent = payload["consent"]
        if not isinstance(consent, Mapping):
            problems["consent"] = 'must be an object such as {"email": true}'
        else:
            for channel, granted in consent.items():
                if channel not in CHANNEL_CONSENTS:
                    problems[f"consent.{channel}"] = "unknown channel"
                elif not isinstance(granted, bool):
                    problems[f"consent.{channel}"] = "must be true or false"
            out["consent"] = dict(consent)
    if not partial and not (out.get("external_id") or out.get("email")) and not problems:
        problems["email"] = "external_id or email is required"
    if problems:
        first, message = next(iter(problems.items()))
        raise ValidationError(f"{first}: {message}", problems)
    return out


def find(session: Session, values: Mapping[str, Any]) -> Contact | None:
    """The live member matching ``external_id``, else ``email``."""
    if values.get("external_id"):
        found = session.scalar(select(Contact).where(Contact.external_id == values["external_id"]))
        if found is not None:
            return found
    if values.get("email"):
        return session.scalar(select(Contact).where(Contact.email == values["email"]))
    return None


def check_email_free(session: Session, contact: Contact | None, values: Mapping[str, Any]) -> None:
    """A 422 when ``values`` would give ``contact`` an address another member already has."""
    email = values.get("email")
    if not email or (contact is not None and contact.email == email):
        return
    owner = session.scalar(select(Contact.id).where(Contact.email == email))
    if owner is not None and (contact is None or owner != contact.id):
        raise ValidationError(
            f"email: {email} belongs to another contact", {"email": "belongs to another contact"}
        )


def check_external_id_free(session: Session, contact: Contact, values: Mapping[str, Any]) -> None:
    """A 409 when ``values`` would give ``contact`` the ``external_id`` of another member."""
    external_id = values.get("external_id")
    if not external_id or contact.external_id == external_id:
        return
    owner = session.scalar(select(Contact.id).where(Contact.external_id == external_id))
    if owner is not None and owner != contact.id:
        raise Conflict(
            f"external_id: {external_id} belongs to another contact",
            {"external_id": "belongs to another contact"},
        )


def apply(
    session: Session,
    contact: Contact,
    values: Mapping[str, Any],
    source: str,
    suppressed: set[tuple[str, str]] | None = None,
) -> bool:
    """Write cleaned ``values`` onto ``contact``; fields left out keep their values. Returns
    whether anything changed."""
    changed = False
    # consent last: a suppression is looked up by the address this same update may set
    for key, value in sorted(values.items(), key=lambda kv: kv[0] == "consent"):
        if key == "consent":
            for channel, granted in value.items():
                changed |= set_consent(session, contact, channel, granted, source, suppressed)
            continue
        if key == "attributes":
            merged = {**(contact.attributes or {}), **value}
            if merged != (contact.attributes or {}):
                contact.attributes = merged
                changed = True
            continue
        if getattr(contact, key) != value:
            setattr(contact, key, value)
            changed = True
    return changed


def set_consent(
    session: Session,
    contact: Contact,
    channel: str,
    granted: bool,
    source: str,
    suppressed: set[tuple[str, str]] | None = None,
) -> bool:
    """Record consent on one channel; a suppressed address can't be opted back in by an import
    or webhook. ``suppressed`` is an optional preloaded set of (channel, address) pairs."""
    if granted:
        if suppressed is not None:
            address = contact.email if channel == "email" else contact.phone
            if (channel, address or "") in suppressed:
                granted = False
        elif is_suppressed(session, contact, channel):
            granted = False
    for consent in contact.consents:
        if consent.channel == channel:
            if consent.granted == granted:
                return False
            consent.granted = granted
            consent.source = source
            consent.updated_at = clock.now()
            return True
    contact.consents.append(Consent(channel=channel, granted=granted, source=source))
    return True


def is_suppressed(session: Session, contact: Contact, channel: str) -> bool:
    address = contact.email if channel == "email" else contact.phone
    if not address:
        return False
    return (
        session.scalar(
            select(Suppression.id).where(
                Suppression.channel == channel, Suppression.address == address
            )
        )
        is not None
    )


def upsert(
    session: Session, payload: Any, *, source: str = "api", region: str = "CN"
) -> tuple[Contact, bool]:
    """Create or update a member by ``external_id``, else ``email``. Returns (contact, created)."""
    values = clean(payload, region)
    contact = find(session, values)
    check_email_free(session, contact, values)
    created = contact is None
    if contact is None:
        contact = Contact(attributes={})
        session.add(contact)
    apply(session, contact, values, source)
    session.flush()
    return contact, created


def to_dict(contact: Contact) -> dict[str, Any]:
    """The API shape of a member."""
    return {
        "id": contact.id,
        "external_id": contact.external_id,
        "email": contact.email,
        "phone": contact.phone,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "locale": contact.locale,
        "timezone": contact.timezone,
        "tier": contact.tier,
        "points": contact.points,
        "birthday": contact.birthday.isoformat() if contact.birthday else None,
        "attributes": contact.attributes or {},
        "consent": {c.channel: c.granted for c in contact.consents},
        "orders_count": contact.orders_count,
        "total_spent": float(contact.total_spent or 0),
        "last_order_at": contact.last_order_at.isoformat() if contact.last_order_at else None,
        **behaviour(contact),
        "created_at": contact.created_at.isoformat() if contact.created_at else None,
        "updated_at": contact.updated_at.isoformat() if contact.updated_at else None,
        "best_hour": contact.best_hour,
    }


def behaviour(contact: Contact) -> dict[str, Any]:
    """What Herald derived about a member (section 15): RFM scores and group, favourite
    category, referral code and points expiry; shared by the API and templates."""
    expire_at = contact.points_expire_at
    return {
        "rfm": {
            "recency": contact.rfm_recency,
            "frequency": contact.rfm_frequency,
            "monetary": contact.rfm_monetary,
            "group": contact.rfm_group,
        },
        "favourite_category": contact.favourite_category,
        "referral_code": contact.referral_code,
        "referred_by_id": contact.referred_by_id,
        "points_expiring": contact.points_expiring,
        "points_expire_at": expire_at.isoformat() if expire_at else None,
    }
