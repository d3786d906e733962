"""The SQLite export: upserted tables, the checkpoint in the page's own transaction, run history.

Tables ``call_tasks`` and ``task_users`` carry the SDK's field names plus:

* ``occurrence``: 0, or 1, 2... for a row equal to one before it on the same
  page, so that equal rows never collapse into one;
* ``row_key``: the primary key, JSON of the row identity (a task by
  ``call_task_id``, a customer by every field but ``progress``, NULL ids kept
  as such) and ``occurrence``. A real column rather than a composite key,
  because NULLs never conflict in a key and would defeat the upsert;
* ``position``: the row's place in the latest run's order;
* ``first_seen``/``last_seen`` (UTC, ISO 8601) and ``first_run``/``last_run``
  (ids in ``exports``): a row whose ``last_run`` is older than the latest
  complete run is gone from the server.

``export_state`` holds the checkpoint of an unfinished run, one per table, and
is written in the same transaction as that page's rows: a resume is exact by
construction. ``exports`` keeps every run's summary.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from . import _checkpoint
from ._sinks import LocationError, check_location

__all__ = ["SqliteSink"]

TABLES = {"tasks": "call_tasks", "users": "task_users"}
_TYPES = {
    "call_task_id": "INTEGER NOT NULL",
    "contact_id": "INTEGER",
    "company_id": "INTEGER",
}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS exports (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT NOT NULL, status TEXT NOT NULL,
    started TEXT NOT NULL, finished TEXT, rows INTEGER, count_start INTEGER,
    count_end INTEGER, repeats_dropped INTEGER, pages_reread INTEGER, retries INTEGER,
    shape TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS export_state (
    what TEXT PRIMARY KEY, run_id INTEGER NOT NULL, state TEXT NOT NULL
);
"""


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class SqliteSink:
    """Upserts each page and its checkpoint in one transaction (stdlib ``sqlite3``, WAL)."""

    def __init__(self, path: Path, what: str, fields: list[str], identity: list[str]) -> None:
        self.path = path
        self.where = str(path)
        self.what = what
        self.table = TABLES[what]
        self.fields = fields
        self.identity = identity
        self.run_id = 0
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        check_location(self.path)
        try:  # sqlite3 says only "unable to open database file": learn the reason first
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666))
        except OSError as exc:
            raise LocationError(f"cannot write {self.path}: {exc.strerror}") from None
        try:
            db = sqlite3.connect(self.path, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit survives a power cut too, not only a killed process.
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA + self._table_sql())
        except sqlite3.DatabaseError as exc:
            raise LocationError(f"cannot use {self.path} as an SQLite database: {exc}") from None
        return db

    def _table_sql(self) -> str:
        columns = ", ".join(f"{f} {_TYPES.get(f, 'TEXT')}" for f in self.fields)
        return (
            f"CREATE TABLE IF NOT EXISTS {self.table} (row_key TEXT PRIMARY KEY, {columns}, "
            "occurrence INTEGER NOT NULL, position INTEGER NOT NULL, first_seen TEXT NOT NULL, "
            "last_seen TEXT NOT NULL, first_run INTEGER NOT NULL, last_run INTEGER NOT NULL);"
        )

    def open(self, shape: dict[str, Any], restart: bool) -> dict[str, Any] | None:
        self._db = db = self._connect()
        where = f"{self.path} (table export_state, {self.what})"
        found = db.execute(
            "SELECT run_id, state FROM export_state WHERE what = ?", (self.what,)
        ).fetchone()
        if found is not None and restart:
            with _transaction(db):
                db.execute("DELETE FROM export_state WHERE what = ?", (self.what,))
                db.execute("UPDATE exports SET status = 'discarded' WHERE run_id = ?", (found[0],))
            found = None
        if found is not None:
            saved = _checkpoint.loads(found[1], where)
            _checkpoint.check_shape(saved["shape"], shape, where)
            self.run_id = found[0]
            return saved
        with _transaction(db):
            cur = db.execute(
                "INSERT INTO exports (what, status, started, shape) VALUES (?, 'running', ?, ?)",
                (self.what, _now(), orjson.dumps(shape).decode()),
            )
        self.run_id = int(cur.lastrowid or 0)
        return None

    def commit(self, rows: list[dict[str, Any]], state: dict[str, Any]) -> None:
        assert self._db is not None
        db = self._db
        now = _now()
        first = state["rows"] - len(rows)
        occurrences: dict[str, int] = {}
        values = []
        for i, row in enumerate(rows):
            ident = orjson.dumps([row[f] for f in self.identity]).decode()
            occurrence = occurrences.get(ident, 0)
            occurrences[ident] = occurrence + 1
            key = ident[:-1] + f",{occurrence}]"
            values.append(
                (
                    key,
                    *(row[f] for f in self.fields),
                    occurrence,
                    first + i + 1,
                    now,
                    now,
                    self.run_id,
                    self.run_id,
                )
            )
        columns = [
            "row_key",
            *self.fields,
            "occurrence",
            "position",
            "first_seen",
            "last_seen",
            "first_run",
            "last_run",
        ]
        kept = {"row_key", "first_seen", "first_run"}
        update = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in kept)
        sql = (
            f"INSERT INTO {self.table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))}) "
            f"ON CONFLICT(row_key) DO UPDATE SET {update}"
        )
        with _transaction(db):
            db.executemany(sql, values)
            db.execute(
                "INSERT INTO export_state (what, run_id, state) VALUES (?, ?, ?) "
                "ON CONFLICT(what) DO UPDATE SET run_id = excluded.run_id, state = excluded.state",
                (self.what, self.run_id, _checkpoint.dumps(state).decode()),
            )

    def finish(self, state: dict[str, Any]) -> None:
        assert self._db is not None
        audit = state.get("audit", {})
        with _transaction(self._db):
            self._db.execute("DELETE FROM export_state WHERE what = ?", (self.what,))
            self._db.execute(
                "UPDATE exports SET status = 'complete', finished = ?, rows = ?, "
                "count_start = ?, count_end = ?, repeats_dropped = ?, pages_reread = ?, "
                "retries = ? WHERE run_id = ?",
                (
                    _now(),
                    state["rows"],
                    state.get("count_start"),
                    state.get("count_end"),
                    audit.get("repeats_dropped", 0),
                    audit.get("pages_reread", 0),
                    audit.get("retries", 0),
                    self.run_id,
                ),
            )
        self.close()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


class _transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on any error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
