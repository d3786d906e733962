"""The sinks' promises a user sees, in process: what a resume, a restart, a stop or a finish
leaves on disk, what a bad location or a foreign checkpoint is refused with, and what an
older table becomes.

The end-to-end tests run the command line in another process; these run the sinks in this
one, so that a change to ``sinks.py`` or ``sqlite.py`` fails a test that reads the files and
rows it leaves.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bangwo8_async.export import checkpoint
from bangwo8_async.export.checkpoint import CheckpointError
from bangwo8_async.export.location import LocationError
from bangwo8_async.export.sinks import StdoutSink
from bangwo8_async.export.sqlite import SqliteSink
from tests._sinks import FIELDS, SHAPE, file_sink, names, query, rows, sqlite, stopped_after


def encoded(fmt: str, *ids: int) -> bytes:
    """The bytes a complete export of these rows holds."""
    if fmt == "csv":
        return ("call_task_id,name\r\n" + "".join(f"{i},任务{i}\r\n" for i in ids)).encode()
    return "".join(f'{{"call_task_id":{i},"name":"任务{i}"}}\n' for i in ids).encode()


# FileSink: resuming after a crash


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_resume_cuts_away_what_a_crash_wrote_past_the_last_commit(
    tmp_path: Path, fmt: str
) -> None:
    """Bytes past the checkpoint's offset (a page and a torn line) are gone, nothing repeats."""
    out = tmp_path / f"o.{fmt}"
    part = tmp_path / f"o.{fmt}.part"
    stopped_after(file_sink(out, fmt), 1, 2)
    committed = part.read_bytes()
    torn = encoded("jsonl", 3, 4) + b'{"call_task_id":5,"na'  # written, never checkpointed
    with part.open("ab") as f:
        f.write(torn)
    again = file_sink(out, fmt)
    saved = again.open(SHAPE, restart=False)
    assert saved is not None and saved["rows"] == 2
    assert part.read_bytes() == committed
    again.commit(rows(3), {"shape": SHAPE, "rows": 3})  # row 4 is gone from the server since
    again.finish({"rows": 3})
    assert names(tmp_path) == [f"o.{fmt}"]
    assert out.read_bytes() == encoded(fmt, 1, 2, 3)


def test_a_resume_with_nothing_more_to_read_finishes_with_the_committed_rows_only(
    tmp_path: Path,
) -> None:
    """The crash's uncommitted page never reaches the complete file."""
    out = tmp_path / "o.jsonl"
    stopped_after(file_sink(out, "jsonl"), 1, 2)
    with (tmp_path / "o.jsonl.part").open("ab") as f:
        f.write(encoded("jsonl", 3))
    again = file_sink(out)
    assert again.open(SHAPE, restart=False) is not None
    again.finish({"rows": 2})
    assert out.read_bytes() == encoded("jsonl", 1, 2)


def test_a_resume_appends_after_the_committed_rows(tmp_path: Path) -> None:
    """Each row once, in order, across a stop."""
    out = tmp_path / "o.jsonl"
    stopped_after(file_sink(out, "jsonl"), 1, 2)
    again = file_sink(out)
    again.open(SHAPE, restart=False)
    again.commit(rows(3, 4), {"shape": SHAPE, "rows": 4})
    again.close()
    last = file_sink(out)
    saved = last.open(SHAPE, restart=False)
    assert saved is not None and saved["rows"] == 4
    last.finish({"rows": 4})
    assert out.read_bytes() == encoded("jsonl", 1, 2, 3, 4)


def test_a_part_shorter_than_its_checkpoint_is_refused(tmp_path: Path) -> None:
    """Rows the checkpoint counts are missing: a clear error, the files left as they are."""
    out = tmp_path / "o.jsonl"
    stopped_after(file_sink(out, "jsonl"), 1, 2)
    part = tmp_path / "o.jsonl.part"
    part.write_bytes(part.read_bytes()[:-3])
    with pytest.raises(CheckpointError, match=r"is missing or shorter than .* --restart"):
        file_sink(out).open(SHAPE, restart=False)
    assert names(tmp_path) == ["o.jsonl.part", "o.jsonl.state.json"]


def test_a_missing_part_is_refused_even_when_nothing_was_written(tmp_path: Path) -> None:
    """A checkpoint at offset 0 (a page whose rows were all repeats) still needs its part."""
    out = tmp_path / "o.jsonl"
    stopped_after(file_sink(out, "jsonl"))
    (tmp_path / "o.jsonl.part").unlink()
    with pytest.raises(CheckpointError, match="is missing or shorter than"):
        file_sink(out).open(SHAPE, restart=False)


def test_other_arguments_are_refused_on_resume(tmp_path: Path) -> None:
    """A partial file export made with other arguments is never continued."""
    out = tmp_path / "o.jsonl"
    stopped_after(file_sink(out, "jsonl"), 1)
    with pytest.raises(CheckpointError, match=r"other arguments \(per_page=2\)"):
        file_sink(out).open({"what": "tasks", "per_page": 50}, restart=False)


def test_restart_discards_a_stopped_export(tmp_path: Path) -> None:
    """--restart: no checkpoint comes back and the complete file holds the new rows only."""
    out = tmp_path / "o.jsonl"
    stopped_after(file_sink(out, "jsonl"), 1, 2)
    again = file_sink(out)
    assert again.open(SHAPE, restart=True) is None
    again.commit(rows(7), {"shape": SHAPE, "rows": 1})
    again.finish({"rows": 1})
    assert out.read_bytes() == encoded("jsonl", 7)


def test_restart_with_nothing_to_discard_starts_a_new_export(tmp_path: Path) -> None:
    """--restart on a first run is no error."""
    sink = file_sink(tmp_path / "o.jsonl")
    assert sink.open(SHAPE, restart=True) is None
    sink.finish({"rows": 0})
    assert names(tmp_path) == ["o.jsonl"]


def test_a_state_left_by_a_finished_export_starts_a_new_one(tmp_path: Path) -> None:
    """Stopped between the rename and dropping the state: the next run starts afresh."""
    out = tmp_path / "o.jsonl"
    sink = file_sink(out)
    sink.open(SHAPE, restart=False)
    sink.commit(rows(1, 2), {"shape": SHAPE, "rows": 2})
    state = (tmp_path / "o.jsonl.state.json").read_bytes()
    sink.finish({"rows": 2})
    (tmp_path / "o.jsonl.state.json").write_bytes(state)
    again = file_sink(out)
    assert again.open(SHAPE, restart=False) is None
    again.commit(rows(3), {"shape": SHAPE, "rows": 1})
    again.finish({"rows": 1})
    assert out.read_bytes() == encoded("jsonl", 3)


def test_an_earlier_complete_file_does_not_stop_a_resume(tmp_path: Path) -> None:
    """A finished export in place beside a stopped one: the stopped one resumes."""
    out = tmp_path / "o.jsonl"
    out.write_bytes(encoded("jsonl", 9))
    stopped_after(file_sink(out, "jsonl"), 1, 2)
    again = file_sink(out)
    saved = again.open(SHAPE, restart=False)
    assert saved is not None and saved["rows"] == 2
    again.commit(rows(3), {"shape": SHAPE, "rows": 3})
    again.finish({"rows": 3})
    assert out.read_bytes() == encoded("jsonl", 1, 2, 3)


def test_finishing_leaves_only_the_complete_file(tmp_path: Path) -> None:
    """The state and a crash's leftover temporary state are both gone."""
    out = tmp_path / "o.jsonl"
    sink = file_sink(out)
    sink.open(SHAPE, restart=False)
    sink.commit(rows(1), {"shape": SHAPE, "rows": 1})
    checkpoint.temporary(tmp_path / "o.jsonl.state.json").write_bytes(b"{")
    sink.finish({"rows": 1})
    assert names(tmp_path) == ["o.jsonl"]


def test_two_exports_into_one_file_are_refused_until_the_first_stops(tmp_path: Path) -> None:
    """The second writer is refused; once the first stops, it may resume the file."""
    out = tmp_path / "o.jsonl"
    first = file_sink(out)
    first.open(SHAPE, restart=False)
    first.commit(rows(1), {"shape": SHAPE, "rows": 1})
    second = file_sink(out)
    with pytest.raises(LocationError, match="another bangwo8 export is writing"):
        second.open(SHAPE, restart=False)
    first.close()
    third = file_sink(out)
    assert third.open(SHAPE, restart=False) is not None
    third.close()


def test_closing_a_finished_file_sink_again_leaves_other_files_alone(tmp_path: Path) -> None:
    """A second close closes nothing, not even a file opened since under the same number."""
    sink = file_sink(tmp_path / "o.jsonl")
    sink.open(SHAPE, restart=False)
    sink.finish({"rows": 0})
    with (tmp_path / "other").open("wb") as other:
        sink.close()
        other.write(b"still open")
    assert (tmp_path / "other").read_bytes() == b"still open"


@pytest.mark.parametrize(
    "make",
    [file_sink, lambda p: SqliteSink(p, "tasks", FIELDS, ["call_task_id"])],
    ids=["file", "sqlite"],
)
def test_a_missing_folder_is_refused_when_the_sink_opens(tmp_path: Path, make: Any) -> None:
    """The location's own reason, before anything is written; ``where`` names the path."""
    path = tmp_path / "missing" / "o.out"
    sink = make(path)
    assert sink.where == str(path)
    with pytest.raises(LocationError, match=f"folder {tmp_path / 'missing'} does not exist"):
        sink.open(SHAPE, restart=False)
    assert names(tmp_path) == []


# StdoutSink: a pipe's reader sees each page at once


def test_the_stream_sink_hands_on_the_header_and_each_page_at_once() -> None:
    """Behind a buffered pipe, what was written is readable after open+finish and commit."""
    r, w = os.pipe()
    os.set_blocking(r, False)
    try:
        with open(w, "wb", buffering=1 << 16) as stream:
            sink = StdoutSink("csv", FIELDS, excel=False, stream=stream)
            sink.open(SHAPE, restart=False)
            sink.finish({"rows": 0})
            assert os.read(r, 1000) == b"call_task_id,name\r\n"
            sink.commit(rows(1), {"rows": 1})
            assert os.read(r, 1000) == "1,任务1\r\n".encode()
            sink.close()
    finally:
        os.close(r)


# SqliteSink


def run(path: Path, page: list[dict[str, Any]], fields: list[str] = FIELDS) -> None:
    """One complete export of these rows."""
    sink = sqlite(path, fields)
    sink.open(SHAPE, restart=False)
    sink.commit(page, {"shape": SHAPE, "rows": len(page)})
    sink.finish({"rows": len(page)})


def test_sqlite_closing_a_sink_never_opened_or_already_closed_is_quiet(tmp_path: Path) -> None:
    """close() before open and after finish does nothing and raises nothing."""
    sqlite(tmp_path / "o.db").close()
    assert names(tmp_path) == []
    sink = sqlite(tmp_path / "o.db")
    sink.open(SHAPE, restart=False)
    sink.finish({"rows": 0})
    sink.close()
    sink.close()


def test_sqlite_stopping_or_finishing_releases_the_database(tmp_path: Path) -> None:
    """Once the last connection closes, only the database file is left (no -wal, no -shm)."""
    db = tmp_path / "o.db"
    sink = sqlite(db)
    sink.open(SHAPE, restart=False)
    sink.commit(rows(1), {"shape": SHAPE, "rows": 1})
    sink.close()
    assert names(tmp_path) == ["o.db"]
    again = sqlite(db)
    again.open(SHAPE, restart=False)
    again.finish({"rows": 1})
    assert names(tmp_path) == ["o.db"]


def test_sqlite_the_database_is_in_wal_mode_with_the_umask_permissions(tmp_path: Path) -> None:
    """WAL lets readers in while an export writes; the file's mode is the umask's."""
    db = tmp_path / "o.db"
    mask = os.umask(0o022)
    try:
        run(db, rows(1))
    finally:
        os.umask(mask)
    assert db.stat().st_mode & 0o777 == 0o644
    assert query(db, "PRAGMA journal_mode") == [("wal",)]


def test_sqlite_a_path_that_cannot_be_created_says_why(tmp_path: Path) -> None:
    """A link to a missing folder: the system's reason, not sqlite's "unable to open"."""
    db = tmp_path / "o.db"
    db.symlink_to(tmp_path / "missing" / "o.db")
    with pytest.raises(LocationError, match=r"cannot write .*: No such file or directory"):
        sqlite(db).open(SHAPE, restart=False)


def test_sqlite_restart_with_nothing_to_discard_starts_run_one(tmp_path: Path) -> None:
    """--restart on a first run is no error."""
    db = tmp_path / "o.db"
    sink = sqlite(db)
    assert sink.open(SHAPE, restart=True) is None
    sink.finish({"rows": 0})
    assert query(db, "SELECT run_id, status FROM exports") == [(1, "complete")]


def test_sqlite_a_restart_stopped_before_its_first_page_does_not_resume_the_old_run(
    tmp_path: Path,
) -> None:
    """The discarded run's checkpoint is gone at once, not when the new run first commits."""
    db = tmp_path / "o.db"
    stopped_after(sqlite(db), 1)
    second = sqlite(db)
    assert second.open(SHAPE, restart=True) is None
    second.close()
    third = sqlite(db)
    assert third.open(SHAPE, restart=False) is None
    third.close()
    assert query(db, "SELECT count(*) FROM export_state") == [(0,)]


def test_sqlite_other_arguments_are_refused_on_resume(tmp_path: Path) -> None:
    """A partial SQLite export made with other arguments is never continued."""
    db = tmp_path / "o.db"
    stopped_after(sqlite(db), 1)
    again = sqlite(db)
    with pytest.raises(CheckpointError, match=r"table export_state, tasks\) was made with other"):
        again.open({"what": "tasks", "per_page": 50}, restart=False)
    again.close()


def test_sqlite_a_table_dropped_by_hand_is_made_again_on_resume(tmp_path: Path) -> None:
    """The resumed run writes its next page into a new table rather than failing."""
    db = tmp_path / "o.db"
    stopped_after(sqlite(db), 1)
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("DROP TABLE call_tasks")
    again = sqlite(db)
    assert again.open(SHAPE, restart=False) is not None
    again.commit(rows(2), {"shape": SHAPE, "rows": 2})
    again.finish({"rows": 2})
    assert query(db, "SELECT call_task_id, position FROM call_tasks") == [(2, 2)]


def test_sqlite_equal_rows_on_one_page_are_kept_apart(tmp_path: Path) -> None:
    """Two equal rows: two rows, occurrence 0 and 1, in the row_key too."""
    db = tmp_path / "o.db"
    sink = sqlite(db)
    sink.open(SHAPE, restart=False)
    page = rows(5, 5, 6)
    sink.commit(page, {"shape": SHAPE, "rows": 3})
    sink.finish({"rows": 3})
    assert query(db, "SELECT row_key, call_task_id, occurrence, position FROM call_tasks") == [
        ("[5,0]", 5, 0, 1),
        ("[5,1]", 5, 1, 2),
        ("[6,0]", 6, 0, 3),
    ]


def test_sqlite_a_second_run_refreshes_rows_and_keeps_when_they_were_first_seen(
    tmp_path: Path,
) -> None:
    """A row seen again: its fields and last_run are the new run's, first_run the first's."""
    db = tmp_path / "o.db"
    run(db, rows(1, 2))
    sink = sqlite(db)
    sink.open(SHAPE, restart=False)
    sink.commit([{"call_task_id": 2, "name": "改名"}], {"shape": SHAPE, "rows": 1})
    sink.finish({"rows": 1})
    done = "SELECT call_task_id, name, position, first_run, last_run FROM call_tasks"
    assert query(db, done + " ORDER BY call_task_id") == [
        (1, "任务1", 1, 1, 1),
        (2, "改名", 1, 1, 2),
    ]


PROGRESS = ["call_task_id", "name", "progress"]
# A table as an older bangwo8 made it (progress TEXT), with what a user added to it.
OLD_TABLE = (
    "CREATE TABLE call_tasks (row_key TEXT PRIMARY KEY, call_task_id INTEGER NOT NULL, "
    "name TEXT, progress TEXT, occurrence INTEGER NOT NULL, position INTEGER NOT NULL, "
    "first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, first_run INTEGER NOT NULL, "
    "last_run INTEGER NOT NULL, note VARCHAR(20))"
)


def columns(path: Path) -> dict[str, str]:
    return {r[1]: r[2] for r in query(path, "PRAGMA table_info(call_tasks)")}


def test_sqlite_an_older_table_is_retyped_keeping_the_users_columns_indexes_and_triggers(
    tmp_path: Path,
) -> None:
    """progress becomes INTEGER; every row, a user's column, index and trigger come along."""
    db = tmp_path / "o.db"
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute(OLD_TABLE)
        conn.execute(
            "INSERT INTO call_tasks VALUES ('[1,0]', 1, '任务1', '2', 0, 1, '2024', '2024', 1, 1, "
            "'mine')"
        )
        conn.execute("CREATE INDEX by_name ON call_tasks (name)")
        conn.execute("CREATE TABLE seen (id INTEGER)")
        conn.execute(
            "CREATE TRIGGER noted AFTER INSERT ON call_tasks "
            "BEGIN INSERT INTO seen VALUES (new.call_task_id); END"
        )
        conn.execute("CREATE TABLE call_tasks__retyped (leftover TEXT)")  # an older crash's
    sink = sqlite(db, PROGRESS)
    assert sink.open(SHAPE, restart=False) is None
    sink.commit([{"call_task_id": 3, "name": "任务3", "progress": 1}], {"rows": 2})
    sink.finish({"rows": 2})
    assert columns(db) == {
        "row_key": "TEXT",
        "call_task_id": "INTEGER",
        "name": "TEXT",
        "progress": "INTEGER",
        "occurrence": "INTEGER",
        "position": "INTEGER",
        "first_seen": "TEXT",
        "last_seen": "TEXT",
        "first_run": "INTEGER",
        "last_run": "INTEGER",
        "note": "VARCHAR(20)",
    }
    kept = "SELECT call_task_id, progress, typeof(progress), note FROM call_tasks"
    assert query(db, kept + " ORDER BY call_task_id") == [
        (1, 2, "integer", "mine"),
        (3, 1, "integer", None),
    ]
    made = "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite%' ORDER BY name"
    assert query(db, made) == [
        ("index", "by_name"),
        ("table", "call_tasks"),
        ("table", "export_state"),
        ("table", "exports"),
        ("trigger", "noted"),
        ("table", "seen"),
    ]
    assert query(db, "SELECT id FROM seen") == [(3,)]


def test_sqlite_a_table_of_the_right_types_is_left_as_it_is(tmp_path: Path) -> None:
    """No retype: a user's column keeps its default and constraint, its table its SQL."""
    db = tmp_path / "o.db"
    run(db, [{"call_task_id": 1, "name": "任务1", "progress": 0}], PROGRESS)
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("ALTER TABLE call_tasks ADD COLUMN note TEXT NOT NULL DEFAULT 'new'")
    schema = "SELECT sql FROM sqlite_master WHERE name = 'call_tasks'"
    before = query(db, schema)
    sink = sqlite(db, PROGRESS)
    sink.open(SHAPE, restart=False)
    sink.commit([{"call_task_id": 2, "name": "任务2", "progress": 0}], {"rows": 1})
    sink.finish({"rows": 1})
    assert query(db, schema) == before
    assert query(db, "SELECT call_task_id, note FROM call_tasks ORDER BY 1") == [
        (1, "new"),
        (2, "new"),
    ]
