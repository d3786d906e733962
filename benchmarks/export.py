"""How fast and how lean an export is, against the bounds and the obvious alternatives.

    python -m benchmarks.export                 # everything (about a minute)
    python -m benchmarks.export --quick         # smaller sizes, for a smoke run
    python -m benchmarks.export --cpu           # only 4., with more rounds
    python -m benchmarks.export --instructions  # 4. in instructions, under callgrind

Prints, side by side in one run:

1. efficiency against the latency bound ``(1 + ceil((P-1)/C)) * L``;
2. speedup against the sequential page loop that peer SDKs run;
3. beyond the latency bound: with ``count_hint=`` the first round asks for C
   pages at once, against the bound ``ceil(P/C) * L`` (and without the hint),
   beside a gather that knows P and the same gather through bare aiohttp;
4. client CPU at zero latency against a hand-written concurrent aiohttp +
   ``json`` loop over the same pages (ours also structures every item, and
   hands each on by an ``async for`` step; also page by page): CPU
   seconds, the two run in turns, the median of the rounds' ratios; with
   ``--instructions``, the client's instructions a page under
   ``valgrind --tool=callgrind``, which a busy machine does not change (each
   candidate runs in a process of its own for two page counts, and the
   difference is divided by the pages between them, so start-up cancels);
5. parse + structure against ``orjson.loads`` alone over a 10k-item page set;
6. our own CPU per page without the network, layer by layer: a client that
   answers every request at once from prepared bodies stands in for aiohttp,
   so the figures hold only what the SDK adds (steadier than 4. on a busy
   machine; under ``valgrind --tool=callgrind`` they count instructions).

Memory is ``python -m benchmarks.memory``, the fault tax ``python -m
benchmarks.faults``. The fake server runs in its own process, so the client
has a core to itself.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, ClassVar

import aiohttp
import orjson

import bangwo8_async as bw
from bangwo8_async._http.transport import HttpRequest, HttpResponse
from bangwo8_async.auth import basic_header
from bangwo8_async.converter import structure_list
from bangwo8_async.testing._data import seeded_task

from ._report import header, load, verdict
from ._server import server

__all__ = ["server"]  # benchmarks.resume starts its fake server with this

PER_PAGE = 100


def session(info: dict[str, str], concurrency: int) -> bw.Session:
    return bw.Session(
        bw.BasicAuth(info["account"], info["password"]),
        base_url=info["base_url"],
        max_concurrency=concurrency,
    )


async def ours(
    info: dict[str, str], concurrency: int, count_hint: int | None = None, *, by_page: bool = False
) -> tuple[float, float, int]:
    """Wall and CPU seconds for iter_call_tasks over every page (``by_page``: for
    iter_call_task_pages, which hands on each page's items as one list)."""
    async with session(info, concurrency) as s:
        await bw.list_call_tasks(s, per_page=1)  # warm the connection pool's first socket
        wall, cpu = time.perf_counter(), time.process_time()
        n = 0
        if by_page:
            async for page in bw.iter_call_task_pages(
                s, per_page=PER_PAGE, concurrency=concurrency, count_hint=count_hint
            ):
                n += len(page.items)
        else:
            async for _ in bw.iter_call_tasks(
                s, per_page=PER_PAGE, concurrency=concurrency, count_hint=count_hint
            ):
                n += 1
        return time.perf_counter() - wall, time.process_time() - cpu, n


async def sequential(info: dict[str, str]) -> tuple[float, int]:
    """The peer SDKs' auto-pager: ask for the next page once the last one is in."""
    async with session(info, 1) as s:
        await bw.list_call_tasks(s, per_page=1)
        wall = time.perf_counter()
        n, page = 0, 1
        while True:
            got = await bw.list_call_tasks(s, page=page, per_page=PER_PAGE)
            n += len(got.items)
            if len(got.items) < PER_PAGE:
                break
            page += 1
        return time.perf_counter() - wall, n


def _moment(text: str) -> date | datetime:
    return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)


def _models(items: list[Any]) -> list[Any]:
    """What a hand-written client would do to get the same objects: no checks at all."""
    return [
        bw.CallTask(
            int(d["callTaskId"]),
            d["task_name"],
            _moment(d["task_start"]),
            _moment(d["task_end"]),
            d["complete"],
        )
        for d in items
    ]


async def hand_written(
    info: dict[str, str], concurrency: int, pages: int, models: bool = False
) -> tuple[float, int]:
    """A plain concurrent aiohttp + json loop over the same pages; CPU seconds, items.

    With ``models``, it also builds the same attrs objects, unchecked.
    """
    headers = {"Authorization": basic_header(info["account"], info["password"])}
    url = info["base_url"] + "/callTask.json"
    limit = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:

        async def page(n: int) -> list[Any]:
            async with limit, http.get(url, params={"page": n, "per_page": PER_PAGE}) as r:
                items = json.loads(await r.read())["callTask"]
                return _models(items) if models else items

        await page(1)
        cpu = time.process_time()
        results = await asyncio.gather(*(page(n) for n in range(1, pages + 1)))
        return time.process_time() - cpu, sum(len(r) for r in results)


def structure_bench(items: int = 10_000, rounds: int = 5) -> tuple[float, float]:
    """Seconds per 10k items: orjson.loads alone, and loads + structure into CallTask."""
    bodies = []
    for start in range(0, items, PER_PAGE):
        page = [seeded_task(0, i, items).list_item() for i in range(start, start + PER_PAGE)]
        bodies.append(orjson.dumps({"callTask": page, "count": items}))
    best_loads = best_both = math.inf
    for _ in range(rounds):
        t = time.perf_counter()
        for body in bodies:
            orjson.loads(body)
        best_loads = min(best_loads, time.perf_counter() - t)
        t = time.perf_counter()
        for body in bodies:
            structure_list(orjson.loads(body)["callTask"], bw.CallTask, endpoint="bench")
        best_both = min(best_both, time.perf_counter() - t)
    return best_loads, best_both


async def latency_part(pages: int, latency: float, concurrencies: list[int]) -> None:
    print(f"\n1-2. {pages} pages of {PER_PAGE}, {latency * 1000:.0f} ms per request")
    print(
        f"{'C':>4} {'ours s':>8} {'bound s':>8} {'effic.':>7} {'speedup':>8} "
        f"{'ideal':>6} {'x C':>5}"
    )
    with server(pages * PER_PAGE, latency) as info:
        seq, n_seq = await sequential(info)
        for c in concurrencies:
            wall, _, n = await ours(info, c)
            assert n == n_seq == pages * PER_PAGE
            bound = (1 + math.ceil((pages - 1) / c)) * latency
            eff, speedup = bound / wall, seq / wall
            target = (eff >= 0.9 or c > 16) and speedup >= 0.9 * c
            print(
                f"{c:>4} {wall:>8.3f} {bound:>8.3f} {eff:>7.2f} {speedup:>8.1f} "
                f"{seq / bound:>6.1f} {speedup / c:>5.2f}  {verdict(target)}"
            )
    print(f"     sequential page loop: {seq:.3f} s")


async def known_pages(info: dict[str, str], concurrency: int, pages: int) -> float:
    """The best any client can do when it knows the page count: every page at once,
    ``concurrency`` in flight, unordered (``bw.list_call_tasks`` under a semaphore)."""
    async with session(info, concurrency) as s:
        await bw.list_call_tasks(s, per_page=1)
        limit = asyncio.Semaphore(concurrency)

        async def page(n: int) -> int:
            async with limit:
                return len((await bw.list_call_tasks(s, page=n, per_page=PER_PAGE)).items)

        wall = time.perf_counter()
        n = sum(await asyncio.gather(*(page(n) for n in range(1, pages + 1))))
        assert n == pages * PER_PAGE
        return time.perf_counter() - wall


async def bare_pages(info: dict[str, str], concurrency: int, pages: int) -> float:
    """The floor under any client: every page at once through bare aiohttp, bytes only."""
    headers = {"Authorization": basic_header(info["account"], info["password"])}
    url = info["base_url"] + "/callTask.json"
    limit = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:

        async def page(n: int) -> int:
            async with limit, http.get(url, params={"page": n, "per_page": PER_PAGE}) as r:
                return len(await r.read())

        await page(1)
        wall = time.perf_counter()
        await asyncio.gather(*(page(n) for n in range(1, pages + 1)))
        return time.perf_counter() - wall


async def hint_part(latency: float, shapes: list[tuple[int, int]], rounds: int) -> None:
    print(
        f"\n3. beyond the latency bound: count_hint, {latency * 1000:.0f} ms per request "
        f"(median of {rounds})"
    )
    print(
        f"{'P':>4} {'C':>3} {'no hint s':>9} {'bound':>6} {'effic.':>6}   {'hint s':>7} "
        f"{'bound':>6} {'effic.':>6} {'x2 hint s':>9} {'gather s':>8} {'effic.':>6} "
        f"{'bare s':>6} {'effic.':>6}  {'gain':>5} {'/gather':>7}"
    )
    for pages, c in shapes:
        items = pages * PER_PAGE
        gathered, bare = [], []
        with server(items, latency) as info:
            runs: dict[int | None, list[float]] = {None: [], items: [], 2 * items: []}
            for _ in range(rounds):
                for hint in runs:
                    wall, _, n = await ours(info, c, count_hint=hint)
                    assert n == items
                    runs[hint].append(wall)
                gathered.append(await known_pages(info, c, pages))
                bare.append(await bare_pages(info, c, pages))
        plain, hinted, over = (statistics.median(runs[h]) for h in (None, items, 2 * items))
        best, floor = statistics.median(gathered), statistics.median(bare)
        old_bound = (1 + math.ceil((pages - 1) / c)) * latency
        new_bound = math.ceil(pages / c) * latency
        ok = new_bound / hinted >= 0.9
        print(
            f"{pages:>4} {c:>3} {plain:>9.3f} {old_bound:>6.3f} {old_bound / plain:>6.2f}   "
            f"{hinted:>7.3f} {new_bound:>6.3f} {new_bound / hinted:>6.2f} {over:>9.3f} "
            f"{best:>8.3f} {new_bound / best:>6.2f} {floor:>6.3f} {new_bound / floor:>6.2f}  "
            f"{plain / hinted:>5.2f} {hinted / best:>7.2f}  {verdict(ok)}"
        )
    print(
        "     effic. = bound / time; gain = no hint / hint; x2: a hint twice the real count;\n"
        "     gather: every page at once, unordered, by a client that knows P;\n"
        "     bare: the same through bare aiohttp, reading bytes only (no JSON, no models)"
    )


async def cpu_part(pages: int, concurrency: int = 8, rounds: int = 9) -> None:
    print(
        f"\n4. client CPU at zero latency, {pages} pages, C={concurrency} "
        f"(median of {rounds} rounds, the candidates in turns)"
    )
    mine, by_page, theirs, same = [], [], [], []
    with server(pages * PER_PAGE) as info:
        for _ in range(rounds):  # in turns, so that other work on the machine hits them all
            mine.append((await ours(info, concurrency))[1])
            by_page.append((await ours(info, concurrency, by_page=True))[1])
            theirs.append((await hand_written(info, concurrency, pages))[0])
            same.append((await hand_written(info, concurrency, pages, models=True))[0])
    ratios = sorted(m / t for m, t in zip(mine, theirs, strict=True))
    ratio = statistics.median(ratios)
    per_page = 1e6 / pages
    print(
        f"   ours {statistics.median(mine) * per_page:.0f} us/page   hand-written aiohttp+json "
        f"{statistics.median(theirs) * per_page:.0f} us/page   ratio {ratio:.2f} "
        f"(rounds {ratios[0]:.2f} to {ratios[-1]:.2f}; target <= 1.3)  {verdict(ratio <= 1.3)}"
    )
    print(
        f"   ours page by page (iter_call_task_pages, no async-for step per item): "
        f"{statistics.median(by_page) * per_page:.0f} us/page   ratio "
        f"{statistics.median(m / t for m, t in zip(by_page, theirs, strict=True)):.2f}"
    )
    print(
        f"   the same loop also building the same models, unchecked: "
        f"{statistics.median(same) * per_page:.0f} us/page   ratio "
        f"{statistics.median(m / s for m, s in zip(mine, same, strict=True)):.2f}"
    )


#: The candidates of 4., by name, for one run in a process of its own (``--one``).
CANDIDATES = ("ours", "ours-by-page", "hand-written", "hand-written+models")


async def one_candidate(name: str, pages: int, concurrency: int = 8) -> None:
    """Run one candidate of 4. over ``pages`` pages (its server in a child process)."""
    with server(pages * PER_PAGE) as info:
        if name.startswith("ours"):
            n = (await ours(info, concurrency, by_page=name == "ours-by-page"))[2]
        else:
            n = (await hand_written(info, concurrency, pages, models=name.endswith("models")))[1]
    assert n == pages * PER_PAGE, n


def _instructions(name: str, pages: int) -> int:
    """The instructions of a process running one candidate, counted by callgrind."""
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    argv += [sys.executable, "-m", "benchmarks.export", "--one", name, "--pages", str(pages)]
    # A fixed hash seed: set and dict layouts, and so the counts, are the same run to run.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(argv, capture_output=True, text=True, check=True, env=env)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from callgrind: {done.stderr[-500:]}")
    return int(found.group(1))


def instructions_part(low: int = 20, high: int = 220) -> None:
    """4. in instructions: the client's own a page, for each candidate."""
    if shutil.which("valgrind") is None:
        print("\n4. in instructions: valgrind is not installed here; skipped")
        return
    print(
        f"\n4. client instructions a page at zero latency, C=8 (callgrind; "
        f"runs of {high} pages less runs of {low})"
    )
    jobs = [(name, n) for name in CANDIDATES for n in (low, high)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        counts = dict(zip(jobs, pool.map(lambda job: _instructions(*job), jobs), strict=True))
    span = high - low
    per_page = {name: (counts[name, high] - counts[name, low]) / span for name in CANDIDATES}
    for name in CANDIDATES:
        print(
            f"   {name:<20} {per_page[name] / 1e6:6.2f} M instructions/page   "
            f"ours / this {per_page['ours'] / per_page[name]:.2f}"
        )
    print(
        f"   ours-by-page / hand-written {per_page['ours-by-page'] / per_page['hand-written']:.2f}"
        " (each item's async-for step in ours is about 1.2 k instructions)"
    )


def parse_part() -> None:
    loads, both = structure_bench()
    ratio = both / loads
    print(
        f"\n5. 10k items: orjson.loads {10_000 / loads:,.0f} items/s, "
        f"loads + structure {10_000 / both:,.0f} items/s, ratio {ratio:.2f} "
        f"(target <= 5)  {verdict(ratio <= 5)}"
    )


class _AtOnce:
    """A transport that answers page ``n`` of prepared bodies at once: no socket at all."""

    headers: ClassVar[Mapping[str, str]] = {"Content-Type": "application/json"}

    def __init__(self, bodies: list[bytes], empty: bytes) -> None:
        self.bodies, self.empty = bodies, empty

    async def send(
        self, request: HttpRequest, headers: Mapping[str, str], **_: Any
    ) -> HttpResponse:
        assert request.params is not None
        n = int(request.params["page"])
        await asyncio.sleep(0)  # a real read gives the loop a turn too
        body = self.bodies[n - 1] if n <= len(self.bodies) else self.empty
        return HttpResponse(200, self.headers, body)

    async def close(self) -> None:
        return None


async def _layer(layer: str, client: _AtOnce, pages: int) -> float:
    """CPU seconds for ``pages`` pages through one layer of the SDK, without the network."""
    s = bw.Session(bw.BasicAuth("a", "b"), base_url="http://127.0.0.1:9/api/v1", transport=client)
    async with s:
        cpu = time.process_time()
        if layer == "iter_call_tasks":
            n = 0
            async for _ in bw.iter_call_tasks(s, per_page=PER_PAGE):
                n += 1
            assert n == pages * PER_PAGE
        else:
            for page in range(1, pages + 1):
                if layer == "session.request":
                    await s.request("GET", "/callTask.json", params={"page": page, "per_page": 100})
                else:
                    await bw.list_call_tasks(s, page=page, per_page=PER_PAGE)
        return time.process_time() - cpu


async def layers_part(pages: int = 200, rounds: int = 9) -> None:
    print(f"\n6. our own CPU per page of {PER_PAGE}, without the network (best of {rounds})")
    total = pages * PER_PAGE
    bodies = [
        orjson.dumps(
            {
                "callTask": [seeded_task(0, i, total).list_item() for i in range(s, s + PER_PAGE)],
                "count": total,
            }
        )
        for s in range(0, total, PER_PAGE)
    ]
    client = _AtOnce(bodies, orjson.dumps({"callTask": [], "count": total}))
    names = {
        "session.request": "session, orjson, error checks",
        "list_call_tasks": "+ structuring into CallTask",
        "iter_call_tasks": "+ the engine, the repeat window, one yield per item",
    }
    best = dict.fromkeys(names, math.inf)
    for _ in range(rounds):  # interleaved, as in 4.
        for layer in names:
            best[layer] = min(best[layer], await _layer(layer, client, pages))
    for layer, what in names.items():
        print(f"   {layer:<16} {best[layer] / pages * 1e6:7.1f} us/page   {what}")


async def main_async(quick: bool) -> None:
    pages = 61 if quick else 321
    await latency_part(pages, 0.05, [4, 8, 16, 32])
    await hint_part(0.05, [(40, 8), (40, 16), (12, 8)], 3 if quick else 7)
    await cpu_part(100 if quick else 500)
    parse_part()
    await layers_part(50 if quick else 200, 3 if quick else 9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument(
        "--layers", action="store_true", help="only 6., our own CPU without the network"
    )
    parser.add_argument("--cpu", action="store_true", help="only 4., 15 rounds")
    parser.add_argument(
        "--instructions", action="store_true", help="4. in instructions, under callgrind"
    )
    parser.add_argument("--one", choices=CANDIDATES, help=argparse.SUPPRESS)
    parser.add_argument("--pages", type=int, default=100, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # one candidate of 4., in a process of its own (under callgrind)
        asyncio.run(one_candidate(args.one, args.pages))
        return
    header("benchmarks.export")
    if args.layers:
        asyncio.run(layers_part())
    elif args.cpu:
        asyncio.run(cpu_part(500, rounds=15))
    elif args.instructions:
        instructions_part()
    else:
        asyncio.run(main_async(args.quick))
    print(f"\n({load()} at the end)")


if __name__ == "__main__":
    main()
