"""A FakeBangwo8 in its own process, so the client under test has a core to itself.

Run as a script it prints one JSON line (base URL and credentials), then serves
until stdin closes. Every flag but ``--tasks``, ``--users`` and ``--latency`` is a
FakeBangwo8 keyword of the same name (dashes for underscores), passed only when
given; ``--fault-kinds`` takes comma-separated :class:`Fault` values (``500,503,reset-before``).

Imported, :func:`server` starts one from a benchmark and stops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from bangwo8_async.testing import FakeBangwo8, Fault

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


def _faults(text: str) -> tuple[Fault, ...]:
    return tuple(Fault(kind) for kind in text.split(",") if kind)


@contextlib.contextmanager
def server(
    tasks: int,
    latency: float = 0.0,
    users: int = 1,
    *,
    fault_kinds: Sequence[Fault] = (),
    **options: Any,
) -> Iterator[dict[str, str]]:
    """A fake server in a child process: yields its base URL and credentials.

    ``options`` are FakeBangwo8 keywords from :data:`OPTIONS`.
    """
    argv = [
        sys.executable,
        "-m",
        "benchmarks._server",
        "--tasks",
        str(tasks),
        "--latency",
        str(latency),
        "--users",
        str(users),
    ]
    for name, value in options.items():
        if name not in OPTIONS:
            raise TypeError(f"not a benchmark server option: {name}")
        argv += ["--" + name.replace("_", "-"), str(value)]
    if fault_kinds:
        argv += ["--fault-kinds", ",".join(kind.value for kind in fault_kinds)]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield json.loads(proc.stdout.readline())
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


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
    parser.add_argument("--fault-kinds", dest="fault_kinds", type=_faults)
    for name, kind in OPTIONS.items():
        parser.add_argument("--" + name.replace("_", "-"), dest=name, type=kind)
    args = parser.parse_args()
    names = [*OPTIONS, "fault_kinds"]
    given = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    asyncio.run(serve(args.tasks, args.users, args.latency, given))


if __name__ == "__main__":
    main()
