"""One value, one format: every output writes a field as ``bw.to_dict`` does.

``bw.to_dict``, ``bangwo8 tasks list``, JSON lines, CSV and SQLite: a date-only
task is ``YYYY-MM-DD``, a date-time ``YYYY-MM-DDTHH:MM:SS``, ``progress`` the
integer code, ``status`` the label; a raw value the SDK does not know is kept.
SQLite's columns are typed for it (INTEGER ids and codes, TEXT dates).
"""

from __future__ import annotations

import contextlib
import csv
import sqlite3
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import ThreadedFake

from .test_cli import bangwo8

RAW_USERS = [
    {
        "cId": "11",
        "uId": "",
        "userName": "王伟",
        "companyName": "甲",
        "phone": "010",
        "progress": "回访中",
    },
    {
        "cId": "12",
        "uId": "7",
        "userName": "李娜",
        "companyName": "乙",
        "phone": "+86",
        "progress": 5,
    },
    {"cId": "", "uId": "8", "userName": "张敏", "companyName": "丙", "phone": "0", "progress": "1"},
    {
        "cId": "13",
        "uId": "9",
        "userName": "刘洋",
        "companyName": "丁",
        "phone": "1",
        "progress": "待处理",
    },
]


@pytest.fixture
def server(threaded_fake: Callable[..., ThreadedFake]) -> ThreadedFake:
    """Dates with and without a time, an unknown status, unknown progress values."""
    from bangwo8_async.testing._data import TaskRecord

    served = threaded_fake(tasks=12, users_per_task=2)
    state = served.fake.state
    odd = TaskRecord(
        state.new_id(), "新任务", "2022-01-05", "2022-01-06 18:00:00", "暂停", 1, date(2022, 1, 1)
    )
    state.add_task(odd)
    state.set_customers(odd.call_task_id, RAW_USERS)
    return served


def export(server: ThreadedFake, what: str, out: Path) -> None:
    done = bangwo8("export", what, "-o", str(out), env=server.env)
    assert done.returncode == 0, done.stderr


def sqlite_rows(path: Path, table: str, fields: list[str]) -> list[dict[str, Any]]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        cursor = db.execute(f"SELECT {', '.join(fields)} FROM {table} ORDER BY position")
        return [dict(zip(fields, row, strict=True)) for row in cursor]


def csv_text(value: Any) -> str:
    return "" if value is None else str(value)


@pytest.mark.parametrize("what", ["tasks", "users"])
def test_every_output_writes_each_field_as_to_dict_does(
    what: str, server: ThreadedFake, tmp_path: Path
) -> None:
    export(server, what, tmp_path / "x.jsonl")
    export(server, what, tmp_path / "x.csv")
    export(server, what, tmp_path / "x.db")
    rows = [orjson.loads(line) for line in (tmp_path / "x.jsonl").read_bytes().splitlines()]
    fields = list(rows[0])
    table = {"tasks": "call_tasks", "users": "task_users"}[what]
    with (tmp_path / "x.csv").open(encoding="utf-8", newline="") as f:
        assert list(csv.DictReader(f)) == [{k: csv_text(v) for k, v in r.items()} for r in rows]
    stored = sqlite_rows(tmp_path / "x.db", table, fields)
    # SQLite's INTEGER affinity stores the unknown code "5" as the number it is.
    number = {"5": 5}
    assert stored == [
        {k: number.get(v, v) if k == "progress" else v for k, v in r.items()} for r in rows
    ]
    if what == "tasks":
        odd = rows[-1]
        assert (odd["task_start"], odd["task_end"], odd["status"]) == (
            "2022-01-05",
            "2022-01-06T18:00:00",
            "暂停",
        )
        assert {len(r["task_start"]) for r in rows} == {10, 19}  # as the server sent them
        listed = bangwo8("tasks", "list", env=server.env)
        assert orjson.loads(listed.stdout)["items"] == rows
    else:
        assert [r["progress"] for r in rows[-4:]] == ["回访中", "5", 1, -1]
        assert {r["progress"] for r in rows[:-4]} <= {-1, 0, 1}


def test_sqlite_columns_are_typed_for_their_one_format(
    server: ThreadedFake, tmp_path: Path
) -> None:
    db_path = tmp_path / "x.db"
    export(server, "tasks", db_path)
    export(server, "users", db_path)
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        declared = {
            table: {row[1]: row[2] for row in db.execute(f"PRAGMA table_info({table})")}
            for table in ("call_tasks", "task_users")
        }
        stored = dict(
            db.execute(
                "SELECT progress, typeof(progress) FROM task_users WHERE call_task_id = ("
                "SELECT max(call_task_id) FROM task_users)"
            ).fetchall()
        )
        start = db.execute("SELECT DISTINCT typeof(task_start) FROM call_tasks").fetchall()
        days = db.execute("SELECT count(*) FROM call_tasks WHERE date(task_start) IS NULL")
        assert days.fetchone() == (0,)  # SQLite's date functions read every one
    assert {k: declared["call_tasks"][k] for k in ("call_task_id", "task_start", "status")} == {
        "call_task_id": "INTEGER",
        "task_start": "TEXT",
        "status": "TEXT",
    }
    assert {k: declared["task_users"][k] for k in ("contact_id", "phone", "progress")} == {
        "contact_id": "INTEGER",
        "phone": "TEXT",
        "progress": "INTEGER",
    }
    assert stored == {"回访中": "text", 5: "integer", 1: "integer", -1: "integer"}
    assert start == [("text",)]


# The customers' table as bangwo8 0.1.0 made it: every field TEXT but the ids.
OLD_USERS_TABLE = (
    "CREATE TABLE task_users (row_key TEXT PRIMARY KEY, call_task_id INTEGER NOT NULL, "
    "contact_id INTEGER, company_id INTEGER, user_name TEXT, company_name TEXT, phone TEXT, "
    "progress TEXT, occurrence INTEGER NOT NULL, position INTEGER NOT NULL, "
    "first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, first_run INTEGER NOT NULL, "
    "last_run INTEGER NOT NULL)"
)


def _make_old(db_path: Path, partial: bool) -> None:
    """Turn an export into what the old version left: ``progress`` stored as TEXT."""
    with contextlib.closing(sqlite3.connect(db_path, isolation_level=None)) as db:
        db.execute("ALTER TABLE task_users RENAME TO t")
        db.execute(OLD_USERS_TABLE)
        db.execute("INSERT INTO task_users SELECT * FROM t")
        db.execute("DROP TABLE t")
        db.execute(
            "INSERT INTO task_users SELECT '[0,0]', 1, NULL, NULL, 'gone', '', '', '0', "
            "0, 0, '2024', '2024', 1, 1"
        )  # a row gone from the server since
        if partial:
            (shape,) = db.execute("SELECT shape FROM exports WHERE run_id = 1").fetchone()
            state = {"version": 1, "shape": orjson.loads(shape), "rows": 3, "pages": 1}
            db.execute("UPDATE exports SET status = 'running'")
            db.execute("INSERT INTO export_state VALUES ('users', 1, ?)", (orjson.dumps(state),))
        assert db.execute("SELECT DISTINCT typeof(progress) FROM task_users").fetchall() == [
            ("text",)
        ]


def _progress_types(db_path: Path) -> tuple[str, list[tuple[Any, ...]]]:
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        declared = {r[1]: r[2] for r in db.execute("PRAGMA table_info(task_users)")}["progress"]
        kinds = db.execute(
            "SELECT typeof(progress), count(*) FROM task_users GROUP BY 1 ORDER BY 1"
        ).fetchall()
    return declared, kinds


def test_an_old_complete_sqlite_export_is_retyped_and_refreshed(
    server: ThreadedFake, tmp_path: Path
) -> None:
    db_path = tmp_path / "x.db"
    export(server, "users", db_path)
    _make_old(db_path, partial=False)
    with contextlib.closing(sqlite3.connect(db_path, isolation_level=None)) as db:
        # What a user may have added to the table: a column of their own, an index.
        db.execute("ALTER TABLE task_users ADD COLUMN note TEXT")
        db.execute("UPDATE task_users SET note = 'mine' WHERE user_name = 'gone'")
        db.execute("CREATE INDEX by_phone ON task_users (phone)")
    export(server, "users", db_path)
    # Every row is an INTEGER code now, the one gone from the server too; the label stays.
    assert _progress_types(db_path) == ("INTEGER", [("integer", 28), ("text", 1)])
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        assert db.execute("SELECT run_id, status FROM exports").fetchall() == [
            (1, "complete"),
            (2, "complete"),
        ]
        gone = "SELECT progress, last_run, note FROM task_users WHERE user_name = 'gone'"
        assert db.execute(gone).fetchone() == (0, 1, "mine")
        indexes = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'task_users'"
        assert ("by_phone",) in db.execute(indexes).fetchall()


def test_an_old_partial_sqlite_export_is_refused_until_restarted(
    server: ThreadedFake, tmp_path: Path
) -> None:
    db_path = tmp_path / "x.db"
    export(server, "users", db_path)
    _make_old(db_path, partial=True)
    refused = bangwo8("export", "users", "-o", str(db_path), env=server.env)
    assert refused.returncode == 2
    assert refused.stderr.decode() == (
        f"bangwo8: error: {db_path} (table export_state, users) is a partial export by another "
        "version of bangwo8 (state format 1, this one reads 2), whose rows may be written in "
        "other formats; run again with --restart to start over\n"
    )
    assert _progress_types(db_path) == ("TEXT", [("text", 29)])  # refused: nothing touched
    done = bangwo8("export", "users", "-o", str(db_path), "--restart", env=server.env)
    assert done.returncode == 0, done.stderr
    assert _progress_types(db_path) == ("INTEGER", [("integer", 28), ("text", 1)])
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        assert db.execute("SELECT run_id, status FROM exports").fetchall() == [
            (1, "discarded"),
            (2, "complete"),
        ]
