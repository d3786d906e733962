"""Stream every task in a fresh process and print its peak RSS, for the memory benchmark."""

from __future__ import annotations

import asyncio
import json
import resource
import sys

import bangwo8_async as bw


async def stream(server: dict[str, str]) -> int:
    auth = bw.BasicAuth(server["account"], server["password"])
    count = 0
    async with bw.Session(auth, base_url=server["base_url"]) as session:
        async for _ in bw.iter_call_tasks(session, concurrency=8):
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
    count = asyncio.run(stream(json.loads(sys.argv[1])))
    print(json.dumps({"count": count, "peak_kib": peak_kib()}))


if __name__ == "__main__":
    main()
