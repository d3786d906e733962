"""The page-level API the CLI resumes through: the public one when present, else a stand-in.

The lead's ``bw.iter_call_task_pages`` / ``bw.iter_all_task_user_pages`` land on
main separately. Until then this module provides sequential stand-ins with the
SAME signatures and semantics (see the page API spec), so the export can be
built and tested now; once the public names exist they are used instead and
the stand-ins can be deleted.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Hashable
from datetime import date
from typing import Any

import attrs

from . import pagination as _pagination
from .call_tasks import list_call_tasks, list_task_users
from .errors import NotFoundError
from .models import CallTask, Page, TaskUser
from .session import Session

__all__ = [
    "PageStats",
    "TaskUserPage",
    "UsersCursor",
    "iter_all_task_user_pages",
    "iter_call_task_pages",
    "row_identity",
]


def _row_identity(item: CallTask | TaskUser) -> Hashable:
    if isinstance(item, CallTask):
        return item.call_task_id
    return (item.call_task_id, item.contact_id, item.company_id, item.user_name,
            item.company_name, item.phone)


@attrs.define
class _PageStats:
    pages: int = 0
    items: int = 0
    repeats_dropped: int = 0
    pages_reread: int = 0
    count_start: int | None = None
    count_end: int | None = None


@attrs.frozen
class _UsersCursor:
    task_page: int
    task_per_page: int
    call_task_id: int
    page: int
    per_page: int
    task_done: bool

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _UsersCursor:
        return cls(**d)


@attrs.frozen
class _TaskUserPage:
    task: CallTask
    page: Page[TaskUser]
    last: bool
    cursor: _UsersCursor


def _fresh(items: list[Any], seen: set[Hashable], stats: Any) -> list[Any]:
    out = []
    for item in items:
        key = _row_identity(item)
        if key in seen:
            if stats is not None:
                stats.repeats_dropped += 1
            continue
        out.append(item)
    seen.update(_row_identity(x) for x in out)
    return out


async def _task_pages(
    session: Session, *, per_page: int = 100, concurrency: int | None = None,
    start_page: int = 1, count_hint: int | None = None, created_start: date | None = None,
    created_end: date | None = None, known: Any = (), on_page: Any = None, stats: Any = None,
) -> AsyncGenerator[Page[CallTask], None]:
    seen: set[Hashable] = set(known)
    n = start_page
    items_so_far = 0
    while True:
        page = await list_call_tasks(session, page=n, per_page=per_page,
                                     created_start=created_start, created_end=created_end)
        if not page.items:
            return
        if stats is not None:
            if stats.count_start is None:
                stats.count_start = page.count
            stats.count_end = page.count
        fresh = _fresh(page.items, seen, stats)
        served = attrs.evolve(page, items=fresh, page=n, per_page=per_page)
        items_so_far += len(fresh)
        if stats is not None:
            stats.pages += 1
            stats.items += len(fresh)
        if on_page is not None:
            on_page(n, items_so_far, page.count)
        yield served
        last = page.last_page
        if len(page.items) < per_page or (last is not None and n >= last):
            return
        n += 1


async def _user_pages(
    session: Session, *, per_page: int = 100, concurrency: int | None = None,
    created_start: date | None = None, created_end: date | None = None,
    after: _UsersCursor | None = None, on_page: Any = None, stats: Any = None,
) -> AsyncGenerator[_TaskUserPage, None]:
    task_per_page = after.task_per_page if after else 100
    start = after.task_page if after else 1
    counts: dict[int, tuple[int | None, int | None]] = {}
    pages = 0
    items_so_far = 0
    async for tpage in _task_pages(session, per_page=task_per_page, start_page=start,
                                   created_start=created_start, created_end=created_end):
        skipping = after is not None and tpage.page == after.task_page
        for task in tpage.items:
            if skipping:
                assert after is not None
                if task.call_task_id != after.call_task_id:
                    continue
                skipping = False
                if after.task_done:
                    continue
                n = after.page + 1
            else:
                n = 1
            seen: set[Hashable] = set()
            while True:
                try:
                    page = await list_task_users(session, task.call_task_id, page=n,
                                                 per_page=per_page)
                except NotFoundError:
                    page = Page([], None, n, per_page, None, None)
                first = counts.get(task.call_task_id, (page.count, None))[0]
                counts[task.call_task_id] = (first, page.count)
                last = (not page.items or len(page.items) < per_page
                        or (page.last_page is not None and n >= page.last_page))
                fresh = _fresh(page.items, seen, stats)
                pages += 1
                items_so_far += len(fresh)
                if stats is not None:
                    stats.pages += 1
                    stats.items += len(fresh)
                    stats.count_start = sum(a or 0 for a, _ in counts.values())
                    stats.count_end = sum(b or 0 for _, b in counts.values())
                if on_page is not None:
                    on_page(pages, items_so_far, None)
                cursor = _UsersCursor(tpage.page, task_per_page, task.call_task_id, n, per_page,
                                      last)
                yield _TaskUserPage(task, attrs.evolve(page, items=fresh, page=n), last, cursor)
                if last:
                    break
                n += 1


# The public names once they are on main; these stand-ins until then.
iter_call_task_pages: Any = getattr(_pagination, "iter_call_task_pages", _task_pages)
iter_all_task_user_pages: Any = getattr(_pagination, "iter_all_task_user_pages", _user_pages)
row_identity: Any = getattr(_pagination, "row_identity", _row_identity)
PageStats: Any = getattr(_pagination, "PageStats", _PageStats)
UsersCursor: Any = getattr(_pagination, "UsersCursor", _UsersCursor)
TaskUserPage: Any = getattr(_pagination, "TaskUserPage", _TaskUserPage)
