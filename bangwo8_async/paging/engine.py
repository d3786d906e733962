"""The paging engine behind every iterator: concurrent reads, ordered pages, the server's truth.

It takes a stream of *sources* (one paged list each: the task list, or one
task's customers) and yields their pages in order, each item once. The
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
  :meth:`Source.check_boundary`).

Repeats are dropped only against items yielded from earlier pages, by the
source's identity key, over a bounded window (:class:`RecentKeys`).

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
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

import attrs

from ..errors import Bangwo8Error, InconsistentPagesError, NotFoundError
from ..models import Page
from ..session import attempt_limit
from .window import RecentKeys

T = TypeVar("T")
logger = logging.getLogger("bangwo8_async")

#: How often one page boundary may be read again before the engine gives up on a list that
#: never holds still long enough for two neighbouring reads to agree.
MAX_REPAIRS = 20

#: Pages whose count is remembered for the gap check: far more than a gap can reach back.
_PAGES_REMEMBERED = 64

#: Lists open at once per request in flight: enough to keep fetching past a head page that
#: waits out a backoff when every list is a page or two (a task's customers).
MAX_SOURCES_PER_SLOT = 32

Fetch = Callable[[int, int], Awaitable[Page[T]]]


@attrs.define
class PageStats:
    """What an iterator did, filled in as it goes: pass ``stats=bw.PageStats()``.

    ``count_start`` and ``count_end`` are the ``count`` the server reported
    on the first and on the last page read (for every customer of every task:
    summed over the tasks).
    """

    pages: int = 0
    items: int = 0
    repeats_dropped: int = 0
    pages_reread: int = 0
    count_start: int | None = None
    count_end: int | None = None

    def counted(self, first: int | None, last: int | None) -> None:
        if first is not None:
            self.count_start = (self.count_start or 0) + first
        if last is not None:
            self.count_end = (self.count_end or 0) + last


@attrs.define(eq=False)
class Read(Generic[T]):
    """One request for one page, and when it went out and came back."""

    number: int
    size: int
    task: asyncio.Task[Page[T]]
    sent: int  # the stream's clock when it was sent, and when it came back
    expected: int  # items it holds or should hold, for the read-ahead bound
    again: bool = False  # an earlier page read again to close a gap, not a new page
    received: int | None = None
    learned: bool = False


@attrs.frozen
class Taken(Generic[T]):
    """A page as the engine hands it on: its items not seen before, and where it stands."""

    source: Source[T]
    page: Page[T]
    last: bool  # no page of this source follows


class Budget:
    """The items a stream holds, or expects, in reads not yet taken: its read-ahead."""

    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held = 0


class Source(Generic[T]):
    """One paged list and what the server has told us about it so far."""

    def __init__(
        self,
        fetch: Fetch[T],
        key: Callable[[T], Hashable],
        *,
        per_page: int,
        label: str,
        start_page: int = 1,
        count_hint: int | None = None,
        known: list[Hashable] | None = None,
        gone_is_empty: bool = False,
        window: int = 10_000,
        tag: Any = None,
        keys: Callable[[list[T]], set[Hashable]] | None = None,
    ) -> None:
        self.fetch = fetch
        self.label = label
        self.gone_is_empty = gone_is_empty
        self.tag = tag
        self.size = per_page
        self.first = start_page  # the first page read: it tells the real page size
        self.next = start_page
        self.last = -(-count_hint // per_page) if count_hint else None  # from count
        self.hinted = self.last is not None  # ``last`` is a guess until a page says
        self.first_round = 1  # pages asked for at once before the first answer: the stream's
        self.open_until = start_page  # without a count: pages known to be worth asking for
        self.end: int | None = None  # no page after this one exists
        self.sized = False
        self.reads: deque[Read[T]] = deque()
        # Pages to read again, ascending, before anything in ``reads`` but the pages already
        # being read again at its front: started as the read-ahead allows.
        self.redo: list[int] = []
        self.budget = Budget()  # the stream's: items held, or expected, in reads not taken
        self.window: RecentKeys[T] = RecentKeys(key, max(window, 2 * per_page), keys)
        if known:
            self.window.remember(known)
        # Recent pages taken: number -> (count, when it came back, the repair it was read in);
        # a hint stands in for the page before ``start_page``.
        self.taken: dict[int, tuple[int | None, int, int]] = {}
        if start_page > 1 and count_hint is not None:
            self.taken[start_page - 1] = (count_hint, -1, 0)
        self.repair = 0  # the current repair: pages read again are checked against each other
        self.floor = 0  # the count that sized the current repair
        self.order = 0  # its place among the sources of a stream
        self.repairs: dict[int, int] = {}  # page -> times a gap before it was closed
        self.yielded = 0
        self.handed: Page[T] | None = None  # the last page handed on, while not marked last
        self.first_count: int | None = None
        self.last_count: int | None = None

    def __repr__(self) -> str:
        return f"<Source {self.label} next={self.next} last={self.last} end={self.end}>"

    # -- what may be read -------------------------------------------------------------------

    def startable(self) -> bool | None:
        """``True``: read ``next`` now; ``None``: not known yet; ``False``: nothing more to read."""
        n = self.next
        if self.end is not None and n > self.end:
            return False
        if n == self.first or n <= self.open_until:
            return True
        if self.last is not None and n <= self.last:
            return self.sized or n < self.first + self.first_round or None
        return None if self.reads else False

    def expected(self, number: int) -> int:
        """How many items page ``number`` should hold, as far as we know."""
        count = self.last_count
        if count is not None and self.sized:
            return max(0, min(self.size, count - (number - 1) * self.size))
        return self.size

    def done(self) -> bool:
        """Nothing left to read or to take."""
        return not self.reads and not self.redo and self.startable() is False

    def ready(self) -> bool:
        """Whether the head read can be taken: it is in, and no page before it waits to be read."""
        if not self.reads or not self.reads[0].task.done():
            return False
        return self.reads[0].again or not self.redo

    def again_ahead(self) -> int:
        """How many pages being read again stand at the front of ``reads``."""
        n = 0
        for read in self.reads:
            if not read.again:
                break
            n += 1
        return n

    def push(self, read: Read[T], *, front: bool = False) -> None:
        if front:
            self.reads.appendleft(read)
        else:
            self.reads.append(read)
        self.budget.held += read.expected

    def pop(self) -> Read[T]:
        read = self.reads.popleft()
        self.budget.held -= read.expected
        return read

    # -- learning from a finished read ------------------------------------------------------

    def learn(self, read: Read[T]) -> None:
        """Take in what a finished read says of the list: its page size, its count, its end."""
        read.learned = True
        task = read.task
        if task.cancelled():
            return
        if task.exception() is not None:
            self._end_at(read.number)  # nothing after a failed page is started
            return
        page = task.result()
        self.budget.held += len(page.items) - read.expected
        read.expected = len(page.items)
        if page.count is not None:
            if self.first_count is None:
                self.first_count = page.count
            self.last_count = page.count
        if not self.sized and read.number == self.first and not read.again:
            self.sized = True
            served = len(page.items)
            offset = (read.number - 1) * read.size
            more = page.count is None or page.count > offset + served
            # Without a count, a short first page is the end unless it can be a capped page:
            # one that starts where a page of its size would.
            capped = page.count is not None or offset % max(served, 1) == 0
            if 0 < served < read.size and more and capped:
                self._resize(read, served, page.count)
                return
        if page.count is not None:
            implied = -(-page.count // self.size)
            if self.hinted:
                self.hinted = False
                self._drop_after(max(implied, self.first))  # the hint overstated the list
                self.last = implied
            else:  # a count that grows mid-export extends the list; a shrinking one ends
                self.last = implied if self.last is None else max(self.last, implied)
        short = len(page.items) < read.size and (
            page.count is None or page.count <= read.number * read.size
        )
        if (short or not page.items) and not read.again:
            self._end_at(read.number)
            self._drop_after(read.number)  # nothing lies past the end: stop asking

    def _resize(self, read: Read[T], served: int, count: int | None) -> None:
        """The server serves ``served`` rows a page, not what we asked: page by that."""
        offset = (read.number - 1) * read.size
        if offset % served:
            raise InconsistentPagesError(
                f"{self.label}: asked for {read.size} a page, the server served {served}, "
                f"and page {read.number} (offset {offset}) has no page of {served} to start at",
                asked=read.size,
                served=served,
                count=count,
                page=read.number,
            )
        logger.info(
            "%s: the server serves %d rows a page, not %d; paging by %d",
            self.label,
            served,
            read.size,
            served,
        )
        for other in self.reads:
            self.budget.held -= other.expected
            if other is not read:
                other.learned = True
                drop(other.task)  # asked for at the old size: their rows are not ours
        number = offset // served + 1
        before = self.taken.pop(read.number - 1, None)
        self.taken = {number - 1: before} if before is not None else {}
        self.size = served
        if number == read.number:  # page 1: the same rows at either size
            read.size = served
            self.reads = deque([read])
            self.next = number + 1
        else:
            self.reads = deque()
            self.next = number
        self.budget.held += sum(r.expected for r in self.reads)
        self.first = number
        self.open_until = number + 1
        self.last = -(-count // served) if count is not None else None
        self.end = None

    def _drop_after(self, last: int) -> None:
        """Cancel reads past ``last`` that a guess started: the list ends before them."""
        keep: deque[Read[T]] = deque()
        for read in self.reads:
            if read.number > last and not read.again:
                self.budget.held -= read.expected
                read.learned = True
                drop(read.task)
            else:
                keep.append(read)
        self.reads = keep
        self.next = max(self.first, min(self.next, last + 1))

    def _end_at(self, number: int) -> None:
        self.end = number if self.end is None else min(self.end, number)

    # -- taking the head page ---------------------------------------------------------------

    def gap(self, read: Read[T], page: Page[T]) -> list[int]:
        """The pages to read again before ``page`` may follow the last page taken.

        The two were read at different moments. An item can fall between them
        only if the list shrank in front of them between the two reads, which
        the later read's smaller ``count`` shows: either this page was read
        first (items added in front pushed the rest past it: read this page
        again), or last (items removed pulled the rest onto the pages before:
        read those again). A count cannot reveal an insert and a delete that
        cancel out between two reads.
        """
        number = read.number - 1
        count, received, repair = self.taken.get(number, (None, 0, 0))
        if read.again and repair != self.repair and (page.count or 0) >= self.floor:
            # A repair reaches back as far as the list had shrunk when it began, so a page
            # read again is checked only against the pages read again with it, unless the
            # list has shrunk further since.
            return []
        if count is None or page.count is None or page.count >= count:
            return []
        repairs = self.repairs[read.number] = self.repairs.get(read.number, 0) + 1
        if repairs > MAX_REPAIRS:
            raise InconsistentPagesError(
                f"{self.label}: pages {number} and {read.number} never agreed after "
                f"{MAX_REPAIRS} reads (count {count} then {page.count}); the list keeps changing",
                asked=self.size,
                served=len(page.items),
                count=page.count,
                page=read.number,
            )
        if read.sent <= received:  # maybe read first: items added in front pushed rows past it
            return [read.number]
        self.repair += 1
        self.floor = page.count
        back = -(-(count - page.count) // self.size)  # as far back as rows can have moved
        return list(range(max(1, number - back + 1), number + 1))

    def count_before(self, number: int) -> int | None:
        """The count the page before ``number`` reported when it was taken, if known."""
        return self.taken.get(number - 1, (None, 0, 0))[0]

    def took(self, read: Read[T], page: Page[T], fresh: int) -> None:
        """Remember the page taken, and decide whether the list goes on."""
        self.taken[read.number] = (page.count, read.received or 0, self.repair if read.again else 0)
        self.taken.pop(read.number - _PAGES_REMEMBERED, None)
        self.repairs.pop(read.number - 1, None)
        if read.again:
            return
        full = len(page.items) >= read.size
        more = page.count is not None and page.count > read.number * read.size
        if not page.items:
            self._end_at(read.number)
        elif not fresh and full and not more:
            # A whole page of items already yielded, and no count that says more: a server
            # that clamps the page number (a list that grew in front says so by its count).
            self._end_at(read.number)
        elif full and (page.count is None or page.next_page is not None):
            self.open_until = max(self.open_until, read.number + 1)
        elif not full and (page.count is None or page.count <= read.number * read.size):
            self._end_at(read.number)


class Stream(Generic[T]):
    """The scheduling state of one running iterator: its sources and their reads.

    Work per event stays small however many sources are open: finished reads
    queue themselves to be learned from, and only sources that something
    happened to are asked whether they can start a page.
    """

    def __init__(self, limit: asyncio.Semaphore, concurrency: int, read_ahead: int) -> None:
        self.concurrency = concurrency
        self.read_ahead = read_ahead
        self.max_sources = MAX_SOURCES_PER_SLOT * concurrency
        self.limit = limit
        self.active: deque[Source[T]] = deque()
        self.in_flight: set[asyncio.Task[Page[T]]] = set()
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
        source.budget = self.budget
        source.first_round = self.concurrency
        self.dirty[source] = self.opened

    def touch(self, source: Source[T]) -> None:
        """Something happened to ``source``: ask it again whether it can start a page."""
        if source not in self.dirty:
            self.dirty[source] = source.order

    def read(self, source: Source[T], number: int, *, again: bool = False) -> Read[T]:
        """Send one page request, in the background."""
        size, limit = source.size, self.limit

        async def fetch() -> Page[T]:
            attempt_limit.set(limit)  # this task's own context: bounds its attempts only
            return await source.fetch(number, size)

        task = asyncio.ensure_future(fetch())
        self.clock += 1
        read: Read[T] = Read(number, size, task, self.clock, source.expected(number), again)

        def finished(_: asyncio.Task[Page[T]]) -> None:
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
            while source.redo:
                ahead = source.again_ahead()
                if buffered + source.size > self.read_ahead and ahead:
                    return  # full; but the first page to read again always starts
                read = self.read(source, source.redo.pop(0), again=True)
                source.reads.insert(ahead, read)
                source.budget.held += read.expected
                buffered += read.expected
            while source.startable():
                expected = source.expected(source.next)
                if buffered + expected > self.read_ahead and (source is not head or source.reads):
                    return  # full; but the head is never starved of its next page
                source.push(self.read(source, source.next))
                source.next += 1
                buffered += expected
            del self.dirty[source]

    def wants_source(self) -> bool:
        """Whether to open the next source: none can start a page now, and there is room."""
        return (
            len(self.active) < self.max_sources
            and not any(source.startable() for source in self.dirty)
            and self.buffered() < self.read_ahead
        )

    def tasks(self) -> list[asyncio.Task[Page[T]]]:
        return [read.task for source in self.active for read in source.reads]

    def cancel_all(self) -> None:
        for task in self.tasks():
            task.cancel()


async def stream(
    sources: AsyncIterator[Source[T]],
    *,
    concurrency: int,
    read_ahead: int,
    stats: PageStats | None = None,
    limit: asyncio.Semaphore | None = None,
) -> AsyncGenerator[Taken[T], None]:
    """Every page of every source, in order; see the module docstring.

    ``limit`` bounds the attempts in flight (``concurrency`` of them unless given:
    pass one semaphore to streams that share a bound).
    """
    state: Stream[T] = Stream(limit or asyncio.Semaphore(concurrency), concurrency, read_ahead)
    exhausted = False
    consumer: asyncio.Task[Any] | None = None

    def consumer_ended(_: asyncio.Task[Any]) -> None:
        # The consuming task ended while this generator sat at a yield: stop reading now
        # rather than whenever the generator is garbage-collected.
        state.cancel_all()

    try:
        while True:
            current = asyncio.current_task()
            if current is not consumer:
                if consumer is not None:
                    consumer.remove_done_callback(consumer_ended)
                consumer = current
                if consumer is not None:
                    consumer.add_done_callback(consumer_ended)
            state.fill()
            head = state.active[0] if state.active else None
            ready = head is not None and head.ready()
            if not ready and not exhausted and state.wants_source():
                try:
                    state.open(await anext(sources))
                except StopAsyncIteration:
                    exhausted = True
                continue
            if head is None:
                return
            if head.done():
                state.active.popleft()
                if stats is not None:
                    stats.counted(head.first_count, head.last_count)
                if head.handed is not None:
                    # The list ended after its last page was handed on (an empty or repeated
                    # page, a task gone): say so, so that a checkpoint can move past it.
                    end = attrs.evolve(head.handed, items=[])
                    head.handed = None
                    yield Taken(head, end, last=True)
                continue
            if not ready:
                if not state.finished and state.in_flight:
                    await state.wakeup.wait()
                state.wakeup.clear()
                continue
            taken = _take(state, head, stats)
            state.touch(head)
            if taken is not None:
                state.fill()  # start what this page revealed before handing it on
                yield taken
    finally:
        if consumer is not None:
            consumer.remove_done_callback(consumer_ended)
        pending = set(state.tasks()) | state.in_flight
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        aclose = getattr(sources, "aclose", None)
        if aclose is not None:
            await aclose()


def _take(state: Stream[T], source: Source[T], stats: PageStats | None) -> Taken[T] | None:
    """Consume the head read of ``source``: a page to hand on, or ``None`` to look again."""
    read = source.reads[0]
    state.answered(read)
    if not read.learned:
        source.learn(read)  # may re-plan the reads: look again
        return None
    task = read.task
    past_end = source.end is not None and read.number > source.end and not read.again
    if task.cancelled() and not past_end:
        # Cancelled when an earlier consumer task ended; iteration goes on in another.
        source.pop()
        source.push(state.read(source, read.number, again=read.again), front=True)
        return None
    source.pop()
    if past_end:
        _settle(task)  # past the end of the list: dropped on purpose
        return None
    exc = task.exception()
    if exc is not None:
        if source.gone_is_empty and isinstance(exc, NotFoundError):
            logger.debug("%s is gone; skipping it", source.label)
            _stop(source, read.number)
            return None if source.yielded else _hand_on(source, read, _empty(read), [], stats)
        if isinstance(exc, Bangwo8Error):
            exc.page = read.number
        raise exc
    page = task.result()
    again = source.gap(read, page)
    if again:
        _read_again(state, source, read, page, again, stats)
        return None
    fresh = source.window.fresh(page.items)
    dropped = len(page.items) - len(fresh)
    if dropped:
        logger.debug("%s: page %d: %d repeats dropped", source.label, read.number, dropped)
        if stats is not None:
            stats.repeats_dropped += dropped
    source.took(read, page, len(fresh))
    if source.yielded and not fresh and (read.again or not page.items):
        return None  # nothing new to hand on
    return _hand_on(source, read, page, fresh, stats)


def _read_again(
    state: Stream[T],
    source: Source[T],
    read: Read[T],
    page: Page[T],
    numbers: list[int],
    stats: PageStats | None,
) -> None:
    """Close a possible gap: read ``numbers`` again now, ahead of what is queued."""
    logger.info(
        "%s: the list changed between pages %d and %d (count %s, then %s); reading %s again",
        source.label,
        read.number - 1,
        read.number,
        source.count_before(read.number),
        page.count,
        ", ".join(map(str, numbers)),
    )
    if stats is not None:
        stats.pages_reread += len(numbers)
    if numbers == [read.number]:
        if source.end is not None and source.end >= read.number:
            source.end = None  # decided by the stale read: the new one decides again
        source.push(state.read(source, read.number, again=read.again), front=True)
        return
    # Pages before this one are read again first. Pages already being read again behind it
    # are read once more after them: holding their rows meanwhile would let a long run of
    # deletes fill memory, so they are dropped and queued instead.
    later = [read.number] if read.again else []
    while source.reads and source.reads[0].again:
        behind = source.pop()
        behind.learned = True
        drop(behind.task)
        later.append(behind.number)
    if not read.again:
        source.push(read, front=True)  # it stands; checked again once the pages before are
    source.redo = sorted({*numbers, *later, *source.redo})
    state.touch(source)


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


def _stop(source: Source[Any], number: int) -> None:
    """Nothing after page ``number``: drop the source's later reads, finished or not."""
    source._end_at(number)
    for read in source.reads:
        read.task.cancel()


def drop(task: asyncio.Task[Any]) -> None:
    """Cancel a read no longer wanted, or mark its finished answer as dropped on purpose."""
    if task.done():
        _settle(task)
    else:
        task.cancel()


def _settle(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # mark it retrieved: it is dropped on purpose
