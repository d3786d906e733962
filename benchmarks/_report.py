"""What every benchmark prints around its figures: versions, commit, machine load, verdicts."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Sequence

import aiohttp
import attrs

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
    """The load averages (1, 5, 15 minutes): above about 1 per core, other work shares the CPUs."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load ?"
    return f"load {one:.1f} {five:.1f} {fifteen:.1f}"


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


@attrs.frozen
class Row:
    """One measured case: the session's figure beside its baseline's, against a target."""

    case: str
    server: str
    ours: str
    baseline: str
    target: str
    ok: bool
    note: str = ""

    def line(self) -> str:
        """The row as it is measured, with the load it was measured under."""
        note = f" ({self.note})" if self.note else ""
        return (
            f"{self.case} | {self.server}: adaptive {self.ours}; baseline {self.baseline}"
            f"{note} | {self.target}: {verdict(self.ok)} | {load()}"
        )


def summary(rows: Sequence[Row]) -> None:
    """The rows as one table with a verdict each, widths fitted to the figures."""
    heads = ("case", "server", "adaptive", "baseline", "target", "verdict")
    cells = [(r.case, r.server, r.ours, r.baseline, r.target, verdict(r.ok)) for r in rows]
    widths = [max(len(c[i]) for c in [heads, *cells]) for i in range(len(heads))]
    print()
    for cell in [heads, tuple("-" * w for w in widths), *cells]:
        print("  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)).rstrip())
    missed = sum(not r.ok for r in rows)
    print(f"{len(rows) - missed} of {len(rows)} targets met")
