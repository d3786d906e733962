"""Moved to :mod:`bangwo8_async.paging`: names kept here for the modules not yet moved."""

from .paging.iterators import (
    PageStats,
    UsersCursor,
    _checked,
    _one,
    _task_source,
    _user_source,
    iter_all_task_user_pages,
    iter_call_task_pages,
    row_identity,
)

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
