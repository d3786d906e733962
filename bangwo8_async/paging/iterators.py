"""Every page of a list, fetched concurrently, yielded in order, each item once, in bounded memory.

Two levels, one engine (:mod:`bangwo8_async.paging.engine`):

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

import contextlib
from collections.abc import AsyncGenerator, Hashable, Iterable, Mapping
from datetime import date
from typing import Any, TypeVar

from .._http import Session
from .._validate import check_id
from ..errors import ValidationError
from ..models import CallTask, Page, TaskUser
from .cursor import TaskUserPage, UsersCursor
from .engine import ordered_pages
from .every_customer import every_customer_page
from .lists import customer_list, one, task_list
from .options import Bounds, PagingOptions
from .progress import OnPage, page_reporter
from .source import Source
from .stats import PageStats

__all__ = [
    "iter_all_task_user_pages",
    "iter_all_task_users",
    "iter_call_task_pages",
    "iter_call_tasks",
    "iter_task_user_pages",
    "iter_task_users",
]

T = TypeVar("T")


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
    return _call_task_pages(session, *_checked(locals()))


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
    return _task_user_pages(session, call_task_id, *_checked(locals()))


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
    return every_customer_page(session, *_checked(locals()))


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
    return _items(_call_task_pages(session, *_checked(locals())))


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
    return _items(_task_user_pages(session, call_task_id, *_checked(locals())))


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
    return _items(_customer_pages(every_customer_page(session, *_checked(locals()))))


def _checked(arguments: Mapping[str, Any]) -> tuple[PagingOptions, Bounds]:
    """A public iterator's arguments (its ``locals()`` on entry), checked before any request."""
    session = arguments["session"]
    if not isinstance(session, Session):
        raise ValidationError(
            f"session must be a bangwo8_async.Session, got {type(session).__name__}",
            field="session",
        )
    options = PagingOptions.of(arguments)
    if "call_task_id" in arguments:
        check_id(arguments["call_task_id"], "call_task_id")
    return options, options.bounds(session.max_concurrency)


def _call_task_pages(
    session: Session, options: PagingOptions, bounds: Bounds
) -> AsyncGenerator[Page[CallTask], None]:
    return _list_pages(task_list(session, options, window=bounds.window), options, bounds)


def _task_user_pages(
    session: Session, call_task_id: int, options: PagingOptions, bounds: Bounds
) -> AsyncGenerator[Page[TaskUser], None]:
    source = customer_list(session, call_task_id, options, window=bounds.window)
    return _list_pages(source, options, bounds)


async def _list_pages(
    source: Source[T], options: PagingOptions, bounds: Bounds
) -> AsyncGenerator[Page[T], None]:
    """The pages of one list, through the engine, with progress reported."""
    taken = ordered_pages(
        one(source),
        concurrency=bounds.concurrency,
        read_ahead=bounds.read_ahead,
        stats=options.stats,
    )
    report = page_reporter(options.on_page)
    first = True
    async with contextlib.aclosing(taken):
        async for one_page in taken:
            if one_page.last and not one_page.page.items and not first:
                continue  # the end of the list: nothing to hand on
            first = False
            report(one_page.page)
            yield one_page.page


async def _customer_pages(
    pages: AsyncGenerator[TaskUserPage, None],
) -> AsyncGenerator[Page[TaskUser], None]:
    """The customer pages of every task, without their tasks and cursors."""
    async with contextlib.aclosing(pages):
        async for one_page in pages:
            yield one_page.page


async def _items(pages: AsyncGenerator[Page[T], None]) -> AsyncGenerator[T, None]:
    async with contextlib.aclosing(pages):
        async for page in pages:
            for item in page.items:
                yield item
