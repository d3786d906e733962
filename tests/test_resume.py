"""Resumable exports: killed with SIGKILL at random moments, rerun until done, nothing lost.

Each command line runs in a subprocess against a fake server (with faults on)
that lives in a thread of the test process, so it outlives every kill.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from bangwo8_async.export.checkpoint import STATE_VERSION
from tests.conftest import ThreadedFake

ENV = {k: v for k, v in os.environ.items() if not k.startswith("BANGWO8_")}
FIELDS = {
    "tasks": "call_task_id, task_name, task_start, task_end, status",
    "users": "call_task_id, contact_id, company_id, user_name, company_name, phone, progress",
}
TABLE = {"tasks": "call_tasks", "users": "task_users"}


def command(what: str, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bangwo8_async",
        "export",
        what,
        "-o",
        str(out),
        "--per-page",
        "3",
        "--checkpoint-every",
        "0",
        "--max-concurrency",
        "2",
        *extra,
    ]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, timeout=60, env={**ENV, **env}, check=False
    )


def start(
    args: list[str], env: dict[str, str], *, stderr: int = subprocess.DEVNULL
) -> subprocess.Popen[str]:
    """The export in the background, as ``run`` runs it; its stdout discarded."""
    return subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=stderr, text=True, env={**ENV, **env}
    )


def contents(what: str, out: Path) -> list[object]:
    """The exported rows, in order: a file's lines, or the table ordered by position."""
    if out.suffix != ".db":
        return out.read_bytes().splitlines()
    with contextlib.closing(sqlite3.connect(out)) as db:
        rows: list[object] = db.execute(
            f"SELECT {FIELDS[what]} FROM {TABLE[what]} ORDER BY position"
        ).fetchall()
    return rows


def run_with_kills(
    args: list[str], server: ThreadedFake, rng: random.Random, kills: int
) -> tuple[int, int]:
    """Start the export and SIGKILL it at a random moment after its first request, ``kills``
    times; then let it finish. Returns how many runs were killed and how many resumed."""
    killed = resumed = 0
    for attempt in range(kills + 10):
        log = server.fake.log
        before = len(log)
        proc = start(args, server.env, stderr=subprocess.PIPE)
        if attempt < kills:
            while proc.poll() is None and len(log) == before:
                time.sleep(0.002)
            deadline = time.monotonic() + rng.uniform(0.0, 0.25)
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
        _, err = proc.communicate(timeout=60)
        resumed += "resuming at page" in err
        if proc.returncode == 0:
            return killed, resumed
        assert proc.returncode in (-signal.SIGKILL, 1), err  # killed, or retries ran out
    raise AssertionError("the export never completed")


@pytest.mark.parametrize("what", ["tasks", "users"])
def test_killed_exports_resume_to_the_same_rows(
    what: str, tmp_path: Path, threaded_fake: Callable[..., ThreadedFake]
) -> None:
    server = threaded_fake(
        tasks=60, users_per_task=2, latency=0.02, fault_rate=0.1, retry_after=0.0, seed=7
    )
    rng = random.Random(f"kills-{what}")
    suffixes = (".jsonl", ".csv", ".db")
    # The uninterrupted exports, side by side.
    baselines = [start(command(what, tmp_path / f"whole{s}"), server.env) for s in suffixes]
    assert [p.wait(60) for p in baselines] == [0, 0, 0]
    total_killed = total_resumed = 0
    for suffix in suffixes:
        out = tmp_path / "parts" / f"{what}{suffix}"
        out.parent.mkdir(exist_ok=True)
        killed, resumed = run_with_kills(command(what, out), server, rng, kills=2)
        total_killed += killed
        total_resumed += resumed
        assert contents(what, out) == contents(what, tmp_path / f"whole{suffix}")
        assert len(contents(what, out)) == 60 * (1 if what == "tasks" else 2) + (suffix == ".csv")
        left = sorted(p.name for p in out.parent.iterdir())
        assert left == [out.name], left  # no .part, state, temporary or WAL file left
        out.unlink()
    assert total_killed >= 3 and total_resumed >= 2  # the kills really cut exports short


def test_resume_continues_where_it_stopped(
    tmp_path: Path, threaded_fake: Callable[..., ThreadedFake]
) -> None:
    server = threaded_fake(tasks=40, users_per_task=2)
    out = tmp_path / "tasks.jsonl"
    args = command("tasks", out)
    assert run(args, server.env).returncode == 0
    whole = out.read_bytes()
    out.unlink()
    # An interrupted export: 3 committed pages (9 rows), and half a row written after them.
    lines = whole.splitlines(keepends=True)
    committed = b"".join(lines[:9])
    part = tmp_path / "tasks.jsonl.part"
    part.write_bytes(committed + lines[9][:20])
    state = {
        "version": STATE_VERSION,
        "rows": 9,
        "pages": 3,
        "offset": len(committed),
        "count_start": 40,
        "count_end": 40,
        "cursor": {
            "page": 3,
            "per_page": 3,
            "count": 40,
            "known": [orjson.loads(x)["call_task_id"] for x in lines[6:9]],
        },
        "shape": {
            "what": "tasks",
            "format": "jsonl",
            "excel": False,
            "per_page": 3,
            "created_start": None,
            "created_end": None,
            "base_url": server.fake.base_url,
            "account": server.fake.account,
        },
    }
    (tmp_path / "tasks.jsonl.state.json").write_bytes(orjson.dumps(state))
    before = len(server.fake.log)
    done = run(args, server.env)
    assert done.returncode == 0, done.stderr
    assert "bangwo8: resuming at page 4: 9 rows already written\n" in done.stderr
    assert out.read_bytes() == whole
    pages = [int(r.query["page"]) for r in server.fake.log[before:]]
    assert 1 not in pages and 4 in pages  # it did not start over
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tasks.jsonl"]


def _partial(args: list[str], env: dict[str, str], state: Path) -> None:
    """Run an export until its first checkpoint exists, then kill it."""
    proc = start(args, env)
    deadline = time.monotonic() + 30
    while not state.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    assert state.exists()


def test_changed_arguments_are_refused_and_restart_discards(
    tmp_path: Path, threaded_fake: Callable[..., ThreadedFake]
) -> None:
    server = threaded_fake(tasks=200, users_per_task=1, latency=0.02)
    out = tmp_path / "tasks.csv"
    state = tmp_path / "tasks.csv.state.json"
    _partial(command("tasks", out), server.env, state)
    before = len(server.fake.log)
    changed = run(command("tasks", out, "--created-start", "2023-01-01"), server.env)
    assert changed.returncode == 2
    (line,) = changed.stderr.splitlines()
    assert "other arguments" in line and "created_start" in line and "--restart" in line
    assert len(server.fake.log) == before  # refused before any request
    other = run(command("tasks", out, "--per-page", "7"), server.env)
    assert other.returncode == 2 and "per_page" in other.stderr
    redo = run(command("tasks", out, "--created-start", "2023-01-01", "--restart"), server.env)
    assert redo.returncode == 0, redo.stderr
    assert "resuming" not in redo.stderr
    rows = out.read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("call_task_id,") and rows.count(rows[0]) == 1
    assert 1 < len(rows) - 1 < 200


@pytest.mark.parametrize("text", [b"{not json", b'{"version": 99, "shape": {}}', b"[]"])
def test_a_corrupt_or_foreign_state_file_is_one_clear_line(
    text: bytes, tmp_path: Path, threaded_fake: Callable[..., ThreadedFake]
) -> None:
    server = threaded_fake(tasks=10)
    out = tmp_path / "tasks.jsonl"
    (tmp_path / "tasks.jsonl.part").write_bytes(b"")
    (tmp_path / "tasks.jsonl.state.json").write_bytes(text)
    done = run(command("tasks", out), server.env)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "tasks.jsonl.state.json" in line and "--restart" in line
    assert server.fake.log == []
    if text.startswith(b"{not"):  # the way out works (once is enough: it is the same path)
        assert run(command("tasks", out, "--restart"), server.env).returncode == 0
        assert len(out.read_bytes().splitlines()) == 10


def test_sqlite_rerun_refreshes_in_place_and_shows_rows_gone(
    tmp_path: Path, threaded_fake: Callable[..., ThreadedFake]
) -> None:
    server = threaded_fake(tasks=30, users_per_task=2)
    db_path = tmp_path / "export.db"
    assert run(command("tasks", db_path), server.env).returncode == 0
    assert run(command("users", db_path), server.env).returncode == 0
    gone = server.fake.state.listing(None, None)[4]
    server.fake.state.delete(gone)
    again = run(command("tasks", db_path), server.env)
    assert again.returncode == 0, again.stderr
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        runs = db.execute(
            "SELECT run_id, what, status, rows, count_end FROM exports ORDER BY run_id"
        ).fetchall()
        assert runs == [
            (1, "tasks", "complete", 30, 30),
            (2, "users", "complete", 60, 60),
            (3, "tasks", "complete", 29, 29),
        ]
        stale = db.execute("SELECT call_task_id FROM call_tasks WHERE last_run < 3").fetchall()
        assert stale == [(gone,)]
        assert db.execute("SELECT count(*) FROM call_tasks").fetchone() == (30,)
        assert db.execute("SELECT count(DISTINCT first_run) FROM call_tasks").fetchone() == (1,)
        assert db.execute("SELECT count(*) FROM task_users").fetchone() == (60,)


def test_sqlite_keeps_equal_rows_and_null_ids_apart(tmp_path: Path) -> None:
    import bangwo8_async as bw
    from bangwo8_async.export.rows import USER_FIELDS, export_row
    from bangwo8_async.export.sqlite import SqliteSink

    sink = SqliteSink(tmp_path / "x.db", "users", USER_FIELDS, USER_FIELDS[:-1])
    assert sink.open({"what": "users"}, restart=False) is None
    twin = bw.TaskUser(1, None, None, "王伟", "", "010", bw.Progress.PENDING)
    rows = [
        export_row(twin),
        export_row(twin),
        export_row(bw.TaskUser(1, None, 2, "王伟", "", "010", 0)),
    ]
    sink.commit(rows, {"shape": {"what": "users"}, "rows": 3, "cursor": None})
    sink.commit(rows[:1], {"shape": {"what": "users"}, "rows": 1, "cursor": None})  # a re-read
    sink.finish({"rows": 3})
    with contextlib.closing(sqlite3.connect(tmp_path / "x.db")) as db:
        assert db.execute(
            "SELECT contact_id, company_id, occurrence FROM task_users ORDER BY row_key"
        ).fetchall() == [(None, 2, 0), (None, None, 0), (None, None, 1)]


def test_interrupted_with_ctrl_c_keeps_what_it_read_and_resumes(
    tmp_path: Path, threaded_fake: Callable[..., ThreadedFake]
) -> None:
    server = threaded_fake(tasks=100, users_per_task=1, latency=0.02)
    out = tmp_path / "users.jsonl"
    args = command("users", out, "--checkpoint-every", "10")  # nothing committed by time
    proc = start(args, server.env, stderr=subprocess.PIPE)
    while len(server.fake.log) < 20:
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.endswith(
        "bangwo8: interrupted; run the same command again to resume\n"
    ), err
    # The pages read before Ctrl-C were committed on the way out.
    saved = orjson.loads((tmp_path / "users.jsonl.state.json").read_bytes())
    assert saved["rows"] > 0
    done = run(args, server.env)
    assert done.returncode == 0 and "resuming at page" in done.stderr, done.stderr
    ids = [orjson.loads(line)["call_task_id"] for line in out.read_bytes().splitlines()]
    assert ids == server.fake.state.listing(None, None)


def test_a_state_left_by_a_finished_export_does_not_block_the_next(tmp_path: Path) -> None:
    from bangwo8_async.export.sinks import FileSink

    out = tmp_path / "t.jsonl"
    out.write_bytes(b'{"complete": true}\n')
    state = orjson.dumps({"version": STATE_VERSION, "shape": {}, "rows": 1})
    (tmp_path / "t.jsonl.state.json").write_bytes(state)
    sink = FileSink(out, "jsonl", ["a"], excel=False)
    assert sink.open({"what": "tasks"}, restart=False) is None  # a new export, not a refusal
    sink.commit([{"a": 1}], {"rows": 1})
    sink.finish({"rows": 1})
    assert out.read_bytes() == b'{"a":1}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.jsonl"]


def test_sqlite_partial_export_refuses_other_arguments_and_restarts(
    tmp_path: Path, threaded_fake: Callable[..., ThreadedFake]
) -> None:
    server = threaded_fake(tasks=200, users_per_task=1, latency=0.02)
    out = tmp_path / "x.db"
    proc = start(command("tasks", out), server.env)
    found = None
    while found is None and proc.poll() is None:
        time.sleep(0.01)
        with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(out)) as db:
            found = db.execute("SELECT run_id FROM export_state").fetchone()
    proc.kill()
    proc.wait()
    assert found == (1,)
    changed = run(command("tasks", out, "--created-end", "2023-01-01"), server.env)
    assert changed.returncode == 2
    (line,) = changed.stderr.splitlines()
    assert "x.db (table export_state, tasks)" in line and "--restart" in line
    redo = run(command("tasks", out, "--created-end", "2023-01-01", "--restart"), server.env)
    assert redo.returncode == 0, redo.stderr
    with contextlib.closing(sqlite3.connect(out)) as db:
        assert db.execute("SELECT run_id, status FROM exports").fetchall() == [
            (1, "discarded"),
            (2, "complete"),
        ]
        assert db.execute("SELECT count(*) FROM export_state").fetchone() == (0,)


def test_two_exports_into_one_file_are_refused(tmp_path: Path) -> None:
    from bangwo8_async.export.location import LocationError
    from bangwo8_async.export.sinks import FileSink

    first = FileSink(tmp_path / "x.jsonl", "jsonl", ["a"], excel=False)
    first.open({"what": "tasks"}, restart=False)
    first.commit([{"a": 1}], {"shape": {"what": "tasks"}, "rows": 1})
    second = FileSink(tmp_path / "x.jsonl", "jsonl", ["a"], excel=False)
    with pytest.raises(LocationError, match="another bangwo8 export is writing"):
        second.open({"what": "tasks"}, restart=False)
    first.finish({"rows": 1})
    assert (tmp_path / "x.jsonl").read_bytes() == b'{"a":1}\n'  # the second touched nothing
