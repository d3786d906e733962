"""The ``bangwo8`` command line, end to end, in a subprocess like a user would run it."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from bangwo8_async.cli import FAKE_TASKS, FAKE_USERS_PER_TASK

ENV = {k: v for k, v in os.environ.items() if not k.startswith("BANGWO8_")}


def bangwo8(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bangwo8_async", *args],
        capture_output=True, timeout=60, env={**ENV, **(env or {})}, check=False,
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_export_tasks_to_a_jsonl_file(tmp_path: Path) -> None:
    out = tmp_path / "tasks.jsonl"
    done = bangwo8("export", "tasks", "--fake", "--output", str(out))
    assert done.returncode == 0, done.stderr
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(rows) == FAKE_TASKS
    assert [r["call_task_id"] for r in rows] == sorted(r["call_task_id"] for r in rows)
    assert set(rows[0]) == {"call_task_id", "task_name", "task_start", "task_end", "status"}
    assert "外呼任务" in rows[0]["task_name"]  # UTF-8, not \\u escapes
    assert "外呼任务".encode() in out.read_bytes()
    # Not a terminal: no progress bar, only the summary line.
    summary, = done.stderr.decode().splitlines()
    assert summary.startswith(f"bangwo8: tasks: {FAKE_TASKS:,} rows written to {out} in ")
    assert f"server count {FAKE_TASKS:,} at start, {FAKE_TASKS:,} at end;" in summary
    assert "0 repeats dropped, 0 pages read again, 0 retries" in summary
    assert {r["task_start"][10:11] for r in rows} == {"T"}  # one ISO 8601 format per column
    assert {len(r["task_end"]) for r in rows} == {19}
    assert [p.name for p in tmp_path.iterdir()] == ["tasks.jsonl"]
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()  # the umask's, not mkstemp's 0600


def test_export_users_csv_to_stdout() -> None:
    done = bangwo8("export", "users", "--fake", "--format", "csv", "--per-page", "2",
                   "--concurrency", "4")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout.decode("utf-8"))))
    assert len(rows) == FAKE_TASKS * FAKE_USERS_PER_TASK
    assert list(rows[0]) == ["call_task_id", "contact_id", "company_id", "user_name",
                             "company_name", "phone", "progress"]
    assert {r["progress"] for r in rows} <= {"待处理", "未接听", "已完成"}


def test_csv_format_inferred_from_the_extension(tmp_path: Path) -> None:
    out = tmp_path / "t.csv"
    assert bangwo8("export", "tasks", "--fake", "-o", str(out), "--created-start",
                   "2023-01-01").returncode == 0
    header, *rows = out.read_text(encoding="utf-8").splitlines()
    assert header == "call_task_id,task_name,task_start,task_end,status"
    assert 0 < len(rows) < FAKE_TASKS


def test_missing_credentials_is_a_clear_message() -> None:
    done = bangwo8("export", "tasks")
    assert done.returncode == 2
    assert b"no credentials" in done.stderr and b"Traceback" not in done.stderr


def test_api_error_is_one_line_and_no_partial_file(tmp_path: Path) -> None:
    out = tmp_path / "tasks.jsonl"
    done = bangwo8("export", "tasks", "-o", str(out), "--max-retries", "0",
                   env={"BANGWO8_ACCOUNT": "a", "BANGWO8_PASSWORD": "pw-not-shown",
                        "BANGWO8_BASE_URL": "http://127.0.0.1:9/api/v1"})
    assert done.returncode == 1
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("bangwo8: error: cannot reach 127.0.0.1:9: connection refused")
    assert "pw-not-shown" not in done.stderr.decode()
    assert list(tmp_path.iterdir()) == []


def test_refuses_plain_http_off_loopback() -> None:
    done = bangwo8("tasks", "list", "--base-url", "http://www.bangwo8.com/api/v1",
                   "--account", "a", "--password", "b")
    assert done.returncode == 2 and b"https://" in done.stderr


def test_tasks_commands() -> None:
    done = bangwo8("tasks", "list", "--fake", "--per-page", "3")
    page = orjson.loads(done.stdout)
    assert (len(page["items"]), page["count"]) == (3, FAKE_TASKS)
    first = page["items"][0]["call_task_id"]
    detail = orjson.loads(bangwo8("tasks", "get", str(first), "--fake").stdout)
    assert detail["call_task_id"] == first and "phone_count" in detail
    created = bangwo8("tasks", "create", "--fake", "--name", "新任务", "--start", "2022-05-20",
                      "--end", "2022-05-23 18:00:00", "--customer", "321456", "--customer", "97",
                      "--agent", "567332", "--data-source", "company")
    body = orjson.loads(created.stdout)
    assert (body["legal_count"], body["illegal_ids"]) == (1, [97])
    assert orjson.loads(bangwo8("tasks", "delete", str(first), "--fake").stdout) == {
        "deleted": first}
    missing = bangwo8("tasks", "get", "1", "--fake")
    assert missing.returncode == 1 and missing.stderr == b"bangwo8: error: task 1 does not exist\n"


@pytest.mark.parametrize("args", [["tasks", "get", "0"], ["export", "nothing"],
                                  ["export", "tasks", "--per-page", "x"]])
def test_usage_errors(args: list[str]) -> None:
    done = bangwo8(*args)
    assert done.returncode == 2 and b"usage:" in done.stderr


def test_fake_server_command_serves_until_interrupted() -> None:
    import signal
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bangwo8_async", "fake-server", "--port", str(port), "--tasks",
         "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().decode() for _ in range(4)]
        env = dict(line.removeprefix("export ").strip().split("=", 1) for line in lines[1:4])
        done = bangwo8("tasks", "list", env=env)
        assert orjson.loads(done.stdout)["count"] == 20
    finally:
        proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == 130
