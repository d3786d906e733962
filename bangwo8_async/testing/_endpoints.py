"""The fake's endpoints: sign-in, the token, and the five call-task handlers."""

from __future__ import annotations

import asyncio
import base64
import random
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

from .._validate import MAX_PER_PAGE
from . import _payloads as payloads
from ._data import TaskRecord
from ._payloads import BodyStyle, NewTask, PageOptions

if TYPE_CHECKING:
    from .fake import FakeBangwo8, LoggedRequest

__all__ = ["Endpoints"]

Rows = Callable[[int, int], "list[dict[str, Any]]"]


class Endpoints:
    """The API's handlers, answering from a fake's state and its options of the moment."""

    def __init__(self, fake: FakeBangwo8) -> None:
        self.fake = fake
        self.state = fake.state
        self.entries: dict[int, LoggedRequest] = {}  # id(request): its log entry, while handled
        self._list_requests = 0
        self._churn_rng = random.Random(fake.state.seed + 2)
        self.tokens: dict[str, float] = {}  # access token: when it expires (loop time)
        self._request_ids: dict[str, tuple[int, bytes]] = {}
        # Rendering a page costs more than sending it; a page is the same until the state
        # or an option changes, so keep the body, and the fake never slows the client it
        # measures. BOM and charset are applied on the way out, after the cache.
        self._pages: dict[tuple[object, ...], bytes] = {}

    def style(self) -> BodyStyle:
        """How JSON bodies go on the wire now."""
        return BodyStyle(self.fake.bom, self.fake.charset)

    def _json(self, status: int, body: bytes) -> web.Response:
        return self.style().response(status, body)

    # -- who is calling ----------------------------------------------------------------------

    def account_of(self, request: web.Request) -> str:
        """The account a request is counted against: the Basic user or the token's client."""
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return self.fake.secret_id  # the fake's only OAuth client
        user = _basic(header)
        return "" if user is None else user[0]

    def refused(self, request: web.Request) -> web.Response | None:
        """The 401 or 403 answer for a caller who may not use the call-task API, else None."""
        fake = self.fake
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            expiry = self.tokens.get(header[7:])
            if expiry is not None and asyncio.get_running_loop().time() < expiry:
                return None
            return self._json(401, payloads.UNAUTHORIZED)
        user = _basic(header)
        if user == (fake.account, fake.password):
            return None
        if user == (fake.agent_account, fake.agent_password):
            return self._json(403, payloads.NOT_ADMIN)
        return self._json(401, payloads.UNAUTHORIZED)

    async def token(self, request: web.Request) -> web.Response:
        """``/api/token.php``: an access token for the client-credentials grant."""
        fake = self.fake
        if request.method != "POST":
            return self._json(
                400,
                payloads.token_error(
                    "invalid_request", "The request method must be POST when requesting a token"
                ),
            )
        form = await request.post()
        if _basic(request.headers.get("Authorization", "")) != (fake.secret_id, fake.secret):
            return self._json(
                401, payloads.token_error("invalid_client", "The client credentials are invalid")
            )
        if form.get("grant_type") != "client_credentials":
            return self._json(
                400,
                payloads.token_error("unsupported_grant_type", "The grant type was not recognized"),
            )
        fake.token_fetches += 1
        token = secrets.token_hex(20)
        self.tokens[token] = asyncio.get_running_loop().time() + fake.token_ttl
        ttl = fake.token_ttl
        # Whole seconds as the vendor sends; a fraction only when a test asks for one.
        return self._json(200, payloads.token_body(token, int(ttl) if ttl >= 1 else ttl))

    # -- the lists ---------------------------------------------------------------------------

    async def task_list(self, request: web.Request) -> web.Response:
        """The task list, newest first, filtered by ``created_start``/``created_end``."""
        paging = payloads.paging(request.query, MAX_PER_PAGE)
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
        paging = payloads.paging(request.query, MAX_PER_PAGE)
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
        fake = self.fake
        if tasks:
            self._list_requests += 1
            n = self._list_requests
            if fake.insert_every and n % fake.insert_every == 0:
                self.state.add_tasks(1, front=True)
            if fake.delete_every and n % fake.delete_every == 0:
                self.state.delete_random(self._churn_rng)
        if fake.on_list is not None:
            fake.on_list(self.entries[id(request)], self.state)

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
        fake = self.fake
        options = PageOptions(
            fake.page_cap,
            fake.send_count,
            fake.count_excess,
            fake.clamp_pages,
            fake.null_lists,
            fake.omit_empty_list,
        )
        key = (request.path, request.query_string, self.state.version, options, fake.link_host)
        body = self._pages.get(key)
        if body is None:
            asked, per_page = paging
            page = options.served_page(asked, per_page, total)
            size = options.page_size(per_page)
            link = (lambda n: self._link(request, n)) if links else None
            body = options.body(
                rows((page - 1) * size, page * size), total, page, per_page, link=link
            )
            if len(self._pages) >= 4096:
                self._pages.clear()
            self._pages[key] = body
        return self._json(200, body)

    def _link(self, request: web.Request, page: int) -> str:
        query = {k: v for k, v in request.query.items() if k != "page"}
        query["page"] = str(page)
        host = self.fake.link_host or f"{self.fake.host}:{self.fake.port}"
        return f"http://{host}{request.path}?{urlencode(query)}"

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


def _basic(header: str) -> tuple[str, str] | None:
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password
