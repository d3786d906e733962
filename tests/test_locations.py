"""Where an export may write, checked before any request."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bangwo8_async.export.location import LocationError, check_location


class Denies:
    """``os.access`` for a user who lacks ``bits`` on ``path``: the tests run as root too,
    whom the kernel lets write and enter anything."""

    def __init__(self, path: Path, bits: int) -> None:
        self.path = path
        self.bits = bits
        self.real = os.access

    def __call__(self, path: str | os.PathLike[str], mode: int, **kwargs: bool) -> bool:
        if Path(path) == self.path and mode & self.bits:
            return False
        return self.real(path, mode, **kwargs)


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        LocationError, match=r"^cannot write .*out\.jsonl: folder .*nowhere does not exist$"
    ):
        check_location(tmp_path / "nowhere" / "out.jsonl")


def test_a_directory_is_not_a_file_name(tmp_path: Path) -> None:
    with pytest.raises(LocationError, match="is a folder, not a file; give a file name"):
        check_location(tmp_path)


@pytest.mark.parametrize("bits", [os.W_OK, os.X_OK], ids=["no write", "no entry"])
def test_a_folder_that_cannot_be_written_or_entered_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bits: int
) -> None:
    folder = tmp_path / "theirs"
    folder.mkdir()
    monkeypatch.setattr(os, "access", Denies(folder, bits))
    with pytest.raises(
        LocationError, match=r"^cannot write to folder .*theirs: permission denied$"
    ):
        check_location(folder / "out.jsonl")


def test_a_file_that_cannot_be_written_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"")
    monkeypatch.setattr(os, "access", Denies(out, os.W_OK))
    with pytest.raises(LocationError, match=r"^cannot write to .*out\.jsonl: permission denied$"):
        check_location(out)
    check_location(tmp_path / "new.jsonl")  # a file not there yet: the folder decides
