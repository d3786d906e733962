"""An async generator consumed from plain synchronous code, through a loop of its own.

dlt calls a resource's generator from whatever thread runs the pipeline, with
or without an event loop (a worker thread, a scheduler, inside async code).
The SDK's iterators are async and want one long-lived consumer: their engine
cancels the reads in flight when the task consuming them ends, so stepping
them with a new task per item (as dlt does with async resources) would read
pages again. Here one task in a private event loop thread pumps the async
generator into a small queue; the synchronous side takes from it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any, TypeVar

__all__ = ["LoopThread", "drive"]

T = TypeVar("T")

#: Items the pump may run ahead of dlt: the SDK's engine reads ahead on its own.
_QUEUE = 4

_END = object()


class LoopThread:
    """An event loop running in a daemon thread until :meth:`close`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="bangwo8-dlt-loop", daemon=True
        )
        self.thread.start()

    def run(self, coro: Any) -> Any:
        """Run a coroutine in the loop and wait for its result here."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        """Cancel what still runs (a reader that left early), then stop the loop and thread."""
        try:
            self.run(_cancel_others())
            self.run(self.loop.shutdown_asyncgens())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
            self.loop.close()


def drive(produce: Callable[[], AsyncIterator[T]]) -> Generator[T, None, None]:
    """Yield what ``produce()`` yields, running it in an event loop thread of its own.

    An error in the producer is raised here; closing this generator early (or an
    interruption) cancels the producer and everything it started.
    """
    portal = LoopThread()
    try:
        queue: asyncio.Queue[Any] = portal.run(_make_queue())
        pump = asyncio.run_coroutine_threadsafe(_pump(produce, queue), portal.loop)
        while True:
            item = portal.run(queue.get())
            if item is _END:
                break
            yield item
        pump.result()  # the producer's error, if it failed
    finally:
        portal.close()


async def _make_queue() -> asyncio.Queue[Any]:
    return asyncio.Queue(_QUEUE)


async def _pump(produce: Callable[[], AsyncIterator[T]], queue: asyncio.Queue[Any]) -> None:
    """Put every item on the queue, then the end mark (after an error too: the reader is
    waiting, and ``result()`` tells it which). A cancelled pump puts nothing: no one reads."""
    items = produce()
    try:
        async for item in items:
            await queue.put(item)
    except asyncio.CancelledError:
        raise
    except BaseException:
        await queue.put(_END)
        raise
    finally:
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()
    await queue.put(_END)


async def _cancel_others() -> None:
    """Cancel every task of this loop but the caller, and wait for them to finish."""
    me = asyncio.current_task()
    others = [t for t in asyncio.all_tasks() if t is not me]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
