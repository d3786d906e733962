"""A FakeBangwo8 in its own process, so the client under test has a core to itself.

Prints one JSON line (base URL and credentials), then serves until stdin closes.
Every flag but ``--tasks``, ``--users`` and ``--latency`` is a FakeBangwo8 keyword of
the same name (dashes for underscores), passed only when given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from bangwo8_async.testing import FakeBangwo8

#: FakeBangwo8 keywords a benchmark may set, with their types.
OPTIONS: dict[str, type] = {
    "seed": int,
    "fault_rate": float,
    "retry_after": float,
    "page_cap": int,
    "count_excess": int,
    "jitter": float,
    "insert_every": int,
    "delete_every": int,
    "rate_limit": float,
    "rate_burst": float,
    "max_in_flight": int,
    "limit_retry_after": float,
}


async def serve(tasks: int, users: int, latency: float, options: dict[str, Any]) -> None:
    async with FakeBangwo8(tasks=tasks, users_per_task=users, latency=latency, **options) as fake:
        print(
            json.dumps(
                {"base_url": fake.base_url, "account": fake.account, "password": fake.password}
            ),
            flush=True,
        )
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--users", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.0)
    for name, kind in OPTIONS.items():
        parser.add_argument("--" + name.replace("_", "-"), dest=name, type=kind)
    args = parser.parse_args()
    given = {name: getattr(args, name) for name in OPTIONS if getattr(args, name) is not None}
    asyncio.run(serve(args.tasks, args.users, args.latency, given))


if __name__ == "__main__":
    main()
