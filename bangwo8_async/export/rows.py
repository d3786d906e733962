"""An export's rows: the fields of each kind, each in the one format every output writes."""

from __future__ import annotations

from typing import Any

import attrs

from ..converter import to_dict
from ..models import CallTask, TaskUser

TASK_FIELDS = [f.name for f in attrs.fields(CallTask)]
USER_FIELDS = [f.name for f in attrs.fields(TaskUser)]


def export_row(model: CallTask | TaskUser) -> dict[str, Any]:
    """One exported row: :func:`bangwo8_async.to_dict`, so that every output (JSON lines,
    CSV, SQLite, ``tasks list``) writes each field in the one format ``to_dict`` gives it."""
    return to_dict(model)
