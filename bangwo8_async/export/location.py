"""Whether an output path can be written, checked before any request: a clear error if not."""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["LocationError", "check_location"]


class LocationError(Exception):
    """The output cannot be written where it was asked to go."""


def check_location(path: Path) -> None:
    """Refuse an output path that cannot be written, before any request, saying what is wrong
    with it as it is: a folder where the file must be, a file or a missing folder where a
    folder must be, or a folder we may not write to."""
    folder = path.parent
    problem = _folder_problem(folder)  # first: a closed folder above makes is_dir() raise
    if problem is not None:
        raise LocationError(f"cannot write {path}: {problem}")
    if path.is_dir():
        raise LocationError(
            f"{path} is a folder, not a file; give a file name, e.g. {path / 'export'}"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise LocationError(f"cannot write to folder {folder}: permission denied")
    if path.exists() and not os.access(path, os.W_OK):
        raise LocationError(f"cannot write to {path}: permission denied")


def _folder_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot hold a file, or ``None``: the nearest part of it that is wrong."""
    missing: Path | None = None
    denied = False
    for part in (folder, *folder.parents):
        try:
            mode = os.stat(part).st_mode
        except FileNotFoundError:
            missing = part  # climbing: the last one kept is the highest missing folder
            continue
        except NotADirectoryError:
            continue  # a file further up: found as the loop climbs to it
        except PermissionError:
            denied = True  # a folder further up may not be entered: found the same way
            continue
        if not stat.S_ISDIR(mode):
            return f"{part} is a file, not a folder"
        if denied:
            return f"folder {part} may not be entered: permission denied"
        if missing is not None:
            return f"folder {missing} does not exist"
        return None
    return None  # pragma: no cover - the root always exists
