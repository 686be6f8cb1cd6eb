"""Readable random codes (referral codes): no 0/O or 1/I/L to misread, grouped for reading."""

from __future__ import annotations

import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REFERRAL_LENGTH = 10  # 31**10 ≈ 8e14 codes: a clash among millions of members is ~1e-9 a code


# a random byte below 248 (= 31 * 8) picks a letter without bias; 248..255 are dropped
_LETTER_OF_BYTE = bytes(ord(ALPHABET[b % len(ALPHABET)]) for b in range(256))
_UNUSABLE = bytes(range(len(ALPHABET) * (256 // len(ALPHABET)), 256))


def referral_code() -> str:
    """A new referral code such as ``K7M2Q-W9PXA``."""
    raw = b""
    while len(raw) < REFERRAL_LENGTH:  # 16 bytes leave 10 usable ones all but always
        raw += secrets.token_bytes(16).translate(_LETTER_OF_BYTE, _UNUSABLE)
    letters = raw[:REFERRAL_LENGTH].decode("ascii")
    return f"{letters[:5]}-{letters[5:]}"


def normalise_referral(value: object) -> str | None:
    """A code as a member might type it (any case, spaces or dashes anywhere) in its stored
    form, or None when it cannot be one."""
    if not isinstance(value, str):
        return None
    raw = "".join(ch for ch in value.upper() if ch not in " -")
    if len(raw) != REFERRAL_LENGTH or any(ch not in ALPHABET for ch in raw):
        return None
    return f"{raw[:5]}-{raw[5:]}"
