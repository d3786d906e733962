"""An in-process fake of the Bangwo8 call-task API, with state, quirks and faults on demand."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType

import attrs
from aiohttp import web

from ..auth import BasicAuth, ClientCredentials
from . import _payloads as payloads
from ._endpoints import Endpoints
from ._faults import BAD_GATEWAY, RATE_FAULTS, Fault, FaultScript, Limits, Outage
from ._state import FakeState

__all__ = ["RATE_FAULTS", "FakeBangwo8", "FakeState", "Fault", "LoggedRequest"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OnList = Callable[["LoggedRequest", FakeState], None]

_RESETS = (Fault.RESET_BEFORE, Fault.RESET_AFTER)


@attrs.define
class LoggedRequest:
    """One request the fake received. Never holds an ``Authorization`` value."""

    method: str
    path: str
    query: dict[str, str]
    status: int | None = None  # None: the connection was dropped
    fault: Fault | None = None
    request_id: str | None = None


class FakeBangwo8:
    """A Bangwo8 server on ``127.0.0.1``, in this process: ``async with FakeBangwo8() as fake``.

    It serves the five call-task endpoints and the token endpoint with the
    vendor's payloads and quirks (string ids, ``startime``, ``callTaskid``,
    progress labels, ``""`` page links, a delete body that is not JSON, a
    ``Status`` 403 body for a missing task), checks Basic and Bearer auth,
    de-duplicates POSTs by ``Requestid``, and keeps state: create and delete
    change what the lists return.

    Misbehaviour on demand: ``latency`` seconds per request, a ``fault_rate``
    drawn from ``fault_kinds`` (:data:`RATE_FAULTS`), or ``faults``, a script of
    :class:`Fault` (or ``None`` for a normal answer) for the next requests;
    :meth:`inject` scripts faults for matching requests only. ``log`` records
    every request and ``peak_in_flight`` the most handled at once.

    What real PHP servers do, each an option that is also an attribute a test
    may change while the fake serves: ``page_cap``, ``send_count``,
    ``count_excess``, ``clamp_pages``, ``null_lists``, ``omit_empty_list``,
    ``bom``, ``charset``, ``jitter``, ``on_list``, ``insert_every``,
    ``delete_every``; and per-account limits, ``rate_limit`` (``rate_burst``)
    and ``max_in_flight``, answered with 429 (``limit_retry_after``) and
    counted in ``refused``. The README describes each.

    An outage on demand, while it serves: :meth:`outage` takes the server
    down for some seconds, answering 502 or 503 or refusing connections.

    A customer id that is a multiple of 97 is "illegal" to create with: the
    fake rejects it, as the vendor rejects unknown customers.
    """

    def __init__(
        self,
        *,
        tasks: int = 250,
        users_per_task: int = 3,
        seed: int = 0,
        latency: float = 0.0,
        faults: Iterable[Fault | None] = (),
        fault_rate: float = 0.0,
        fault_kinds: Sequence[Fault] = RATE_FAULTS,
        retry_after: float = 1.0,
        slow_seconds: float = 30.0,
        token_ttl: float = 3600.0,
        host: str = "127.0.0.1",
        port: int = 0,
        link_host: str | None = None,
        send_count: bool = True,
        page_cap: int | None = None,
        count_excess: int = 0,
        clamp_pages: bool = False,
        null_lists: bool = False,
        omit_empty_list: bool = False,
        bom: bool = False,
        charset: str | None = None,
        jitter: float = 0.0,
        on_list: OnList | None = None,
        insert_every: int = 0,
        delete_every: int = 0,
        rate_limit: float | None = None,
        rate_burst: float | None = None,
        max_in_flight: int | None = None,
        limit_retry_after: float | None = 1.0,
    ) -> None:
        self.state = FakeState(tasks=tasks, users_per_task=users_per_task, seed=seed)
        self.latency = latency
        self.fault_rate = fault_rate
        self.fault_kinds = tuple(fault_kinds)
        self.retry_after = retry_after
        self.slow_seconds = slow_seconds
        self.token_ttl = token_ttl
        self.host = host
        self.port = port
        self.link_host = link_host
        self.send_count = send_count
        self.page_cap = page_cap
        self.count_excess = count_excess
        self.clamp_pages = clamp_pages
        self.null_lists = null_lists
        self.omit_empty_list = omit_empty_list
        self.bom = bom
        self.charset = charset
        self.jitter = jitter
        self.on_list = on_list
        self.insert_every = insert_every
        self.delete_every = delete_every
        self.rate_limit = rate_limit
        self.rate_burst = rate_burst
        self.max_in_flight = max_in_flight
        self.limit_retry_after = limit_retry_after
        self.log: list[LoggedRequest] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self.refused = 0  # 429s sent by rate_limit and max_in_flight
        self.token_fetches = 0
        self.account = "admin@example.com"
        self.password = secrets.token_urlsafe(12)
        # An agent, not an administrator: signs in, but every call-task endpoint says 403.
        self.agent_account = "agent@example.com"
        self.agent_password = secrets.token_urlsafe(12)
        self.secret_id = "fake-" + secrets.token_hex(4)
        self.secret = secrets.token_urlsafe(16)
        self._endpoints = Endpoints(self)
        self._faults = FaultScript(faults, seed)
        self._limits = Limits()
        self._outage = Outage()
        self._back: asyncio.Task[None] | None = None  # reopens after a "refuse" outage
        self._jitter_rng = random.Random(seed + 1)
        self._tokens = self._endpoints.tokens  # (tests look for leaked tokens here)
        self._runner: web.AppRunner | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> FakeBangwo8:
        """Bind and serve; ``async with`` does this for you."""
        app = web.Application(middlewares=[self._middleware], client_max_size=2**20)
        api = self._endpoints
        app.router.add_route("*", "/api/token.php", api.token)
        # Named routes are the call-task API: signed in, limited per account.
        app.router.add_get("/api/v1/callTask.json", api.task_list, name="list")
        app.router.add_post("/api/v1/callTask.json", api.create, name="create")
        app.router.add_get("/api/v1/callTask/userList/{id}.json", api.users, name="users")
        app.router.add_get("/api/v1/callTask/{id}.json", api.detail, name="detail")
        app.router.add_delete("/api/v1/callTask/{id}.json", api.delete, name="delete")
        app.router.add_route("*", "/{tail:.*}", api.unknown)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=0.25
        )
        await self._runner.setup()
        await self._listen()
        return self

    async def _listen(self) -> None:
        assert self._runner is not None
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        """Stop serving and drop every connection."""
        if self._back is not None:
            self._back.cancel()
            self._back = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBangwo8:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<FakeBangwo8 {self.base_url} tasks={len(self.state)}>"

    # -- what tests use ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The API root, ``http://127.0.0.1:<port>/api/v1``."""
        return f"http://{self.host}:{self.port}/api/v1"

    @property
    def basic_auth(self) -> BasicAuth:
        """Working Basic credentials."""
        return BasicAuth(self.account, self.password)

    @property
    def client_credentials(self) -> ClientCredentials:
        """Working OAuth client credentials (the token URL follows from ``base_url``)."""
        return ClientCredentials(self.secret_id, self.secret)

    def inject(
        self,
        *faults: Fault | None,
        method: str | None = None,
        path: str | None = None,
        query: Mapping[str, str] | None = None,
    ) -> None:
        """Script faults for the next requests matching ``method``, a ``path`` prefix and
        ``query`` values (e.g. ``{"page": "3"}``), one fault per matching request."""
        self._faults.add(faults, method, path, query)

    def expire_tokens(self) -> None:
        """Make every issued token invalid, as if an hour had passed."""
        self._tokens.clear()

    async def outage(self, seconds: float, kind: str = "503") -> None:
        """Go down for ``seconds`` from now, as a server behind a proxy does while it restarts.

        ``kind`` ``"502"`` answers every request at once with nginx's 502 page (its
        upstream is down), ``"503"`` with a 503 maintenance page, both without
        ``Retry-After``, and requests already being handled finish; ``"refuse"``
        stops listening (connections are refused) and drops the open ones with
        their requests, as a process that dies does, then listens again on the
        same port. A new outage replaces the one under way (``outage(0)`` ends
        it). ``outage_answers`` counts the requests turned away.
        """
        loop = asyncio.get_running_loop()
        self._outage.start(loop.time(), seconds, kind)
        if self._runner is None:
            return
        if self._back is not None:  # a new outage replaces a refusing one under way
            self._back.cancel()
            self._back = None
        if kind != "refuse":
            if not self._runner.sites:  # back from refusing
                await self._listen()
            return
        for site in list(self._runner.sites):
            await site.stop()
        server = self._runner.server
        for handler in server.connections if server is not None else ():
            if handler.transport is not None:
                handler.transport.abort()
        self._back = asyncio.create_task(self._reopen(seconds))

    async def _reopen(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        for _ in range(40):  # another socket may hold the port a moment (a client's, say)
            try:
                await self._listen()
                break
            except OSError:
                await asyncio.sleep(0.05)
        else:
            await self._listen()  # the last try: its error is the task's
        self._back = None

    @property
    def outage_answers(self) -> int:
        """Requests answered 502 or 503, or dropped, because the fake was down."""
        return self._outage.answered

    def requests(self, method: str | None = None, path: str | None = None) -> list[LoggedRequest]:
        """The logged requests, optionally only those of ``method`` and a ``path`` prefix."""
        return [
            r
            for r in self.log
            if (method is None or r.method == method) and (path is None or r.path.startswith(path))
        ]

    # -- plumbing ----------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        entry = LoggedRequest(
            request.method,
            request.path,
            dict(request.query),
            request_id=request.headers.get("Requestid"),
        )
        self.log.append(entry)
        if self._outage.down(asyncio.get_running_loop().time()):
            return self._down(request, entry)
        call_task_api = request.match_info.route.name is not None
        limited = self.rate_limit is not None or self.max_in_flight is not None
        account = self._endpoints.account_of(request) if call_task_api and limited else None
        if account is not None and not self._limits.admit(
            account,
            asyncio.get_running_loop().time(),
            self.rate_limit,
            self.rate_burst,
            self.max_in_flight,
        ):
            self.refused += 1
            entry.status = 429
            after = self.limit_retry_after
            headers = {} if after is None else {"Retry-After": f"{after:g}"}
            return self._endpoints.style().response(429, payloads.TOO_MANY, headers)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        self._endpoints.entries[id(request)] = entry
        try:
            entry.fault = fault = self._faults.pick(request, self.fault_rate, self.fault_kinds)
            if self.latency:
                await asyncio.sleep(self.latency)
            response = await self._faulty(request, handler, fault, call_task_api)
            if self.jitter:  # the data was read above; only the answer is held back
                await asyncio.sleep(self._jitter_rng.uniform(0, self.jitter))
            entry.status = None if fault in _RESETS else response.status
            return response
        finally:
            self.in_flight -= 1
            del self._endpoints.entries[id(request)]
            if account is not None:
                self._limits.release(account)

    def _down(self, request: web.Request, entry: LoggedRequest) -> web.Response:
        """The answer while down: a proxy's error page, or a drop (a keep-alive
        connection that outlived the listening socket)."""
        self._outage.answered += 1
        kind = self._outage.kind
        if kind == "refuse":
            _drop(request)
            return web.Response(status=500)
        entry.status = int(kind)
        page = BAD_GATEWAY if kind == "502" else payloads.MAINTENANCE
        return web.Response(status=int(kind), body=page, content_type="text/html")

    async def _faulty(
        self, request: web.Request, handler: Handler, fault: Fault | None, call_task_api: bool
    ) -> web.StreamResponse:
        if fault is Fault.RESET_BEFORE:
            _drop(request)
            return web.Response(status=500)
        if fault is Fault.SERVER_ERROR:
            return self._endpoints.style().response(500, payloads.SERVER_ERROR)
        if fault is Fault.UNAVAILABLE:
            return web.Response(status=503, body=payloads.MAINTENANCE, content_type="text/html")
        if fault is Fault.HTML_OK:
            return web.Response(status=200, body=payloads.WAF_PAGE, content_type="text/html")
        if fault is Fault.RATE_LIMITED:
            return self._endpoints.style().response(
                429, payloads.TOO_MANY, {"Retry-After": f"{self.retry_after:g}"}
            )
        if fault is Fault.SLOW:
            await asyncio.sleep(self.slow_seconds)
        # The sign-in check, once for every call-task endpoint.
        refused = self._endpoints.refused(request) if call_task_api else None
        response = await handler(request) if refused is None else refused
        if fault is Fault.RESET_AFTER:
            _drop(request)
        elif fault is Fault.TRUNCATED and isinstance(response, web.Response) and response.body:
            body = bytes(response.body)  # type: ignore[arg-type]
            return web.Response(
                status=response.status,
                body=body[: len(body) // 2],
                headers={"Content-Type": response.headers["Content-Type"]},
            )
        return response


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()
