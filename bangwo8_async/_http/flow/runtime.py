"""The flow control as a session's attempts meet it: wait, send, answer, sleep."""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from collections.abc import Awaitable, Callable

from .control import FlowControl, Outcome, Ticket
from .waiting import Gate, Throttle

__all__ = ["Flow", "Waits", "loop_time"]

logger = logging.getLogger("bangwo8_async")


def loop_time() -> float:
    """The running loop's clock; outside a loop (a property read), the monotonic clock it
    reads by default."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


class Waits:
    """What one call has waited for already, across its attempts."""

    __slots__ = ("waited_until",)

    def __init__(self) -> None:
        #: the session pause this call already sat out in its own backoff sleep
        self.waited_until = -math.inf


class Flow:
    """A session's flow control: the pause, the window, the pace, and sleeping retries.

    Each attempt :meth:`enter`\\ s (sitting out a pause, then waiting for a place
    in the window and a turn under the pace), is sent, and :meth:`leave`\\ s with
    its answer. A retry sleeps its backoff in :meth:`backoff`, where the server's
    recovery from being down wakes it, and where, while the server is down, one
    sleeper at a time is woken every ``PROBE_EVERY`` seconds to see if it is back.
    ``sleep`` is the session's ``Backoff.sleep``, so tests that never sleep for
    real never sleep here either.
    """

    #: While the server is down, a retry tries again at least this often (seconds).
    PROBE_EVERY = 0.5
    #: The longest backoff while the server answers most requests (seconds).
    HEALTHY_BACKOFF = 0.5

    def __init__(
        self,
        ceiling: int,
        *,
        adaptive: bool,
        rate_limit: float | None,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.control = FlowControl(ceiling, clock=loop_time, adaptive=adaptive)
        self.rate_limit = rate_limit
        self.resume_at = -math.inf
        self.paused_seconds = 0.0
        self._sleep = sleep
        self._gate = Gate(self.control.window)
        self._throttle = Throttle(self._interval, sleep)
        self._sleepers: collections.deque[asyncio.Future[None]] = collections.deque()
        self._recoveries = 0
        self._last_send = -math.inf
        self._probing: asyncio.TimerHandle | None = None

    @property
    def rate(self) -> float | None:
        """The pace in force: the stricter of ``rate_limit`` and the adapted one."""
        paces = [r for r in (self.rate_limit, self.control.rate) if r is not None]
        return min(paces) if paces else None

    def _interval(self) -> float:
        rate = self.rate
        return 1.0 / rate if rate else 0.0

    async def enter(self, waits: Waits) -> Ticket:
        """Wait for the pause to end, a place in the window and a turn under the pace."""
        await self.sit_out_pause(waits)
        while True:
            await self._gate.acquire()
            try:
                await self.sit_out_pause(waits)  # a pause may have begun while we queued
                await self._pace(waits)
            except BaseException:
                self._gate.release()
                raise
            if self._gate.busy <= self._gate.capacity:
                break
            # The window shrank while we waited for our turn under the pace: queue again,
            # or a pace lifted for a window would let every waiting turn go at once.
            self._gate.release()
        self._last_send = loop_time()
        return self.control.send()

    def leave(
        self, ticket: Ticket, outcome: Outcome | None, retry_after: float | None = None
    ) -> float | None:
        """An attempt's answer (``None``: abandoned); the time the session resumes at, if
        the answer paused it."""
        control = self.control
        if outcome is None:
            control.abandon(ticket)
            self._gate.release()
            return None
        before = self._gate.capacity
        pause = control.answer(ticket, outcome, asked_to_wait=retry_after is not None)
        window = control.window
        if window != before:
            self._gate.resize(window)
            if window < before:
                logger.debug("concurrency window %d -> %d", before, window)
        self._gate.release()
        if control.recoveries != self._recoveries:
            self._recoveries = control.recoveries
            self._wake_all()
        elif control.down:
            self._keep_probing()
        if pause and retry_after is not None:
            return self._pause(retry_after)
        return None

    def _pause(self, seconds: float) -> float:
        """Hold every new attempt for ``seconds``: one shared time, extended, never shortened."""
        now = loop_time()
        until = now + seconds
        if until > self.resume_at:
            self.paused_seconds += until - max(self.resume_at, now)
            if self.resume_at <= now:
                logger.info("pausing the session for %.2fs (Retry-After)", seconds)
            self.control.pause(now, until)
            self.resume_at = until
        return until

    async def sit_out_pause(self, waits: Waits) -> bool:
        """Wait while the session is paused, unless this call already slept through it.

        Returns whether it waited.
        """
        waited = False
        while True:
            until, now = self.resume_at, loop_time()
            if until <= waits.waited_until or until <= now:
                return waited
            # Once per pause (or extension), not until the clock says so: a test's
            # recording sleep returns at once and never advances the loop's time.
            waits.waited_until = until
            await self._sleep(until - now)
            waited = True

    async def _pace(self, waits: Waits) -> None:
        """Wait for this send's turn under the pace; a pause that begins meanwhile is sat out
        and the turn waited for again, so paced sends do not go out into a pause."""
        while self.rate is not None:
            await self._throttle.wait()
            if not await self.sit_out_pause(waits):
                return

    async def backoff(self, delay: float, *, retry_after: bool) -> None:
        """Sleep a retry's backoff: at most ``HEALTHY_BACKOFF`` while the server answers most
        requests, and cut short when it recovers from being down.

        A ``Retry-After`` is the server's own word for this request: it is slept out whole.
        """
        if retry_after or not self.control.adaptive or delay <= 0:
            await self._sleep(delay)
            return
        if self.control.healthy:
            # The server answers most requests: this failure was chance, not load (a limit
            # is held by the window and the pace, which this retry goes through). A backoff
            # grown over a run of bad luck would only hold up the pages behind it.
            delay = min(delay, self.HEALTHY_BACKOFF)
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append(woken)
        if self.control.down:
            self._keep_probing()
        sleeping = asyncio.ensure_future(self._sleep(delay))
        try:
            await asyncio.wait((sleeping, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeping.cancel()
            if woken in self._sleepers:
                self._sleepers.remove(woken)

    def _wake_all(self) -> None:
        """The server answers again: the retries sleeping in backoff try now, within the
        window and the pace."""
        if self._sleepers:
            logger.info("the server answers again: %d retries go now", len(self._sleepers))
        while self._sleepers:
            woken = self._sleepers.popleft()
            if not woken.done():
                woken.set_result(None)

    def _keep_probing(self) -> None:
        if self._probing is None:
            loop = asyncio.get_running_loop()
            self._probing = loop.call_later(self.PROBE_EVERY, self._probe)

    def _probe(self) -> None:
        """While the server is down, wake one sleeping retry if nobody tried lately."""
        self._probing = None
        if not (self.control.down and self._sleepers):
            return
        if loop_time() - self._last_send >= self.PROBE_EVERY:
            while self._sleepers:
                woken = self._sleepers.popleft()
                if not woken.done():
                    woken.set_result(None)
                    break
        self._keep_probing()

    def close(self) -> None:
        """Stop probing (the session is closing)."""
        if self._probing is not None:
            self._probing.cancel()
            self._probing = None
