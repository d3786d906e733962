"""The lists the iterators read, as sources for the engine: the task list, a task's customers."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, TypeVar

from .._http import Session
from ..call_tasks import call_task_page, call_tasks_of, task_user_page, task_users_of
from ..models import CallTask, Page, TaskUser
from .identity import task_key, task_keys, user_key, user_keys
from .options import PagingOptions
from .source import Source

T = TypeVar("T")


def task_list(session: Session, options: PagingOptions, **engine: Any) -> Source[CallTask]:
    """The task list, filtered by ``options``' created dates, read from ``options``' start.

    ``engine``: what else :class:`Source` takes (``window``, ``gone_is_empty``, ``tag``).
    """
    created_start, created_end = options.created_start, options.created_end

    async def fetch(n: int, size: int) -> Page[Any]:
        return await call_task_page(session, n, size, created_start, created_end)

    return Source(
        fetch,
        task_key,
        keys=task_keys,
        models=call_tasks_of,
        label="call tasks",
        **_start(options),
        **engine,
    )


def customer_list(
    session: Session, call_task_id: int, options: PagingOptions, **engine: Any
) -> Source[TaskUser]:
    """One task's customers, read from ``options``' start; ``engine`` as for :func:`task_list`."""

    async def fetch(n: int, size: int) -> Page[Any]:
        return await task_user_page(session, call_task_id, n, size)

    label = f"customers of task {call_task_id}"
    return Source(
        fetch,
        user_key,
        keys=user_keys,
        models=task_users_of,
        label=label,
        **_start(options),
        **engine,
    )


def _start(options: PagingOptions) -> dict[str, Any]:
    """Where a list is read from, and what of it the caller already holds."""
    return {
        "per_page": options.per_page,
        "start_page": options.start_page,
        "count_hint": options.count_hint,
        "known": options.known,
    }


async def one(source: Source[T]) -> AsyncGenerator[Source[T], None]:
    """The sources of an iterator that reads one list."""
    yield source
