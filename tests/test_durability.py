"""Rows durable before the checkpoint that counts them; the checkpoint's rename durable too.

A spy on ``os.fsync`` and ``os.replace`` records, in order, what reached the
disk: the data file (``PATH.part``), the state's temporary file, the rename of
that file onto ``PATH.state.json``, and the directory that holds them. A power
cut after any step must leave a state whose offset the data file covers.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import orjson
import pytest

from bangwo8_async.export import checkpoint
from bangwo8_async.export.sinks import FileSink
from bangwo8_async.export.sqlite import SqliteSink

FIELDS = ["call_task_id", "name"]


class DiskSpy:
    """Records each fsync (what it made durable, and how big) and each rename, in order."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.events: list[tuple[str, str, int]] = []
        self._fsync = os.fsync
        self._replace = os.replace

    def fsync(self, fd: int) -> None:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            same = os.path.samestat(info, os.stat(self.folder))
            self.events.append(("fsync", "<dir>" if same else "<other dir>", 0))
        else:
            self.events.append(("fsync", self._name_of(info), info.st_size))
        self._fsync(fd)

    def replace(self, src: Any, dst: Any, **kwargs: Any) -> None:
        self._replace(src, dst, **kwargs)
        self.events.append(("replace", Path(dst).name, os.stat(dst).st_size))

    def _name_of(self, info: os.stat_result) -> str:
        for entry in self.folder.iterdir():
            if os.path.samestat(info, entry.stat()):
                return entry.name
        return "<unknown>"

    def names(self) -> list[str]:
        return [f"{kind} {what}" for kind, what, _ in self.events]


@pytest.fixture
def spy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DiskSpy:
    recorder = DiskSpy(tmp_path)
    monkeypatch.setattr(os, "fsync", recorder.fsync)
    monkeypatch.setattr(os, "replace", recorder.replace)
    return recorder


def rows(first: int, n: int) -> list[dict[str, Any]]:
    return [{"call_task_id": i, "name": f"任务{i}"} for i in range(first, first + n)]


def test_a_page_reaches_the_disk_before_the_state_that_counts_it(
    tmp_path: Path, spy: DiskSpy
) -> None:
    sink = FileSink(tmp_path / "out.jsonl", "jsonl", FIELDS, excel=False)
    assert sink.open({"what": "tasks"}, restart=False) is None
    spy.events.clear()
    sink.commit(rows(1, 3), {"rows": 3, "cursor": 2})
    assert spy.names() == [
        "fsync out.jsonl.part",  # the rows first
        "fsync out.jsonl.state.json.tmp",  # then the new state, whole, under its temporary name
        "replace out.jsonl.state.json",  # then it takes the old one's place
        "fsync <dir>",  # and the rename itself survives a power cut
    ]
    synced = spy.events[0][2]
    state = orjson.loads((tmp_path / "out.jsonl.state.json").read_bytes())
    assert state["offset"] == synced == (tmp_path / "out.jsonl.part").stat().st_size
    sink.close()


def test_every_page_repeats_the_order_and_the_state_never_outruns_the_rows(
    tmp_path: Path, spy: DiskSpy
) -> None:
    sink = FileSink(tmp_path / "out.csv", "csv", FIELDS, excel=True)
    sink.open({"what": "tasks"}, restart=False)
    spy.events.clear()
    for page in range(3):
        sink.commit(rows(1 + 10 * page, 10), {"rows": 10 * (page + 1)})
    assert spy.names() == 3 * [
        "fsync out.csv.part",
        "fsync out.csv.state.json.tmp",
        "replace out.csv.state.json",
        "fsync <dir>",
    ]
    part_synced = [size for kind, what, size in spy.events if what == "out.csv.part"]
    assert part_synced == sorted(set(part_synced))  # each page grew the file, then was synced
    state = orjson.loads((tmp_path / "out.csv.state.json").read_bytes())
    assert state["offset"] == part_synced[-1]
    sink.close()


def test_finishing_syncs_the_rows_then_makes_both_renames_durable(
    tmp_path: Path, spy: DiskSpy
) -> None:
    sink = FileSink(tmp_path / "out.jsonl", "jsonl", FIELDS, excel=False)
    sink.open({"what": "tasks"}, restart=False)
    sink.commit(rows(1, 2), {"rows": 2})
    spy.events.clear()
    sink.finish({"rows": 2})
    assert spy.names() == [
        "fsync out.jsonl.part",
        "replace out.jsonl",  # the complete file in place, durably,
        "fsync <dir>",
        "fsync <dir>",  # and the state's removal durable too
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_write_atomic_syncs_the_data_then_renames_then_syncs_the_directory(
    tmp_path: Path, spy: DiskSpy
) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    checkpoint.write_atomic(target, b'{"new": 1}')
    assert spy.names() == ["fsync state.json.tmp", "replace state.json", "fsync <dir>"]
    assert spy.events[0][2] == len(b'{"new": 1}')  # synced whole, before the rename
    assert target.read_bytes() == b'{"new": 1}'
    assert not checkpoint.temporary(target).exists()


def test_fsync_dir_syncs_the_folder_that_holds_the_path(tmp_path: Path, spy: DiskSpy) -> None:
    checkpoint.fsync_dir(tmp_path / "anything")
    assert spy.names() == ["fsync <dir>"]


def statements(sink: SqliteSink) -> list[str]:
    """Start tracing the statements the sink sends to SQLite."""
    assert sink._db is not None
    sent: list[str] = []
    sink._db.set_trace_callback(sent.append)
    return sent


def test_sqlite_syncs_every_commit_in_full_with_its_rows_and_state_in_one_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect = sqlite3.connect

    def built_for_speed(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        # Builds with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1 sync a WAL commit only at checkpoints:
        # the sink must ask for FULL itself, whatever this build's default.
        db: sqlite3.Connection = connect(*args, **kwargs)
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    monkeypatch.setattr(sqlite3, "connect", built_for_speed)
    sink = SqliteSink(tmp_path / "out.db", "tasks", FIELDS, ["call_task_id"])
    sink.open({"what": "tasks"}, restart=False)
    assert sink._db is not None
    # FULL in WAL mode: each COMMIT is fsynced, so a power cut keeps the page and its state.
    assert sink._db.execute("PRAGMA synchronous").fetchone() == (2,)
    assert sink._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    sent = statements(sink)
    sink.commit(rows(1, 2), {"rows": 2, "cursor": 2})
    kinds = [s.split()[0] + (" " + s.split()[2] if s.startswith("INSERT") else "") for s in sent]
    rows_then_state = ["INSERT call_tasks", "INSERT call_tasks", "INSERT export_state"]
    assert kinds == ["BEGIN", *rows_then_state, "COMMIT"]
    sink.close()
    with connect(tmp_path / "out.db") as db:
        (state,) = db.execute("SELECT state FROM export_state").fetchone()
        assert orjson.loads(state)["rows"] == 2
        assert db.execute("SELECT count(*) FROM call_tasks").fetchone() == (2,)


def test_sqlite_a_failed_page_leaves_neither_its_rows_nor_its_state(tmp_path: Path) -> None:
    sink = SqliteSink(tmp_path / "out.db", "tasks", FIELDS, ["call_task_id"])
    sink.open({"what": "tasks"}, restart=False)
    sink.commit(rows(1, 2), {"rows": 2})
    bad = [{"call_task_id": None, "name": "x"}]  # NOT NULL: the insert fails mid-transaction
    with pytest.raises(sqlite3.IntegrityError):
        sink.commit(bad, {"rows": 3})
    sink.close()
    with sqlite3.connect(tmp_path / "out.db") as db:
        (state,) = db.execute("SELECT state FROM export_state").fetchone()
        assert orjson.loads(state)["rows"] == 2
        assert db.execute("SELECT count(*) FROM call_tasks").fetchone() == (2,)
