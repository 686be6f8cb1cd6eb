"""Referral codes: the readable alphabet, the grouped form, and no letter favoured."""

from __future__ import annotations

from collections import Counter

from scipy.stats import chisquare

from herald.core import codes


def test_a_code_is_two_groups_of_five_readable_letters() -> None:
    for _ in range(2000):
        code = codes.referral_code()
        first, dash, second = code.partition("-")
        assert dash and len(first) == len(second) == 5
        assert set(first + second) <= set(codes.ALPHABET)
        assert codes.normalise_referral(code.lower().replace("-", " ")) == code


def test_every_letter_is_equally_likely() -> None:
    # 31 letters from random bytes: a plain `byte % 31` would favour the first eight letters by
    # 1/31 (248..255 wrap around); chi-square over 300,000 letters sees a bias of that size
    counts = Counter("".join(codes.referral_code() for _ in range(30_000)).replace("-", ""))
    assert set(counts) == set(codes.ALPHABET)
    assert chisquare([counts[ch] for ch in codes.ALPHABET]).pvalue > 1e-4


def test_codes_do_not_repeat() -> None:
    made = [codes.referral_code() for _ in range(50_000)]
    assert len(set(made)) == len(made)
