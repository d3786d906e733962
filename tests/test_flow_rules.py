"""The flow control's smaller rules, each pinned answer by answer on a fake clock: when the
server is down, when a refusal pauses the session, how the window starts, how pauses leave
the active clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping

import pytest

import bangwo8_async as bw
from bangwo8_async._http.flow.clock import ActiveClock
from bangwo8_async._http.flow.control import FlowControl, _Cut, _Trial
from bangwo8_async._http.flow.judge import concurrency_limit, excess, lowered
from bangwo8_async._http.flow.ledger import Answer, Ledger, Outcome, Ticket
from bangwo8_async._http.flow.pace import PaceLimit
from bangwo8_async._http.flow.runtime import Flow
from bangwo8_async._http.flow.waiting import Gate
from bangwo8_async._http.flow.window import WindowLimit
from bangwo8_async._http.transport import HttpRequest, HttpResponse
from bangwo8_async.testing.simulator import SIMULATED_URL, run_virtual
from tests._flow import Clock, answer


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
    ledger = Ledger(1.0, 100)
    for refused in (True, True, False):
        ledger.add(answer(3, refused))
    ledger.new_epoch(1)
    assert (ledger.epoch_total, ledger.epoch_refused) == (0, 0)
    ledger.add(Answer(Ticket(1, 0.0, 1), 0.0, Outcome.REFUSED))
    ledger.add(answer(3, True))  # sent before the epoch began: not counted in it
    assert (ledger.epoch_total, ledger.epoch_refused) == (1, 1)
    assert ledger.total == 5


def test_answers_a_horizon_old_are_forgotten_with_their_refusals() -> None:
    ledger = Ledger(1.0, 100)
    ledger.add(answer(1, True))  # at 0.0, in epoch 0
    ledger.add(Answer(Ticket(0, 0.5, 1), 0.5, Outcome.OK))
    ledger.forget(1.0)  # exactly a horizon after the first: it goes
    assert ledger.total == 1
    assert (ledger.epoch_total, ledger.epoch_refused) == (1, 0)


def test_a_ledger_keeps_its_last_answers_and_measures_the_rate_over_their_span() -> None:
    ledger = Ledger(1.0, 4)
    ledger.sent(0.0)
    for k in range(10):  # an answer every 10 ms, the first refused
        outcome = Outcome.REFUSED if k == 0 else Outcome.OK
        ledger.add(Answer(Ticket(0, k / 100, 1), k / 100, outcome))
    assert ledger.total == 4
    assert (ledger.count(Outcome.REFUSED), ledger.epoch_total, ledger.epoch_refused) == (0, 4, 0)
    # The four answers held came after the one at 0.05 s: 100 a second, not 4 in 0.09 s.
    assert ledger.admitted_rate(0.09) == pytest.approx(100.0)
    ledger.forget(1.075)  # the horizon drops the two oldest of them
    assert ledger.admitted_rate(1.075) == pytest.approx(2.0)


def test_a_trial_measures_what_got_through_over_the_answers_the_ledger_kept() -> None:
    """A pace trial at 2,000 answers a second, none refused: the ledger keeps its last
    256, and the rate the next pace is cut to is theirs over their own span, not theirs
    over the whole trial (640 a second)."""
    clock = Clock()
    control = FlowControl(32, clock=clock)
    trial = _Trial(_Cut.PACE, control._new_epoch(), 0.0, 0, 0, (None, None))
    for k in range(800):  # 0.4 s of the trial
        clock.now = k / 2000
        ticket = control.send()
        clock.now = (k + 1) / 2000
        control.answer(ticket, Outcome.OK)
    assert control._admitted_during(trial, clock.now) == pytest.approx(2000)


# -- the window ----------------------------------------------------------------------------


def test_the_window_probes_every_two_seconds_and_again_a_tenth_after_a_raise() -> None:
    window = WindowLimit(4, 16, now=0.0)
    assert window.window(1.99) == 4
    assert window.window(2.0) == 5
    for _ in range(WindowLimit.CONFIRM):
        window.learn(answer(5, False, at=2.0))
    assert window.limit == 5
    assert window.window(2.09) == 5
    assert window.window(2.1) == 7  # the step doubled


def test_a_limit_read_off_partial_answers_is_probed_a_tenth_later() -> None:
    window = WindowLimit(4, 16, now=0.0)
    window.probe_soon(0.0)
    assert window.window(0.1) == 5


def test_after_a_refused_probe_the_next_needs_every_confirmation_again() -> None:
    window = WindowLimit(4, 16, now=0.0)
    window.learn(answer(5, True, at=2.0))  # the probe is refused
    assert window.limit == 4
    for _ in range(WindowLimit.CONFIRM - 1):
        window.learn(answer(5, False, at=4.0))
    assert window.limit == 4
    window.learn(answer(5, False, at=4.0))
    assert window.limit == 5


# -- the pace ------------------------------------------------------------------------------


def test_the_cubic_stops_growing_after_sixty_four_seconds() -> None:
    pace = PaceLimit(10.0, now=0.0)
    assert pace.rate(1e6) == pace.rate(1e3)
    assert pace.rate(1e6) < 10.0 * (1.0 + PaceLimit.SCALE * 64.5**3)


def test_a_pace_cut_to_seven_tenths_of_the_one_refused_climbs_back_in_climb_seconds() -> None:
    """Back to 1.4 times the limit: more than the cubic's 1.34 in ``CLIMB`` seconds."""
    pace = PaceLimit(10.0, now=0.0, back_to=14.0)
    assert pace.rate(PaceLimit.CLIMB) == pytest.approx(14.0)


# -- what an answer tells ------------------------------------------------------------------


class Statuses:
    """A transport that answers each request with the next status, after 0.3 s."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = iter(statuses)

    async def send(
        self,
        request: HttpRequest,
        headers: Mapping[str, str],
        *,
        timeout: float,
        unanswered: Callable[[], None],
    ) -> HttpResponse:
        await asyncio.sleep(0.3)
        status = next(self.statuses)
        body = b'{"callTask": [], "count": 0}' if status == 200 else b'{"error": "down"}'
        return HttpResponse.of(status, body, {"Content-Type": "application/json"})

    async def close(self) -> None:
        return None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_run_of_5xx_is_the_server_down_and_the_answer_after_it_a_recovery(status: int) -> None:
    async def main() -> int:
        transport = Statuses(status, status, status, 200)
        session = bw.Session(
            bw.BasicAuth("a", "b"), base_url=SIMULATED_URL, transport=transport, max_retries=5
        )
        async with session:
            await bw.list_call_tasks(session, per_page=1)
            return session._flow.control.recoveries

    assert run_virtual(main()) == 1


# -- the flow as attempts meet it ----------------------------------------------------------


def test_a_place_granted_to_a_caller_cancelled_meanwhile_is_handed_on() -> None:
    async def main() -> int:
        gate = Gate(1)
        await gate.acquire()
        late = asyncio.ensure_future(gate.acquire())
        await asyncio.sleep(0)  # it queues
        gate.release()  # its place is granted ...
        late.cancel()  # ... and it is cancelled before it runs
        with contextlib.suppress(asyncio.CancelledError):
            await late
        await asyncio.wait_for(gate.acquire(), 1.0)  # the place was handed back
        return gate.busy

    assert run_virtual(main()) == 1


def healthy_flow() -> Flow:
    flow = Flow(8, adaptive=True, rate_limit=None, sleep=asyncio.sleep)
    for _ in range(FlowControl.TRIAL_ANSWERS):
        flow.control.answer(flow.control.send(), Outcome.OK)
    return flow


def test_while_the_server_answers_most_requests_a_backoff_is_half_a_second() -> None:
    async def main() -> float:
        flow, loop = healthy_flow(), asyncio.get_running_loop()
        start = loop.time()
        await flow.backoff(8.0, retry_after=False)
        return loop.time() - start

    assert run_virtual(main()) == pytest.approx(0.5)


def test_while_the_server_is_down_one_sleeping_retry_is_woken_every_half_second() -> None:
    async def main() -> list[float]:
        flow = Flow(8, adaptive=True, rate_limit=None, sleep=asyncio.sleep)
        loop = asyncio.get_running_loop()
        tickets = [flow.control.send() for _ in range(3)]
        await asyncio.sleep(1.0)
        for ticket in tickets:
            flow.leave(ticket, Outcome.FAILED)
        assert flow.control.down
        woken: list[float] = []

        async def retry() -> None:
            await flow.backoff(30.0, retry_after=False)
            woken.append(loop.time() - 1.0)

        await asyncio.gather(*(retry() for _ in range(3)))
        flow.close()
        return woken

    assert run_virtual(main()) == pytest.approx([0.5, 1.0, 1.5])


# -- the controller's judgement ------------------------------------------------------------


def test_the_background_follows_the_share_down_from_the_twentieth_answer() -> None:
    """Once random faults ease off, the background they left falls with them."""
    clock = Clock()
    control = FlowControl(8, clock=clock)
    control.background = 0.3  # left by a spell of noise
    for _ in range(FlowControl.TRIAL_ANSWERS - 1):
        one(control, clock, Outcome.OK, after=0.01)
    assert control.background == 0.3  # too few answers to tell
    one(control, clock, Outcome.OK, after=0.01)
    assert control.background == pytest.approx(0.025)  # none refused, less half the slack


def test_a_window_of_two_refused_only_when_full_is_one_too_many() -> None:
    """Every send went with the window full: no split shows the limit, which is one less."""
    clock = Clock()
    control = FlowControl(8, clock=clock)
    tickets = [control.send() for _ in range(2)]
    for ticket in tickets:
        control.answer(ticket, Outcome.REFUSED)
    assert control._one_less(2) == 1
    assert control._one_less(1) is None


def test_a_trial_short_of_answers_is_judged_after_two_seconds() -> None:
    """A cut that leaves so few sends that a trial never fills is judged all the same."""
    clock = Clock()
    control = FlowControl(8, clock=clock)
    for _ in range(4):
        one(control, clock, Outcome.OK, after=0.01)
    for i in range(20):
        one(control, clock, Outcome.REFUSED if i < 16 else Outcome.OK, after=0.01)
    assert control._trial is not None  # a pace, on trial
    for _ in range(4):
        one(control, clock, Outcome.OK, after=0.6)  # four answers in 2.4 s
    assert control._trial is None


def test_healthy_needs_half_of_the_answers_lately_to_be_answered() -> None:
    clock = Clock()
    control = FlowControl(8, clock=clock)
    for i in range(20):  # 7 of 20 answered, never three failures in a row for long
        one(control, clock, Outcome.OK if i % 3 == 0 else Outcome.FAILED, after=0.01)
    assert not control.down
    assert not control.healthy
    for _ in range(3):
        one(control, clock, Outcome.OK, after=0.01)  # 10 of 23: still under half
    assert not control.healthy
    for _ in range(3):
        one(control, clock, Outcome.OK, after=0.01)  # 13 of 26: half
    assert control.healthy
