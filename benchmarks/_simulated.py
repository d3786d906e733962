"""The throttle cases against simulated servers on a virtual clock (``--only simulated``).

Every figure is the session's own: latency, backoff, pacing and pauses run on the
virtual clock, so the machine's load does not move them. Seeds change the servers'
jitter and noise and the backoff's draws; each row shows the median and the worst.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator

import attrs

from bangwo8_async.testing.simulator import (
    Limits,
    SimulatedServer,
    run_callers,
    run_export,
    run_gather,
)

from ._report import Row

#: (case, server, limits, what the limit allows a second, share counted: "answered" or
#: "let in" (noise on a limit: what the limit let through), target share, most refused)
LIMITS = [
    (
        "concurrency 6",
        "in flight, 429",
        Limits(0.05, 0.2, max_in_flight=6),
        120.0,
        "answered",
        0.9,
        0.05,
    ),
    (
        "concurrency 6",
        "in flight, 503",
        Limits(0.05, 0.2, max_in_flight=6, limit_status=503),
        120.0,
        "answered",
        0.9,
        0.05,
    ),
    (
        "rate 50/s",
        "bucket, burst 1",
        Limits(0.02, 0.2, rate=50, burst=1),
        50.0,
        "answered",
        0.9,
        0.05,
    ),
    (
        "rate 50/s",
        "bucket, burst 3",
        Limits(0.02, 0.2, rate=50, burst=3),
        50.0,
        "answered",
        0.9,
        0.05,
    ),
    (
        "rate 50/s",
        "bucket, burst 5",
        Limits(0.02, 0.2, rate=50, burst=5),
        50.0,
        "answered",
        0.9,
        0.05,
    ),
    (
        "rate 50/s",
        "bucket, burst 6, 22 ms",  # nginx's burst=5 nodelay, with its round trip
        Limits(0.022, 0.2, rate=50, burst=6),
        50.0,
        "answered",
        0.9,
        0.05,
    ),
    (
        "rate 50/s, Retry-After: 1",
        "bucket, burst 3",
        Limits(0.02, 0.2, rate=50, burst=3, limit_retry_after=1.0),
        50.0,
        "answered",
        0.8,
        None,
    ),
    (
        "rate 50/s + 10% noise",
        "bucket, burst 3",
        Limits(0.02, 0.2, rate=50, burst=3, noise=0.1),
        50.0,
        "let in",
        0.85,
        None,
    ),
    (
        "concurrency 6 + 10% noise",
        "in flight, 429",
        Limits(0.05, 0.2, max_in_flight=6, noise=0.1),
        120.0,
        "let in",
        0.85,
        None,
    ),
]


def _spread(values: list[float], fmt: str) -> str:
    return f"{statistics.median(values):{fmt}} (worst {min(values):{fmt}})"


def limit_rows(seconds: float, seeds: int) -> Iterator[Row]:
    for case, server, limits, cap, counted, target, most in LIMITS:
        figures: dict[bool, tuple[list[float], list[float]]] = {}
        for adaptive in (True, False):
            shares, refused = [], []
            for seed in range(seeds):
                sim = SimulatedServer(attrs.evolve(limits), seed=seed)
                told = {} if adaptive else _told(limits)
                run = run_callers(sim, seconds, adaptive=adaptive, **told)
                got = len(run.finished) if counted == "answered" else sim.requests - sim.refused
                shares.append(got / seconds / cap)
                refused.append(sim.refused / max(1, sim.requests))
            figures[adaptive] = (shares, refused)
        (shares, refused), (b_shares, b_refused) = figures[True], figures[False]
        ok = min(shares) >= target and (most is None or max(refused) <= most)
        yield Row(
            case,
            f"simulated {server}",
            f"{_spread(shares, '.2f')}, {max(refused):.1%} refused",
            f"{statistics.median(b_shares):.2f}, {max(b_refused):.1%} refused",
            f">= {target} of the limit" + (f", <= {most:.0%} refused" if most else ""),
            ok,
            f"{counted}; {seeds} seeds, {seconds:g} s",
        )


def _told(limits: Limits) -> dict[str, object]:
    """The baseline: a fixed session told the limit, where a user could be told it."""
    if limits.max_in_flight is not None:
        return {"max_concurrency": limits.max_in_flight}
    return {"rate_limit": limits.rate}


def change_row(segment: float, seeds: int) -> Row:
    shares: dict[bool, list[list[float]]] = {True: [], False: []}
    for adaptive in (True, False):
        for seed in range(seeds):
            limits = Limits(0.02, 0.2, rate=50, burst=3)
            sim = SimulatedServer(limits, seed=seed)

            def to(rate: float, limits: Limits = limits) -> Callable[[], None]:
                return lambda: setattr(limits, "rate", rate)

            at = [(segment, to(20.0)), (2 * segment, to(80.0))]
            run = run_callers(sim, 3 * segment, at=at, adaptive=adaptive)
            shares[adaptive].append(
                [
                    run.rate(i * segment + 3.0, (i + 1) * segment) / rate
                    for i, rate in enumerate((50.0, 20.0, 80.0))
                ]
            )

    def worst(runs: list[list[float]]) -> str:
        return " / ".join(f"{min(r[i] for r in runs):.2f}" for i in range(3))

    return Row(
        "rate 50 -> 20 -> 80/s",
        "simulated bucket, burst 3",
        worst(shares[True]),
        worst(shares[False]),
        ">= 0.85 of each, 3 s after",
        min(min(r) for r in shares[True]) >= 0.85,
        f"worst of {seeds} seeds, {segment:g} s a limit",
    )


def noise_rows(seeds: int) -> Iterator[Row]:
    """Random faults (500, 503, 429 with Retry-After 0.05 s, resets), 20 ms, C=8: our
    ordered export against an unordered gather with the same retries."""
    workloads = {"tasks": (2_000, 10), "customers": (300, 2)}
    for noise in (0.1, 0.2):
        for what, (tasks, per_page) in workloads.items():
            ratios = []
            for seed in range(seeds):

                def server(
                    seed: int = seed, noise: float = noise, tasks: int = tasks
                ) -> SimulatedServer:
                    limits = Limits(0.02, 0.2, noise=noise)
                    return SimulatedServer(limits, tasks=tasks, users_per_task=5, seed=seed)

                ours, items = run_export(server(), what, per_page=per_page, max_retries=10)
                baseline, count = run_gather(server(), what, per_page=per_page)
                if len(items) != count or len(set(items)) != count:
                    raise AssertionError(f"{what}: {len(items)} items, expected {count}")
                ratios.append(ours / baseline)
            ratio = statistics.median(ratios)
            yield Row(
                f"{noise:.0%} noise",
                f"simulated, {what}",
                f"{ratio:.2f}x the gather",
                "1.00",
                "<= 1.2x the gather",
                ratio <= 1.2,
                f"median of {seeds} seeds (worst {max(ratios):.2f}); every item once",
            )


def outage_rows(seeds: int) -> Iterator[Row]:
    """A 3 s outage 1 s into an export of 1,200 tasks (per_page 2, C=8, max_retries 20)."""
    for kind in ("503", "502", "refuse"):
        extra: dict[bool, list[float]] = {True: [], False: []}
        for adaptive in (True, False):
            for seed in range(seeds):
                options = {"max_retries": 20, "adaptive": adaptive}
                clean, _ = run_export(SimulatedServer(tasks=1200, seed=seed), per_page=2, **options)
                down = SimulatedServer(tasks=1200, seed=seed)
                down.outage(1.0, 3.0, kind)
                seconds, _ = run_export(down, per_page=2, **options)
                extra[adaptive].append(seconds - clean - 3.0)
        yield Row(
            "3 s outage",
            f"simulated, {kind}",
            f"+{statistics.median(extra[True]):.2f} s (worst +{max(extra[True]):.2f})",
            f"+{statistics.median(extra[False]):.2f} s",
            "<= 1.5 s beyond the outage",
            max(extra[True]) <= 1.5,
            f"{seeds} seeds",
        )


def unthrottled_row() -> Row:
    times = {
        adaptive: run_export(SimulatedServer(tasks=3000), per_page=10, adaptive=adaptive)[0]
        for adaptive in (True, False)
    }
    ratio = times[True] / times[False]
    return Row(
        "unthrottled",
        "simulated, 300 pages",
        f"{times[True]:.3f} s ({ratio:.3f}x)",
        f"{times[False]:.3f} s",
        "<= 1.03x fixed",
        ratio <= 1.03,
        "virtual seconds",
    )


def rows(seconds: float, seeds: int) -> Iterator[Row]:
    """Every simulated case, in the order of the real ones."""
    yield from limit_rows(seconds, seeds)
    yield change_row(6.0, seeds)
    yield from noise_rows(3 * seeds)
    yield from outage_rows(seeds)
    yield unthrottled_row()
