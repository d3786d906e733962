"""Row identity: which fields make two rows the same row, in one place.

The iterators drop a repeat by it, a resumed export passes it as ``known=``,
and the SQLite export keys its tables by it. ``progress`` is not part of a
customer's identity: it changes while calls are made.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable

import attrs

from ..errors import ValidationError
from ..models import CallTask, TaskUser

#: A task's identity: its id.
TASK_IDENTITY: tuple[str, ...] = ("call_task_id",)
#: A customer's identity: every field but ``progress``, in the order of :class:`TaskUser`.
USER_IDENTITY: tuple[str, ...] = tuple(
    field.name for field in attrs.fields(TaskUser) if field.name != "progress"
)

task_key: Callable[[CallTask], Hashable] = operator.attrgetter(*TASK_IDENTITY)
user_key: Callable[[TaskUser], Hashable] = operator.attrgetter(*USER_IDENTITY)


def task_keys(items: list[CallTask]) -> set[Hashable]:
    """``set(map(task_key, items))``, by a comprehension: the per-page path."""
    return {task.call_task_id for task in items}


def user_keys(items: list[TaskUser]) -> set[Hashable]:
    """``set(map(user_key, items))``, by a comprehension that spells out ``USER_IDENTITY``.

    The per-page path; ``tests/test_hot_paths.py`` holds it equal to :func:`row_identity`.
    """
    return {
        (u.call_task_id, u.contact_id, u.company_id, u.user_name, u.company_name, u.phone)
        for u in items
    }


def row_identity(item: CallTask | TaskUser) -> Hashable:
    """The identity by which the iterators recognise a repeat: JSON-friendly values.

    A task is its ``call_task_id``; a customer is the tuple of every field but
    ``progress``. Pass the identities of rows you already hold as ``known=``
    when resuming (after JSON, turn lists back into tuples).
    """
    if isinstance(item, TaskUser):
        return user_key(item)
    if isinstance(item, CallTask):
        return task_key(item)
    raise ValidationError(
        f"row_identity takes a CallTask or a TaskUser, got {type(item).__name__}", field="item"
    )
