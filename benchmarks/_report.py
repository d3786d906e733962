"""What every benchmark prints around its figures: versions, commit, machine load, verdicts."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import aiohttp

import bangwo8_async as bw


def header(title: str) -> None:
    """Versions, the commit measured and the load: figures from a busy machine say so."""
    # Retries are the point of some runs: keep their log lines out of the tables.
    logging.getLogger("bangwo8_async").addHandler(logging.NullHandler())
    commit = (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
        or "?"
    )
    print(
        f"{title}: bangwo8_async {bw.__version__} ({commit}), aiohttp {aiohttp.__version__}, "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, {load()}"
    )


def load() -> str:
    """The 1-minute load average: above about 1 per core, other work shares the CPUs."""
    try:
        return f"load {os.getloadavg()[0]:.1f}"
    except OSError:
        return "load ?"


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"
