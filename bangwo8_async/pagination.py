"""Moved to :mod:`bangwo8_async.paging`: what the modules not yet moved import from here.

``_checked``, ``_task_source`` and ``_user_source`` keep the old calls of
``dlt/_source.py``; the new ones are :class:`.paging.options.PagingOptions`
(its ``bounds``), :func:`.paging.lists.task_list` and
:func:`.paging.lists.customer_list`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ._http import Session
from .models import CallTask, TaskUser
from .paging.cursor import UsersCursor
from .paging.identity import row_identity
from .paging.iterators import _checked as _checked_arguments
from .paging.iterators import iter_all_task_user_pages, iter_call_task_pages
from .paging.lists import customer_list, task_list
from .paging.lists import one as _one
from .paging.options import Bounds, PagingOptions
from .paging.source import Source
from .paging.stats import PageStats

__all__ = [
    "PageStats",
    "UsersCursor",
    "_checked",
    "_one",
    "_task_source",
    "_user_source",
    "iter_all_task_user_pages",
    "iter_call_task_pages",
    "row_identity",
]


def _checked(session: Any, **arguments: Any) -> Bounds:
    return _checked_arguments({"session": session, **arguments})[1]


def _task_source(
    session: Session, per_page: int, created_start: date | None, created_end: date | None, **kw: Any
) -> Source[CallTask]:
    options = PagingOptions(per_page=per_page, created_start=created_start, created_end=created_end)
    return task_list(session, options, **kw)


def _user_source(
    session: Session, call_task_id: int, *, per_page: int, **kw: Any
) -> Source[TaskUser]:
    return customer_list(session, call_task_id, PagingOptions(per_page=per_page), **kw)
