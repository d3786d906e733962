"""A page's items become models as the engine hands the page on, not as it arrives."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from typing import Any

import pytest

import bangwo8_async as bw
from bangwo8_async.paging.engine import ordered_pages
from bangwo8_async.paging.source import Source
from bangwo8_async.testing import FakeBangwo8
from tests.test_engine import SimList


class Models:
    """A ``models`` function that notes each page it is given."""

    def __init__(self) -> None:
        self.pages: list[list[int]] = []

    def __call__(self, items: list[Any]) -> list[str]:
        self.pages.append(list(items))
        return [f"row {n}" for n in items]


async def test_pages_read_ahead_hold_their_items_as_fetched() -> None:
    sim, models = SimList(100), Models()
    sim.auto = True
    source: Source[str] = Source(sim.fetch, lambda x: x, per_page=10, label="sim", models=models)

    async def one() -> AsyncGenerator[Source[str], None]:
        yield source

    got: list[str] = []
    ahead = 0  # the most pages in and not yet handed on
    taken = ordered_pages(one(), concurrency=8, read_ahead=100)
    async with contextlib.aclosing(taken) as each:
        async for page in each:
            got += page.page.items
            for _ in range(5):  # the reads in flight are answered meanwhile
                await asyncio.sleep(0)
            handed = len(got) // 10
            assert len(models.pages) == handed  # only the pages handed on were made models
            ahead = max(ahead, len(sim.reads) - handed)
    assert ahead >= 5
    assert got == [f"row {n}" for n in range(1, 101)]
    assert models.pages == [list(range(n, n + 10)) for n in range(1, 101, 10)]


def bad_row(n: int) -> dict[str, Any]:
    """A customer row as the vendor sends it, but for a contact id that is not a number."""
    return {
        "cId": {"id": n},
        "uId": str(5_000_000 + n),
        "userName": f"欧阳{n}号",
        "companyName": f"深圳第{n}科技有限公司",
        "phone": f"010-6{n:07d}",
        "progress": "9",
    }


def good_row(n: int) -> dict[str, Any]:
    return {**bad_row(n), "cId": str(7_000_000 + n)}


async def test_a_bad_row_raises_at_its_pages_turn_after_the_pages_before(
    make_session: Callable[..., bw.Session],
) -> None:
    async with FakeBangwo8(tasks=1, users_per_task=0) as fake:
        (task,) = fake.state.order
        # Page 3 of 5 (two rows a page) holds the bad row; pages 4 and 5 are read ahead.
        rows = [bad_row(n) if n == 6 else good_row(n) for n in range(1, 11)]
        fake.state.set_customers(task, rows)
        got: list[bw.TaskUser] = []
        async with make_session(fake) as session:
            with pytest.raises(bw.DecodeError) as info:
                async for user in bw.iter_task_users(session, task, per_page=2, concurrency=4):
                    got.append(user)
            with pytest.raises(bw.DecodeError) as alone:
                await bw.list_task_users(session, task, page=3, per_page=2)
    assert [u.contact_id for u in got] == [7_000_000 + n for n in range(1, 5)]
    error = info.value
    assert (error.page, error.endpoint) == (3, "list_task_users")
    assert error.field is not None and error.field.startswith("$.callTask[1]")
    assert "(page 3)" in str(error)
    assert (alone.value.field, alone.value.endpoint) == (error.field, error.endpoint)
