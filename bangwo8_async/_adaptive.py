"""The arithmetic of adaptive concurrency: a window of requests in flight and a send rate.

Pure and synchronous, on an injected clock, so that tests drive it step by step
without sleeping (as botocore tests its adaptive rate limiter).

- The **window** is AIMD over requests in flight, as in Netflix's
  concurrency-limits: cut to ``floor(window * BETA)`` on a throttled answer
  (429 or 503), at most once per round trip, and grown by one per round trip
  without throttling (``1 / window`` per answered request), between 1 and the
  ceiling. It starts at the ceiling, so an unthrottled server never waits.
- The **rate** is botocore's adaptive mode (CUBIC over a measured rate): off
  until the server shows a rate limit; then every cut sets it to
  ``RATE_BETA`` times the rate the server was really accepting, and answers
  without throttling grow it along a cubic that flattens out near that rate
  and only then probes beyond it; once it has grown to ``RELEASE`` times that
  rate it is switched off again. A window alone cannot hold a server that
  limits requests per second: at a short latency, one request in flight more
  is already far more requests per second than allowed.

A rate limit is told apart from a server that fails at random in two steps.
A cut of the rate needs a share of throttled answers among the recent ones
(``SHARE``, over the last ``HORIZON`` seconds, at least ``MIN_THROTTLED`` of
them), or a ``Retry-After`` that paused the session. Then the cut is on
trial for one ``HORIZON``: a rate limit keeps accepting as much after the cut
(or stops refusing), while random faults refuse the same share at any rate
and the accepted rate falls with the send rate. A cut that did neither is
undone, and the share it left is taken as the server's background of
refusals, which later cuts must exceed. Without this, random 429s and 503s
cut the rate again and again, to a crawl. Every throttled answer still cuts
the window.

"Once per round trip" is tracked with an epoch: every cut starts a new epoch,
each request is stamped with the epoch it was sent in, and only a throttled
answer to a request sent in the current epoch cuts again. Answers to requests
that were already in flight at the last cut were part of the same congestion.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import attrs

__all__ = ["AdaptiveLimit"]


@attrs.define
class _Trial:
    """A rate cut under test: what the answers looked like before it, and what it replaced."""

    ends: float
    epoch: int  # requests stamped with this epoch or later were sent after the cut
    accepted: float
    rate: float | None
    w_max: float
    k: float
    c: float
    last_cut: float
    guessed: bool
    refused: int = 0  # refusals of requests sent after the cut


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
    #: The scale of the probe after a refusal that paused the session, as a share of
    #: ``CUBIC_C``: such a refusal costs every caller the wait, so probe for more slowly.
    WAIT_PROBE = 0.05
    #: After a refusal with a wait, the share of the refused rate the cubic flattens at.
    WAIT_PLATEAU = 0.9
    #: CUBIC's scale: how fast the rate returns to, then probes past, the last limit.
    CUBIC_C = 0.4
    #: Seconds of answers over which the accepted rate and the throttled share are measured.
    HORIZON = 1.0
    #: Whether a rate limit also sets a send rate (off: the window alone adapts).
    PACE = True
    #: The share of recent answers throttled that marks a rate limit, not random faults.
    SHARE = 0.1
    #: The fewest throttled answers within ``HORIZON`` that mark a rate limit.
    MIN_THROTTLED = 3
    #: Pacing ends when the rate has grown to this multiple of the last limit and of
    #: the accepted rate.
    RELEASE = 2.0
    #: Seconds in which a rate started from a guess doubles, until the first cut.
    DOUBLING = 0.25
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
        self._c = self.CUBIC_C
        self._last_cut = 0.0  # set by the first cut, read only after it
        self._accepted: deque[float] = deque()
        self._throttled: deque[float] = deque()
        self._measure_from = -math.inf
        self._pause = (-math.inf, -math.inf)
        self._paused_before = 0.0  # seconds of pauses that ended before ``_pause``
        self._trial: _Trial | None = None
        self._background = 0.0  # the throttled share a rate cut did not reduce
        self._guessed = False  # the rate started from a guess, not a measured limit

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
            self._measure_from = self._active()
        return self._epoch

    def measured(self) -> float:
        """Accepted answers per second over the last ``HORIZON`` seconds, pauses left out."""
        now = self._active()
        self._forget(now)
        # The first answers come back within one round trip, a burst the server
        # may have let through from a full bucket: never measure over less than
        # a quarter of the horizon, or a burst of 5 in 20 ms would read as 250/s.
        span = max(self.HORIZON / 4, min(self.HORIZON, now - self._measure_from))
        if not self._accepted:
            return 0.0
        return len(self._accepted) / span

    def paused(self, start: float, end: float) -> None:
        """The session sends nothing from ``start`` to ``end``: idle time is not a slow rate.

        A pause that overlaps the last one extends it, never shortens it. Time
        already past counts as it was measured: a pause starts no earlier than
        now, or the clock the answers are kept in order of would run backward.
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
            self._paused_before += last_end - last_start
        self._pause = (start, end)

    def _active(self) -> float:
        """The clock with every pause taken out: time in which the session could send.

        The accepted rate, the throttled share and the rate's growth all run on
        it, so a pause neither looks like a slow server nor lets the rate climb.
        """
        now = self._clock()
        start, end = self._pause
        return now - self._paused_before - max(0.0, min(now, end) - start)

    def on_success(self, stamp: int) -> None:
        """An answer that was not throttled: grow the window and the rate."""
        if not self.adaptive:
            return
        now = self._active()
        self._accepted.append(now)
        self._forget(now)  # judges a trial that has ended
        if self._background:
            # The background follows the share down (with a margin for its noise):
            # once the random faults ease off, a rate limit need not outshout them.
            self._background = min(self._background, self.share() + self.SHARE / 2)
        if self._window < self.ceiling:
            self._credit += 1.0 / self._window
            if self._credit >= 1.0:
                self._credit -= 1.0
                self._window += 1
        if self._rate is not None:
            since = now - self._last_cut
            if self._guessed:  # no limit known yet: double, as TCP's slow start does
                # Capped: after minutes without an answer 2 ** (since / DOUBLING) overflows
                # a float, and 2 ** 64 times the guess is past any limit, so it releases.
                doublings = min(since / self.DOUBLING, 64.0)
                grown = self._w_max * self.RATE_BETA * 2**doublings
                limit, settle = 0.0, 2 * self.HORIZON  # the accepted rate lags the doubling
            else:
                grown = self._c * (since - self._k) ** 3 + self._w_max
                limit, settle = self._w_max, self.HORIZON
            # Far past both the last limit and what the callers send, the rate holds
            # nobody back any more: stop pacing (and stop paying for it).
            released = since >= settle and grown >= self.RELEASE * max(limit, self.measured())
            self._rate = None if released else max(self._rate, grown)

    def share(self) -> float:
        """The share of answers over the last ``HORIZON`` that were throttled."""
        self._forget(self._active())
        throttled = len(self._throttled)
        return throttled / max(1, throttled + len(self._accepted))

    def rate_limited(self) -> bool:
        """Whether the recent answers look like a rate limit rather than random faults.

        Once pacing, half the evidence will do: the server has shown a limit,
        and a cut it does not explain is undone on trial.
        """
        share = self.share()
        if self._rate is None:
            least, needed = self.MIN_THROTTLED, self.SHARE
        else:
            least, needed = self.MIN_THROTTLED - 1, self.SHARE / 2
        return len(self._throttled) >= least and share >= needed + self._background

    def on_throttle(self, stamp: int, *, asked_to_wait: bool = False) -> bool:
        """A 429 or 503: cut, unless a cut was already made for this round trip.

        The window is cut; the rate too when the recent answers show a rate
        limit (see :meth:`rate_limited`), or when the server ``asked_to_wait``
        (a ``Retry-After`` that paused the session): a server that says how
        long to wait is limiting us, and each such refusal costs the whole
        session that wait. Returns whether this answer cut.
        """
        if not self.adaptive:
            return False
        now = self._active()
        self._throttled.append(now)
        self._forget(now)  # judges a trial that has ended
        if self._trial is not None and stamp >= self._trial.epoch:
            self._trial.refused += 1
        if stamp < self._epoch:
            return False
        self._epoch += 1
        self._window = max(1, math.floor(self._window * self.BETA))
        self._credit = 0.0
        if not self.PACE:
            return True
        if self._trial is not None:
            if not asked_to_wait:
                return True  # one rate cut at a time: the last one is still on trial
            # A request sent after the cut was refused with a wait: the cut was a
            # rate limit's, and not deep enough. Pauses stop the trial's clock, so
            # waiting for its verdict would keep the too-high rate pause after pause.
            self._trial = None
            self._background = 0.0
        if not (asked_to_wait or self.rate_limited()):
            return True
        if self._guessed and now - self._last_cut < self.DOUBLING:
            return True  # refusals of the burst that led to the guess, not of the guess
        measured = self.measured()
        young = now - self._measure_from < self.HORIZON / 4
        if self._rate is None and not asked_to_wait and measured == 0:
            # Too little accepted to measure yet (the first burst was refused, or
            # let through from a full bucket): the window alone reacts until
            # there is a rate to start from.
            return True
        if measured == 0:
            # Asked to wait before anything was accepted: guess a window's worth a
            # second, which the slow start below corrects within a few seconds.
            measured = self._window / self.HORIZON
        # A first rate from less than a quarter of the horizon is a guess (too
        # little was accepted to measure): it doubles until the server refuses,
        # and is not on trial, since nothing it replaced was measured either.
        guess = self._rate is None and young
        if not guess:
            self._trial = _Trial(
                ends=now + self.HORIZON,
                epoch=self._epoch,
                accepted=measured,
                rate=self._rate,
                w_max=self._w_max,
                k=self._k,
                c=self._c,
                last_cut=self._last_cut,
                guessed=self._guessed,
            )
        if self._rate is None:
            base = measured
        elif self._guessed:
            # The end of a slow start: the accepted rate lags a rate that doubled
            # within the horizon, and the half rate went without a refusal. Sent at
            # that rate, a second's average is a third of it; a rate more than twice
            # what was accepted doubled on the clock without being used.
            base = max(measured, min(self._rate / 2, 2 * measured))
        elif asked_to_wait:
            # Refused at this rate after a pause: the accepted rate on the clock
            # without pauses counts the burst the server's bucket saved up while we
            # waited, and overstates what it sustains. The limit is below the rate
            # refused: the cubic flattens out under it.
            base = min(self._rate * self.WAIT_PLATEAU, measured)
        else:
            base = min(self._rate, measured)
        self._guessed = guess
        self._w_max = base
        self._c = self.CUBIC_C * (self.WAIT_PROBE if asked_to_wait else 1.0)
        self._k = (base * (1 - self.RATE_BETA) / self._c) ** (1 / 3)
        self._last_cut = now
        self._rate = max(self.MIN_RATE, base * self.RATE_BETA)
        return True

    def _judge(self, trial: _Trial) -> None:
        """Keep a rate cut that a rate limit explains; undo one that only cost throughput.

        Below a rate limit nothing is refused, and above it the server accepts
        as much as before: a cut that still saw refusals while it accepted less
        was cutting for random faults.

        Judged on the answers within the trial, however late the first answer
        after it comes: after a quiet spell, the answers since would read as no
        rate at all, and a lone refusal as a background of every answer refused.
        A trial with too few answers to measure a share of ``SHARE`` leaves the
        cut standing.
        """
        self._trial = None
        cut = trial.ends - self.HORIZON
        accepted = sum(1 for at in self._accepted if cut < at <= trial.ends)
        throttled = sum(1 for at in self._throttled if cut < at <= trial.ends)
        if accepted + throttled < 1 / self.SHARE:
            return
        accepting_less = accepted / self.HORIZON < 0.9 * trial.accepted
        if trial.refused and accepting_less:
            self._rate, self._w_max, self._k, self._c = trial.rate, trial.w_max, trial.k, trial.c
            self._last_cut, self._guessed = trial.last_cut, trial.guessed
            self._background = throttled / (accepted + throttled)
        else:
            self._background = 0.0

    def _forget(self, now: float) -> None:
        """Drop answers older than ``HORIZON``, judging first a trial that has ended."""
        if self._trial is not None and now >= self._trial.ends:
            self._judge(self._trial)  # on its own answers, before they are dropped
        horizon = now - self.HORIZON
        for times in (self._accepted, self._throttled):
            while times and times[0] <= horizon:
                times.popleft()
