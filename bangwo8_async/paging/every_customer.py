"""Every customer of every task: the task list read alongside its tasks' customer lists."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator

import attrs

from .._http import Session
from ..models import CallTask, TaskUser
from .cursor import TaskUserPage, UsersCursor
from .engine import Taken, ordered_pages
from .lists import customer_list, one, task_list
from .options import Bounds, PagingOptions
from .progress import page_reporter
from .source import Source

#: Task pages read ahead by the customers-of-every-task iterators; each holds up to 100 tasks.
_TASK_PAGES_AHEAD = 3
_TASK_PAGE_SIZE = 100


async def every_customer_page(
    session: Session, options: PagingOptions, bounds: Bounds
) -> AsyncGenerator[TaskUserPage, None]:
    """Every page of every task's customers, task by task, from ``options.after`` on."""
    limit = asyncio.Semaphore(bounds.concurrency)  # tasks and customers share one bound
    users = ordered_pages(
        _customer_lists(session, options, bounds, limit),
        concurrency=bounds.concurrency,
        read_ahead=bounds.read_ahead,
        stats=options.stats,
        limit=limit,
    )
    report = page_reporter(options.on_page, running=True)
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


async def _customer_lists(
    session: Session, options: PagingOptions, bounds: Bounds, limit: asyncio.Semaphore
) -> AsyncIterator[Source[TaskUser]]:
    """The customer list of each task, in list order, from the cursor's task on."""
    looking = options.after  # the cursor's task, until it is found
    tasks = _task_pages(session, options, bounds, limit)
    async with contextlib.aclosing(tasks):
        async for taken in tasks:
            position = (taken.page.page, taken.page.per_page)
            chosen, resumed = _after(taken.page.items, looking)
            if looking is not None and resumed is None and taken.page.page < looking.task_page:
                continue  # the page before the cursor's, and the task is not on it: done
            looking = None
            for task in chosen:
                reading = options
                if resumed is not None and task.call_task_id == resumed.call_task_id:
                    reading = attrs.evolve(
                        options,
                        start_page=resumed.page + 1,
                        per_page=resumed.per_page,
                        count_hint=resumed.count,
                    )
                yield customer_list(
                    session,
                    task.call_task_id,
                    reading,
                    gone_is_empty=True,
                    window=bounds.window,
                    tag=(task, *position),
                )


def _task_pages(
    session: Session, options: PagingOptions, bounds: Bounds, limit: asyncio.Semaphore
) -> AsyncGenerator[Taken[CallTask], None]:
    """The task list's pages, from the cursor's task page on."""
    after = options.after
    # Resuming, start a task page early: rows removed in front may have moved the cursor's
    # task onto the page before its own.
    tasks = PagingOptions(
        per_page=after.task_per_page if after else _TASK_PAGE_SIZE,
        start_page=max(1, after.task_page - 1) if after else 1,
        created_start=options.created_start,
        created_end=options.created_end,
    )
    return ordered_pages(
        one(task_list(session, tasks)),
        concurrency=bounds.concurrency,
        read_ahead=_TASK_PAGES_AHEAD * _TASK_PAGE_SIZE,
        limit=limit,
    )


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
