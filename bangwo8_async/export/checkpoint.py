"""An export's checkpoint: what shaped it, how far it got, and the durable write that keeps it.

A checkpoint is a plain JSON-ready dict, written after every committed page:
``version``, ``shape`` (the arguments that decide the output's content, never a
password or secret), ``cursor`` (where to continue, as the page API wants it),
``rows``, ``offset`` (the bytes of the file that hold exactly those rows),
``count_start`` and the audit totals. Files keep it in ``PATH.state.json``
beside ``PATH.part``; SQLite keeps it in a table, in the page's transaction.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

#: 2: rows in ``to_dict``'s formats (a date-only task as ``YYYY-MM-DD``, SQLite ``progress``
#: an INTEGER). A partial export of format 1 holds rows in the old formats: finishing it
#: would mix two formats in one column, so it is refused and ``--restart`` named.
STATE_VERSION = 2


class CheckpointError(Exception):
    """A checkpoint that cannot be used: the message says which and how to get past it."""


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path``'s directory durable."""
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temporary(path: Path) -> Path:
    """Where :func:`write_atomic` writes before the rename."""
    return path.with_name(path.name + ".tmp")


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new, never a mix."""
    tmp = temporary(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path)


def dumps(state: dict[str, Any]) -> bytes:
    """A checkpoint as JSON, with its format version."""
    return orjson.dumps({**state, "version": STATE_VERSION}, option=orjson.OPT_INDENT_2)


def loads(raw: bytes | str, where: str) -> dict[str, Any]:
    """A checkpoint read back; :class:`CheckpointError` naming ``where`` if it is unusable."""
    try:
        state = orjson.loads(raw)
    except orjson.JSONDecodeError:
        state = None
    if not isinstance(state, dict) or not isinstance(state.get("shape"), dict):
        raise CheckpointError(
            f"{where} is not a valid export state; run again with --restart to start over"
        )
    if state.get("version") != STATE_VERSION:
        raise CheckpointError(
            f"{where} is a partial export by another version of bangwo8 (state format "
            f"{state.get('version')!r}, this one reads {STATE_VERSION}), whose rows may be "
            "written in other formats; run again with --restart to start over"
        )
    for name in ("rows", "offset"):
        if not isinstance(state.get(name, 0), int) or state.get(name, 0) < 0:
            raise CheckpointError(
                f"{where} is not a valid export state ({name}); "
                "run again with --restart to start over"
            )
    return state


def check_shape(saved: dict[str, Any], wanted: dict[str, Any], where: str) -> None:
    """Refuse to continue a partial export made with other arguments."""
    changed = sorted(k for k in saved.keys() | wanted.keys() if saved.get(k) != wanted.get(k))
    if changed:
        was = ", ".join(f"{k}={saved.get(k)!r}" for k in changed)
        raise CheckpointError(
            f"a partial export in {where} was made with other arguments ({was}); "
            "run it again with those, or add --restart to discard it"
        )


def identity_keys(raw: list[Any]) -> list[Any]:
    """Row identities back from JSON: lists become the tuples the page API compares."""
    return [tuple(k) if isinstance(k, list) else k for k in raw]
