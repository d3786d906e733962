"""The five call-task endpoints, one function each; the session is always the first argument."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from ._http.response import Expect
from ._http.session import Session
from ._validate import check_id, check_page, date_range
from .converter import structure, structure_list, unstructure_new_task
from .errors import DecodeError, ValidationError
from .models import CallTask, CallTaskDetail, CreatedCallTask, NewCallTask, Page, TaskUser

__all__ = [
    "call_task_page",
    "call_tasks_of",
    "create_call_task",
    "delete_call_task",
    "get_call_task",
    "list_call_tasks",
    "list_task_users",
    "task_user_page",
    "task_users_of",
]

T = TypeVar("T")
_KEY = "callTask"


async def list_call_tasks(
    session: Session,
    *,
    page: int = 1,
    per_page: int = 100,
    created_start: date | None = None,
    created_end: date | None = None,
) -> Page[CallTask]:
    """One page of call tasks (``GET /callTask.json``), optionally filtered by created date."""
    check_page(page, per_page)
    unread = await call_task_page(session, page, per_page, created_start, created_end)
    return _structured(unread, call_tasks_of(unread.items))


async def call_task_page(
    session: Session,
    page: int,
    per_page: int,
    created_start: date | None = None,
    created_end: date | None = None,
) -> Page[Any]:
    """One page of call tasks with its items as the server sent them; :func:`call_tasks_of`
    reads them.

    The iterators read ahead by such pages and read the items of each as it is
    handed on: plain JSON objects cost the garbage collector nothing to hold,
    a page of models costs it a walk of every model at each collection.
    """
    params: dict[str, str | int] = {**date_range(created_start, created_end)}
    params["page"] = page
    params["per_page"] = per_page
    data = await session.request("GET", "/callTask.json", params=params)
    return _page(data, page, per_page, "list_call_tasks")


def call_tasks_of(items: list[Any]) -> list[CallTask]:
    """The tasks of a :func:`call_task_page`; :class:`DecodeError` names the bad one."""
    return structure_list(items, CallTask, endpoint="list_call_tasks", path="$.callTask")


async def get_call_task(session: Session, call_task_id: int) -> CallTaskDetail:
    """One call task with its agent and counts (``GET /callTask/{id}.json``)."""
    check_id(call_task_id, "call_task_id")
    data = await session.request("GET", f"/callTask/{call_task_id}.json")
    return structure(
        _member(data, "get_call_task"), CallTaskDetail, endpoint="get_call_task", path="$.callTask"
    )


async def create_call_task(
    session: Session, new: NewCallTask, *, request_id: str | None = None
) -> CreatedCallTask:
    """Create a call task (``POST /callTask.json``).

    The ``Requestid`` header (``request_id``, or a fresh uuid4) is the same on
    every retry, so the server creates the task once however often it is sent.
    """
    if not isinstance(new, NewCallTask):
        raise ValidationError(f"new must be a NewCallTask, got {type(new).__name__}", field="new")
    data = await session.request(
        "POST", "/callTask.json", json=unstructure_new_task(new), request_id=request_id
    )
    return structure(
        _member(data, "create_call_task"),
        CreatedCallTask,
        endpoint="create_call_task",
        path="$.callTask",
    )


async def delete_call_task(session: Session, call_task_id: int) -> None:
    """Delete a call task (``DELETE /callTask/{id}.json``).

    Succeeds only on a 2xx acknowledgement: an empty body, a JSON object
    without an error, or the vendor's own success body, which is not valid
    JSON (``{"Status": 200 OK, ...}``). Any other 2xx body (a proxy's HTML
    page) is a :class:`DecodeError`, never a deletion reported that did not
    happen. If an earlier attempt got no answer and a retry hears "does not
    exist", that earlier attempt deleted it, and this returns ``None`` too.
    """
    check_id(call_task_id, "call_task_id")
    await session.request("DELETE", f"/callTask/{call_task_id}.json", expect=Expect.ACKNOWLEDGEMENT)


async def list_task_users(
    session: Session, call_task_id: int, *, page: int = 1, per_page: int = 100
) -> Page[TaskUser]:
    """One page of a call task's customers (``GET /callTask/userList/{id}.json``)."""
    check_id(call_task_id, "call_task_id")
    check_page(page, per_page)
    unread = await task_user_page(session, call_task_id, page, per_page)
    return _structured(unread, task_users_of(unread.items))


async def task_user_page(
    session: Session, call_task_id: int, page: int, per_page: int
) -> Page[Any]:
    """One page of a task's customers with its items as sent, as :func:`call_task_page`."""
    data = await session.request(
        "GET",
        f"/callTask/userList/{call_task_id}.json",
        params={"page": page, "per_page": per_page},
    )
    return _page(data, page, per_page, "list_task_users")


def task_users_of(items: list[Any]) -> list[TaskUser]:
    """The customers of a :func:`task_user_page`; :class:`DecodeError` names the bad one."""
    return structure_list(items, TaskUser, endpoint="list_task_users", path="$.callTask")


def _member(data: Any, endpoint: str) -> Any:
    if not isinstance(data, dict) or not isinstance(data.get(_KEY), dict):
        raise DecodeError(
            f"{endpoint}: expected an object under {_KEY!r}", endpoint=endpoint, field="$.callTask"
        )
    return data[_KEY]


def _page(data: Any, page: int, per_page: int, endpoint: str) -> Page[Any]:
    """A list page from its JSON, its items not read yet (see :func:`_structured`)."""
    if not isinstance(data, dict):
        raise DecodeError(f"{endpoint}: expected a JSON object", endpoint=endpoint, field="$")
    raw = data.get(_KEY)
    if raw is not None and type(raw) is not list:
        raise DecodeError(
            f"{endpoint}: expected a list, got {type(raw).__name__} @ $.callTask",
            endpoint=endpoint,
            field="$.callTask",
        )
    return Page(
        # PHP sends ``null`` (or leaves the key out) for an empty list, whatever ``count`` says.
        items=[] if raw is None else raw,
        count=_count(data.get("count")),
        page=page,
        per_page=per_page,
        next_page=_link(data.get("next_page")),
        previous_page=_link(data.get("previous_page")),
    )


def _structured(unread: Page[Any], items: list[T]) -> Page[T]:
    """``unread`` with its items read (the constructor: ``attrs.evolve`` looks fields up)."""
    return Page(
        items, unread.count, unread.page, unread.per_page, unread.next_page, unread.previous_page
    )


def _count(value: Any) -> int | None:
    """``count`` as a number, a string of digits, or ``None`` when missing or not a number."""
    if type(value) is int and value >= 0:
        return value
    if type(value) is str and value.isascii() and value.strip().isdigit():
        return int(value)
    return None


def _link(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
