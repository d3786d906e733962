"""The session's two waiting rooms: a resizable FIFO limit on requests in flight, and a pacer."""

from __future__ import annotations

import asyncio
import collections


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
    """Spaces sends at least ``interval`` seconds apart, in the order callers arrive.

    Each caller books the next free slot before it sleeps, so concurrent
    callers never share a slot and nobody busy-waits. The interval may change
    between calls (the adaptive rate); slots already booked are kept.
    """

    def __init__(self) -> None:
        self._next = 0.0

    async def wait(self, interval: float) -> None:
        """Return when this caller's slot has come."""
        now = asyncio.get_running_loop().time()
        at = max(now, self._next)
        self._next = at + interval
        if at > now:
            await asyncio.sleep(at - now)
