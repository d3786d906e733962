"""The async session: auth, retries, adaptive concurrency, the rate limit, errors, logging.

Every endpoint function and iterator sends through :meth:`Session.request`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import math
import os
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import aiohttp
import attrs
import orjson
from yarl import URL

from ._adaptive import AdaptiveLimit
from ._response import Expect, decode_response, parse_retry_after
from ._throttle import Gate, Throttle
from ._validate import check_base_url, check_flag, check_number, check_type
from ._version import __version__
from .auth import (
    Auth,
    BasicAuth,
    ClientCredentials,
    TokenCache,
    basic_header,
    resolve_credentials,
)
from .backoff import RETRY_AFTER_STATUSES, Backoff
from .errors import (
    APIError,
    AuthenticationError,
    Bangwo8Error,
    DecodeError,
    NotFoundError,
    TransportError,
    ValidationError,
)

__all__ = ["DEFAULT_BASE_URL", "Session", "SessionStats", "attempt_limit", "check_base_url"]

DEFAULT_BASE_URL = "https://www.bangwo8.com/api/v1"

logger = logging.getLogger("bangwo8_async")
# A library never configures logging; without this, Python's last-resort handler
# would print our records on stderr of a script that never set logging up.
logger.addHandler(logging.NullHandler())

#: An extra limit on attempts in flight for the calls made in this context (the
#: paging engine sets it per iterator). :meth:`Session._attempt` holds it, then a
#: place in the session's window, for one attempt only, never across a backoff sleep.
attempt_limit: contextvars.ContextVar[asyncio.Semaphore | None] = contextvars.ContextVar(
    "bangwo8_async_attempt_limit", default=None
)

#: What an attempt holds when its context sets no :data:`attempt_limit`.
_UNLIMITED: contextlib.nullcontext[None] = contextlib.nullcontext()

_USER_AGENT = f"bangwo8_async/{__version__} aiohttp/{aiohttp.__version__}"


@attrs.frozen
class SessionStats:
    """A snapshot of what a :class:`Session` has done so far (``session.stats``)."""

    #: attempts sent, retries and token fetches included
    attempts: int
    #: attempts that were retries of an earlier one
    retries: int
    #: answers that were throttled: 429, or 503
    throttled: int
    #: requests allowed in flight now (the adaptive window)
    window: int
    #: seconds the whole session spent paused for a ``Retry-After``
    paused_seconds: float
    #: sends per second the session paces itself at: the stricter of ``rate_limit`` and the
    #: rate adapted to a server's rate limit (``None``: not pacing)
    rate: float | None = None


@attrs.define
class _Counters:
    attempts: int = 0
    retries: int = 0
    throttled: int = 0
    paused_seconds: float = 0.0


@attrs.frozen
class _Request:
    """One API call as the retry loop sends it, attempt after attempt."""

    method: str
    url: URL
    shown: str  # the path and query, for logs and errors
    params: Mapping[str, str | int] | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes | None = None
    expect: Expect = Expect.JSON


@attrs.define
class _CallState:
    """What one call has seen across its attempts (and aiohttp's own re-sends)."""

    unanswered: int = 0
    #: the session pause this call already sat out in its own backoff sleep
    waited_until: float = -math.inf


class Session:
    """An authenticated connection to the Bangwo8 API; ``async with`` it.

    ``timeout`` is seconds for one attempt, ``max_retries`` the retries after
    the first attempt, ``max_concurrency`` the most requests in flight for the
    whole session (every call and iterator shares it), ``rate_limit`` attempts
    per second (``None``: unlimited). ``http_session`` borrows the caller's
    ``aiohttp.ClientSession``, which this session then never closes.

    ``adaptive=True`` treats ``max_concurrency`` as a ceiling: a 429 or 503
    cuts the window of requests in flight, and answers without throttling
    grow it back; see :attr:`concurrency`. When the refusals show a rate
    limit rather than random faults, sends are also paced just below the rate
    the server accepted (``stats.rate``), probing for more as botocore's
    adaptive mode does. A 429 or 503 with ``Retry-After`` pauses every new
    attempt of the session until then, adaptive or not.
    """

    def __init__(
        self,
        auth: Auth,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        max_retries: int = 3,
        max_concurrency: int = 8,
        rate_limit: float | None = None,
        http_session: aiohttp.ClientSession | None = None,
        backoff: Backoff | None = None,
        adaptive: bool = True,
    ) -> None:
        check_type(auth, "auth", (BasicAuth, ClientCredentials), "a BasicAuth or ClientCredentials")
        self._base = check_base_url(base_url)
        check_number(timeout, "timeout", minimum=0.001, integer=False)
        check_number(max_retries, "max_retries", minimum=0, integer=True)
        check_number(max_concurrency, "max_concurrency", minimum=1, integer=True)
        if rate_limit is not None:
            check_number(rate_limit, "rate_limit", minimum=0.001, integer=False)
        if http_session is not None:
            check_type(
                http_session, "http_session", aiohttp.ClientSession, "an aiohttp.ClientSession"
            )
        if backoff is not None:
            check_type(backoff, "backoff", Backoff, "a bangwo8_async.Backoff")
        check_flag(adaptive, "adaptive")

        self.auth = auth
        self.base_url = str(self._base).rstrip("/")
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.max_concurrency = max_concurrency
        self.rate_limit = rate_limit
        self.adaptive = adaptive
        self.backoff = backoff or Backoff()
        self._http = http_session
        self._owns_http = http_session is None
        self._closed = False
        self._limit = AdaptiveLimit(max_concurrency, clock=_loop_time, adaptive=adaptive)
        self._gate = Gate(max_concurrency)
        self._throttle = Throttle(self._interval, self.backoff.sleep)
        self._resume_at = -math.inf
        self._counters = _Counters()
        self._client_timeout = aiohttp.ClientTimeout(total=self.timeout)
        self._tokens: TokenCache | None = None
        if isinstance(auth, ClientCredentials):
            token_url = auth.token_url or str(self._base.origin().with_path("/api/token.php"))
            self._token_url = check_base_url(token_url, "token_url")
            self._token_auth = basic_header(auth.secret_id, auth.secret)
            self._tokens = TokenCache(self._fetch_token)
        else:
            self._basic = basic_header(auth.account, auth.password)

    @classmethod
    def from_env(cls, **overrides: Any) -> Session:
        """A session from ``BANGWO8_ACCOUNT``/``BANGWO8_PASSWORD`` or ``BANGWO8_SECRET_ID``/
        ``BANGWO8_SECRET`` (with ``BANGWO8_TOKEN_URL``), and ``BANGWO8_BASE_URL``; keyword
        arguments win over the environment.
        """
        env = os.environ
        if "auth" not in overrides:
            overrides["auth"] = resolve_credentials(env).auth
        if env.get("BANGWO8_BASE_URL") and "base_url" not in overrides:
            overrides["base_url"] = env["BANGWO8_BASE_URL"]
        auth = overrides.pop("auth")
        return cls(auth, **overrides)

    @property
    def concurrency(self) -> int:
        """The current window of requests in flight: 1 to ``max_concurrency``.

        Fixed at ``max_concurrency`` with ``adaptive=False``.
        """
        return self._limit.window

    @property
    def stats(self) -> SessionStats:
        """A frozen snapshot of the attempts, retries, throttled answers, window and pauses."""
        c = self._counters
        return SessionStats(
            attempts=c.attempts,
            retries=c.retries,
            throttled=c.throttled,
            window=self._limit.window,
            paused_seconds=c.paused_seconds,
            rate=min(paces) if (paces := self._paces()) else None,
        )

    def _paces(self) -> list[float]:
        """The send rates in force: the caller's ``rate_limit`` and the adaptive one."""
        return [rate for rate in (self.rate_limit, self._limit.rate) if rate is not None]

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return (
            f"<Session{state} {self.base_url} auth={self.auth!r} "
            f"max_concurrency={self.max_concurrency} max_retries={self.max_retries}>"
        )

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the aiohttp session if this session made it; a borrowed one is left open."""
        self._closed = True
        if self._owns_http and self._http is not None:
            await self._http.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    def _client(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this Session is closed")
        if self._http is None:
            # Made on first use, inside the running loop; sized so that our own limit,
            # not the connector's queue, is what makes callers wait.
            connector = aiohttp.TCPConnector(limit=self.max_concurrency, limit_per_host=0)
            self._http = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": _USER_AGENT}
            )
        return self._http

    def url(self, path: str) -> URL:
        """The absolute URL of an API path such as ``/callTask.json``."""
        return URL(self.base_url + path)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        request_id: str | None = None,
        expect: Expect = Expect.JSON,
    ) -> Any:
        """Send one API call with retries and return its decoded JSON.

        POST gets a ``Requestid`` (``request_id`` or a fresh uuid4) that stays the
        same on every retry. A DELETE whose earlier attempt went unanswered and
        whose retry hears "does not exist" returns ``None``: that attempt did it.
        ``expect`` says what a successful body must be (see :class:`Expect`).
        """
        method = method.upper()
        headers: dict[str, str] = {}
        body: bytes | None = None
        if json is not None:
            body = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        if method == "POST":
            headers["Requestid"] = _request_id(request_id)
        elif request_id is not None:
            raise ValidationError("request_id is only sent with POST", field="request_id")
        shown = path + ("?" + _query(params) if params else "")
        request = _Request(method, self.url(path), shown, params, headers, body, expect)
        return await self._call(request, self._authorization)

    async def _authorization(self) -> str:
        if self._tokens is not None:
            return await self._tokens.header()
        return self._basic

    async def _fetch_token(self) -> tuple[str, float]:
        async def secret() -> str:
            return self._token_auth

        request = _Request(
            "POST",
            self._token_url,
            self._token_url.path,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=b"grant_type=client_credentials",
        )
        data = await self._call(request, secret)
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise DecodeError("token endpoint answered without an access_token", endpoint="token")
        expires_in = data.get("expires_in", 3600)
        if isinstance(expires_in, str) and expires_in.isdigit():
            expires_in = int(expires_in)
        valid = isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool)
        if not valid or expires_in <= 0:
            raise DecodeError("token endpoint sent an invalid expires_in", endpoint="token")
        return token, float(expires_in)

    async def _call(self, request: _Request, authorization: Callable[[], Awaitable[str]]) -> Any:
        """Attempt a call until it succeeds, fails for good, or runs out of retries."""
        method, shown = request.method, request.shown
        state = _CallState()
        attempt = 0
        retries = 0
        renewed = False
        while True:
            attempt += 1
            auth_value = await authorization()
            error: Bangwo8Error
            try:
                return await self._attempt(request, auth_value, attempt, state)
            except Bangwo8Error as exc:
                error = exc
            if isinstance(error, TransportError):  # no status line to log: say what happened
                logger.debug("%s %s -> %s (attempt %d)", method, shown, error.message, attempt)
            if (
                isinstance(error, AuthenticationError)
                and error.status == 401
                and self._tokens is not None
                and auth_value.startswith("Bearer ")
                and not renewed
            ):
                # The token may have been revoked or expired early: renew once, then retry.
                renewed = True
                self._tokens.invalidate(auth_value)
                self._counters.retries += 1
                logger.info("%s %s: token refused (401), renewing it", method, shown)
                continue
            if method == "DELETE" and isinstance(error, NotFoundError) and state.unanswered:
                logger.debug(
                    "%s %s: gone after an unanswered attempt, so that attempt deleted it",
                    method,
                    shown,
                )
                return None
            paused_until = self._pause_for(error)
            delay = self.backoff.delay(error, retries) if retries < self.max_retries else None
            if delay is None:
                error.attempts = attempt
                raise error
            retries += 1
            self._counters.retries += 1
            logger.info(
                "%s %s: retry %d of %d in %.2fs after %s",
                method,
                shown,
                retries,
                self.max_retries,
                delay,
                _reason(error),
            )
            await self.backoff.sleep(delay)
            if paused_until is not None:
                state.waited_until = paused_until  # this sleep sat the session's pause out

    def _pause_for(self, error: Bangwo8Error) -> float | None:
        """Pause every new attempt of the session for a 429's or 503's ``Retry-After``.

        Returns the loop time the session resumes at, or ``None`` for no pause.
        One shared time, extended but never shortened: the other callers stop
        sending into a server that asked for quiet, instead of each learning it
        from a refusal of its own. A wait beyond ``max_retry_after`` is not a
        pause: that call raises, and so will the others.
        """
        if not isinstance(error, APIError):
            return None
        wait = self._pause_seconds(error.status, error.retry_after)
        if wait is None:
            return None
        now = _loop_time()
        until = now + wait
        if until > self._resume_at:
            self._counters.paused_seconds += until - max(self._resume_at, now)
            if self._resume_at <= now:
                logger.info(
                    "pausing the session for %.2fs (Retry-After, HTTP %d)", wait, error.status
                )
            self._limit.paused(now, until)
            self._resume_at = until
        return until

    def _pause_seconds(self, status: int, retry_after: float | None) -> float | None:
        """Seconds an answer pauses the session: a 429/503 ``Retry-After`` within the cap."""
        if status not in RETRY_AFTER_STATUSES or retry_after is None:
            return None
        return retry_after if 0 < retry_after <= self.backoff.max_retry_after else None

    async def _sit_out_pause(self, state: _CallState) -> bool:
        """Wait while the session is paused, unless this call already slept through it.

        Returns whether it waited.
        """
        waited = False
        while True:
            until, now = self._resume_at, _loop_time()
            if until <= state.waited_until or until <= now:
                return waited
            # Once per pause (or extension), not until the clock says so: a test's
            # recording sleep returns at once and never advances the loop's time.
            state.waited_until = until
            await self.backoff.sleep(until - now)
            waited = True

    def _interval(self) -> float:
        """Seconds between sends: the caller's ``rate_limit`` or the adaptive rate, the stricter."""
        paces = self._paces()
        return 1.0 / min(paces) if paces else 0.0

    async def _pace(self, state: _CallState) -> None:
        """Wait for this send's turn under the rate, if there is one.

        A pause that begins while the send waits its turn (a 429 with
        ``Retry-After`` to another call) holds it too: it is sat out, and the
        turn waited for again, so the paced sends do not go out into the pause.
        """
        while self.rate_limit or self._limit.rate is not None:
            await self._throttle.wait()
            if not await self._sit_out_pause(state):
                return

    def _feedback(self, stamp: int, status: int, headers: Mapping[str, str]) -> None:
        """Adapt the window and rate to one answer: a 429 or 503 cuts, other answers grow."""
        before = self._limit.window
        if status in RETRY_AFTER_STATUSES:
            self._counters.throttled += 1
            retry_after = parse_retry_after(headers.get("Retry-After"))
            asked = self._pause_seconds(status, retry_after) is not None
            self._limit.on_throttle(stamp, asked_to_wait=asked)
        elif status < 500:
            self._limit.on_success(stamp)
        after = self._limit.window
        if after != before:
            self._gate.resize(after)
            if after < before:
                logger.debug("concurrency window %d -> %d after HTTP %d", before, after, status)

    async def _attempt(
        self, request: _Request, auth_value: str, attempt: int, state: _CallState
    ) -> Any:
        """Send once, holding the caller's attempt limit and a place in the window throughout."""
        method, shown = request.method, request.shown
        client = self._client()
        middlewares = _middlewares(client, state) if method == "DELETE" else None
        request_id = request.headers.get("Requestid")
        loop = asyncio.get_running_loop()
        await self._sit_out_pause(state)
        extra = attempt_limit.get()
        # Two plain context managers: an exit stack per attempt costs more than the two.
        async with extra if extra is not None else _UNLIMITED, self._gate:
            await self._sit_out_pause(state)  # a pause may have begun while we queued
            await self._pace(state)
            stamp = self._limit.stamp()
            self._counters.attempts += 1
            started = loop.time()
            try:
                async with client.request(
                    method,
                    request.url,
                    params=request.params,
                    data=request.body,
                    headers={**request.headers, "Authorization": auth_value},
                    timeout=self._client_timeout,
                    allow_redirects=False,
                    middlewares=middlewares,
                ) as resp:
                    raw = await resp.read()
                    status, resp_headers = resp.status, resp.headers
            except (TimeoutError, asyncio.TimeoutError):
                state.unanswered += 1
                raise TransportError(
                    f"timed out after {self.timeout:g}s", method=method, path=shown
                ) from None
            except aiohttp.ClientConnectorError as exc:
                # Never connected, so never sent: not an unanswered attempt.
                raise TransportError(
                    f"cannot connect: {type(exc).__name__}", method=method, path=shown
                ) from exc
            except (aiohttp.ClientError, OSError) as exc:
                state.unanswered += 1
                raise TransportError(
                    f"{type(exc).__name__}: {exc}", method=method, path=shown
                ) from exc
            if logger.isEnabledFor(logging.DEBUG):
                elapsed = (loop.time() - started) * 1000
                logger.debug(
                    "%s %s -> %d in %.1f ms (attempt %d)", method, shown, status, elapsed, attempt
                )
            self._feedback(stamp, status, resp_headers)
            waited = loop.time() - started
        if status >= 500:
            state.unanswered += 1
        data = decode_response(
            status,
            resp_headers,
            raw,
            expect=request.expect,
            method=method,
            path=shown,
            request_id=request_id,
        )
        if method == "GET" and waited >= _TURN_AFTER:
            # A turn of the loop before the caller structures a page: the attempts woken by
            # the places just given back send first, so a round's next requests go out while
            # its answers are read, not after all of them. Only after a success: a 429 must
            # start its pause before anyone else sends; only a GET: a POST's or a DELETE's
            # answer, once here, reaches its caller without another chance to be cancelled.
            await asyncio.sleep(0)
        return data


#: Seconds an answer must have taken for its GET to let waiting sends go first: with round
#: trips this long the rounds' latency is what an export waits for; with quicker ones the
#: client's CPU is, and an extra turn of the loop a page only costs it (8% at zero latency).
_TURN_AFTER = 0.01

#: A query key or value that ``urlencode`` leaves as it is.
_PLAIN = re.compile(r"[A-Za-z0-9_.-]+")


@functools.lru_cache(maxsize=64)  # the few keys and dates a client sends, again and again
def _plain(text: str) -> bool:
    return _PLAIN.fullmatch(text) is not None


def _query(params: Mapping[str, str | int]) -> str:
    """``urlencode(params)``; the usual query (page numbers, dates) without its quoting calls."""
    parts = []
    for key, value in params.items():
        if type(key) is not str or not _plain(key):
            return urlencode(params)
        if type(value) is not int and (type(value) is not str or not _plain(value)):
            return urlencode(params)
        parts.append(f"{key}={value}")
    return "&".join(parts)


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


def _request_id(value: str | None) -> str:
    if value is None:
        return str(uuid.uuid4())
    if not isinstance(value, str) or not (0 < len(value) <= 128) or not value.isprintable():
        raise ValidationError(
            "request_id must be 1 to 128 printable characters", field="request_id"
        )
    if not value.isascii():
        raise ValidationError("request_id must be ASCII", field="request_id")
    return value


def _middlewares(client: aiohttp.ClientSession, state: _CallState) -> tuple[Any, ...]:
    """A middleware that sees every send of a DELETE, aiohttp's own silent re-send included.

    aiohttp re-sends an idempotent request once when a kept-alive connection
    drops (RFC 9112 §9.3.1); if the dropped send had already deleted the task,
    the re-send hears "does not exist". Counting each send that got no answer
    lets :meth:`Session._call` tell that apart from a real 404.
    """

    async def count_unanswered(
        req: aiohttp.ClientRequest, handler: Callable[[aiohttp.ClientRequest], Awaitable[Any]]
    ) -> Any:
        try:
            return await handler(req)
        except aiohttp.ClientConnectorError:
            raise
        except BaseException:
            state.unanswered += 1
            raise

    # A per-request list replaces the session's; keep a borrowed session's own middlewares.
    own = tuple(getattr(client, "_middlewares", ()) or ())
    return (*own, count_unanswered)


def _reason(error: Bangwo8Error) -> str:
    """A retry's reason for the log: the error's type and text, which never hold secrets."""
    return f"{type(error).__name__}: {error.message}"
