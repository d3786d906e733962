"""A long run of deletes repaired without holding more than the read-ahead."""

import contextlib

from bangwo8_async.paging.engine import ordered_pages
from bangwo8_async.paging.source import Source
from tests.test_engine_chain import Mutating, rm


async def test_gap_repair_stays_within_read_ahead() -> None:
    lst = Mutating(200, {(11, 1): rm(1, 100)})
    src = Source(lst.fetch, lambda x: x, per_page=10, label="m", window=10)

    async def one():
        yield src

    gen = ordered_pages(one(), concurrency=1, read_ahead=10)
    peak = 0
    async with contextlib.aclosing(gen) as g:
        async for _ in g:
            st = gen.ag_frame.f_locals["scheduler"]
            peak = max(peak, st.budget.held, len(st.in_flight) * 10)
    assert peak <= 10 + 20
