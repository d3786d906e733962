"""No row lost, whatever the server does: the SDK's iterators against a fake that misbehaves
as PHP servers do. Each case lost rows silently, or never ended, before the engine followed
the server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import bangwo8_async as bw
from bangwo8_async.testing import FakeBangwo8, LoggedRequest
from bangwo8_async.testing._state import FakeState


def row(cid: str, uid: str, name: str, phone: str, progress: str = "待处理") -> dict[str, str]:
    return {
        "cId": cid,
        "uId": uid,
        "userName": name,
        "companyName": "北京科技有限公司",
        "phone": phone,
        "progress": progress,
    }


#: One contact with three phone numbers, three people with no contact id under one company,
#: and two rows equal in every field on one page: eight rows, all of them real.
ROWS = [
    row("9516001", "5061001", "王伟", "13900000001"),
    row("9516001", "5061001", "王伟", "13900000002"),
    row("9516001", "5061001", "王伟", "010-61234567"),
    row("", "5061002", "李娜", "13900000011"),
    row("", "5061002", "张敏", "13900000012"),
    row("", "5061002", "刘洋", "13900000013"),
    row("", "5061003", "", "13900000021"),
    row("", "5061003", "", "13900000021"),
]


@pytest.mark.parametrize("per_page", [2, 3, 100])
async def test_every_customer_row_is_kept(
    make_session: Callable[..., bw.Session], per_page: int
) -> None:
    async with FakeBangwo8(tasks=3, users_per_task=2) as fake:
        task = fake.state.order[1]
        fake.state.set_customers(task, ROWS)
        async with make_session(fake) as session:
            one = [u async for u in bw.iter_task_users(session, task, per_page=per_page)]
            every = [u async for u in bw.iter_all_task_users(session, per_page=per_page)]
    assert [(u.contact_id, u.phone, u.user_name) for u in one] == [
        (int(r["cId"]) if r["cId"] else None, r["phone"], r["userName"]) for r in ROWS
    ]
    assert [u for u in every if u.call_task_id == task] == one
    assert len(every) == 2 + 8 + 2


async def test_progress_changing_between_reads_is_still_a_repeat(
    make_session: Callable[..., bw.Session],
) -> None:
    """A row shifted onto the next page with a new progress is the same customer."""
    rows = [row(str(9516100 + i), "5061001", f"客户{i}", f"1390000{i:04d}") for i in range(6)]

    def shift(request: LoggedRequest, state: FakeState) -> None:
        if request.query.get("page") == "2":  # row 0 gone, row 2 called meanwhile
            changed = [dict(r) for r in rows[1:]]
            changed[1]["progress"] = "已完成"
            state.set_customers(task, changed)

    async with FakeBangwo8(tasks=1, on_list=shift) as fake:
        task = fake.state.order[0]
        fake.state.set_customers(task, rows)
        async with make_session(fake) as session:
            got = [u async for u in bw.iter_task_users(session, task, per_page=3, concurrency=1)]
    assert [u.phone for u in got] == [r["phone"] for r in rows]


async def test_a_page_cap_below_per_page_loses_nothing(
    make_session: Callable[..., bw.Session],
) -> None:
    async with FakeBangwo8(tasks=1234, users_per_task=120, page_cap=50) as fake:
        async with make_session(fake) as session:
            tasks = [t.call_task_id async for t in bw.iter_call_tasks(session)]
            task = fake.state.order[7]
            users = [u async for u in bw.iter_task_users(session, task)]
    assert tasks == fake.state.order
    assert len(users) == 120 and len({u.contact_id for u in users}) == 120


@pytest.mark.parametrize("concurrency", [1, 8])
async def test_tasks_added_in_front_during_an_out_of_order_export(
    make_session: Callable[..., bw.Session], concurrency: int
) -> None:
    """A newest-first list gaining tasks while pages are answered out of order."""
    async with FakeBangwo8(tasks=1234, jitter=0.01, insert_every=3, seed=5) as fake:
        present = set(fake.state.order)
        stats = bw.PageStats()
        async with make_session(fake) as session:
            got = [
                t.call_task_id
                async for t in bw.iter_call_tasks(
                    session, per_page=100, concurrency=concurrency, stats=stats
                )
            ]
    assert present <= set(got)
    assert len(got) == len(set(got))
    assert [t for t in got if t in present] == [t for t in fake.state.order if t in present]


async def test_tasks_deleted_during_an_export(make_session: Callable[..., bw.Session]) -> None:
    async with FakeBangwo8(tasks=1500, jitter=0.01, delete_every=4, seed=2) as fake:
        before = list(fake.state.order)
        async with make_session(fake) as session:
            got = [
                t.call_task_id
                async for t in bw.iter_call_tasks(session, per_page=50, concurrency=8)
            ]
        survivors = set(fake.state.order)
    assert survivors <= set(got)
    assert len(got) == len(set(got))
    assert set(got) <= set(before)


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_no_count_and_clamped_pages_end(
    make_session: Callable[..., bw.Session], concurrency: int
) -> None:
    """Every page past the end answered with the last page again, and no count."""
    # 300 tasks: the last page is full, so only the repeats can end the list.
    async with FakeBangwo8(tasks=300, send_count=False, clamp_pages=True) as fake:
        async with make_session(fake) as session:
            got = [
                t.call_task_id
                async for t in bw.iter_call_tasks(session, per_page=100, concurrency=concurrency)
            ]
        assert got == fake.state.order
        assert len(fake.log) <= 4 + concurrency  # the list, one page of repeats, what flew


@pytest.mark.parametrize("option", ["null_lists", "omit_empty_list"])
async def test_an_empty_page_without_a_list_ends_cleanly(
    make_session: Callable[..., bw.Session], option: str
) -> None:
    async with FakeBangwo8(tasks=200, count_excess=57, **{option: True}) as fake:
        async with make_session(fake) as session:
            got = [t.call_task_id async for t in bw.iter_call_tasks(session, per_page=100)]
            assert got == fake.state.order
            empty = await bw.list_call_tasks(session, page=9)
            assert empty.items == []


async def test_count_hint_asks_for_the_first_round_at_once(
    make_session: Callable[..., bw.Session],
) -> None:
    async with FakeBangwo8(tasks=950, latency=0.01) as fake:
        async with make_session(fake) as session:
            got = [
                t.call_task_id
                async for t in bw.iter_call_tasks(
                    session, per_page=100, concurrency=4, count_hint=1000
                )
            ]
        assert got == fake.state.order
        first_round = sorted(int(r.query["page"]) for r in fake.log[:4])
        assert first_round == [1, 2, 3, 4]
        assert len(fake.log) == 10


async def test_resuming_from_a_page_with_what_is_known(
    make_session: Callable[..., bw.Session],
) -> None:
    async with FakeBangwo8(tasks=300) as fake:
        async with make_session(fake) as session:
            pages = [p async for p in bw.iter_call_task_pages(session, per_page=50)]
            committed = pages[2]
            for _ in range(3):  # three tasks deleted in front while the export was stopped
                fake.state.delete(fake.state.order[0])
            rest = [
                t.call_task_id
                async for t in bw.iter_call_tasks(
                    session,
                    per_page=committed.per_page,
                    start_page=committed.page + 1,
                    count_hint=committed.count,
                )
            ]
            again = bw.iter_call_task_pages(
                session,
                per_page=committed.per_page,
                start_page=committed.page + 1,
                count_hint=committed.count,
                known=[bw.row_identity(t) for t in committed.items],
            )
            exact = [t.call_task_id async for p in again for t in p.items]
    written = [t.call_task_id for p in pages[:3] for t in p.items]
    assert set(fake.state.order) <= set(written + exact)
    assert len(written + exact) == len(set(written + exact))
    assert set(fake.state.order) <= set(written + rest)


async def test_all_customer_pages_resume_after_a_cursor(
    make_session: Callable[..., bw.Session],
) -> None:
    async with FakeBangwo8(tasks=40, users_per_task=7) as fake:
        async with make_session(fake) as session:
            whole = [p async for p in bw.iter_all_task_user_pages(session, per_page=3)]
            rows = [u for p in whole for u in p.page.items]
            for cut in (0, 5, 11, len(whole) - 2):
                cursor = bw.UsersCursor.from_dict(whole[cut].cursor.to_dict())
                tail = [
                    u
                    async for p in bw.iter_all_task_user_pages(session, per_page=3, after=cursor)
                    for u in p.page.items
                ]
                head = [u for p in whole[: cut + 1] for u in p.page.items]
                assert head + tail == rows, cut
    assert len(rows) == 40 * 7
    assert all(p.last == (p.cursor.task_done) for p in whole)
    assert sum(p.last for p in whole) == 40


async def test_a_task_with_no_customers_gives_one_empty_page(
    make_session: Callable[..., bw.Session],
) -> None:
    async with FakeBangwo8(tasks=3, users_per_task=2) as fake:
        empty = fake.state.order[1]
        fake.state.set_customers(empty, [])
        async with make_session(fake) as session:
            pages = [p async for p in bw.iter_all_task_user_pages(session)]
    assert [(p.task.call_task_id, len(p.page.items), p.last) for p in pages] == [
        (fake.state.order[0], 2, True),
        (empty, 0, True),
        (fake.state.order[2], 2, True),
    ]


def test_row_identity() -> None:
    user = bw.TaskUser(1, None, 2, "王伟", "公司", "010-1", bw.Progress.PENDING)
    assert bw.row_identity(user) == (1, None, 2, "王伟", "公司", "010-1")
    assert bw.row_identity(bw.TaskUser(1, None, 2, "王伟", "公司", "010-1", "新")) == (
        bw.row_identity(user)
    )
    with pytest.raises(bw.ValidationError):
        bw.row_identity("not a row")  # type: ignore[arg-type]
