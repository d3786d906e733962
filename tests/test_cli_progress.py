"""The progress line says how far and how long: a share done and the time left, on a clock."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

import bangwo8_async as bw
from bangwo8_async.cli.progress import ProgressLine, duration
from bangwo8_async.export.loop import ExportRequest, _UserCounts, run_export
from bangwo8_async.export.sinks import StdoutSink
from bangwo8_async.testing import FakeBangwo8
from tests._terminal import on_a_terminal
from tests.conftest import ThreadedFake

from .test_cli import ENV, bangwo8


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def line(progress: ProgressLine, screen: io.StringIO) -> str:
    """The last line drawn."""
    return screen.getvalue().rsplit("\r", 1)[-1]


def test_a_known_total_gives_the_share_done_and_the_time_left() -> None:
    clock, screen = Clock(), io.StringIO()
    progress = ProgressLine("tasks", screen, clock=clock)
    clock.now = 10.0
    progress(98, 9_800, 20_000)
    # 980 rows a second; 10,200 to go: 10.4 s.
    assert (
        line(progress, screen)
        == "tasks: page 98  9,800/20,000 items  49%  980/s  about 10s left   "
    )
    clock.now = 10.05
    progress(99, 9_900, 20_000)  # within 0.1 s of the last draw: not drawn
    assert "page 99" not in screen.getvalue()
    clock.now = 60.0
    progress(500, 19_000, 20_000)
    assert line(progress, screen).startswith(
        "tasks: page 500  19,000/20,000 items  95%  317/s  about 3s left"
    )


def test_a_resumed_export_counts_its_own_rows_in_the_rate() -> None:
    clock, screen = Clock(), io.StringIO()
    progress = ProgressLine("tasks", screen, clock=clock)
    progress.already = 5_000  # written by the run that was interrupted
    clock.now = 10.0
    progress(98, 9_800, 20_000)
    assert (
        line(progress, screen)
        == "tasks: page 98  9,800/20,000 items  49%  480/s  about 21s left   "
    )


def test_an_estimated_total_is_marked_and_long_times_read_as_minutes() -> None:
    clock, screen = Clock(), io.StringIO()
    progress = ProgressLine("users", screen, estimated=True, clock=clock)
    progress.status = lambda: "0 retries  0 throttled  window 8"
    clock.now = 10.0
    progress(40, 120, 9_000)
    assert line(progress, screen) == (
        "users: page 40  120/~9,000 items  1%  12/s  about 12m 20s left  "
        "0 retries  0 throttled  window 8   "
    )


def test_no_total_no_share_and_no_time_left() -> None:
    clock, screen = Clock(), io.StringIO()
    progress = ProgressLine("users", screen, estimated=True, clock=clock)
    clock.now = 10.0
    progress(7, 70, None)
    assert line(progress, screen) == "users: page 7  70 items  7/s   "
    clock.now = 20.0
    progress(8, 90, 80)  # more rows than the server counted: done, nothing left to time
    assert line(progress, screen) == "users: page 8  90/~80 items  100%  4/s   "


def test_no_terminal_no_line() -> None:
    clock = Clock()
    progress = ProgressLine("tasks", None, clock=clock)
    clock.now = 5.0
    progress(1, 1, 10)
    progress.finish(10)  # nothing to write to, nothing raised


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.4, "0s"),
        (59.4, "59s"),
        (60, "1m 00s"),
        (740, "12m 20s"),
        (3599, "59m 59s"),
        (7620, "2h 07m"),
    ],
)
def test_durations(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_the_customers_total_is_guessed_from_the_tasks_seen() -> None:
    counts = _UserCounts(None)
    counts.see(1, 3, last=True)
    counts.see(2, 3, last=True)
    assert counts.estimate(10) is None  # two tasks: too few to guess from
    counts.see(3, 6, last=False)  # its first page: its count is known already
    assert counts.estimate(10) == 12 + 7 * 4
    assert counts.estimate(None) is None  # the task count not known (yet)
    assert counts.estimate(2) == 12  # more tasks than counted: those seen are all
    again = _UserCounts(counts.to_dict())  # a resumed export goes on guessing
    assert again.estimate(10) == 40


@pytest.mark.parametrize("what", ["tasks", "users"])
async def test_the_export_passes_the_total_it_knows(what: str) -> None:
    calls: list[tuple[int, int, int | None]] = []
    async with FakeBangwo8(tasks=12, users_per_task=2) as fake:
        async with bw.Session(fake.basic_auth, base_url=fake.base_url) as session:
            audit = await run_export(
                session,
                ExportRequest(what, 5, 1, None, None),
                StdoutSink("jsonl", ["call_task_id"], False, io.BytesIO()),
                None,
                {},
                on_page=lambda *call: calls.append(call),
                estimate=True,
            )
    rows = 12 if what == "tasks" else 24
    assert audit.rows == rows
    assert [c[:2] for c in calls][-1] == (audit.pages, rows)
    totals = [c[2] for c in calls]
    if what == "tasks":
        assert totals == [12] * len(calls)
    else:
        assert totals[:2] == [None, None]  # before three tasks were seen
        assert set(totals[2:]) <= {None, 24} and totals[-1] == 24


def test_a_terminal_sees_the_share_and_the_time_left(tmp_path: Path) -> None:
    """The whole command, its stderr a terminal: the line as a user sees it."""
    argv = ["export", "users", "--fake", "--fake-tasks", "60", "--fake-latency-ms", "15"]
    argv += ["--concurrency", "2", "-o", str(tmp_path / "u.csv")]
    code, text = on_a_terminal(argv, ENV)
    assert code == 0, text
    assert "/~180 items" in text and "% " in text and " left" in text, text
    assert text.rstrip().splitlines()[-1].startswith("bangwo8: users: 180 rows written")


def test_a_pipe_gets_the_summary_line_only_and_no_extra_request(
    tmp_path: Path, threaded_fake: Callable[..., ThreadedFake]
) -> None:
    """Not a terminal: no progress line, so no task count asked for it."""
    server = threaded_fake(tasks=30, users_per_task=2)
    done = bangwo8("export", "users", "-o", str(tmp_path / "u.jsonl"), env=server.env)
    assert done.returncode == 0, done.stderr
    (summary,) = done.stderr.decode().splitlines()
    assert summary.startswith("bangwo8: users: 60 rows written")
    task_pages = [r.query for r in server.fake.requests("GET", "/api/v1/callTask.json")]
    assert task_pages and all(q.get("per_page") != "1" for q in task_pages), task_pages
