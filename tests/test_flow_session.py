"""The session's flow control against real servers: a lone refusal, a window that finds a limit,
the pace, one pause for the session, the per-iterator attempt limit, stats, logging."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs
import pytest
import pytest_asyncio
from aiohttp import web

import bangwo8_async as bw
from bangwo8_async._http import attempt_limit
from bangwo8_async._http.flow.waiting import Throttle
from bangwo8_async.testing import FakeBangwo8, Fault

from .conftest import BASE, MockedHTTP, SleepRecorder, vendor

DETAIL = f"{BASE}/callTask/7.json"
Handler = Callable[[web.Request, int], Awaitable[web.Response]]


class CountingServer:
    """A tiny server on 127.0.0.1:0 that numbers arrivals and answers through ``handle``."""

    def __init__(self, handle: Handler) -> None:
        self.handle = handle
        self.arrivals = 0
        self.in_flight = 0
        self.peak = 0
        self.refused = 0
        self.statuses: list[int] = []
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def _serve(self, request: web.Request) -> web.Response:
        n = self.arrivals
        self.arrivals += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            response = await self.handle(request, n)
        finally:
            self.in_flight -= 1
        self.statuses.append(response.status)
        return response

    async def __aenter__(self) -> CountingServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/api/v1"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def ok() -> web.Response:
    return web.Response(body=vendor("get_call_task"), content_type="application/json")


def too_many(retry_after: str | None = None) -> web.Response:
    headers = {"Retry-After": retry_after} if retry_after else {}
    body = b'{"errcode": "429", "errmsg": "Too Many Requests"}'
    return web.Response(status=429, body=body, content_type="application/json", headers=headers)


@pytest_asyncio.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[CountingServer]]]:
    servers: list[CountingServer] = []

    async def start(handle: Handler) -> CountingServer:
        server = await CountingServer(handle).__aenter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.__aexit__()


def session_for(server: CountingServer, backoff: bw.Backoff, **options: Any) -> bw.Session:
    return bw.Session(bw.BasicAuth("a", "b"), base_url=server.base_url, backoff=backoff, **options)


# -- the window --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
async def test_a_lone_refusal_cuts_nothing(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session], status: int
) -> None:
    """One 429 or 503 is no limit: it is retried on its own backoff, and the window and the
    pace stay as they were (a limit shows in twenty answers, not one)."""
    mocked.get(DETAIL, status=status, body=b"{}")
    mocked.get(DETAIL, body=vendor("get_call_task"))
    async with make_session() as session:
        assert session.concurrency == 8
        await bw.get_call_task(session, 7)
        assert session.concurrency == 8
        assert session.stats.rate is None and session.stats.throttled == 1


async def test_not_adaptive_keeps_the_window_fixed(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session]
) -> None:
    mocked.get(DETAIL, status=429, body=b"{}")
    mocked.get(DETAIL, body=vendor("get_call_task"))
    async with make_session(adaptive=False) as session:
        await bw.get_call_task(session, 7)
        assert session.concurrency == 8
        assert session.stats.throttled == 1


@pytest.mark.parametrize("status", [500, 502, 504, 404])
async def test_other_answers_do_not_cut(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session], status: int
) -> None:
    mocked.get(DETAIL, status=status, body=b"{}")
    mocked.get(DETAIL, body=vendor("get_call_task"))
    async with make_session() as session:
        with contextlib.suppress(bw.NotFoundError):
            await bw.get_call_task(session, 7)
        assert session.concurrency == 8


async def test_window_follows_a_server_that_allows_three_in_flight(
    serve: Callable[[Handler], Awaitable[CountingServer]],
) -> None:
    """Against the same server, the adaptive session is refused far less than the fixed one."""
    allowed = 3

    async def handle(request: web.Request, n: int) -> web.Response:
        if server.in_flight > allowed:
            server.refused += 1
            return too_many()
        await asyncio.sleep(0.005)
        return ok()

    server = await serve(handle)
    tiny = bw.Backoff(base=0.002, cap=0.01)
    refused = {}
    for adaptive in (False, True):
        server.refused = 0
        async with session_for(
            server, tiny, max_concurrency=16, max_retries=100, adaptive=adaptive
        ) as session:
            await asyncio.gather(*(bw.get_call_task(session, 7) for _ in range(150)))
            refused[adaptive] = server.refused
            assert session.stats.throttled == server.refused
    assert refused[True] * 3 < refused[False], refused


async def test_a_rate_limited_fake_is_paced_and_refuses_far_less(
    make_session: Callable[..., bw.Session],
) -> None:
    """Against the fake's token bucket the adaptive session paces itself; a fixed one cannot."""
    refused = {}
    for adaptive in (False, True):
        async with FakeBangwo8(
            tasks=3, rate_limit=200, rate_burst=2, limit_retry_after=None
        ) as fake:
            task = fake.state.order[0]
            backoff = bw.Backoff(base=0.01, cap=0.05)
            async with make_session(
                fake, max_concurrency=16, max_retries=1000, adaptive=adaptive, backoff=backoff
            ) as session:
                got = await asyncio.gather(*(bw.get_call_task(session, task) for _ in range(200)))
                assert {t.call_task_id for t in got} == {task}
                assert (session.stats.rate is not None) is adaptive
                assert session.stats.throttled == fake.refused
            refused[adaptive] = fake.refused
    assert refused[True] * 3 < refused[False], refused


# -- one pause for the session -----------------------------------------------------------


@pytest.mark.parametrize("retry_after", ["5", None])
async def test_retry_after_pauses_every_new_attempt_of_the_session(
    serve: Callable[[Handler], Awaitable[CountingServer]], retry_after: str | None
) -> None:
    """A 429 with Retry-After holds back the attempts that start after it; the one in flight
    finishes. Without the header nobody but the refused call waits."""
    release, fourth = asyncio.Event(), asyncio.Event()
    events: list[tuple[str, int]] = []

    async def handle(request: web.Request, n: int) -> web.Response:
        events.append(("arrive", n))
        if n == 3:  # the refused call's retry and the two queued calls have been sent
            fourth.set()
        if n == 0:
            return too_many(retry_after)
        if n == 1:
            await release.wait()  # in flight while the pause begins
        return ok()

    async def sleep(seconds: float) -> None:
        events.append(("sleep", round(seconds)))
        await asyncio.sleep(0)

    server = await serve(handle)
    backoff = bw.Backoff(base=0.0, cap=0.0, sleep=sleep)
    async with session_for(server, backoff, max_concurrency=2, adaptive=False) as session:
        calls = [asyncio.create_task(bw.get_call_task(session, 7)) for _ in range(4)]
        await fourth.wait()
        release.set()
        await asyncio.gather(*calls)
        stats = session.stats
    assert server.statuses.count(200) == 4 and server.arrivals == 5
    sleeps = [e for e in events if e[0] == "sleep"]
    if retry_after:
        # the refused call's own wait, then one for each of the two calls that were queued
        assert sleeps == [("sleep", 5)] * 3
        arrivals_after_429 = [e for e in events[events.index(("arrive", 1)) + 1 :]]
        assert arrivals_after_429[0] == ("sleep", 5)  # nothing was sent before sleeping
        assert stats.paused_seconds == pytest.approx(5, abs=0.1)
    else:
        assert sleeps == [("sleep", 0)]  # the refused call's own (zero) backoff only
        assert stats.paused_seconds == 0
    assert (stats.throttled, stats.retries, stats.attempts) == (1, 1, 5)


async def test_a_send_waiting_its_turn_under_the_rate_sits_out_a_pause_that_began(
    serve: Callable[[Handler], Awaitable[CountingServer]],
) -> None:
    """A Retry-After pauses every new attempt: also one that had already passed the pause
    check and was waiting in the throttle for its turn when the 429 came back."""
    events: list[tuple[str, int]] = []
    paused = asyncio.Event()

    async def handle(request: web.Request, n: int) -> web.Response:
        events.append(("arrive", n))
        return too_many("5") if n == 0 else ok()

    async def sleep(seconds: float) -> None:
        if seconds <= Throttle.RECHECK:
            await paused.wait()  # the paced sends wait their turn until the 429 is in
        else:
            events.append(("sleep", round(seconds)))
            paused.set()
        await asyncio.sleep(0)

    server = await serve(handle)
    backoff = bw.Backoff(base=0.0, cap=0.0, sleep=sleep)
    options = {"max_concurrency": 3, "adaptive": False, "rate_limit": 10.0}
    async with session_for(server, backoff, **options) as session:
        await asyncio.gather(*(bw.get_call_task(session, 7) for _ in range(3)))
    assert server.arrivals == 4
    after = events[events.index(("arrive", 0)) + 1 :]
    # the refused call's own wait, then the two paced sends' waits, before anything is sent
    assert after[:3] == [("sleep", 5)] * 3, events


async def test_a_shorter_retry_after_does_not_shorten_the_pause(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session], sleeps: SleepRecorder
) -> None:
    mocked.get(DETAIL, status=429, body=b"{}", headers={"Retry-After": "10"})
    mocked.get(DETAIL, status=503, body=b"{}", headers={"Retry-After": "4"})
    mocked.get(DETAIL, body=vendor("get_call_task"))
    async with make_session(adaptive=False) as session:  # not adaptive: every one pauses
        await bw.get_call_task(session, 7)
        assert session.stats.paused_seconds == pytest.approx(10, abs=0.1)
    # Its own waits, 10 then 4; then the rest of the 10 s pause, once (and since the
    # recorder never advances the loop's clock, that rest is still about 10 s).
    pauses = [wait for wait in sleeps.waits if wait > Throttle.RECHECK]
    assert pauses[:2] == [10.0, 4.0]
    assert len(pauses) == 3 and 9.5 < pauses[2] <= 10.0


async def test_a_retry_after_beyond_the_cap_is_no_pause(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session], sleeps: SleepRecorder
) -> None:
    mocked.get(DETAIL, status=429, body=b"{}", headers={"Retry-After": "61"})
    mocked.get(DETAIL, body=vendor("get_call_task"))
    async with make_session() as session:
        with pytest.raises(bw.RateLimitError):
            await bw.get_call_task(session, 7)
        await bw.get_call_task(session, 7)
        assert session.stats.paused_seconds == 0
    assert sleeps.waits == []


# -- the per-iterator attempt limit --------------------------------------------------------


async def test_attempt_limit_bounds_attempts_in_flight_of_its_context(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    fake.latency = 0.01

    async def limited() -> None:
        attempt_limit.set(asyncio.Semaphore(2))
        # tasks copy the context, so each call below sees the limit
        await asyncio.gather(*(bw.get_call_task(session, i) for i in fake.state.order[:20]))

    async with make_session(fake, max_concurrency=8) as session:
        await asyncio.create_task(limited())
        assert fake.peak_in_flight == 2
        fake.peak_in_flight = 0
        await asyncio.gather(*(bw.get_call_task(session, i) for i in fake.state.order[:20]))
        assert fake.peak_in_flight == 8  # the limit stayed in its own context
    assert attempt_limit.get() is None


async def test_attempt_limit_is_not_held_across_a_backoff_sleep(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session]
) -> None:
    limit = asyncio.Semaphore(1)
    held_while_sleeping: list[bool] = []

    async def sleep(_: float) -> None:
        held_while_sleeping.append(limit.locked())
        await asyncio.sleep(0)

    mocked.get(DETAIL, status=500, body=b"{}")
    mocked.get(DETAIL, status=503, body=b"{}", headers={"Retry-After": "3"})
    mocked.get(DETAIL, body=vendor("get_call_task"))
    token = attempt_limit.set(limit)
    try:
        async with make_session(backoff=bw.Backoff(sleep=sleep)) as session:
            await bw.get_call_task(session, 7)
    finally:
        attempt_limit.reset(token)
    assert held_while_sleeping == [False, False]
    assert not limit.locked()


# -- stats -------------------------------------------------------------------------------


async def test_stats_count_attempts_retries_throttles_and_pauses(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    fake.retry_after = 2
    fake.inject(Fault.SERVER_ERROR, Fault.RATE_LIMITED, Fault.UNAVAILABLE)
    async with make_session(fake, adaptive=False) as session:
        assert session.stats == bw.SessionStats(
            attempts=0, retries=0, throttled=0, window=8, paused_seconds=0.0
        )
        await bw.get_call_task(session, fake.state.order[0])
        stats = session.stats
    assert (stats.attempts, stats.retries, stats.throttled) == (4, 3, 2)
    assert stats.window == session.concurrency == 8
    assert stats.paused_seconds == pytest.approx(2, abs=0.1)
    assert len(fake.log) == 4
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        stats.retries = 0  # type: ignore[misc]


# -- logging -----------------------------------------------------------------------------


def test_package_logger_has_a_null_handler() -> None:
    handlers = logging.getLogger("bangwo8_async").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


async def test_token_renewal_logged_at_info(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bangwo8_async")
    async with make_session(fake, auth=fake.client_credentials) as session:
        await bw.get_call_task(session, fake.state.order[0])
        fake.expire_tokens()
        await bw.get_call_task(session, fake.state.order[0])
    renewal = [r for r in caplog.records if "renewing" in r.getMessage()]
    assert [r.levelno for r in renewal] == [logging.INFO]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


SCRIPT = """
import asyncio, bangwo8_async as bw
from bangwo8_async.testing import FakeBangwo8, Fault

async def main():
    async with FakeBangwo8(tasks=3) as fake:
        fake.retry_after = 0
        fake.inject(Fault.SERVER_ERROR, Fault.RATE_LIMITED, Fault.UNAVAILABLE)
        async with bw.Session(fake.basic_auth, base_url=fake.base_url,
                              backoff=bw.Backoff.instant(), max_retries=5) as session:
            await bw.get_call_task(session, fake.state.order[0])
            print(session.stats.retries)

asyncio.run(main())
"""


def test_a_script_without_logging_setup_prints_nothing_on_retries() -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == 3  # three retries really happened
    assert done.stderr == ""
