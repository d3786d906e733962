"""The session's clock with its pauses taken out."""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["ActiveClock"]


class ActiveClock:
    """Seconds in which the session could send: the clock less every pause for ``Retry-After``.

    Rates, shares and the growth of the pace all run on it, so a pause neither
    looks like a slow server nor lets the pace climb while nothing is sent.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._pause = (-math.inf, -math.inf)
        self._before = 0.0  # seconds of pauses that ended before ``_pause`` began

    def __call__(self) -> float:
        now = self._clock()
        start, end = self._pause
        return now - self._before - max(0.0, min(now, end) - start)

    def pause(self, start: float, end: float) -> None:
        """Nothing is sent from ``start`` to ``end`` (the wall clock's times).

        A pause that overlaps the last one extends it, never shortens it. A pause
        starts no earlier than now: time already past counts as it was measured,
        or the active clock would run backward.
        """
        now = self._clock()
        start = max(start, now)
        if end <= start:
            return
        last_start, last_end = self._pause
        if last_end >= now:  # the last pause is not over: one pause, to the later end
            self._pause = (min(start, last_start), max(end, last_end))
            return
        if last_end > last_start:
            self._before += last_end - last_start
        self._pause = (start, end)
