"""``--fake`` takes the fake server's size and behaviour: tasks, customers, latency, faults."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

import bangwo8_async as bw
from bangwo8_async import testing
from bangwo8_async.cli import FAKE_TASKS, FAKE_USERS_PER_TASK, parser
from bangwo8_async.cli.connection import Connection, UsageError

from .test_cli import bangwo8


def test_the_size_reaches_the_export() -> None:
    done = bangwo8(
        "export",
        "users",
        "--fake",
        "--fake-tasks",
        "7",
        "--fake-users-per-task",
        "2",
        "-q",
        "--format",
        "csv",
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout.decode())))
    assert len(rows) == 14 and len({r["call_task_id"] for r in rows}) == 7
    assert "server count 14 at start, 14 at end" in done.stderr.decode()


def test_faults_reach_the_export_and_are_retried(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    done = bangwo8(
        "export",
        "tasks",
        "--fake",
        "--fake-tasks",
        "2000",
        "--fake-fault-rate",
        "0.3",
        "--max-retries",
        "12",
        "--per-page",
        "20",
        "-o",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert len(out.read_bytes().splitlines()) == 2000
    summary = done.stderr.decode()
    retries = int(summary.split(" retries")[0].rsplit(", ", 1)[1].replace(",", ""))
    assert retries > 0, summary


async def test_every_option_builds_the_fake(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[testing.FakeBangwo8] = []

    class Recorded(testing.FakeBangwo8):
        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            made.append(self)

    monkeypatch.setattr(testing, "FakeBangwo8", Recorded)
    argv = ["export", "tasks", "--fake", "--fake-tasks", "5", "--fake-users-per-task", "4"]
    argv += ["--fake-latency-ms", "30", "--fake-fault-rate", "0.25"]
    async with Connection(parser().parse_args(argv)).session() as session:
        page = await bw.list_call_tasks(session, per_page=1)
    (fake,) = made
    assert (len(fake.state), fake.state.users_per_task) == (5, 4)
    assert (fake.latency, fake.fault_rate) == (0.03, 0.25)
    assert page.count == 5
    made.clear()
    async with Connection(parser().parse_args(["tasks", "list", "--fake"])).session():
        pass
    (default,) = made
    assert (len(default.state), default.state.users_per_task) == (FAKE_TASKS, FAKE_USERS_PER_TASK)
    assert (default.latency, default.fault_rate) == (0.0, 0.0)


@pytest.mark.parametrize("command", [["export", "users"], ["tasks", "list"], ["sync"]])
def test_every_command_that_connects_takes_them(command: list[str]) -> None:
    args = parser().parse_args([*command, "--fake", "--fake-tasks", "9", "--fake-latency-ms", "5"])
    assert (args.fake, args.fake_tasks, args.fake_latency_ms) == (True, 9, 5.0)


def test_a_fake_option_without_fake_is_refused() -> None:
    with pytest.raises(UsageError, match="--fake-tasks sizes the embedded fake server: add --fake"):
        Connection(parser().parse_args(["export", "tasks", "--fake-tasks", "9"]))
    done = bangwo8("export", "tasks", "--fake-fault-rate", "0.1")
    assert done.returncode == 2
    assert b"--fake-fault-rate sizes the embedded fake server: add --fake" in done.stderr


@pytest.mark.parametrize(
    "flag", [["--fake-tasks", "-1"], ["--fake-fault-rate", "1.5"], ["--fake-latency-ms", "x"]]
)
def test_bad_values_are_usage_errors(flag: list[str]) -> None:
    done = bangwo8("export", "tasks", "--fake", *flag)
    assert done.returncode == 2 and b"usage:" in done.stderr, done.stderr


def test_a_rerun_with_another_size_is_refused_not_mixed(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    state = tmp_path / "t.jsonl.state.json"
    import orjson

    from bangwo8_async.export.checkpoint import STATE_VERSION

    # A partial export of the 7-task fake (its shape as the CLI records it).
    shape = {
        "what": "tasks",
        "format": "jsonl",
        "excel": False,
        "per_page": 100,
        "created_start": None,
        "created_end": None,
        "base_url": "fake:tasks=7,users_per_task=3",
        "account": "fake",
    }
    (tmp_path / "t.jsonl.part").write_bytes(b"")
    state.write_bytes(
        orjson.dumps({"version": STATE_VERSION, "shape": shape, "rows": 0, "offset": 0})
    )
    other = bangwo8("export", "tasks", "--fake", "--fake-tasks", "8", "-o", str(out))
    assert other.returncode == 2
    assert b"base_url='fake:tasks=7,users_per_task=3'" in other.stderr
    same = bangwo8(
        "export", "tasks", "--fake", "--fake-tasks", "7", "--fake-latency-ms", "1", "-o", str(out)
    )
    assert same.returncode == 0, same.stderr  # latency changes no row: it resumes
    assert len(out.read_bytes().splitlines()) == 7


@pytest.mark.parametrize(
    ("flag", "value", "words"),
    [
        ("--latency-ms", "-5", "0 or a positive number of milliseconds"),
        ("--port", "70000", "a port from 0 to 65535"),
    ],
)
def test_fake_server_refuses_a_bad_number_in_one_line(
    flag: str, value: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: a negative latency served with none, and a port past 65535 ended in a traceback.
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["fake-server", flag, value])
    assert exc.value.code == 2
    assert f"must be {words}: {value!r}" in capsys.readouterr().err
