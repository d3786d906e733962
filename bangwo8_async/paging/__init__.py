"""Paging: every page of a list, read concurrently, handed on in order, each item once.

The public iterators are re-exported by :mod:`bangwo8_async`; the modules
beside them are the engine that reads the pages, the state of one list, the
queue of its reads, the repeat window and row identity.
"""

from .cursor import TaskUserPage, UsersCursor
from .identity import row_identity
from .iterators import (
    iter_all_task_user_pages,
    iter_all_task_users,
    iter_call_task_pages,
    iter_call_tasks,
    iter_task_user_pages,
    iter_task_users,
)
from .progress import OnPage
from .stats import PageStats

__all__ = [
    "OnPage",
    "PageStats",
    "TaskUserPage",
    "UsersCursor",
    "iter_all_task_user_pages",
    "iter_all_task_users",
    "iter_call_task_pages",
    "iter_call_tasks",
    "iter_task_user_pages",
    "iter_task_users",
    "row_identity",
]
