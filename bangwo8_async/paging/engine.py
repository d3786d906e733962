"""The paging engine behind every iterator: concurrent reads, ordered pages, the server's truth.

It takes the *sources* of an iterator (one paged list each: the task list, or
one task's customers) as they come, and yields their pages in order, each item
once. The
server, not our assumptions, decides:

* **the page size**: the first page read learns the size the server really
  serves (it may cap ``per_page``); later pages are asked for by that size;
* **the end**: the last page implied by ``count``, an empty page, a short
  page, or a full page that brings nothing new (a server that clamps the page
  number); never a guess;
* **the order of reads**: every page reports the ``count`` the server saw when
  it read it. Two neighbouring pages can only have a gap between them when the
  later page reports a smaller count than the earlier one; then the page read
  first is read again before the engine moves past the pair (see
  :meth:`.list_state.ListState.gap`).

Those rules are :class:`.list_state.ListState`'s; this module schedules the
reads. Repeats are dropped only against items yielded from earlier pages, by
the source's identity key, over a bounded window (:class:`.window.RecentKeys`).

Scheduling: reads are started in output order while the items buffered and
expected stay within ``read_ahead``; a read sleeping in a retry backoff holds
no attempt slot, so the pages behind it keep coming. Attempts in flight are
bounded by ``concurrency`` through the session's ``attempt_limit``.

On ``break``/``aclose()``/cancellation everything started is cancelled and
awaited; if the consuming task ends while the generator sits at a yield, its
reads are cancelled at once and read again if iteration resumes elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Generic, TypeVar

import attrs

from .._http import attempt_limit
from ..errors import Bangwo8Error, NotFoundError
from ..models import Page
from .read_queue import Budget, Read, settle
from .source import Source
from .stats import PageStats

T = TypeVar("T")
logger = logging.getLogger("bangwo8_async")

#: Lists open at once per request in flight: enough to keep fetching past a head page that
#: waits out a backoff when every list is a page or two (a task's customers).
MAX_SOURCES_PER_SLOT = 32


@attrs.frozen
class Taken(Generic[T]):
    """A page as the engine hands it on: its items not seen before, and where it stands."""

    source: Source[T]
    page: Page[T]
    last: bool  # no page of this source follows


class Scheduler(Generic[T]):
    """What one running iterator has in hand: its open lists and their reads.

    Work per event stays small however many lists are open: finished reads
    queue themselves to be learned from, and only lists that something
    happened to are asked whether they can start a page.
    """

    def __init__(self, limit: asyncio.Semaphore, concurrency: int, read_ahead: int) -> None:
        self.concurrency = concurrency
        self.read_ahead = read_ahead
        self.max_sources = MAX_SOURCES_PER_SLOT * concurrency
        self.limit = limit
        self.active: deque[Source[T]] = deque()
        self.in_flight: set[asyncio.Task[Page[Any]]] = set()
        self.finished: list[tuple[Source[T], Read[T]]] = []
        self.wakeup = asyncio.Event()  # set as each read finishes
        # Counts sends and answers: which of two reads can have been read by the server first.
        self.clock = 0
        self.dirty: dict[Source[T], int] = {}  # sources that may start a page, by their order
        self.opened = 0
        self.budget = Budget()

    def open(self, source: Source[T]) -> None:
        self.active.append(source)
        self.opened += 1
        source.order = self.opened
        source.queue.budget = self.budget
        source.state.first_round = self.concurrency
        self.dirty[source] = self.opened

    def touch(self, source: Source[T]) -> None:
        """Something happened to ``source``: ask it again whether it can start a page."""
        if source not in self.dirty:
            self.dirty[source] = source.order

    def read(self, source: Source[T], number: int, *, again: bool = False) -> Read[T]:
        """Send one page request, in the background."""
        size, limit = source.state.size, self.limit

        async def fetch() -> Page[Any]:
            attempt_limit.set(limit)  # this task's own context: bounds its attempts only
            return await source.fetch(number, size)

        task = asyncio.ensure_future(fetch())
        self.clock += 1
        read: Read[T] = Read(number, size, task, self.clock, source.state.expected(number), again)

        def finished(_: asyncio.Task[Page[Any]]) -> None:
            self.in_flight.discard(task)
            self.answered(read)
            self.finished.append((source, read))
            self.wakeup.set()

        task.add_done_callback(finished)
        self.in_flight.add(task)
        return read

    def answered(self, read: Read[T]) -> None:
        """Stamp a finished read; its done-callback may run after the loop has seen it done."""
        if read.received is None:
            self.clock += 1
            read.received = self.clock

    def buffered(self) -> int:
        """Items held, or expected, in reads not yet taken."""
        return self.budget.held

    def fill(self) -> None:
        """Learn from finished reads, then start pages in output order while the buffer allows."""
        finished, self.finished = self.finished, []
        for source, read in finished:
            if not read.learned and not read.task.cancelled():
                source.learn(read)
            self.touch(source)
        if not self.dirty:
            return
        buffered = self.buffered()
        head = self.active[0] if self.active else None
        for source in sorted(self.dirty, key=self.dirty.__getitem__):
            state, queue = source.state, source.queue
            while queue.redo:
                ahead = queue.again_ahead()
                if buffered + state.size > self.read_ahead and ahead:
                    return  # full; but the first page to read again always starts
                read = self.read(source, queue.redo.pop(0), again=True)
                queue.add(read, ahead)
                buffered += read.expected
            while source.startable():
                expected = state.expected(state.next)
                if buffered + expected > self.read_ahead and (source is not head or queue.reads):
                    return  # full; but the head is never starved of its next page
                queue.add(self.read(source, state.next))
                state.next += 1
                buffered += expected
            del self.dirty[source]

    def wants_source(self) -> bool:
        """Whether to open the next source: none can start a page now, and there is room."""
        return (
            len(self.active) < self.max_sources
            and not any(source.startable() for source in self.dirty)
            and self.buffered() < self.read_ahead
        )

    def tasks(self) -> list[asyncio.Task[Page[Any]]]:
        return [read.task for source in self.active for read in source.queue.reads]

    def cancel_all(self) -> None:
        for task in self.tasks():
            task.cancel()


async def ordered_pages(
    sources: AsyncIterator[Source[T]],
    *,
    concurrency: int,
    read_ahead: int,
    stats: PageStats | None = None,
    limit: asyncio.Semaphore | None = None,
) -> AsyncGenerator[Taken[T], None]:
    """Every page of every source, in order; see the module docstring.

    ``limit`` bounds the attempts in flight (``concurrency`` of them unless given:
    pass one semaphore to iterators that share a bound).
    """
    scheduler: Scheduler[T] = Scheduler(
        limit or asyncio.Semaphore(concurrency), concurrency, read_ahead
    )
    exhausted = False
    consumer: asyncio.Task[Any] | None = None

    def consumer_ended(_: asyncio.Task[Any]) -> None:
        # The consuming task ended while this generator sat at a yield: stop reading now
        # rather than whenever the generator is garbage-collected.
        scheduler.cancel_all()

    try:
        while True:
            current = asyncio.current_task()
            if current is not consumer:
                if consumer is not None:
                    consumer.remove_done_callback(consumer_ended)
                consumer = current
                if consumer is not None:
                    consumer.add_done_callback(consumer_ended)
            scheduler.fill()
            head = scheduler.active[0] if scheduler.active else None
            ready = head is not None and head.queue.ready()
            if not ready and not exhausted and scheduler.wants_source():
                try:
                    scheduler.open(await anext(sources))
                except StopAsyncIteration:
                    exhausted = True
                continue
            if head is None:
                return
            if head.done():
                scheduler.active.popleft()
                if stats is not None:
                    stats.counted(head.state.first_count, head.state.last_count)
                if head.handed is not None:
                    # The list ended after its last page was handed on (an empty or repeated
                    # page, a task gone): say so, so that a checkpoint can move past it.
                    end = attrs.evolve(head.handed, items=[])
                    head.handed = None
                    yield Taken(head, end, last=True)
                continue
            if not ready:
                if not scheduler.finished and scheduler.in_flight:
                    await scheduler.wakeup.wait()
                scheduler.wakeup.clear()
                continue
            taken = _take(scheduler, head, stats)
            scheduler.touch(head)
            if taken is not None:
                scheduler.fill()  # start what this page revealed before handing it on
                yield taken
    finally:
        if consumer is not None:
            consumer.remove_done_callback(consumer_ended)
        pending = set(scheduler.tasks()) | scheduler.in_flight
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        aclose = getattr(sources, "aclose", None)
        if aclose is not None:
            await aclose()


def _take(scheduler: Scheduler[T], source: Source[T], stats: PageStats | None) -> Taken[T] | None:
    """Consume the head read of ``source``: a page to hand on, or ``None`` to look again."""
    state, queue = source.state, source.queue
    read = queue.reads[0]
    scheduler.answered(read)
    if not read.learned:
        source.learn(read)  # may re-scheduler the reads: look again
        return None
    task = read.task
    past_end = state.end is not None and read.number > state.end and not read.again
    if task.cancelled() and not past_end:
        # Cancelled when an earlier consumer task ended; iteration goes on in another.
        queue.take()
        queue.add(scheduler.read(source, read.number, again=read.again), 0)
        return None
    queue.take()
    if past_end:
        settle(task)  # past the end of the list: dropped on purpose
        return None
    exc = task.exception()
    if exc is not None:
        if source.gone_is_empty and isinstance(exc, NotFoundError):
            logger.debug("%s is gone; skipping it", source.label)
            source.stop(read.number)
            return None if source.yielded else _hand_on(source, read, _empty(read), [], stats)
        if isinstance(exc, Bangwo8Error):
            exc.page = read.number
        raise exc
    page = task.result()
    again = state.gap(read.number, read.again, read.sent, page)
    if again:
        _read_again(scheduler, source, read, page, again, stats)
        return None
    page = _models(source, read, page)
    fresh = source.window.fresh(page.items)
    dropped = len(page.items) - len(fresh)
    if dropped:
        logger.debug("%s: page %d: %d repeats dropped", source.label, read.number, dropped)
        if stats is not None:
            stats.repeats_dropped += dropped
    state.took(read.number, read.size, read.again, read.received or 0, page, len(fresh))
    if source.yielded and not fresh and (read.again or not page.items):
        return None  # nothing new to hand on
    return _hand_on(source, read, page, fresh, stats)


def _models(source: Source[T], read: Read[T], page: Page[Any]) -> Page[T]:
    """``page`` with its items made models, now that it is handed on (``Source.models``).

    A bad item raises here, at its page's turn: the pages before it are handed on first.
    """
    if source.models is None:
        return page
    try:
        items = source.models(page.items)
    except Bangwo8Error as exc:
        exc.page = read.number
        raise
    return Page(items, page.count, page.page, page.per_page, page.next_page, page.previous_page)


def _read_again(
    scheduler: Scheduler[T],
    source: Source[T],
    read: Read[T],
    page: Page[Any],
    numbers: list[int],
    stats: PageStats | None,
) -> None:
    """Close a possible gap: read ``numbers`` again now, ahead of what is queued."""
    state, queue = source.state, source.queue
    logger.info(
        "%s: the list changed between pages %d and %d (count %s, then %s); reading %s again",
        source.label,
        read.number - 1,
        read.number,
        state.count_before(read.number),
        page.count,
        ", ".join(map(str, numbers)),
    )
    if stats is not None:
        stats.pages_reread += len(numbers)
    if numbers == [read.number]:
        state.reopen(read.number)
        queue.add(scheduler.read(source, read.number, again=read.again), 0)
        return
    # Pages before this one are read again first. Pages already being read again behind it
    # are read once more after them: holding their rows meanwhile would let a long run of
    # deletes fill memory, so they are dropped and queued instead.
    behind = [queue.reads[i] for i in range(queue.again_ahead())]
    queue.discard(behind)
    later = [read.number] if read.again else []
    later += [r.number for r in behind]
    if not read.again:
        queue.add(read, 0)  # it stands; checked again once the pages before are
    queue.redo = sorted({*numbers, *later, *queue.redo})
    scheduler.touch(source)


def _hand_on(
    source: Source[T], read: Read[T], page: Page[T], fresh: list[T], stats: PageStats | None
) -> Taken[T]:
    source.yielded += 1
    if stats is not None:
        stats.pages += 1
        stats.items += len(fresh)
    if fresh is page.items and page.page == read.number and page.per_page == read.size:
        out = page  # the usual page: nothing dropped, numbered as read; frozen, so shared
    else:
        # The constructor, not attrs.evolve, which looks up the class's fields on every call.
        out = Page(fresh, page.count, read.number, read.size, page.next_page, page.previous_page)
    last = source.done()
    source.handed = None if last else out
    return Taken(source, out, last=last)


def _empty(read: Read[T]) -> Page[T]:
    return Page(
        items=[], count=0, page=read.number, per_page=read.size, next_page=None, previous_page=None
    )
