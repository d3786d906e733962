"""The fault tax: how much longer an export takes when requests fail, against a plain gather.

    python -m benchmarks.faults            # 5 seeds x 3 repeats (about three minutes)
    python -m benchmarks.faults --quick    # 2 seeds x 1 repeat, for a smoke run

Latency L = 20 ms, concurrency 8, and 10% of requests failing with a 500, a
503 (no ``Retry-After``) or a connection reset before the answer. Everyone
uses the same retry policy: a ``bw.Session`` with its defaults, ``bw.Backoff()``
(full jitter) and ``max_retries=6`` (so that no run gives up on a page). Two
workloads: 5,000 tasks (``per_page=100``, 50 pages) with ``iter_call_tasks``,
and the 1,500 customers of 300 tasks (5 a task, ``per_page=100``) with
``iter_all_task_users``. Beside ours, a hand-written unordered
``asyncio.gather`` over the same pages (``bw.list_call_tasks`` /
``bw.list_task_users``): "gather" holds an ``asyncio.Semaphore(8)`` around
each call, backoff sleeps included, as such code usually does; "gather*" has
no semaphore of its own, only the session's bound on attempts in flight, so a
page in its backoff holds no slot (the best an unordered client can do).

Faults are random: every figure is the median over seeds (one server process
per seed, its faults drawn from that seed) and repeats, runs alternating.
Printed: seconds without and with faults, the tax (with over without) and
ours over each gather with faults. Target: ours within 1.2x of the gather's
time with faults.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import bangwo8_async as bw
from bangwo8_async.testing import Fault

from ._report import header, load, verdict
from ._server import server

T = TypeVar("T")

LATENCY = 0.020
CONCURRENCY = 8
FAULT_RATE = 0.10
FAULT_KINDS = (Fault.SERVER_ERROR, Fault.UNAVAILABLE, Fault.RESET_BEFORE)
MAX_RETRIES = 6
PER_PAGE = 100
TARGET = 1.2

#: name: (tasks on the server, customers per task, items an export yields)
WORKLOADS = {"tasks": (5_000, 1, 5_000), "customers": (300, 5, 1_500)}

Runner = Callable[[bw.Session, str], Awaitable[int]]


def session(info: dict[str, str]) -> bw.Session:
    return bw.Session(
        bw.BasicAuth(info["account"], info["password"]),
        base_url=info["base_url"],
        max_concurrency=CONCURRENCY,
        max_retries=MAX_RETRIES,
        backoff=bw.Backoff(),
    )


async def ours(s: bw.Session, workload: str) -> int:
    items: AsyncIterator[Any]
    if workload == "tasks":
        items = bw.iter_call_tasks(s, per_page=PER_PAGE, concurrency=CONCURRENCY)
    else:
        items = bw.iter_all_task_users(s, per_page=PER_PAGE, concurrency=CONCURRENCY)
    n = 0
    async for _ in items:
        n += 1
    return n


def gather(bounded: bool) -> Runner:
    """An unordered hand-written client: page 1, then every other page at once."""

    async def run(s: bw.Session, workload: str) -> int:
        limit: Any = asyncio.Semaphore(CONCURRENCY) if bounded else contextlib.nullcontext()

        async def call(make: Callable[[], Awaitable[T]]) -> T:
            async with limit:
                return await make()

        async def task_page(n: int) -> bw.Page[bw.CallTask]:
            return await call(lambda: bw.list_call_tasks(s, page=n, per_page=PER_PAGE))

        async def users_page(task: bw.CallTask, n: int) -> bw.Page[bw.TaskUser]:
            return await call(
                lambda: bw.list_task_users(s, task.call_task_id, page=n, per_page=PER_PAGE)
            )

        async def users(task: bw.CallTask) -> int:
            first = await users_page(task, 1)
            rest = await asyncio.gather(
                *(users_page(task, n) for n in range(2, _pages(first.count) + 1))
            )
            return len(first.items) + sum(len(p.items) for p in rest)

        async def tasks_then_users(page: bw.Page[bw.CallTask]) -> int:
            if workload == "tasks":
                return len(page.items)
            return sum(await asyncio.gather(*(users(task) for task in page.items)))

        async def later_page(n: int) -> int:
            return await tasks_then_users(await task_page(n))

        first = await task_page(1)
        counts = await asyncio.gather(
            tasks_then_users(first), *(later_page(n) for n in range(2, _pages(first.count) + 1))
        )
        return sum(counts)

    return run


def _pages(count: int | None) -> int:
    return math.ceil((count or 0) / PER_PAGE)


RUNNERS: dict[str, Runner] = {"ours": ours, "gather": gather(True), "gather*": gather(False)}


async def timed(info: dict[str, str], runner: Runner, workload: str) -> float:
    async with session(info) as s:
        start = time.perf_counter()
        n = await runner(s, workload)
        wall = time.perf_counter() - start
    expected = WORKLOADS[workload][2]
    assert n == expected, f"{workload}: {n} items, expected {expected}"
    return wall


def measure(workload: str, seeds: int, repeats: int) -> dict[tuple[str, bool], list[float]]:
    """Seconds per (runner, faulty), over seeds and repeats, runners alternating."""
    tasks, users, _ = WORKLOADS[workload]
    times: dict[tuple[str, bool], list[float]] = {}
    for faulty in (False, True):
        for seed in range(seeds if faulty else 1):
            options: dict[str, Any] = {}
            if faulty:
                options = {"fault_rate": FAULT_RATE, "fault_kinds": FAULT_KINDS, "seed": seed}
            with server(tasks, LATENCY, users, **options) as info:
                for _ in range(repeats if faulty else max(repeats, 3)):
                    for name, runner in RUNNERS.items():
                        wall = asyncio.run(timed(info, runner, workload))
                        times.setdefault((name, faulty), []).append(wall)
    return times


def report(workload: str, times: dict[tuple[str, bool], list[float]]) -> None:
    med = {key: statistics.median(values) for key, values in times.items()}
    runs = len(times["ours", True])
    tasks, _, items = WORKLOADS[workload]
    what = f"{items:,} tasks" if workload == "tasks" else f"{items:,} customers of {tasks} tasks"
    print(f"\n{what} (median of {runs} faulty runs each)")
    print(f"{'':>9} {'clean s':>8} {'faulty s':>9} {'tax':>6} {'faulty min..max':>16}")
    for name in RUNNERS:
        clean, faulty = med[name, False], med[name, True]
        low, high = min(times[name, True]), max(times[name, True])
        print(
            f"{name:>9} {clean:>8.3f} {faulty:>9.3f} {faulty / clean:>6.2f} "
            f"{low:>7.3f}..{high:<7.3f}"
        )
    for name in ("gather", "gather*"):
        ratio = med["ours", True] / med[name, True]
        print(
            f"   ours / {name} with faults: {ratio:.2f} (target <= {TARGET})  "
            f"{verdict(ratio <= TARGET)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds x 1 repeat")
    parser.add_argument("--seeds", type=int, help="fault seeds (default 5; quick 2)")
    parser.add_argument("--repeats", type=int, help="runs per seed (default 3; quick 1)")
    parser.add_argument("--only", choices=list(WORKLOADS), help="one workload")
    args = parser.parse_args()
    seeds = args.seeds or (2 if args.quick else 5)
    repeats = args.repeats or (1 if args.quick else 3)
    header("benchmarks.faults")
    kinds = ", ".join(kind.value for kind in FAULT_KINDS)
    print(
        f"Fault tax: L = {LATENCY * 1000:.0f} ms, C = {CONCURRENCY}, {FAULT_RATE:.0%} of "
        f"requests failing ({kinds}), Backoff() defaults, max_retries={MAX_RETRIES}; "
        f"{seeds} seeds x {repeats} repeats"
    )
    for workload in [args.only] if args.only else list(WORKLOADS):
        report(workload, measure(workload, seeds, repeats))
    print(f"\n({load()} at the end)")


if __name__ == "__main__":
    main()
