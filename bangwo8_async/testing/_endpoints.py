"""The fake's endpoints: sign-in, the token, and the five call-task handlers.

They answer from the fake's state and its options (``_options``), never from the
fake itself, so this module does not import ``fake``.
"""

from __future__ import annotations

import asyncio
import base64
import random
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from . import _payloads as payloads
from ._data import TaskRecord
from ._log import LoggedRequest
from ._options import FakeOptions
from ._payloads import BodyStyle, NewTask
from ._state import FakeState

__all__ = ["Endpoints"]

Rows = Callable[[int, int], "list[dict[str, Any]]"]


class Endpoints:
    """The API's handlers, answering from a fake's state and its options of the moment."""

    def __init__(self, options: FakeOptions, state: FakeState) -> None:
        self.options = options
        self.state = state
        self.entries: dict[int, LoggedRequest] = {}  # id(request): its log entry, while handled
        self.token_fetches = 0  # tokens issued
        self._list_requests = 0
        self._churn_rng = random.Random(state.seed + 2)
        self.tokens: dict[str, float] = {}  # access token: when it expires (loop time)
        self._request_ids: dict[str, tuple[int, bytes]] = {}
        # Rendering a page costs more than sending it; a page is the same until the state
        # or an option changes, so keep the body, and the fake never slows the client it
        # measures. BOM and charset are applied on the way out, after the cache.
        self._pages: dict[tuple[object, ...], bytes] = {}

    def style(self) -> BodyStyle:
        """How JSON bodies go on the wire now."""
        quirks = self.options.quirks
        return BodyStyle(quirks.bom, quirks.charset)

    def _json(self, status: int, body: bytes) -> web.Response:
        return self.style().response(status, body)

    # -- who is calling ----------------------------------------------------------------------

    def account_of(self, request: web.Request) -> str:
        """The account a request is counted against: the Basic user or the token's client."""
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return self.options.accounts.secret_id  # the fake's only OAuth client
        user = _basic(header)
        return "" if user is None else user[0]

    def refused(self, request: web.Request) -> web.Response | None:
        """The 401 or 403 answer for a caller who may not use the call-task API, else None."""
        accounts = self.options.accounts
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            expiry = self.tokens.get(header[7:])
            if expiry is not None and asyncio.get_running_loop().time() < expiry:
                return None
            return self._json(401, payloads.UNAUTHORIZED)
        user = _basic(header)
        if user == (accounts.account, accounts.password):
            return None
        if user == (accounts.agent_account, accounts.agent_password):
            return self._json(403, payloads.NOT_ADMIN)
        return self._json(401, payloads.UNAUTHORIZED)

    async def token(self, request: web.Request) -> web.Response:
        """``/api/token.php``: an access token for the client-credentials grant."""
        accounts = self.options.accounts
        if request.method != "POST":
            return self._json(
                400,
                payloads.token_error(
                    "invalid_request", "The request method must be POST when requesting a token"
                ),
            )
        form = await request.post()
        if _basic(request.headers.get("Authorization", "")) != (
            accounts.secret_id,
            accounts.secret,
        ):
            return self._json(
                401, payloads.token_error("invalid_client", "The client credentials are invalid")
            )
        if form.get("grant_type") != "client_credentials":
            return self._json(
                400,
                payloads.token_error("unsupported_grant_type", "The grant type was not recognized"),
            )
        self.token_fetches += 1
        token = secrets.token_hex(20)
        ttl = self.options.token_ttl
        self.tokens[token] = asyncio.get_running_loop().time() + ttl
        # Whole seconds as the vendor sends; a fraction only when a test asks for one.
        return self._json(200, payloads.token_body(token, int(ttl) if ttl >= 1 else ttl))

    # -- the lists ---------------------------------------------------------------------------

    async def task_list(self, request: web.Request) -> web.Response:
        """The task list, newest first, filtered by ``created_start``/``created_end``."""
        paging = payloads.paging(request.query)
        if paging is None:
            return self._json(400, payloads.BAD_PAGE)
        self._before_list(request, tasks=True)
        ids = self.state.listing(
            request.query.get("created_start"), request.query.get("created_end")
        )
        return self._list_page(
            request, paging, len(ids), lambda lo, hi: self.state.task_items(ids[lo:hi]), links=True
        )

    async def users(self, request: web.Request) -> web.Response:
        """One task's customer list."""
        record = self._task_of(request)
        if record is None:
            return self._json(403, payloads.NOT_FOUND)
        paging = payloads.paging(request.query)
        if paging is None:
            return self._json(400, payloads.BAD_PAGE)
        self._before_list(request, tasks=False)
        total = len(self.state.customers(record))
        return self._list_page(
            request,
            paging,
            total,
            lambda lo, hi: self.state.customer_items(record, lo, hi),
            links=False,
        )

    def _before_list(self, request: web.Request, *, tasks: bool) -> None:
        """The moment before a list page's data is read: churn, then ``on_list``."""
        quirks = self.options.quirks
        if tasks:
            self._list_requests += 1
            n = self._list_requests
            if quirks.insert_every and n % quirks.insert_every == 0:
                self.state.add_tasks(1, front=True)
            if quirks.delete_every and n % quirks.delete_every == 0:
                self.state.delete_random(self._churn_rng)
        if quirks.on_list is not None:
            quirks.on_list(self.entries[id(request)], self.state)

    def _list_page(
        self,
        request: web.Request,
        paging: tuple[int, int],
        total: int,
        rows: Rows,
        *,
        links: bool,
    ) -> web.Response:
        """The one place a list page is rendered (and cached), for both lists."""
        options = self.options.quirks.page_options()
        address = self.options.address()  # links name it
        key = (request.path, request.query_string, self.state.version, options, address)
        body = self._pages.get(key)
        if body is None:
            asked, per_page = paging
            page = options.served_page(asked, per_page, total)
            size = options.page_size(per_page)
            link = (lambda n: _link(request, address, n)) if links else None
            body = options.body(
                rows((page - 1) * size, page * size), total, page, per_page, link=link
            )
            if len(self._pages) >= 4096:
                self._pages.clear()
            self._pages[key] = body
        return self._json(200, body)

    # -- one task ----------------------------------------------------------------------------

    async def detail(self, request: web.Request) -> web.Response:
        """One task, with its call counts."""
        record = self._task_of(request)
        if record is None:
            return self._json(403, payloads.NOT_FOUND)
        customers = len(self.state.customers(record))
        return self._json(200, payloads.detail_body(record, customers))

    async def create(self, request: web.Request) -> web.Response:
        """A new task; a repeated ``Requestid`` gets the first answer again."""
        request_id = request.headers.get("Requestid")
        if request_id and request_id in self._request_ids:
            return self._json(*self._request_ids[request_id])
        task = NewTask.parse(await request.read())
        if task is None:
            status, body = 400, payloads.BAD_PARAMETERS
        else:
            legal = [u for u in task.users if u % 97]
            illegal = [u for u in task.users if not u % 97]
            call_task_id = self.state.new_id()
            self.state.add_task(task.record(call_task_id, legal))
            status, body = 200, task.created_body(call_task_id, legal, illegal)
        if request_id:
            self._request_ids[request_id] = (status, body)
        return self._json(status, body)

    async def delete(self, request: web.Request) -> web.Response:
        """Delete a task: the vendor's not-JSON success body, or a 200 saying "403"."""
        record = self._task_of(request)
        if record is None or not self.state.delete(record.call_task_id):
            return self._json(200, payloads.NOT_FOUND)
        return self._json(200, payloads.deleted_body(record.call_task_id))

    async def unknown(self, request: web.Request) -> web.Response:
        """Any other path: the vendor's 404."""
        return self._json(404, payloads.BAD_URI)

    def _task_of(self, request: web.Request) -> TaskRecord | None:
        raw = request.match_info["id"]
        return self.state.task(int(raw)) if raw.isdigit() else None


def _link(request: web.Request, address: str, page: int) -> str:
    """The URL of ``page`` of the list ``request`` asked for, on ``address`` (host:port)."""
    query = {k: v for k, v in request.query.items() if k != "page"}
    query["page"] = str(page)
    return f"http://{address}{request.path}?{urlencode(query)}"


def _basic(header: str) -> tuple[str, str] | None:
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password
