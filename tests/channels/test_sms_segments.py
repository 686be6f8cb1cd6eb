"""GSM-7 / UCS-2 segment counting, against the textbook figures and a plain twin."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from herald.channels import sms

BASIC = sorted(sms.GSM_BASIC)
EXTENSION = sorted(sms.GSM_EXTENSION)


def twin(text: str) -> tuple[str, int]:
    """The formula as providers document it, for texts where no character straddles a part."""
    if all(ch in sms.GSM_BASIC or ch in sms.GSM_EXTENSION for ch in text):
        units = len(text) + sum(ch in sms.GSM_EXTENSION for ch in text)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part, encoding = 70, 67, "UCS-2"
    if units == 0:
        return encoding, 0
    return encoding, 1 if units <= single else math.ceil(units / part)


def test_the_textbook_boundaries():
    assert sms.segments("a" * 160) == ("GSM-7", 1)
    assert sms.segments("a" * 161) == ("GSM-7", 2)
    assert sms.segments("a" * 306) == ("GSM-7", 2)
    assert sms.segments("a" * 307) == ("GSM-7", 3)
    assert sms.segments("€" * 80) == ("GSM-7", 1)  # extension characters take two septets
    assert sms.segments("€" * 81) == ("GSM-7", 2)
    assert sms.segments("退订" * 35) == ("UCS-2", 1)
    assert sms.segments("退订" * 35 + "a") == ("UCS-2", 2)
    assert sms.segments("a" * 133 + "好") == ("UCS-2", 2)
    assert sms.segments("") == ("GSM-7", 0)


def test_a_two_septet_character_is_not_split_across_parts():
    # 152 basic + one € (2 septets) would straddle the 153-septet boundary of the first part
    assert sms.segments("a" * 152 + "€" + "a" * 152) == ("GSM-7", 3)
    assert sms.segments("a" * 152 + "€" * 77) == ("GSM-7", 3)


@given(st.text(alphabet=st.sampled_from(BASIC), max_size=800))
def test_basic_gsm_text_matches_the_formula(text):
    assert sms.segments(text) == twin(text)


@given(st.text(alphabet=st.sampled_from(BASIC + EXTENSION), max_size=600))
def test_gsm_text_with_extension_characters_is_never_cheaper_than_the_formula(text):
    encoding, parts = sms.segments(text)
    assert encoding == "GSM-7"
    formula = twin(text)[1]
    assert formula <= parts <= formula + max(1, parts // 76)


@given(st.text(max_size=400))
def test_any_text_is_gsm_exactly_when_every_character_is(text):
    encoding, parts = sms.segments(text)
    assert (encoding == "GSM-7") == all(
        ch in sms.GSM_BASIC or ch in sms.GSM_EXTENSION for ch in text
    )
    assert parts >= twin(text)[1]


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300), st.characters())
def test_adding_a_character_never_needs_fewer_segments_in_the_same_encoding(text, extra):
    before, after = sms.segments(text), sms.segments(text + extra)
    if before[0] == after[0]:
        assert after[1] >= before[1]
