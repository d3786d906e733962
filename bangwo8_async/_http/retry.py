"""The retry loop: attempt, read the answer, back off, until success or giving up."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from ..backoff import RETRY_AFTER_STATUSES, Backoff
from ..errors import APIError, Bangwo8Error, NotFoundError, TransportError
from .flow.control import Outcome
from .flow.runtime import Flow, Waits
from .response import decode_response, parse_retry_after
from .transport import HttpRequest, HttpResponse, Transport

__all__ = ["Counters", "Retrier", "attempt_limit"]

logger = logging.getLogger("bangwo8_async")

#: An extra limit on attempts in flight for the calls made in this context (the
#: paging engine sets it per iterator). An attempt holds it, then a place in the
#: session's window, for that attempt only, never across a backoff sleep.
attempt_limit: contextvars.ContextVar[asyncio.Semaphore | None] = contextvars.ContextVar(
    "bangwo8_async_attempt_limit", default=None
)

#: What an attempt holds when its context sets no :data:`attempt_limit`.
_UNLIMITED: contextlib.nullcontext[None] = contextlib.nullcontext()

#: Seconds an answer must have taken for its GET to let waiting sends go first: with round
#: trips this long the rounds' latency is what an export waits for; with quicker ones the
#: client's CPU is, and an extra turn of the loop a page only costs it.
_TURN_AFTER = 0.01

#: Given the authorization value a 401 answered, renew it; whether a retry may help.
Renew = Callable[[str], bool]


@attrs.define
class Counters:
    """What the session has sent so far."""

    attempts: int = 0
    retries: int = 0
    throttled: int = 0


class _Call:
    """What one call has seen across its attempts (and aiohttp's own re-sends)."""

    __slots__ = ("paused_until", "unanswered", "waits")

    def __init__(self) -> None:
        self.unanswered = 0
        self.waits = Waits()
        #: the session pause the last attempt's answer began, if it began one
        self.paused_until: float | None = None

    def lost(self) -> None:
        self.unanswered += 1


@attrs.define
class Retrier:
    """Sends a request through the flow control and the transport, retrying as ``backoff``
    says, up to ``max_retries`` times."""

    transport: Transport
    flow: Flow
    backoff: Backoff
    timeout: float
    max_retries: int
    counters: Counters = attrs.field(factory=Counters)

    async def call(
        self, request: HttpRequest, authorization: Callable[[], Awaitable[str]], renew: Renew
    ) -> Any:
        """Attempt a call until it succeeds, fails for good, or runs out of retries."""
        method, shown = request.method, request.shown
        call = _Call()
        attempt = retries = 0
        renewed = False
        while True:
            attempt += 1
            auth_value = await authorization()
            error: Bangwo8Error
            try:
                return await self._attempt(request, auth_value, attempt, call)
            except Bangwo8Error as exc:
                error = exc
            if isinstance(error, TransportError):  # no status line to log: say what happened
                logger.debug("%s %s -> %s (attempt %d)", method, shown, error.message, attempt)
            if not renewed and _refused_token(error) and renew(auth_value):
                renewed = True  # the token may have been revoked or expired early
                self.counters.retries += 1
                logger.info("%s %s: token refused (401), renewing it", method, shown)
                continue
            if method == "DELETE" and isinstance(error, NotFoundError) and call.unanswered:
                logger.debug(
                    "%s %s: gone after an unanswered attempt, so that attempt deleted it",
                    method,
                    shown,
                )
                return None
            delay = self.backoff.delay(error, retries) if retries < self.max_retries else None
            if delay is None:
                error.attempts = attempt
                raise error
            retries += 1
            self.counters.retries += 1
            logger.info(
                "%s %s: retry %d of %d in %.2fs after %s",
                method,
                shown,
                retries,
                self.max_retries,
                delay,
                f"{type(error).__name__}: {error.message}",
            )
            told = isinstance(error, APIError) and error.retry_after is not None
            await self.flow.backoff(delay, retry_after=told)
            if call.paused_until is not None:
                call.waits.waited_until = call.paused_until  # this sleep sat the pause out
                call.paused_until = None

    async def _attempt(
        self, request: HttpRequest, auth_value: str, attempt: int, call: _Call
    ) -> Any:
        """Send once, holding the caller's attempt limit and a place in the window throughout."""
        headers = {**request.headers, "Authorization": auth_value}
        loop = asyncio.get_running_loop()
        extra = attempt_limit.get()
        # Two plain context managers: an exit stack per attempt costs more than the two.
        async with extra if extra is not None else _UNLIMITED:
            ticket = await self.flow.enter(call.waits)
            outcome: Outcome | None = None
            retry_after: float | None = None
            try:
                self.counters.attempts += 1
                started = loop.time()
                try:
                    response = await self.transport.send(
                        request, headers, timeout=self.timeout, unanswered=call.lost
                    )
                except TransportError:
                    outcome = Outcome.FAILED
                    raise
                outcome, retry_after = self._read(response)
                waited = loop.time() - started
                if logger.isEnabledFor(logging.DEBUG):
                    logger.debug(
                        "%s %s -> %d in %.1f ms (attempt %d)",
                        request.method,
                        request.shown,
                        response.status,
                        waited * 1000,
                        attempt,
                    )
            finally:
                call.paused_until = self.flow.leave(ticket, outcome, retry_after)
        status = response.status
        if status >= 500:
            call.unanswered += 1
        data = decode_response(
            status,
            response.headers,
            response.body,
            expect=request.expect,
            method=request.method,
            path=request.shown,
            request_id=request.headers.get("Requestid"),
        )
        if request.method == "GET" and waited >= _TURN_AFTER:
            # A turn of the loop before the caller structures a page: the attempts woken by
            # the places just given back send first, so a round's next requests go out while
            # its answers are read, not after all of them. Only after a success: a 429 must
            # start its pause before anyone else sends; only a GET: a POST's or a DELETE's
            # answer, once here, reaches its caller without another chance to be cancelled.
            await asyncio.sleep(0)
        return data

    def _read(self, response: HttpResponse) -> tuple[Outcome, float | None]:
        """How the server took the attempt, and the ``Retry-After`` it asked for, if honoured."""
        status = response.status
        if status in RETRY_AFTER_STATUSES:
            self.counters.throttled += 1
            wait = parse_retry_after(response.headers.get("Retry-After"))
            honoured = wait is not None and 0 < wait <= self.backoff.max_retry_after
            return Outcome.REFUSED, wait if honoured else None
        return (Outcome.FAILED if status >= 500 else Outcome.OK), None


def _refused_token(error: Bangwo8Error) -> bool:
    return isinstance(error, APIError) and error.status == 401
