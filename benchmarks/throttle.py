"""Adaptive concurrency against a server that throttles, and what it costs on one that does not.

    python -m benchmarks.throttle            # both parts (about two minutes)
    python -m benchmarks.throttle --quick    # shorter runs, for a smoke test

Prints, side by side in one run:

1. **Throttled server**: 50 requests per second (a token bucket of 5) and 6
   in flight per account, answering 429 beyond either limit (with
   ``Retry-After: 1``, and without the header), L = 20 ms. The client starts
   from ``max_concurrency=32`` with 32 callers looping ``bw.list_call_tasks``;
   for ``adaptive=True`` and ``adaptive=False``: the accepted throughput as a
   fraction of the allowed rate, and the share of attempts refused.
   Target (adaptive): >= 0.9 of the allowed rate with <= 5% refused.
2. **Unthrottled server**: the same pages (``max_concurrency=8``, L = 20 ms)
   with ``adaptive=True`` and ``adaptive=False``, alternating, median wall
   time. Target: adaptive costs <= 3%.

The server runs in its own process, so the client has a core to itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiohttp import web

import bangwo8_async as bw

from ._report import header, verdict

TARGET_SHARE, TARGET_REFUSED = 0.9, 0.05
LIST_BODY = (Path(__file__).parent.parent / "tests" / "vendor" / "list_call_tasks.txt").read_bytes()
ACCOUNT, PASSWORD = "bench@example.com", "bench-pw"


# -- the server (its own process) --------------------------------------------------------


class Limited:
    """A token bucket of requests per second and a cap on requests in flight, 429 beyond."""

    def __init__(
        self,
        rate: float | None,
        burst: float,
        max_in_flight: int | None,
        retry_after: float | None,
        latency: float,
    ) -> None:
        self.rate, self.burst, self.max_in_flight = rate, burst, max_in_flight
        self.retry_after, self.latency = retry_after, latency
        self.tokens = burst
        self.stamp = time.monotonic()
        self.in_flight = 0
        self.accepted = self.refused = 0

    def _take(self) -> bool:
        if self.max_in_flight is not None and self.in_flight >= self.max_in_flight:
            return False
        if self.rate is None:
            return True
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    async def handle(self, request: web.Request) -> web.Response:
        if request.path.endswith("/stats"):
            return web.json_response({"accepted": self.accepted, "refused": self.refused})
        if not self._take():
            self.refused += 1
            headers = {} if self.retry_after is None else {"Retry-After": f"{self.retry_after:g}"}
            return web.Response(
                status=429,
                body=b'{"errcode": "429", "errmsg": "Too Many"}',
                content_type="application/json",
                headers=headers,
            )
        self.in_flight += 1
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        self.accepted += 1
        return web.Response(body=LIST_BODY, content_type="application/json")


async def serve(args: argparse.Namespace) -> None:
    limited = Limited(args.rate, args.burst, args.max_in_flight, args.retry_after, args.latency)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", limited.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(json.dumps({"base_url": f"http://127.0.0.1:{port}/api/v1"}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


@contextlib.contextmanager
def server(*options: str) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.throttle", "--serve", *options],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield str(json.loads(proc.stdout.readline())["base_url"])
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)


# -- the client --------------------------------------------------------------------------


def session(base_url: str, concurrency: int, adaptive: bool) -> bw.Session:
    return bw.Session(
        bw.BasicAuth(ACCOUNT, PASSWORD),
        base_url=base_url,
        max_concurrency=concurrency,
        adaptive=adaptive,
        max_retries=10_000,
    )


async def throttled_run(base_url: str, adaptive: bool, seconds: float) -> dict[str, Any]:
    """32 callers loop list_call_tasks for ``seconds``; count what the server accepted."""
    done = 0

    async def caller() -> None:
        nonlocal done
        while True:
            await bw.list_call_tasks(s, per_page=10)
            done += 1

    async with session(base_url, 32, adaptive) as s:
        callers = [asyncio.create_task(caller()) for _ in range(32)]
        await asyncio.sleep(seconds)
        for task in callers:
            task.cancel()
        await asyncio.gather(*callers, return_exceptions=True)
        stats = s.stats
    return {
        "done": done,
        "rate": done / seconds,
        "attempts": stats.attempts,
        "refused": stats.throttled / max(stats.attempts, 1),
        "window": stats.window,
        "paced": stats.rate,
        "paused": stats.paused_seconds,
    }


async def unthrottled_run(base_url: str, adaptive: bool, pages: int) -> float:
    async with session(base_url, 8, adaptive) as s:
        await bw.list_call_tasks(s, per_page=1)  # open the first connection
        started = time.perf_counter()
        await asyncio.gather(
            *(bw.list_call_tasks(s, page=p, per_page=10) for p in range(1, pages + 1))
        )
        return time.perf_counter() - started


def throttled(seconds: float, rate: float) -> None:
    print(
        f"1. Throttled server: {rate:g}/s (bucket of 5) and 6 in flight, L = 20 ms, "
        f"max_concurrency=32, 32 callers, {seconds:g} s each"
    )
    print(
        f"   {'Retry-After':<12} {'mode':<9} {'accepted/s':>10} {'of allowed':>10} "
        f"{'refused':>8} {'window':>6} {'paced at':>8} {'paused':>7}"
    )
    for retry_after in (None, "1"):
        options = ["--rate", str(rate), "--burst", "5", "--max-in-flight", "6", "--latency", "0.02"]
        if retry_after is not None:
            options += ["--retry-after", retry_after]
        for adaptive in (True, False):
            with server(*options) as base_url:
                r = asyncio.run(throttled_run(base_url, adaptive, seconds))
            mode = "adaptive" if adaptive else "fixed"
            paced = "-" if r["paced"] is None else f"{r['paced']:.1f}/s"
            share = r["rate"] / rate
            target = ""
            if adaptive:
                met = share >= TARGET_SHARE and r["refused"] <= TARGET_REFUSED
                target = f"  {verdict(met)} (target >= {TARGET_SHARE} with <= {TARGET_REFUSED:.0%})"
            print(
                f"   {retry_after or 'none':<12} {mode:<9} {r['rate']:>10.1f} "
                f"{share:>10.2f} {r['refused']:>8.1%} {r['window']:>6} {paced:>8} "
                f"{r['paused']:>6.1f}s{target}",
                flush=True,
            )


def unthrottled(pages: int, rounds: int) -> None:
    times: dict[bool, list[float]] = {True: [], False: []}
    with server("--latency", "0.02") as base_url:
        for _ in range(rounds):
            for adaptive in (True, False):
                times[adaptive].append(asyncio.run(unthrottled_run(base_url, adaptive, pages)))
    a, f = statistics.median(times[True]), statistics.median(times[False])
    print(f"2. Unthrottled server: {pages} pages, max_concurrency=8, L = 20 ms, median of {rounds}")
    print(
        f"   adaptive {a:.3f} s, fixed {f:.3f} s: adaptive/fixed = {a / f:.3f}  "
        f"{verdict(a / f <= 1.03)} (target <= 1.03)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["throttled", "unthrottled"])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float)
    parser.add_argument("--burst", type=float, default=5.0)
    parser.add_argument("--max-in-flight", type=int)
    parser.add_argument("--retry-after", type=float)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--seconds", type=float)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args))
        return
    header("benchmarks.throttle")
    if args.only != "unthrottled":
        throttled(args.seconds or (8.0 if args.quick else 30.0), 50.0)
    if args.only != "throttled":
        unthrottled(200 if args.quick else 1000, 3 if args.quick else 7)


if __name__ == "__main__":
    main()
