"""The API's data as frozen attrs classes, with the SDK's own field names.

The JSON names (``callTaskId``, ``startime``, ``callTaskid``, ``cId`` ...) live
only in the converter; these classes are what callers see.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Generic, TypeVar

import attrs

from ._validate import check_id
from .errors import ValidationError

__all__ = [
    "Assignment",
    "CallTask",
    "CallTaskDetail",
    "CreatedCallTask",
    "DataSource",
    "NewCallTask",
    "Page",
    "Progress",
    "TaskStatus",
    "TaskUser",
]

T = TypeVar("T")


class TaskStatus(str, enum.Enum):
    """A call task's status; the values are the vendor's labels."""

    IN_PROGRESS = "进行中"
    COMPLETED = "已完成"
    OVERDUE = "逾期未完成"


class Progress(enum.IntEnum):
    """A customer's call progress; the values are the vendor's codes.

    ``Progress("待处理")`` and ``Progress("-1")`` work too: the server sends
    either the label or the code.
    """

    PENDING = -1
    UNANSWERED = 0
    COMPLETED = 1

    @property
    def label(self) -> str:
        """The vendor's Chinese label for this progress."""
        return _PROGRESS_LABELS[self]

    @classmethod
    def _missing_(cls, value: object) -> Progress | None:
        if isinstance(value, str):
            text = value.strip()
            for member, label in _PROGRESS_LABELS.items():
                if text == label:
                    return member
            if text.lstrip("-").isdigit():
                code = int(text)
                for member in cls:
                    if member.value == code:
                        return member
        return None


_PROGRESS_LABELS = {
    Progress.PENDING: "待处理",
    Progress.UNANSWERED: "未接听",
    Progress.COMPLETED: "已完成",
}


class DataSource(str, enum.Enum):
    """Whether a new task's customers are company ids or contact ids."""

    COMPANY = "0"
    CONTACT = "1"


class _CallTaskSlots:
    """Where a :class:`CallTask`'s fields live: a plain base, whose layout the converter's
    mutable twin shares (see ``converter._twin``); attrs reuses these slots."""

    __slots__ = ("call_task_id", "status", "task_end", "task_name", "task_start")


@attrs.frozen
class CallTask(_CallTaskSlots):
    """One outbound call task as the task list gives it."""

    call_task_id: int
    task_name: str
    task_start: date | datetime
    task_end: date | datetime
    status: TaskStatus | str


@attrs.frozen
class CallTaskDetail(CallTask):
    """A call task with its agent and call counts (``GET /callTask/{id}.json``)."""

    agent_id: int | None
    phone_count: int
    complete_count: int
    connect_count: int


@attrs.frozen
class Assignment:
    """The customers one agent was given in a newly created task."""

    call_task_id: int
    customer_ids: list[int]
    agent_id: int


@attrs.frozen
class CreatedCallTask:
    """What the server says it did with a :class:`NewCallTask`."""

    task_name: str
    task_start: date | datetime
    task_end: date | datetime
    sum_count: int | None
    legal_count: int
    illegal_ids: list[int]
    illegal_count: int
    success_count: int
    failure_count: int
    assignments: list[Assignment]


class _TaskUserSlots:
    """Where a :class:`TaskUser`'s fields live, as :class:`_CallTaskSlots` for a task."""

    __slots__ = (
        "call_task_id",
        "company_id",
        "company_name",
        "contact_id",
        "phone",
        "progress",
        "user_name",
    )


@attrs.frozen
class TaskUser(_TaskUserSlots):
    """One customer of a call task, with their call progress."""

    call_task_id: int
    contact_id: int | None
    company_id: int | None
    user_name: str
    company_name: str
    phone: str
    progress: Progress | str


@attrs.frozen
class Page(Generic[T]):
    """One page of a list endpoint. Empty ``next_page``/``previous_page`` become ``None``.

    The page links are informational: the iterators never request them, they
    build every page request from the session's own ``base_url``.
    """

    items: list[T]
    count: int | None
    page: int
    per_page: int
    next_page: str | None
    previous_page: str | None

    @property
    def last_page(self) -> int | None:
        """The last page number implied by ``count`` and ``per_page``, if ``count`` is known."""
        if self.count is None:
            return None
        return -(-self.count // self.per_page)


def _ids(value: Any, name: str) -> tuple[int, ...]:
    """A tuple (so a frozen task stays frozen) of positive int ids, at least one."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValidationError(
            f"{name} must be a sequence of positive ints, got {type(value).__name__}", field=name
        )
    ids = tuple(value)
    if not ids:
        raise ValidationError(f"{name} must not be empty", field=name)
    for item in ids:
        check_id(item, name)
    return ids


def _customer_ids(value: Any) -> tuple[int, ...]:
    return _ids(value, "customer_ids")


def _agent_ids(value: Any) -> tuple[int, ...]:
    return _ids(value, "agent_ids")


def _data_source(value: Any) -> DataSource:
    if isinstance(value, DataSource):
        return value
    if isinstance(value, str):
        try:
            return DataSource(value)
        except ValueError:
            pass
    raise ValidationError(
        f"data_source must be DataSource.COMPANY or DataSource.CONTACT, got {value!r}",
        field="data_source",
    )


def _as_naive_datetime(value: Any, name: str) -> datetime:
    """A task's start or end as a comparable naive datetime (a date counts as its midnight)."""
    if not isinstance(value, date):
        raise ValidationError(
            f"{name} must be a datetime.date or datetime.datetime, got {type(value).__name__}",
            field=name,
        )
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return datetime(value.year, value.month, value.day)


@attrs.frozen
class NewCallTask:
    """A call task to create; checked when constructed, so a bad one never reaches the wire.

    ``customer_ids`` are company ids or contact ids, as ``data_source`` says;
    each agent in ``agent_ids`` gets a share of them.
    """

    task_name: str
    task_start: date | datetime
    task_end: date | datetime
    customer_ids: Sequence[int] = attrs.field(converter=_customer_ids)
    agent_ids: Sequence[int] = attrs.field(converter=_agent_ids)
    data_source: DataSource = attrs.field(converter=_data_source)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.task_name, str) or not self.task_name.strip():
            raise ValidationError("task_name must be a non-empty string", field="task_name")
        start = _as_naive_datetime(self.task_start, "task_start")
        end = _as_naive_datetime(self.task_end, "task_end")
        if start > end:
            raise ValidationError(
                f"task_start ({self.task_start}) is after task_end ({self.task_end})",
                field="task_start",
            )
