"""The export loop: pages from the page API, each committed with its checkpoint, and the audit.

It resumes through the public page API only: after a committed task page it
passes ``start_page``, the served ``per_page``, ``count_hint`` and the last
page's row identities as ``known``; after a customer page, its ``cursor``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import attrs

from .._http import Session
from ..call_tasks import list_call_tasks
from ..errors import Bangwo8Error
from ..paging import (
    PageStats,
    UsersCursor,
    iter_all_task_user_pages,
    iter_call_task_pages,
    row_identity,
)
from .checkpoint import identity_keys
from .rows import export_row
from .sinks import Sink

__all__ = ["COMMIT_INTERVAL", "Audit", "ExportRequest", "run_export"]

#: Seconds of pages gathered into one durable commit.
COMMIT_INTERVAL = 0.25

#: Tasks whose customer counts are seen before the customers export guesses its total.
ESTIMATE_AFTER_TASKS = 3


@attrs.define
class ExportRequest:
    """What to export and how to page it."""

    what: str
    per_page: int
    concurrency: int | None
    created_start: date | None
    created_end: date | None


@attrs.define
class Audit:
    """What an export did, over all of its runs: the summary line and ``--verify`` read it."""

    rows: int = 0
    pages: int = 0
    count_start: int | None = None
    count_end: int | None = None
    repeats_dropped: int = 0
    pages_reread: int = 0
    retries: int = 0
    throttles: int = 0
    paused: float = 0.0  # seconds the session sat out the server's Retry-After
    resumed_at: int | None = None

    def as_state(self) -> dict[str, Any]:
        """The figures a sink records when the export completes."""
        return {
            "rows": self.rows,
            "count_start": self.count_start,
            "count_end": self.count_end,
            "audit": {
                "repeats_dropped": self.repeats_dropped,
                "pages_reread": self.pages_reread,
                "retries": self.retries,
                "throttles": self.throttles,
                "paused": self.paused,
            },
        }

    def line(self, what: str, where: str, seconds: float) -> str:
        """The one summary line every export ends with."""

        def n(value: int | None) -> str:
            return "unknown" if value is None else f"{value:,}"

        return (
            f"bangwo8: {what}: {self.rows:,} rows written to {where} in {seconds:.2f}s; "
            f"server count {n(self.count_start)} at start, {n(self.count_end)} at end; "
            f"{self.repeats_dropped:,} repeats dropped, {self.pages_reread:,} pages read again, "
            f"{self.retries:,} retries, {self.throttles:,} throttled"
            + (f", paused {self.paused:.1f}s for Retry-After" if self.paused else "")
        )


def retries_of(session: Session) -> tuple[int, int]:
    """The session's retries and throttled answers so far."""
    stats = session.stats
    return stats.retries, stats.throttled


class _UserCounts:
    """The server's customer count at start and end: per task, first and last seen, summed."""

    def __init__(self, saved: dict[str, Any] | None) -> None:
        saved = saved or {}
        self.done_start: int = saved.get("done_start", 0)
        self.done_end: int = saved.get("done_end", 0)
        self.task: int | None = saved.get("task")
        self.first: int = saved.get("first", 0)
        self.latest: int = saved.get("latest", 0)
        self.tasks: int = saved.get("tasks", 0)  # tasks begun, the current one included

    def see(self, task_id: int, count: int | None, last: bool) -> None:
        count = count or 0
        if task_id != self.task:
            self.task, self.first = task_id, count
            self.tasks += 1
        self.latest = count
        if last:
            self.done_start += self.first
            self.done_end += self.latest
            self.task, self.first, self.latest = None, 0, 0

    def totals(self) -> tuple[int, int]:
        return self.done_start + self.first, self.done_end + self.latest

    def estimate(self, task_total: int | None) -> int | None:
        """About how many customers there are: those of the tasks begun, by their counts,
        plus the tasks still to come at the mean so far; ``None`` until a few are seen."""
        if task_total is None or self.tasks < ESTIMATE_AFTER_TASKS:
            return None
        counted = self.totals()[1]
        return counted + round(max(task_total - self.tasks, 0) * counted / self.tasks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tasks": self.tasks,
            "done_start": self.done_start,
            "done_end": self.done_end,
            "task": self.task,
            "first": self.first,
            "latest": self.latest,
        }


async def run_export(
    session: Session,
    request: ExportRequest,
    sink: Sink,
    saved: dict[str, Any] | None,
    shape: dict[str, Any],
    *,
    on_page: Callable[[int, int, int | None], None] | None = None,
    interval: float = COMMIT_INTERVAL,
    estimate: bool = False,
) -> Audit:
    """Export every page into ``sink``, checkpointing as it goes; return the audit.

    ``on_page(pages, rows, total)`` follows each page committed, over all runs,
    with the server's count for tasks; for customers, with ``estimate``, an
    estimated total once the task count and a few tasks' counts are known.

    Pages are committed together at most every ``interval`` seconds (0: each
    page on its own), since an fsync per one-row customer page costs more than
    the request did. Every commit is exact, so a crash loses at most
    ``interval`` seconds of work, never a row.
    """
    audit = Audit()
    base: dict[str, Any] = {}
    if saved is not None:
        base = saved.get("audit", {})
        audit.rows, audit.pages = saved["rows"], saved.get("pages", 0)
        audit.count_start, audit.count_end = saved.get("count_start"), saved.get("count_end")
    stats = PageStats()

    def tally() -> None:
        retries, throttles = retries_of(session)
        audit.repeats_dropped = base.get("repeats_dropped", 0) + stats.repeats_dropped
        audit.pages_reread = base.get("pages_reread", 0) + stats.pages_reread
        audit.retries = base.get("retries", 0) + retries
        audit.throttles = base.get("throttles", 0) + throttles
        audit.paused = base.get("paused", 0.0) + session.stats.paused_seconds

    batch = _Batch(sink, interval)

    def commit(
        models: list[Any], cursor: dict[str, Any], extra: dict[str, Any], total: int | None
    ) -> None:
        rows = [export_row(m) for m in models]
        audit.rows += len(rows)
        audit.pages += 1
        tally()
        batch.add(
            rows,
            {"shape": shape, "cursor": cursor, "pages": audit.pages, **extra, **audit.as_state()},
        )
        if on_page is not None:
            on_page(audit.pages, audit.rows, total)

    common: dict[str, Any] = {
        "per_page": request.per_page,
        "concurrency": request.concurrency,
        "created_start": request.created_start,
        "created_end": request.created_end,
        "stats": stats,
    }
    # Only a progress line wants the customers' total: the task count costs a request.
    async with _counting(session, request, estimate and request.what == "users") as counting:
        with batch:
            await _read_pages(session, request.what, saved, common, audit, commit, counting)
    if audit.count_start is None and audit.pages == 0:
        audit.count_start = audit.count_end = 0  # an empty list sends no page to count
    tally()
    return audit


Commit = Callable[[list[Any], dict[str, Any], dict[str, Any], int | None], None]


async def _task_count(session: Session, request: ExportRequest) -> int | None:
    """How many tasks the customers export will go through: one page of one task, its count.

    Only for the progress line: a failure here is the export's own to report.
    """
    try:
        page = await list_call_tasks(
            session,
            page=1,
            per_page=1,
            created_start=request.created_start,
            created_end=request.created_end,
        )
    except Bangwo8Error:
        return None
    return page.count


async def _read_pages(
    session: Session,
    what: str,
    saved: dict[str, Any] | None,
    common: dict[str, Any],
    audit: Audit,
    commit: Commit,
    counting: asyncio.Future[int | None] | None = None,
) -> None:
    """Read every page through the public page API, from the checkpoint on; commit each."""
    cursor = saved.get("cursor") if saved else None
    if what == "tasks":
        await _read_task_pages(session, cursor, common, audit, commit)
        return
    counts = _UserCounts(saved.get("user_counts") if saved else None)
    if cursor:
        audit.resumed_at = audit.pages + 1
        common["after"] = UsersCursor.from_dict(cursor)
    user_pages = iter_all_task_user_pages(session, **common)
    async with contextlib.aclosing(user_pages):
        async for tup in user_pages:
            counts.see(tup.task.call_task_id, tup.page.count, tup.last)
            audit.count_start, audit.count_end = counts.totals()
            total = counts.estimate(_known(counting))
            commit(tup.page.items, tup.cursor.to_dict(), {"user_counts": counts.to_dict()}, total)


async def _read_task_pages(
    session: Session,
    cursor: dict[str, Any] | None,
    common: dict[str, Any],
    audit: Audit,
    commit: Commit,
) -> None:
    """The task list from the checkpoint's ``cursor`` on: each page committed with the row
    identities of its tasks, which a resume passes as ``known``."""
    known: list[Any] = []
    if cursor:
        known = identity_keys(cursor["known"])
        audit.resumed_at = cursor["page"] + 1
        common.update(
            per_page=cursor["per_page"],
            start_page=cursor["page"] + 1,
            count_hint=cursor["count"],
            known=known,
        )
    task_pages = iter_call_task_pages(session, **common)
    async with contextlib.aclosing(task_pages):
        async for page in task_pages:
            if audit.count_start is None:
                audit.count_start = page.count
            audit.count_end = page.count
            if page.items:
                known = [row_identity(x) for x in page.items]
            commit(
                page.items,
                {"page": page.page, "per_page": page.per_page, "count": page.count, "known": known},
                {},
                page.count,
            )


@contextlib.asynccontextmanager
async def _counting(
    session: Session, request: ExportRequest, wanted: bool
) -> AsyncIterator[asyncio.Future[int | None] | None]:
    """The task count, asked for in the background if ``wanted``; never outlives the export."""
    if not wanted:
        yield None
        return
    counting = asyncio.ensure_future(_task_count(session, request))
    try:
        yield counting
    finally:
        counting.cancel()
        await asyncio.gather(counting, return_exceptions=True)


def _known(counting: asyncio.Future[int | None] | None) -> int | None:
    """The task count, once (and if) the request for it has answered."""
    if counting is None or not counting.done() or counting.cancelled():
        return None
    return None if counting.exception() is not None else counting.result()


class _Batch:
    """Pages waiting for one durable commit; flushed by time, at the end, and on any exit."""

    def __init__(self, sink: Sink, interval: float) -> None:
        self.sink = sink
        self.interval = interval
        self.rows: list[dict[str, Any]] = []
        self.state: dict[str, Any] | None = None
        self.last = time.monotonic()

    def add(self, rows: list[dict[str, Any]], state: dict[str, Any]) -> None:
        self.rows.extend(rows)
        self.state = state
        if time.monotonic() - self.last >= self.interval:
            self.flush()

    def flush(self) -> None:
        if self.state is not None:
            rows, state = self.rows, self.state
            self.rows, self.state = [], None
            self.sink.commit(rows, state)
        self.last = time.monotonic()

    def __enter__(self) -> _Batch:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        # The pages read so far are whole and in order: keep them, whatever ended the export.
        self.flush()
