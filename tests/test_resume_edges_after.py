"""Resuming every customer of every task after a cursor whose task moved to the page before."""

import contextlib

import bangwo8_async as bw
from bangwo8_async.testing import FakeBangwo8


async def test_resume_after_task_moved_to_previous_task_page(make_session) -> None:
    async with FakeBangwo8(tasks=150, users_per_task=25) as fake, make_session(fake) as s:
        x = fake.state.order[100]  # first task of task page 2
        cursor = None
        got_x = 0
        async with contextlib.aclosing(bw.iter_all_task_user_pages(s, per_page=10)) as it:
            async for p in it:
                if p.task.call_task_id == x:
                    got_x += len(p.page.items)
                    cursor = p.cursor
                    break
        assert cursor is not None and not cursor.task_done and cursor.task_page == 2
        fake.state.delete(fake.state.order[0])  # a task on page 1 goes: x moves to page 1
        async with contextlib.aclosing(
            bw.iter_all_task_user_pages(s, per_page=10, after=cursor)
        ) as it:
            async for p in it:
                if p.task.call_task_id == x:
                    got_x += len(p.page.items)
        assert got_x >= 25


async def test_resume_after_task_done_but_later_pages_grew(make_session) -> None:
    """control: plain resume works"""
    async with FakeBangwo8(tasks=150, users_per_task=25) as fake, make_session(fake) as s:
        x = fake.state.order[100]
        cursor = None
        got_x = 0
        async with contextlib.aclosing(bw.iter_all_task_user_pages(s, per_page=10)) as it:
            async for p in it:
                if p.task.call_task_id == x:
                    got_x += len(p.page.items)
                    cursor = p.cursor
                    break
        async with contextlib.aclosing(
            bw.iter_all_task_user_pages(s, per_page=10, after=cursor)
        ) as it:
            async for p in it:
                if p.task.call_task_id == x:
                    got_x += len(p.page.items)
        assert got_x == 25
