"""The sinks' lifecycle in process: open, commit, stop, resume, finish, for files and SQLite."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from bangwo8_async.export.location import LocationError
from bangwo8_async.export.sinks import FileSink, StdoutSink
from tests._sinks import FIELDS, SHAPE, names, query, rows, sqlite, stopped_after


def test_a_file_sink_closed_before_it_opened_does_nothing(tmp_path: Path) -> None:
    FileSink(tmp_path / "o.jsonl", "jsonl", FIELDS, excel=False).close()
    assert names(tmp_path) == []


def test_stopped_before_any_commit_leaves_nothing_behind(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "o.csv", "csv", FIELDS, excel=False)
    assert sink.open(SHAPE, restart=False) is None
    sink.close()
    assert names(tmp_path) == []


def test_stopped_after_a_commit_keeps_the_part_and_resumes_from_it(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "o.jsonl", "jsonl", FIELDS, excel=False)
    sink.open(SHAPE, restart=False)
    sink.commit(rows(1, 2), {"shape": SHAPE, "rows": 2, "cursor": 2})
    sink.close()
    assert names(tmp_path) == ["o.jsonl.part", "o.jsonl.state.json"]
    again = FileSink(tmp_path / "o.jsonl", "jsonl", FIELDS, excel=False)
    saved = again.open(SHAPE, restart=False)
    assert saved is not None and (saved["rows"], saved["cursor"]) == (2, 2)
    again.close()  # stopped at once: what was committed stays resumable
    assert names(tmp_path) == ["o.jsonl.part", "o.jsonl.state.json"]


def test_a_new_export_over_a_part_without_state_starts_from_an_empty_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "o.jsonl.part").write_bytes(b"left over by a crash before any commit\n")
    sink = FileSink(tmp_path / "o.jsonl", "jsonl", FIELDS, excel=False)
    assert sink.open(SHAPE, restart=False) is None
    sink.commit(rows(1), {"shape": SHAPE, "rows": 1})
    sink.finish({"rows": 1})
    assert (
        tmp_path / "o.jsonl"
    ).read_bytes() == b'{"call_task_id":1,"name":"\xe4\xbb\xbb\xe5\x8a\xa11"}\n'


def test_an_export_with_no_rows_finishes_as_a_header_only_file(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "o.csv", "csv", FIELDS, excel=False)
    sink.open(SHAPE, restart=False)
    sink.finish({"rows": 0})
    assert names(tmp_path) == ["o.csv"]
    assert (tmp_path / "o.csv").read_bytes() == b"call_task_id,name\r\n"


def test_the_stream_sink_writes_as_it_goes_and_never_resumes() -> None:
    out = io.BytesIO()
    sink = StdoutSink("csv", FIELDS, excel=True, stream=out)
    assert sink.where == "stdout"
    with pytest.raises(LocationError, match="--restart does not apply to -o -"):
        sink.open(SHAPE, restart=True)
    sink.open(SHAPE, restart=False)
    sink.commit(rows(1), {"rows": 1})
    sink.finish({"rows": 1})
    sink.close()
    assert out.getvalue() == "\ufeffcall_task_id,name\r\n1,任务1\r\n".encode()


def test_sqlite_resumes_the_run_it_stopped_in(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    first = sqlite(db)
    assert first.open(SHAPE, restart=False) is None
    first.commit(rows(1, 2), {"shape": SHAPE, "rows": 2, "cursor": 2})
    first.close()
    again = sqlite(db)
    saved = again.open(SHAPE, restart=False)
    assert saved is not None and (saved["rows"], saved["cursor"]) == (2, 2)
    assert again.run_id == first.run_id == 1
    again.commit(rows(3), {"shape": SHAPE, "rows": 3, "cursor": 3})
    again.finish({"rows": 3, "count_start": 3, "count_end": 3})
    assert query(db, "SELECT count(*) FROM export_state") == [(0,)]
    assert query(db, "SELECT run_id, status, rows, count_start, count_end FROM exports") == [
        (1, "complete", 3, 3, 3)
    ]
    assert query(db, "SELECT call_task_id, position FROM call_tasks ORDER BY position") == [
        (1, 1),
        (2, 2),
        (3, 3),
    ]


def test_sqlite_restart_discards_the_stopped_run(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    stopped_after(sqlite(db), 1)
    again = sqlite(db)
    assert again.open(SHAPE, restart=True) is None
    assert again.run_id == 2
    again.finish({"rows": 0})
    assert query(db, "SELECT run_id, status FROM exports ORDER BY run_id") == [
        (1, "discarded"),
        (2, "complete"),
    ]
    assert query(db, "SELECT count(*) FROM export_state") == [(0,)]


def test_sqlite_a_run_without_audit_records_zeros(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    sink = sqlite(db)
    sink.open(SHAPE, restart=False)
    sink.commit(rows(1), {"shape": SHAPE, "rows": 1})
    sink.finish({"rows": 1})
    audit = "SELECT repeats_dropped, pages_reread, retries, shape FROM exports"
    assert query(db, audit) == [(0, 0, 0, orjson.dumps(SHAPE).decode())]
    sink.close()  # already closed by finish: nothing happens


def test_a_new_export_with_no_rows_over_a_leftover_part_is_empty(tmp_path: Path) -> None:
    (tmp_path / "o.jsonl.part").write_bytes(b"left over\n")
    sink = FileSink(tmp_path / "o.jsonl", "jsonl", FIELDS, excel=False)
    sink.open(SHAPE, restart=False)
    sink.finish({"rows": 0})
    assert (tmp_path / "o.jsonl").read_bytes() == b""


def test_stopping_when_the_empty_part_is_already_gone_is_quiet(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "o.jsonl", "jsonl", FIELDS, excel=False)
    sink.open(SHAPE, restart=False)
    (tmp_path / "o.jsonl.part").unlink()  # removed by hand while nothing was committed
    sink.close()
    assert names(tmp_path) == []
