"""Stream every task in a fresh process and print its memory peaks, for benchmarks.memory.

The tracemalloc peak is the Python heap the iterator's streaming adds, from just
before the session opens to the last item (the consumer discards every item).
Peak RSS is printed beside it, though the interpreter's own ~40 MB hides most
of what the heap does.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
import tracemalloc

import bangwo8_async as bw


async def stream(server: dict[str, str], concurrency: int) -> int:
    auth = bw.BasicAuth(server["account"], server["password"])
    count = 0
    async with bw.Session(auth, base_url=server["base_url"], max_concurrency=concurrency) as s:
        async for _ in bw.iter_call_tasks(s, concurrency=concurrency):
            count += 1
    return count


def peak_kib() -> int:
    """This process's own peak RSS. Not ``ru_maxrss``: Linux carries that over fork and
    exec, so a child would report its parent's peak when the parent was the larger."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    server, concurrency = json.loads(sys.argv[1]), int(sys.argv[2])
    traced = sys.argv[3:] != ["--no-trace"]
    if traced:
        tracemalloc.start()
    wall = time.perf_counter()
    count = asyncio.run(stream(server, concurrency))
    wall = time.perf_counter() - wall
    heap = tracemalloc.get_traced_memory()[1] if traced else 0
    print(
        json.dumps({"count": count, "heap_peak": heap, "rss_peak_kib": peak_kib(), "seconds": wall})
    )


if __name__ == "__main__":
    main()
