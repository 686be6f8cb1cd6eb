"""Reading ahead in a thread: the same items in the same order, an error where it happened,
and a caller that stops early leaves no thread and an open file behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.core.readahead import ReadAhead


@given(st.lists(st.integers()), st.integers(min_value=1, max_value=4))
def test_items_arrive_as_the_source_made_them(items: list[int], depth: int) -> None:
    ahead = ReadAhead(iter(items), depth=depth)
    try:
        assert list(ahead) == items
    finally:
        ahead.close()
    assert not ahead.thread.is_alive()


def test_an_error_in_the_source_is_raised_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("line 3 is unreadable")

    ahead = ReadAhead(source())
    seen = []
    with pytest.raises(ValueError, match="line 3"):
        for item in ahead:
            seen.append(item)
    ahead.close()
    assert seen == [1, 2]


def test_stopping_early_closes_the_source_and_ends_the_thread() -> None:
    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            n = 0
            while True:  # endless: only close() ends it
                n += 1
                yield n
        finally:
            closed.set()

    ahead = ReadAhead(source(), depth=2)
    for item in ahead:
        if item == 5:
            break
    ahead.close()
    assert closed.is_set()
    assert not ahead.thread.is_alive()
