"""The arithmetic of adaptive concurrency: a window of requests in flight and a send rate.

Pure and synchronous, on an injected clock, so that tests drive it step by step
without sleeping (as botocore tests its adaptive rate limiter).

- The **window** is AIMD over requests in flight, as in Netflix's
  concurrency-limits: cut to ``floor(window * BETA)`` on a throttled answer
  (429 or 503), at most once per round trip, and grown by one per round trip
  without throttling (``1 / window`` per answered request), between 1 and the
  ceiling. It starts at the ceiling, so an unthrottled server never waits.
- The **rate** is botocore's adaptive mode (CUBIC over a measured rate): off
  until the first throttled answer; then every cut sets it to ``RATE_BETA``
  times the rate the server was really accepting, and answers without
  throttling grow it along a cubic that flattens out near that rate and only
  then probes beyond it. A window alone cannot hold a server that limits
  requests per second: at a short latency, one request in flight more is
  already far more requests per second than allowed.

"Once per round trip" is tracked with an epoch: every cut starts a new epoch,
each request is stamped with the epoch it was sent in, and only a throttled
answer to a request sent in the current epoch cuts again. Answers to requests
that were already in flight at the last cut were part of the same congestion.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

__all__ = ["AdaptiveLimit"]


class AdaptiveLimit:
    """A concurrency window and an optional send rate, adapted to throttled answers.

    ``clock`` returns seconds (the event loop's ``time`` in the session, a fake
    in tests). With ``adaptive=False`` the window stays at ``ceiling`` and no
    rate is ever set.
    """

    #: Multiplicative cut of the window on a throttled answer.
    BETA = 0.7
    #: Multiplicative cut of the send rate, from the rate the server accepted.
    RATE_BETA = 0.8
    #: CUBIC's scale: how fast the rate returns to, then probes past, the last limit.
    CUBIC_C = 0.4
    #: Seconds of accepted answers over which the accepted rate is measured.
    HORIZON = 1.0
    #: Whether throttled answers also set a send rate (off: the window alone adapts).
    PACE = False
    #: The lowest send rate (requests per second) a cut can reach.
    MIN_RATE = 0.5

    def __init__(self, ceiling: int, *, clock: Callable[[], float], adaptive: bool = True) -> None:
        self.ceiling = ceiling
        self.adaptive = adaptive
        self._clock = clock
        self._window = ceiling
        self._credit = 0.0
        self._epoch = 0
        self._rate: float | None = None
        self._w_max = 0.0
        self._k = 0.0
        self._last_cut = 0.0  # set by the first cut, read only after it
        self._accepted: deque[float] = deque()
        self._measure_from = -math.inf
        self._pause = (-math.inf, -math.inf)

    def __repr__(self) -> str:
        rate = "off" if self._rate is None else f"{self._rate:.1f}/s"
        return f"AdaptiveLimit(window={self._window}/{self.ceiling}, rate={rate})"

    @property
    def window(self) -> int:
        """Requests allowed in flight now: 1 to ``ceiling``."""
        return self._window

    @property
    def rate(self) -> float | None:
        """Sends per second allowed now, or ``None`` while no answer has been throttled."""
        return self._rate

    def stamp(self) -> int:
        """The epoch a request is sent in; pass it back with its answer."""
        if self._measure_from == -math.inf:  # the first send starts the measurement
            self._measure_from = self._clock()
        return self._epoch

    def measured(self) -> float:
        """Accepted answers per second over the last ``HORIZON`` seconds, pauses left out."""
        now = self._clock()
        self._forget(now)
        start = max(now - self.HORIZON, self._measure_from)
        pause_start, pause_end = self._pause
        idle = max(0.0, min(now, pause_end) - max(start, pause_start))
        span = now - start - idle
        if not self._accepted or span <= 0:
            return 0.0
        return len(self._accepted) / max(span, 1e-3)

    def paused(self, start: float, end: float) -> None:
        """The session sends nothing from ``start`` to ``end``: idle time is not a slow rate."""
        self._pause = (start, end)

    def on_success(self, stamp: int) -> None:
        """An answer that was not throttled: grow the window and the rate."""
        if not self.adaptive:
            return
        now = self._clock()
        self._accepted.append(now)
        self._forget(now)
        if self._window < self.ceiling:
            self._credit += 1.0 / self._window
            if self._credit >= 1.0:
                self._credit -= 1.0
                self._window += 1
        if self._rate is not None:
            grown = self.CUBIC_C * (now - self._last_cut - self._k) ** 3 + self._w_max
            self._rate = max(self._rate, grown)

    def on_throttle(self, stamp: int) -> bool:
        """A 429 or 503: cut, unless a cut was already made for this round trip.

        Returns whether this answer cut the limits.
        """
        if not self.adaptive or stamp < self._epoch:
            return False
        now = self._clock()
        self._epoch += 1
        self._window = max(1, math.floor(self._window * self.BETA))
        self._credit = 0.0
        measured = self.measured()
        if not self.PACE or (self._rate is None and measured == 0):
            # Nothing accepted to measure yet (the first burst was refused): the
            # window alone reacts until there is a rate to start from.
            return True
        if self._rate is None:
            base = measured
        elif measured > 0:
            base = min(self._rate, measured)
        else:
            base = self._rate
        self._w_max = base
        self._k = (base * (1 - self.RATE_BETA) / self.CUBIC_C) ** (1 / 3)
        self._last_cut = now
        self._rate = max(self.MIN_RATE, base * self.RATE_BETA)
        return True

    def _forget(self, now: float) -> None:
        horizon = now - self.HORIZON
        accepted = self._accepted
        while accepted and accepted[0] <= horizon:
            accepted.popleft()
