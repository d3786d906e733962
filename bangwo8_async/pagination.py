"""Iterators over every page of a list, fetched concurrently, yielded in order, in bounded memory.

One engine, :func:`_stream`, serves all three iterators. It takes a stream of
*sources* (one paged list each: the task list, or one task's customers) and:

* fetches page 1 of a source, learns the last page from ``count`` and
  ``per_page``, then fetches the rest concurrently, at most ``concurrency``
  requests in flight (and always within the session's own limit);
* yields items strictly in order, each page as soon as it and every page
  before it are in;
* starts a page only while fewer than ``concurrency + 2`` pages are fetched
  but not yet consumed, so a slow consumer slows the fetching instead of
  growing a buffer;
* builds every request from the session's ``base_url`` and a page number,
  never from the server's ``next_page`` link;
* on ``break``/``aclose()``/cancellation cancels and awaits everything it
  started. It never yields inside a TaskGroup or timeout scope (PEP 789).
"""

from __future__ import annotations

import asyncio
import logging
import operator
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Hashable
from datetime import date
from typing import Any, Generic, TypeVar

from ._seen import SeenKeys
from ._validate import check_concurrency, check_id, check_page, date_range
from .call_tasks import list_call_tasks, list_task_users
from .errors import Bangwo8Error, NotFoundError, ValidationError
from .models import CallTask, Page, TaskUser
from .session import Session

__all__ = ["OnPage", "iter_all_task_users", "iter_call_tasks", "iter_task_users"]

T = TypeVar("T")
logger = logging.getLogger("bangwo8_async")

#: ``on_page(page_number, items_so_far, total_or_None)``, called as each page is yielded.
OnPage = Callable[[int, int, "int | None"], None]

#: Pages fetched beyond those in flight that may wait for the consumer.
_SLACK = 2
#: Task pages fetched ahead by ``iter_all_task_users``; each holds up to 100 tasks.
_TASK_PAGE_CONCURRENCY = 2
_TASK_PAGE_SIZE = 100


class _Source(Generic[T]):
    """One paged list and what is known of it so far."""

    def __init__(
        self,
        fetch: Callable[[int], Awaitable[Page[T]]],
        per_page: int,
        key: Callable[[T], Hashable],
        *,
        gone_is_empty: bool = False,
        label: str = "",
    ) -> None:
        self.fetch = fetch
        self.per_page = per_page
        self.key = key
        self.gone_is_empty = gone_is_empty
        self.label = label
        self.pages: deque[tuple[int, asyncio.Task[Page[T]]]] = deque()
        self.next_page = 1
        self.last: int | None = None  # from count; None until known, or when never sent
        self.end_at: int | None = None  # an empty (or failed) page: nothing after it
        self.more: dict[int, bool] = {}  # page -> "full, and the server says there is more"
        self.seen = SeenKeys()
        self.total: int | None = None
        self.learned: set[int] = set()  # pages whose result on_done has taken in

    def startable(self) -> bool | None:
        """``True``: start ``next_page`` now; ``None``: not yet known; ``False``: never."""
        n = self.next_page
        if self.end_at is not None and n > self.end_at:
            return False
        if n == 1 or (self.last is not None and n <= self.last):
            return True
        if n - 1 not in self.more:
            return None if any(p == n - 1 for p, _ in self.pages) else False
        return self.more[n - 1]

    def on_done(self, n: int, task: asyncio.Task[Page[T]]) -> None:
        """Learn from a finished page at once, so the next pages can start before it is consumed."""
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.end_at = n if self.end_at is None else min(self.end_at, n)
            return
        page = task.result()
        if not page.items:
            self.end_at = n if self.end_at is None else min(self.end_at, n)
            return
        full = len(page.items) >= self.per_page
        if page.count is not None:
            self.total = page.count
            implied = -(-page.count // self.per_page)
            # A count that grows mid-export extends the list; one that shrinks is caught
            # by the empty page it leads to.
            self.last = implied if self.last is None else max(self.last, implied)
            self.more[n] = full and (page.next_page is not None or implied > n)
        else:
            self.more[n] = full  # no count: page on until a short or empty page


class _Stream(Generic[T]):
    """The scheduling state of one running iterator."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.active: deque[_Source[T]] = deque()
        self.in_flight: set[asyncio.Task[Page[T]]] = set()
        self.outstanding = 0  # pages started and not yet consumed

    def start(self, source: _Source[T]) -> None:
        n = source.next_page
        source.next_page += 1
        source.more.pop(n - 2, None)
        source.pages.append((n, self.spawn(source, n)))
        self.outstanding += 1

    def spawn(self, source: _Source[T], n: int) -> asyncio.Task[Page[T]]:
        task = asyncio.ensure_future(source.fetch(n))
        task.add_done_callback(lambda t: self.done(source, n, t))
        self.in_flight.add(task)
        return task

    def done(self, source: _Source[T], n: int, task: asyncio.Task[Page[T]]) -> None:
        self.in_flight.discard(task)
        if task.cancelled():
            return  # cancelled pages teach nothing; a re-fetched one will
        if n not in source.learned:
            source.learned.add(n)
            source.on_done(n, task)

    def cancel_all(self) -> None:
        for task in self.tasks():
            task.cancel()

    def next_start(self) -> _Source[T] | None:
        """The earliest source (in output order) that may start a page now."""
        full = self.outstanding >= self.concurrency + _SLACK
        for i, source in enumerate(self.active):
            # Past the read-ahead bound, only a head with nothing queued may start a page:
            # it is what the consumer waits for, so it must never be starved.
            if full and not (i == 0 and not source.pages):
                return None
            if source.startable():
                return source
        return None

    def tasks(self) -> list[asyncio.Task[Page[T]]]:
        return [task for source in self.active for _, task in source.pages]


async def _stream(
    sources: AsyncIterator[_Source[T]],
    *,
    concurrency: int,
    on_page: OnPage | None = None,
    running_count: bool = False,
) -> AsyncGenerator[T, None]:
    state: _Stream[T] = _Stream(concurrency)
    exhausted = False
    items_so_far = 0
    pages_so_far = 0
    consumer: asyncio.Task[Any] | None = None

    def consumer_ended(_: asyncio.Task[Any]) -> None:
        # The consuming task ended while this generator sat at a yield (cancelled between
        # items, or it just stopped iterating): stop fetching now rather than whenever the
        # generator is garbage-collected.
        state.cancel_all()

    try:
        while True:
            current = asyncio.current_task()
            if current is not consumer:
                if consumer is not None:
                    consumer.remove_done_callback(consumer_ended)
                consumer = current
                if consumer is not None:
                    consumer.add_done_callback(consumer_ended)
            # Fill: start pages in output order while the limits allow.
            while len(state.in_flight) < concurrency:
                source = state.next_start()
                if source is not None:
                    state.start(source)
                    continue
                if exhausted or state.outstanding >= concurrency + _SLACK:
                    break
                try:
                    state.active.append(await anext(sources))
                except StopAsyncIteration:
                    exhausted = True
            if not state.active:
                return
            head = state.active[0]
            if not head.pages:
                if head.startable() is False:
                    state.active.popleft()
                    continue
                # The head's next page waits for a slot: let something finish.
                await asyncio.wait(state.in_flight, return_when=asyncio.FIRST_COMPLETED)
                continue
            n, task = head.pages[0]
            if not task.done():
                await asyncio.wait(state.in_flight, return_when=asyncio.FIRST_COMPLETED)
                continue
            past_end = head.end_at is not None and n > head.end_at
            if task.cancelled() and not past_end:
                # Cancelled when an earlier consumer task ended; iteration goes on in another.
                head.pages[0] = (n, state.spawn(head, n))
                continue
            head.pages.popleft()
            state.outstanding -= 1
            state.done(head, n, task)  # its callback may not have run yet
            if past_end:
                _settle(task)  # past an empty page: the list ended before it
                continue
            exc = task.exception()
            if exc is not None:
                if head.gone_is_empty and isinstance(exc, NotFoundError):
                    logger.debug("%s is gone; skipping it", head.label)
                    _cancel_source(head, n)
                    continue
                if isinstance(exc, Bangwo8Error):
                    exc.page = n
                raise exc
            page = task.result()
            if not page.items:
                _cancel_source(head, n)
                continue
            fresh = _fresh(head, page.items)
            items_so_far += len(fresh)
            pages_so_far += 1
            if on_page is not None:
                if running_count:
                    on_page(pages_so_far, items_so_far, None)
                else:
                    on_page(n, items_so_far, head.total)
            for item in fresh:
                yield item
    finally:
        if consumer is not None:
            consumer.remove_done_callback(consumer_ended)
        pending = state.tasks()
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        aclose = getattr(sources, "aclose", None)
        if aclose is not None:
            await aclose()


def _fresh(source: _Source[T], items: list[T]) -> list[T]:
    """The items not yielded before: offset paging under writes can repeat one on the next page."""
    seen = source.seen
    keys = list(map(source.key, items))
    new = set(keys)
    if len(new) == len(keys) and _NO_KEY not in new and seen.none_of(new):
        seen.update(new)  # the common case, every item new: checked mostly in C
        return items
    fresh = []
    for key, item in zip(keys, items, strict=True):
        if key != _NO_KEY:
            if key in seen:
                logger.debug("%s: dropping %r, already yielded", source.label, key)
                continue
            seen.add(key)
        fresh.append(item)
    return fresh


def _cancel_source(source: _Source[Any], n: int) -> None:
    """Nothing after page ``n``: drop the source's later pages, finished or not."""
    source.end_at = n if source.end_at is None else min(source.end_at, n)
    for _, task in source.pages:
        task.cancel()


def _settle(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # mark it retrieved: it is dropped on purpose


async def _one(source: _Source[T]) -> AsyncGenerator[_Source[T], None]:
    yield source


#: The identity of an item, for dropping repeats; C-level getters, as they run per item.
_task_key: Callable[[CallTask], Hashable] = operator.attrgetter("call_task_id")
_user_key: Callable[[TaskUser], Hashable] = operator.attrgetter("contact_id", "company_id")
#: A customer with neither id has no identity: never dropped as a repeat.
_NO_KEY = (None, None)


def _checked(
    session: Any,
    concurrency: Any,
    per_page: Any,
    on_page: Any,
    created_start: Any = None,
    created_end: Any = None,
) -> int:
    """Check an iterator's arguments before anything is sent; return its concurrency."""
    if not isinstance(session, Session):
        raise ValidationError(
            f"session must be a bangwo8_async.Session, got {type(session).__name__}",
            field="session",
        )
    check_page(1, per_page)
    date_range(created_start, created_end)
    if on_page is not None and not callable(on_page):
        raise ValidationError("on_page must be callable", field="on_page")
    return min(check_concurrency(concurrency, session.max_concurrency), session.max_concurrency)


def _task_source(
    session: Session, per_page: int, created_start: date | None, created_end: date | None
) -> _Source[CallTask]:
    async def fetch(n: int) -> Page[CallTask]:
        return await list_call_tasks(
            session, page=n, per_page=per_page, created_start=created_start,
            created_end=created_end,
        )

    return _Source(fetch, per_page, _task_key, label="call tasks")


def _user_source(
    session: Session, call_task_id: int, per_page: int, *, gone_is_empty: bool = True
) -> _Source[TaskUser]:
    async def fetch(n: int) -> Page[TaskUser]:
        return await list_task_users(session, call_task_id, page=n, per_page=per_page)

    return _Source(
        fetch, per_page, _user_key, gone_is_empty=gone_is_empty,
        label=f"customers of task {call_task_id}",
    )


def iter_call_tasks(
    session: Session,
    *,
    per_page: int = 100,
    concurrency: int | None = None,
    created_start: date | None = None,
    created_end: date | None = None,
    on_page: OnPage | None = None,
) -> AsyncGenerator[CallTask, None]:
    """Every call task, in list order, each once; pages fetched ``concurrency`` at a time.

    Arguments are checked now, before anything is sent. ``on_page(page,
    items_so_far, total)`` is called as each page is yielded (``total`` is the
    server's ``count`` when it sends one). Stop early with ``break`` inside
    ``contextlib.aclosing(...)`` or ``await it.aclose()``: every request it
    started is cancelled and awaited.
    """
    limit = _checked(session, concurrency, per_page, on_page, created_start, created_end)
    source = _task_source(session, per_page, created_start, created_end)
    return _stream(_one(source), concurrency=limit, on_page=on_page)


def iter_task_users(
    session: Session,
    call_task_id: int,
    *,
    per_page: int = 100,
    concurrency: int | None = None,
    on_page: OnPage | None = None,
) -> AsyncGenerator[TaskUser, None]:
    """Every customer of one call task, in list order; pages fetched concurrently."""
    limit = _checked(session, concurrency, per_page, on_page)
    check_id(call_task_id, "call_task_id")
    # Asked for by id: a missing task is the caller's error, not a task to skip.
    source = _user_source(session, call_task_id, per_page, gone_is_empty=False)
    return _stream(_one(source), concurrency=limit, on_page=on_page)


def iter_all_task_users(
    session: Session,
    *,
    per_page: int = 100,
    concurrency: int | None = None,
    created_start: date | None = None,
    created_end: date | None = None,
    on_page: OnPage | None = None,
) -> AsyncGenerator[TaskUser, None]:
    """Every customer of every call task, task by task in list order.

    The customers of several tasks are fetched at once (a window of tasks,
    all within the one session limit). ``per_page`` sizes the customer pages;
    task pages are 100. A task deleted between listing and fetching its
    customers is skipped. ``on_page`` gets the running count of customer pages
    and items; the total is not known in advance.
    """
    limit = _checked(session, concurrency, per_page, on_page, created_start, created_end)
    tasks = _stream(
        _one(_task_source(session, _TASK_PAGE_SIZE, created_start, created_end)),
        concurrency=min(limit, _TASK_PAGE_CONCURRENCY),
    )

    async def sources() -> AsyncGenerator[_Source[TaskUser], None]:
        try:
            async for task in tasks:
                yield _user_source(session, task.call_task_id, per_page)
        finally:
            await tasks.aclose()

    return _stream(sources(), concurrency=limit, on_page=on_page, running_count=True)
