"""Flow control: which limit the refusals show, and the window and pace that hold it.

Pure and synchronous, on an injected clock, so that tests drive it answer by
answer (as botocore tests its adaptive rate limiter). Three causes of refusals
(429 and 503) call for three answers:

- a **concurrency limit** refuses what was sent with more than N in flight, at
  any rate: the window finds N and holds it (:class:`WindowLimit`);
- a **rate limit** refuses once more than R are sent a second, at any
  concurrency: the pace finds R and holds just below it (:class:`PaceLimit`);
- **noise** refuses the same share whatever is sent: nothing is cut, and each
  refused request retries on its own backoff.

Refusals are taken for a limit only when more of them came in the last
``HORIZON`` than the **background** of noise explains (:func:`excess`). Then a
cut is tried: the window, when the refusals came only above some number in
flight (:func:`concurrency_limit`), else the pace, at what the server let
through. A cut is on **trial** for the answers to requests sent after it:

- it stays if all it left is the background;
- a window that left more is followed by a pace: refusals at any window are a
  rate limit's;
- a pace that left more is cut again, to what the server let through during
  its trial, and judged against it: the first pace may have been measured off a
  burst, far too high; a later one stays on trial while it lowers the share
  refused;
- a pace that did not lower it is undone, with every cut before it, and the
  share it left becomes the background.

So a server that fails at random is never slowed for long, and a limit with
noise on top is still found, and held with that noise as its background.

A server that refuses or fails everything for a while is **down**, not limited
(a limit lets something through): nothing is cut, and the first success after
it counts as a recovery (``recoveries``), which wakes the retries sleeping in
their backoff.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable

import attrs

from .clock import ActiveClock
from .judge import SLACK, concurrency_limit, excess, lowered
from .ledger import Answer, Ledger, Outcome, Ticket
from .pace import PaceLimit
from .window import WindowLimit

__all__ = ["FlowControl", "Outcome", "Ticket"]


class _Cut(enum.Enum):
    WINDOW = "window"
    PACE = "pace"


@attrs.define
class _Trial:
    """A cut under test, on the answers to requests sent after it."""

    cut: _Cut
    epoch: int
    started: float
    #: the answers that showed the limit, and the refusals among them
    before_total: int
    before_refused: int
    #: the limits in force before the cut, restored if it does not earn its keep
    previous: tuple[WindowLimit | None, PaceLimit | None]
    #: cuts in a row so far, this one included
    rounds: int = 1
    total: int = 0
    refused: int = 0

    @property
    def before(self) -> tuple[int, int]:
        """(refused, total) of the answers that showed the limit."""
        return self.before_refused, self.before_total

    def add(self, answer: Answer) -> None:
        self.total += 1
        self.refused += answer.refused

    def share(self) -> float:
        return self.refused / max(1, self.total)


class FlowControl:
    """The window of requests in flight and the pace of sends, from the answers so far.

    ``clock`` returns seconds (the event loop's in the session, a fake in tests).
    With ``adaptive=False`` the window stays at ``ceiling``, there is no pace, and
    every ``Retry-After`` pauses the session: nothing else could hold a limit.
    """

    #: Seconds of answers that a share refused and a rate are measured over ...
    HORIZON = 1.0
    #: ... and at most this many answers: the last quarter second at 1,000 requests a second.
    MOST_ANSWERS = 256
    #: A trial is judged on at least this many answers ...
    TRIAL_ANSWERS = 20
    #: ... and after at least this many seconds, or after ``TRIAL_LONGEST`` in any case.
    TRIAL_SECONDS = 0.5
    TRIAL_LONGEST = 2.0
    #: The share refused beyond the background that shows a limit and starts a trial.
    SHOWN = 0.15
    #: Standard errors by which a pace must lower the share refused to be cut again.
    AGAIN = 2.0
    #: A background below this is none: one refusal of a probe cuts the pace (unless the
    #: sends below the limit were refused too).
    QUIET = 0.01
    #: Standard errors by which a probe's share refused must exceed the pace's own.
    PROBE_SPREAD = 2.0
    #: Cuts in a row, each on trial, before the last one that helped is kept as it is.
    ROUNDS = 5
    #: The window to start with, below a higher ceiling: a slow start, as TCP's, until it
    #: reaches the ceiling or a trial tells what the refusals are (see ``_slow_start``).
    INITIAL_WINDOW = 8
    #: Failures in a row, with no success for ``DOWN_SECONDS``, that make the server down.
    DOWN_FAILURES = 3
    DOWN_SECONDS = 0.5

    def __init__(self, ceiling: int, *, clock: Callable[[], float], adaptive: bool = True) -> None:
        self.ceiling = ceiling
        self.adaptive = adaptive
        self.clock = ActiveClock(clock)
        #: the share of answers refused at random: what no limit explains
        self.background = 0.0
        #: (refused, total) of this epoch's answers sent below the pace's limit, and above
        self._below = [0, 0]
        self._above = [0, 0]
        #: successes that ended a spell of the server being down, so far
        self.recoveries = 0
        self._ledger = Ledger(self.HORIZON, self.MOST_ANSWERS)
        self._in_flight = 0
        self._epoch = 0
        self._window: WindowLimit | None = None
        self._pace: PaceLimit | None = None
        self._start = min(ceiling, self.INITIAL_WINDOW) if adaptive else ceiling
        self._trial: _Trial | None = None
        self._failing = 0
        self._last_ok = -math.inf
        self._down = False

    def __repr__(self) -> str:
        rate = "off" if self.rate is None else f"{self.rate:.1f}/s"
        return f"FlowControl(window={self.window}/{self.ceiling}, rate={rate})"

    @property
    def window(self) -> int:
        """Requests allowed in flight now: 1 to ``ceiling``."""
        if self._window is not None:
            return self._window.window(self.clock())
        return self._start

    @property
    def rate(self) -> float | None:
        """Sends per second allowed now, or ``None`` when no rate limit is held."""
        return None if self._pace is None else self._pace.rate(self.clock())

    @property
    def down(self) -> bool:
        """Whether everything failed lately: retries may try again at once when it answers."""
        return self._down

    @property
    def healthy(self) -> bool:
        """Whether the server answers most requests lately: up, and not refusing most."""
        ledger = self._ledger
        answered = ledger.count(Outcome.OK)
        return (
            not self._down and ledger.total >= self.TRIAL_ANSWERS and answered * 2 >= ledger.total
        )

    def pause(self, start: float, end: float) -> None:
        """The session sends nothing from ``start`` to ``end``: idle time is not a slow rate."""
        self.clock.pause(start, end)

    def send(self) -> Ticket:
        """An attempt goes out now; pass the ticket back to :meth:`answer` or :meth:`abandon`."""
        now = self.clock()
        self._in_flight += 1
        self._ledger.sent(now)
        if self._last_ok == -math.inf:
            self._last_ok = now  # the server has had no chance to answer before this
        return Ticket(self._epoch, now, self._in_flight)

    def abandon(self, ticket: Ticket) -> None:
        """An attempt that will never be answered (its caller was cancelled)."""
        self._in_flight -= 1

    def answer(self, ticket: Ticket, outcome: Outcome, *, asked_to_wait: bool = False) -> bool:
        """Learn from one answer; return whether the whole session should pause.

        ``asked_to_wait``: the answer carried a ``Retry-After`` the session would
        honour. The session pauses for it only where the refusals are a limit that
        no cut holds yet (or, not adaptive, always); otherwise the request that got
        it waits on its own.
        """
        self._in_flight -= 1
        now = self.clock()
        answer = Answer(ticket, now, outcome)
        self._ledger.forget(now)
        self._ledger.add(answer)
        self._track_down(answer)
        if not self.adaptive:
            return asked_to_wait and answer.refused  # no cut can hold a limit: always pause
        held = (self._trial or self._window or self._pace) is not None
        pause = asked_to_wait and answer.refused and not held and self._limit_shown()
        self._learn(answer, now)
        return pause

    def _limit_shown(self) -> bool:
        """Whether this epoch's refusals are more than the background, from a server that
        still lets some through (a server that lets nothing through is down, not limited)."""
        ledger = self._ledger
        if not ledger.count(Outcome.OK):
            return False
        refused, total = ledger.epoch_refused, ledger.epoch_total
        # Judged on enough answers to see a background of noise in; with no limit held, by
        # a wider margin than a trial is: a trial costs throughput, and a limit exceeded by
        # less than ``SHOWN`` costs less than trials for noise would.
        if total < self.TRIAL_ANSWERS:
            return False
        free = self._window is None and self._pace is None
        return excess(refused, total, self.background, slack=self.SHOWN if free else SLACK)

    def _track_down(self, answer: Answer) -> None:
        if answer.outcome is Outcome.OK:
            if self._down:
                self._down = False
                self.recoveries += 1
            self._failing = 0
            self._last_ok = answer.at
            return
        self._failing += 1
        if self._failing >= self.DOWN_FAILURES and answer.at - self._last_ok >= self.DOWN_SECONDS:
            self._down = True

    def _learn(self, answer: Answer, now: float) -> None:
        if self._start < self.ceiling:
            self._slow_start(answer)
        trial = self._trial
        if trial is not None:
            if answer.ticket.epoch >= trial.epoch:
                trial.add(answer)
            if self._trial_over(trial, now):
                self._judge(trial, now)
            return
        if self._window is not None:
            self._window.learn(answer)
            if self._window.lifted:
                self._window, self._start = None, self.ceiling
        if self._pace is not None and self._learn_pace(answer, now):
            return
        if self._ledger.total >= self.TRIAL_ANSWERS:
            # The background follows the share down, with a margin for its own noise:
            # once random faults ease off, a limit need not outshout them.
            share = self._ledger.share_refused()
            self.background = min(self.background, share + SLACK / 2)
        if answer.refused and answer.ticket.epoch == self._epoch and self._limit_shown():
            self._try_cut(now)

    def _slow_start(self, answer: Answer) -> None:
        """Grow the window by one per success; halve it on a refusal, as TCP does on a loss,
        once per window's worth of sends: a refusal gives its place back at once, and
        without this a burst would cycle through a server that refuses instantly."""
        if answer.outcome is Outcome.OK:
            self._start += 1
        elif answer.refused and answer.ticket.in_flight <= self._start:
            self._start = max(1, self._start // 2)

    def _learn_pace(self, answer: Answer, now: float) -> bool:
        """Cut the pace when its probe beyond the limit is refused more than the sends below
        it are; release it when it holds nobody. Returns whether it cut.

        A test of the probe against the pace's own sends, not against a background: noise
        refuses both alike. With no background, one refusal of the probe will do.
        """
        pace = self._pace
        assert pace is not None
        if answer.ticket.epoch == self._epoch:
            probe = pace.above_limit(answer.ticket.sent)
            counts = self._above if probe else self._below
            counts[0] += answer.refused
            counts[1] += 1
            if probe and answer.refused and self._probe_refused():
                pace.cut(self._admitted(now), answer.ticket.sent, now)
                self._new_epoch()
                return True
        if not answer.refused and pace.released(self._admitted(now), now):
            self._pace = None
        return False

    def _probe_refused(self) -> bool:
        (above_refused, above_total), (below_refused, below_total) = self._above, self._below
        if self.background < self.QUIET and not below_refused:
            return True
        above, below = (above_refused, above_total), (below_refused, below_total)
        return lowered(above, below, spread=self.PROBE_SPREAD)  # the probe's share is higher

    def _admitted(self, now: float) -> float:
        """Requests a second a limit let through lately: what got in, and the background of
        random refusals that came after it let them in."""
        return self._with_background(self._ledger.admitted_rate(now))

    def _with_background(self, admitted: float) -> float:
        """A rate that got in, with the random refusals that came after a limit let it in."""
        return admitted / (1.0 - min(self.background, 0.5))

    def _try_cut(self, now: float) -> None:
        """The refusals show a limit: put the likelier cut on trial."""
        ledger = self._ledger
        previous = (self._window, self._pace)
        before = (ledger.epoch_total, ledger.epoch_refused)
        limit = concurrency_limit(ledger.this_epoch(), self.background)
        if limit is None and self._window is not None:
            limit = self._one_less(self._window.limit)
        if limit is not None:
            cut = _Cut.WINDOW
            self._window, self._pace = WindowLimit(limit, self.ceiling, now), None
        else:
            cut = _Cut.PACE
            self._window = None
            self._pace = self._paced(self._admitted(now), now)
        self._trial = _Trial(cut, self._new_epoch(), now, *before, previous)

    def _one_less(self, held: int) -> int | None:
        """``held - 1`` if a window of ``held`` is refused only when it is full: a limit one
        lower, which no split can show when every send goes with the window full."""
        below = [a.refused for a in self._ledger.this_epoch() if a.ticket.in_flight < held]
        if held < 2 or excess(sum(below), len(below), self.background):
            return None
        return held - 1

    def _paced(self, measured: float, now: float, *, back: bool = False) -> PaceLimit:
        """A pace from what the server let through, never above the pace in force; with
        ``back``, one that climbs back to the pace in force within ``PaceLimit.CLIMB``."""
        if self._pace is None:
            return PaceLimit(measured, now)
        pace = self._pace.rate(now)
        return PaceLimit(min(measured, pace), now, back_to=pace if back else None)

    def _trial_over(self, trial: _Trial, now: float) -> bool:
        age = now - trial.started
        early = trial.cut is _Cut.WINDOW or (trial.rounds == 1 and age >= self.TRIAL_SECONDS / 2)
        if (
            early
            and trial.total >= self.TRIAL_ANSWERS / 2
            and excess(trial.refused, trial.total, self.background)
        ):
            # Refused within the window: not a concurrency limit, whatever else. Refused
            # under a first pace, measured off a burst: it is too high, and half a trial
            # measures the next one. Not on the very first answers: refusals come back
            # sooner than answers, and would always look like too many.
            return True
        if age >= self.TRIAL_LONGEST:
            return True
        return age >= self.TRIAL_SECONDS and trial.total >= self.TRIAL_ANSWERS

    def _judge(self, trial: _Trial, now: float) -> None:
        """Keep a cut that left only the background; follow a window that did not with a
        pace; cut a pace again while that lowers the share refused; else undo the cuts."""
        self._trial = None
        after = (trial.refused, trial.total)
        if not excess(trial.refused, trial.total, self.background):
            if not lowered(trial.before, after):
                # As few refused before the cut as after: what showed a limit was a spell
                # of noise (the answers that start a trial are the ones with most refused).
                self._undo(trial)
                return
            self.background = self._noise_under(trial)
            if self._window is not None:
                self._window.probe_soon(now)  # the limit was read off partial answers
            else:
                self._start = self.ceiling  # the pace holds the limit, not the window
                self._climb_back(trial, now)
            return
        if trial.cut is _Cut.WINDOW or trial.rounds == 1:
            # Refused at any window: a rate limit's pattern. A first pace may have been
            # measured off a burst: the next one is measured over this trial.
            self._next_round(trial, now, trial.previous, trial.before)
            return
        # A cut that may have helped is followed by another rather than undone: the
        # next round judges it again, and only a pace that plainly did not help is noise.
        if lowered(trial.before, after, spread=self.AGAIN) and trial.rounds < self.ROUNDS:
            self._next_round(trial, now, (self._window, self._pace), after)
            return
        # The share refused did not move with the pace: noise, not a limit.
        self._undo(trial)

    def _climb_back(self, trial: _Trial, now: float) -> None:
        """A pace kept with no background left climbs back to the pace it replaced within
        ``PaceLimit.CLIMB``, as :meth:`_next_round` has it do where the background is
        quiet: cut while a background was assumed, it was measured off a limit that
        refuses alternate sends, not off noise, and along the cubic it takes seconds."""
        replaced = trial.previous[1]
        if self.background >= self.QUIET or self._pace is None or replaced is None:
            return
        self._pace = PaceLimit(self._pace.limit, now, back_to=replaced.rate(trial.started))

    def _undo(self, trial: _Trial) -> None:
        """Undo a cut that did not lower the share refused; what it left is noise."""
        self._window, self._pace = trial.previous
        self.background = max(self.background, trial.share())
        self._start = self.ceiling  # noise: the window has nothing to hold
        self._new_epoch()

    def _next_round(
        self,
        trial: _Trial,
        now: float,
        previous: tuple[WindowLimit | None, PaceLimit | None],
        before: tuple[int, int],
    ) -> None:
        """Pace at what the server let through during ``trial``; on trial against ``before``
        ((refused, total)), with ``previous`` to fall back to.

        With no background, the pace climbs back to the one refused within
        ``PaceLimit.CLIMB``: what got through under a pace just beyond a limit that
        refuses alternate sends once exceeded is half the limit. With noise, what got
        through is the measure, and the pace climbs from it along the cubic.
        """
        self._window = None
        back = self.background < self.QUIET
        self._pace = self._paced(self._admitted_during(trial, now), now, back=back)
        rounds = 1 if trial.cut is _Cut.WINDOW else trial.rounds + 1
        refused, total = before
        self._trial = _Trial(_Cut.PACE, self._new_epoch(), now, total, refused, previous, rounds)

    def _admitted_during(self, trial: _Trial, now: float) -> float:
        """Requests a second the server let through during ``trial``.

        Over the second half of a full trial: a limit's bucket saved up before it lets a
        burst through at its start, which would overstate the rate it sustains. Over all
        of a trial cut short, whose half would hold too few answers to measure: that may
        overstate, which the next trial corrects, where too low a pace would only creep
        back up. A trial too short for either takes the horizon's rate.
        """
        age = now - trial.started
        if age < self.TRIAL_SECONDS / 4:
            return self._admitted(now)
        since = now - age / 2 if age >= self.TRIAL_SECONDS else trial.started
        # No further back than the ledger still holds every answer (it keeps a few hundred).
        since = max(since, self._ledger.kept_since)
        late = [a for a in self._ledger.this_epoch() if a.at >= since]
        admitted = sum(not a.refused for a in late) / max(Ledger.MIN_SPAN, now - since)
        return self._with_background(admitted)

    def _noise_under(self, trial: _Trial) -> float:
        """The background under a cut that held: the share refused that no limit explains.

        Under a pace, all that is left. Under a window, the share refused below the
        limit: refusals at the limit itself say it is one too high, and are left for
        the next cut to find, not taken for noise.
        """
        if trial.cut is _Cut.PACE or self._window is None:
            refused, total = trial.refused, trial.total
        else:
            limit = self._window.limit
            below = [a.refused for a in self._ledger.this_epoch() if a.ticket.in_flight < limit]
            refused, total = sum(below), len(below)
        if total < self.TRIAL_ANSWERS:
            return self.background
        # One standard error below the share seen: a refusal or two in a short trial is
        # no background to hide a limit's refusals in.
        share = refused / total
        return max(0.0, share - math.sqrt(share * (1.0 - share) / total))

    def _new_epoch(self) -> int:
        self._below, self._above = [0, 0], [0, 0]
        self._epoch += 1
        self._ledger.new_epoch(self._epoch)
        return self._epoch
