"""An output path that cannot be written: the error names what is wrong with it as it is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bangwo8_async.export.location import LocationError, check_location

from .test_cli import bangwo8


def refused(path: Path) -> str:
    with pytest.raises(LocationError) as info:
        check_location(path)
    return str(info.value)


def test_a_file_where_a_folder_must_be_is_called_a_file(tmp_path: Path) -> None:
    (tmp_path / "passwd").write_text("root:x:0:0\n")
    done = bangwo8("export", "tasks", "--fake", "-o", str(tmp_path / "passwd" / "x.csv"))
    assert done.returncode == 2
    assert done.stderr.decode() == (
        f"bangwo8: error: cannot write {tmp_path}/passwd/x.csv: "
        f"{tmp_path}/passwd is a file, not a folder\n"
    )


def test_a_file_further_up_is_named_not_the_folder_below_it(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    assert refused(tmp_path / "f" / "a" / "b" / "x.db").endswith(
        f"{tmp_path}/f is a file, not a folder"
    )


def test_a_missing_folder_names_the_highest_one_missing(tmp_path: Path) -> None:
    assert refused(tmp_path / "a" / "b" / "x.jsonl") == (
        f"cannot write {tmp_path}/a/b/x.jsonl: folder {tmp_path}/a does not exist"
    )


def test_a_folder_where_the_file_must_be(tmp_path: Path) -> None:
    assert refused(tmp_path) == (
        f"{tmp_path} is a folder, not a file; give a file name, e.g. {tmp_path}/export"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root enters any folder")
def test_a_folder_that_may_not_be_entered(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    (closed / "inner").mkdir(parents=True)
    closed.chmod(0o600)
    try:
        assert refused(closed / "inner" / "x.csv").endswith(
            f"folder {closed} may not be entered: permission denied"
        )
    finally:
        closed.chmod(0o700)


def test_a_writable_folder_passes(tmp_path: Path) -> None:
    check_location(tmp_path / "x.csv")
    (tmp_path / "x.csv").write_text("")
    check_location(tmp_path / "x.csv")


def test_a_folder_that_may_not_be_entered_as_root_sees_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same case where the tests run as root: stat fails below the closed folder."""
    closed = tmp_path / "closed"
    closed.mkdir()
    real = os.stat

    def stat(path: object, *args: object, **kwargs: object) -> os.stat_result:
        if str(path).startswith(f"{closed}/"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", stat)
    assert refused(closed / "inner" / "x.csv").endswith(
        f"folder {closed} may not be entered: permission denied"
    )
