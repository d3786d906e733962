"""The dlt source: every task and every customer, read by the SDK's own page iterators.

Each resource runs its own copy of the session in an event loop thread of its
own (:mod:`._loop`), so the source works from any thread, with or without a
running loop. ``task_users`` reads the task list too, and decides from the
statuses it saw at the last run (kept in dlt's resource state, committed only
with a load package that was extracted in full) whose customers to read again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import Any, Literal

import attrs
import dlt
from dlt.common.pipeline import current_pipeline
from dlt.extract.resource import DltResource
from dlt.extract.source import DltSource

from .._http import Session
from ..models import CallTask, TaskStatus, TaskUser
from ..paging import iter_call_task_pages
from ..paging.engine import Taken, ordered_pages
from ..paging.lists import customer_list, one, task_list
from ..paging.options import PagingOptions
from . import _rows
from ._loop import drive

__all__ = ["SyncStats", "build_source", "merges", "needs_customers"]

Refresh = Literal["incremental", "full"]

#: Statuses after which a task's customers are taken as settled, while the status holds.
_SETTLED = frozenset({TaskStatus.COMPLETED.value, TaskStatus.OVERDUE.value})
#: Task pages read ahead while customers are fetched: each holds up to 100 tasks.
_TASK_PAGES_AHEAD = 3
_STATE_VERSION = 1
#: Rows handed to dlt at once: whole pages, gathered (most tasks have one page of a few
#: customers), as dlt's cost per item (an Arrow table above all) dwarfs a few rows' own.
BATCH_ROWS = 5_000


@attrs.define
class SyncStats:
    """What a run of the source read, filled in as it goes (the CLI's progress and summary)."""

    tasks: int = 0  # tasks listed by ``call_tasks``
    listed: int = 0  # tasks listed by ``task_users`` to decide whose customers to read
    tasks_read: int = 0  # tasks whose customers were read
    tasks_skipped: int = 0  # tasks whose customers were not read again (settled)
    customers: int = 0  # customers read
    customers_skipped: int = 0  # customers of the skipped tasks, as counted when last read
    customer_requests: int = 0  # customer pages read
    on_page: Callable[[SyncStats], None] | None = None


def _copy(template: Session) -> Session:
    """A new session with the template's settings: each resource's own, in its own loop
    (an aiohttp session belongs to the loop it was made in)."""
    return Session(
        template.auth,
        base_url=template.base_url,
        timeout=template.timeout,
        max_retries=template.max_retries,
        max_concurrency=template.max_concurrency,
        rate_limit=template.rate_limit,
        backoff=template.backoff,
        adaptive=template.adaptive,
    )


def needs_customers(before: Any, status: str) -> bool:
    """The incremental rule: read a task's customers unless it was settled (completed or
    overdue) at the last run and its status has not changed since."""
    if not isinstance(before, list) or not before:
        return True  # new to us (or a state we cannot read): read it
    return not (before[0] == status and status in _SETTLED)


# -- the producers, in the resource's own loop ------------------------------------------------


async def _task_pages(template: Session, arrow: bool, stats: SyncStats) -> AsyncIterator[Any]:
    async with _copy(template) as session:
        pages = iter_call_task_pages(session)
        batch: list[CallTask] = []
        seen: set[int] = set()  # a task listed twice in one run is one row (full: replaced)
        async with contextlib.aclosing(pages):
            async for page in pages:
                tasks = [t for t in page.items if t.call_task_id not in seen]
                seen.update(t.call_task_id for t in tasks)
                stats.tasks += len(tasks)
                if stats.on_page is not None:
                    stats.on_page(stats)
                batch += tasks
                if len(batch) >= BATCH_ROWS:
                    yield _rows.task_table(batch) if arrow else _rows.task_dicts(batch)
                    batch = []
        if batch or not seen:  # no task at all: an empty table, whose merge still runs
            yield _rows.task_table(batch) if arrow else _rows.task_dicts(batch)


@attrs.define
class _Plan:
    """What ``task_users`` knows and records: the last run's tasks and this run's."""

    before: dict[str, Any]
    full: bool
    seen: dict[str, list[Any]] = attrs.Factory(dict)


async def _customer_pages(
    template: Session, plan: _Plan, arrow: bool, stats: SyncStats
) -> AsyncIterator[Any]:
    async with _copy(template) as session:
        options = PagingOptions(per_page=100)
        args = options.bounds(session.max_concurrency)
        limit = asyncio.Semaphore(args.concurrency)  # tasks and customers share one bound
        tasks = ordered_pages(
            one(task_list(session, options)),
            concurrency=args.concurrency,
            read_ahead=_TASK_PAGES_AHEAD * 100,
            limit=limit,
        )

        async def sources() -> AsyncIterator[Any]:
            async with contextlib.aclosing(tasks):
                async for taken in tasks:
                    for task in taken.page.items:
                        if _choose(plan, task.call_task_id, _rows.status_text(task.status), stats):
                            yield customer_list(
                                session,
                                task.call_task_id,
                                options,
                                gone_is_empty=True,
                                window=args.window,
                                tag=task.call_task_id,
                            )

        users = ordered_pages(
            sources(), concurrency=args.concurrency, read_ahead=args.read_ahead, limit=limit
        )
        keys: dict[int, set[str]] = {}  # row keys of the tasks still being read
        batch: list[TaskUser] = []
        sent = False
        async with contextlib.aclosing(users):
            async for taken in users:
                batch += _new_rows(taken, keys, plan, stats)
                if len(batch) >= BATCH_ROWS:
                    yield _rows.user_table(batch) if arrow else _rows.user_dicts(batch)
                    batch, sent = [], True
        if batch or not sent:  # no customer at all: an empty table, whose merge still runs
            yield _rows.user_table(batch) if arrow else _rows.user_dicts(batch)


def _choose(plan: _Plan, call_task_id: int, status: str, stats: SyncStats) -> bool:
    """Whether to read this task's customers now; records the task for the next run.

    A task listed twice in one run (a list that moved further than the iterator's
    window of repeats) is read once: its rows go in once.
    """
    key = str(call_task_id)
    if key in plan.seen:
        return False
    before = plan.before.get(key)
    stats.listed += 1
    if plan.full or needs_customers(before, status):
        plan.seen[key] = [status, 0]
        stats.tasks_read += 1
        return True
    counted = before[1] if isinstance(before, list) and len(before) > 1 else 0
    plan.seen[key] = [status, counted if isinstance(counted, int) else 0]
    stats.tasks_skipped += 1
    stats.customers_skipped += plan.seen[key][1]
    return False


def _new_rows(
    taken: Taken[TaskUser], keys: dict[int, set[str]], plan: _Plan, stats: SyncStats
) -> list[TaskUser]:
    """The page's customers not already taken from this task (two equal rows are one row:
    the warehouse key is the row identity), counted for the next run."""
    call_task_id: int = taken.source.tag
    held = keys.setdefault(call_task_id, set())
    rows = []
    for user in taken.page.items:
        key = _rows.row_key(user)
        if key not in held:
            held.add(key)
            rows.append(user)
    if taken.last:
        del keys[call_task_id]
    entry = plan.seen.get(str(call_task_id))
    if entry is not None:
        entry[1] += len(rows)
    stats.customers += len(rows)
    stats.customer_requests += 1
    if stats.on_page is not None:
        stats.on_page(stats)
    return rows


# -- the dlt side: resources and their state --------------------------------------------------


def _pipeline() -> Any:
    """The pipeline running this source, or ``None`` (the source iterated on its own: asking
    ``dlt.current.pipeline()`` then would make a default pipeline on disk)."""
    return current_pipeline()


def _target() -> str:
    """Which warehouse this run loads into, as a digest: the state of another one (a new
    dataset, another DuckDB file, another server) must not decide what to skip here.

    It hashes the destination's name, the dataset and dlt's own printable form of the
    credentials, which leaves out passwords.
    """
    parts: list[str] = []
    pipeline = _pipeline()
    try:
        parts.append(pipeline.destination.destination_name if pipeline.destination else "")
        parts.append(pipeline.dataset_name or "")
        client = pipeline.destination_client()  # not entered: no connection is opened
        parts.append(str(getattr(client.config, "credentials", "")))
    except Exception:  # no pipeline, or no client: fewer parts
        pass
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def merges(pipeline: Any) -> bool:
    """Whether ``pipeline``'s destination merges as the incremental sync needs (dlt's
    delete-insert); files do not: there each run reads everything and replaces the tables.
    A destination that cannot say, or no pipeline, is taken at its word that it merges."""
    try:
        strategies = pipeline.destination.capabilities().supported_merge_strategies
    except Exception:
        return True
    return strategies is None or "delete-insert" in strategies


#: Which rows of a table a merge replaces: all of them (a full refresh), or the customers of
#: the tasks read in this run. The rows themselves are keyed (``call_task_id``, ``row_key``),
#: so that dlt keeps one of a row found twice in staging, where a load job that ran before a
#: crash and is run again by the next load copies its rows a second time.
_EVERY_ROW = "1 = 1"
_TASKS_READ = "call_task_id IN (SELECT call_task_id FROM {staging_table})"


def _disposition(merge: bool, full: bool, scope: str | None) -> Any:
    if not merge:
        return "replace"
    disposition: dict[str, str] = {"disposition": "merge", "strategy": "delete-insert"}
    if full or scope is not None:
        disposition["destination_scope"] = _EVERY_ROW if full else scope  # type: ignore[assignment]
    return disposition


def _with_disposition(items: Generator[Any, None, None], disposition: Any) -> Iterator[Any]:
    """``items``, the first carrying this run's write disposition to dlt: it depends on the
    destination, which is known only once the pipeline runs."""
    hints = dlt.mark.make_hints(write_disposition=disposition)
    first = True
    with contextlib.closing(items):  # closed early by dlt (``add_limit``): stop the reads now
        for item in items:
            yield dlt.mark.with_hints(item, hints) if first else item
            first = False


def _call_tasks(template: Session, full: bool, arrow: bool, stats: SyncStats) -> DltResource:
    def call_tasks() -> Iterator[Any]:
        merge = merges(_pipeline())
        pages = drive(lambda: _task_pages(template, arrow, stats))
        yield from _with_disposition(pages, _disposition(merge, full or not merge, None))

    return dlt.resource(
        call_tasks,
        name="call_tasks",
        write_disposition=_disposition(True, full, None),
        primary_key="call_task_id",
        columns=_rows.TASK_COLUMNS,
    )


def _task_users(template: Session, full: bool, arrow: bool, stats: SyncStats) -> DltResource:
    def task_users() -> Iterator[Any]:
        merge = merges(_pipeline())
        every = full or not merge
        state = dlt.current.resource_state()
        target = _target()
        same = state.get("version") == _STATE_VERSION and state.get("target") == target
        plan = _Plan(dict(state.get("tasks") or {}) if same and not every else {}, every)
        pages = drive(lambda: _customer_pages(template, plan, arrow, stats))
        yield from _with_disposition(pages, _disposition(merge, every, _TASKS_READ))
        # Only now, with every customer extracted: dlt commits the state with this package.
        state.update(version=_STATE_VERSION, target=target, tasks=plan.seen)

    return dlt.resource(
        task_users,
        name="task_users",
        write_disposition=_disposition(True, full, _TASKS_READ),
        primary_key="row_key",
        columns=_rows.USER_COLUMNS,
    )


def build_source(
    template: Session, refresh: Refresh, *, arrow: bool = True, stats: SyncStats | None = None
) -> DltSource:
    """The source over ``template``'s settings; ``arrow=False`` yields dicts (the benchmark
    measures both), ``stats`` is filled in as it runs."""
    full = refresh == "full"
    figures = stats if stats is not None else SyncStats()

    @dlt.source(name="bangwo8", max_table_nesting=0, root_key=False)
    def bangwo8() -> list[DltResource]:
        return [
            _call_tasks(template, full, arrow, figures),
            _task_users(template, full, arrow, figures),
        ]

    return bangwo8()
