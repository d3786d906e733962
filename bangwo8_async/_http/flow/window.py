"""A limit on requests in flight, once found: hold it, and try one more now and then."""

from __future__ import annotations

import math

from .ledger import Answer

__all__ = ["WindowLimit"]


class WindowLimit:
    """Holds the window at ``limit`` and probes ``limit + 1`` every ``PROBE_EVERY`` seconds.

    A probe is the attempts sent with more than ``limit`` in flight. A refused
    one ends it: the limit rises to the most in flight that went through below
    it, if any did, and the next probe waits a while. Probes that go through
    raise the limit by a step that doubles while they keep going through, so a
    limit that was lifted is left behind in a few probes, not one request at a
    time.

    A raise is on probation for ``PROBE_EVERY``: a refusal of a request sent
    above the old limit in that time undoes it at once, as a refused probe
    would have been. What let the probe through may have been saved up (a rate
    limit's burst, a server's count of requests in flight that lags ours), and
    a wrong raise would otherwise be refused until a trial cuts it. Times are
    the active clock's.
    """

    #: Seconds between probes while the limit holds.
    PROBE_EVERY = 2.0
    #: Seconds to the next probe after one went through.
    PROBE_AGAIN = 0.1
    #: Answers above the limit, none refused, that raise it: several, since a server's count
    #: of requests in flight lags ours and lets the first few through.
    CONFIRM = 8

    def __init__(self, limit: int, ceiling: int, now: float) -> None:
        self.limit = max(1, min(limit, ceiling))
        self.ceiling = ceiling
        self._next_probe = now + self.PROBE_EVERY
        self._step = 1
        self._through = 0
        self._highest = 0  # the most in flight that went through in this probe
        self._floor = self.limit  # the limit before the last raise ...
        self._until = -math.inf  # ... which a refusal above it undoes if sent before this

    def __repr__(self) -> str:
        return f"WindowLimit(limit={self.limit}, window={self.window(0.0)})"

    def probe_soon(self, now: float) -> None:
        """Probe in ``PROBE_AGAIN`` rather than ``PROBE_EVERY``: the limit may be a guess."""
        self._next_probe = min(self._next_probe, now + self.PROBE_AGAIN)

    def window(self, now: float) -> int:
        """Requests allowed in flight now."""
        if now >= self._next_probe:
            return min(self.ceiling, self.limit + self._step)
        return self.limit

    def learn(self, answer: Answer) -> None:
        """An answer: one sent above the limit judges the probe, one refused above the limit
        before the last raise, soon after it, undoes the raise."""
        k = answer.ticket.in_flight
        if k <= self.limit:
            if answer.refused and k > self._floor and answer.ticket.sent < self._until:
                self._set_limit(self._floor, answer.at)  # back down: the raise was refused
                self._end_probe(answer.at)
            return
        if answer.refused:
            if self._highest < k and self._highest > self.limit:
                self._set_limit(self._highest, answer.at)
            self._end_probe(answer.at)
            return
        self._highest = max(self._highest, k)
        self._through += 1
        if self._through >= self.CONFIRM:
            self._set_limit(min(self.ceiling, self.limit + self._step), answer.at)
            self._step *= 2
            self._through = self._highest = 0
            self._next_probe = answer.at + self.PROBE_AGAIN

    def _set_limit(self, limit: int, now: float) -> None:
        """Set the limit, on probation for ``PROBE_EVERY`` if it rose."""
        if limit > self.limit:
            self._floor, self._until = self.limit, now + self.PROBE_EVERY
        else:
            self._floor, self._until = limit, -math.inf
        self.limit = limit

    def _end_probe(self, now: float) -> None:
        self._next_probe = now + self.PROBE_EVERY
        self._step, self._through, self._highest = 1, 0, 0

    @property
    def lifted(self) -> bool:
        """Whether the limit has reached the ceiling: there is no limit below it to hold."""
        return self.limit >= self.ceiling
