"""The reads of one list, in the order their pages are handed on, and what they hold.

A read is one request for one page. The queue owns the read-ahead count
(:class:`Budget`, shared by every list of one iterator): only its methods
change it, as reads are added, resolved, taken or discarded.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Collection
from typing import Any, Generic, TypeVar

import attrs

from ..models import Page

T = TypeVar("T")


@attrs.define(eq=False)
class Read(Generic[T]):
    """One request for one page, and when it went out and came back."""

    number: int
    size: int
    task: asyncio.Task[Page[Any]]  # the page as fetched: its items not read yet
    sent: int  # the scheduler's clock when it was sent, and when it came back
    expected: int  # items it holds or should hold, for the read-ahead bound
    again: bool = False  # an earlier page read again to close a gap, not a new page
    received: int | None = None
    learned: bool = False


class Budget:
    """The items an iterator holds, or expects, in reads not yet taken: its read-ahead."""

    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held = 0


class ReadQueue(Generic[T]):
    """One list's reads in output order, and the pages waiting to be read again."""

    __slots__ = ("budget", "reads", "redo")

    def __init__(self) -> None:
        self.reads: deque[Read[T]] = deque()
        # Pages to read again, ascending, before anything in ``reads`` but the pages already
        # being read again at its front: started as the read-ahead allows.
        self.redo: list[int] = []
        self.budget = Budget()  # the iterator's, once its scheduler opens the list

    def add(self, read: Read[T], at: int | None = None) -> None:
        """Queue ``read`` last, or at position ``at``."""
        if at is None:
            self.reads.append(read)
        else:
            self.reads.insert(at, read)
        self.budget.held += read.expected

    def take(self) -> Read[T]:
        """Remove the head read: its page is handed on, or dealt with otherwise."""
        read = self.reads.popleft()
        self.budget.held -= read.expected
        return read

    def resolve(self, read: Read[T], items: int) -> None:
        """``read`` came back with ``items`` items: count those, not what was expected."""
        self.budget.held += items - read.expected
        read.expected = items

    def discard(self, unwanted: Collection[Read[T]]) -> None:
        """Drop reads no longer wanted: cancel them, or drop their answers, and free their room."""
        if not unwanted:
            return
        gone = set(unwanted)
        self.reads = deque(read for read in self.reads if read not in gone)
        for read in unwanted:
            self.budget.held -= read.expected
            read.learned = True  # nothing to learn from a page not wanted
            drop(read.task)

    def again_ahead(self) -> int:
        """How many pages being read again stand at the front of the queue."""
        n = 0
        for read in self.reads:
            if not read.again:
                break
            n += 1
        return n

    def ready(self) -> bool:
        """Whether the head read can be taken: it is in, and no page before it waits to be read."""
        reads = self.reads
        if not reads or not reads[0].task.done():
            return False
        return reads[0].again or not self.redo

    def cancel(self) -> None:
        """Cancel every read still running: the list ends before them."""
        for read in self.reads:
            read.task.cancel()


def drop(task: asyncio.Task[Any]) -> None:
    """Cancel a read no longer wanted, or mark its finished answer as dropped on purpose."""
    if task.done():
        settle(task)
    else:
        task.cancel()


def settle(task: asyncio.Task[Any]) -> None:
    """Mark a finished read's outcome as seen: it is dropped on purpose, not lost."""
    if not task.cancelled():
        task.exception()
