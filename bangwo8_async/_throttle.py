"""A session-wide limit of requests per second."""

from __future__ import annotations

import asyncio


class Throttle:
    """Spaces sends at least ``1 / rate`` seconds apart, in the order callers arrive.

    Each caller books the next free slot before it sleeps, so concurrent
    callers never share a slot and nobody busy-waits.
    """

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0

    async def wait(self) -> None:
        """Return when this caller's slot has come."""
        now = asyncio.get_running_loop().time()
        at = max(now, self._next)
        self._next = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)
