"""One paged list being read: how to fetch a page, what is known of it, its reads, its repeats."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Hashable
from typing import Any, Generic, TypeVar

from ..models import Page
from .list_state import ListState, Resized
from .read_queue import Read, ReadQueue
from .window import RecentKeys

T = TypeVar("T")

Fetch = Callable[[int, int], Awaitable[Page[Any]]]
"""``fetch(page_number, per_page)``: one page of the list, its items as sent (see ``models``)."""


class Source(Generic[T]):
    """One paged list: the task list, or one task's customers.

    Its :class:`~.list_state.ListState` decides, its
    :class:`~.read_queue.ReadQueue` holds the reads, its
    :class:`~.window.RecentKeys` drops repeats; the engine schedules the reads
    of every list of an iterator.
    """

    def __init__(
        self,
        fetch: Fetch,
        key: Callable[[T], Hashable],
        *,
        per_page: int,
        label: str,
        start_page: int = 1,
        count_hint: int | None = None,
        known: Collection[Hashable] | None = None,
        gone_is_empty: bool = False,
        window: int = 10_000,
        tag: Any = None,
        keys: Callable[[list[T]], set[Hashable]] | None = None,
        models: Callable[[list[Any]], list[T]] | None = None,
    ) -> None:
        self.fetch = fetch
        # A fetched page's items as ``T``s (``None``: they are already), called as the page
        # is handed on, so that the pages read ahead hold the server's plain JSON.
        self.models = models
        self.label = label
        self.gone_is_empty = gone_is_empty  # a list that is not found is an empty one
        self.tag = tag  # the caller's, handed back with each page
        self.state = ListState(label, per_page, start_page, count_hint)
        self.queue: ReadQueue[T] = ReadQueue()
        self.window: RecentKeys[T] = RecentKeys(key, max(window, 2 * per_page), keys)
        if known:
            self.window.remember(known)
        self.order = 0  # its place among the lists of one iterator
        self.yielded = 0  # pages handed on
        self.handed: Page[T] | None = None  # the last page handed on, while not marked last

    def __repr__(self) -> str:
        state = self.state
        return f"<Source {self.label} next={state.next} last={state.last} end={state.end}>"

    def startable(self) -> bool | None:
        """``True``: read the next page now; ``None``: not known yet; ``False``: nothing more."""
        return self.state.startable(bool(self.queue.reads))

    def done(self) -> bool:
        """Nothing left to read or to take."""
        queue = self.queue
        return not queue.reads and not queue.redo and self.state.startable(False) is False

    def learn(self, read: Read[T]) -> None:
        """Take in what a finished read says of the list, and drop the reads it makes void."""
        read.learned = True
        task = read.task
        if task.cancelled():
            return
        if task.exception() is not None:
            self.state.failed(read.number)
            return
        page = task.result()
        queue = self.queue
        queue.resolve(read, len(page.items))
        change = self.state.learn(read.number, read.size, read.again, page)
        if change is None:
            return
        if isinstance(change, Resized):
            # Asked for at the old size: their rows are not the pages we now read.
            queue.discard([r for r in queue.reads if r is not read or not change.keep])
            if change.keep:
                read.size = change.size
            return
        queue.discard([r for r in queue.reads if r.number > change and not r.again])

    def stop(self, number: int) -> None:
        """Nothing after page ``number``: drop the later reads, finished or not."""
        self.state.end_at(number)
        self.queue.cancel()
