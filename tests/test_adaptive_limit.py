"""The adaptive window and rate on a fake clock, and the resizable FIFO gate."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bangwo8_async._adaptive import AdaptiveLimit
from bangwo8_async._throttle import Gate


class FakeClock:
    """Time that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def limit(ceiling: int = 32, *, adaptive: bool = True) -> tuple[AdaptiveLimit, FakeClock]:
    clock = FakeClock()
    return AdaptiveLimit(ceiling, clock=clock, adaptive=adaptive), clock


def test_starts_at_the_ceiling_without_a_rate() -> None:
    window, _ = limit(32)
    assert (window.window, window.rate) == (32, None)


def test_a_throttle_cuts_by_0_7_and_floors() -> None:
    window, _ = limit(32)
    assert window.on_throttle(window.stamp())
    assert window.window == 22  # floor(32 * 0.7)
    window.on_throttle(window.stamp())
    assert window.window == 15
    window.on_throttle(window.stamp())
    assert window.window == 10


def test_at_most_one_cut_per_round_trip() -> None:
    """Answers to requests sent before the last cut belong to the congestion already acted on."""
    window, _ = limit(32)
    in_flight = [window.stamp() for _ in range(20)]  # all sent before any answer
    assert window.on_throttle(in_flight[0])
    assert not any(window.on_throttle(s) for s in in_flight[1:])
    assert window.window == 22
    assert window.on_throttle(window.stamp())  # sent after the cut: a new round trip
    assert window.window == 15


def test_never_below_one() -> None:
    window, _ = limit(3)
    for _ in range(10):
        window.on_throttle(window.stamp())
    assert window.window == 1


def test_grows_by_one_per_window_of_answers_up_to_the_ceiling() -> None:
    window, _ = limit(10)
    for _ in range(3):
        window.on_throttle(window.stamp())
    assert window.window == 2  # 10 -> 7 -> 4 -> 2
    stamp = window.stamp()
    window.on_success(stamp)
    assert window.window == 2  # half a round trip is not enough
    window.on_success(stamp)
    assert window.window == 3
    for _ in range(3):
        window.on_success(stamp)
    assert window.window == 4
    for _ in range(1000):
        window.on_success(stamp)
    assert window.window == 10


def test_fixed_when_not_adaptive() -> None:
    window, _ = limit(8, adaptive=False)
    assert not window.on_throttle(window.stamp())
    window.on_success(window.stamp())
    assert (window.window, window.rate) == (8, None)


def accept(window: AdaptiveLimit, clock: FakeClock, count: int, every: float = 0.02) -> None:
    for _ in range(count):
        clock.now += every
        window.on_success(window.stamp())


def test_rate_is_cut_from_the_accepted_rate() -> None:
    """Like botocore: a rate limit turns pacing on at beta times what the server accepted."""
    window, clock = limit(32)
    accept(window, clock, 100)  # 50 accepted per second for two seconds
    assert window.measured() == pytest.approx(50, rel=0.03)
    window.on_throttle(window.stamp(), asked_to_wait=True)
    assert window.rate == pytest.approx(50 * AdaptiveLimit.RATE_BETA, rel=0.03)


def test_a_lone_throttle_among_many_answers_is_no_rate_limit() -> None:
    """A random 429 cuts the window but sets no rate: one in 51 is no limit being hit."""
    window, clock = limit(32)
    accept(window, clock, 100)
    assert window.on_throttle(window.stamp())
    assert (window.window, window.rate) == (22, None)


def test_a_share_of_throttles_is_a_rate_limit() -> None:
    """A tenth of the last second's answers refused: pacing starts, from the accepted rate."""
    window, clock = limit(32)
    accept(window, clock, 50)  # a second at 50 accepted per second
    rates = []
    for _ in range(10):  # then every other answer refused
        clock.now += 0.01
        window.on_success(window.stamp())
        clock.now += 0.01
        window.on_throttle(window.stamp())
        rates.append(window.rate)
    assert rates[:4] == [None] * 4  # under a tenth of the answers so far: no limit shown
    rate = window.rate
    assert rate is not None
    assert 0.8 * 50 <= rate / AdaptiveLimit.RATE_BETA <= 1.2 * 50  # from what was accepted


def test_the_first_rate_within_a_quarter_second_is_a_guess_that_doubles() -> None:
    """Refused before much was accepted: start low and double, as TCP's slow start."""
    window, clock = limit(32)
    window.stamp()
    clock.now += 0.01
    window.on_success(window.stamp())
    for _ in range(3):
        window.on_throttle(window.stamp())
    start = window.rate
    assert start is not None
    accept(window, clock, 25, every=0.02)  # half a second without a refusal
    grown = window.rate
    assert grown is not None and grown == pytest.approx(start * 4, rel=0.1)


def hit_limit(window: AdaptiveLimit) -> None:
    """Six refusals among the last second's 50 answers: a share that marks a rate limit."""
    for _ in range(6):
        window.on_throttle(window.stamp())


def test_rate_climbs_back_flat_near_the_old_limit_then_probes() -> None:
    window, clock = limit(32)
    accept(window, clock, 100)
    hit_limit(window)
    cut = window.rate
    assert cut is not None
    rates = []
    for _ in range(6):  # six seconds of answers without throttling, at the paced rate
        accept(window, clock, 50)
        rates.append(window.rate)
    assert all(a is not None and b is not None and a <= b for a, b in itertools.pairwise(rates))
    k = (50 * (1 - AdaptiveLimit.RATE_BETA) / AdaptiveLimit.CUBIC_C) ** (1 / 3)
    near = rates[int(k) - 1]
    assert near is not None and 0.95 * 50 <= near <= 1.02 * 50  # the plateau
    last = rates[-1]
    assert last is not None and last > 55  # then it probes for more


def test_after_a_refusal_that_paused_the_session_the_probe_is_slower() -> None:
    """Such a refusal costs every caller the wait, so the rate creeps back more gently."""
    rates = {}
    for asked in (False, True):
        window, clock = limit(32)
        accept(window, clock, 100)
        if asked:
            window.on_throttle(window.stamp(), asked_to_wait=True)
        else:
            hit_limit(window)
        accept(window, clock, 300)  # six seconds without a refusal
        rates[asked] = window.rate
    slow, fast = rates[True], rates[False]
    assert slow is not None and fast is not None
    assert 50 <= slow < 53 < fast  # both back at the limit; only the usual one probes past it


def test_pacing_ends_once_the_rate_is_far_past_the_limit_and_the_use() -> None:
    window, clock = limit(32)
    accept(window, clock, 100)
    hit_limit(window)
    seconds = 0
    while window.rate is not None:
        accept(window, clock, 50)
        seconds += 1
        assert seconds < 30
    # The cubic from the cut reaches RELEASE times the old limit, and not before.
    k = (50 * (1 - AdaptiveLimit.RATE_BETA) / AdaptiveLimit.CUBIC_C) ** (1 / 3)
    reach = k + (50 * (AdaptiveLimit.RELEASE - 1) / AdaptiveLimit.CUBIC_C) ** (1 / 3)
    assert reach <= seconds <= reach + 1


def test_a_pause_is_not_counted_as_a_slow_rate() -> None:
    window, clock = limit(32)
    window.stamp()
    accept(window, clock, 50)  # a second at 50 accepted per second
    window.paused(clock.now, clock.now + 0.4)
    clock.now += 0.4
    assert window.measured() == pytest.approx(50, rel=0.05)
    window.paused(clock.now - 0.1, clock.now + 0.5)  # an extension of the same pause
    clock.now += 0.5
    assert window.measured() == pytest.approx(50, rel=0.05)
    accept(window, clock, 5)
    assert window.measured() == pytest.approx(50, rel=0.1)


def test_a_pause_does_not_grow_the_rate() -> None:
    window, clock = limit(32)
    accept(window, clock, 100)
    window.on_throttle(window.stamp(), asked_to_wait=True)
    before = window.rate
    window.paused(clock.now, clock.now + 10)
    clock.now += 10
    window.on_success(window.stamp())
    assert window.rate == pytest.approx(before)  # not a second of growth: none at all


@given(
    st.lists(st.tuples(st.booleans(), st.booleans(), st.floats(0, 0.5)), max_size=300),
    st.integers(1, 64),
)
def test_window_and_rate_stay_in_bounds(
    events: list[tuple[bool, bool, float]], ceiling: int
) -> None:
    window, clock = limit(ceiling)
    stamps: list[int] = []
    for throttled, old, step in events:
        clock.now += step
        stamps.append(window.stamp())
        stamp = stamps[0] if old else stamps[-1]
        if throttled:
            window.on_throttle(stamp, asked_to_wait=old and step > 0.25)
        else:
            window.on_success(stamp)
        assert 1 <= window.window <= ceiling
        assert window.rate is None or window.rate >= AdaptiveLimit.MIN_RATE


async def test_gate_is_fifo_and_shrinks_without_cancelling() -> None:
    gate = Gate(3)
    for _ in range(3):
        await gate.acquire()
    order: list[int] = []

    async def waiter(n: int) -> None:
        await gate.acquire()
        order.append(n)

    tasks = [asyncio.create_task(waiter(n)) for n in range(5)]
    await asyncio.sleep(0)
    gate.resize(1)  # three hold a place: they drain, nobody is cancelled
    assert gate.busy == 3
    gate.release()
    gate.release()
    await asyncio.sleep(0)
    assert order == []  # 1 still inside, capacity 1
    gate.release()
    await asyncio.sleep(0)
    assert order == [0]
    gate.resize(3)  # a grow lets the next ones in at once, in arrival order
    await asyncio.sleep(0)
    assert order == [0, 1, 2]
    for _ in range(3):
        gate.release()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]
    assert gate.busy == 2


async def test_gate_cancelled_waiter_gives_no_place_away() -> None:
    gate = Gate(1)
    await gate.acquire()
    cancelled = asyncio.create_task(gate.acquire())
    after = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    gate.release()
    await after
    assert gate.busy == 1


async def test_gate_granted_then_cancelled_hands_the_place_on() -> None:
    gate = Gate(1)
    await gate.acquire()
    first = asyncio.create_task(gate.acquire())
    second = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)
    gate.release()  # grants first ...
    first.cancel()  # ... which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    await second
    assert gate.busy == 1
