"""What a resume costs: an export killed halfway, then resumed, against one uninterrupted.

    python -m benchmarks.resume              # 30,000 tasks, 20 ms per request
    python -m benchmarks.resume --quick      # 10,000 tasks, for a smoke run
    python -m benchmarks.resume --what users --tasks 3000

Runs ``bangwo8 export`` as a user would, against a fake server in its own
process: once to the end; then again, SIGKILLed at a random moment within one
checkpoint interval after its checkpoint first held half of the rows (the
pages read since that checkpoint die with it), then resumed.
The export times are the ones the summary line reports (from opening the
output to the end, start-up excluded). Target: the resume costs at most 0.55
of the uninterrupted export, i.e. it re-reads at most a round of pages plus
the last checkpoint interval.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bangwo8_async.export.loop import COMMIT_INTERVAL
from benchmarks.export import server

TARGET = 0.55


def export(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Run one export to its end: (export seconds from its summary line, stderr)."""
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=True)
    found = re.search(r" in ([0-9.]+)s;", done.stderr)
    assert found, done.stderr
    return float(found.group(1)), done.stderr


def kill_halfway(args: list[str], env: dict[str, str], state: Path, total: int, lag: float) -> int:
    """Start an export, SIGKILL it ``lag`` seconds after its checkpoint first holds half of
    the ``total`` rows; return the rows it had committed then."""
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = 0
    while proc.poll() is None and rows * 2 < total:
        with contextlib.suppress(OSError, ValueError, KeyError):
            rows = json.loads(state.read_bytes())["rows"]
        time.sleep(0.002)
    time.sleep(lag)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--what", choices=["tasks", "users"], default="tasks")
    parser.add_argument("--tasks", type=int)
    parser.add_argument("--users", type=int, default=3, help="customers per task")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    parser.add_argument("--seed", type=int, default=1, help="seeds the moment of the kill")
    parser.add_argument("--quick", action="store_true")
    opts = parser.parse_args()
    tasks = opts.tasks or (10_000 if opts.quick else 30_000)
    with (
        server(tasks, opts.latency_ms / 1000, opts.users) as info,
        tempfile.TemporaryDirectory() as tmp,
    ):
        env = {
            **os.environ,
            "BANGWO8_BASE_URL": info["base_url"],
            "BANGWO8_ACCOUNT": info["account"],
            "BANGWO8_PASSWORD": info["password"],
        }
        suffix = f".{opts.format}"

        def command(name: str) -> list[str]:
            return [
                sys.executable,
                "-m",
                "bangwo8_async",
                "export",
                opts.what,
                "-o",
                str(Path(tmp) / f"{name}{suffix}"),
            ]

        whole, _ = export(command("whole"), env)
        total = tasks * (opts.users if opts.what == "users" else 1)
        # Pages read since the last checkpoint are lost with the process: kill at a random
        # moment within a checkpoint interval after half of the rows were committed.
        lag = random.Random(opts.seed).uniform(0, COMMIT_INTERVAL)
        kill_halfway(command("cut"), env, Path(tmp) / f"cut{suffix}.state.json", total, lag)
        resumed, stderr = export(command("cut"), env)
        said = next((line for line in stderr.splitlines() if "resuming" in line), "(no resume)")
        same = (Path(tmp) / f"whole{suffix}").read_bytes() == (
            Path(tmp) / f"cut{suffix}"
        ).read_bytes()
    ratio = resumed / whole
    print(
        f"{opts.what}: {tasks:,} tasks x {opts.users if opts.what == 'users' else 1}, "
        f"{opts.latency_ms:g} ms per request, {opts.format}"
    )
    print(f"  uninterrupted export {whole:.2f} s (its summary line; start-up excluded)")
    print(
        f"  killed {lag:.2f} s after half of the rows were committed; "
        f"{said.removeprefix('bangwo8: ')}"
    )
    print(
        f"  the resume {resumed:.2f} s: {ratio:.2f} of the whole "
        f"(target <= {TARGET}) {'OK' if ratio <= TARGET else 'MISSED'}; "
        f"output identical: {same}"
    )


if __name__ == "__main__":
    main()
