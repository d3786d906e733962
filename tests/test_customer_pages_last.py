"""Every task's customer pages end with one marked last, whatever ended the list."""

import contextlib

import bangwo8_async as bw
from bangwo8_async.testing import FakeBangwo8


async def test_task_deleted_after_first_page_still_ends_with_last(make_session) -> None:
    async with FakeBangwo8(tasks=2, users_per_task=25) as fake, make_session(fake) as s:
        fake.latency = 0.02
        x = fake.state.order[0]
        seen = []
        async with contextlib.aclosing(bw.iter_all_task_user_pages(s, per_page=10)) as it:
            async for p in it:
                seen.append((p.task.call_task_id == x, p.page.page, len(p.page.items), p.last))
                if p.task.call_task_id == x and p.page.page == 1:
                    fake.state.delete(x)
        assert any(is_x and last for is_x, _, _, last in seen)


async def test_full_last_page_without_count_still_ends_with_last(make_session) -> None:
    async with (
        FakeBangwo8(tasks=2, users_per_task=20, send_count=False) as fake,
        make_session(fake) as s,
    ):
        seen = []
        async with contextlib.aclosing(bw.iter_all_task_user_pages(s, per_page=10)) as it:
            async for p in it:
                seen.append((p.task.call_task_id, p.page.page, len(p.page.items), p.last))
        assert all(any(t == tid and last for t, _, _, last in seen) for tid in fake.state.order)
