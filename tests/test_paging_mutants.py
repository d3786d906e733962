"""The paging rules no other test pinned down, each driven directly and deterministically.

Written against the mutants of the paging modules that survived the suite: a
short first page with no count, the page at the end itself, a page taken that
ends the list or does not, the keys remembered before resuming, a finished
read dropped on purpose, and what the engine hands on, asks for and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import AsyncGenerator

import pytest

import bangwo8_async as bw
from bangwo8_async.paging.engine import Taken, ordered_pages
from bangwo8_async.paging.list_state import MAX_REPAIRS, ListState, Resized
from bangwo8_async.paging.read_queue import Read, ReadQueue
from bangwo8_async.paging.source import Source
from bangwo8_async.paging.window import RecentKeys
from tests.test_engine import SimList


def page(
    n: int, items: int, count: int | None, *, per_page: int = 10, link: bool = True
) -> bw.Page[int]:
    """Page ``n`` holding ``items`` items, reporting ``count`` (a next link while it is full)."""
    start = (n - 1) * per_page
    following = "next" if link and items == per_page else None
    return bw.Page(list(range(start, start + items)), count, n, per_page, following, None)


# -- the page size without a count -------------------------------------------------------------


def test_a_short_first_page_without_a_count_is_a_capped_page_not_the_end() -> None:
    """Page 1 starts a page of any size: with no count, its short page is the size served."""
    state = ListState("l", 10)
    assert state.learn(1, 10, False, page(1, 4, None)) == Resized(4, keep=True)
    assert (state.size, state.next, state.end) == (4, 2, None)


def test_a_short_later_first_page_without_a_count_starts_paging_again_where_it_began() -> None:
    """Page 3 by 10 starts at row 20, where a page of 5 starts: that is the size served."""
    state = ListState("l", 10, start_page=3)
    assert state.learn(3, 10, False, page(3, 5, None)) == Resized(5, keep=False)
    assert (state.size, state.first, state.next, state.end) == (5, 5, 5, None)


def test_an_empty_first_page_without_a_count_is_the_end() -> None:
    """No rows and no count: the list is empty, whatever page it was asked from."""
    for start in (1, 3):
        state = ListState("l", 10, start_page=start)
        state.next = start + 1
        assert state.learn(start, 10, False, page(start, 0, None)) == start
        assert (state.size, state.end, state.startable(False)) == (10, start, False)


def test_a_resize_without_a_count_opens_the_page_after_the_one_kept() -> None:
    """The page kept is a whole page at the size served: the next one is worth asking for."""
    state = ListState("l", 10)
    state.learn(1, 10, False, page(1, 4, None))
    assert state.startable(False) is True


# -- the page before the first -----------------------------------------------------------------


def test_a_hint_stands_in_for_the_page_before_a_resumed_first_page() -> None:
    """Resumed at page 3 on a count of 100, a count of 90 there reads page 2 again."""
    state = ListState("l", 10, start_page=3, count_hint=100)
    assert state.count_before(3) == 100
    assert state.gap(3, False, 1, page(3, 10, 90)) == [2]


def test_page_one_has_no_page_before_it_for_a_hint_to_stand_in_for() -> None:
    """A count below the hint on page 1 is no gap, however often it is read."""
    state = ListState("l", 10, count_hint=100)
    assert state.count_before(1) is None
    for _ in range(MAX_REPAIRS + 1):
        assert state.gap(1, False, 1, page(1, 10, 90)) == []
    assert state.repair == 0


# -- the end -----------------------------------------------------------------------------------


def test_the_page_at_the_end_may_still_be_read_but_none_after_it() -> None:
    """``end`` is the last page that exists: it is startable, the page after it is not."""
    state = ListState("l", 10)
    state.learn(1, 10, False, page(1, 10, 50))
    state.next = 3
    state.end_at(3)
    assert state.startable(False) is True
    state.next = 4
    assert state.startable(True) is False


def test_a_full_page_of_repeats_with_a_count_saying_more_does_not_end_the_list() -> None:
    """The list grew in front and pushed old rows onto this page: the count says more follow."""
    state = ListState("l", 10)
    state.took(2, 10, False, 2, page(2, 10, 100), fresh=0)
    assert (state.end, state.open_until) == (None, 3)


def test_a_full_page_of_repeats_whose_count_ends_there_ends_the_list() -> None:
    """A count of exactly two pages says nothing follows page 2: a clamping server's echo."""
    state = ListState("l", 10)
    state.took(2, 10, False, 2, page(2, 10, 20), fresh=0)
    state.next = 3
    assert (state.end, state.startable(False)) == (2, False)


def test_an_empty_page_ends_the_list_even_when_its_count_says_more() -> None:
    """No rows is the end; a count read at another moment does not outweigh it."""
    state = ListState("l", 10)
    state.took(3, 10, False, 3, page(3, 0, 100), fresh=0)
    assert state.end == 3


def test_a_short_page_ends_the_list_with_no_count_or_a_count_that_ends_on_it() -> None:
    """Short with no count, or a count that is exactly this page's end: nothing follows."""
    for count in (None, 30):
        state = ListState("l", 10)
        state.took(3, 10, False, 3, page(3, 4, count), fresh=4)
        assert state.end == 3


def test_a_full_page_of_new_rows_ends_nothing_even_where_its_count_ends() -> None:
    """A later page may show the list grew since: only an empty, short or echoed page ends it."""
    state = ListState("l", 10)
    state.took(2, 10, False, 2, page(2, 10, 20, link=False), fresh=10)
    assert state.end is None


# -- the window --------------------------------------------------------------------------------


def test_keys_remembered_before_resuming_stay_while_a_later_page_shares_them() -> None:
    """The oldest page remembered goes; a key it shares with the next page stays with it."""
    window: RecentKeys[int] = RecentKeys(lambda x: x, 2)
    window.remember([1, 2])
    window.remember([2, 3])
    assert window.fresh([4, 5]) == [4, 5]  # the first page goes; 2 stays, on the second
    assert 1 not in window and 2 in window
    assert window.fresh([2, 3, 6]) == [6]


# -- the read queue ----------------------------------------------------------------------------


async def _fails() -> bw.Page[int]:
    raise bw.ServerError("down", status=503)


async def test_a_finished_read_discarded_leaves_no_error_unseen() -> None:
    """Its failure is dropped on purpose: the loop never reports it as never retrieved."""
    loop = asyncio.get_running_loop()
    reported: list[dict[str, object]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: reported.append(context))
    try:
        task = asyncio.ensure_future(_fails())
        await asyncio.sleep(0)
        assert task.done()
        queue: ReadQueue[int] = ReadQueue()
        read: Read[int] = Read(1, 10, task, 1, 10)
        queue.add(read)
        queue.discard([read])
        del task, read, queue
        gc.collect()
    finally:
        loop.set_exception_handler(previous)
    assert reported == []


# -- the engine --------------------------------------------------------------------------------


def ident(x: int) -> int:
    return x


class Rows:
    """An offset-paged list of rows ``1..size`` that notes every page asked for."""

    def __init__(self, size: int, *, count: bool = True) -> None:
        self.items = list(range(1, size + 1))
        self.count = count
        self.asked: list[int] = []

    async def fetch(self, number: int, per_page: int) -> bw.Page[int]:
        self.asked.append(number)
        await asyncio.sleep(0)
        items = self.items[(number - 1) * per_page : number * per_page]
        count = len(self.items) if self.count else None
        return bw.Page(items, count, number, per_page, None, None)


async def one(source: Source[int]) -> AsyncGenerator[Source[int], None]:
    yield source


async def everything(source: Source[int], *, concurrency: int = 2) -> list[Taken[int]]:
    """Every page the engine hands on for ``source``."""
    pages = ordered_pages(one(source), concurrency=concurrency, read_ahead=1000)
    async with contextlib.aclosing(pages) as each:
        return [taken async for taken in each]


async def test_a_list_is_read_from_page_one_unless_told_otherwise() -> None:
    """A source made with no start page starts at page 1."""
    rows = Rows(25)
    got = await everything(Source(rows.fetch, ident, per_page=10, label="l"))
    assert [x for taken in got for x in taken.page.items] == list(range(1, 26))
    assert rows.asked[0] == 1 and sorted(rows.asked) == [1, 2, 3]


async def test_a_list_not_found_is_an_error_unless_told_it_is_empty() -> None:
    """A source made without ``gone_is_empty`` lets the server's 404 through."""

    async def gone(number: int, per_page: int) -> bw.Page[int]:
        raise bw.NotFoundError("task 7 does not exist", status=404)

    with pytest.raises(bw.NotFoundError) as info:
        await everything(Source(gone, ident, per_page=10, label="l"))
    assert info.value.page == 1


def test_a_source_remembers_ten_thousand_keys_by_default() -> None:
    """The 10,001st key back is forgotten (yielded again, never lost); the 10,000th is not."""
    source = Source(Rows(0).fetch, ident, per_page=1, label="l")
    for key in range(10_001):
        source.window.fresh([key])
    assert source.window.fresh([0, 1]) == [0]


async def test_a_failed_page_stops_the_pages_after_it_from_being_asked_for() -> None:
    """Page 2 fails while page 1 is out: page 1 is handed on, nothing past page 2 is asked for."""
    asked: list[int] = []
    failed = asyncio.Event()

    async def fetch(number: int, per_page: int) -> bw.Page[int]:
        asked.append(number)
        if number == 2:
            failed.set()
            raise bw.ServerError("down", status=503)
        await failed.wait()  # page 1 answers once page 2 has failed
        start = (number - 1) * per_page
        return bw.Page(list(range(start, start + per_page)), 100, number, per_page, None, None)

    source = Source(fetch, ident, per_page=10, label="l", count_hint=100)
    got: list[int] = []
    pages = ordered_pages(one(source), concurrency=2, read_ahead=1000)
    with pytest.raises(bw.ServerError) as info:
        async with contextlib.aclosing(pages) as each:
            async for taken in each:
                got.append(taken.page.page)
                await asyncio.sleep(0)  # the consumer's own work: reads started meanwhile run
    assert (got, asked, info.value.page) == ([1], [1, 2], 2)


async def test_an_empty_last_page_is_not_handed_on_the_end_follows_the_last_rows() -> None:
    """A list of exactly two pages, no count: page 3 is empty; the end is marked on page 2."""
    rows = Rows(20, count=False)
    got = await everything(Source(rows.fetch, ident, per_page=10, label="l"))
    assert [(t.page.page, len(t.page.items), t.last) for t in got] == [
        (1, 10, False),
        (2, 10, False),
        (2, 0, True),
    ]


async def test_closing_the_pages_early_closes_the_lists_they_come_from() -> None:
    """``aclose()`` on the engine closes the generator of sources at once."""
    closed: list[bool] = []

    async def sources() -> AsyncGenerator[Source[int], None]:
        try:
            yield Source(Rows(30).fetch, ident, per_page=10, label="a")
            yield Source(Rows(30).fetch, ident, per_page=10, label="b")
        finally:
            closed.append(True)

    pages = ordered_pages(sources(), concurrency=2, read_ahead=1000)
    assert (await anext(pages)).page.items == list(range(1, 11))
    await pages.aclose()
    assert closed == [True]


class Lists:
    """Sources from a plain async iterator, one with no ``aclose``."""

    def __init__(self, *sources: Source[int]) -> None:
        self.left = list(sources)

    def __aiter__(self) -> Lists:
        return self

    async def __anext__(self) -> Source[int]:
        if not self.left:
            raise StopAsyncIteration
        return self.left.pop(0)


async def test_sources_from_an_iterator_that_cannot_be_closed_are_read_to_the_end() -> None:
    """Sources need only be an async iterator: nothing is closed that has no ``aclose``."""
    lists = Lists(*(Source(Rows(15).fetch, ident, per_page=10, label=n) for n in "ab"))
    pages = ordered_pages(lists, concurrency=2, read_ahead=1000)
    async with contextlib.aclosing(pages) as each:
        got = [(t.source.label, t.page.items) async for t in each]
    assert got == [
        ("a", list(range(1, 11))),
        ("a", list(range(11, 16))),
        ("b", list(range(1, 11))),
        ("b", list(range(11, 16))),
    ]


async def test_an_iterator_closed_early_holds_none_of_its_lists_while_its_consumer_runs_on() -> (
    None
):
    """Once closed, nothing of it stays tied to the task that read it: its lists can be freed."""
    source = Source(Rows(50).fetch, ident, per_page=10, label="l")
    freed = weakref.ref(source)
    pages = ordered_pages(one(source), concurrency=2, read_ahead=1000)
    assert (await anext(pages)).page.page == 1
    await pages.aclose()
    del source, pages
    for _ in range(5):
        await asyncio.sleep(0)  # the reads' done-callbacks already queued run
    gc.collect()
    assert freed() is None


class Shrunk(Rows):
    """A list that loses its first rows just before the first page is read, noting each ask
    and each answer."""

    def __init__(self, size: int, left: int) -> None:
        super().__init__(size)
        self.left = left
        self.log: list[tuple[str, int]] = []

    async def fetch(self, number: int, per_page: int) -> bw.Page[int]:
        self.log.append(("ask", number))
        del self.items[: len(self.items) - self.left]
        await asyncio.sleep(0)
        self.log.append(("answer", number))
        items = self.items[(number - 1) * per_page : number * per_page]
        return bw.Page(items, len(self.items), number, per_page, None, None)


async def test_pages_read_again_start_together_as_far_as_the_read_ahead_allows() -> None:
    """Resumed at page 6 on 100 rows, 70 left: pages 3 to 5 are read again, two at a time."""
    rows = Shrunk(100, 70)
    source = Source(rows.fetch, ident, per_page=10, label="l", start_page=6, count_hint=100)
    pages = ordered_pages(one(source), concurrency=4, read_ahead=40)
    async with contextlib.aclosing(pages) as each:
        got = [taken.page.page async for taken in each]
    assert got == [3, 4, 5, 6, 7]
    # Pages 6 and 7 (20 rows) are held: room for two pages read again, then for the third.
    again = rows.log[rows.log.index(("ask", 3)) :]
    assert again == [
        ("ask", 3),
        ("ask", 4),
        ("answer", 3),
        ("answer", 4),
        ("ask", 5),
        ("answer", 5),
    ]


async def test_pages_being_read_again_behind_a_deeper_repair_are_asked_for_once_more() -> None:
    """Found by a search: a repair reaching further back drops the reads again behind it, and
    asks for those pages once more after it, not twice (15 reads, not 17)."""
    sim = SimList(26)
    source = Source(sim.fetch, ident, per_page=4, label="sim")
    got: list[int] = []

    async def consume() -> None:
        pages = ordered_pages(one(source), concurrency=1, read_ahead=12)
        async with contextlib.aclosing(pages) as each:
            async for taken in each:
                got.extend(taken.page.items)

    steps = [
        "a3",
        "a4",
        "d2",
        "d4",
        "a1",
        "a2",
        "a1",
        "d1",
        "d0",
        "d2",
        "d3",
        "a2",
        "a4",
        "a0",
        "a5",
        "a2",
        "d4",
        "a4",
        "d0",
        "a5",
        "a2",
    ]
    consumer = asyncio.ensure_future(consume())
    while not consumer.done():
        await asyncio.sleep(0)
        if sim.waiting:
            step = steps.pop(0) if steps else "a0"
            if step[0] == "a":
                sim.answer(int(step[1:]))
            else:
                sim.delete_at(int(step[1:]))
    await consumer
    assert got == [1, 2, 3, 4, 5, 6, 7, 8, 10, *range(11, 27)]
    assert len(sim.reads) == 15
