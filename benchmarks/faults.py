"""The fault tax: how much longer an export takes when requests fail at random, against a gather.

    python -m benchmarks.faults            # 5 seeds x 2 repeats, every part (about ten minutes)
    python -m benchmarks.faults --quick    # 2 seeds x 1 repeat, for a smoke run

Noise, no limit behind it: L = 20 ms, concurrency 8, 10% and 20% of requests failing
with a 500, a 503, a 429 with ``Retry-After: 0.05`` or a reset before the answer
(the fake's own faults, seeded). Two workloads: 20,000 tasks (``iter_call_tasks``,
``per_page=100``, 200 pages) and every customer of 600 tasks (``iter_all_task_users``,
5 a task, ``per_page=2``, 1,800 pages).

The baseline is the gather an experienced user would write: every page at once,
unordered, straight over the same aiohttp transport (no session, no flow control),
each attempt holding one of 8 places, each retry waiting the same ``bw.Backoff()``
(full jitter), a ``Retry-After`` honoured by the request that got it and by no other
(``bangwo8_async.testing.simulator.gather``). Both use ``max_retries=10``.

Then the reliability check: every customer of 2,000 tasks (5 a task, ``per_page=2``,
about 6,000 requests), L = 4 ms, 20% of requests failing in every way the fake knows
(with ``Retry-After: 0.05``), against the same export without faults. Target: at most
3x.

Faults are random: every figure is a median over seeds (one server process per seed)
and repeats, runs alternating. Target: ours within 1.2x of the gather's time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import bangwo8_async as bw
from bangwo8_async._http.transport import AiohttpTransport
from bangwo8_async.auth import basic_header
from bangwo8_async.testing import RATE_FAULTS, Fault
from bangwo8_async.testing.simulator import gather

from ._report import header, load, verdict
from ._server import server

LATENCY = 0.020
CONCURRENCY = 8
NOISE = (Fault.SERVER_ERROR, Fault.UNAVAILABLE, Fault.RATE_LIMITED, Fault.RESET_BEFORE)
RETRY_AFTER = 0.05
MAX_RETRIES = 10
TARGET, RELIABILITY_TARGET = 1.2, 3.0

#: name: (tasks on the server, customers per task, per_page, items an export yields)
WORKLOADS = {"tasks": (20_000, 1, 100, 20_000), "customers": (600, 5, 2, 3_000)}


async def ours(info: dict[str, str], workload: str, per_page: int) -> int:
    async with bw.Session(
        bw.BasicAuth(info["account"], info["password"]),
        base_url=info["base_url"],
        max_concurrency=CONCURRENCY,
        max_retries=MAX_RETRIES,
    ) as s:
        if workload == "tasks":
            return sum([1 async for _ in bw.iter_call_tasks(s, per_page=per_page)])
        return sum([1 async for _ in bw.iter_all_task_users(s, per_page=per_page)])


async def baseline(info: dict[str, str], workload: str, per_page: int) -> int:
    transport = AiohttpTransport(None, CONCURRENCY)
    try:
        authorization = basic_header(info["account"], info["password"])
        return await gather(
            transport,
            info["base_url"],
            authorization,
            workload,
            per_page=per_page,
            concurrency=CONCURRENCY,
            max_retries=MAX_RETRIES,
        )
    finally:
        await transport.close()


RUNNERS = {"ours": ours, "gather": baseline}


def timed(runner: Any, info: dict[str, str], workload: str, per_page: int, items: int) -> float:
    start = time.perf_counter()
    n = asyncio.run(runner(info, workload, per_page))
    wall = time.perf_counter() - start
    assert n == items, f"{workload}: {n} items, expected {items}"
    return wall


def noise(workload: str, rate: float, seeds: int, repeats: int) -> None:
    tasks, users, per_page, items = WORKLOADS[workload]
    times: dict[str, list[float]] = {name: [] for name in RUNNERS}
    for seed in range(seeds):
        faults = {"fault_rate": rate, "fault_kinds": NOISE, "retry_after": RETRY_AFTER}
        with server(tasks, LATENCY, users, seed=seed, **faults) as info:
            for _ in range(repeats):
                for name, runner in RUNNERS.items():
                    times[name].append(timed(runner, info, workload, per_page, items))
    med = {name: statistics.median(values) for name, values in times.items()}
    ratio = med["ours"] / med["gather"]
    spread = ", ".join(f"{name} {min(v):.2f}..{max(v):.2f}" for name, v in times.items())
    print(
        f"{rate:.0%} noise, {workload:9}: ours {med['ours']:.2f} s, gather {med['gather']:.2f} s, "
        f"ours/gather {ratio:.2f} (target <= {TARGET})  {verdict(ratio <= TARGET)}  "
        f"[{spread}; {len(times['ours'])} runs each; {load()}]",
        flush=True,
    )


def reliability(seeds: int) -> None:
    """The reliability check's export with and without its 20% faults."""
    runs: dict[bool, list[float]] = {False: [], True: []}
    for seed in range(seeds):
        for faulty in (False, True):
            faults: dict[str, Any] = {}
            if faulty:
                faults = {"fault_rate": 0.2, "fault_kinds": RATE_FAULTS, "retry_after": RETRY_AFTER}
            with server(2_000, 0.004, 5, seed=seed, **faults) as info:
                runs[faulty].append(timed(ours, info, "customers", 2, 10_000))
    clean, faulty = statistics.median(runs[False]), statistics.median(runs[True])
    ratio = faulty / clean
    print(
        f"reliability export (10,000 customers, 20% faults of every kind): {clean:.2f} s clean, "
        f"{faulty:.2f} s faulty, {ratio:.2f}x (target <= {RELIABILITY_TARGET})  "
        f"{verdict(ratio <= RELIABILITY_TARGET)}  [{seeds} seeds; {load()}]",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds x 1 repeat")
    parser.add_argument("--seeds", type=int, help="fault seeds (default 5; quick 2)")
    parser.add_argument("--repeats", type=int, help="runs per seed (default 2; quick 1)")
    parser.add_argument("--only", choices=[*WORKLOADS, "reliability"], help="one part")
    args = parser.parse_args()
    seeds = args.seeds or (2 if args.quick else 5)
    repeats = args.repeats or (1 if args.quick else 2)
    header("benchmarks.faults")
    for workload in [w for w in WORKLOADS if args.only in (None, w)]:
        for rate in (0.1, 0.2):
            noise(workload, rate, seeds, repeats)
    if args.only in (None, "reliability"):
        reliability(seeds)
    print(f"({load()} at the end)")


if __name__ == "__main__":
    main()
