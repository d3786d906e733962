"""A FakeBangwo8 in its own process, so the client under test has a core to itself.

Run as a script it prints one JSON line (base URL and credentials), then serves
until stdin closes. Every flag but ``--tasks``, ``--users`` and ``--latency`` is a
FakeBangwo8 keyword of the same name (dashes for underscores), passed only when
given; ``--fault-kinds`` takes comma-separated :class:`Fault` values (``500,503,reset-before``),
and ``--options`` takes keywords as one JSON object (where ``null`` is ``None``).

While it serves, each line on its stdin is a JSON command, answered by one JSON
line on its stdout: ``{"set": {"rate_limit": 20}}`` changes attributes of the
fake (those in :data:`SETTABLE`), ``{"outage": [3, "502"]}`` calls
:meth:`FakeBangwo8.outage`, ``{"stats": true}`` asks for its counts. Every
command is answered with the counts (:func:`counts`).

Imported, :func:`server` starts one from a benchmark and stops it afterwards;
:func:`controlled` does the same and hands back a :class:`Control` to send those
commands with.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from bangwo8_async.testing import FakeBangwo8, Fault

#: FakeBangwo8 keywords a benchmark may set, with their types.
OPTIONS: dict[str, type] = {
    "seed": int,
    "port": int,
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

#: Attributes of the fake a benchmark may change while it serves (``None`` allowed).
SETTABLE = frozenset(
    {"latency", "fault_rate", "retry_after", "rate_limit", "rate_burst", "max_in_flight"}
    | {"limit_retry_after", "jitter"}
)


def _faults(text: str) -> tuple[Fault, ...]:
    return tuple(Fault(kind) for kind in text.split(",") if kind)


class Control:
    """The parent's end of a served fake: its credentials, and commands to change it."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        assert proc.stdin is not None
        self._proc = proc
        self._lock = threading.Lock()  # commands may come from threads (asyncio.to_thread)
        self.info: dict[str, str] = json.loads(proc.stdout.readline())

    def command(self, command: dict[str, Any]) -> dict[str, Any]:
        """Send one command and wait for the fake's counts after it."""
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        with self._lock:
            self._proc.stdin.write(json.dumps(command) + "\n")
            self._proc.stdin.flush()
            answer: dict[str, Any] = json.loads(self._proc.stdout.readline())
        return answer

    def set(self, **attributes: Any) -> dict[str, Any]:
        """Change attributes of the fake (see :data:`SETTABLE`) while it serves."""
        return self.command({"set": attributes})

    def outage(self, seconds: float, kind: str) -> dict[str, Any]:
        """Take the fake down for ``seconds``: ``"502"``, ``"503"`` or ``"refuse"``."""
        return self.command({"outage": [seconds, kind]})

    def stats(self) -> dict[str, Any]:
        """The fake's counts so far: requests, refused by a limit, turned away by an outage."""
        return self.command({"stats": True})


@contextlib.contextmanager
def controlled(
    tasks: int,
    latency: float = 0.0,
    users: int = 1,
    *,
    fault_kinds: Sequence[Fault] = (),
    **options: Any,
) -> Iterator[Control]:
    """A fake server in a child process: yields a :class:`Control` for it.

    ``options`` are FakeBangwo8 keywords from :data:`OPTIONS`.
    """
    argv = [sys.executable, "-m", "benchmarks._server", "--tasks", str(tasks)]
    argv += ["--latency", str(latency), "--users", str(users)]
    for name in options:
        if name not in OPTIONS:
            raise TypeError(f"not a benchmark server option: {name}")
    if options:  # as JSON, so that None (e.g. no Retry-After) survives the trip
        argv += ["--options", json.dumps(options)]
    if fault_kinds:
        argv += ["--fault-kinds", ",".join(kind.value for kind in fault_kinds)]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        yield Control(proc)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


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
    with controlled(tasks, latency, users, fault_kinds=fault_kinds, **options) as control:
        yield control.info


def counts(fake: FakeBangwo8) -> dict[str, Any]:
    """What a benchmark reads off the fake: requests by status, refusals, outage answers."""
    statuses = collections.Counter(str(r.status) for r in fake.log)
    return {
        "requests": len(fake.log),
        "refused": fake.refused,
        "outage_answers": getattr(fake, "outage_answers", 0),
        "statuses": dict(statuses),
        "peak_in_flight": fake.peak_in_flight,
    }


async def obey(fake: FakeBangwo8, command: dict[str, Any]) -> dict[str, Any]:
    """Carry out one command from the parent; an unknown one is an error it reads back."""
    for name, value in command.get("set", {}).items():
        if name not in SETTABLE:
            return {"error": f"not settable: {name}"}
        setattr(fake, name, value)
    if "outage" in command:
        seconds, kind = command["outage"]
        await fake.outage(float(seconds), str(kind))
    return counts(fake)


async def serve(tasks: int, users: int, latency: float, options: dict[str, Any]) -> None:
    async with FakeBangwo8(tasks=tasks, users_per_task=users, latency=latency, **options) as fake:
        print(
            json.dumps(
                {"base_url": fake.base_url, "account": fake.account, "password": fake.password}
            ),
            flush=True,
        )
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):  # '' at EOF
            print(json.dumps(await obey(fake, json.loads(line))), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--users", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--fault-kinds", dest="fault_kinds", type=_faults)
    parser.add_argument("--options", type=json.loads, default={}, help="options as JSON")
    for name, kind in OPTIONS.items():
        parser.add_argument("--" + name.replace("_", "-"), dest=name, type=kind)
    args = parser.parse_args()
    names = [*OPTIONS, "fault_kinds"]
    given = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    given |= {name: value for name, value in args.options.items() if name in OPTIONS}
    asyncio.run(serve(args.tasks, args.users, args.latency, given))


if __name__ == "__main__":
    main()
