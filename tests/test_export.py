"""The export's building blocks: its rows and the progress line."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest

import bangwo8_async as bw
from bangwo8_async._http.flow.pace import PaceLimit
from bangwo8_async.cli.progress import ProgressLine
from bangwo8_async.export.rows import export_row


def test_progress_line_shows_pages_items_total_and_rate() -> None:
    screen = io.StringIO()
    progress = ProgressLine("tasks", screen)
    progress(3, 300, 1000)
    progress(4, 400, 1000)  # within 0.1 s of the last draw: not redrawn
    progress.finish(1000)
    text = screen.getvalue()
    assert "\rtasks: page 3  300/1,000 items" in text and "/s" in text
    assert "page 4" not in text
    assert text.endswith("1,000 items in 0.0s" + " " * 20 + "\n")


def test_no_progress_line_without_a_terminal() -> None:
    progress = ProgressLine("tasks", None)
    progress(1, 1, None)
    progress.finish(1)  # nothing to write to, nothing raised


def test_rows_are_flat_and_json_ready() -> None:
    user = bw.TaskUser(
        1, None, 2, "王伟", "北京科技有限公司", "010-61234567", bw.Progress.COMPLETED
    )
    assert export_row(user) == {
        "call_task_id": 1,
        "contact_id": None,
        "company_id": 2,
        "user_name": "王伟",
        "company_name": "北京科技有限公司",
        "phone": "010-61234567",
        "progress": 1,  # the vendor's code; Progress(1).label is 已完成
    }
    task = bw.CallTask(5, "t", date(2024, 1, 1), datetime(2024, 1, 2, 18, 0), "新状态")
    assert export_row(task)["status"] == "新状态"  # an unknown status kept as sent
    done = bw.CallTask(5, "t", date(2024, 1, 1), date(2024, 1, 2), bw.TaskStatus.COMPLETED)
    assert export_row(done)["status"] == "已完成"


def test_exported_task_times_are_as_to_dict_writes_them() -> None:
    task = bw.CallTask(5, "t", date(2024, 1, 1), datetime(2024, 1, 2, 18, 0), "进行中")
    row = export_row(task)
    assert (row["task_start"], row["task_end"]) == ("2024-01-01", "2024-01-02T18:00:00")
    assert row == bw.to_dict(task)


def test_a_log_record_clears_the_progress_line_first(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from bangwo8_async.cli.progress import _LogHandler

    screen = io.StringIO()
    progress = ProgressLine("users", screen)
    progress.status = lambda: "2 retries  0 throttled  window 6"
    progress(7, 70, None)
    drawn = screen.getvalue()
    assert drawn.startswith("\rusers: page 7  70 items") and "2 retries" in drawn
    record = logging.LogRecord(
        "bangwo8_async", logging.INFO, __file__, 1, "GET /x: retry 1 of 3", None, None
    )
    _LogHandler(progress).emit(record)
    assert screen.getvalue() == drawn + "\r" + " " * (len(drawn) - 1) + "\r"
    assert capsys.readouterr().err == "bangwo8: INFO GET /x: retry 1 of 3\n"
    progress(8, 80, None)  # drawn again at once, not after the 0.1 s pause
    assert screen.getvalue().endswith("window 6   ")


async def test_progress_status_shows_the_window_and_then_the_pace() -> None:
    from bangwo8_async.cli.commands import _status

    async with bw.Session(bw.BasicAuth("a", "b"), base_url="http://127.0.0.1:9/api") as session:
        assert _status(session) == "0 retries  0 throttled  window 8"
        control = session._flow.control  # a rate limit found at 100/s, as a trial sets it
        control._pace = PaceLimit(100.0, control.clock())
        assert session.stats.rate is not None
        assert _status(session) == (
            f"0 retries  0 throttled  window 8  paced {session.stats.rate:.0f}/s"
        )
