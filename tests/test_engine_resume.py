"""Resuming at a page with a count hint when the list shrank past it, or ends on a short page."""

import asyncio

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
