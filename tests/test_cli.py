"""The ``bangwo8`` command line, end to end, in a subprocess like a user would run it."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from bangwo8_async.cli import FAKE_TASKS, FAKE_USERS_PER_TASK
from tests.conftest import ThreadedFake

ENV = {k: v for k, v in os.environ.items() if not k.startswith("BANGWO8_")}


def bangwo8(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bangwo8_async", *args],
        capture_output=True,
        timeout=60,
        env={**ENV, **(env or {})},
        check=False,
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
    (summary,) = done.stderr.decode().splitlines()
    assert summary.startswith(f"bangwo8: tasks: {FAKE_TASKS:,} rows written to {out} in ")
    assert f"server count {FAKE_TASKS:,} at start, {FAKE_TASKS:,} at end;" in summary
    assert "0 repeats dropped, 0 pages read again, 0 retries" in summary
    # ISO 8601 as bw.to_dict writes it: a bare date, or a date and time with a T.
    assert {len(r["task_end"]) for r in rows} == {10, 19}
    assert {r["task_start"][10:11] for r in rows if len(r["task_start"]) > 10} == {"T"}
    assert [p.name for p in tmp_path.iterdir()] == ["tasks.jsonl"]
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()  # the umask's, not mkstemp's 0600


def test_export_users_csv_to_stdout() -> None:
    done = bangwo8(
        "export", "users", "--fake", "--format", "csv", "--per-page", "2", "--concurrency", "4"
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout.decode("utf-8"))))
    assert len(rows) == FAKE_TASKS * FAKE_USERS_PER_TASK
    assert list(rows[0]) == [
        "call_task_id",
        "contact_id",
        "company_id",
        "user_name",
        "company_name",
        "phone",
        "progress",
    ]
    assert {r["progress"] for r in rows} == {"-1", "0", "1"}  # the vendor's codes


def test_csv_format_inferred_from_the_extension(tmp_path: Path) -> None:
    out = tmp_path / "t.csv"
    assert (
        bangwo8(
            "export", "tasks", "--fake", "-o", str(out), "--created-start", "2023-01-01"
        ).returncode
        == 0
    )
    header, *rows = out.read_text(encoding="utf-8").splitlines()
    assert header == "call_task_id,task_name,task_start,task_end,status"
    assert 0 < len(rows) < FAKE_TASKS


def test_missing_credentials_is_a_clear_message() -> None:
    done = bangwo8("export", "tasks")
    assert done.returncode == 2
    assert b"no credentials" in done.stderr and b"Traceback" not in done.stderr


def test_api_error_is_one_line_and_no_partial_file(tmp_path: Path) -> None:
    out = tmp_path / "tasks.jsonl"
    done = bangwo8(
        "export",
        "tasks",
        "-o",
        str(out),
        "--max-retries",
        "0",
        env={
            "BANGWO8_ACCOUNT": "a",
            "BANGWO8_PASSWORD": "pw-not-shown",
            "BANGWO8_BASE_URL": "http://127.0.0.1:9/api/v1",
        },
    )
    assert done.returncode == 1
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("bangwo8: error: cannot reach 127.0.0.1:9: connection refused")
    assert "pw-not-shown" not in done.stderr.decode()
    assert list(tmp_path.iterdir()) == []


def test_refuses_plain_http_off_loopback() -> None:
    done = bangwo8(
        "tasks",
        "list",
        "--base-url",
        "http://www.bangwo8.com/api/v1",
        "--account",
        "a",
        "--password",
        "b",
    )
    assert done.returncode == 2 and b"https://" in done.stderr


def test_tasks_commands() -> None:
    done = bangwo8("tasks", "list", "--fake", "--per-page", "3")
    page = orjson.loads(done.stdout)
    assert (len(page["items"]), page["count"]) == (3, FAKE_TASKS)
    first = page["items"][0]["call_task_id"]
    detail = orjson.loads(bangwo8("tasks", "get", str(first), "--fake").stdout)
    assert detail["call_task_id"] == first and "phone_count" in detail
    created = bangwo8(
        "tasks",
        "create",
        "--fake",
        "--name",
        "新任务",
        "--start",
        "2022-05-20",
        "--end",
        "2022-05-23 18:00:00",
        "--customer",
        "321456",
        "--customer",
        "97",
        "--agent",
        "567332",
        "--data-source",
        "company",
    )
    body = orjson.loads(created.stdout)
    assert (body["legal_count"], body["illegal_ids"]) == (1, [97])
    assert orjson.loads(bangwo8("tasks", "delete", str(first), "--fake").stdout) == {
        "deleted": first
    }
    missing = bangwo8("tasks", "get", "1", "--fake")
    assert missing.returncode == 1 and missing.stderr == b"bangwo8: error: task 1 does not exist\n"


@pytest.mark.parametrize(
    "args", [["tasks", "get", "0"], ["export", "nothing"], ["export", "tasks", "--per-page", "x"]]
)
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
        [
            sys.executable,
            "-m",
            "bangwo8_async",
            "fake-server",
            "--port",
            str(port),
            "--tasks",
            "20",
            "--account",
            "ops@example.com",
            "--password",
            "fixed-for-scripts",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().decode() for _ in range(4)]
        env = dict(line.removeprefix("export ").strip().split("=", 1) for line in lines[1:4])
        assert (env["BANGWO8_ACCOUNT"], env["BANGWO8_PASSWORD"]) == (
            "ops@example.com",
            "fixed-for-scripts",
        )
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


# -- checks before any request, exit codes, messages ------------------------------------------


def _no_permission_path(tmp_path: Path) -> Path:
    if os.geteuid() == 0:  # root writes anywhere a mode allows: use a folder no mode opens
        return Path("/sys/bangwo8-export.jsonl")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    return locked / "tasks.jsonl"


@pytest.mark.parametrize("where", ["directory", "missing folder", "no permission"])
def test_the_output_location_is_checked_before_any_request(
    where: str, tmp_path: Path, threaded_fake: Callable[..., ThreadedFake]
) -> None:
    server = threaded_fake(tasks=5)
    out = {
        "directory": tmp_path,
        "missing folder": tmp_path / "nope" / "t.jsonl",
        "no permission": _no_permission_path(tmp_path),
    }[where]
    for fmt in ("jsonl", "sqlite"):
        done = bangwo8("export", "tasks", "-o", str(out), "--format", fmt, env=server.env)
        assert done.returncode == 2, done.stderr
        (line,) = done.stderr.decode().splitlines()
        assert (
            line.startswith("bangwo8: error: ")
            and str(out.parent if where != "directory" else out) in line
        )
        assert {
            "directory": "is a folder, not a file",
            "missing folder": "does not exist",
            "no permission": "ermission denied",
        }[where] in line
    assert server.fake.log == []


@pytest.mark.parametrize(
    "args",
    [
        ["export", "tasks", "--fake", "--per-page", "101"],
        ["export", "tasks", "--fake", "--timeout", "-1"],
        [
            "export",
            "users",
            "--fake",
            "--created-start",
            "2024-02-01",
            "--created-end",
            "2024-01-01",
        ],
        [
            "tasks",
            "create",
            "--fake",
            "--name",
            "n",
            "--start",
            "2024/01/01",
            "--end",
            "2024-01-02",
            "--customer",
            "1",
            "--agent",
            "2",
            "--data-source",
            "company",
        ],
    ],
)
def test_usage_errors_exit_2_before_anything_runs(args: list[str]) -> None:
    done = bangwo8(*args)
    assert done.returncode == 2 and b"usage:" in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (
            [
                "tasks",
                "create",
                "--fake",
                "--name",
                "n",
                "--start",
                "2024-01-05",
                "--end",
                "2024-01-02 09:00:00",
                "--customer",
                "1",
                "--agent",
                "2",
                "--data-source",
                "company",
            ],
            "task_start (2024-01-05) is after task_end",
        ),
        (["export", "tasks", "--account", "a"], "--password"),
        (["export", "tasks", "--fake", "--restart"], "--restart does not apply to -o -"),
        (["export", "tasks", "--fake", "--format", "sqlite"], "--format sqlite needs a file"),
        (["export", "tasks", "--fake", "--excel"], "--excel applies to CSV only"),
    ],
)
def test_input_errors_exit_2_in_one_line(args: list[str], text: str) -> None:
    done = bangwo8(*args)
    assert done.returncode == 2
    (line,) = done.stderr.decode().splitlines()
    assert line.startswith("bangwo8: error: ") and text in line, line
    assert done.stdout == b""


def test_refused_credentials_say_which_were_used(
    threaded_fake: Callable[..., ThreadedFake],
) -> None:
    server = threaded_fake(tasks=5)
    env = {**server.env, "BANGWO8_PASSWORD": "wrong-pw-not-shown"}
    done = bangwo8("tasks", "list", env=env)
    assert done.returncode == 1
    (line,) = done.stderr.decode().splitlines()
    assert "refused the credentials from the environment (BANGWO8_ACCOUNT/BANGWO8_PASSWORD)" in line
    assert "admin@example.com" in line and "wrong-pw-not-shown" not in line
    flags = bangwo8(
        "tasks",
        "list",
        "--account",
        "x@example.com",
        "--password",
        "nope",
        env={"BANGWO8_BASE_URL": server.fake.base_url},
    )
    assert b"from the flags --account/--password (account 'x@example.com'" in flags.stderr


def test_the_summary_says_how_long_the_server_paused_the_export(
    tmp_path: Path, threaded_fake: Callable[..., ThreadedFake]
) -> None:
    # A bucket of 2: the first rounds are mostly refused, with Retry-After, which pauses the
    # session once twenty answers show a limit (a few refusals alone are not one).
    limited = threaded_fake(tasks=200, rate_limit=50, rate_burst=2, limit_retry_after=0.2)
    out = tmp_path / "t.jsonl"
    done = bangwo8("export", "tasks", "-o", str(out), "--per-page", "5", env=limited.env)
    assert done.returncode == 0, done.stderr
    (summary,) = done.stderr.decode().splitlines()
    found = re.search(r"(\d+) throttled, paused (\d+\.\d)s for Retry-After$", summary)
    assert found is not None, summary
    assert int(found[1]) >= 1 and float(found[2]) >= 0.2
    assert len(out.read_text().splitlines()) == 200
    calm = threaded_fake(tasks=40)
    done = bangwo8("export", "tasks", "-o", str(tmp_path / "c.jsonl"), env=calm.env)
    assert done.stderr.decode().rstrip().endswith("0 retries, 0 throttled")


def test_verify_exits_3_when_rows_and_the_server_count_differ(
    tmp_path: Path, threaded_fake: Callable[..., ThreadedFake]
) -> None:
    counted = threaded_fake(tasks=30)
    done = bangwo8("export", "tasks", "-o", str(tmp_path / "a.jsonl"), "--verify", env=counted.env)
    assert done.returncode == 0, done.stderr
    shrinking = threaded_fake(tasks=40, delete_every=3)  # a task deleted every 3rd list page
    done = bangwo8(
        "export",
        "tasks",
        "-o",
        str(tmp_path / "c.jsonl"),
        "--per-page",
        "5",
        "--verify",
        env=shrinking.env,
    )
    assert done.returncode == 3, done.stderr
    summary, verdict = done.stderr.decode().splitlines()
    found = re.search(r"(\d+) rows written .* server count 40 at start, (\d+) at end", summary)
    assert found is not None, summary
    rows, end = found.groups()
    assert int(end) < 40 and rows != end
    assert verdict == (
        f"bangwo8: verify failed: {rows} rows written, but the server's final count is {end}"
    )
    uncounted = threaded_fake(tasks=30, send_count=False)  # nothing to check the rows against
    done = bangwo8(
        "export", "tasks", "-o", str(tmp_path / "b.jsonl"), "--verify", env=uncounted.env
    )
    assert done.returncode == 3
    summary, verdict = done.stderr.decode().splitlines()
    assert "30 rows written" in summary and "server count unknown" in summary
    assert verdict == (
        "bangwo8: verify failed: 30 rows written, but the server's final count is unknown"
    )


def test_verdict_compares_rows_with_the_final_count() -> None:
    from bangwo8_async.cli.commands import _verdict
    from bangwo8_async.export.loop import Audit

    assert _verdict(Audit(rows=10, count_start=10, count_end=10), verify=True) == 0
    assert _verdict(Audit(rows=10, count_start=10, count_end=11), verify=True) == 3
    assert _verdict(Audit(rows=10, count_start=10, count_end=11), verify=False) == 0


def test_excel_csv_starts_with_a_bom_and_one_header(tmp_path: Path) -> None:
    out = tmp_path / "t.csv"
    done = bangwo8(
        "export", "tasks", "--fake", "-o", str(out), "--excel", "--created-end", "2022-03-01"
    )
    assert done.returncode == 0, done.stderr
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfcall_task_id,task_name,")
    assert raw.count(b"call_task_id") == 1
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows and "外呼任务" in rows[0]["task_name"]


def test_version_and_help_pages() -> None:
    import bangwo8_async as bw

    assert bangwo8("--version").stdout.decode().strip() == f"bangwo8 {bw.__version__}"
    page = bangwo8("export", "tasks", "--help")
    text = " ".join(page.stdout.decode().split())
    assert page.returncode == 0 and text.startswith("usage: bangwo8 export tasks")
    assert "rows per page, 1 to 100 (default: 100)" in text
    assert "--restart" in text and "--verify" in text and "(default: 30.0)" in text
    fake = " ".join(bangwo8("fake-server", "--help").stdout.decode().split())
    assert "throwaway credentials" in fake and "--password" in fake


def test_the_fake_server_is_imported_only_when_asked() -> None:
    probe = (
        "import sys; from bangwo8_async import cli; "
        "before = 'bangwo8_async.testing' in sys.modules; "
        "code = cli.main(['tasks', 'list', '--fake', '--per-page', '1']); "
        "print(before, 'bangwo8_async.testing' in sys.modules, code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, timeout=60, env=ENV, check=False
    )
    assert done.stdout.decode().split()[-3:] == ["False", "True", "0"], done.stderr


def test_verbose_logs_retries_on_their_own_lines(
    tmp_path: Path, threaded_fake: Callable[..., ThreadedFake]
) -> None:
    from bangwo8_async.testing import Fault

    server = threaded_fake(tasks=5, retry_after=0.0)
    server.fake.inject(Fault.SERVER_ERROR, path="/api/v1/callTask.json")
    out = tmp_path / "t.jsonl"
    done = bangwo8("export", "tasks", "-o", str(out), "-v", env=server.env)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.decode().splitlines()
    retry = [line for line in lines if "retry 1 of 3" in line]
    assert len(retry) == 1 and retry[0].startswith("bangwo8: ")
    assert lines[-1].startswith("bangwo8: tasks: 5 rows written")
    assert "1 retries" in lines[-1]
    server.fake.inject(Fault.SERVER_ERROR, path="/api/v1/callTask.json")
    quiet = bangwo8("export", "tasks", "-o", str(tmp_path / "q.jsonl"), env=server.env)
    (summary,) = quiet.stderr.decode().splitlines()  # without -v: the retry shows in numbers only
    assert quiet.returncode == 0 and "1 retries" in summary


def test_fake_server_flags_reach_the_fake() -> None:
    from bangwo8_async.cli import parser
    from bangwo8_async.cli.commands import _make_fake

    args = parser().parse_args(
        [
            "fake-server",
            "--rate-limit",
            "5",
            "--max-in-flight",
            "2",
            "--account",
            "ops@x.cn",
            "--password",
            "pw",
            "--tasks",
            "7",
            "--latency-ms",
            "30",
        ]
    )
    fake = _make_fake(args)
    assert (fake.rate_limit, fake.max_in_flight, fake.latency) == (5.0, 2, 0.03)
    assert (fake.account, fake.password, len(fake.state)) == ("ops@x.cn", "pw", 7)
    default = _make_fake(parser().parse_args(["fake-server"]))
    assert default.rate_limit is None and default.max_in_flight is None
    assert default.password != "pw" and len(default.password) >= 12
