"""The engine's bookkeeping, exactly: the stats it reports and the read-ahead it keeps to."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

import pytest

import bangwo8_async as bw
from bangwo8_async.paging.engine import ordered_pages
from bangwo8_async.paging.source import Source
from bangwo8_async.paging.stats import PageStats
from tests.test_engine import SimList


class Started(SimList):
    """A SimList that notes every read the engine starts, before it waits for a slot."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.started: list[int] = []

    async def fetch(self, page: int, per_page: int) -> bw.Page[int]:
        self.started.append(page)
        return await super().fetch(page, per_page)


async def pages(
    sim: SimList,
    *,
    read_ahead: int,
    concurrency: int = 8,
    stats: PageStats | None = None,
    count_hint: int | None = None,
) -> AsyncGenerator[bw.Page[int], None]:
    source: Source[int] = Source(
        sim.fetch, lambda x: x, per_page=10, label="sim", count_hint=count_hint
    )

    async def one() -> AsyncGenerator[Source[int], None]:
        yield source

    taken = ordered_pages(one(), concurrency=concurrency, read_ahead=read_ahead, stats=stats)
    async with contextlib.aclosing(taken) as each:
        async for page in each:
            yield page.page


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_fresh_stats_object_counts_from_nothing() -> None:
    stats = PageStats()
    assert (stats.pages, stats.items, stats.repeats_dropped, stats.pages_reread) == (0, 0, 0, 0)
    assert (stats.count_start, stats.count_end) == (None, None)


def test_counts_are_summed_over_the_lists_that_report_one() -> None:
    stats = PageStats()
    stats.counted(3, 4)
    stats.counted(None, None)  # a list without a count adds nothing
    assert (stats.count_start, stats.count_end) == (3, 4)
    stats.counted(2, 1)
    assert (stats.count_start, stats.count_end) == (5, 5)
    stats.counted(None, 6)
    assert (stats.count_start, stats.count_end) == (5, 11)


async def test_stats_say_exactly_what_a_quiet_export_did() -> None:
    sim = SimList(45)
    sim.auto = True
    stats = PageStats()
    got = [x async for page in pages(sim, read_ahead=1000, stats=stats) for x in page.items]
    assert got == list(range(1, 46))
    assert (stats.pages, stats.items, stats.repeats_dropped, stats.pages_reread) == (5, 45, 0, 0)
    assert (stats.count_start, stats.count_end) == (45, 45)


async def test_the_first_and_the_last_count_are_both_kept_when_the_list_grows() -> None:
    sim = SimList(30)
    stats = PageStats()

    async def consume() -> list[int]:
        return [
            x
            async for page in pages(sim, read_ahead=1000, concurrency=1, stats=stats)
            for x in page.items
        ]

    consumer = asyncio.ensure_future(consume())
    await settle()
    sim.answer(0)  # page 1: count 30
    await settle()
    sim.items.extend(range(31, 36))  # 5 rows added at the end
    sim.auto = True
    while sim.waiting:
        sim.answer(0)
    got = await consumer
    assert got == list(range(1, 36))
    assert (stats.count_start, stats.count_end) == (30, 35)


async def test_repeats_dropped_are_counted_one_by_one() -> None:
    sim = SimList(30)
    stats = PageStats()

    async def consume() -> list[int]:
        return [
            x
            async for page in pages(sim, read_ahead=1000, concurrency=1, stats=stats)
            for x in page.items
        ]

    consumer = asyncio.ensure_future(consume())
    await settle()
    sim.answer(0)  # page 1: 1-10
    await settle()
    sim.insert_front(3)  # three new rows in front: 8, 9, 10 come again on page 2
    sim.auto = True
    while sim.waiting:
        sim.answer(0)
    got = await consumer
    assert got == list(range(1, 31))
    assert stats.repeats_dropped == 3


async def test_the_read_ahead_starts_exactly_the_pages_that_fit() -> None:
    sim = Started(100)
    reader = pages(sim, read_ahead=30, count_hint=100)  # 8 pages at once, if they fit
    first = asyncio.ensure_future(anext(reader))
    await settle()
    assert sim.started == [1, 2, 3]  # 30 rows expected, 30 allowed: a fourth does not fit
    sim.auto = True
    while sim.waiting:
        sim.answer(0)
    assert (await first).items == list(range(1, 11))
    await reader.aclose()


async def test_a_short_last_page_counts_only_the_rows_it_will_hold() -> None:
    sim = Started(25)
    reader = pages(sim, read_ahead=15, concurrency=1)
    first = asyncio.ensure_future(anext(reader))
    await settle()
    assert sim.started == [1]
    sim.answer(0)  # count 25: page 2 holds 10 rows, page 3 only 5, and 15 fit
    assert (await first).items == list(range(1, 11))
    await settle()
    assert sim.started == [1, 2, 3]
    sim.auto = True
    while sim.waiting:
        sim.answer(0)
    rest = [x async for page in reader for x in page.items]
    assert rest == list(range(11, 26))


def test_the_repeat_window_is_what_was_asked_and_never_under_two_pages() -> None:
    def window(asked: int) -> int:
        return Source(
            SimList(0).fetch, lambda x: x, per_page=10, label="s", window=asked
        ).window.max_keys

    assert (window(25), window(20), window(5)) == (25, 20, 20)


async def test_once_sized_the_read_ahead_counts_each_page_as_the_rows_it_holds() -> None:
    sim = Started(30)
    reader = pages(sim, read_ahead=10)
    first = asyncio.ensure_future(anext(reader))
    await settle()
    sim.answer(0)  # count 30: pages 2 and 3 hold 10 rows each, and 10 fit
    assert (await first).items == list(range(1, 11))
    await settle()
    assert sim.started == [1, 2]
    sim.auto = True
    while sim.waiting:
        sim.answer(0)
    rest = [x async for page in reader for x in page.items]
    assert rest == list(range(11, 31))


class Sized(SimList):
    """A SimList that notes each read's page and size as the engine starts it."""

    def __init__(self, size: int, cap: int) -> None:
        super().__init__(size, cap=cap)
        self.started: list[tuple[int, int]] = []

    async def fetch(self, page: int, per_page: int) -> bw.Page[int]:
        self.started.append((page, per_page))
        return await super().fetch(page, per_page)


async def test_a_capped_first_page_frees_the_read_ahead_of_the_reads_it_drops() -> None:
    sim = Sized(1000, cap=50)
    source: Source[int] = Source(sim.fetch, lambda x: x, per_page=100, label="s", count_hint=1000)

    async def one() -> AsyncGenerator[Source[int], None]:
        yield source

    reader = ordered_pages(one(), concurrency=8, read_ahead=200)
    first = asyncio.ensure_future(anext(reader))
    await settle()
    assert sim.started == [(1, 100), (2, 100)]  # 200 rows fit
    sim.answer(0)  # page 1 holds 50: page 2, asked at 100, is dropped
    assert (await first).page.items == list(range(1, 51))
    await settle()
    # 200 rows of read-ahead, none held by the dropped read: four pages of 50.
    assert sim.started[2:] == [(2, 50), (3, 50), (4, 50), (5, 50)]
    await reader.aclose()


async def test_the_counts_of_pages_taken_are_forgotten_as_the_export_moves_on() -> None:
    sim = SimList(2000)
    sim.auto = True
    source: Source[int] = Source(sim.fetch, lambda x: x, per_page=10, label="s")

    async def one() -> AsyncGenerator[Source[int], None]:
        yield source

    async with contextlib.aclosing(ordered_pages(one(), concurrency=4, read_ahead=100)) as taken:
        async for _ in taken:
            assert len(source.state.taken) <= 64  # memory stays flat however long the list
    assert max(source.state.taken) == 200


async def open_sources(*, concurrency: int, read_ahead: int) -> tuple[int, int]:
    """Lists of 10-row pages that never answer: how many the stream opens, and reads starts."""
    sims: list[Started] = []

    async def endless() -> AsyncGenerator[Source[int], None]:
        while True:
            sim = Started(10)
            sims.append(sim)
            yield Source(sim.fetch, lambda x: x, per_page=10, label=f"s{len(sims)}")

    reader = ordered_pages(endless(), concurrency=concurrency, read_ahead=read_ahead)
    first = asyncio.ensure_future(anext(reader))
    await settle()
    opened, started = len(sims), sum(len(sim.started) for sim in sims)
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first
    await reader.aclose()
    return opened, started


async def test_lists_are_opened_while_their_first_pages_fit_the_read_ahead() -> None:
    assert await open_sources(concurrency=8, read_ahead=30) == (3, 3)


async def test_lists_open_at_once_are_bounded_by_the_requests_in_flight() -> None:
    assert await open_sources(concurrency=1, read_ahead=10**6) == (32, 32)


async def test_reads_a_hint_overstated_give_their_read_ahead_to_the_next_list() -> None:
    shrunk, other = Started(30), Started(100)

    async def two() -> AsyncGenerator[Source[int], None]:
        yield Source(shrunk.fetch, lambda x: x, per_page=10, label="a", count_hint=100)
        yield Source(other.fetch, lambda x: x, per_page=10, label="b", count_hint=100)

    reader = ordered_pages(two(), concurrency=8, read_ahead=60)
    first = asyncio.ensure_future(anext(reader))
    await settle()
    assert shrunk.started == [1, 2, 3, 4, 5, 6] and other.started == []  # 60 rows, on the hint
    shrunk.answer(0)  # count 30: pages 4-6 are cancelled, and their 30 rows freed
    assert (await first).page.items == list(range(1, 11))
    second = asyncio.ensure_future(anext(reader))
    await settle()
    # Pages 2 and 3 of the first list hold 20 of the 60 rows; the second list gets the rest.
    assert other.started == [1, 2, 3, 4]
    shrunk.auto = True
    while shrunk.waiting:
        shrunk.answer(0)
    assert (await second).page.items == list(range(11, 21))
    await reader.aclose()


async def test_a_page_read_again_that_brings_nothing_new_is_not_handed_on() -> None:
    sim = SimList(50)
    stats = PageStats()
    handed: list[bw.Page[int]] = []

    async def consume() -> None:
        async for page in pages(sim, read_ahead=1000, concurrency=1, stats=stats):
            handed.append(page)

    consumer = asyncio.ensure_future(consume())
    await settle()
    sim.answer(0)  # page 1
    await settle()
    del sim.items[-3:]  # the count drops to 47: page 1 is read again, and holds the same rows
    sim.auto = True
    while sim.waiting:
        sim.answer(0)
    await consumer
    assert stats.pages_reread == 1
    assert [x for page in handed for x in page.items] == list(range(1, 48))
    assert all(page.items for page in handed) and stats.pages == len(handed) == 5


@pytest.mark.parametrize("count_hint", [30, 100])
async def test_a_list_gone_while_its_later_pages_are_read_ends_without_rows(
    count_hint: int,
) -> None:
    calls: list[int] = []

    async def gone(page: int, per_page: int) -> bw.Page[int]:
        calls.append(page)
        if page > 1:
            await asyncio.sleep(3600)  # still being read when page 1 says the list is gone
        raise bw.NotFoundError("task 7 does not exist", status=404)

    source: Source[int] = Source(
        gone, lambda x: x, per_page=10, label="t", count_hint=count_hint, gone_is_empty=True
    )

    async def one() -> AsyncGenerator[Source[int], None]:
        yield source

    async with contextlib.aclosing(ordered_pages(one(), concurrency=4, read_ahead=100)) as taken:
        got = [(t.page.items, t.last) async for t in taken]
    assert calls == [1, 2, 3, 4][: count_hint // 10]  # the first round: the hint's pages
    # No rows, then the end, once the reads still out are settled: no error, no hang.
    assert got == [([], False), ([], True)]
