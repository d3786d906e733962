"""Words where silence misled: a ``--verify`` that passed, and what Ctrl-C leaves behind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bangwo8_async import cli
from tests.conftest import ThreadedFake

from .test_cli import bangwo8


@pytest.mark.parametrize("what", ["tasks", "users"])
def test_a_verify_that_passes_says_what_it_checked(
    what: str, tmp_path: Path, threaded_fake: Callable[..., ThreadedFake]
) -> None:
    server = threaded_fake(tasks=30, users_per_task=2)
    done = bangwo8("export", what, "-o", str(tmp_path / "x.csv"), "--verify", env=server.env)
    assert done.returncode == 0, done.stderr
    summary, verdict = done.stderr.decode().splitlines()
    rows = 30 if what == "tasks" else 60
    assert f"{rows} rows written" in summary
    assert verdict == (
        f"bangwo8: verify passed: {rows} rows written, as many as the server's final count ({rows})"
    )


def test_without_verify_nothing_is_said_of_it(
    tmp_path: Path, threaded_fake: Callable[..., ThreadedFake]
) -> None:
    server = threaded_fake(tasks=3)
    done = bangwo8("export", "tasks", "-o", str(tmp_path / "x.csv"), env=server.env)
    (summary,) = done.stderr.decode().splitlines()
    assert summary.startswith("bangwo8: tasks: 3 rows written")


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["export", "tasks", "--fake", "-o", "x.csv"], "run the same command again to resume"),
        (["export", "users", "--fake", "-o", "x.db"], "run the same command again to resume"),
        (
            ["export", "tasks", "--fake", "-o", "x.csv", "--restart"],
            "run the same command without --restart to resume",
        ),
        (["export", "tasks", "--fake"], None),  # stdout keeps no checkpoint: nothing resumes
        (["export", "tasks", "--fake", "-o", "-"], None),
        (["tasks", "list", "--fake"], None),
    ],
)
def test_ctrl_c_says_a_rerun_resumes_only_where_it_does(
    argv: list[str],
    line: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def interrupted(args: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run", interrupted)
    assert cli.main(argv) == 130
    expected = "bangwo8: interrupted" + (f"; {line}" if line else "")
    assert capsys.readouterr().err == expected + "\n"
