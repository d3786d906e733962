"""What the sink tests share: a shape, rows of it, and sinks stopped part way."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

from bangwo8_async.export.sinks import FileSink
from bangwo8_async.export.sqlite import SqliteSink

FIELDS = ["call_task_id", "name"]
SHAPE = {"what": "tasks", "per_page": 2}


def rows(*ids: int) -> list[dict[str, Any]]:
    return [{"call_task_id": i, "name": f"任务{i}"} for i in ids]


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def file_sink(path: Path, fmt: str = "jsonl") -> FileSink:
    return FileSink(path, fmt, FIELDS, excel=False)


def sqlite(path: Path, fields: list[str] = FIELDS) -> SqliteSink:
    return SqliteSink(path, "tasks", fields, ["call_task_id"])


def query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchall()


def stopped_after(sink: FileSink | SqliteSink, *ids: int) -> None:
    """An export into ``sink`` that committed one page of these rows, then stopped."""
    sink.open(SHAPE, restart=False)
    sink.commit(rows(*ids), {"shape": SHAPE, "rows": len(ids)})
    sink.close()
