"""The session's waiting rooms: a resizable FIFO limit on requests in flight, and a pacer."""

from __future__ import annotations

import asyncio
import collections
import math
from collections.abc import Awaitable, Callable


class Gate:
    """A FIFO semaphore whose capacity can shrink and grow while it is in use.

    A shrink never cancels requests already in flight: they drain, and nobody
    new gets in until fewer than ``capacity`` hold a place. Waiters are let in
    strictly in the order they arrived, so no caller starves.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._busy = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def __repr__(self) -> str:
        return f"Gate(busy={self._busy}, capacity={self._capacity}, waiting={len(self._waiters)})"

    @property
    def capacity(self) -> int:
        """How many may hold a place at once."""
        return self._capacity

    @property
    def busy(self) -> int:
        """How many hold a place now (after a shrink, possibly more than ``capacity``)."""
        return self._busy

    def resize(self, capacity: int) -> None:
        """Change the capacity; a grow lets waiters in at once."""
        self._capacity = capacity
        self._wake()

    async def acquire(self) -> None:
        """Wait for a place, behind everyone who asked earlier."""
        if not self._waiters and self._busy < self._capacity:
            self._busy += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # granted just as we were cancelled: hand the place on
            elif waiter in self._waiters:  # _wake may have dropped it already
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        """Give a place back and let the next waiter in, if there is room."""
        self._busy -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self._busy < self._capacity:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._busy += 1
                waiter.set_result(None)

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *_: object) -> None:
        self.release()


class Throttle:
    """Spaces sends at least ``interval()`` seconds apart, in the order callers arrive.

    One caller at a time (a FIFO lock) waits for its moment, re-reading the
    interval as it waits, so a rate that rises (the adaptive one) takes
    effect at once instead of after slots booked at the old rate. Idle time
    is not saved up: after a quiet spell the next send goes at once, then the
    spacing resumes.

    ``sleep`` is the session's ``Backoff.sleep``. A test's sleep that returns
    at once still spaces the sends, on the throttle's own clock: the loop's
    time plus every sleep that returned before its time.
    """

    #: Re-read the interval at least this often while waiting.
    RECHECK = 0.05

    def __init__(
        self, interval: Callable[[], float], sleep: Callable[[float], Awaitable[None]]
    ) -> None:
        self._interval = interval
        self._sleep = sleep
        self._last = -math.inf
        self._lead = 0.0  # sleeping that returned before its time, counted as slept
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        """Return when this caller may send."""
        loop = asyncio.get_running_loop()
        async with self._lock:
            while True:
                now = loop.time() + self._lead
                at = self._last + self._interval()
                if at <= now:
                    self._last = now
                    return
                step = min(at - now, self.RECHECK)
                await self._sleep(step)
                self._lead += max(0.0, now + step - (loop.time() + self._lead))
