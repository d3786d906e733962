"""Every page of a list, fetched concurrently, yielded in order, each item once, in bounded memory.

Two levels, one engine (:mod:`bangwo8_async._engine`):

* page iterators (:func:`iter_call_task_pages`, :func:`iter_task_user_pages`,
  :func:`iter_all_task_user_pages`) yield :class:`~bangwo8_async.Page` objects
  (or :class:`TaskUserPage`), so a caller can checkpoint after each and resume
  with ``start_page`` (or ``after``);
* item iterators (:func:`iter_call_tasks`, :func:`iter_task_users`,
  :func:`iter_all_task_users`) yield the items of those pages.

Paging follows the server as it is: the page size it really serves, the
``count`` each page reports (a page read on the wrong side of a change that
could leave a gap is read again), and the end of the list (an empty page, a
``null`` list, or a full page that brings nothing new). An item is dropped only
as a repeat of one yielded from an earlier page (see :func:`row_identity`),
remembered over a window of recent pages, so memory stays flat. Requests are
always built from the session's ``base_url`` and a page number, never from
the server's ``next_page`` link.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Hashable, Iterable, Mapping
from datetime import date
from typing import Any, TypeVar

import attrs

from .._validate import check_concurrency, check_id, check_page, date_range
from ..call_tasks import list_call_tasks, list_task_users
from ..errors import ValidationError
from ..models import CallTask, Page, TaskUser
from ..session import Session
from .engine import PageStats, Source, Taken, stream

__all__ = [
    "OnPage",
    "PageStats",
    "TaskUserPage",
    "UsersCursor",
    "iter_all_task_user_pages",
    "iter_all_task_users",
    "iter_call_task_pages",
    "iter_call_tasks",
    "iter_task_user_pages",
    "iter_task_users",
    "row_identity",
]

T = TypeVar("T")

OnPage = Callable[[int, int, "int | None"], None]
"""The progress callback: ``on_page(page_number, items_so_far, total)``, called as each page
is yielded.

``page_number`` is an ``int``, not the page: the number of the page just
yielded (for every customer of every task, the count of customer pages so
far); ``items_so_far`` counts the items yielded up to and including it;
``total`` is the server's ``count`` when it sends one, else ``None``.

>>> def show(page_number: int, items_so_far: int, total: int | None) -> None:
...     print(f"page {page_number}: {items_so_far} of {total or '?'}")
"""

#: Items that may be fetched ahead of the consumer, per request in flight, by default: at
#: concurrency 8 that is 16,000 items, about a second of pages at 50 ms, so a page waiting
#: out a retry's backoff does not stop the pages behind it.
READ_AHEAD_PER_SLOT = 2_000
#: Keys of recent pages kept to recognise a repeat: a shift between two reads repeats rows
#: across a page boundary, so ten pages (at least 1,000 keys) of them reach far enough; an item
#: shifted further may be yielded twice, never lost.
WINDOW_PAGES = 10
_WINDOW_MIN = 1_000
#: Task pages read ahead by the customers-of-every-task iterators; each holds up to 100 tasks.
_TASK_PAGES_AHEAD = 3
_TASK_PAGE_SIZE = 100

#: A customer's identity: every field but ``progress``, which changes while calls are made.
_USER_FIELDS = ("call_task_id", "contact_id", "company_id", "user_name", "company_name", "phone")
_task_key: Callable[[CallTask], Hashable] = operator.attrgetter("call_task_id")
_user_key: Callable[[TaskUser], Hashable] = operator.attrgetter(*_USER_FIELDS)


def _task_keys(items: list[CallTask]) -> set[Hashable]:
    """``set(map(_task_key, items))``: a page's keys by a comprehension, at half the cost."""
    return {task.call_task_id for task in items}


def _user_keys(items: list[TaskUser]) -> set[Hashable]:
    """``set(map(_user_key, items))``, the fields of ``_USER_FIELDS`` in their order."""
    return {
        (u.call_task_id, u.contact_id, u.company_id, u.user_name, u.company_name, u.phone)
        for u in items
    }


def row_identity(item: CallTask | TaskUser) -> Hashable:
    """The identity by which the iterators recognise a repeat: JSON-friendly values.

    A task is its ``call_task_id``; a customer is the tuple of every field but
    ``progress``. Pass the identities of rows you already hold as ``known=``
    when resuming (after JSON, turn lists back into tuples).
    """
    if isinstance(item, TaskUser):
        return _user_key(item)
    if isinstance(item, CallTask):
        return _task_key(item)
    raise ValidationError(
        f"row_identity takes a CallTask or a TaskUser, got {type(item).__name__}", field="item"
    )


@attrs.frozen
class UsersCursor:
    """Where :func:`iter_all_task_user_pages` stands after a page: pass it as ``after=``.

    ``task_page``/``task_per_page`` locate the task in the task list,
    ``call_task_id`` names it, ``page``/``per_page`` are its customer page just
    yielded, ``task_done`` says whether that was the task's last, and ``count``
    is the count that page reported (to notice rows removed before resuming).
    """

    task_page: int
    task_per_page: int
    call_task_id: int
    page: int
    per_page: int
    task_done: bool
    count: int | None = None

    def to_dict(self) -> dict[str, int | bool | None]:
        """A JSON-ready dict; :meth:`from_dict` reads it back."""
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UsersCursor:
        """Read a cursor saved with :meth:`to_dict`; anything else is a ``ValidationError``."""
        if not isinstance(data, Mapping):
            raise ValidationError("a cursor must be a mapping", field="after")
        values: dict[str, Any] = {}
        for field in attrs.fields(cls):
            value = data.get(field.name)
            if field.name == "task_done":
                if not isinstance(value, bool):
                    raise ValidationError("cursor task_done must be a bool", field="after")
            elif field.name == "count":
                if value is not None and (
                    isinstance(value, bool) or not isinstance(value, int) or value < 0
                ):
                    raise ValidationError("cursor count must be None or an int >= 0", field="after")
            else:
                check_id(value, f"cursor {field.name}")
            values[field.name] = value
        return cls(**values)


@attrs.frozen
class TaskUserPage:
    """One page of one task's customers, in the stream of every customer of every task.

    Every task gives at least one (an empty page for a task with no customers,
    or one deleted meanwhile). ``last``: no more pages of this task follow.
    """

    task: CallTask
    page: Page[TaskUser]
    last: bool
    cursor: UsersCursor


def _task_source(
    session: Session,
    per_page: int,
    created_start: date | None,
    created_end: date | None,
    **options: Any,
) -> Source[CallTask]:
    async def fetch(n: int, size: int) -> Page[CallTask]:
        return await list_call_tasks(
            session, page=n, per_page=size, created_start=created_start, created_end=created_end
        )

    return Source(
        fetch, _task_key, per_page=per_page, label="call tasks", keys=_task_keys, **options
    )


def _user_source(
    session: Session, call_task_id: int, *, per_page: int, **options: Any
) -> Source[TaskUser]:
    async def fetch(n: int, size: int) -> Page[TaskUser]:
        return await list_task_users(session, call_task_id, page=n, per_page=size)

    return Source(
        fetch,
        _user_key,
        per_page=per_page,
        label=f"customers of task {call_task_id}",
        keys=_user_keys,
        **options,
    )


async def _one(source: Source[T]) -> AsyncGenerator[Source[T], None]:
    yield source


@attrs.frozen
class _Args:
    """An iterator's arguments, checked before anything is sent."""

    concurrency: int
    read_ahead: int
    known: list[Hashable]
    window: int


def _checked(
    session: Any,
    *,
    per_page: Any,
    concurrency: Any,
    on_page: Any = None,
    created_start: Any = None,
    created_end: Any = None,
    start_page: Any = 1,
    count_hint: Any = None,
    known: Any = (),
    read_ahead: Any = None,
    stats: Any = None,
) -> _Args:
    if not isinstance(session, Session):
        raise ValidationError(
            f"session must be a bangwo8_async.Session, got {type(session).__name__}",
            field="session",
        )
    check_page(start_page, per_page)
    date_range(created_start, created_end)
    if on_page is not None and not callable(on_page):
        raise ValidationError("on_page must be callable", field="on_page")
    if count_hint is not None and (
        isinstance(count_hint, bool) or not isinstance(count_hint, int) or count_hint < 0
    ):
        raise ValidationError(
            f"count_hint must be None or an int >= 0, got {count_hint!r}", field="count_hint"
        )
    if stats is not None and not isinstance(stats, PageStats):
        raise ValidationError("stats must be a bangwo8_async.PageStats", field="stats")
    if isinstance(known, (str, bytes)) or not isinstance(known, Iterable):
        raise ValidationError("known must be an iterable of row identities", field="known")
    keys = list(known)
    try:
        for key in keys:
            hash(key)
    except TypeError:
        raise ValidationError(
            "known must hold hashable row identities (tuples, not lists)", field="known"
        ) from None
    limit = min(check_concurrency(concurrency, session.max_concurrency), session.max_concurrency)
    if read_ahead is None:
        read_ahead = READ_AHEAD_PER_SLOT * limit
    else:
        check_id(read_ahead, "read_ahead")
    window = min(read_ahead, max(WINDOW_PAGES * per_page, _WINDOW_MIN))
    return _Args(limit, max(read_ahead, per_page), keys, window)


def _progress(on_page: OnPage | None, running: bool = False) -> Callable[[Page[Any]], None]:
    """Call ``on_page`` for each page handed on (a running count when the total is unknown)."""
    items = pages = 0

    def report(page: Page[Any]) -> None:
        nonlocal items, pages
        items += len(page.items)
        pages += 1
        if on_page is not None:
            if running:
                on_page(pages, items, None)
            else:
                on_page(page.page, items, page.count)

    return report


def _pages_of(
    source: Source[T], args: _Args, on_page: OnPage | None, stats: PageStats | None
) -> AsyncGenerator[Page[T], None]:
    """The pages of one list, through the engine, with progress reported."""
    taken = stream(
        _one(source), concurrency=args.concurrency, read_ahead=args.read_ahead, stats=stats
    )
    return _pages(taken, on_page)


async def _pages(
    taken: AsyncGenerator[Taken[T], None], on_page: OnPage | None
) -> AsyncGenerator[Page[T], None]:
    report = _progress(on_page)
    first = True
    async with contextlib.aclosing(taken):
        async for one in taken:
            if one.last and not one.page.items and not first:
                continue  # the end of the list: nothing to hand on
            first = False
            report(one.page)
            yield one.page


async def _items(pages: AsyncGenerator[Any, None]) -> AsyncGenerator[Any, None]:
    async with contextlib.aclosing(pages):
        async for page in pages:
            for item in page.items:
                yield item


def iter_call_task_pages(
    session: Session,
    *,
    per_page: int = 100,
    concurrency: int | None = None,
    start_page: int = 1,
    count_hint: int | None = None,
    created_start: date | None = None,
    created_end: date | None = None,
    known: Iterable[Hashable] = (),
    read_ahead: int | None = None,
    on_page: OnPage | None = None,
    stats: PageStats | None = None,
) -> AsyncGenerator[Page[CallTask], None]:
    """Every page of the task list from ``start_page``, in order, each task once.

    ``page.items`` are the tasks not yielded before; ``page.page`` counts in
    ``page.per_page``, the page size the server really serves (which may be
    less than ``per_page``). To resume after a page ``p``: ``per_page=p.per_page,
    start_page=p.page + 1, count_hint=p.count, known=[row_identity(t) for t in
    p.items]``. ``count_hint`` (about how many tasks there are) lets the first
    round ask for several pages at once. ``read_ahead`` bounds the items held
    ahead of the consumer (default 2,000 per request in flight). Arguments are
    checked now, before anything is sent.
    """
    args = _checked(
        session,
        per_page=per_page,
        concurrency=concurrency,
        on_page=on_page,
        created_start=created_start,
        created_end=created_end,
        start_page=start_page,
        count_hint=count_hint,
        known=known,
        read_ahead=read_ahead,
        stats=stats,
    )
    source = _task_source(
        session,
        per_page,
        created_start,
        created_end,
        start_page=start_page,
        count_hint=count_hint,
        known=args.known,
        window=args.window,
    )
    return _pages_of(source, args, on_page, stats)


def iter_task_user_pages(
    session: Session,
    call_task_id: int,
    *,
    per_page: int = 100,
    concurrency: int | None = None,
    start_page: int = 1,
    count_hint: int | None = None,
    known: Iterable[Hashable] = (),
    read_ahead: int | None = None,
    on_page: OnPage | None = None,
    stats: PageStats | None = None,
) -> AsyncGenerator[Page[TaskUser], None]:
    """Every page of one task's customers from ``start_page``, in order; as
    :func:`iter_call_task_pages`. A task that does not exist raises ``NotFoundError``."""
    args = _checked(
        session,
        per_page=per_page,
        concurrency=concurrency,
        on_page=on_page,
        start_page=start_page,
        count_hint=count_hint,
        known=known,
        read_ahead=read_ahead,
        stats=stats,
    )
    check_id(call_task_id, "call_task_id")
    source = _user_source(
        session,
        call_task_id,
        per_page=per_page,
        start_page=start_page,
        count_hint=count_hint,
        known=args.known,
        window=args.window,
    )
    return _pages_of(source, args, on_page, stats)


def iter_all_task_user_pages(
    session: Session,
    *,
    per_page: int = 100,
    concurrency: int | None = None,
    created_start: date | None = None,
    created_end: date | None = None,
    after: UsersCursor | None = None,
    read_ahead: int | None = None,
    on_page: OnPage | None = None,
    stats: PageStats | None = None,
) -> AsyncGenerator[TaskUserPage, None]:
    """Every page of every task's customers, task by task in list order, with where it stands.

    Each :class:`TaskUserPage` carries its task and a :class:`UsersCursor`;
    ``after=cursor`` continues right after that page. The customers of several
    tasks are fetched at once, all within the one ``concurrency`` bound.
    ``per_page`` sizes the customer pages (task pages are 100). A task deleted
    between listing and fetching its customers gives one empty page. ``stats``
    counts customers (``count_start``/``count_end`` summed over the tasks).
    """
    args = _checked(
        session,
        per_page=per_page,
        concurrency=concurrency,
        on_page=on_page,
        created_start=created_start,
        created_end=created_end,
        read_ahead=read_ahead,
        stats=stats,
    )
    if after is not None and not isinstance(after, UsersCursor):
        raise ValidationError("after must be a bangwo8_async.UsersCursor", field="after")
    return _all_user_pages(
        session, per_page, args, created_start, created_end, after, on_page, stats
    )


async def _all_user_pages(
    session: Session,
    per_page: int,
    args: _Args,
    created_start: date | None,
    created_end: date | None,
    after: UsersCursor | None,
    on_page: OnPage | None,
    stats: PageStats | None,
) -> AsyncGenerator[TaskUserPage, None]:
    limit = asyncio.Semaphore(args.concurrency)  # tasks and customers share one bound
    # Resuming, start a task page early: rows removed in front may have moved the cursor's
    # task onto the page before its own.
    first_page = max(1, after.task_page - 1) if after else 1
    task_source = _task_source(
        session,
        after.task_per_page if after else _TASK_PAGE_SIZE,
        created_start,
        created_end,
        start_page=first_page,
    )
    tasks = stream(
        _one(task_source),
        concurrency=args.concurrency,
        read_ahead=_TASK_PAGES_AHEAD * _TASK_PAGE_SIZE,
        limit=limit,
    )

    async def sources() -> AsyncIterator[Source[TaskUser]]:
        looking = after  # the cursor's task, until it is found
        async with contextlib.aclosing(tasks):
            async for taken in tasks:
                position = (taken.page.page, taken.page.per_page)
                chosen, resumed = _after(taken.page.items, looking)
                if looking is not None and resumed is None and taken.page.page < looking.task_page:
                    continue  # the page before the cursor's, and the task is not on it: done
                looking = None
                for task in chosen:
                    options: dict[str, Any] = {"per_page": per_page}
                    if resumed is not None and task.call_task_id == resumed.call_task_id:
                        options = {
                            "start_page": resumed.page + 1,
                            "per_page": resumed.per_page,
                            "count_hint": resumed.count,
                        }
                    yield _user_source(
                        session,
                        task.call_task_id,
                        gone_is_empty=True,
                        window=args.window,
                        tag=(task, *position),
                        **options,
                    )

    users = stream(
        sources(),
        concurrency=args.concurrency,
        read_ahead=args.read_ahead,
        stats=stats,
        limit=limit,
    )
    report = _progress(on_page, running=True)
    async with contextlib.aclosing(users):
        async for taken in users:
            task, task_page, task_per_page = taken.source.tag
            page = taken.page
            report(page)
            cursor = UsersCursor(
                task_page,
                task_per_page,
                task.call_task_id,
                page.page,
                page.per_page,
                taken.last,
                page.count,
            )
            yield TaskUserPage(task, page, taken.last, cursor)


def _after(
    tasks: list[CallTask], cursor: UsersCursor | None
) -> tuple[list[CallTask], UsersCursor | None]:
    """The tasks from the cursor's task on (after it, if it was done), and the cursor if found.

    If the task is not on the page (deleted, or the list moved), every task of
    the page is taken again: a repeat is a nuisance, a lost row a defect.
    """
    if cursor is None:
        return tasks, None
    ids = [task.call_task_id for task in tasks]
    if cursor.call_task_id not in ids:
        return tasks, None
    at = ids.index(cursor.call_task_id)
    return (tasks[at + 1 :] if cursor.task_done else tasks[at:]), cursor


def iter_call_tasks(
    session: Session,
    *,
    per_page: int = 100,
    concurrency: int | None = None,
    start_page: int = 1,
    count_hint: int | None = None,
    created_start: date | None = None,
    created_end: date | None = None,
    read_ahead: int | None = None,
    on_page: OnPage | None = None,
    stats: PageStats | None = None,
) -> AsyncGenerator[CallTask, None]:
    """Every call task, in list order, each once; pages fetched ``concurrency`` at a time.

    Arguments are checked now, before anything is sent. ``on_page(page_number,
    items_so_far, total)`` (see :data:`OnPage`) is called as each page is
    yielded, with that page's number (an ``int``; ``total`` is the server's
    ``count`` when it sends one). Stop early with ``break`` inside
    ``contextlib.aclosing(...)`` or ``await it.aclose()``: every request it
    started is cancelled and awaited.
    """
    return _items(
        iter_call_task_pages(
            session,
            per_page=per_page,
            concurrency=concurrency,
            start_page=start_page,
            count_hint=count_hint,
            created_start=created_start,
            created_end=created_end,
            read_ahead=read_ahead,
            on_page=on_page,
            stats=stats,
        )
    )


def iter_task_users(
    session: Session,
    call_task_id: int,
    *,
    per_page: int = 100,
    concurrency: int | None = None,
    start_page: int = 1,
    count_hint: int | None = None,
    read_ahead: int | None = None,
    on_page: OnPage | None = None,
    stats: PageStats | None = None,
) -> AsyncGenerator[TaskUser, None]:
    """Every customer of one call task, in list order; pages fetched concurrently.

    ``on_page(page_number, items_so_far, total)`` as for :func:`iter_call_tasks`.
    """
    return _items(
        iter_task_user_pages(
            session,
            call_task_id,
            per_page=per_page,
            concurrency=concurrency,
            start_page=start_page,
            count_hint=count_hint,
            read_ahead=read_ahead,
            on_page=on_page,
            stats=stats,
        )
    )


def iter_all_task_users(
    session: Session,
    *,
    per_page: int = 100,
    concurrency: int | None = None,
    created_start: date | None = None,
    created_end: date | None = None,
    read_ahead: int | None = None,
    on_page: OnPage | None = None,
    stats: PageStats | None = None,
) -> AsyncGenerator[TaskUser, None]:
    """Every customer of every call task, task by task in list order.

    The customers of several tasks are fetched at once, all within the one
    session limit. ``per_page`` sizes the customer pages; task pages are 100.
    A task deleted between listing and fetching its customers is skipped.
    ``on_page(page_number, items_so_far, None)`` (see :data:`OnPage`) gets the
    running count of customer pages and items; the total is not known in advance.
    """
    return _items(
        _flatten_task_pages(
            iter_all_task_user_pages(
                session,
                per_page=per_page,
                concurrency=concurrency,
                created_start=created_start,
                created_end=created_end,
                read_ahead=read_ahead,
                on_page=on_page,
                stats=stats,
            )
        )
    )


async def _flatten_task_pages(
    pages: AsyncGenerator[TaskUserPage, None],
) -> AsyncGenerator[Page[TaskUser], None]:
    async with contextlib.aclosing(pages):
        async for one in pages:
            yield one.page
