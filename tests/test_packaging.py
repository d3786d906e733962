"""The installed package as a user's project sees it: types, metadata, entry points, the wheel."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import bangwo8_async as bw

ROOT = Path(__file__).resolve().parent.parent
USER_APP = Path(__file__).parent / "typed_user" / "app.py"
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("BANGWO8_", "MYPY"))}

# Each line marked `# E: code` must get exactly that mypy error, and no other line any:
# proof that mypy reads the package's real types, not `Any` from a missing stub.
WRONG = """\
import bangwo8_async as bw


async def wrong(session: bw.Session) -> None:
    detail = await bw.get_call_task(session, 1)
    name: int = detail.task_name  # E: assignment
    await bw.get_call_task(session, "1")  # E: arg-type
    async for task in bw.iter_call_tasks(session):
        user: bw.TaskUser = task  # E: assignment
    bw.Session(bw.BasicAuth("a", "b"), max_retries="3")  # E: arg-type
    print(name, user)
"""


def _mypy(cwd: Path, *files: str) -> subprocess.CompletedProcess[str]:
    """``mypy --strict`` as a user runs it: in their directory, with this interpreter.

    The cache (of aiohttp's types and ours) is kept in the checkout's ignored
    ``.mypy_cache``, shared with .ci/run: it saves seconds and changes no verdict.
    """
    cache = ROOT / ".mypy_cache" / "typed_user"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(cache),
            *files,
        ],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_user_script_type_checks_outside_the_repository(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    shutil.copy(USER_APP, tmp_path / "app.py")
    (tmp_path / "wrong.py").write_text(WRONG)
    done = _mypy(tmp_path, "app.py", "wrong.py")
    found = set(re.findall(r"^(\S+?):(\d+): error: .*\[([\w-]+)\]$", done.stdout, re.MULTILINE))
    expected = {
        ("wrong.py", str(n), code)
        for n, line in enumerate(WRONG.splitlines(), 1)
        for code in re.findall(r"# E: ([\w-]+)", line)
    }
    assert len(expected) == 4
    assert found == expected, done.stdout + done.stderr
    assert "import-not-found" not in done.stdout and "import-untyped" not in done.stdout


def test_the_user_script_runs(tmp_path: Path) -> None:
    shutil.copy(USER_APP, tmp_path / "app.py")
    done = subprocess.run(
        [sys.executable, "app.py"],
        cwd=tmp_path,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "not found: 403" in done.stdout
    assert "refused: task_name" in done.stdout


def test_the_package_ships_its_types() -> None:
    assert (importlib.resources.files("bangwo8_async") / "py.typed").is_file()


def test_metadata_declares_license_urls_and_version() -> None:
    meta = importlib.metadata.metadata("bangwo8_async")
    # A bangwo8_async.egg-info left in the checkout by the old setuptools build shadows this.
    assert meta["Version"] == bw.__version__, "delete a stale bangwo8_async.egg-info"
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Documentation", "Changelog", "Issues"} <= set(urls)
    assert all(u.startswith("https://") for u in urls.values())
    assert "Typing :: Typed" in (meta.get_all("Classifier") or [])
    assert meta["Requires-Python"] == ">=3.10"
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License")
    assert "Copyright (c) 2026 the bangwo8_async authors" in license_text


def test_entry_points_load() -> None:
    eps = importlib.metadata.entry_points()
    (script,) = eps.select(group="console_scripts", name="bangwo8")
    from bangwo8_async.cli import main

    assert script.load() is main
    (plugin,) = eps.select(group="pytest11", name="bangwo8_async")
    assert plugin.load().__name__ == "bangwo8_async.testing.pytest_plugin"


def test_the_wheel_has_the_package_its_types_and_license_and_nothing_else(tmp_path: Path) -> None:
    pytest.importorskip("hatchling")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("bangwo8_async-*.whl")
    assert wheel.name.startswith(f"bangwo8_async-{bw.__version__}-py3-none-any")
    names = zipfile.ZipFile(wheel).namelist()
    dist_info = f"bangwo8_async-{bw.__version__}.dist-info/"
    assert "bangwo8_async/py.typed" in names
    assert "bangwo8_async/testing/pytest_plugin.py" in names
    assert dist_info + "licenses/LICENSE" in names
    assert {n.split("/")[0] for n in names} == {"bangwo8_async", dist_info.rstrip("/")}
