"""The async session: credentials, options, and the send chain they start.

Every endpoint function and iterator sends through :meth:`Session.request`:
the session builds the request, the retrier (:mod:`.retry`) attempts it through
the flow control (:mod:`.flow`) and the transport (:mod:`.transport`), and the
answer is decoded by :mod:`.response`.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import aiohttp
import attrs
import orjson
from yarl import URL

from .._validate import check_base_url, check_flag, check_number, check_type
from ..auth import (
    Auth,
    BasicAuth,
    ClientCredentials,
    TokenCache,
    basic_header,
    resolve_credentials,
)
from ..backoff import Backoff
from ..errors import DecodeError, ValidationError
from .flow.runtime import Flow
from .response import Expect
from .retry import Retrier, attempt_limit
from .transport import AiohttpTransport, HttpRequest, Transport

__all__ = ["DEFAULT_BASE_URL", "Session", "SessionStats", "attempt_limit", "check_base_url"]

#: Where the vendor serves the API.
DEFAULT_BASE_URL = "https://www.bangwo8.com/api/v1"

logger = logging.getLogger("bangwo8_async")
# A library never configures logging; without this, Python's last-resort handler
# would print our records on stderr of a script that never set logging up.
logger.addHandler(logging.NullHandler())


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


class Session:
    """An authenticated connection to the Bangwo8 API; ``async with`` it.

    ``timeout`` is seconds for one attempt, ``max_retries`` the retries after
    the first attempt, ``max_concurrency`` the most requests in flight for the
    whole session (every call and iterator shares it), ``rate_limit`` attempts
    per second (``None``: unlimited). ``http_session`` borrows the caller's
    ``aiohttp.ClientSession``, which this session then never closes;
    ``transport`` sends the attempts instead of aiohttp (a simulated server in
    tests: see :mod:`bangwo8_async.testing.simulator`).

    ``adaptive=True`` finds the server's limit, whichever kind it is: a limit on
    requests in flight holds the window (:attr:`concurrency`) at it, a limit on
    requests a second paces the sends just below it (``stats.rate``); random
    refusals cut nothing for long. A ``Retry-After`` is honoured by the request
    that got it, and pauses the whole session only where the refusals are a limit
    that no cut holds yet. Once the server answers again after an outage, the
    requests sleeping in their backoff are retried at once.
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
        transport: Transport | None = None,
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
        _check_transport(transport, http_session)

        self.auth = auth
        self.base_url = str(self._base).rstrip("/")
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.max_concurrency = max_concurrency
        self.rate_limit = rate_limit
        self.adaptive = adaptive
        self.backoff = backoff or Backoff()
        self._closed = False
        self._transport = transport or AiohttpTransport(http_session, max_concurrency)
        self._flow = Flow(
            max_concurrency, adaptive=adaptive, rate_limit=rate_limit, sleep=self.backoff.sleep
        )
        self._retrier = Retrier(
            self._transport, self._flow, self.backoff, self.timeout, max_retries
        )
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
        return self._flow.control.window

    @property
    def stats(self) -> SessionStats:
        """A frozen snapshot of the attempts, retries, throttled answers, window and pauses."""
        counters = self._retrier.counters
        return SessionStats(
            attempts=counters.attempts,
            retries=counters.retries,
            throttled=counters.throttled,
            window=self._flow.control.window,
            paused_seconds=self._flow.paused_seconds,
            rate=self._flow.rate,
        )

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
        self._flow.close()
        await self._transport.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

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
        if self._closed:
            raise RuntimeError("this Session is closed")
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
        request = HttpRequest(method, self.url(path), shown, params, headers, body, expect)
        return await self._retrier.call(request, self._authorization, self._renew)

    async def _authorization(self) -> str:
        if self._tokens is not None:
            return await self._tokens.header()
        return self._basic

    def _renew(self, refused: str) -> bool:
        """A 401 to ``refused``: drop the token so the next attempt fetches a new one."""
        if self._tokens is None or not refused.startswith("Bearer "):
            return False
        self._tokens.invalidate(refused)
        return True

    async def _fetch_token(self) -> tuple[str, float]:
        async def secret() -> str:
            return self._token_auth

        request = HttpRequest(
            "POST",
            self._token_url,
            self._token_url.path,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=b"grant_type=client_credentials",
        )
        data = await self._retrier.call(request, secret, lambda _: False)
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


def _check_transport(transport: Any, http_session: Any) -> None:
    if transport is None:
        return
    if http_session is not None:
        raise ValidationError(
            "give http_session or transport, not both: the transport sends every attempt",
            field="transport",
        )
    if not (
        callable(getattr(transport, "send", None)) and callable(getattr(transport, "close", None))
    ):
        raise ValidationError(
            "transport must have async send() and close() methods", field="transport"
        )


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
