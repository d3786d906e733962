"""A FakeBangwo8 in its own process, so the client under test has a core to itself.

Prints one JSON line (base URL and credentials), then serves until stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from bangwo8_async.testing import FakeBangwo8


async def serve(tasks: int, users: int, latency: float) -> None:
    async with FakeBangwo8(tasks=tasks, users_per_task=users, latency=latency) as fake:
        print(json.dumps({"base_url": fake.base_url, "account": fake.account,
                          "password": fake.password}), flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--users", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    asyncio.run(serve(args.tasks, args.users, args.latency))


if __name__ == "__main__":
    main()
