"""Edge cases of adaptive pacing found in review: long idle, odd pauses, cancelled waits."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bangwo8_async._adaptive import AdaptiveLimit
from bangwo8_async._throttle import Throttle

from .test_adaptive_limit import accept, hit_limit, limit

# -- the controller ------------------------------------------------------------------------


def test_a_guessed_rate_survives_minutes_without_an_answer() -> None:
    """Slow start doubles per quarter second since the guess: after minutes it must release
    pacing, not overflow a float (an OverflowError out of a request that succeeded)."""
    window, clock = limit(32)
    window.stamp()
    clock.now += 0.01
    window.on_success(window.stamp())
    window.on_throttle(window.stamp(), asked_to_wait=True)
    assert window.rate is not None  # a guess, growing by doubling
    clock.now += 300  # the callers stopped for five minutes, then came back
    window.on_success(window.stamp())
    assert window.rate is None


@given(
    st.lists(
        st.tuples(st.floats(0, 5), st.floats(-5, 5), st.floats(-5, 10)),
        max_size=30,
    )
)
def test_the_active_clock_never_runs_backward_nor_faster_than_the_clock(
    pauses: list[tuple[float, float, float]],
) -> None:
    """Whatever pauses are declared (overlapping, shorter, in the past, start after end),
    the clock the rate runs on moves forward, and never faster than time itself: answers
    are kept in order of it, and a jump would forget them or grow the rate at once."""
    window, clock = limit(32)
    last_now, last_active = clock.now, window._active()
    for advance, offset, length in pauses:
        clock.now += advance
        window.paused(clock.now + offset, clock.now + offset + length)
        active = window._active()
        assert active >= last_active - 1e-9
        assert active - last_active <= clock.now - last_now + 1e-9
        last_now, last_active = clock.now, active


def test_a_shorter_pause_within_the_last_does_not_shorten_it() -> None:
    window, clock = limit(32)
    window.stamp()
    accept(window, clock, 50)
    window.paused(clock.now, clock.now + 10)
    clock.now += 1
    window.paused(clock.now, clock.now + 1)  # a shorter Retry-After during the pause
    clock.now += 5
    before = window._active()
    clock.now += 4  # still inside the first pause
    assert window._active() == before


# -- the throttle --------------------------------------------------------------------------


async def test_a_caller_cancelled_while_waiting_its_turn_lets_the_next_one_in() -> None:
    blocked = asyncio.Event()

    async def sleep(_: float) -> None:
        await blocked.wait()

    throttle = Throttle(lambda: 1.0, sleep)
    await throttle.wait()  # the first send goes at once
    waiting = asyncio.create_task(throttle.wait())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    blocked.set()
    # the lock was released: a next caller gets its turn (after its own wait)
    await asyncio.wait_for(throttle.wait(), timeout=5)


async def test_a_rate_that_ends_while_a_caller_waits_lets_it_go_at_once() -> None:
    interval = [10.0]
    steps: list[float] = []

    async def sleep(seconds: float) -> None:
        steps.append(seconds)
        if len(steps) == 3:
            interval[0] = 0.0  # pacing released: the rate is None, the interval 0
        await asyncio.sleep(0)

    throttle = Throttle(lambda: interval[0], sleep)
    await throttle.wait()
    await throttle.wait()  # would take 200 steps of RECHECK at the old interval
    assert steps == [Throttle.RECHECK] * 3


def test_a_cut_judged_after_the_callers_went_quiet_leaves_rate_limits_detectable() -> None:
    """A cut is judged on the answers of its trial, not on the first answer after a
    quiet spell: one refusal alone then read as a background of 100% refusals, and no
    rate limit without Retry-After could ever set a rate again."""
    window, clock = limit(32)
    accept(window, clock, 100)  # 50 a second
    hit_limit(window)  # a rate limit: paced, and the cut on trial
    assert window.rate is not None
    window.on_throttle(window.stamp())  # a request sent after the cut refused too
    clock.now += 10  # the callers went quiet
    window.on_throttle(window.stamp())
    for _ in range(50):  # the server limits as before: every other answer refused
        clock.now += 0.01
        window.on_success(window.stamp())
        clock.now += 0.01
        window.on_throttle(window.stamp())
    assert window.rate is not None


def test_a_refusal_with_a_wait_after_a_cut_on_trial_cuts_again() -> None:
    """Retry-After pauses stop the clock a trial runs on, so a trial can outlast many
    pauses: a refusal that asks to wait, of a request sent after the cut, shows that cut
    was not deep enough, and must not wait for the verdict."""
    window, clock = limit(32)
    accept(window, clock, 100)  # 50 a second
    window.on_throttle(window.stamp(), asked_to_wait=True)
    first = window.rate
    assert first is not None
    for _ in range(3):  # a second of real time each, nearly all of it paused
        window.paused(clock.now, clock.now + 1)
        clock.now += 1
        accept(window, clock, 2)
    window.on_throttle(window.stamp(), asked_to_wait=True)
    second = window.rate
    assert second is not None and second < first


def test_the_end_of_a_slow_start_is_cut_from_what_was_used_not_the_guess() -> None:
    """A guessed rate doubles on the clock, used or not. A refusal that ends the slow
    start cuts from half that rate only while the accepted rate could lag it (at most
    twice behind): callers that sent 5 a second for two seconds must not be paced at 188."""
    window, clock = limit(32)
    window.stamp()
    clock.now += 0.01
    window.on_success(window.stamp())
    for _ in range(3):
        window.on_throttle(window.stamp())  # a guess: too little accepted to measure
    accept(window, clock, 9, every=0.2)  # the callers send 5 a second, all accepted
    assert window.rate is not None and window.rate > 100  # the guess doubled regardless
    window.on_throttle(window.stamp(), asked_to_wait=True)
    assert window.rate is not None and window.rate <= 2 * 5 * AdaptiveLimit.RATE_BETA


_EVENT = st.one_of(
    st.tuples(st.just("success"), st.floats(0, 0.5) | st.floats(0, 1000)),
    st.tuples(st.just("throttle"), st.floats(0, 0.5)),
    st.tuples(st.just("wait"), st.floats(0, 0.5)),
    st.tuples(st.just("pause"), st.floats(0, 5)),
)


@given(st.lists(_EVENT, max_size=200), st.integers(1, 64), st.booleans())
def test_any_answers_idles_and_pauses_keep_window_and_rate_sane(
    events: list[tuple[str, float]], ceiling: int, stale: bool
) -> None:
    """Whatever the answers, idle spells (minutes) and pauses: no exception, the window
    within 1..ceiling, the rate None or a finite rate of at least MIN_RATE."""
    window, clock = limit(ceiling)
    first = window.stamp()
    for kind, seconds in events:
        clock.now += seconds
        stamp = first if stale else window.stamp()
        if kind == "success":
            window.on_success(stamp)
        elif kind == "throttle":
            window.on_throttle(stamp)
        elif kind == "wait":
            window.on_throttle(stamp, asked_to_wait=True)
            window.paused(clock.now, clock.now + 1)
        else:
            window.paused(clock.now, clock.now + seconds)
        assert 1 <= window.window <= ceiling
        rate = window.rate
        assert rate is None or AdaptiveLimit.MIN_RATE <= rate < float("inf")
        assert 0 <= window.measured() < float("inf")


def test_a_background_of_random_faults_eases_off_with_them() -> None:
    """A cut undone during a bout of random refusals sets their share as the background
    later cuts must exceed; after the bout, it must not hide a rate limit for good."""
    window, clock = limit(32)
    pattern = itertools.cycle([True, False, False, False, False, False, True, False, False, False])

    def answers(seconds: float, per_second: float, refusing: Iterator[bool]) -> bool:
        """Whether these answers set a rate."""
        paced = False
        for _ in range(int(seconds * per_second)):
            clock.now += 1 / per_second
            if next(refusing):
                window.on_throttle(window.stamp())
            else:
                window.on_success(window.stamp())
            paced = paced or window.rate is not None
        return paced

    answers(2, 50, itertools.repeat(False))
    answers(1.5, 50, pattern)  # a bout of random 503s, a fifth of the answers
    answers(1.5, 35, pattern)  # the same share at the lower pace: the cut is undone
    assert window.rate is None
    answers(2, 50, itertools.repeat(False))  # the bout is over
    # then a rate limit refuses a fifth of the sends: that is a rate to pace at (its
    # trial is another matter: these answers do not follow the pace)
    assert answers(1, 50, pattern)
