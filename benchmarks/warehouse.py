"""Into the warehouse: our dlt source against dlt's own ``rest_api`` source, into DuckDB.

    python -m benchmarks.warehouse             # 30,000 tasks; every customer of 2,000 tasks
    python -m benchmarks.warehouse --quick     # a tenth of that, for a smoke run

The same fake server (a process of its own, 50 ms per request) faces both:

1. **tasks**: every task into DuckDB, ours (``call_tasks`` only) against
   ``rest_api`` with a paginator that follows the server's ``next_page`` link
   (exact, and no request past the end);
2. **customers**: every customer of every task (150 each, two pages), ours
   (both resources) against ``rest_api`` with a page-number paginator set on the
   child resource (dlt's default loads one page per task; the customers' last
   ``next_page`` is ``""``, which dlt's link paginator takes for a URL), read
   until an empty page, parallelized over 8 workers as ours reads 8 at once;
3. **second sync**: an account where 2% of the tasks are in progress; after a
   first sync, 1% change status; the customer requests of the second sync
   against the first (the fake runs in this process: it counts requests).

Each pipeline runs in a fresh process: time, its peak RSS, and whether the rows
in DuckDB are exact (every one once: as many distinct rows as the server has).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ._report import header, load, verdict
from ._server import server

LATENCY = 0.05
USERS_PER_TASK = 150
#: Targets: ours at most this fraction of rest_api's time (tasks, customers).
TASKS_TARGET = 1 / 5
USERS_TARGET = 1 / 2
#: Second sync: customer requests at most this fraction of the first's.
SECOND_TARGET = 0.05


# -- the child: one pipeline, one process ------------------------------------------------------


def _rest_api(info: dict[str, str], users: bool) -> Any:
    from dlt.sources.rest_api import rest_api_source

    # Tasks: the server's next_page link, null on the last page: exact, nothing past the end.
    link = {"type": "json_link", "next_url_path": "next_page"}
    # Customers: their last page's link is "", which json_link takes for a URL; page numbers
    # until an empty page are exact, at one request more per task.
    numbers = {
        "type": "page_number",
        "base_page": 1,
        "page_param": "page",
        "total_path": None,
        "stop_after_empty_page": True,
    }
    resources: list[Any] = [
        {
            "name": "call_tasks",
            "endpoint": {
                "path": "callTask.json",
                "params": {"per_page": 100},
                "data_selector": "callTask",
                "paginator": link,
            },
        }
    ]
    if users:
        resources.append(
            {
                "name": "task_users",
                "parallelized": True,
                "endpoint": {
                    "path": "callTask/userList/{resources.call_tasks.callTaskId}.json",
                    "params": {"per_page": 100},
                    "data_selector": "callTask",
                    "paginator": numbers,
                },
            }
        )
    auth = {"type": "http_basic", "username": info["account"], "password": info["password"]}
    return rest_api_source(
        {"client": {"base_url": info["base_url"] + "/", "auth": auth}, "resources": resources}
    )


def _ours(info: dict[str, str], users: bool) -> Any:
    import bangwo8_async as bw
    from bangwo8_async.dlt import bangwo8_source

    session = bw.Session(bw.BasicAuth(info["account"], info["password"]), base_url=info["base_url"])
    source = bangwo8_source(session)
    return source if users else source.with_resources("call_tasks")


def _distinct(db: Any, table: str) -> tuple[int, int]:
    """Rows, and distinct rows over the data's own columns (dlt's left out)."""
    names = [
        row[0]
        for row in db.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'bench' AND table_name = ?",
            [table],
        ).fetchall()
        if not row[0].startswith("_dlt")
    ]
    columns = ", ".join(f'"{n}"' for n in names)
    (rows,) = db.execute(f"SELECT count(*) FROM bench.{table}").fetchone()
    (distinct,) = db.execute(
        f"SELECT count(*) FROM (SELECT DISTINCT {columns} FROM bench.{table})"
    ).fetchone()
    return int(rows), int(distinct)


def child(kind: str, info: dict[str, str], users: bool, where: str) -> dict[str, Any]:
    import dlt
    import duckdb

    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    os.environ["EXTRACT__WORKERS"] = "8"  # rest_api's parallelized child: 8 at once, as ours
    source = _ours(info, users) if kind == "ours" else _rest_api(info, users)
    pipeline = dlt.pipeline(
        f"bench_{kind}",
        pipelines_dir=os.path.join(where, "pipelines"),
        destination=dlt.destinations.duckdb(os.path.join(where, f"{kind}.duckdb")),
        dataset_name="bench",
    )
    started = time.perf_counter()
    pipeline.run(source)
    seconds = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with duckdb.connect(os.path.join(where, f"{kind}.duckdb"), read_only=True) as db:
        tables = {
            t: _distinct(db, t) for t in (["call_tasks", "task_users"] if users else ["call_tasks"])
        }
    return {"seconds": seconds, "rss_kib": rss, "tables": tables}


def run_child(kind: str, info: dict[str, str], users: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-warehouse-") as where:
        argv = [sys.executable, "-m", "benchmarks.warehouse", "--child", kind]
        argv += [json.dumps(info), "users" if users else "tasks", where]
        out = subprocess.run(argv, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"{kind} failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# -- the parent: side by side ------------------------------------------------------------------


def _exact(result: dict[str, Any], expected: dict[str, int]) -> bool:
    return all(result["tables"].get(t) == [n, n] for t, n in expected.items())


def compare(title: str, tasks: int, users: int, target: float, rounds: int) -> bool:
    expected = {"call_tasks": tasks} | ({"task_users": tasks * users} if users else {})
    print(f"\n{title}: {tasks:,} tasks" + (f", {users} customers each" if users else ""))
    print(f"{'round':>5} {'pipeline':>9} {'seconds':>8} {'peak RSS':>10} {'rows exact':>11}")
    times: dict[str, list[float]] = {"ours": [], "rest_api": []}
    peaks: dict[str, int] = {"ours": 0, "rest_api": 0}
    exact = True
    with server(tasks, LATENCY, max(users, 1)) as info:
        for n in range(1, rounds + 1):
            for kind in ("ours", "rest_api") if n % 2 else ("rest_api", "ours"):
                r = run_child(kind, info, bool(users))
                ok = _exact(r, expected)
                exact = exact and (ok or kind != "ours")
                times[kind].append(r["seconds"])
                peaks[kind] = max(peaks[kind], r["rss_kib"])
                rows = ", ".join(f"{t} {v[0]:,}/{v[1]:,}" for t, v in r["tables"].items())
                print(
                    f"{n:>5} {kind:>9} {r['seconds']:>8.2f} {r['rss_kib'] / 1024:>8.0f} MB "
                    f"{'yes' if ok else 'NO':>5}  ({rows})"
                )
    ratio = min(times["ours"]) / min(times["rest_api"])
    memory = peaks["ours"] <= peaks["rest_api"]
    print(
        f"ours / rest_api: time {ratio:.2f} (target <= {target:.2f}) {verdict(ratio <= target)}; "
        f"peak RSS {peaks['ours'] / peaks['rest_api']:.2f} (target <= 1) {verdict(memory)}; "
        f"our rows exact {verdict(exact)}"
    )
    return ratio <= target and memory and exact


def _steps(pipeline: Any) -> str:
    """dlt's steps of the last run and their seconds, from its trace."""
    steps = pipeline.last_trace.steps
    return ", ".join(
        f"{s.step} {(s.finished_at - s.started_at).total_seconds():.1f}"
        for s in steps
        if s.step in ("extract", "normalize", "load")
    )


def second_sync(tasks: int, users: int) -> bool:
    """The customer requests of a second sync, after 1% of the tasks changed status."""
    import random
    import shutil

    import dlt

    import bangwo8_async as bw
    from bangwo8_async.dlt import SyncStats
    from bangwo8_async.dlt._loop import LoopThread
    from bangwo8_async.dlt._source import build_source
    from bangwo8_async.testing import FakeBangwo8

    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    rng = random.Random(18)
    fake = FakeBangwo8(tasks=tasks, users_per_task=users, latency=LATENCY)
    ids = list(fake.state.order)
    running = set(rng.sample(ids, max(1, tasks * 2 // 100)))
    for call_task_id in ids:
        fake.state.set_status(call_task_id, "进行中" if call_task_id in running else "已完成")
    loop = LoopThread()
    where = Path(tempfile.mkdtemp(prefix="bench-second-"))
    try:
        loop.run(fake.start())
        session = bw.Session(fake.basic_auth, base_url=fake.base_url)
        pipeline = dlt.pipeline(
            "bench_second",
            pipelines_dir=str(where / "pipelines"),
            destination=dlt.destinations.duckdb(str(where / "second.duckdb")),
            dataset_name="bench",
        )
        figures = []
        for n in (1, 2):
            stats = SyncStats()
            started = time.perf_counter()
            pipeline.run(build_source(session, "incremental", stats=stats))
            figures.append((time.perf_counter() - started, stats, _steps(pipeline)))
            if n == 1:
                for call_task_id in rng.sample(ids, max(1, tasks // 100)):
                    fake.state.set_status(call_task_id, "逾期未完成")
        loop.run(fake.close())
    finally:
        loop.close()
        shutil.rmtree(where, ignore_errors=True)
    (t1, first, steps1), (t2, second, steps2) = figures
    ratio = second.customer_requests / first.customer_requests
    print(
        f"\nSecond sync: {tasks:,} tasks, {users} customers each, 2% in progress, then 1% "
        "changed status"
    )
    for n, seconds, s, steps in ((1, t1, first, steps1), (2, t2, second, steps2)):
        print(
            f"  sync {n}: {seconds:6.2f} s ({steps}), customer requests "
            f"{s.customer_requests:,}, customers of {s.tasks_read:,} tasks read, "
            f"{s.tasks_skipped:,} skipped"
        )
    print(
        f"second / first customer requests: {ratio:.3f} (target <= {SECOND_TARGET}) "
        f"{verdict(ratio <= SECOND_TARGET)}"
    )
    return ratio <= SECOND_TARGET


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds per part")
    parser.add_argument("--child", nargs=4, metavar=("KIND", "INFO", "WHAT", "DIR"))
    args = parser.parse_args()
    if args.child:
        kind, info, what, where = args.child
        print(json.dumps(child(kind, json.loads(info), what == "users", where)))
        return
    scale = 10 if args.quick else 1
    header("benchmarks.warehouse")
    print(f"fake server at {LATENCY * 1000:.0f} ms per request, in its own process")
    ok = compare("Tasks", 30_000 // scale, 0, TASKS_TARGET, args.rounds)
    ok &= compare("Customers", 2_000 // scale, USERS_PER_TASK, USERS_TARGET, args.rounds)
    ok &= second_sync(2_000 // scale, USERS_PER_TASK)
    print(f"\n{load()}; all targets {verdict(ok)}")


if __name__ == "__main__":
    main()
