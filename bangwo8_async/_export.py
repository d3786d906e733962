"""An export's rows (one format per column) and its progress line."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO, Any

import attrs

from .converter import to_dict
from .models import CallTask, TaskUser

TASK_FIELDS = [f.name for f in attrs.fields(CallTask)]
USER_FIELDS = [f.name for f in attrs.fields(TaskUser)]


def export_row(model: CallTask | TaskUser) -> dict[str, Any]:
    """One exported row: :func:`bangwo8_async.to_dict`, so that every output (JSON lines,
    CSV, SQLite, ``tasks list``) writes each field in the one format ``to_dict`` gives it."""
    return to_dict(model)


class ProgressLine:
    """A one-line progress display on a terminal: pages, rows, total, rate, retries, window.

    ``status`` (set once the session exists) adds the session's retries,
    throttles and concurrency window. :meth:`clear` blanks the line so that a
    log record prints on a line of its own.
    """

    def __init__(self, label: str, stream: IO[str] | None) -> None:
        self.label = label
        self.stream = stream
        self.started = time.monotonic()
        self.status: Callable[[], str] | None = None
        self._last = 0.0
        self._width = 0

    def __call__(self, page: int, items: int, total: int | None) -> None:
        if self.stream is None:
            return
        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        self._draw(page, items, total, now)

    def _draw(self, page: int, items: int, total: int | None, now: float) -> None:
        rate = items / max(now - self.started, 1e-6)
        of = f"/{total:,}" if total is not None else ""
        extra = f"  {self.status()}" if self.status is not None else ""
        self._show(f"{self.label}: page {page:,}  {items:,}{of} items  {rate:,.0f}/s{extra}   ")

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
            self._last = 0.0

    def finish(self, items: int) -> None:
        """The last state of the line, then a newline."""
        if self.stream is None:
            return
        elapsed = time.monotonic() - self.started
        self.stream.write(f"\r{self.label}: {items:,} items in {elapsed:.1f}s" + " " * 20 + "\n")
        self.stream.flush()
        self._width = 0
