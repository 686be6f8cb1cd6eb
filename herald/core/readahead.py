"""Producing the next items in a thread while the caller works on this one.

For work that alternates Python computation with waiting on the database (a CSV import checks
rows, then waits while PostgreSQL writes them): the checks of the next chunk run while the
caller waits, since a thread blocked on a socket holds no GIL.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
_END = object()


class ReadAhead(Generic[T]):
    """Iterate ``source`` in a thread, at most ``depth`` items ahead of the caller. An
    exception in ``source`` is raised to the caller at the item where it happened;
    :meth:`close` (also when the caller stops early) stops the thread and closes ``source``."""

    def __init__(self, source: Iterator[T], depth: int = 2) -> None:
        self.source = source
        self.items: queue.Queue[object] = queue.Queue(maxsize=depth)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._produce, name="read-ahead", daemon=True)
        self.thread.start()

    def _put(self, item: object) -> bool:
        while not self.stopping.is_set():
            try:
                self.items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for item in self.source:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as exc:  # handed to the caller, raised there
            self._put(exc)
        finally:
            if isinstance(self.source, Generator):
                self.source.close()

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self.items.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    def close(self) -> None:
        """Stop reading ahead and wait for the thread (it closes ``source``)."""
        self.stopping.set()
        while self.thread.is_alive():
            try:
                self.items.get_nowait()  # unblock a put in flight
            except queue.Empty:
                self.thread.join(timeout=0.05)
