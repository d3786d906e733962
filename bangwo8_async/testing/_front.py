"""What every request to the fake passes before its handler: the log, an outage, the limits,
faults, latency and jitter."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

from . import _payloads as payloads
from ._endpoints import Endpoints
from ._faults import BAD_GATEWAY, Admission, Fault, FaultScript, Outage
from ._log import LoggedRequest
from ._options import FakeOptions

__all__ = ["Front", "Handler", "drop"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_RESETS = (Fault.RESET_BEFORE, Fault.RESET_AFTER)


class Front:
    """The fake's middleware: logs each request, then turns it away or lets it through, faulty.

    Apart from the endpoints, so that they answer a request and this decides
    whether, when and how badly; it reads the same options they do.
    """

    def __init__(
        self, options: FakeOptions, endpoints: Endpoints, faults: Iterable[Fault | None]
    ) -> None:
        self.options = options
        self.endpoints = endpoints
        self.log: list[LoggedRequest] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self.refused = 0  # 429s sent by rate_limit and max_in_flight
        self.outage = Outage()
        self.faults = FaultScript(faults, options.seed)
        self._admission = Admission()
        self._jitter_rng = random.Random(options.seed + 1)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Log the request, then answer it as the outage, the limits and its fault say."""
        entry = LoggedRequest(
            request.method,
            request.path,
            dict(request.query),
            request_id=request.headers.get("Requestid"),
        )
        self.log.append(entry)
        if self.outage.down(asyncio.get_running_loop().time()):
            return self._down(request, entry)
        call_task_api = request.match_info.route.name is not None
        account = self._account(request) if call_task_api else None
        if account is not None and not self._admit(account):
            self.refused += 1
            entry.status = 429
            after = self.options.limits.limit_retry_after
            headers = {} if after is None else {"Retry-After": f"{after:g}"}
            return self.endpoints.style().response(429, payloads.TOO_MANY, headers)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        self.endpoints.entries[id(request)] = entry
        misbehaviour = self.options.misbehaviour
        try:
            entry.fault = fault = self.faults.pick(
                request, misbehaviour.fault_rate, misbehaviour.fault_kinds
            )
            if misbehaviour.latency:
                await asyncio.sleep(misbehaviour.latency)
            response = await self._faulty(request, handler, fault, call_task_api)
            jitter = self.options.quirks.jitter
            if jitter:  # the data was read above; only the answer is held back
                await asyncio.sleep(self._jitter_rng.uniform(0, jitter))
            entry.status = None if fault in _RESETS else response.status
            return response
        finally:
            self.in_flight -= 1
            del self.endpoints.entries[id(request)]
            if account is not None:
                self._admission.release(account)

    def _account(self, request: web.Request) -> str | None:
        """The account the limits count this request against; ``None`` when there are none."""
        limits = self.options.limits
        if limits.rate_limit is None and limits.max_in_flight is None:
            return None
        return self.endpoints.account_of(request)

    def _admit(self, account: str) -> bool:
        limits = self.options.limits
        return self._admission.admit(
            account,
            asyncio.get_running_loop().time(),
            limits.rate_limit,
            limits.rate_burst,
            limits.max_in_flight,
        )

    def _down(self, request: web.Request, entry: LoggedRequest) -> web.Response:
        """The answer while down: a proxy's error page, or a drop (a keep-alive
        connection that outlived the listening socket)."""
        self.outage.answered += 1
        kind = self.outage.kind
        if kind == "refuse":
            drop(request)
            return web.Response(status=500)
        entry.status = int(kind)
        page = BAD_GATEWAY if kind == "502" else payloads.MAINTENANCE
        return web.Response(status=int(kind), body=page, content_type="text/html")

    async def _faulty(
        self, request: web.Request, handler: Handler, fault: Fault | None, call_task_api: bool
    ) -> web.StreamResponse:
        """The handler's answer, with ``fault`` done to it (or instead of it)."""
        if fault is Fault.RESET_BEFORE:
            drop(request)
            return web.Response(status=500)
        if fault is Fault.SERVER_ERROR:
            return self.endpoints.style().response(500, payloads.SERVER_ERROR)
        if fault is Fault.UNAVAILABLE:
            return web.Response(status=503, body=payloads.MAINTENANCE, content_type="text/html")
        if fault is Fault.HTML_OK:
            return web.Response(status=200, body=payloads.WAF_PAGE, content_type="text/html")
        if fault is Fault.RATE_LIMITED:
            after = self.options.misbehaviour.retry_after
            headers = {"Retry-After": f"{after:g}"}
            return self.endpoints.style().response(429, payloads.TOO_MANY, headers)
        if fault is Fault.SLOW:
            await asyncio.sleep(self.options.misbehaviour.slow_seconds)
        # The sign-in check, once for every call-task endpoint.
        refused = self.endpoints.refused(request) if call_task_api else None
        response = await handler(request) if refused is None else refused
        if fault is Fault.RESET_AFTER:
            drop(request)
        elif fault is Fault.TRUNCATED and isinstance(response, web.Response) and response.body:
            body = bytes(response.body)  # type: ignore[arg-type]
            return web.Response(
                status=response.status,
                body=body[: len(body) // 2],
                headers={"Content-Type": response.headers["Content-Type"]},
            )
        return response


def drop(request: web.Request) -> None:
    """Abort the request's connection: the client sees it reset, with no answer."""
    transport = request.transport
    if transport is not None:
        transport.abort()
