"""An in-process fake of the Bangwo8 call-task API, with state, quirks and faults on demand."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter
from types import TracebackType
from typing import Any, Generic, TypeVar, overload

from ..auth import BasicAuth, ClientCredentials
from ._endpoints import Endpoints
from ._faults import RATE_FAULTS, Fault
from ._front import Front
from ._log import LoggedRequest
from ._options import FakeOptions, Limits, Misbehaviour, OnList, Quirks, check_script
from ._server import Listener, build_app
from ._state import FakeState

__all__ = ["RATE_FAULTS", "FakeBangwo8", "FakeState", "Fault", "LoggedRequest"]

T = TypeVar("T")


class _Option(Generic[T]):
    """An attribute of the fake that lives on one of its parts, read and set there.

    ``fake.page_cap = 5`` sets ``fake._options.quirks.page_cap``: attrs validates
    it, and the endpoints, which hold the same options, see it on their next request.
    """

    def __init__(self, part: str) -> None:
        self._part = attrgetter(part)
        self._name = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = name

    @overload
    def __get__(self, fake: None, owner: type[Any]) -> _Option[T]: ...
    @overload
    def __get__(self, fake: FakeBangwo8, owner: type[Any]) -> T: ...
    def __get__(self, fake: FakeBangwo8 | None, owner: type[Any]) -> T | _Option[T]:
        if fake is None:
            return self
        value: T = getattr(self._part(fake), self._name)
        return value

    def __set__(self, fake: FakeBangwo8, value: T) -> None:
        setattr(self._part(fake), self._name, value)


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
    counted in ``refused``. docs/testing.md describes each.

    An outage on demand, while it serves: :meth:`outage` takes the server
    down for some seconds, answering 502 or 503 or refusing connections.

    A bad option, given or set while it serves, is a ``TypeError`` or
    ``ValueError`` that names it.

    A customer id that is a multiple of 97 is "illegal" to create with: the
    fake rejects it, as the vendor rejects unknown customers.
    """

    # Each option is also an attribute a test may change while the fake serves; it lives on
    # the options the endpoints read, and is validated when set.
    latency: _Option[float] = _Option("_options.misbehaviour")
    fault_rate: _Option[float] = _Option("_options.misbehaviour")
    fault_kinds: _Option[tuple[Fault, ...]] = _Option("_options.misbehaviour")
    retry_after: _Option[float] = _Option("_options.misbehaviour")
    slow_seconds: _Option[float] = _Option("_options.misbehaviour")
    token_ttl: _Option[float] = _Option("_options")
    host: _Option[str] = _Option("_options")
    port: _Option[int] = _Option("_options")
    link_host: _Option[str | None] = _Option("_options")
    send_count: _Option[bool] = _Option("_options.quirks")
    page_cap: _Option[int | None] = _Option("_options.quirks")
    count_excess: _Option[int] = _Option("_options.quirks")
    clamp_pages: _Option[bool] = _Option("_options.quirks")
    null_lists: _Option[bool] = _Option("_options.quirks")
    omit_empty_list: _Option[bool] = _Option("_options.quirks")
    bom: _Option[bool] = _Option("_options.quirks")
    charset: _Option[str | None] = _Option("_options.quirks")
    jitter: _Option[float] = _Option("_options.quirks")
    on_list: _Option[OnList | None] = _Option("_options.quirks")
    insert_every: _Option[int] = _Option("_options.quirks")
    delete_every: _Option[int] = _Option("_options.quirks")
    rate_limit: _Option[float | None] = _Option("_options.limits")
    rate_burst: _Option[float | None] = _Option("_options.limits")
    max_in_flight: _Option[int | None] = _Option("_options.limits")
    limit_retry_after: _Option[float | None] = _Option("_options.limits")
    # Who may sign in (an agent signs in, but every call-task endpoint says 403 to it).
    account: _Option[str] = _Option("_options.accounts")
    password: _Option[str] = _Option("_options.accounts")
    agent_account: _Option[str] = _Option("_options.accounts")
    agent_password: _Option[str] = _Option("_options.accounts")
    secret_id: _Option[str] = _Option("_options.accounts")
    secret: _Option[str] = _Option("_options.accounts")
    # What it saw: the request log, requests in flight (and the most at once), 429s sent
    # by rate_limit and max_in_flight, tokens issued.
    log: _Option[list[LoggedRequest]] = _Option("_front")
    in_flight: _Option[int] = _Option("_front")
    peak_in_flight: _Option[int] = _Option("_front")
    refused: _Option[int] = _Option("_front")
    token_fetches: _Option[int] = _Option("_endpoints")

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
        # Every option, validated once here and again whenever a test sets one.
        self._options = FakeOptions(
            tasks=tasks,
            users_per_task=users_per_task,
            seed=seed,
            token_ttl=token_ttl,
            host=host,
            port=port,
            link_host=link_host,
            quirks=Quirks(
                page_cap=page_cap,
                send_count=send_count,
                count_excess=count_excess,
                clamp_pages=clamp_pages,
                null_lists=null_lists,
                omit_empty_list=omit_empty_list,
                bom=bom,
                charset=charset,
                jitter=jitter,
                on_list=on_list,
                insert_every=insert_every,
                delete_every=delete_every,
            ),
            limits=Limits(
                rate_limit=rate_limit,
                rate_burst=rate_burst,
                max_in_flight=max_in_flight,
                limit_retry_after=limit_retry_after,
            ),
            misbehaviour=Misbehaviour(
                latency=latency,
                fault_rate=fault_rate,
                fault_kinds=fault_kinds,
                retry_after=retry_after,
                slow_seconds=slow_seconds,
            ),
        )
        self.state = FakeState(tasks=tasks, users_per_task=users_per_task, seed=seed)
        self._endpoints = Endpoints(self._options, self.state)
        self._front = Front(self._options, self._endpoints, check_script(faults))
        self._tokens = self._endpoints.tokens  # (tests look for leaked tokens here)
        self._listener = Listener(self._options)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> FakeBangwo8:
        """Bind and serve; ``async with`` does this for you."""
        await self._listener.start(build_app(self._front, self._endpoints))
        return self

    async def close(self) -> None:
        """Stop serving and drop every connection."""
        await self._listener.close()

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
        self._front.faults.add(check_script(faults), method, path, query)

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
        self._front.outage.start(asyncio.get_running_loop().time(), seconds, kind)
        await self._listener.outage(seconds, kind)

    @property
    def outage_answers(self) -> int:
        """Requests answered 502 or 503, or dropped, because the fake was down."""
        return self._front.outage.answered

    def requests(self, method: str | None = None, path: str | None = None) -> list[LoggedRequest]:
        """The logged requests, optionally only those of ``method`` and a ``path`` prefix."""
        return [
            r
            for r in self.log
            if (method is None or r.method == method) and (path is None or r.path.startswith(path))
        ]
