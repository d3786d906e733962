"""An in-process fake of the Bangwo8 call-task API, with state, quirks and faults on demand."""

from __future__ import annotations

import asyncio
import base64
import enum
import random
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import date
from types import TracebackType
from urllib.parse import urlencode

import attrs
import orjson
from aiohttp import web

from .._validate import MAX_PER_PAGE
from ..auth import BasicAuth, ClientCredentials
from ._data import (
    FIRST_TASK_ID,
    TaskRecord,
    customer_item,
    seeded_customers,
    seeded_task,
)

__all__ = ["FakeBangwo8", "FakeState", "Fault", "LoggedRequest"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_NOT_FOUND_BODY = orjson.dumps({"Status": "403", "message": "callTaskId does not exist"})
_BAD_URI = orjson.dumps({"errcode": "100047", "errmsg": "Invalid resource URI"})
_UNAUTHORIZED = orjson.dumps({"errcode": "40001", "errmsg": "Authentication failed"})
_NOT_ADMIN = orjson.dumps({"errcode": "40003", "errmsg": "Permission denied: administrators only"})
_MAINTENANCE = (
    b"<html><head><title>503 Service Unavailable</title></head><body>"
    b"<h1>Service Unavailable</h1><p>The server is down for maintenance.</p></body></html>"
)


class Fault(str, enum.Enum):
    """A way for one request to go wrong."""

    SERVER_ERROR = "500"  # HTTP 500 with an errcode body
    UNAVAILABLE = "503"  # HTTP 503 with a proxy's HTML page
    RATE_LIMITED = "429"  # HTTP 429 with Retry-After
    RESET_BEFORE = "reset-before"  # connection dropped before the handler runs
    RESET_AFTER = "reset-after"  # the handler ran (work done), then the answer is lost
    TRUNCATED = "truncated"  # HTTP 200 whose JSON body is cut short
    SLOW = "slow"  # answers only after ``slow_seconds``: longer than a client timeout


#: The faults a ``fault_rate`` draws from: every kind but SLOW, which would only add waiting.
RATE_FAULTS: tuple[Fault, ...] = tuple(f for f in Fault if f is not Fault.SLOW)


@attrs.define
class LoggedRequest:
    """One request the fake received. Never holds an ``Authorization`` value."""

    method: str
    path: str
    query: dict[str, str]
    status: int | None = None  # None: the connection was dropped
    fault: Fault | None = None
    request_id: str | None = None


@attrs.define
class _Scripted:
    fault: Fault | None
    method: str | None = None
    path: str | None = None
    query: Mapping[str, str] | None = None

    def matches(self, request: web.Request) -> bool:
        return (
            (self.method is None or request.method == self.method)
            and (self.path is None or request.path.startswith(self.path))
            and (self.query is None or all(request.query.get(k) == v
                                           for k, v in self.query.items()))
        )


class FakeState:
    """The fake's data: the tasks in list order and each task's customers."""

    def __init__(self, *, tasks: int, users_per_task: int, seed: int) -> None:
        self.seed = seed
        self.users_per_task = users_per_task
        self._seeded_total = tasks
        self.order: list[int] = list(range(FIRST_TASK_ID, FIRST_TASK_ID + tasks))
        self._alive = set(self.order)
        self._records: dict[int, TaskRecord] = {}
        self._next_id = FIRST_TASK_ID + tasks
        self.version = 0  # bumped by every change, so cached pages go stale
        self._filtered: dict[tuple[str | None, str | None], tuple[int, list[int]]] = {}

    def __len__(self) -> int:
        return len(self.order)

    def __contains__(self, call_task_id: object) -> bool:
        return call_task_id in self._alive

    def task(self, call_task_id: int) -> TaskRecord | None:
        """The task with this id, or ``None`` if there is none (any more)."""
        if call_task_id not in self._alive:
            return None
        record = self._records.get(call_task_id)
        if record is None:
            index = call_task_id - FIRST_TASK_ID
            record = seeded_task(self.seed, index, self._seeded_total)
        return record

    def customers(self, record: TaskRecord) -> Sequence[int]:
        """The task's customer ids: those it was created with, or its seeded ones."""
        if record.customers is not None:
            return record.customers
        return seeded_customers(record, self.users_per_task)

    def add_task(self, record: TaskRecord, *, front: bool = False) -> None:
        self._records[record.call_task_id] = record
        self._alive.add(record.call_task_id)
        if front:
            self.order.insert(0, record.call_task_id)
        else:
            self.order.append(record.call_task_id)
        self.version += 1

    def add_tasks(self, count: int, *, front: bool = False) -> list[int]:
        """Add ``count`` new tasks (at the front, as newest-first lists do, or the end)."""
        ids = []
        for _ in range(count):
            call_task_id = self.new_id()
            record = seeded_task(self.seed, call_task_id - FIRST_TASK_ID, self._seeded_total)
            record.call_task_id = call_task_id
            record.customers = list(self.customers(record))
            self.add_task(record, front=front)
            ids.append(call_task_id)
        return ids

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def delete(self, call_task_id: int) -> bool:
        """Delete a task; ``False`` if it did not exist."""
        if call_task_id not in self._alive:
            return False
        self._alive.discard(call_task_id)
        self.order.remove(call_task_id)
        self._records.pop(call_task_id, None)
        self.version += 1
        return True

    def listing(self, start: str | None, end: str | None) -> list[int]:
        """Task ids in list order, filtered by created date (inclusive); cached per filter."""
        if start is None and end is None:
            return self.order
        cached = self._filtered.get((start, end))
        if cached is not None and cached[0] == self.version:
            return cached[1]
        lo = date.fromisoformat(start) if start else date.min
        hi = date.fromisoformat(end) if end else date.max
        ids = []
        for call_task_id in self.order:
            record = self.task(call_task_id)
            if record is not None and lo <= record.created <= hi:
                ids.append(call_task_id)
        self._filtered[(start, end)] = (self.version, ids)
        return ids


class FakeBangwo8:
    """A Bangwo8 server on ``127.0.0.1``, in this process: ``async with FakeBangwo8() as fake``.

    It serves the five call-task endpoints and the token endpoint with the
    vendor's payloads and quirks (string ids, ``startime``, ``callTaskid``,
    progress labels, ``""`` page links, a delete body that is not JSON, a
    ``Status`` 403 body for a missing task), checks Basic and Bearer auth,
    de-duplicates POSTs by ``Requestid``, and keeps state: create and delete
    change what the lists return.

    Misbehaviour on demand: ``latency`` seconds per request, a ``fault_rate``
    drawn from :data:`RATE_FAULTS`, or ``faults``, a script of
    :class:`Fault` (or ``None`` for a normal answer) for the next requests;
    :meth:`inject` scripts faults for matching requests only. ``log`` records
    every request and ``peak_in_flight`` the most handled at once.
    ``send_count=False`` leaves ``count`` out of list pages, as some servers do.

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
        self.log: list[LoggedRequest] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self.account = "admin@example.com"
        self.password = secrets.token_urlsafe(12)
        # An agent, not an administrator: signs in, but every call-task endpoint says 403.
        self.agent_account = "agent@example.com"
        self.agent_password = secrets.token_urlsafe(12)
        self.secret_id = "fake-" + secrets.token_hex(4)
        self.secret = secrets.token_urlsafe(16)
        self._script: deque[_Scripted] = deque(_Scripted(f) for f in faults)
        self._rng = random.Random(seed)
        self._tokens: dict[str, float] = {}
        self._request_ids: dict[str, tuple[int, bytes]] = {}
        self._pages: dict[tuple[object, ...], bytes] = {}
        self._runner: web.AppRunner | None = None
        self.token_fetches = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> FakeBangwo8:
        """Bind and serve; ``async with`` does this for you."""
        app = web.Application(middlewares=[self._middleware], client_max_size=2**20)
        app.router.add_route("*", "/api/token.php", self._token)
        app.router.add_get("/api/v1/callTask.json", self._list)
        app.router.add_post("/api/v1/callTask.json", self._create)
        app.router.add_get("/api/v1/callTask/userList/{id}.json", self._users)
        app.router.add_get("/api/v1/callTask/{id}.json", self._detail)
        app.router.add_delete("/api/v1/callTask/{id}.json", self._delete)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=0.25
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        """Stop serving and drop every connection."""
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
        for fault in faults:
            self._script.append(_Scripted(fault, method, path, query))

    def expire_tokens(self) -> None:
        """Make every issued token invalid, as if an hour had passed."""
        self._tokens.clear()

    def requests(self, method: str | None = None, path: str | None = None) -> list[LoggedRequest]:
        """The logged requests, optionally only those of ``method`` and a ``path`` prefix."""
        return [
            r
            for r in self.log
            if (method is None or r.method == method) and (path is None or r.path.startswith(path))
        ]

    # -- plumbing ----------------------------------------------------------------------------

    def _pick_fault(self, request: web.Request) -> Fault | None:
        for i, scripted in enumerate(self._script):
            if scripted.matches(request):
                del self._script[i]
                return scripted.fault
        if self.fault_rate and self._rng.random() < self.fault_rate:
            return self._rng.choice(self.fault_kinds)
        return None

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        entry = LoggedRequest(
            request.method,
            request.path,
            dict(request.query),
            request_id=request.headers.get("Requestid"),
        )
        self.log.append(entry)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            entry.fault = fault = self._pick_fault(request)
            if self.latency:
                await asyncio.sleep(self.latency)
            response = await self._faulty(request, handler, fault)
            entry.status = None if fault in (Fault.RESET_BEFORE, Fault.RESET_AFTER) else (
                response.status
            )
            return response
        finally:
            self.in_flight -= 1

    async def _faulty(
        self, request: web.Request, handler: Handler, fault: Fault | None
    ) -> web.StreamResponse:
        if fault is Fault.RESET_BEFORE:
            _drop(request)
            return web.Response(status=500)
        if fault is Fault.SERVER_ERROR:
            return _json(500, orjson.dumps({"errcode": "500", "errmsg": "Internal Server Error"}))
        if fault is Fault.UNAVAILABLE:
            return web.Response(status=503, body=_MAINTENANCE, content_type="text/html")
        if fault is Fault.RATE_LIMITED:
            return web.Response(
                status=429,
                body=orjson.dumps({"errcode": "429", "errmsg": "Too Many Requests"}),
                content_type="application/json",
                headers={"Retry-After": f"{self.retry_after:g}"},
            )
        if fault is Fault.SLOW:
            await asyncio.sleep(self.slow_seconds)
        response = await handler(request)
        if fault is Fault.RESET_AFTER:
            _drop(request)
        elif fault is Fault.TRUNCATED and isinstance(response, web.Response) and response.body:
            body = bytes(response.body)  # type: ignore[arg-type]
            return web.Response(
                status=response.status, body=body[: len(body) // 2],
                content_type="application/json",
            )
        return response

    def _refused(self, request: web.Request) -> web.Response | None:
        """The 401 or 403 answer for a caller who may not use the call-task API, else None."""
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            expiry = self._tokens.get(header[7:])
            if expiry is not None and asyncio.get_running_loop().time() < expiry:
                return None
            return _json(401, _UNAUTHORIZED)
        user = _basic(header)
        if user == (self.account, self.password):
            return None
        if user == (self.agent_account, self.agent_password):
            return _json(403, _NOT_ADMIN)
        return _json(401, _UNAUTHORIZED)

    def _link(self, request: web.Request, page: int) -> str:
        query = {k: v for k, v in request.query.items() if k != "page"}
        query["page"] = str(page)
        host = self.link_host or f"{self.host}:{self.port}"
        return f"http://{host}{request.path}?{urlencode(query)}"

    # -- endpoints ---------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        if request.method != "POST":
            return _json(400, orjson.dumps({
                "error": "invalid_request",
                "error_description": "The request method must be POST when requesting a token",
            }))
        form = await request.post()
        if _basic(request.headers.get("Authorization", "")) != (self.secret_id, self.secret):
            return _json(401, orjson.dumps({
                "error": "invalid_client",
                "error_description": "The client credentials are invalid",
            }))
        if form.get("grant_type") != "client_credentials":
            return _json(400, orjson.dumps({
                "error": "unsupported_grant_type",
                "error_description": "The grant type was not recognized",
            }))
        self.token_fetches += 1
        token = secrets.token_hex(20)
        self._tokens[token] = asyncio.get_running_loop().time() + self.token_ttl
        return _json(200, orjson.dumps({
            "access_token": token,
            # Whole seconds as the vendor sends; a fraction only when a test asks for one.
            "expires_in": int(self.token_ttl) if self.token_ttl >= 1 else self.token_ttl,
            "token_type": "Bearer",
            "scope": None,
        }))

    async def _list(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        # Rendering a page costs more than sending it; a page is the same until the state
        # changes, so keep the body, and the fake never slows the client it measures.
        key = (self.state.version, self.send_count, self.link_host, request.query_string)
        body = self._pages.get(key)
        if body is None:
            response = self._render_list(request)
            if response.status != 200:
                return response
            if len(self._pages) >= 4096:
                self._pages.clear()
            body = self._pages[key] = bytes(response.body)  # type: ignore[arg-type]
        return _json(200, body)

    def _render_list(self, request: web.Request) -> web.Response:
        paging = _paging(request)
        if paging is None:
            return _json(400, orjson.dumps({"errcode": "100001", "errmsg": "Invalid page"}))
        page, per_page = paging
        ids = self.state.listing(request.query.get("created_start"),
                                 request.query.get("created_end"))
        chunk = ids[(page - 1) * per_page : page * per_page]
        items = []
        for call_task_id in chunk:
            record = self.state.task(call_task_id)
            if record is not None:
                items.append(record.list_item())
        last = -(-len(ids) // per_page)
        payload: dict[str, object] = {"callTask": items, "count": len(ids)}
        if not self.send_count:
            del payload["count"]
        payload["next_page"] = self._link(request, page + 1) if page < last else None
        payload["previous_page"] = self._link(request, page - 1) if page > 1 else None
        return _json(200, orjson.dumps(payload))

    async def _detail(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        record = self._task_of(request)
        if record is None:
            return _json(403, _NOT_FOUND_BODY)
        customers = self.state.customers(record)
        done = len(customers) // 2
        return _json(200, orjson.dumps({
            "callTask": {
                "callTaskId": str(record.call_task_id),
                "task_name": record.task_name,
                "startime": record.task_start,
                "task_end": record.task_end,
                "complete": record.complete,
                "task_service": str(record.agent_id),
                "phoneCount": str(len(customers)),
                "completeCount": str(done),
                "connectCount": str(max(0, done - 1)),
            }
        }))

    async def _users(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        record = self._task_of(request)
        if record is None:
            return _json(403, _NOT_FOUND_BODY)
        paging = _paging(request)
        if paging is None:
            return _json(400, orjson.dumps({"errcode": "100001", "errmsg": "Invalid page"}))
        page, per_page = paging
        customers = self.state.customers(record)
        chunk = customers[(page - 1) * per_page : page * per_page]
        seed = self.state.seed
        payload: dict[str, object] = {
            "callTask": [customer_item(seed, record, c) for c in chunk],
            "count": str(len(customers)),
            "previous_page": "",
            "next_page": "",
        }
        if not self.send_count:
            del payload["count"]
        return _json(200, orjson.dumps(payload))

    async def _create(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        request_id = request.headers.get("Requestid")
        if request_id and request_id in self._request_ids:
            status, body = self._request_ids[request_id]
            return _json(status, body)
        status, body = self._create_task(await request.read())
        if request_id:
            self._request_ids[request_id] = (status, body)
        return _json(status, body)

    def _create_task(self, raw: bytes) -> tuple[int, bytes]:
        try:
            spec = orjson.loads(raw)["callTask"]
            name, start, end = spec["task_name"], spec["task_start"], spec["task_end"]
            users = [int(u) for u in spec["task_user"]]
            agents = [int(a) for a in spec["task_service"]]
            source = spec["data_source"]
            if not (name and users and agents and source in ("0", "1")):
                raise ValueError
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return 400, orjson.dumps({"errcode": "100002", "errmsg": "Invalid parameters"})
        legal = [u for u in users if u % 97]
        illegal = [u for u in users if not u % 97]
        call_task_id = self.state.new_id()
        record = TaskRecord(
            call_task_id=call_task_id, task_name=str(name), task_start=str(start),
            task_end=str(end), complete="进行中", agent_id=agents[0],
            created=date.today(), customers=legal, data_source=source,
        )
        self.state.add_task(record)
        shares: list[list[int]] = [[] for _ in agents]
        for i, user in enumerate(legal):
            shares[i % len(agents)].append(user)
        data = [
            {"callTaskId": str(call_task_id), "task_user": share, "task_service": str(agent)}
            for agent, share in zip(agents, shares, strict=False) if share
        ]
        return 200, orjson.dumps({
            "callTask": {
                "task_name": name,
                "task_start": start,
                "task_end": end,
                "legalCount": len(legal),
                "illegalCount": illegal,
                "successCount": len(legal),
                "failureCount": str(len(illegal)),
                "data": data,
            }
        })

    async def _delete(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        record = self._task_of(request)
        if record is None or not self.state.delete(record.call_task_id):
            return _json(200, _NOT_FOUND_BODY)  # the vendor's HTTP 200 carrying "Status": "403"
        # The vendor's success body, which is not valid JSON.
        body = f'{{\n    "Status": 200 OK,\n    "callTaskId": "{record.call_task_id}"\n}}'
        return _json(200, body.encode())

    async def _unknown(self, request: web.Request) -> web.Response:
        return _json(404, _BAD_URI)

    def _task_of(self, request: web.Request) -> TaskRecord | None:
        raw = request.match_info["id"]
        return self.state.task(int(raw)) if raw.isdigit() else None


def _json(status: int, body: bytes) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/json")


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


def _basic(header: str) -> tuple[str, str] | None:
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password


def _paging(request: web.Request) -> tuple[int, int] | None:
    page = request.query.get("page", "1")
    per_page = request.query.get("per_page", "100")
    if not (page.isdigit() and per_page.isdigit()) or int(page) < 1 or int(per_page) < 1:
        return None
    return int(page), min(int(per_page), MAX_PER_PAGE)

