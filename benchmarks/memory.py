"""Whether streaming stays in bounded memory: 20,000 against 2,000,000 tasks.

    python -m benchmarks.memory            # 20k, 200k and 2M tasks (a few minutes)
    python -m benchmarks.memory --quick    # 20k and 200k tasks, for a smoke run

Each size streams ``bw.iter_call_tasks`` (concurrency 8, default read-ahead,
the consumer discards every item) in a fresh process, against the fake server
in another process, so neither the server's heap nor the parent's is counted.
Printed: the tracemalloc peak of the Python heap (the figure the target is
set on: the large peak at most 1.1x the small one), peak RSS beside it, and
the time of an untraced run (tracemalloc slows allocation a lot).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

from ._report import header, load, verdict
from ._server import server

#: tracemalloc peak of the larger stream over the smaller one.
TARGET = 1.1


def streamed(info: dict[str, str], concurrency: int, trace: bool = True) -> dict[str, Any]:
    argv = [sys.executable, "-m", "benchmarks._stream", json.dumps(info), str(concurrency)]
    out = subprocess.run(
        argv + ([] if trace else ["--no-trace"]), capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def measure(tasks: int, concurrency: int = 8) -> dict[str, Any]:
    """Heap and RSS peaks of one traced stream, and the seconds of one untraced."""
    with server(tasks) as info:
        traced = streamed(info, concurrency)
        plain = streamed(info, concurrency, trace=False)
    assert traced["count"] == plain["count"] == tasks, (traced, plain)
    return {**traced, "seconds": plain["seconds"], "traced_seconds": traced["seconds"]}


def memory_part(sizes: list[int], concurrency: int = 8) -> None:
    print(
        f"\nMemory: iter_call_tasks, C={concurrency}, read-ahead {2_000 * concurrency:,} "
        "items, each size in a fresh process"
    )
    print(
        f"{'tasks':>10} {'heap peak':>10} {'x first':>7} {'RSS peak':>9} {'x first':>7} "
        f"{'seconds':>8} {'traced s':>9}"
    )
    first: dict[str, Any] = {}
    for tasks in sizes:
        r = measure(tasks, concurrency)
        first = first or r
        heap, rss = r["heap_peak"], r["rss_peak_kib"]
        print(
            f"{tasks:>10,} {heap / 2**20:>6.2f} MiB {heap / first['heap_peak']:>7.2f} "
            f"{rss / 1024:>5.1f} MiB {rss / first['rss_peak_kib']:>7.2f} "
            f"{r['seconds']:>8.1f} {r['traced_seconds']:>9.1f}"
        )
    ratio = heap / first["heap_peak"]
    print(
        f"   heap peak {sizes[-1]:,} over {sizes[0]:,}: {ratio:.2f} (target <= {TARGET})  "
        f"{verdict(ratio <= TARGET)}   untraced: {sizes[-1] / r['seconds']:,.0f} tasks/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20k and 200k tasks")
    args = parser.parse_args()
    header("benchmarks.memory")
    memory_part([20_000, 200_000] if args.quick else [20_000, 200_000, 2_000_000])
    print(f"\n({load()} at the end)")


if __name__ == "__main__":
    main()
