"""Resuming every customer of every task after a cursor whose task moved to the page before."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import bangwo8_async as bw
from bangwo8_async.testing import FakeBangwo8


async def read_until(session: bw.Session, task: int) -> tuple[bw.UsersCursor, int]:
    """Read up to the first customer page of ``task``: its cursor and how many it held."""
    async with contextlib.aclosing(bw.iter_all_task_user_pages(session, per_page=10)) as it:
        async for p in it:
            if p.task.call_task_id == task:
                return p.cursor, len(p.page.items)
    raise AssertionError(f"task {task} never came")


async def count_after(session: bw.Session, cursor: bw.UsersCursor, task: int) -> int:
    """How many customers of ``task`` a resume ``after=cursor`` yields."""
    got = 0
    async with contextlib.aclosing(
        bw.iter_all_task_user_pages(session, per_page=10, after=cursor)
    ) as it:
        async for p in it:
            if p.task.call_task_id == task:
                got += len(p.page.items)
    return got


async def test_resume_after_task_moved_to_previous_task_page(
    make_session: Callable[..., bw.Session],
) -> None:
    async with FakeBangwo8(tasks=150, users_per_task=25) as fake, make_session(fake) as s:
        x = fake.state.order[100]  # first task of task page 2
        cursor, got_x = await read_until(s, x)
        assert not cursor.task_done and cursor.task_page == 2
        fake.state.delete(fake.state.order[0])  # a task on page 1 goes: x moves to page 1
        got_x += await count_after(s, cursor, x)
        assert got_x >= 25


async def test_resume_after_task_done_but_later_pages_grew(
    make_session: Callable[..., bw.Session],
) -> None:
    """control: plain resume works"""
    async with FakeBangwo8(tasks=150, users_per_task=25) as fake, make_session(fake) as s:
        x = fake.state.order[100]
        cursor, got_x = await read_until(s, x)
        got_x += await count_after(s, cursor, x)
        assert got_x == 25
