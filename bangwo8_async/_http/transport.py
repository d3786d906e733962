"""Sending one attempt: the request as the retry loop holds it, and the aiohttp transport.

The transport is the only part of the session that speaks aiohttp. It sends an
attempt and returns the answer's status, headers and body, or raises
:class:`TransportError` saying where (host:port, method, path) and why.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import aiohttp
import attrs
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .._version import __version__
from ..errors import TransportError
from .response import Expect

__all__ = ["AiohttpTransport", "HttpRequest", "HttpResponse", "Transport"]

_USER_AGENT = f"bangwo8_async/{__version__} aiohttp/{aiohttp.__version__}"


@attrs.frozen
class HttpRequest:
    """One API call as the retry loop sends it, attempt after attempt."""

    method: str
    url: URL
    #: the path and query, for logs and errors
    shown: str
    params: Mapping[str, str | int] | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes | None = None
    expect: Expect = Expect.JSON

    @property
    def where(self) -> str:
        """``host:port`` the request goes to."""
        return f"{self.url.host}:{self.url.port}"


@attrs.frozen
class HttpResponse:
    """An answer: its status, headers and whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @classmethod
    def of(
        cls, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        """An answer with case-insensitive headers, as a server sends them."""
        return cls(status, CIMultiDictProxy(CIMultiDict(headers or {})), body)


class Transport(Protocol):
    """What sends an attempt: aiohttp in the session, a simulated server in tests."""

    async def send(
        self,
        request: HttpRequest,
        headers: Mapping[str, str],
        *,
        timeout: float,
        unanswered: Callable[[], None],
    ) -> HttpResponse:
        """Send ``request`` with ``headers`` (its own and the authorization) and return the
        answer; call ``unanswered`` for every send that may have reached the server without
        an answer coming back; raise :class:`TransportError` when there is no answer."""
        ...

    async def close(self) -> None:
        """Release what the transport holds."""
        ...


class AiohttpTransport:
    """Attempts over an ``aiohttp.ClientSession``: made on first use and closed here, or
    borrowed from the caller and left open."""

    def __init__(self, http_session: aiohttp.ClientSession | None, connections: int) -> None:
        self._http = http_session
        self._owns = http_session is None
        self._connections = connections
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None:
            # Made inside the running loop; sized so that the session's own window,
            # not the connector's queue, is what makes callers wait.
            connector = aiohttp.TCPConnector(limit=self._connections, limit_per_host=0)
            self._http = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": _USER_AGENT}
            )
        return self._http

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return timeout

    async def send(
        self,
        request: HttpRequest,
        headers: Mapping[str, str],
        *,
        timeout: float,
        unanswered: Callable[[], None],
    ) -> HttpResponse:
        client = self._client()
        method = request.method
        middlewares = _count_unanswered(client, unanswered) if method == "DELETE" else None
        try:
            async with client.request(
                method,
                request.url,
                params=request.params,
                data=request.body,
                headers=headers,
                timeout=self._timeout(timeout),
                allow_redirects=False,
                middlewares=middlewares,
            ) as resp:
                return HttpResponse(resp.status, resp.headers, await resp.read())
        except (TimeoutError, asyncio.TimeoutError):
            unanswered()
            raise TransportError(
                f"timed out after {timeout:g}s waiting for {request.where}",
                method=method,
                path=request.shown,
            ) from None
        except aiohttp.ClientConnectorError as exc:
            # Never connected, so never sent: not an unanswered attempt.
            raise TransportError(
                f"cannot connect to {request.where}: {_reason(exc)}",
                method=method,
                path=request.shown,
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            unanswered()
            raise TransportError(
                f"connection to {request.where} failed: {_reason(exc)}",
                method=method,
                path=request.shown,
            ) from exc

    async def close(self) -> None:
        if self._owns and self._http is not None:
            await self._http.close()


def _reason(exc: BaseException) -> str:
    """Why a connection failed, in plain words: the OS's reason where there is one."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, socket.gaierror) and cause.strerror:
            return cause.strerror.lower()  # "name or service not known"
        if isinstance(cause, OSError) and cause.errno and cause.errno > 0:
            return os.strerror(cause.errno).lower()  # "connection refused", by errno
        cause = cause.__cause__ or getattr(cause, "os_error", None)
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _count_unanswered(
    client: aiohttp.ClientSession, unanswered: Callable[[], None]
) -> tuple[Any, ...]:
    """A middleware that sees every send of a DELETE, aiohttp's own silent re-send included.

    aiohttp re-sends an idempotent request once when a kept-alive connection
    drops (RFC 9112 §9.3.1); if the dropped send had already deleted the task,
    the re-send hears "does not exist". Counting each send that got no answer
    lets the retry loop tell that apart from a real 404.
    """

    async def count(
        req: aiohttp.ClientRequest, handler: Callable[[aiohttp.ClientRequest], Awaitable[Any]]
    ) -> Any:
        try:
            return await handler(req)
        except aiohttp.ClientConnectorError:
            raise
        except BaseException:
            unanswered()
            raise

    # A per-request list replaces the session's; keep a borrowed session's own middlewares.
    own = tuple(getattr(client, "_middlewares", ()) or ())
    return (*own, count)
