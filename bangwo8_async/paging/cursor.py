"""Where the stream of every customer of every task stands: a page, its task, its cursor."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .._validate import check_id
from ..errors import ValidationError
from ..models import CallTask, Page, TaskUser


@attrs.frozen
class UsersCursor:
    """Where :func:`iter_all_task_user_pages` stands after a page: pass it as ``after=``.

    ``task_page``/``task_per_page`` locate the task in the task list,
    ``call_task_id`` names it, ``page``/``per_page`` are its customer page just
    yielded, ``task_done`` says whether that was the task's last, and ``count``
    is the count that page reported (to notice rows removed before resuming).
    """

    task_page: int
    task_per_page: int
    call_task_id: int
    page: int
    per_page: int
    task_done: bool
    count: int | None = None

    def to_dict(self) -> dict[str, int | bool | None]:
        """A JSON-ready dict; :meth:`from_dict` reads it back."""
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UsersCursor:
        """Read a cursor saved with :meth:`to_dict`; anything else is a ``ValidationError``."""
        if not isinstance(data, Mapping):
            raise ValidationError("a cursor must be a mapping", field="after")
        values: dict[str, Any] = {}
        for field in attrs.fields(cls):
            value = data.get(field.name)
            if field.name == "task_done":
                if not isinstance(value, bool):
                    raise ValidationError("cursor task_done must be a bool", field="after")
            elif field.name == "count":
                if value is not None and (
                    isinstance(value, bool) or not isinstance(value, int) or value < 0
                ):
                    raise ValidationError("cursor count must be None or an int >= 0", field="after")
            else:
                check_id(value, f"cursor {field.name}")
            values[field.name] = value
        return cls(**values)


@attrs.frozen
class TaskUserPage:
    """One page of one task's customers, in the stream of every customer of every task.

    Every task gives at least one (an empty page for a task with no customers,
    or one deleted meanwhile). ``last``: no more pages of this task follow.
    """

    task: CallTask
    page: Page[TaskUser]
    last: bool
    cursor: UsersCursor
