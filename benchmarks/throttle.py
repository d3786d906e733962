"""Flow control against simulated and real servers: limits, noise, a changing limit, outages.

    python -m benchmarks.throttle            # every case (about twenty minutes)
    python -m benchmarks.throttle --quick    # shorter runs, for a smoke test
    python -m benchmarks.throttle --only simulated      # the simulated servers (a minute)
    python -m benchmarks.throttle --only rate,outage

``simulated`` runs every case below against servers simulated on a virtual clock
(``bangwo8_async.testing.simulator``), 5 seeds each, and adds random noise at 10% and
20% against a gather with the same retries; see ``benchmarks/_simulated.py``. The
other cases run real servers:

Each case runs the adaptive session (``bw.Session`` defaults, ``max_concurrency=32``
or 8) beside a baseline that faces the same server and honours the same signals
(the same session with ``adaptive=False``, told the limit where a user could be):

- ``concurrency``: 6 requests in flight, answers in 50 ms (so 120/s at most):
  the fake's ``max_in_flight=6`` (429, no ``Retry-After``) and a real nginx's
  ``limit_conn 6`` (instant 503 HTML pages). Baseline: exactly 6 in flight.
- ``rate``: 50 requests a second, 20 ms answers: the fake's token bucket
  (burst 3, no ``Retry-After``), nginx ``limit_req`` at 50 r/s (burst 0) answering
  503 and 429, and with ``burst=5 nodelay`` answering 503, and the fake's bucket
  with ``Retry-After: 1`` on every refusal.
  Baseline: ``rate_limit=50``.
- ``noise``: the fake's bucket of 50/s with 10% random faults on top (500, 503,
  429 with ``Retry-After: 0.05``, resets). Share: what the limit let through.
- ``change``: the bucket's rate goes 50/s, then 20/s, then 80/s while 32
  callers run; share of each limit from 3 s after it is set. Baseline: a
  fixed window of 32 (it cannot be told a limit that changes).
- ``outage``: an export of 1,200 tasks (``iter_call_tasks``, ``per_page=2``,
  concurrency 8, ``max_retries=20``) meets a 3 s outage 1 s in: the fake
  answering 503, and nginx answering 502 while its upstream (the fake)
  refuses connections; the fake refusing them itself where nginx is missing.
  Recovery: the export's time with the outage, less its time without, less
  the 3 s: how long after the server is back the export is still catching
  up beyond the work that was left. Median of 2 outages (``--quick``: one,
  nginx's where it is installed).
- ``unthrottled``: 1000 pages at L = 20 ms, ``max_concurrency=8``, adaptive
  against ``adaptive=False``, alternating, median wall time of 5.

Rate cases run 32 callers looping ``bw.list_call_tasks`` (``per_page=10``) for
30 s, the session's start included (4 s with ``--quick``); share of the limit is
the calls answered per second over the limit, refused is the server's refusals over
the requests it got.
Servers run in their own processes (nginx, and the fake via
``benchmarks._server``), so the client has a core. nginx is used where it is
installed (``apt-get install nginx``); elsewhere this says so and runs the fake's
cases only. Only SDK names that every version has are used, so the same script
measures any version.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs

import bangwo8_async as bw
from bangwo8_async.testing import Fault

from . import _nginx, _simulated
from ._report import Row, header, load, summary
from ._server import Control, controlled

CALLERS = 32
NOISE_KINDS = (Fault.SERVER_ERROR, Fault.UNAVAILABLE, Fault.RATE_LIMITED, Fault.RESET_BEFORE)
OUTAGE_SECONDS, OUTAGE_AT = 3.0, 1.0
EXPORT_TASKS, EXPORT_PER_PAGE = 1_200, 2
#: nginx's rate limits: its default burst of 0 answering 503 and 429, and a burst of 5.
RATE_BLOCKS = (_nginx.limit_req(50, 503), _nginx.limit_req(50, 429), _nginx.limit_req(50, 503, 5))
CASES = ("simulated", "concurrency", "rate", "noise", "change", "outage", "unthrottled")

MakeSession = Callable[[dict[str, str]], bw.Session]


def session(concurrency: int, adaptive: bool, **options: Any) -> MakeSession:
    """A session maker for a served fake's (or nginx's) base URL and credentials."""

    def make(info: dict[str, str]) -> bw.Session:
        return bw.Session(
            bw.BasicAuth(info["account"], info["password"]),
            base_url=info["base_url"],
            max_concurrency=concurrency,
            adaptive=adaptive,
            **{"max_retries": 10_000, **options},
        )

    return make


ADAPTIVE = session(CALLERS, True)


# -- one run: callers in a loop, or an export --------------------------------------------


@attrs.define
class Run:
    """What the client saw in one run of callers in a loop."""

    seconds: float
    done: int = 0
    errors: int = 0
    finished: list[float] = attrs.field(factory=list)  # seconds from the start, per call
    window: int = 0
    paced: float | None = None

    def rate(self, start: float = 0.0, end: float | None = None) -> float:
        end = self.seconds if end is None else end
        return sum(start <= t < end for t in self.finished) / (end - start)


async def callers(
    info: dict[str, str],
    make: MakeSession,
    seconds: float,
    schedule: Sequence[tuple[float, Callable[[], Any]]] = (),
) -> Run:
    """``CALLERS`` loop ``list_call_tasks`` for ``seconds``; ``schedule`` runs blocking calls
    (server commands) in a thread at their times."""
    run = Run(seconds)

    async def caller(s: bw.Session, start: float) -> None:
        while True:
            try:
                await bw.list_call_tasks(s, per_page=10)
            except bw.Bangwo8Error:
                run.errors += 1
                continue
            run.done += 1
            run.finished.append(time.perf_counter() - start)

    async def at(when: float, start: float, command: Callable[[], Any]) -> None:
        await asyncio.sleep(max(0.0, start + when - time.perf_counter()))
        await asyncio.to_thread(command)

    async with make(info) as s:
        start = time.perf_counter()
        tasks = [asyncio.create_task(caller(s, start)) for _ in range(CALLERS)]
        tasks += [asyncio.create_task(at(w, start, c)) for w, c in schedule]
        await asyncio.sleep(seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # session.stats is not in every version's contract: read it where it is there.
        run.window, run.paced = s.concurrency, getattr(getattr(s, "stats", None), "rate", None)
    return run


async def export(info: dict[str, str], make: MakeSession, outage: Callable[[], Any] | None) -> Any:
    """Export every task; with ``outage``, start it ``OUTAGE_AT`` s in. (seconds, back at)."""
    back = None

    async def down() -> None:
        nonlocal back
        await asyncio.sleep(OUTAGE_AT)
        sent = time.perf_counter()
        await asyncio.to_thread(outage)  # type: ignore[arg-type]
        back = (sent + time.perf_counter()) / 2 + OUTAGE_SECONDS

    async with make(info) as s:
        start = time.perf_counter()
        trigger = asyncio.create_task(down()) if outage else None
        ids = [t.call_task_id async for t in bw.iter_call_tasks(s, per_page=EXPORT_PER_PAGE)]
        end = time.perf_counter()
        if trigger is not None and not trigger.done():
            trigger.cancel()
            raise RuntimeError(f"the export ended before the outage began ({end - start:.1f} s)")
    if len(ids) != EXPORT_TASKS or len(set(ids)) != EXPORT_TASKS:
        raise AssertionError(f"export: {len(ids)} tasks, {len(set(ids))} distinct")
    return end - start, None if back is None else end - back


# -- the servers --------------------------------------------------------------------------


class Served:
    """A server for one case: its credentials, and its counts since the last reading."""

    def __init__(self, control: Control, front: _nginx.Nginx | None = None) -> None:
        self.control, self.front, self.block = control, front, _nginx.PLAIN
        self._last = control.stats()

    def via(self, block: _nginx.Block) -> Served:
        """Go through nginx's ``block`` from now on (and count what it answered)."""
        assert self.front is not None
        self.block = block
        self.front.statuses(block)  # start counting from here
        return self

    @property
    def info(self) -> dict[str, str]:
        info = dict(self.control.info)
        if self.front is not None:
            info["base_url"] = self.front.base_url(self.block)
        return info

    def counts(self, refusal: int) -> tuple[int, int]:
        """Requests the server got, and those it refused (with ``refusal``), since last asked."""
        if self.front is not None:
            statuses = self.front.statuses(self.block)
            return sum(statuses.values()), statuses[refusal]
        now = self.control.stats()
        got = now["requests"] - self._last["requests"], now["refused"] - self._last["refused"]
        self._last = now
        return got


@contextlib.contextmanager
def fake(latency: float, tasks: int = 100, **options: Any) -> Iterator[Served]:
    with controlled(tasks, latency, **options) as control:
        yield Served(control)


@contextlib.contextmanager
def behind_nginx(binary: str, latency: float, tasks: int = 100) -> Iterator[Served]:
    """One fake upstream and one nginx with every block; pick a block with ``via``."""
    blocks = [_nginx.limit_conn(6), *RATE_BLOCKS]
    with controlled(tasks, latency) as control:
        upstream = int(control.info["base_url"].split(":")[2].split("/")[0])
        with _nginx.nginx(binary, upstream, [*blocks, _nginx.PLAIN]) as front:
            yield Served(control, front)


# -- the cases ----------------------------------------------------------------------------


def pair(
    served: Served, baseline: MakeSession, seconds: float, refusal: int, limit: float
) -> tuple[tuple[float, float], tuple[float, float], Run]:
    """(share, refused) for the adaptive session, then for ``baseline``, a second apart."""
    out = []
    runs = []
    for make in (ADAPTIVE, baseline):
        served.counts(refusal)
        run = asyncio.run(callers(served.info, make, seconds))
        requests, refused = served.counts(refusal)
        out.append((run.rate() / limit, refused / max(requests, 1)))
        runs.append(run)
        time.sleep(1.0)  # let the limit forget this client
    return out[0], out[1], runs[0]


def limit_row(
    case: str, server: str, figures: tuple[Any, Any, Run], share: float, refused: float | None
) -> Row:
    (a_share, a_ref), (b_share, b_ref), run = figures
    target = f">= {share} of the limit" + (f", <= {refused:.0%} refused" if refused else "")
    ok = a_share >= share and (refused is None or a_ref <= refused)
    paced = "" if run.paced is None else f", paced {run.paced:.0f}/s"
    paced += f", {run.errors} calls gave up" if run.errors else ""
    return Row(
        case,
        server,
        f"{a_share:.2f}, {a_ref:.1%} refused",
        f"{b_share:.2f}, {b_ref:.1%} refused",
        target,
        ok,
        f"window {run.window}{paced}",
    )


def concurrency_case(seconds: float, binary: str | None) -> list[Row]:
    rows = []
    fixed6 = session(6, False)
    with fake(0.05, max_in_flight=6, limit_retry_after=None) as served:
        figures = pair(served, fixed6, seconds, 429, 6 / 0.05)
        rows.append(limit_row("concurrency 6", "fake max_in_flight=6", figures, 0.9, 0.05))
    if binary is not None:
        with behind_nginx(binary, 0.05) as served:
            figures = pair(served.via(_nginx.limit_conn(6)), fixed6, seconds, 503, 6 / 0.05)
        rows.append(limit_row("concurrency 6", "nginx limit_conn 6", figures, 0.9, 0.05))
    return rows


def rate_case(seconds: float, binary: str | None) -> list[Row]:
    rows = []
    told = session(CALLERS, False, rate_limit=50.0)
    bucket: dict[str, Any] = {"rate_limit": 50.0, "rate_burst": 3.0, "limit_retry_after": None}
    with fake(0.02, **bucket) as served:
        figures = pair(served, told, seconds, 429, 50.0)
        rows.append(limit_row("rate 50/s", "fake bucket, burst 3", figures, 0.9, 0.05))
    if binary is not None:
        with behind_nginx(binary, 0.02) as served:
            for block in RATE_BLOCKS:
                status = 429 if "429" in block.name else 503
                figures = pair(served.via(block), told, seconds, status, 50.0)
                rows.append(limit_row("rate 50/s", f"nginx {block.name}", figures, 0.9, 0.05))
    with fake(0.02, **{**bucket, "limit_retry_after": 1.0}) as served:
        figures = pair(served, told, seconds, 429, 50.0)
        rows.append(
            limit_row("rate 50/s, Retry-After: 1", "fake bucket, burst 3", figures, 0.8, None)
        )
    return rows


def noise_case(seconds: float) -> list[Row]:
    """A bucket of 50/s under 10% random faults: share of what the limit let through."""
    options: dict[str, Any] = {"rate_limit": 50.0, "rate_burst": 3.0, "limit_retry_after": None}
    options |= {"fault_rate": 0.1, "fault_kinds": NOISE_KINDS, "retry_after": 0.05}
    figures: list[tuple[float, float]] = []
    runs: list[Run] = []
    with fake(0.02, **options) as served:
        for make in (ADAPTIVE, session(CALLERS, False, rate_limit=50.0)):
            served.counts(429)
            runs.append(asyncio.run(callers(served.info, make, seconds)))
            requests, refused = served.counts(429)
            figures.append(((requests - refused) / seconds / 50.0, refused / max(requests, 1)))
            time.sleep(1.0)
    measured = (figures[0], figures[1], runs[0])
    row = limit_row("rate 50/s + 10% noise", "fake bucket + faults", measured, 0.85, None)
    return [attrs.evolve(row, note=row.note + "; share: requests the limit let in")]


def change_case(segment: float) -> list[Row]:
    """50/s, then 20/s, then 80/s: the share of each from 3 s after it is set."""
    limits = (50.0, 20.0, 80.0)
    shares: dict[str, list[float]] = {}
    refused: dict[str, float] = {}
    makers = {"adaptive": ADAPTIVE, "fixed": session(CALLERS, False)}
    for name, make in makers.items():
        with fake(0.02, rate_limit=limits[0], rate_burst=3.0, limit_retry_after=None) as served:
            control = served.control
            schedule = [
                (i * segment, lambda r=rate, c=control: c.set(rate_limit=r))
                for i, rate in enumerate(limits)
                if i
            ]
            run = asyncio.run(callers(served.info, make, segment * len(limits), schedule))
            requests, refusals = served.counts(429)
        shares[name] = [
            run.rate(i * segment + 3.0, (i + 1) * segment) / rate for i, rate in enumerate(limits)
        ]
        refused[name] = refusals / max(requests, 1)

    def show(name: str) -> str:
        return " / ".join(f"{s:.2f}" for s in shares[name]) + f", {refused[name]:.1%} refused"

    return [
        Row(
            "rate 50 -> 20 -> 80/s",
            "fake bucket, burst 3",
            show("adaptive"),
            show("fixed"),
            ">= 0.85 of each, 3 s after",
            min(shares["adaptive"]) >= 0.85,
            f"{segment:g} s a limit",
        )
    ]


def outage_case(binary: str | None, kinds: tuple[str, ...], repeats: int) -> list[Row]:
    """A 3 s outage 1 s into an export: its cost beyond the outage itself (median of runs)."""
    servers: list[tuple[str, str, Callable[[], Any]]] = []
    names = {"503": "fake answering 503", "502": "fake answering 502", "refuse": "fake refusing"}
    for kind in kinds:
        servers.append((names[kind], kind, lambda: fake(0.02, EXPORT_TASKS)))
    if binary is not None:
        starter = lambda: behind_nginx(binary, 0.02, EXPORT_TASKS)  # noqa: E731
        servers.append(("nginx 502, upstream refusing", "refuse", starter))
    rows = []
    for server, kind, start in servers:
        figures = []
        for make in (session(8, True, max_retries=20), session(8, False, max_retries=20)):
            with start() as served:
                clean, _ = asyncio.run(export(served.info, make, None))
                command = lambda c=served.control, k=kind: c.outage(OUTAGE_SECONDS, k)  # noqa: E731
                runs = [asyncio.run(export(served.info, make, command)) for _ in range(repeats)]
            extra = [with_outage - clean - OUTAGE_SECONDS for with_outage, _ in runs]
            figures.append((extra, statistics.median(back for _, back in runs), clean))
        (a, a_back, a_clean), (b, b_back, _) = figures

        def show(extra: list[float], back: float) -> str:
            spread = f", {min(extra):+.1f}..{max(extra):+.1f}" if len(extra) > 1 else ""
            return f"{statistics.median(extra):+.1f} s{spread} (ends {back:.1f} s after)"

        rows.append(
            Row(
                "3 s outage",
                server,
                show(a, a_back),
                show(b, b_back),
                "<= 1.5 s beyond the outage",
                statistics.median(a) <= 1.5,
                f"{a_clean:.1f} s without; median of {repeats}",
            )
        )
    return rows


def unthrottled_case(pages: int, rounds: int) -> list[Row]:
    async def run(info: dict[str, str], adaptive: bool) -> float:
        async with session(8, adaptive)(info) as s:
            await bw.list_call_tasks(s, per_page=1)  # open the first connection
            started = time.perf_counter()
            await asyncio.gather(
                *(bw.list_call_tasks(s, page=p, per_page=10) for p in range(1, pages + 1))
            )
            return time.perf_counter() - started

    times: dict[bool, list[float]] = {True: [], False: []}
    with fake(0.02, pages * 10) as served:
        for _ in range(rounds):
            for adaptive in (True, False):
                times[adaptive].append(asyncio.run(run(served.info, adaptive)))
    a, f = statistics.median(times[True]), statistics.median(times[False])
    return [
        Row(
            "unthrottled",
            f"fake, {pages} pages",
            f"{a:.3f} s ({a / f:.3f}x)",
            f"{f:.3f} s",
            "<= 1.03x fixed",
            a / f <= 1.03,
            f"median of {rounds}",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, for a smoke test")
    parser.add_argument("--only", help=f"comma-separated cases of {', '.join(CASES)}")
    parser.add_argument("--seconds", type=float, help="seconds a limit case runs")
    parser.add_argument("--no-nginx", action="store_true", help="the fake's cases only")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else set(CASES)
    if only - set(CASES):
        parser.error(f"unknown case(s): {', '.join(sorted(only - set(CASES)))}")
    seconds = args.seconds or (4.0 if args.quick else 30.0)
    header("benchmarks.throttle")
    binary = None if args.no_nginx else _nginx.find()
    print(
        f"nginx: {binary}"
        if binary
        else "nginx: not installed, its cases are skipped (apt-get install nginx)"
    )
    # The fake's 503, and nginx's 502 (the fake refusing where nginx is missing); --quick: one.
    outages: tuple[str, ...] = ("503",) if binary or args.quick else ("503", "refuse")
    if args.quick and binary:
        outages = ()
    cases: dict[str, Callable[[], list[Row]]] = {
        "simulated": lambda: list(
            _simulated.rows(10.0 if args.quick else 30.0, 2 if args.quick else 5)
        ),
        "concurrency": lambda: concurrency_case(seconds, binary),
        "rate": lambda: rate_case(seconds, binary),
        "noise": lambda: noise_case(seconds),
        "change": lambda: change_case(4.0 if args.quick else 6.0),
        "outage": lambda: outage_case(binary, outages, 1 if args.quick else 2),
        "unthrottled": lambda: unthrottled_case(*((200, 3) if args.quick else (1000, 5))),
    }
    rows: list[Row] = []
    for name in CASES:
        if name in only:
            for row in cases[name]():
                print(row.line(), flush=True)
                rows.append(row)
    summary(rows)
    print(f"({load()} at the end)")


if __name__ == "__main__":
    main()
