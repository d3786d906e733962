"""The bodies the fake sends: list pages, detail, create and delete, errors, and PHP's quirks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

import attrs
import orjson
from aiohttp import web

from ._data import TaskRecord

__all__ = [
    "BAD_PAGE",
    "BAD_PARAMETERS",
    "BAD_URI",
    "DEFAULT_PER_PAGE",
    "MAINTENANCE",
    "MAX_PER_PAGE",
    "NOT_ADMIN",
    "NOT_FOUND",
    "SERVER_ERROR",
    "TOO_MANY",
    "UNAUTHORIZED",
    "WAF_PAGE",
    "BodyStyle",
    "NewTask",
    "PageOptions",
    "deleted_body",
    "detail_body",
    "paging",
    "token_body",
    "token_error",
]

#: The server's ceiling on ``per_page``, and its default: the vendor's, held here and not
#: taken from the client, so that the fake disagrees with a client that gets it wrong.
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 100

NOT_FOUND = orjson.dumps({"Status": "403", "message": "callTaskId does not exist"})
BAD_URI = orjson.dumps({"errcode": "100047", "errmsg": "Invalid resource URI"})
BAD_PAGE = orjson.dumps({"errcode": "100001", "errmsg": "Invalid page"})
BAD_PARAMETERS = orjson.dumps({"errcode": "100002", "errmsg": "Invalid parameters"})
UNAUTHORIZED = orjson.dumps({"errcode": "40001", "errmsg": "Authentication failed"})
NOT_ADMIN = orjson.dumps({"errcode": "40003", "errmsg": "Permission denied: administrators only"})
SERVER_ERROR = orjson.dumps({"errcode": "500", "errmsg": "Internal Server Error"})
TOO_MANY = orjson.dumps({"errcode": "429", "errmsg": "Too Many Requests"})
MAINTENANCE = (
    b"<html><head><title>503 Service Unavailable</title></head><body>"
    b"<h1>Service Unavailable</h1><p>The server is down for maintenance.</p></body></html>"
)
WAF_PAGE = (
    b"<!DOCTYPE html><html><head><title>Security check</title></head><body>"
    b"<h1>Checking your browser before accessing the site</h1>"
    b"<p>This process is automatic. Please enable JavaScript and cookies.</p></body></html>"
)


@attrs.frozen
class BodyStyle:
    """How JSON bodies go on the wire: a UTF-8 BOM first, and the charset they are encoded in."""

    bom: bool = False
    charset: str | None = None

    def response(
        self, status: int, body: bytes, headers: Mapping[str, str] | None = None
    ) -> web.Response:
        """A JSON response; ``body`` is UTF-8 JSON (or the vendor's almost-JSON)."""
        content_type = "application/json"
        if self.charset is not None:
            body = body.decode("utf-8").encode(self.charset)
            content_type += f"; charset={self.charset}"
        if self.bom:
            body = b"\xef\xbb\xbf" + body
        # Content-Type given as a header, so that aiohttp appends no charset of its own.
        return web.Response(
            status=status, body=body, headers={**(headers or {}), "Content-Type": content_type}
        )


@attrs.frozen
class PageOptions:
    """Everything but the data that shapes a list page: part of the page cache's key."""

    page_cap: int | None = None
    send_count: bool = True
    count_excess: int = 0
    clamp_pages: bool = False
    null_lists: bool = False
    omit_empty_list: bool = False

    def page_size(self, per_page: int) -> int:
        """The rows a page really holds: ``per_page``, capped."""
        return per_page if self.page_cap is None else max(1, min(per_page, self.page_cap))

    def served_page(self, page: int, per_page: int, total: int) -> int:
        """The page number the server answers: past the end, the last one when clamping."""
        last = -(-total // self.page_size(per_page))
        return last if self.clamp_pages and total and page > last else page

    def body(
        self,
        items: list[dict[str, Any]],
        total: int,
        page: int,
        per_page: int,
        *,
        link: Callable[[int], str] | None,
    ) -> bytes:
        """A list page of ``items`` out of ``total``. ``link(n)`` is page n's URL; without it,
        the customer list's ``""`` links and a ``count`` sent as a string."""
        payload: dict[str, Any] = {}
        if items or not (self.omit_empty_list or self.null_lists):
            payload["callTask"] = items
        elif not self.omit_empty_list:
            payload["callTask"] = None
        count = total + self.count_excess
        if self.send_count:
            payload["count"] = count if link is not None else str(count)
        if link is None:
            payload["next_page"] = payload["previous_page"] = ""
        else:
            size = self.page_size(per_page)
            payload["next_page"] = link(page + 1) if page * size < count else None
            payload["previous_page"] = link(page - 1) if page > 1 else None
        return orjson.dumps(payload)


def paging(query: Mapping[str, str]) -> tuple[int, int] | None:
    """``page`` and ``per_page`` from a query (``per_page`` at most :data:`MAX_PER_PAGE`)."""
    page = query.get("page", "1")
    per_page = query.get("per_page", str(DEFAULT_PER_PAGE))
    if not (page.isdigit() and per_page.isdigit()) or int(page) < 1 or int(per_page) < 1:
        return None
    return int(page), min(int(per_page), MAX_PER_PAGE)


def detail_body(record: TaskRecord, customers: int) -> bytes:
    """The task detail, ``startime`` and all."""
    done = customers // 2
    return orjson.dumps(
        {
            "callTask": {
                "callTaskId": str(record.call_task_id),
                "task_name": record.task_name,
                "startime": record.task_start,
                "task_end": record.task_end,
                "complete": record.complete,
                "task_service": str(record.agent_id),
                "phoneCount": str(customers),
                "completeCount": str(done),
                "connectCount": str(max(0, done - 1)),
            }
        }
    )


@attrs.frozen
class NewTask:
    """A create request's ``callTask``, checked."""

    name: str
    start: str
    end: str
    users: list[int]
    agents: list[int]
    source: str

    @classmethod
    def parse(cls, raw: bytes) -> NewTask | None:
        """The request, or ``None`` when the vendor would say "Invalid parameters"."""
        try:
            spec = orjson.loads(raw)["callTask"]
            task = cls(
                str(spec["task_name"]),
                str(spec["task_start"]),
                str(spec["task_end"]),
                [int(u) for u in spec["task_user"]],
                [int(a) for a in spec["task_service"]],
                spec["data_source"],
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None
        ok = task.name and task.users and task.agents and task.source in ("0", "1")
        return task if ok else None

    def record(self, call_task_id: int, legal: list[int]) -> TaskRecord:
        """The task this creates, holding the ``legal`` customers."""
        return TaskRecord(
            call_task_id=call_task_id,
            task_name=self.name,
            task_start=self.start,
            task_end=self.end,
            complete="进行中",
            agent_id=self.agents[0],
            created=date.today(),
            customers=legal,
            data_source=self.source,
        )

    def created_body(self, call_task_id: int, legal: Sequence[int], illegal: list[int]) -> bytes:
        """The create answer: the customers shared out over the agents, the rejected listed."""
        shares: list[list[int]] = [[] for _ in self.agents]
        for i, user in enumerate(legal):
            shares[i % len(self.agents)].append(user)
        data = [
            {"callTaskId": str(call_task_id), "task_user": share, "task_service": str(agent)}
            for agent, share in zip(self.agents, shares, strict=False)
            if share
        ]
        return orjson.dumps(
            {
                "callTask": {
                    "task_name": self.name,
                    "task_start": self.start,
                    "task_end": self.end,
                    "legalCount": len(legal),
                    "illegalCount": illegal,
                    "successCount": len(legal),
                    "failureCount": str(len(illegal)),
                    "data": data,
                }
            }
        )


def deleted_body(call_task_id: int) -> bytes:
    """The vendor's delete success body, which is not valid JSON."""
    return f'{{\n    "Status": 200 OK,\n    "callTaskId": "{call_task_id}"\n}}'.encode()


def token_error(error: str, description: str) -> bytes:
    """An OAuth error body, as the token endpoint sends it."""
    return orjson.dumps({"error": error, "error_description": description})


def token_body(token: str, expires_in: float) -> bytes:
    """A token endpoint's success body."""
    return orjson.dumps(
        {
            "access_token": token,
            "expires_in": expires_in,
            "token_type": "Bearer",
            "scope": None,
        }
    )
