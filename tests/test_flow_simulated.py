"""The session against simulated servers on a virtual clock: each kind of limit found and
held, noise taken for noise, a limit that changes followed, an outage recovered from.

Seconds of traffic run in a fraction of a second of real time, with every sleep of the
session (latency, backoff, pacing, pauses) on the virtual clock, so the figures below are
the session's own, whatever the machine is doing. ``python -m benchmarks.throttle`` prints
the same cases as a table, with real servers beside them.
"""

from __future__ import annotations

import asyncio
import random
import statistics

import attrs
import pytest

import bangwo8_async as bw
from bangwo8_async.testing.simulator import (
    SIMULATED_URL,
    Limits,
    SimulatedServer,
    VirtualClockLoop,
    run_callers,
    run_export,
    run_gather,
    run_virtual,
)

SEEDS = (0, 1, 2)


def limit_runs(
    limits: Limits, seconds: float = 30.0, **session: object
) -> list[tuple[float, float, SimulatedServer]]:
    """(answered a second, share refused, server) for 32 callers over each seed."""
    runs = []
    for seed in SEEDS:
        server = SimulatedServer(attrs.evolve(limits), seed=seed)
        run = run_callers(server, seconds, **session)
        runs.append((len(run.finished) / seconds, server.refused / server.requests, server))
    return runs


def test_the_virtual_clock_jumps_to_the_next_timer() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(3600)
        return loop.time()

    assert run_virtual(main()) == pytest.approx(3600)


def test_a_stuck_simulation_fails_instead_of_hanging() -> None:
    async def main() -> None:
        await asyncio.get_running_loop().create_future()

    loop = VirtualClockLoop()
    with pytest.raises(RuntimeError, match="stuck"):
        loop.run_until_complete(main())
    loop.close()


@pytest.mark.parametrize("status", [429, 503])
def test_a_concurrency_limit_is_found_and_held_by_the_window(status: int) -> None:
    limits = Limits(latency=0.05, jitter=0.2, max_in_flight=6, limit_status=status)
    for rate, refused, server in limit_runs(limits):
        assert rate >= 0.9 * 6 / 0.05 and refused <= 0.05
        assert server.peak_in_flight <= 6


@pytest.mark.parametrize("burst", [1, 3, 5])
def test_a_rate_limit_is_found_and_held_by_the_pace(burst: int) -> None:
    for rate, refused, _ in limit_runs(Limits(jitter=0.2, rate=50, burst=burst)):
        assert rate >= 0.9 * 50 and refused <= 0.05


def test_a_limit_that_refuses_alternate_sends_is_climbed_back_to_at_once() -> None:
    """A bucket of one (nginx's ``limit_req`` without a burst) lets half of a pace just
    beyond it through: a pace cut to that climbs back within ``PaceLimit.CLIMB`` rather
    than seconds along the cubic, so a start that measured it so costs little."""
    limits = Limits(jitter=0.2, rate=50, burst=1)
    for seed in range(5):
        run = run_callers(SimulatedServer(attrs.evolve(limits), seed=seed), 30.0)
        assert run.rate(0.0, 5.0) >= 0.78 * 50  # along the cubic: 0.65 to 0.71
        assert run.rate() >= 0.9 * 50


def test_a_pace_kept_once_the_background_proves_quiet_climbs_back_to_the_one_it_replaced() -> None:
    """Seed 9 of the bucket of one: the first pace, measured off a burst just above the
    limit, is kept with a background of 2.5% that is the limit's own refusals; the next
    cut, measured at about 30/s while that background stood, is kept with none left and
    must then climb back to the pace it replaced in ``PaceLimit.CLIMB``, not along the
    cubic (0.71 of the limit from 2.5 s to 5 s, 0.893 over the run)."""
    run = run_callers(SimulatedServer(Limits(jitter=0.2, rate=50, burst=1), seed=9), 30.0)
    assert run.rate(2.5, 5.0) >= 0.75 * 50
    assert run.rate() >= 0.9 * 50


def test_a_rate_limit_with_a_burst_near_one_request_a_round_trip() -> None:
    """nginx's ``limit_req rate=50r/s burst=5 nodelay`` (a bucket of six) with its real
    round trip of about 22 ms: one request in flight almost holds the rate, so the limit
    looks like a window of one, and each probe of a second one drains the burst. A raise
    the burst let through is taken back at its first refusal, not after a trial's worth."""
    for rate, refused, _ in limit_runs(Limits(latency=0.022, jitter=0.2, rate=50, burst=6)):
        assert rate >= 0.9 * 50 and refused <= 0.04


def test_a_rate_limit_that_asks_for_a_second_of_quiet_every_time() -> None:
    limits = Limits(jitter=0.2, rate=50, burst=3, limit_retry_after=1.0)
    for rate, _, _ in limit_runs(limits):
        assert rate >= 0.8 * 50


@pytest.mark.parametrize(
    ("limits", "cap"),
    [
        (Limits(jitter=0.2, rate=50, burst=3, noise=0.1), 50),
        (Limits(latency=0.05, jitter=0.2, max_in_flight=6, noise=0.1), 120),
    ],
    ids=["rate", "concurrency"],
)
def test_a_limit_with_noise_on_top_is_still_found(limits: Limits, cap: float) -> None:
    for _, _, server in limit_runs(limits):
        let_in = (server.requests - server.refused) / 30.0
        assert let_in >= 0.85 * cap


def test_a_limit_that_changes_is_followed_within_three_seconds() -> None:
    limits = Limits(jitter=0.2, rate=50, burst=3)
    server = SimulatedServer(limits)

    def rate(value: float) -> object:
        return lambda: setattr(limits, "rate", value)

    run = run_callers(server, 18.0, at=[(6.0, rate(20.0)), (12.0, rate(80.0))])
    for start, value in ((0.0, 50.0), (6.0, 20.0), (12.0, 80.0)):
        assert run.rate(start + 3.0, start + 6.0) >= 0.85 * value


@pytest.mark.parametrize("noise", [0.1, 0.2])
def test_noise_is_not_taken_for_a_limit(noise: float) -> None:
    """A tenth or a fifth of requests fail at random (500, 503, 429 with Retry-After 0.05,
    resets): the export ends with no pace and its whole window, paused at most for a trial
    or two, every task once, about as soon as a gather that honours each Retry-After on
    its own request."""
    times = []
    for seed in range(5):

        def server(seed: int = seed) -> SimulatedServer:
            return SimulatedServer(Limits(jitter=0.2, noise=noise), tasks=2000, seed=seed)

        async def export(sim: SimulatedServer) -> tuple[float, list[int], bw.SessionStats]:
            loop = asyncio.get_running_loop()
            async with bw.Session(
                bw.BasicAuth("a", "b"),
                base_url=SIMULATED_URL,
                transport=sim,
                max_retries=10,
                backoff=bw.Backoff(rng=random.Random(sim.seed)),  # the same run every time
            ) as session:
                start = loop.time()
                ids = [t.call_task_id async for t in bw.iter_call_tasks(session, per_page=10)]
                return loop.time() - start, ids, session.stats

        sim = server()
        seconds, ids, stats = run_virtual(export(sim))
        assert ids == sim.state.order
        assert stats.rate is None and stats.window == 8 and stats.paused_seconds <= 0.5
        times.append(seconds / run_gather(server(), "tasks", per_page=10)[0])
    assert statistics.median(times) <= 1.5


@pytest.mark.parametrize("kind", ["503", "502", "refuse"])
def test_after_an_outage_the_sleeping_retries_go_at_once(kind: str) -> None:
    """A 3 s outage 1 s into an export: it ends soon after the server is back, where retries
    that sleep out backoffs of up to 8 s end seconds later."""
    extra = {}
    for adaptive in (True, False):

        def server() -> SimulatedServer:
            return SimulatedServer(Limits(jitter=0.2), tasks=1200)

        options = {"max_retries": 20, "adaptive": adaptive}
        clean, _ = run_export(server(), per_page=2, **options)
        down = server()
        down.outage(1.0, 3.0, kind)
        seconds, ids = run_export(down, per_page=2, **options)
        assert ids == down.state.order
        extra[adaptive] = seconds - clean - 3.0
    assert extra[True] <= 1.5 < extra[False]


def test_an_unthrottled_server_costs_the_adaptive_session_nothing() -> None:
    times = {}
    for adaptive in (True, False):
        times[adaptive], _ = run_export(
            SimulatedServer(Limits(jitter=0.2), tasks=3000), per_page=10, adaptive=adaptive
        )
    assert times[True] <= 1.03 * times[False]
