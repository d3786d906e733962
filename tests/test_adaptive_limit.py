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


class Paced(AdaptiveLimit):
    """With the (for now opt-in) CUBIC send rate switched on."""

    PACE = True


def limit(ceiling: int = 32, *, adaptive: bool = True) -> tuple[AdaptiveLimit, FakeClock]:
    clock = FakeClock()
    return Paced(ceiling, clock=clock, adaptive=adaptive), clock


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


def test_rate_is_cut_from_the_accepted_rate() -> None:
    """Like botocore: a throttle turns pacing on at beta times what the server accepted."""
    window, clock = limit(32)
    for _ in range(100):  # 50 accepted per second for two seconds
        clock.now += 0.02
        window.on_success(window.stamp())
    assert window.measured() == pytest.approx(50, rel=0.03)
    window.on_throttle(window.stamp())
    assert window.rate == pytest.approx(50 * AdaptiveLimit.RATE_BETA, rel=0.03)


def test_rate_climbs_back_flat_near_the_old_limit_then_probes() -> None:
    window, clock = limit(32)
    for _ in range(100):
        clock.now += 0.02
        window.on_success(window.stamp())
    window.on_throttle(window.stamp())
    cut = window.rate
    assert cut is not None
    rates = []
    for _ in range(10):  # ten seconds of answers without throttling
        for _ in range(50):
            clock.now += 0.02
            window.on_success(window.stamp())
        rates.append(window.rate)
    assert all(a is not None and b is not None and a <= b for a, b in itertools.pairwise(rates))
    k = (50 * (1 - AdaptiveLimit.RATE_BETA) / AdaptiveLimit.CUBIC_C) ** (1 / 3)
    near = rates[int(k) - 1]
    assert near is not None and 0.95 * 50 <= near <= 1.02 * 50  # the plateau
    last = rates[-1]
    assert last is not None and last > 60  # then it probes for more


def test_a_pause_is_not_counted_as_a_slow_rate() -> None:
    window, clock = limit(32)
    window.stamp()
    for _ in range(25):  # half a second at 50 accepted per second
        clock.now += 0.02
        window.on_success(window.stamp())
    window.paused(clock.now, clock.now + 0.4)
    clock.now += 0.4
    assert window.measured() == pytest.approx(50, rel=0.05)
    for _ in range(5):
        clock.now += 0.02
        window.on_success(window.stamp())
    assert window.measured() == pytest.approx(50, rel=0.1)


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
            window.on_throttle(stamp)
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
