"""The progress lines on a terminal (``export``'s and ``sync``'s), and log records around them."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from ..dlt import SyncStats

__all__ = ["ProgressLine", "SyncProgressLine", "duration", "log_to_stderr"]


def duration(seconds: float) -> str:
    """``42s``, ``3m 05s``, ``2h 07m``: a time left, as precise as it is worth."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole // 60 % 60:02d}m"


class ProgressLine:
    """A one-line progress display on a terminal: pages, rows of a total, share done, time
    left, rate, and the session's retries and window.

    ``total`` may be an estimate (``estimated``: the customers export guesses it
    from the task count and the customers per task seen so far), shown with a
    ``~``. The rate and the time left count this run's rows only (``already``
    were written by earlier runs of a resumed export). ``status`` (set once the
    session exists) adds the session's retries, throttles and concurrency
    window. :meth:`clear` blanks the line so that a log record prints on a line
    of its own. Without a stream (not a terminal) it draws nothing: the export's
    summary line is all a pipe or a file gets.
    """

    def __init__(
        self,
        label: str,
        stream: IO[str] | None,
        *,
        estimated: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.stream = stream
        self.estimated = estimated
        self.clock = clock
        self.started = clock()
        self.already = 0
        self.status: Callable[[], str] | None = None
        self._last = -1.0
        self._width = 0

    def __call__(self, page: int, items: int, total: int | None) -> None:
        if self.stream is None:
            return
        now = self.clock()
        if self._last >= 0 and now - self._last < 0.1:
            return
        self._last = now
        self._show(self.text(page, items, total, now))

    def text(self, page: int, items: int, total: int | None, now: float) -> str:
        """The line for ``items`` rows (of about ``total``) after ``page`` pages, at ``now``."""
        rate = (items - self.already) / max(now - self.started, 1e-6)
        parts = [f"{self.label}: page {page:,}"]
        if total is None:
            parts.append(f"{items:,} items")
        else:
            parts.append(f"{items:,}/{'~' if self.estimated else ''}{total:,} items")
            if total > 0:
                parts.append(f"{min(items / total, 1):.0%}")
        parts.append(f"{rate:,.0f}/s")
        if total is not None and total > items and rate > 0:
            parts.append(f"about {duration((total - items) / rate)} left")
        if self.status is not None:
            parts.append(self.status())
        return "  ".join(parts) + "   "

    def _show(self, text: str) -> None:
        assert self.stream is not None
        self.stream.write("\r" + text)
        self.stream.flush()
        self._width = len(text)

    def clear(self) -> None:
        """Blank the line, if one is shown, and return to its start."""
        if self.stream is not None and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0
            self._last = -1.0

    def finish(self, items: int) -> None:
        """The last state of the line, then a newline."""
        if self.stream is None:
            return
        elapsed = self.clock() - self.started
        self.stream.write(f"\r{self.label}: {items:,} items in {elapsed:.1f}s" + " " * 20 + "\n")
        self.stream.flush()
        self._width = 0


class SyncProgressLine:
    """``bangwo8 sync``'s line on a terminal: tasks listed, customers read, tasks skipped."""

    def __init__(self, stream: IO[str] | None) -> None:
        self.stream = stream
        self.lock = threading.Lock()  # each resource reports from its own loop thread
        self.last = 0.0
        self.width = 0

    def __call__(self, stats: SyncStats) -> None:
        if self.stream is None:
            return
        with self.lock:
            now = time.monotonic()
            if now - self.last < 0.1:
                return
            self.last = now
            text = (
                f"sync: {stats.tasks:,} tasks  {stats.customers:,} customers of "
                f"{stats.tasks_read:,} tasks  {stats.tasks_skipped:,} tasks skipped   "
            )
            self.stream.write("\r" + text)
            self.stream.flush()
            self.width = len(text)

    def clear(self) -> None:
        """Blank the line, if one is shown."""
        if self.stream is not None and self.width:
            with self.lock:
                self.stream.write("\r" + " " * self.width + "\r")
                self.stream.flush()


class _LogHandler(logging.Handler):
    """Log records on their own lines: the progress line is cleared before each."""

    def __init__(self, progress: ProgressLine | None) -> None:
        super().__init__()
        self.progress = progress
        self.setFormatter(logging.Formatter("bangwo8: %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self.progress is not None:
                self.progress.clear()
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # pragma: no cover - logging must never break the export
            self.handleError(record)


def log_to_stderr(verbose: int, progress: ProgressLine | None) -> None:
    """Print the package's log records on stderr, clearing ``progress`` first: warnings only
    by default, retries with ``-v`` (``verbose`` 1), every request with ``-vv``."""
    logger = logging.getLogger("bangwo8_async")
    logger.handlers[:] = [h for h in logger.handlers if not isinstance(h, _LogHandler)]
    logger.addHandler(_LogHandler(progress))
    logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    logger.propagate = False
