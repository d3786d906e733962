"""Servers simulated on a virtual clock: seconds of traffic against a limit in milliseconds.

A :class:`SimulatedServer` is a session's transport (``bw.Session(...,
transport=server)``) that answers the task and customer lists as the fake does,
behind the limits a real deployment puts in front of them: a token bucket per
second, a cap on requests in flight, random faults, an outage. Run on a
:class:`VirtualClockLoop`, every sleep (latency, backoff, pacing, pauses) takes
no real time, and the same seed gives the same run, so flow control can be
measured exactly, in tests, without a timed test::

    server = SimulatedServer(Limits(rate=50, burst=3), tasks=1_000)

    async def main() -> None:
        async with bw.Session(AUTH, base_url=SIMULATED_URL, transport=server) as s:
            ...

    run_virtual(main())
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import selectors
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

import attrs
from yarl import URL

from .._http.response import decode_response
from .._http.session import Session
from .._http.transport import HttpRequest, HttpResponse
from ..auth import BasicAuth
from ..backoff import Backoff
from ..call_tasks import list_call_tasks
from ..errors import Bangwo8Error, TransportError
from ..paging import iter_all_task_users, iter_call_tasks
from ._payloads import MAINTENANCE, SERVER_ERROR, TOO_MANY, PageOptions, paging
from ._state import FakeState

__all__ = [
    "SIMULATED_URL",
    "CallerRun",
    "Limits",
    "SimulatedServer",
    "VirtualClockLoop",
    "gather",
    "run_callers",
    "run_export",
    "run_gather",
    "run_virtual",
]

T = TypeVar("T")

#: A base URL for a session whose transport is a :class:`SimulatedServer`.
SIMULATED_URL = "http://127.0.0.1/api/v1"

_BAD_GATEWAY = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
_JSON = {"Content-Type": "application/json"}
_HTML = {"Content-Type": "text/html"}


class _VirtualSelector(selectors.BaseSelector):
    """A selector that, when nothing is ready, moves its loop's clock to the next timer."""

    def __init__(self, loop: VirtualClockLoop) -> None:
        self._real = selectors.DefaultSelector()
        self._loop = loop

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            raise RuntimeError("the simulation is stuck: every task waits and no timer is set")
        self._loop.now += timeout
        return []

    def close(self) -> None:
        self._real.close()

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._real.get_map()


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock jumps to the next timer instead of waiting for it.

    For code that does no real I/O (a session over a :class:`SimulatedServer`):
    a socket would never be waited for.
    """

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(_VirtualSelector(self))

    def time(self) -> float:
        return self.now


def run_virtual(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to the end on a new :class:`VirtualClockLoop`."""
    loop = VirtualClockLoop()
    try:
        return loop.run_until_complete(main)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


@attrs.define
class Limits:
    """What stands between the callers and the API: change any of it while a run goes on."""

    #: seconds an accepted request takes, times ``uniform(1 - jitter, 1 + jitter)``
    latency: float = 0.02
    jitter: float = 0.0
    #: a token bucket: ``rate`` tokens a second, at most ``burst`` saved (``None``: no limit)
    rate: float | None = None
    burst: float = 1.0
    #: requests served at once; more are refused at once (``None``: no cap)
    max_in_flight: int | None = None
    #: how a limit refuses: its status, and the ``Retry-After`` it sends (``None``: none)
    limit_status: int = 429
    limit_retry_after: float | None = None
    #: the share of requests the limit let in that fail at random, and how
    noise: float = 0.0
    noise_kinds: tuple[str, ...] = ("500", "503", "429", "reset")
    noise_retry_after: float | None = 0.05


@attrs.define
class _Outage:
    start: float
    end: float
    kind: str  # "502", "503" or "refuse"


class SimulatedServer:
    """A transport that serves the task and customer lists behind :class:`Limits`."""

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        tasks: int = 100,
        users_per_task: int = 5,
        seed: int = 0,
    ) -> None:
        self.limits = limits or Limits()
        self.state = FakeState(tasks=tasks, users_per_task=users_per_task, seed=seed)
        self.seed = seed
        self.rng = random.Random(seed)
        #: requests received, refused by a limit, failed by noise, and when each was served
        self.requests = 0
        self.refused = 0
        self.faults = 0
        self.served: list[float] = []
        self.refused_at: list[float] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self.outages: list[_Outage] = []
        self._tokens = 0.0
        self._filled_at: float | None = None
        self._pages = PageOptions()

    def outage(self, start: float, seconds: float, kind: str = "503") -> None:
        """Be down from ``start`` (loop time) for ``seconds``: every request gets nginx's 502
        page, a 503 maintenance page, or a refused connection (``kind``)."""
        if kind not in ("502", "503", "refuse"):
            raise ValueError(f"outage kind {kind!r}: one of '502', '503', 'refuse'")
        self.outages.append(_Outage(start, start + seconds, kind))

    async def close(self) -> None:
        """Nothing to release."""

    async def send(
        self,
        request: HttpRequest,
        headers: Mapping[str, str],
        *,
        timeout: float,
        unanswered: Callable[[], None],
    ) -> HttpResponse:
        """Answer one attempt as the server behind its limits would."""
        now = asyncio.get_running_loop().time()
        self.requests += 1
        down = next((o for o in self.outages if o.start <= now < o.end), None)
        if down is not None:
            return await self._down(down, request)
        refusal = self._limit(now)
        if refusal is not None:
            await asyncio.sleep(0)
            return refusal
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return await self._serve(request, unanswered, timeout)
        finally:
            self.in_flight -= 1

    async def _down(self, outage: _Outage, request: HttpRequest) -> HttpResponse:
        await asyncio.sleep(0.001)
        if outage.kind == "refuse":
            raise TransportError(
                f"cannot connect to {request.where}: connection refused",
                method=request.method,
                path=request.shown,
            )
        if outage.kind == "502":
            return HttpResponse.of(502, _BAD_GATEWAY, _HTML)
        return HttpResponse.of(503, MAINTENANCE, _HTML)

    def _limit(self, now: float) -> HttpResponse | None:
        """A limit's refusal, or ``None`` when the request gets in (and takes its token)."""
        limits = self.limits
        refused = limits.max_in_flight is not None and self.in_flight >= limits.max_in_flight
        if not refused and limits.rate is not None:
            if self._filled_at is None:
                self._tokens = limits.burst
            else:
                self._tokens += (now - self._filled_at) * limits.rate
            self._tokens = min(limits.burst, self._tokens)
            self._filled_at = now
            refused = self._tokens < 1.0
            if not refused:
                self._tokens -= 1.0
        if not refused:
            return None
        self.refused += 1
        self.refused_at.append(now)
        return _refusal(limits.limit_status, limits.limit_retry_after)

    async def _serve(
        self, request: HttpRequest, unanswered: Callable[[], None], timeout: float
    ) -> HttpResponse:
        limits = self.limits
        kind = None
        if limits.noise and self.rng.random() < limits.noise:
            kind = self.rng.choice(limits.noise_kinds)
            self.faults += 1
        if kind in ("503", "429"):
            await asyncio.sleep(0)
            return _refusal(int(kind), limits.noise_retry_after)
        spread = limits.jitter * (2 * self.rng.random() - 1)
        took = limits.latency * (1 + spread)
        if took > timeout:
            await asyncio.sleep(timeout)
            unanswered()
            raise TransportError(
                f"timed out after {timeout:g}s waiting for {request.where}",
                method=request.method,
                path=request.shown,
            )
        await asyncio.sleep(took)
        if kind == "reset":
            unanswered()
            raise TransportError(
                f"connection to {request.where} failed: connection reset by peer",
                method=request.method,
                path=request.shown,
            )
        if kind == "500":
            return HttpResponse.of(500, SERVER_ERROR, _JSON)
        self.served.append(asyncio.get_running_loop().time())
        return HttpResponse.of(200, self._body(request), _JSON)

    def _body(self, request: HttpRequest) -> bytes:
        """A page of the task list, or of a task's customers, as the fake renders it."""
        query = {k: str(v) for k, v in (request.params or {}).items()}
        page, per_page = paging(query) or (1, 100)
        start, stop = (page - 1) * per_page, page * per_page
        path = request.url.path
        if path.endswith("/callTask.json"):
            ids = self.state.listing(query.get("created_start"), query.get("created_end"))
            items = self.state.task_items(ids[start:stop])

            def link(n: int) -> str:
                return f"{request.url.with_query(page=n, per_page=per_page)}"

            return self._pages.body(items, len(ids), page, per_page, link=link)
        task_id = int(path.rsplit("/", 1)[-1].split(".")[0])
        record = self.state.task(task_id)
        if record is None:
            return b'{"Status": "403", "message": "callTaskId does not exist"}'
        customers = self.state.customers(record)
        items = self.state.customer_items(record, start, stop)
        return self._pages.body(items, len(customers), page, per_page, link=None)


def _refusal(status: int, retry_after: float | None) -> HttpResponse:
    headers = dict(_JSON)
    if retry_after is not None:
        headers["Retry-After"] = f"{retry_after:g}"
    return HttpResponse.of(status, TOO_MANY if status == 429 else MAINTENANCE, headers)


# -- workloads: what a run of the session against a simulated server measures -----------


@attrs.define
class CallerRun:
    """Callers looping one call for ``seconds``: when each call succeeded, and the session's
    stats at the end."""

    seconds: float
    finished: list[float]
    stats: Any

    def rate(self, start: float = 0.0, end: float | None = None) -> float:
        """Calls that succeeded a second from ``start`` to ``end`` (seconds into the run)."""
        end = self.seconds if end is None else end
        return sum(start <= t < end for t in self.finished) / (end - start)


def run_callers(
    server: SimulatedServer,
    seconds: float,
    *,
    callers: int = 32,
    at: Sequence[tuple[float, Callable[[], object]]] = (),
    **session: Any,
) -> CallerRun:
    """``callers`` tasks loop ``list_call_tasks`` through one session for ``seconds`` of
    virtual time; ``at`` runs ``(seconds, function)`` changes to the server meanwhile."""

    async def main() -> CallerRun:
        loop = asyncio.get_running_loop()
        finished: list[float] = []
        options = {"max_retries": 10_000, "max_concurrency": callers, **session}
        options.setdefault("backoff", Backoff(rng=random.Random(server.seed)))
        async with Session(
            BasicAuth("sim", "sim"), base_url=SIMULATED_URL, transport=server, **options
        ) as s:
            start = loop.time()

            async def caller() -> None:
                while True:
                    with contextlib.suppress(Bangwo8Error):
                        await list_call_tasks(s, per_page=10)
                        finished.append(loop.time() - start)

            def later(when: float, change: Callable[[], object]) -> asyncio.TimerHandle:
                return loop.call_at(start + when, change)

            handles = [later(when, change) for when, change in at]
            tasks = [asyncio.create_task(caller()) for _ in range(callers)]
            await asyncio.sleep(seconds)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for handle in handles:
                handle.cancel()
            return CallerRun(seconds, finished, s.stats)

    return run_virtual(main())


def run_export(
    server: SimulatedServer, what: str = "tasks", *, per_page: int = 100, **session: Any
) -> tuple[float, list[Any]]:
    """Every task (``what="tasks"``) or every customer of every task through the SDK's
    iterators; (virtual seconds, the items in order)."""

    async def main() -> tuple[float, list[Any]]:
        loop = asyncio.get_running_loop()
        session.setdefault("backoff", Backoff(rng=random.Random(server.seed)))
        async with Session(
            BasicAuth("sim", "sim"), base_url=SIMULATED_URL, transport=server, **session
        ) as s:
            start = loop.time()
            items: list[Any]
            if what == "tasks":
                items = [t.call_task_id async for t in iter_call_tasks(s, per_page=per_page)]
            else:
                items = [
                    (u.call_task_id, u.contact_id, u.company_id)
                    async for u in iter_all_task_users(s, per_page=per_page)
                ]
            return loop.time() - start, items

    return run_virtual(main())


def run_gather(server: SimulatedServer, what: str = "tasks", **options: Any) -> tuple[float, int]:
    """:func:`gather` against ``server`` on a virtual clock: (virtual seconds, items)."""
    options.setdefault("backoff", Backoff(rng=random.Random(server.seed)))

    async def main() -> tuple[float, int]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        items = await gather(server, SIMULATED_URL, "Basic c2ltOnNpbQ==", what, **options)
        return loop.time() - start, items

    return run_virtual(main())


async def gather(
    transport: Any,
    base_url: str,
    authorization: str,
    what: str = "tasks",
    *,
    per_page: int = 100,
    concurrency: int = 8,
    max_retries: int = 10,
    backoff: Backoff | None = None,
) -> int:
    """The baseline an export is measured against; returns the items read.

    Every page at once, unordered, straight over ``transport`` (no session, no flow
    control): each attempt holds one of ``concurrency`` places, each retry waits the same
    ``backoff`` as the session's, and a ``Retry-After`` is honoured by the request that
    got it, and by no other.
    """
    policy = backoff or Backoff()
    headers = {"Authorization": authorization}
    places = asyncio.Semaphore(concurrency)

    async def get(path: str, page: int) -> Any:
        params = {"page": page, "per_page": per_page}
        request = HttpRequest("GET", URL(base_url + path), f"{path}?page={page}", params)
        for retry in range(max_retries + 1):
            error: Bangwo8Error
            try:
                async with places:
                    answer = await transport.send(
                        request, headers, timeout=30.0, unanswered=_nothing
                    )
                return decode_response(answer.status, answer.headers, answer.body)
            except Bangwo8Error as exc:
                error = exc
            delay = policy.delay(error, retry) if retry < max_retries else None
            if delay is None:
                raise error
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def pages(path: str) -> list[Any]:
        first = await get(path, 1)
        count = int(first.get("count") or 0)
        rest = await asyncio.gather(*(get(path, n) for n in range(2, -(-count // per_page) + 1)))
        return [item for page in (first, *rest) for item in page.get("callTask") or []]

    tasks = await pages("/callTask.json")
    if what == "tasks":
        return len(tasks)
    users = await asyncio.gather(
        *(pages(f"/callTask/userList/{t['callTaskId']}.json") for t in tasks)
    )
    return sum(len(u) for u in users)


def _nothing() -> None:
    """No send goes unanswered that matters to a GET."""
