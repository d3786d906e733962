"""The flow control's smaller rules, each pinned answer by answer on a fake clock: when the
server is down, when a refusal pauses the session, how the window starts, how pauses leave
the active clock."""

from __future__ import annotations

import pytest

from bangwo8_async._http.flow.clock import ActiveClock
from bangwo8_async._http.flow.control import FlowControl
from bangwo8_async._http.flow.judge import concurrency_limit, excess, lowered
from bangwo8_async._http.flow.ledger import Answer, Ledger, Outcome, Ticket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def answer(in_flight: int, refused: bool) -> Answer:
    return Answer(Ticket(0, 0.0, in_flight), 0.0, Outcome.REFUSED if refused else Outcome.OK)


def one(control: FlowControl, clock: Clock, outcome: Outcome, *, after: float = 0.1) -> bool:
    """One send, answered ``after`` seconds later; whether the session should pause."""
    ticket = control.send()
    clock.now += after
    return control.answer(ticket, outcome, asked_to_wait=True)


# -- the active clock ----------------------------------------------------------------------


def test_every_pause_that_ended_stays_out_of_the_active_clock() -> None:
    clock = Clock()
    active = ActiveClock(clock)
    active.pause(1.0, 2.0)
    clock.now = 3.0
    active.pause(3.0, 4.0)  # a second pause, after the first one ended
    clock.now = 5.0
    assert active() == pytest.approx(3.0)  # five seconds less two paused


# -- down ----------------------------------------------------------------------------------


def test_failures_right_after_the_first_send_are_not_yet_down() -> None:
    """The server had no chance to answer before the first send: down counts from it."""
    clock = Clock()
    control = FlowControl(8, clock=clock)
    tickets = [control.send() for _ in range(3)]
    clock.now = 0.1
    for ticket in tickets:
        control.answer(ticket, Outcome.FAILED)
    assert not control.down
    clock.now = 0.6
    control.answer(control.send(), Outcome.FAILED)
    assert control.down


def test_down_counts_from_the_last_success_not_from_the_last_send() -> None:
    """A retry sent every 0.2 s into a server that fails them all: down after half a second
    without a success, however recently something was sent."""
    clock = Clock()
    control = FlowControl(8, clock=clock)
    one(control, clock, Outcome.OK)
    for _ in range(4):
        one(control, clock, Outcome.FAILED, after=0.2)
    assert control.down


# -- pauses --------------------------------------------------------------------------------


def test_a_limit_shown_by_refusals_without_retry_after_pauses_nothing() -> None:
    """Only a ``Retry-After`` pauses the session: a refusal without one waits its backoff."""
    clock = Clock()
    control = FlowControl(8, clock=clock)
    for _ in range(4):
        one(control, clock, Outcome.OK, after=0.01)
    paused = False
    for i in range(20):
        ticket = control.send()
        clock.now += 0.01
        refused = Outcome.REFUSED if i < 16 else Outcome.OK
        paused |= control.answer(ticket, refused, asked_to_wait=False)
    assert not paused
    assert control.rate is not None  # the limit was seen all the same


# -- the slow start ------------------------------------------------------------------------


def test_above_eight_the_window_grows_by_one_a_success_to_the_ceiling() -> None:
    clock = Clock()
    control = FlowControl(32, clock=clock)
    assert control.window == FlowControl.INITIAL_WINDOW
    for _ in range(5):
        one(control, clock, Outcome.OK, after=0.01)
    assert control.window == FlowControl.INITIAL_WINDOW + 5
    for _ in range(40):
        one(control, clock, Outcome.OK, after=0.01)
    assert control.window == 32


def test_not_adaptive_pauses_only_for_a_refusal_that_asked_to_wait() -> None:
    control = FlowControl(8, clock=Clock(), adaptive=False)
    assert not control.answer(control.send(), Outcome.REFUSED, asked_to_wait=False)
    assert not control.answer(control.send(), Outcome.FAILED, asked_to_wait=True)
    assert control.answer(control.send(), Outcome.REFUSED, asked_to_wait=True)


# -- the tests on answers ------------------------------------------------------------------


def test_the_margin_over_a_background_is_three_binomial_deviations() -> None:
    """At 30% of 100, three deviations are 13.7 answers: 44 refused is a limit, 43 is not."""
    assert excess(44, 100, 0.3)
    assert not excess(43, 100, 0.3)


def test_lowered_needs_more_than_the_slack_itself() -> None:
    assert not lowered((2, 20), (1, 20), spread=0.0)  # 10% to 5%: exactly the slack
    assert lowered((3, 20), (1, 20), spread=0.0)


def test_a_level_where_half_are_refused_is_above_the_concurrency_limit() -> None:
    answers = [answer(k, refused=False) for k in range(1, 6) for _ in range(3)]
    answers += [answer(6, refused=False), answer(6, refused=True)]
    answers += [answer(k, refused=True) for k in (7, 8) for _ in range(3)]
    assert concurrency_limit(answers, 0.0) == 5


def test_a_new_epoch_counts_only_the_answers_sent_in_it() -> None:
    ledger = Ledger(1.0)
    for refused in (True, True, False):
        ledger.add(answer(3, refused))
    ledger.new_epoch(1)
    assert (ledger.epoch_total, ledger.epoch_refused) == (0, 0)
    ledger.add(Answer(Ticket(1, 0.0, 1), 0.0, Outcome.REFUSED))
    ledger.add(answer(3, True))  # sent before the epoch began: not counted in it
    assert (ledger.epoch_total, ledger.epoch_refused) == (1, 1)
    assert ledger.total == 5
