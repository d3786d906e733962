"""Promises a trusted SDK keeps, proved against the fake with its faults switched on.

Seeded and deterministic in what they assert; each runs in a few seconds at most.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import date

import pytest

import bangwo8_async as bw
from bangwo8_async.testing import RATE_FAULTS, FakeBangwo8, Fault

from .conftest import sdk_tasks, settle

FAULT_RATE = 0.2


def faulty(**options: object) -> FakeBangwo8:
    """A fake where 20% of requests fail, across every kind of fault."""
    return FakeBangwo8(fault_rate=FAULT_RATE, retry_after=0, seed=20, **options)  # type: ignore[arg-type]


def hardy(make_session: Callable[..., bw.Session], fake: FakeBangwo8, **kw: object) -> bw.Session:
    # 11 attempts: the chance that one request fails them all at 20% is 2e-8.
    return make_session(fake, backoff=bw.Backoff.instant(), max_retries=10, **kw)


async def test_every_fault_kind_is_in_the_mix() -> None:
    assert set(RATE_FAULTS) == {
        Fault.SERVER_ERROR,
        Fault.UNAVAILABLE,
        Fault.RATE_LIMITED,
        Fault.RESET_BEFORE,
        Fault.RESET_AFTER,
        Fault.TRUNCATED,
    }


async def test_export_tasks_through_faults(make_session: Callable[..., bw.Session]) -> None:
    async with faulty(tasks=2000) as fake:
        async with hardy(make_session, fake, max_concurrency=6) as session:
            got = [t.call_task_id async for t in bw.iter_call_tasks(session, per_page=20)]
        assert got == fake.state.order
        assert {r.fault for r in fake.log} >= set(RATE_FAULTS)
        assert fake.peak_in_flight <= 6


async def test_export_all_customers_through_faults(make_session: Callable[..., bw.Session]) -> None:
    async with faulty(tasks=2000, users_per_task=5) as fake:
        expected = [
            (t, c) for t in fake.state.order for c in fake.state.customers(fake.state.task(t))
        ]  # type: ignore[arg-type]
        async with hardy(make_session, fake, max_concurrency=8) as session:
            got = [
                (u.call_task_id, u.contact_id if u.contact_id is not None else u.company_id)
                async for u in bw.iter_all_task_users(session)
            ]
        assert len(expected) == 10_000
        assert got == expected
        assert {r.fault for r in fake.log} >= set(RATE_FAULTS)
        assert fake.peak_in_flight <= 8


async def test_creates_through_faults_make_exactly_one_task_each(
    make_session: Callable[..., bw.Session],
) -> None:
    async with faulty(tasks=10) as fake:
        async with hardy(make_session, fake) as session:
            created = await asyncio.gather(
                *(
                    bw.create_call_task(
                        session,
                        bw.NewCallTask(
                            f"任务{i}",
                            date(2024, 1, 1),
                            date(2024, 1, 2),
                            [1000 + i],
                            [7],
                            bw.DataSource.CONTACT,
                        ),
                    )
                    for i in range(30)
                )
            )
        new_ids = {c.assignments[0].call_task_id for c in created}
        assert len(new_ids) == 30
        assert len(fake.state) == 40
        posts = fake.requests("POST", "/api/v1/callTask.json")
        assert len(posts) > 30  # retries happened, and were de-duplicated by Requestid
        assert any(r.fault is Fault.RESET_AFTER for r in posts)


async def test_deletes_through_faults_all_succeed(make_session: Callable[..., bw.Session]) -> None:
    async with faulty(tasks=40) as fake:
        victims = fake.state.order[:30]
        fake.inject(*[Fault.RESET_AFTER] * 4, method="DELETE")  # the answer lost, work done
        async with hardy(make_session, fake) as session:
            results = await asyncio.gather(*(bw.delete_call_task(session, v) for v in victims))
        assert results == [None] * 30
        assert not any(v in fake.state for v in victims)
        assert len(fake.state) == 10


async def test_giving_up_raises_the_last_failure_with_attempts(
    make_session: Callable[..., bw.Session],
) -> None:
    async with FakeBangwo8() as fake:
        fake.inject(
            Fault.RESET_BEFORE,
            Fault.RESET_BEFORE,
            Fault.SERVER_ERROR,
            Fault.UNAVAILABLE,
            query={"page": "2"},
        )
        async with make_session(fake, max_retries=2, backoff=bw.Backoff.instant()) as session:
            with pytest.raises(bw.ServerError) as info:
                [t async for t in bw.iter_call_tasks(session, per_page=50)]
    # aiohttp re-sends a reset GET once by itself, so attempt 1 used two of the faults.
    assert (info.value.status, info.value.attempts, info.value.page) == (503, 3, 2)
    assert "after 3 attempts" in str(info.value) and "page 2" in str(info.value)


async def test_a_server_that_never_answers_gives_transport_error_in_time(
    make_session: Callable[..., bw.Session],
) -> None:
    async with FakeBangwo8(fault_rate=1.0, fault_kinds=[Fault.SLOW], slow_seconds=30) as fake:
        loop = asyncio.get_running_loop()
        started = loop.time()
        backoff = bw.Backoff(base=0.02, cap=0.05)
        async with make_session(fake, timeout=0.2, max_retries=2, backoff=backoff) as session:
            with pytest.raises(bw.TransportError) as info:
                await bw.get_call_task(session, fake.state.order[0])
        elapsed = loop.time() - started
    assert info.value.attempts == 3
    assert elapsed < 0.2 * 3 + 0.05 * 2 + 0.5


@pytest.mark.parametrize("how", ["break", "aclose", "cancel"])
@pytest.mark.parametrize("at", [1, 150])
async def test_stopping_an_export_through_faults(
    make_session: Callable[..., bw.Session], how: str, at: int
) -> None:
    async with faulty(tasks=400, users_per_task=2, latency=0.002) as fake:
        async with hardy(make_session, fake) as session:
            it = bw.iter_all_task_users(session, per_page=1)

            async def consume() -> None:
                n = 0
                async with contextlib.aclosing(it):
                    async for _ in it:
                        n += 1
                        if n == at:
                            if how == "break":
                                break
                            if how == "aclose":
                                await it.aclose()
                                return
                            await asyncio.Event().wait()  # cancelled here

            task = asyncio.ensure_future(consume())
            if how == "cancel":
                while len(fake.log) < max(1, at // 2):  # noqa: ASYNC110 - polling the fake
                    await asyncio.sleep(0.001)
                await asyncio.sleep(0.01)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            else:
                await task
            assert not sdk_tasks()
            seen = len(fake.log)
            await asyncio.sleep(0.1)
            assert len(fake.log) == seen


async def test_five_hundred_concurrent_callers(make_session: Callable[..., bw.Session]) -> None:
    async with FakeBangwo8(tasks=500, latency=0.001) as fake:
        async with make_session(fake, max_concurrency=8) as session:
            details = await asyncio.gather(
                *(bw.get_call_task(session, i) for i in fake.state.order)
            )
        assert [d.call_task_id for d in details] == fake.state.order
        assert len(fake.log) == 500
        assert fake.peak_in_flight == 8
    await settle()
