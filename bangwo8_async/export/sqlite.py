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

The fields' columns are typed for the one format every output gives them
(:func:`bangwo8_async.to_dict`'s): INTEGER ids and ``progress`` code, TEXT
names, phones, ``status`` label and ISO 8601 dates. A table made by an older
bangwo8 (``progress`` TEXT) is retyped when an export next writes to it.

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

from . import checkpoint
from .location import LocationError, check_location

__all__ = ["SqliteSink"]

TABLES = {"tasks": "call_tasks", "users": "task_users"}
#: Each field's column type: INTEGER for ids and codes, TEXT for the rest (dates as ISO 8601
#: text, as ``to_dict`` writes them). A raw ``progress`` that is no known code stays as sent:
#: INTEGER affinity keeps a label as TEXT and stores an unknown number as that number.
_TYPES = {
    "call_task_id": "INTEGER NOT NULL",
    "contact_id": "INTEGER",
    "company_id": "INTEGER",
    "progress": "INTEGER",
}
#: The columns beside the fields, which a retyped table keeps as they are.
_BOOKKEEPING = frozenset(
    ("row_key", "occurrence", "position", "first_seen", "last_seen", "first_run", "last_run")
)
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
            db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise LocationError(f"cannot use {self.path} as an SQLite database: {exc}") from None
        return db

    def _table_sql(self, name: str, extra: str = "") -> str:
        columns = ", ".join(f"{f} {_TYPES.get(f, 'TEXT')}" for f in self.fields)
        return (
            f"CREATE TABLE IF NOT EXISTS {name} (row_key TEXT PRIMARY KEY, {columns}, "
            "occurrence INTEGER NOT NULL, position INTEGER NOT NULL, first_seen TEXT NOT NULL, "
            "last_seen TEXT NOT NULL, first_run INTEGER NOT NULL, "
            f"last_run INTEGER NOT NULL{extra});"
        )

    def _ensure_table(self, db: sqlite3.Connection) -> None:
        """Create the table, or retype one an older bangwo8 made (``progress`` as TEXT).

        SQLite cannot change a column's type in place: the rows move to a new
        table in one transaction. INTEGER affinity turns the old text codes into
        integers; every other value moves as it is (a date an older version wrote
        as its midnight stays so until a run writes that row again). Columns,
        indexes and triggers a user added to the table come along.
        """
        found = {row[1]: row[2] for row in db.execute(f"PRAGMA table_info({self.table})")}
        if not found:
            db.executescript(self._table_sql(self.table))
            return
        wanted = {f: _TYPES.get(f, "TEXT").split()[0] for f in self.fields}
        if all(found.get(f, "").upper() == kind for f, kind in wanted.items()):
            return
        theirs = [c for c in found if c not in wanted and c not in _BOOKKEEPING]
        extra = "".join(f", {c} {found[c]}" for c in theirs)
        columns = ", ".join(found)
        new = f"{self.table}__retyped"
        with _transaction(db):
            kept = db.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') "
                "AND sql IS NOT NULL",
                (self.table,),
            ).fetchall()
            db.execute(f"DROP TABLE IF EXISTS {new}")
            db.execute(self._table_sql(new, extra))
            db.execute(f"INSERT INTO {new} ({columns}) SELECT {columns} FROM {self.table}")
            db.execute(f"DROP TABLE {self.table}")
            db.execute(f"ALTER TABLE {new} RENAME TO {self.table}")
            for (sql,) in kept:
                db.execute(sql)

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
            saved = checkpoint.loads(found[1], where)
            checkpoint.check_shape(saved["shape"], shape, where)
            self._ensure_table(db)
            self.run_id = found[0]
            return saved
        self._ensure_table(db)
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
                (self.what, self.run_id, checkpoint.dumps(state).decode()),
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
