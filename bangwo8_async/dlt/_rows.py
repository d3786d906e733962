"""Pages of models as warehouse rows: one Arrow table (or a list of dicts) per page.

The column types are declared here once, for both shapes, so that dlt never
guesses them: integer ids, a task's start and end as a date (with the time of
day beside it when the server sent one), a customer's ``progress`` as its
integer code with its label beside it. A status or progress the SDK does not
know is kept as it came (the label column holds the raw text).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from typing import Any

import orjson
import pyarrow as pa  # type: ignore[import-untyped]  # no stubs, no py.typed

from ..models import CallTask, Progress, TaskStatus, TaskUser

__all__ = [
    "TASK_COLUMNS",
    "USER_COLUMNS",
    "row_key",
    "status_text",
    "task_dicts",
    "task_table",
    "user_dicts",
    "user_table",
]

#: dlt column hints of ``call_tasks``, in column order.
TASK_COLUMNS: dict[str, dict[str, Any]] = {
    "call_task_id": {"data_type": "bigint", "nullable": False, "primary_key": True},
    "task_name": {"data_type": "text", "nullable": False},
    "task_start": {"data_type": "date", "nullable": False},
    "task_start_time": {"data_type": "time", "nullable": True},
    "task_end": {"data_type": "date", "nullable": False},
    "task_end_time": {"data_type": "time", "nullable": True},
    "status": {"data_type": "text", "nullable": False},
}

#: dlt column hints of ``task_users``: ``row_key``, a digest of the SDK's row identity, is
#: the primary key; a merge replaces the customers of the tasks read (see ``_source``).
USER_COLUMNS: dict[str, dict[str, Any]] = {
    "row_key": {"data_type": "text", "nullable": False, "primary_key": True},
    "call_task_id": {"data_type": "bigint", "nullable": False},
    "contact_id": {"data_type": "bigint", "nullable": True},
    "company_id": {"data_type": "bigint", "nullable": True},
    "user_name": {"data_type": "text", "nullable": False},
    "company_name": {"data_type": "text", "nullable": False},
    "phone": {"data_type": "text", "nullable": False},
    "progress": {"data_type": "bigint", "nullable": True},
    "progress_label": {"data_type": "text", "nullable": True},
}

_ARROW_TYPES = {
    "bigint": pa.int64(),
    "text": pa.string(),
    "date": pa.date32(),
    "time": pa.time64("us"),
}


def _arrow_schema(columns: dict[str, dict[str, Any]]) -> pa.Schema:
    return pa.schema(
        [
            pa.field(name, _ARROW_TYPES[hint["data_type"]], nullable=hint["nullable"])
            for name, hint in columns.items()
        ]
    )


TASK_SCHEMA = _arrow_schema(TASK_COLUMNS)
USER_SCHEMA = _arrow_schema(USER_COLUMNS)


def status_text(status: TaskStatus | str) -> str:
    """A task's status as the server's label: known or raw, always text."""
    return status.value if isinstance(status, TaskStatus) else str(status)


def _day_and_time(value: date | datetime) -> tuple[date, time | None]:
    """A start or end as its day, and its time of day when the server sent one."""
    if isinstance(value, datetime):
        return value.date(), value.time().replace(tzinfo=None)
    return value, None


def _code_and_label(value: Progress | str) -> tuple[int | None, str | None]:
    """A progress as (code, label); an unknown one keeps its raw text as the label, and its
    number as the code when it is a whole number."""
    if isinstance(value, Progress):
        return int(value), value.label
    text = str(value)
    stripped = text.strip()
    code = int(stripped) if stripped.lstrip("-").isdigit() and stripped != "-" else None
    return code, text


def row_key(user: TaskUser) -> str:
    """A customer's row identity (every field but ``progress``) as a short stable digest."""
    identity = [
        user.call_task_id,
        user.contact_id,
        user.company_id,
        user.user_name,
        user.company_name,
        user.phone,
    ]
    return hashlib.blake2b(orjson.dumps(identity), digest_size=16).hexdigest()


def _task_columns(tasks: Sequence[CallTask]) -> dict[str, list[Any]]:
    starts = [_day_and_time(t.task_start) for t in tasks]
    ends = [_day_and_time(t.task_end) for t in tasks]
    return {
        "call_task_id": [t.call_task_id for t in tasks],
        "task_name": [t.task_name for t in tasks],
        "task_start": [s[0] for s in starts],
        "task_start_time": [s[1] for s in starts],
        "task_end": [e[0] for e in ends],
        "task_end_time": [e[1] for e in ends],
        "status": [status_text(t.status) for t in tasks],
    }


def _user_columns(users: Sequence[TaskUser]) -> dict[str, list[Any]]:
    progress = [_code_and_label(u.progress) for u in users]
    return {
        "row_key": [row_key(u) for u in users],
        "call_task_id": [u.call_task_id for u in users],
        "contact_id": [u.contact_id for u in users],
        "company_id": [u.company_id for u in users],
        "user_name": [u.user_name for u in users],
        "company_name": [u.company_name for u in users],
        "phone": [u.phone for u in users],
        "progress": [p[0] for p in progress],
        "progress_label": [p[1] for p in progress],
    }


def task_table(tasks: Sequence[CallTask]) -> pa.Table:
    """One page of tasks as an Arrow table of the declared types."""
    return pa.Table.from_pydict(_task_columns(tasks), schema=TASK_SCHEMA)


def user_table(users: Sequence[TaskUser]) -> pa.Table:
    """One page of customers as an Arrow table of the declared types."""
    return pa.Table.from_pydict(_user_columns(users), schema=USER_SCHEMA)


def _as_dicts(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def task_dicts(tasks: Sequence[CallTask]) -> list[dict[str, Any]]:
    """One page of tasks as dicts (dlt's default path; the benchmark compares the two)."""
    return _as_dicts(_task_columns(tasks))


def user_dicts(users: Iterable[TaskUser]) -> list[dict[str, Any]]:
    """One page of customers as dicts."""
    return _as_dicts(_user_columns(list(users)))
