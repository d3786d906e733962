"""The concurrent iterators: order, exactly once, bounded, cancellable, never off-host."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable

import orjson
import pytest

import bangwo8_async as bw
from bangwo8_async.testing import FakeBangwo8, Fault

from .conftest import MockedHTTP, sdk_tasks, settle


def customer_of(user: bw.TaskUser) -> int | None:
    return user.contact_id if user.contact_id is not None else user.company_id


async def ids_of(it: object) -> list[int]:
    return [t.call_task_id async for t in it]  # type: ignore[attr-defined]


@pytest.mark.parametrize("per_page", [1, 7, 10, 25, 50, 100])
@pytest.mark.parametrize("concurrency", [1, 3, 8])
async def test_every_task_once_in_order(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session], per_page: int, concurrency: int
) -> None:
    async with make_session(fake) as session:
        got = await ids_of(bw.iter_call_tasks(session, per_page=per_page, concurrency=concurrency))
    assert got == fake.state.order
    pages = fake.requests("GET", "/api/v1/callTask.json")
    assert sorted(int(r.query["page"]) for r in pages) == list(range(1, -(-250 // per_page) + 1))


async def test_empty_list(make_session: Callable[..., bw.Session]) -> None:
    async with FakeBangwo8(tasks=0) as fake, make_session(fake) as session:
        assert await ids_of(bw.iter_call_tasks(session)) == []
        assert len(fake.log) == 1


@pytest.mark.parametrize("per_page", [10, 50])
async def test_count_missing_pages_sequentially_until_short(
    make_session: Callable[..., bw.Session], per_page: int
) -> None:
    async with FakeBangwo8(tasks=100, send_count=False) as fake, make_session(fake) as s:
        assert await ids_of(bw.iter_call_tasks(s, per_page=per_page)) == fake.state.order
        # 100 divides evenly, so the last full page is followed by one empty page.
        assert len(fake.log) == 100 // per_page + 1
        assert fake.peak_in_flight == 1


async def test_count_growing_mid_export(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    before = list(fake.state.order)
    added: list[int] = []

    def grow(page: int, _: int, __: int | None) -> None:
        if page == 1:
            added.extend(fake.state.add_tasks(37))

    async with make_session(fake) as session:
        got = await ids_of(bw.iter_call_tasks(session, per_page=10, concurrency=2, on_page=grow))
    assert got == before + added


async def test_count_shrinking_mid_export(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    doomed = fake.state.order[-60:]

    def shrink(page: int, _: int, __: int | None) -> None:
        if page == 1:
            for call_task_id in doomed:
                fake.state.delete(call_task_id)

    async with make_session(fake) as session:
        got = await ids_of(bw.iter_call_tasks(session, per_page=10, concurrency=2, on_page=shrink))
    survivors = fake.state.order
    assert got[: len(survivors)] == survivors
    assert len(got) == len(set(got))
    assert set(got) - set(survivors) <= set(doomed)


async def test_duplicates_across_pages_are_dropped(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    """Newest-first lists shift items onto the next page when tasks are added mid-export."""
    original = list(fake.state.order)

    def insert(page: int, _: int, __: int | None) -> None:
        if page in (2, 5):
            fake.state.add_tasks(4, front=True)

    async with make_session(fake) as session:
        got = await ids_of(bw.iter_call_tasks(session, per_page=10, concurrency=1, on_page=insert))
    assert len(got) == len(set(got))
    assert [i for i in got if i in set(original)] == original


async def test_a_page_failing_after_retries_raises_with_its_page(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    fake.inject(*[Fault.SERVER_ERROR] * 3, query={"page": "3"})
    got: list[int] = []
    async with make_session(fake, max_retries=2) as session:
        with pytest.raises(bw.ServerError) as info:
            async for task in bw.iter_call_tasks(session, per_page=10, concurrency=4):
                got.append(task.call_task_id)
    assert (info.value.page, info.value.attempts) == (3, 3)
    assert "page 3" in str(info.value)
    assert got == fake.state.order[:20]  # every page before it, nothing after
    assert not sdk_tasks()


async def test_in_flight_never_above_the_iterator_bound(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    fake.latency = 0.01
    async with make_session(fake, max_concurrency=8) as session:
        await ids_of(bw.iter_call_tasks(session, per_page=5, concurrency=4))
    assert fake.peak_in_flight == 4


async def test_in_flight_never_above_the_session_bound(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    fake.latency = 0.01
    async with make_session(fake, max_concurrency=3) as session:
        both = await asyncio.gather(
            ids_of(bw.iter_call_tasks(session, per_page=5, concurrency=16)),
            ids_of(bw.iter_call_tasks(session, per_page=7)),
        )
    assert both == [fake.state.order, fake.state.order]
    assert fake.peak_in_flight == 3


async def test_slow_consumer_holds_fetching_back(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    started_at_page: list[int] = []

    def watch(page: int, _: int, __: int | None) -> None:
        started_at_page.append(len(fake.log))

    async with make_session(fake) as session:
        async for _ in bw.iter_call_tasks(
            session, per_page=5, concurrency=4, on_page=watch, read_ahead=20
        ):
            await asyncio.sleep(0.0005)  # a slow consumer: the fetching must wait for it
    pages = 50
    # At most read_ahead items (4 pages of 5) wait for the consumer, besides the page it takes.
    for consumed, requested in enumerate(started_at_page, start=1):
        assert requested <= min(pages, consumed + 20 // 5 + 1), (consumed, requested)


async def test_pages_yielded_before_the_export_ends(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    fake.latency = 0.02
    async with make_session(fake) as session:
        it = bw.iter_call_tasks(session, per_page=10, concurrency=4)
        async with contextlib.aclosing(it):
            await anext(it)
            answered = [r for r in fake.log if r.status is not None]
            assert len(answered) < 25


async def test_on_page_reports_progress(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    calls: list[tuple[int, int, int | None]] = []
    async with make_session(fake) as session:
        await ids_of(bw.iter_call_tasks(session, per_page=100, on_page=lambda *a: calls.append(a)))
    assert calls == [(1, 100, 250), (2, 200, 250), (3, 250, 250)]


async def test_next_page_on_another_host_is_never_requested(
    make_session: Callable[..., bw.Session],
) -> None:
    async with FakeBangwo8(tasks=95, link_host="evil.invalid:1") as fake:
        async with make_session(fake, max_retries=0) as session:
            page = await bw.list_call_tasks(session, per_page=10)
            assert page.next_page is not None and "evil.invalid" in page.next_page
            assert await ids_of(bw.iter_call_tasks(session, per_page=10)) == fake.state.order
        assert len(fake.log) == 11  # every request reached the configured host


async def test_arguments_checked_before_iteration(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    async with make_session(fake) as session:
        for kwargs in (
            {"per_page": 0},
            {"per_page": 101},
            {"concurrency": 0},
            {"concurrency": 2.5},
            {"on_page": 3},
            {"created_start": "2022-01-01"},
        ):
            with pytest.raises(bw.ValidationError):
                bw.iter_call_tasks(session, **kwargs)  # type: ignore[arg-type]
        with pytest.raises(bw.ValidationError):
            bw.iter_task_users(session, 0)
        with pytest.raises(bw.ValidationError):
            bw.iter_all_task_users(session, per_page=500)
        with pytest.raises(bw.ValidationError):
            bw.iter_call_tasks("not a session")  # type: ignore[arg-type]
    assert fake.log == []


async def test_created_filters_are_sent_and_applied(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    from datetime import date

    start, end = date(2022, 6, 1), date(2022, 12, 31)
    expected = [i for i in fake.state.order if start <= (fake.state.task(i).created) <= end]  # type: ignore[union-attr]
    async with make_session(fake) as session:
        got = await ids_of(
            bw.iter_call_tasks(session, per_page=20, created_start=start, created_end=end)
        )
    assert got == expected and 0 < len(got) < 250
    assert all(r.query["created_start"] == "2022-06-01" for r in fake.log)


# -- customers -------------------------------------------------------------------------------


async def test_iter_task_users_every_page(make_session: Callable[..., bw.Session]) -> None:
    async with FakeBangwo8(tasks=3, users_per_task=53) as fake, make_session(fake) as session:
        task = fake.state.order[1]
        users = [u async for u in bw.iter_task_users(session, task, per_page=10)]
        assert [customer_of(u) for u in users] == list(fake.state.customers(fake.state.task(task)))
        assert {u.call_task_id for u in users} == {task}
        with pytest.raises(bw.NotFoundError):
            [u async for u in bw.iter_task_users(session, 1)]


async def test_iter_all_task_users_task_by_task(make_session: Callable[..., bw.Session]) -> None:
    async with FakeBangwo8(tasks=230, users_per_task=7) as fake:
        fake.latency = 0.002
        expected = [
            (t, c) for t in fake.state.order for c in fake.state.customers(fake.state.task(t))
        ]  # type: ignore[arg-type]
        async with make_session(fake, max_concurrency=5) as session:
            got = [
                (u.call_task_id, customer_of(u))
                async for u in bw.iter_all_task_users(session, per_page=3)
            ]
        assert got == expected
        assert fake.peak_in_flight <= 5


async def test_iter_all_task_users_skips_a_task_deleted_meanwhile(
    make_session: Callable[..., bw.Session],
) -> None:
    async with FakeBangwo8(tasks=60, users_per_task=2) as fake:
        victim = fake.state.order[40]

        def delete(page: int, _: int, __: int | None) -> None:
            if page == 1:
                fake.state.delete(victim)

        async with make_session(fake, max_concurrency=2) as session:
            got = [u.call_task_id async for u in bw.iter_all_task_users(session, on_page=delete)]
        assert victim not in got
        assert got == [t for t in fake.state.order for _ in range(2)]
        assert fake.requests("GET", f"/api/v1/callTask/userList/{victim}.json")


# -- cancellation ----------------------------------------------------------------------------


async def quiet(fake: FakeBangwo8) -> None:
    """No request reaches the server after this point."""
    seen = len(fake.log)
    await asyncio.sleep(0.1)
    assert len(fake.log) == seen


@pytest.mark.parametrize("at", [1, 137])
async def test_break_stops_everything(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session], at: int
) -> None:
    fake.latency = 0.005
    async with make_session(fake) as session:
        n = 0
        async for _ in bw.iter_call_tasks(session, per_page=5, concurrency=6):
            n += 1
            if n == at:
                break
        await settle()  # an abandoned generator is closed by the loop's finaliser
        assert not sdk_tasks()
        await quiet(fake)


@pytest.mark.parametrize("at", [1, 137])
async def test_break_inside_aclosing_stops_at_once(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session], at: int
) -> None:
    fake.latency = 0.005
    async with make_session(fake) as session:
        async with contextlib.aclosing(bw.iter_call_tasks(session, per_page=5)) as it:
            n = 0
            async for _ in it:
                n += 1
                if n == at:
                    break
        assert not sdk_tasks()
        await quiet(fake)


async def test_aclose_mid_export_stops_at_once(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    fake.latency = 0.005
    async with make_session(fake) as session:
        it = bw.iter_all_task_users(session, per_page=2)
        for _ in range(50):
            await anext(it)
        await it.aclose()
        assert not sdk_tasks()
        await quiet(fake)


@pytest.mark.parametrize("at", [1, 100])
@pytest.mark.parametrize("where", ["in the generator", "between items"])
async def test_cancelling_the_consumer_stops_everything(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session], at: int, where: str
) -> None:
    fake.latency = 0.005
    reached = asyncio.Event()

    async with make_session(fake) as session:
        it = bw.iter_call_tasks(session, per_page=5, concurrency=8)  # kept alive: no GC help

        async def consume() -> None:
            n = 0
            async for _ in it:
                n += 1
                if n == at:
                    reached.set()
                    if where == "between items":
                        await asyncio.Event().wait()

        task = asyncio.ensure_future(consume())
        await reached.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        if where == "between items":
            for _ in range(5):  # the consumer's done-callback runs on the next loop turns
                await asyncio.sleep(0)
        assert not sdk_tasks()
        await quiet(fake)
        await it.aclose()


async def test_iteration_may_move_to_another_task(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    fake.latency = 0.002
    async with make_session(fake) as session:
        it = bw.iter_call_tasks(session, per_page=10, concurrency=4)
        first = await asyncio.ensure_future(anext(it))  # that task ends: its fetches stop
        await settle()
        rest = [t.call_task_id async for t in it]
    assert [first.call_task_id, *rest] == fake.state.order


async def test_cancel_during_a_backoff_sleep(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    sleeping = asyncio.Event()

    async def forever(_: float) -> None:
        sleeping.set()
        await asyncio.Event().wait()

    fake.inject(Fault.SERVER_ERROR, query={"page": "4"})
    async with make_session(fake, backoff=bw.Backoff(sleep=forever)) as session:
        task = asyncio.ensure_future(ids_of(bw.iter_call_tasks(session, per_page=10)))
        await sleeping.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not sdk_tasks()
        await quiet(fake)


async def test_full_last_page_and_a_next_link_keep_going(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session]
) -> None:
    """A stale ``count`` that the server's own links contradict: follow the links' word."""

    def page(first: int, n: int, more: bool) -> bytes:
        items = [
            {
                "callTaskId": str(i),
                "task_name": "t",
                "task_start": "2024-01-01",
                "task_end": "2024-01-02",
                "complete": "进行中",
            }
            for i in range(first, first + n)
        ]
        link = "https://elsewhere.invalid/api/v1/callTask.json?page=9" if more else None
        return orjson.dumps({"callTask": items, "count": 20, "next_page": link})

    url = re.compile(r"^https://api\.test\.invalid/api/v1/callTask\.json\?page=(\d+)")
    bodies = {
        1: page(1, 10, True),
        2: page(11, 10, True),
        3: page(21, 10, True),
        4: page(31, 5, False),
    }
    for number, body in bodies.items():
        mocked.get(re.compile(url.pattern.replace(r"(\d+)", str(number)) + r"\b.*"), body=body)
    async with make_session() as session:
        got = [t.call_task_id async for t in bw.iter_call_tasks(session, per_page=10)]
    assert got == list(range(1, 36))
    hosts = {u.host for (_, u) in mocked.requests}
    assert hosts == {"api.test.invalid"}


async def test_a_head_page_in_backoff_does_not_stop_the_pages_behind_it(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    """Page 2 fails and sleeps before its retry; pages 3.. keep coming meanwhile."""
    sleeping, wake = asyncio.Event(), asyncio.Event()

    async def held(_: float) -> None:
        sleeping.set()
        await wake.wait()

    fake.inject(Fault.SERVER_ERROR, query={"page": "2"})
    async with make_session(fake, backoff=bw.Backoff(sleep=held)) as session:
        it = bw.iter_call_tasks(session, per_page=10, concurrency=4)
        task = asyncio.ensure_future(ids_of(it))
        await sleeping.wait()
        for _ in range(200):  # the other 23 pages are fetched while page 2 waits
            if len({r.query["page"] for r in fake.log}) == 25:
                break
            await asyncio.sleep(0.01)
        pages = {r.query["page"] for r in fake.log}
        wake.set()
        got = await task
    assert pages == {str(n) for n in range(1, 26)}
    assert got == fake.state.order
