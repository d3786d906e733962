"""The parts of flow control, each alone: the tests on answers, the window, the pace, the
active clock, and the controller's trials, driven answer by answer on a fake clock."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bangwo8_async._http.flow.clock import ActiveClock
from bangwo8_async._http.flow.control import FlowControl
from bangwo8_async._http.flow.judge import concurrency_limit, excess, lowered
from bangwo8_async._http.flow.ledger import Outcome
from bangwo8_async._http.flow.pace import PaceLimit
from bangwo8_async._http.flow.window import WindowLimit
from tests._flow import Clock, answer

# -- the tests on answers ----------------------------------------------------------------


def test_excess_needs_more_than_the_background_and_its_spread() -> None:
    assert not excess(2, 20, 0.0)  # fewer than three refusals never show a limit
    assert excess(3, 20, 0.0)
    assert not excess(12, 100, 0.1)  # a 10% background refuses 12 of 100 by chance
    assert excess(25, 100, 0.1)
    assert not excess(8, 100, 0.0, slack=0.1)  # a wider margin to start a trial


@given(st.integers(1, 400), st.floats(0.0, 0.5))
def test_noise_at_its_own_share_is_never_excess(total: int, background: float) -> None:
    assert not excess(round(total * background), total, background)


def test_lowered_is_a_two_proportion_test() -> None:
    assert lowered((14, 20), (0, 24))  # a burst refused, then nothing
    assert not lowered((4, 20), (1, 20))  # a spell of noise, then less of it: chance
    assert lowered((4, 20), (1, 20), spread=1.0)
    assert not lowered((0, 0), (0, 10))


def test_a_concurrency_limit_is_where_the_refusals_begin() -> None:
    answers = [answer(k, refused=k > 6) for k in range(1, 9) for _ in range(3)]
    assert concurrency_limit(answers, 0.0) == 6


def test_refusals_at_every_level_are_no_concurrency_limit() -> None:
    answers = [answer(k, refused=i == 0) for k in range(1, 9) for i in range(3)]
    assert concurrency_limit(answers, 0.0) is None


def test_our_count_above_the_limit_may_go_through_but_below_it_nothing_is_refused() -> None:
    """Refusals on their way back count in flight for us, not for the server."""
    answers = [answer(k, refused=False) for k in range(1, 7) for _ in range(3)]
    answers += [answer(7, refused=False), answer(7, refused=True), answer(7, refused=True)]
    answers += [answer(8, refused=True)] * 4
    assert concurrency_limit(answers, 0.0) == 6


# -- the window --------------------------------------------------------------------------


def test_the_window_probes_one_more_and_keeps_the_limit_when_refused() -> None:
    window = WindowLimit(6, 32, now=0.0)
    assert window.window(0.5) == 6
    assert window.window(WindowLimit.PROBE_EVERY) == 7
    window.learn(answer(7, refused=True, at=2.0))
    assert window.limit == 6 and window.window(2.5) == 6


def test_probes_that_go_through_raise_the_limit_by_a_doubling_step() -> None:
    window = WindowLimit(4, 32, now=0.0)
    now = WindowLimit.PROBE_EVERY
    for _ in range(WindowLimit.CONFIRM):
        window.learn(answer(5, refused=False, at=now))
    assert window.limit == 5
    now += WindowLimit.PROBE_AGAIN
    assert window.window(now) == 7  # the step doubled
    for _ in range(WindowLimit.CONFIRM):
        window.learn(answer(7, refused=False, at=now))
    assert window.limit == 7


def test_a_refused_probe_keeps_what_went_through_below_it() -> None:
    window = WindowLimit(5, 32, now=0.0)
    window.probe_soon(0.0)
    window._step = 3  # probing 8
    window.learn(answer(6, refused=False, at=0.2))
    window.learn(answer(7, refused=False, at=0.2))
    window.learn(answer(8, refused=True, at=0.2))
    assert window.limit == 7


def test_a_raise_refused_soon_after_is_undone_at_once() -> None:
    """Probes let through by something saved up (a rate limit's burst) raise the window;
    the first refusal above the old limit takes the raise back, with no trial."""
    window = WindowLimit(1, 32, now=0.0)
    now = WindowLimit.PROBE_EVERY
    for _ in range(WindowLimit.CONFIRM):
        window.learn(answer(2, refused=False, at=now))
    assert window.limit == 2
    window.learn(answer(1, refused=True, at=now + 0.05))  # at the old limit: not the raise's
    assert window.limit == 2
    window.learn(answer(2, refused=True, at=now + 0.1))
    assert window.limit == 1 and window.window(now + 0.2) == 1
    assert window.window(now + 0.1 + WindowLimit.PROBE_EVERY) == 2  # probed again later


def test_a_raise_that_held_for_a_while_stands() -> None:
    window = WindowLimit(1, 32, now=0.0)
    now = WindowLimit.PROBE_EVERY
    for _ in range(WindowLimit.CONFIRM):
        window.learn(answer(2, refused=False, at=now))
    later = now + WindowLimit.PROBE_EVERY
    window.learn(answer(2, refused=True, at=later))
    assert window.limit == 2  # left to the flow control's tests on answers


def test_a_window_at_the_ceiling_is_lifted() -> None:
    window = WindowLimit(31, 32, now=0.0)
    for _ in range(WindowLimit.CONFIRM):
        window.learn(answer(32, refused=False, at=WindowLimit.PROBE_EVERY))
    assert window.lifted


# -- the pace ----------------------------------------------------------------------------


def test_the_pace_starts_below_the_limit_and_climbs_back_then_beyond() -> None:
    pace = PaceLimit(50.0, now=0.0)
    assert pace.rate(0.0) == pytest.approx(50.0 * PaceLimit.BETA)
    assert not pace.above_limit(0.5)
    assert pace.rate(10.0) > 50.0 and pace.above_limit(10.0)
    assert pace.rate(5.0) < pace.rate(10.0)


def test_the_pace_is_relative_to_its_limit() -> None:
    small, large = PaceLimit(5.0, 0.0), PaceLimit(500.0, 0.0)
    for t in (0.0, 1.0, 3.0):
        assert large.rate(t) == pytest.approx(100 * small.rate(t))


def test_a_refused_probe_cuts_just_below_the_pace_it_was_sent_at() -> None:
    pace = PaceLimit(50.0, now=0.0)
    sent = 3.0
    pace.cut(measured=30.0, refused_at=sent, now=3.1)  # a lagging or halved measurement
    assert pace.limit == pytest.approx(PaceLimit.PROBED * PaceLimit(50.0, 0.0).rate(sent))


def test_a_pace_cut_far_below_the_one_refused_climbs_back_to_it_in_climb_seconds() -> None:
    """What got through under a pace just beyond a limit that refuses alternate sends is
    half the limit: the next pace starts there and is back within ``CLIMB``, where the
    cubic relative to it would take seconds."""
    pace = PaceLimit(25.0, now=0.0, back_to=50.0)
    assert pace.rate(0.0) == pytest.approx(25.0)
    assert pace.rate(PaceLimit.CLIMB) == pytest.approx(50.0)
    assert PaceLimit(25.0, now=0.0).rate(PaceLimit.CLIMB) < 30.0
    assert pace.above_limit(0.5)  # a probe: a refusal on the way cuts it as any probe
    pace.cut(measured=40.0, refused_at=1.0, now=1.0)
    assert pace.rate(1.0) == pytest.approx(PaceLimit.BETA * pace.limit)  # the cubic again


def test_a_pace_cut_near_the_one_refused_keeps_the_cubic() -> None:
    near, alone = PaceLimit(45.0, now=0.0, back_to=50.0), PaceLimit(45.0, now=0.0)
    for t in (0.0, 1.0, 2.0):
        assert near.rate(t) == pytest.approx(alone.rate(t))


def test_the_pace_is_released_once_it_holds_nobody() -> None:
    pace = PaceLimit(50.0, now=0.0)
    assert not pace.released(measured=45.0, now=1.0)
    assert pace.released(measured=45.0, now=20.0)


def test_minutes_without_a_refusal_do_not_overflow_the_pace() -> None:
    assert PaceLimit(50.0, now=0.0).rate(1e9) < float("inf")


# -- the active clock ----------------------------------------------------------------------


def test_pauses_are_taken_out_of_the_active_clock() -> None:
    clock = Clock()
    active = ActiveClock(clock)
    clock.now = 1.0
    active.pause(1.0, 3.0)
    clock.now = 2.0
    assert active() == pytest.approx(1.0)
    active.pause(2.0, 2.5)  # shorter: never shortens the pause under way
    clock.now = 4.0
    assert active() == pytest.approx(2.0)
    active.pause(0.0, 3.5)  # in the past: counts from now, which is after its end
    assert active() == pytest.approx(2.0)


# -- the controller ------------------------------------------------------------------------


class Driver:
    """A FlowControl fed answers on a fake clock."""

    def __init__(self, ceiling: int = 8) -> None:
        self.clock = Clock()
        self.control = FlowControl(ceiling, clock=self.clock)

    def round(self, refused: int, total: int, step: float = 0.01) -> bool:
        """``total`` sends, then their answers, the first ``refused`` of them refused;
        whether any answer asked the session to pause."""
        tickets = [self.control.send() for _ in range(total)]
        paused = False
        for i, ticket in enumerate(tickets):
            self.clock.now += step
            outcome = Outcome.REFUSED if i < refused else Outcome.OK
            paused |= self.control.answer(ticket, outcome, asked_to_wait=True)
        return paused


def test_noise_is_tried_once_then_taken_for_noise() -> None:
    """A pace that does not lower the share refused is undone: noise costs one trial."""
    driver = Driver()
    for _ in range(300):
        driver.round(1, 5)  # a fifth refused, whatever the pace
    control = driver.control
    assert control.rate is None and control.window == 8
    assert control.background == pytest.approx(0.2, abs=0.05)


def test_a_limit_pauses_the_session_once_then_a_cut_holds_it() -> None:
    driver = Driver()
    driver.round(0, 4)
    assert driver.round(16, 20)  # a limit shown, with no cut to hold it: pause
    assert driver.control.rate is not None
    assert not driver.round(16, 20)  # a cut is on trial: its requests wait alone


def test_a_server_that_refuses_everything_is_down_and_its_answer_a_recovery() -> None:
    driver = Driver()
    driver.round(0, 8)
    driver.clock.now += 1.0
    driver.round(8, 8, step=0.1)
    assert driver.control.down and driver.control.rate is None  # down, not limited
    driver.round(0, 1)
    assert not driver.control.down and driver.control.recoveries == 1


def test_not_adaptive_keeps_everything_and_pauses_for_every_retry_after() -> None:
    control = FlowControl(8, clock=Clock(), adaptive=False)
    ticket = control.send()
    assert control.answer(ticket, Outcome.REFUSED, asked_to_wait=True)
    assert control.window == 8 and control.rate is None
