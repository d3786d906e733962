"""Writing an export: flat records, JSON lines or CSV, an all-or-nothing file, progress."""

from __future__ import annotations

import contextlib
import csv
import enum
import io
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import attrs
import orjson

from .models import CallTask, Progress, TaskUser

TASK_FIELDS = [f.name for f in attrs.fields(CallTask)]
USER_FIELDS = [f.name for f in attrs.fields(TaskUser)]


def plain(value: Any) -> Any:
    """A JSON/CSV-friendly value: dates in the vendor's format, enums by their label."""
    if isinstance(value, Progress):
        return value.label
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if attrs.has(type(value)):
        return record(value)
    return value


def record(model: Any) -> dict[str, Any]:
    """A model as a flat dict of its SDK field names."""
    return {f.name: plain(getattr(model, f.name)) for f in attrs.fields(type(model))}


@contextlib.contextmanager
def output(path: str) -> Iterator[IO[bytes]]:
    """A binary stream to ``path`` (``-`` is stdout) that only appears when complete.

    A file is written beside its destination under a temporary name and
    renamed into place on success, so a failed export never leaves a file
    that looks complete.
    """
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class Writer:
    """Writes records as JSON lines or CSV (with a header row), UTF-8, Chinese intact."""

    def __init__(self, stream: IO[bytes], fmt: str, fields: list[str]) -> None:
        self.stream = stream
        self.fmt = fmt
        self.count = 0
        if fmt == "csv":
            self._text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=True)
            self._csv = csv.DictWriter(self._text, fieldnames=fields)
            self._csv.writeheader()

    def write(self, row: dict[str, Any]) -> None:
        if self.fmt == "csv":
            self._csv.writerow(row)
        else:
            self.stream.write(orjson.dumps(row) + b"\n")
        self.count += 1

    def close(self) -> None:
        if self.fmt == "csv":
            self._text.flush()
            self._text.detach()  # leave the underlying stream (maybe stdout) open


class ProgressLine:
    """A one-line progress display on a terminal: pages, items, total and rate."""

    def __init__(self, label: str, stream: IO[str] | None) -> None:
        self.label = label
        self.stream = stream
        self.started = time.monotonic()
        self._last = 0.0

    def __call__(self, page: int, items: int, total: int | None) -> None:
        if self.stream is None:
            return
        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        self._draw(page, items, total, now)

    def _draw(self, page: int, items: int, total: int | None, now: float) -> None:
        assert self.stream is not None
        rate = items / max(now - self.started, 1e-6)
        of = f"/{total:,}" if total is not None else ""
        self.stream.write(
            f"\r{self.label}: page {page:,}  {items:,}{of} items  {rate:,.0f}/s   "
        )
        self.stream.flush()

    def finish(self, items: int) -> None:
        if self.stream is None:
            return
        elapsed = time.monotonic() - self.started
        self.stream.write(f"\r{self.label}: {items:,} items in {elapsed:.1f}s" + " " * 20 + "\n")
        self.stream.flush()


async def drain(items: AsyncIterator[Any], writer: Writer) -> int:
    """Write every item of an iterator; return how many."""
    async for item in items:
        writer.write(record(item))
    return writer.count
