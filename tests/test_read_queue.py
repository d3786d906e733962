"""A list's read queue: the read-ahead count follows every read added, resolved, taken and
discarded, and a discarded read is cancelled, or its answer dropped, never learned from."""

from __future__ import annotations

import asyncio
from typing import Any

import bangwo8_async as bw
from bangwo8_async.paging.read_queue import Read, ReadQueue


async def _answer() -> bw.Page[Any]:
    return bw.Page([1, 2, 3], None, 1, 10, None, None)


async def test_the_budget_follows_every_read_and_discard_drops_them() -> None:
    running = asyncio.ensure_future(asyncio.sleep(10))
    finished = asyncio.ensure_future(_answer())
    await asyncio.sleep(0)
    queue: ReadQueue[Any] = ReadQueue()
    first: Read[Any] = Read(1, 10, running, 1, 10)  # type: ignore[arg-type]
    second: Read[Any] = Read(2, 10, finished, 2, 10)
    again: Read[Any] = Read(3, 10, finished, 3, 10, again=True)
    queue.add(first)
    queue.add(second)
    queue.add(again, 0)
    assert [r.number for r in queue.reads] == [3, 1, 2]
    assert (queue.budget.held, queue.again_ahead()) == (30, 1)
    queue.resolve(again, 3)
    assert (queue.budget.held, again.expected) == (23, 3)
    queue.discard([first, second])
    await asyncio.sleep(0)
    assert running.cancelled() and first.learned and second.learned
    assert [r.number for r in queue.reads] == [3] and queue.budget.held == 3
    assert queue.ready()  # its answer is in, and it is a page read again
    assert queue.take() is again and queue.budget.held == 0
