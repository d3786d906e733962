"""Resuming at a page with a count hint when the list shrank past it, or ends on a short page."""

import asyncio

import bangwo8_async as bw
from bangwo8_async.paging.stats import PageStats
from tests.test_engine import SimList, pages_of


async def test_resume_hint_later_page_answered_first_loses_nothing() -> None:
    """Resume at page 5 (hint 100); list shrank to 30 rows; page 6 answers before page 5."""
    sim = SimList(100)
    for x in list(range(1, 41)) + list(range(71, 101)):
        sim.items.remove(x)  # 41..70 survive: they were on pages 5-7, now on 1-3
    got: list[int] = []

    async def consume() -> None:
        async for p in pages_of(sim, per_page=10, concurrency=4, start_page=5, count_hint=100):
            got.extend(p.items)

    c = asyncio.ensure_future(consume())
    while len(sim.waiting) < 4:  # noqa: ASYNC110 - polling the simulated server
        await asyncio.sleep(0)
    sim.answer(1)  # page 6 first
    sim.auto = True
    for _ in range(200):
        await asyncio.sleep(0)
        while sim.waiting:
            sim.answer(0)
        if c.done():
            break
    await c
    assert set(range(41, 71)) <= set(got)


async def test_resume_hint_page5_first_control() -> None:
    sim = SimList(100)
    for x in list(range(1, 41)) + list(range(71, 101)):
        sim.items.remove(x)
    sim.auto = True
    got = [
        x
        async for p in pages_of(sim, per_page=10, concurrency=4, start_page=5, count_hint=100)
        for x in p.items
    ]
    assert set(range(41, 71)) <= set(got)


async def test_no_count_resume_on_the_short_last_page_ends() -> None:
    sim = SimList(27, send_count=False)
    sim.auto = True
    got = [x async for p in pages_of(sim, per_page=10, start_page=3) for x in p.items]
    assert got == [21, 22, 23, 24, 25, 26, 27]


class CancelSpy(SimList):
    """A SimList that records the pages whose reads were cancelled before their answer."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.cancelled: list[int] = []

    async def fetch(self, page: int, per_page: int) -> bw.Page[int]:
        try:
            return await super().fetch(page, per_page)
        except asyncio.CancelledError:
            self.cancelled.append(page)
            raise


async def answer_until_done(sim: SimList, consumer: asyncio.Future[list[int]]) -> list[int]:
    while not consumer.done():
        await asyncio.sleep(0)
        while sim.waiting:
            sim.answer(0)
    return await consumer


async def consume(sim: SimList, count_hint: int) -> list[int]:
    pages = pages_of(sim, per_page=10, concurrency=4, count_hint=count_hint)
    return [x async for p in pages for x in p.items]


async def wait_for_reads(sim: SimList, n: int) -> None:
    while len(sim.waiting) < n:  # noqa: ASYNC110 - polling the simulated server
        await asyncio.sleep(0)


async def test_the_first_count_replaces_a_hint_that_overstated_the_list() -> None:
    """A hint is a guess from an earlier run: the first count read cancels what it overstated."""
    sim = CancelSpy(30)
    consumer = asyncio.ensure_future(consume(sim, count_hint=100))
    await wait_for_reads(sim, 4)  # pages 1-4: the first round, on the hint's word
    sim.answer(0)  # page 1: count 30, so three pages
    for _ in range(5):
        await asyncio.sleep(0)
    assert sim.cancelled == [4]
    got = await answer_until_done(sim, consumer)
    assert got == list(range(1, 31))
    assert sorted(page for page, _ in sim.reads) == [1, 2, 3]


async def test_a_later_smaller_count_cancels_no_read_already_started() -> None:
    """Once a page has told the count, a smaller one later does not shrink the list's end:
    the list may grow back, and the pages past it are read (an empty one ends the list)."""
    sim = CancelSpy(100)
    consumer = asyncio.ensure_future(consume(sim, count_hint=100))
    await wait_for_reads(sim, 4)
    sim.answer(0)  # page 1: count 100, as the hint said; pages up to 10 are started
    await wait_for_reads(sim, 4)
    del sim.items[70:]  # 30 rows at the end deleted: page 2 will say count 70
    sim.answer(0)  # page 2
    for _ in range(5):
        await asyncio.sleep(0)
    assert sim.cancelled == []
    sim.items.extend(range(101, 111))  # 10 rows back: page 8 holds them
    got = await answer_until_done(sim, consumer)
    assert sim.cancelled == []
    assert got == list(range(1, 71)) + list(range(101, 111))
    assert [page for page, _ in sim.reads].count(8) == 1  # read once, not cancelled and again


async def test_a_resume_whose_count_shrank_reads_only_the_page_before_again() -> None:
    """The hint stands for a page read before any of this run's: the rows that moved went back."""
    sim = SimList(50)
    del sim.items[:2]  # two rows of the pages already exported deleted since
    sim.auto = True
    stats = PageStats()
    pages = pages_of(sim, per_page=10, start_page=3, count_hint=50, stats=stats)
    got = [x async for p in pages for x in p.items]
    assert set(range(21, 51)) <= set(got)  # 21 and 22 moved onto page 2: read again
    assert stats.pages_reread == 1


async def test_a_resume_at_a_capped_size_still_checks_the_page_before() -> None:
    """Asked 100 a page, served 50: page 3 of 100 is page 5 of 50, and page 4 is read again."""
    sim = SimList(500, cap=50)
    del sim.items[:20]
    sim.auto = True
    pages = pages_of(sim, per_page=100, start_page=3, count_hint=500)
    got = [x async for p in pages for x in p.items]
    assert set(range(201, 501)) <= set(got)
    assert len(got) == len(set(got))
