"""A hang is a failure: every test runs under a time limit, and one that exceeds it fails.

pytest-timeout's default ``signal`` method raises in the main thread; when that
lands in a callback the event loop runs, the loop logs it and spins on, so a
test that loops forever in ``async`` code hung about one run in three here.
The ``thread`` method dumps every stack and ends the run: reliable.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

HANGS = """
import asyncio
import time


def test_quick():
    pass


def test_sleeps_forever():
    time.sleep(3600)


async def test_a_loop_that_never_ends():
    while True:
        await asyncio.sleep(0)


async def test_spins_without_yielding():
    while True:
        pass
"""


def test_the_suite_has_a_time_limit_per_test(pytestconfig: pytest.Config) -> None:
    limit = float(pytestconfig.getini("timeout"))
    # Generous: the slowest test by design takes seconds; CI's own limit is 90 minutes.
    assert 60 <= limit <= 600


def test_the_limit_ends_a_hang_whatever_the_event_loop_does(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.getini("timeout_method") == "thread"


@pytest.mark.timeout(120)  # a pytest run in a subprocess on a loaded machine
@pytest.mark.parametrize(
    "name", ["test_sleeps_forever", "test_a_loop_that_never_ends", "test_spins_without_yielding"]
)
def test_a_test_that_hangs_fails_the_run_within_the_limit(tmp_path: Path, name: str) -> None:
    (tmp_path / "test_hangs.py").write_text(HANGS)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            str(ROOT / "pyproject.toml"),  # the project's settings: asyncio, warnings, timeout
            "--rootdir",
            str(tmp_path),
            "-p",
            "no:cacheprovider",
            "-o",
            "timeout=2",  # the project's limit, shortened for this run
            "-o",
            "timeout_method=thread",
            "test_hangs.py::test_quick",
            f"test_hangs.py::{name}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=100,  # reached only if the limit failed to end the hang
    )
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    # The quick test passed, then the hang ended the run with every thread's stack.
    assert out.startswith(".+++") and "+ Timeout +" in out, out
    assert "Stack of MainThread" in out and "pytest_runtest_call" in out, out
