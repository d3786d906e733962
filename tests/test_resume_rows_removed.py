"""Resuming a task's customers after rows were removed in front of the cursor."""

import contextlib

import bangwo8_async as bw
from bangwo8_async.testing import FakeBangwo8


def row(i):
    return {
        "cId": str(1000 + i),
        "uId": "7",
        "userName": f"u{i}",
        "companyName": "c",
        "phone": f"138{i:08d}",
        "progress": "0",
    }


async def test_resume_after_customers_deleted_in_front(make_session) -> None:
    async with FakeBangwo8(tasks=3, users_per_task=2) as fake, make_session(fake) as s:
        x = fake.state.order[0]
        rows = [row(i) for i in range(25)]
        fake.state.set_customers(x, rows)
        names = []
        async with contextlib.aclosing(bw.iter_all_task_user_pages(s, per_page=10)) as it:
            async for p in it:
                names += [u.user_name for u in p.page.items]
                cursor = p.cursor
                break
        fake.state.set_customers(x, rows[3:])  # three rows of page 1 deleted
        async with contextlib.aclosing(
            bw.iter_all_task_user_pages(s, per_page=10, after=cursor)
        ) as it:
            async for p in it:
                if p.task.call_task_id == x:
                    names += [u.user_name for u in p.page.items]
        missing = [f"u{i}" for i in range(3, 25) if f"u{i}" not in names]
        assert not missing
