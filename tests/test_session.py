"""The session: retry matrix, Retry-After, Requestid, DELETE lost answers, limits, lifecycle."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest

import bangwo8_async as bw
from bangwo8_async._http.flow.pace import PaceLimit
from bangwo8_async.testing import FakeBangwo8, Fault

from .conftest import BASE, MockedHTTP, SleepRecorder, vendor

DETAIL = f"{BASE}/callTask/7.json"
DELETE = f"{BASE}/callTask/7.json"
CREATE = f"{BASE}/callTask.json"
NEW = bw.NewCallTask("t", date(2022, 5, 20), date(2022, 5, 21), [1], [2], bw.DataSource.COMPANY)


def calls(m: MockedHTTP) -> list[dict[str, Any]]:
    return [c.kwargs for cs in m.requests.values() for c in cs]


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_retryable_statuses_are_retried(
    mocked: MockedHTTP,
    make_session: Callable[..., bw.Session],
    sleeps: SleepRecorder,
    status: int,
) -> None:
    mocked.get(DETAIL, status=status, body=b'{"errcode": "x", "errmsg": "busy"}')
    mocked.get(DETAIL, body=vendor("get_call_task"))
    async with make_session() as session:
        detail = await bw.get_call_task(session, 7)
    assert detail.call_task_id == 49242970
    assert len(calls(mocked)) == 2
    assert len(sleeps.waits) == 1 and 0 <= sleeps.waits[0] <= 0.5


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, bw.APIError),
        (401, bw.AuthenticationError),
        (403, bw.PermissionDeniedError),
        (404, bw.NotFoundError),
        (405, bw.APIError),
        (409, bw.APIError),
        (422, bw.APIError),
        (301, bw.APIError),
    ],
)
async def test_other_statuses_are_not_retried(
    mocked: MockedHTTP,
    make_session: Callable[..., bw.Session],
    sleeps: SleepRecorder,
    status: int,
    cls: type[bw.APIError],
) -> None:
    mocked.get(
        DETAIL,
        status=status,
        body=b'{"errcode": "1", "errmsg": "no"}',
        headers={"Location": "https://elsewhere.invalid/"},
    )
    async with make_session() as session:
        with pytest.raises(cls) as info:
            await bw.get_call_task(session, 7)
    assert type(info.value) is cls
    assert info.value.attempts == 1
    assert len(calls(mocked)) == 1 and sleeps.waits == []


@pytest.mark.parametrize(
    "fault",
    [
        aiohttp.ClientConnectionError("refused"),
        aiohttp.ServerDisconnectedError(),
        asyncio.TimeoutError(),
        aiohttp.ClientPayloadError("cut"),
        ConnectionResetError(),
    ],
)
async def test_transport_faults_are_retried(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session], fault: Exception
) -> None:
    mocked.get(DETAIL, exception=fault)
    mocked.get(DETAIL, body=vendor("get_call_task"))
    async with make_session() as session:
        assert (await bw.get_call_task(session, 7)).phone_count == 2
    assert len(calls(mocked)) == 2


@pytest.mark.parametrize("body", [b'{"callTask": {"callTaskId": "1"', b"<html>ok</html>", b""])
async def test_2xx_body_not_json_is_retried(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session], body: bytes
) -> None:
    mocked.get(DETAIL, body=body)
    mocked.get(DETAIL, body=vendor("get_call_task"))
    async with make_session() as session:
        await bw.get_call_task(session, 7)
    assert len(calls(mocked)) == 2


async def test_attempts_counted_and_last_error_raised(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session], sleeps: SleepRecorder
) -> None:
    for _ in range(3):
        mocked.get(DETAIL, status=500, body=b"oops")
    mocked.get(DETAIL, status=502, body=b"<title>Bad Gateway</title>")
    async with make_session(max_retries=3) as session:
        with pytest.raises(bw.ServerError) as info:
            await bw.get_call_task(session, 7)
    assert (info.value.status, info.value.attempts) == (502, 4)
    assert "after 4 attempts" in str(info.value)
    assert len(sleeps.waits) == 3
    assert all(0 <= w <= min(8.0, 0.5 * 2**n) for n, w in enumerate(sleeps.waits))


async def test_transport_error_after_retries(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session]
) -> None:
    for _ in range(2):
        mocked.get(DETAIL, exception=aiohttp.ServerDisconnectedError())
    async with make_session(max_retries=1) as session:
        with pytest.raises(bw.TransportError) as info:
            await bw.get_call_task(session, 7)
    assert info.value.attempts == 2


async def test_no_retries_when_max_retries_is_zero(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session]
) -> None:
    mocked.get(DETAIL, status=503, body=b"down")
    async with make_session(max_retries=0) as session:
        with pytest.raises(bw.ServerError) as info:
            await bw.get_call_task(session, 7)
    assert info.value.attempts == 1


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_seconds_honoured(
    mocked: MockedHTTP,
    make_session: Callable[..., bw.Session],
    sleeps: SleepRecorder,
    status: int,
) -> None:
    mocked.get(DETAIL, status=status, body=b"{}", headers={"Retry-After": "7"})
    mocked.get(DETAIL, body=vendor("get_call_task"))
    async with make_session() as session:
        await bw.get_call_task(session, 7)
    assert sleeps.waits == [7.0]


async def test_retry_after_http_date_honoured(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session], sleeps: SleepRecorder
) -> None:
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=20), usegmt=True)
    mocked.get(DETAIL, status=429, body=b"{}", headers={"Retry-After": when})
    mocked.get(DETAIL, body=vendor("get_call_task"))
    async with make_session() as session:
        await bw.get_call_task(session, 7)
    assert 17 <= sleeps.waits[0] <= 20


async def test_retry_after_beyond_the_cap_raises_at_once(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session], sleeps: SleepRecorder
) -> None:
    mocked.get(DETAIL, status=429, body=b"{}", headers={"Retry-After": "61"})
    async with make_session() as session:
        with pytest.raises(bw.RateLimitError) as info:
            await bw.get_call_task(session, 7)
    assert (info.value.retry_after, info.value.attempts) == (61.0, 1)
    assert sleeps.waits == []


async def test_retry_after_ignored_on_other_statuses(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session], sleeps: SleepRecorder
) -> None:
    mocked.get(DETAIL, status=500, body=b"{}", headers={"Retry-After": "30"})
    mocked.get(DETAIL, body=vendor("get_call_task"))
    async with make_session() as session:
        await bw.get_call_task(session, 7)
    assert sleeps.waits[0] <= 0.5


async def test_request_id_identical_on_every_retry(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session]
) -> None:
    mocked.post(CREATE, status=503, body=b"down")
    mocked.post(CREATE, exception=aiohttp.ServerDisconnectedError())
    mocked.post(CREATE, body=vendor("create_call_task"))
    async with make_session() as session:
        await bw.create_call_task(session, NEW)
    ids = {c["headers"]["Requestid"] for c in calls(mocked)}
    assert len(calls(mocked)) == 3 and len(ids) == 1


async def test_only_post_sends_a_request_id(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session]
) -> None:
    mocked.get(DETAIL, body=vendor("get_call_task"))
    mocked.delete(DELETE, body=vendor("delete_call_task"))
    async with make_session() as session:
        await bw.get_call_task(session, 7)
        await bw.delete_call_task(session, 7)
    assert all("Requestid" not in c["headers"] for c in calls(mocked))


@pytest.mark.parametrize(
    "lost",
    [
        {"exception": aiohttp.ServerDisconnectedError()},
        {"exception": asyncio.TimeoutError()},
        {"status": 500, "body": b"oops"},
        {"status": 503, "body": b"<html>down</html>"},
    ],
)
async def test_delete_lost_answer_then_does_not_exist_is_success(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session], lost: dict[str, Any]
) -> None:
    mocked.delete(DELETE, **lost)
    mocked.delete(DELETE, body=vendor("delete_not_found"))
    async with make_session() as session:
        assert await bw.delete_call_task(session, 7) is None
    assert len(calls(mocked)) == 2


@pytest.mark.parametrize(
    "first",
    [
        None,
        {
            "exception": aiohttp.ClientConnectorError(
                aiohttp.client_reqrep.ConnectionKey("h", 1, False, True, None, None, None),
                OSError(111, "refused"),
            )
        },
        {"status": 429, "body": b"{}"},
    ],
)
async def test_delete_not_found_without_a_lost_answer_is_an_error(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session], first: dict[str, Any] | None
) -> None:
    if first:
        mocked.delete(DELETE, **first)
    mocked.delete(DELETE, body=vendor("delete_not_found"))
    async with make_session() as session:
        with pytest.raises(bw.NotFoundError):
            await bw.delete_call_task(session, 7)


async def test_delete_survives_aiohttps_own_silent_resend(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    """The reset after the work lands on a kept-alive connection; aiohttp re-sends by itself."""
    victim = fake.state.order[3]
    async with make_session(fake, max_retries=0) as session:
        await bw.get_call_task(session, victim)  # opens the keep-alive connection
        fake.inject(Fault.RESET_AFTER, method="DELETE")
        assert await bw.delete_call_task(session, victim) is None
    deletes = fake.requests("DELETE")
    assert len(deletes) == 2  # one from us, one re-sent by aiohttp itself
    assert victim not in fake.state


async def test_delete_survives_lost_answer_on_our_retry(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    victim = fake.state.order[5]
    fake.inject(Fault.RESET_AFTER, Fault.RESET_AFTER, method="DELETE")
    async with make_session(fake) as session:
        assert await bw.delete_call_task(session, victim) is None
    assert len(fake.requests("DELETE")) == 3


async def test_timeout_is_per_attempt_and_gives_transport_error(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    fake.slow_seconds = 5
    fake.inject(Fault.SLOW, Fault.SLOW)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with make_session(fake, timeout=0.2, max_retries=1) as session:
        with pytest.raises(bw.TransportError) as info:
            await bw.get_call_task(session, fake.state.order[0])
    assert info.value.attempts == 2
    assert "timed out" in str(info.value)
    assert loop.time() - started < 2.0


async def test_max_concurrency_bounds_requests_in_flight(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    fake.latency = 0.01
    async with make_session(fake, max_concurrency=3) as session:
        await asyncio.gather(*(bw.get_call_task(session, i) for i in fake.state.order[:30]))
    assert fake.peak_in_flight == 3


async def test_rate_limit_spaces_every_attempt(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    fake.inject(Fault.SERVER_ERROR)
    loop = asyncio.get_running_loop()
    real_sleep = bw.Backoff(base=0.0, cap=0.0)  # no backoff, but pacing sleeps for real
    async with make_session(fake, rate_limit=40, backoff=real_sleep) as session:
        started = loop.time()
        await asyncio.gather(*(bw.get_call_task(session, i) for i in fake.state.order[:5]))
        elapsed = loop.time() - started
    assert len(fake.log) == 6  # the retry counts against the limit too
    assert elapsed >= 5 / 40 * 0.95


async def test_stats_rate_is_the_stricter_of_rate_limit_and_the_adaptive_rate() -> None:
    options: dict[str, Any] = {"base_url": BASE, "rate_limit": 5, "max_concurrency": 32}
    async with bw.Session(bw.BasicAuth("a", "b"), **options) as session:
        assert session.stats.rate == 5
        control = session._flow.control  # a rate limit found at 100/s, as a trial would set it
        control._pace = PaceLimit(100.0, control.clock())
        assert control.rate is not None and control.rate > 5
        assert session.stats.rate == 5
        control._pace = PaceLimit(2.0, control.clock())
        rate = session.stats.rate
        assert rate is not None and rate == pytest.approx(control.rate, rel=1e-3) and rate < 5
    async with bw.Session(bw.BasicAuth("a", "b"), base_url=BASE) as session:
        assert session.stats.rate is None


async def test_pacing_waits_through_the_backoff_sleep(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session], sleeps: SleepRecorder
) -> None:
    """A test's Backoff sleep sees every wait of the session, pacing included."""
    async with make_session(fake, rate_limit=2, max_concurrency=1) as session:
        for task in fake.state.order[:3]:
            await bw.get_call_task(session, task)
    assert sum(sleeps.waits) == pytest.approx(1.0, abs=0.05)  # two gaps of half a second
    assert len(fake.log) == 3


@pytest.mark.parametrize(
    "url",
    [
        "http://www.bangwo8.com/api/v1",
        "http://10.0.0.1/api",
        "ftp://127.0.0.1/api",
        "https://user:pw@www.bangwo8.com/api/v1",
        "not a url",
        "",
        "https:///nohost",
    ],
)
def test_base_url_refused(url: str) -> None:
    with pytest.raises(bw.ValidationError) as info:
        bw.Session(bw.BasicAuth("a", "b"), base_url=url)
    assert info.value.field == "base_url"
    assert "pw" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://abtest.bangwo8.com/api/v1",
        "http://localhost:8080/api/v1",
        "http://127.0.0.1/api/v1",
        "http://127.9.9.9:1/api/v1",
        "http://[::1]:99/api/v1",
    ],
)
def test_base_url_allowed(url: str) -> None:
    assert bw.Session(bw.BasicAuth("a", "b"), base_url=url).base_url == url


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": "5"}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_concurrency": True}, "max_concurrency"),
        ({"rate_limit": 0}, "rate_limit"),
        ({"http_session": object()}, "http_session"),
        ({"backoff": 3}, "backoff"),
    ],
)
def test_bad_session_options(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(bw.ValidationError) as info:
        bw.Session(bw.BasicAuth("a", "b"), **kwargs)
    assert info.value.field == field


def test_bad_auth() -> None:
    with pytest.raises(bw.ValidationError):
        bw.Session(("a", "b"))  # type: ignore[arg-type]
    with pytest.raises(bw.ValidationError):
        bw.BasicAuth("", "x")
    with pytest.raises(bw.ValidationError):
        bw.ClientCredentials("id", None)  # type: ignore[arg-type]
    with pytest.raises(bw.ValidationError):
        bw.Session(bw.ClientCredentials("i", "s", token_url="http://evil.example/token"))


async def test_borrowed_http_session_is_left_open(fake: FakeBangwo8) -> None:
    async with aiohttp.ClientSession() as http:
        async with bw.Session(fake.basic_auth, base_url=fake.base_url, http_session=http) as s:
            await bw.get_call_task(s, fake.state.order[0])
        assert not http.closed
        assert s.closed


async def test_owned_http_session_is_closed(fake: FakeBangwo8) -> None:
    session = bw.Session(fake.basic_auth, base_url=fake.base_url)
    await bw.get_call_task(session, fake.state.order[0])
    http = session._transport._http  # type: ignore[attr-defined]
    assert http is not None and not http.closed
    await session.close()
    assert http.closed
    with pytest.raises(RuntimeError, match="closed"):
        await bw.get_call_task(session, fake.state.order[0])


async def test_borrowed_session_middlewares_kept_on_delete(fake: FakeBangwo8) -> None:
    seen: list[str] = []

    async def spy(req: aiohttp.ClientRequest, handler: Any) -> aiohttp.ClientResponse:
        seen.append(req.method)
        return await handler(req)

    async with aiohttp.ClientSession(middlewares=(spy,)) as http:
        async with bw.Session(fake.basic_auth, base_url=fake.base_url, http_session=http) as s:
            await bw.delete_call_task(s, fake.state.order[0])
    assert seen == ["DELETE"]


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BANGWO8_ACCOUNT", "BANGWO8_PASSWORD", "BANGWO8_SECRET_ID", "BANGWO8_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(bw.ValidationError, match="BANGWO8_ACCOUNT"):
        bw.Session.from_env()
    monkeypatch.setenv("BANGWO8_SECRET_ID", "sid")
    monkeypatch.setenv("BANGWO8_SECRET", "s3cret")
    monkeypatch.setenv("BANGWO8_BASE_URL", "https://abtest.bangwo8.com/api/v1")
    session = bw.Session.from_env(max_retries=1)
    assert isinstance(session.auth, bw.ClientCredentials)
    assert (session.base_url, session.max_retries) == ("https://abtest.bangwo8.com/api/v1", 1)
    monkeypatch.setenv("BANGWO8_ACCOUNT", "admin")
    monkeypatch.setenv("BANGWO8_PASSWORD", "pw")
    assert isinstance(bw.Session.from_env().auth, bw.BasicAuth)


async def test_attempts_at_debug_retries_at_info_never_a_warning(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session], caplog: pytest.LogCaptureFixture
) -> None:
    mocked.get(DETAIL, status=503, body=b"down")
    mocked.get(DETAIL, body=vendor("get_call_task"))
    caplog.set_level(logging.DEBUG, logger="bangwo8_async")
    async with make_session() as session:
        await bw.get_call_task(session, 7)
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert re.fullmatch(r"GET /callTask/7\.json -> 503 in [\d.]+ ms \(attempt 1\)", debug[0])
    assert re.fullmatch(r"GET /callTask/7\.json -> 200 in [\d.]+ ms \(attempt 2\)", debug[-1])
    assert len(info) == 1 and "retry 1 of 3" in info[0] and "ServerError" in info[0]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_connection_error_names_where_and_why(
    make_session: Callable[..., bw.Session],
) -> None:
    """An app whose server went away is told host:port and the reason, not a class name."""
    import socket

    with socket.socket() as probe:  # a port with nobody listening on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with make_session(base_url=f"http://127.0.0.1:{port}/api/v1", max_retries=1) as s:
        with pytest.raises(bw.TransportError) as info:
            await bw.get_call_task(s, 49242970)
    assert str(info.value) == (
        f"cannot connect to 127.0.0.1:{port}: connection refused "
        "[GET /callTask/49242970.json] after 2 attempts"
    )


def test_a_backoffs_repr_is_its_policy_alone() -> None:
    """The same policy reads the same in every log, whatever sleeps for it."""
    assert repr(bw.Backoff(base=0.5, cap=8.0, sleep=bw.Backoff.instant().sleep)) == repr(
        bw.Backoff()
    )
    assert repr(bw.Backoff()) == "Backoff(base=0.5, cap=8.0, max_retry_after=60.0)"
