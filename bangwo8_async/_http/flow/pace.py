"""A limit on requests per second, once found: pace just below it, and probe above."""

from __future__ import annotations

__all__ = ["PaceLimit"]


class PaceLimit:
    """Sends per second: ``BETA`` times the limit after a cut, then a cubic back and beyond.

    As CUBIC and botocore's adaptive mode do, the pace climbs back quickly to the
    limit it was cut from, flattens out near it, and only then probes beyond, faster
    the longer nothing is refused, so a limit that rose is found within seconds.
    The cubic is relative to the limit, so it probes a limit of 5/s and one of
    500/s in the same time. Times are the active clock's.
    """

    #: The pace after a cut, as a share of the limit found.
    BETA = 0.9
    #: The share of a refused probe's pace taken for the limit.
    PROBED = 0.9
    #: The cubic's scale, per second cubed, relative to the limit.
    SCALE = 0.1
    #: Seconds a pace cut far below the pace refused before it takes to climb back to it,
    #: from the limit: where the cubic would take longer.
    CLIMB = 1.5
    #: Pacing ends once the pace is this multiple of the limit and of the rate used.
    RELEASE = 2.0
    #: The lowest pace a cut can reach.
    MIN_RATE = 0.5

    def __init__(self, limit: float, now: float, back_to: float | None = None) -> None:
        """A pace held at ``limit``; ``back_to``: the pace refused just before, if any.

        A pace refused, then cut far below it to what the server let through, climbs
        back to it within ``CLIMB`` seconds, from the limit, rather than along the
        cubic from below it: what got through may be half the limit (a limit that
        refuses alternate sends once exceeded), and the cubic, relative to that, would
        take seconds to climb back. Refused again on the way, it is cut as any probe.
        """
        self.limit = max(self.MIN_RATE, limit)
        self._climb(now, back_to)

    def __repr__(self) -> str:
        return f"PaceLimit(limit={self.limit:.1f}/s)"

    def rate(self, now: float) -> float:
        """Sends per second allowed now."""
        # Capped: after minutes without a refusal the cubic would overflow, and 64 times
        # the limit is past any release.
        t = min(now - self._cut_at - self._k, 64.0)
        growth: float = self._scale * t**3
        return max(self.MIN_RATE, self.limit * (1.0 + growth))

    def cut(self, measured: float, refused_at: float, now: float) -> None:
        """A send at ``refused_at`` (a time) beyond the limit was refused: the limit is just
        below the pace it was sent at, or what the server let through, if more.

        Not simply what it let through: that lags a pace that climbed, and a limit that
        refuses alternate sends once exceeded (nginx's ``limit_req`` without a burst) lets
        through half of it.
        """
        sent = self.rate(refused_at)
        self.limit = max(self.MIN_RATE, min(sent, max(measured, self.PROBED * sent)))
        self._climb(now)

    def _climb(self, now: float, back_to: float | None = None) -> None:
        """Climb from a cut at ``now``: along the cubic, or back to ``back_to`` within
        ``CLIMB`` where the cubic would take longer."""
        self._cut_at = now
        self._scale = self.SCALE
        self._k = ((1.0 - self.BETA) / self.SCALE) ** (1.0 / 3.0)
        if back_to is not None and back_to > self.limit * (1.0 + self.SCALE * self.CLIMB**3):
            self._scale = (back_to / self.limit - 1.0) / self.CLIMB**3
            self._k = 0.0

    def released(self, measured: float, now: float) -> bool:
        """Whether the pace has grown far past the limit and what is used: it holds nobody."""
        return self.rate(now) >= self.RELEASE * max(self.limit, measured)

    def above_limit(self, now: float) -> bool:
        """Whether the pace is probing beyond the limit it was last cut to."""
        return self.rate(now) > self.limit
