"""Where an export's rows go: a checkpointed file, stdout, or (in :mod:`.sqlite`) a database.

A sink is opened before any request (so a bad location fails first), told the
shape of the export, and answers with the checkpoint to resume from, if any.
Then :meth:`commit` takes each page's rows together with the new checkpoint,
and :meth:`finish` makes the export complete.
"""

from __future__ import annotations

import csv
import io
import os
import sys
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from . import checkpoint
from .checkpoint import CheckpointError
from .location import LocationError, check_location

__all__ = ["FileSink", "Sink", "StdoutSink"]

_BOM = b"\xef\xbb\xbf"


class Sink(Protocol):
    """What the export loop needs of an output."""

    where: str

    def open(self, shape: dict[str, Any], restart: bool) -> dict[str, Any] | None:
        """Prepare the output; return the checkpoint to resume from, or ``None``."""

    def commit(self, rows: list[dict[str, Any]], state: dict[str, Any]) -> None:
        """Make one page's rows and the checkpoint after them durable, together."""

    def finish(self, state: dict[str, Any]) -> None:
        """The export is complete: put it in place and drop its checkpoint."""

    def close(self) -> None:
        """Release the output; a partial export stays resumable."""


class _Encoder:
    """Rows to bytes, JSON lines or CSV, UTF-8 with Chinese intact."""

    def __init__(self, fmt: str, fields: list[str], excel: bool) -> None:
        self.fmt = fmt
        self.fields = fields
        self.excel = excel

    def header(self) -> bytes:
        if self.fmt != "csv":
            return b""
        return (_BOM if self.excel else b"") + self.rows([{f: f for f in self.fields}])

    def rows(self, rows: list[dict[str, Any]]) -> bytes:
        if self.fmt != "csv":
            return b"".join([orjson.dumps(row) + b"\n" for row in rows])
        text = io.StringIO()
        csv.DictWriter(text, fieldnames=self.fields).writerows(rows)
        return text.getvalue().encode("utf-8")


class StdoutSink:
    """Rows to stdout as they come: nothing to resume, so nothing is checkpointed."""

    where = "stdout"

    def __init__(
        self, fmt: str, fields: list[str], excel: bool, stream: IO[bytes] | None = None
    ) -> None:
        self._encoder = _Encoder(fmt, fields, excel)
        self._stream = stream if stream is not None else sys.stdout.buffer

    def open(self, shape: dict[str, Any], restart: bool) -> None:
        if restart:
            raise LocationError(
                "--restart does not apply to -o -: output to stdout is not checkpointed, "
                "so it never resumes; give --output a file to make the export resumable"
            )
        self._stream.write(self._encoder.header())
        return None

    def commit(self, rows: list[dict[str, Any]], state: dict[str, Any]) -> None:
        self._stream.write(self._encoder.rows(rows))
        self._stream.flush()

    def finish(self, state: dict[str, Any]) -> None:
        self._stream.flush()

    def close(self) -> None:
        pass


class FileSink:
    """``PATH.part`` plus ``PATH.state.json``; renamed to ``PATH`` when complete.

    After each page: write its rows, fsync, then replace the state atomically.
    The state's ``offset`` is the length of the file that holds exactly the
    committed rows, so a resume truncates whatever a crash left past it.
    """

    def __init__(self, path: Path, fmt: str, fields: list[str], excel: bool) -> None:
        self.path = path
        self.part = path.with_name(path.name + ".part")
        self.state_path = path.with_name(path.name + ".state.json")
        self.where = str(path)
        self._encoder = _Encoder(fmt, fields, excel)
        self._fd: int | None = None
        self._offset = 0
        self._resumable = False  # a checkpoint exists: keep the .part when stopped

    def open(self, shape: dict[str, Any], restart: bool) -> dict[str, Any] | None:
        check_location(self.path)
        if restart:
            for stale in (self.state_path, self.part):
                stale.unlink(missing_ok=True)
        saved = None
        if self.state_path.exists() and not self.part.exists() and self.path.exists():
            # Stopped between putting the complete file in place and dropping its state:
            # that export finished; this run is a new one.
            self.state_path.unlink()
        if self.state_path.exists():
            saved = checkpoint.loads(self.state_path.read_bytes(), str(self.state_path))
            checkpoint.check_shape(saved["shape"], shape, str(self.part))
            size = self.part.stat().st_size if self.part.exists() else -1
            if size < saved["offset"]:
                raise CheckpointError(
                    f"{self.part} is missing or shorter than {self.state_path} says; "
                    "run again with --restart to start over"
                )
        try:
            # O_CREAT with 0o666: the file gets the umask's permissions, like any other.
            self._fd = os.open(self.part, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise LocationError(f"cannot write {self.part}: {exc.strerror}") from None
        if sys.platform != "win32":  # two exports into one file would interleave their rows
            import fcntl

            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(self._fd)
                self._fd = None
                raise LocationError(f"another bangwo8 export is writing {self.part}") from None
        self._resumable = saved is not None
        if saved is not None:
            self._offset = saved["offset"]
            os.ftruncate(self._fd, self._offset)
        else:
            os.ftruncate(self._fd, 0)
            self._offset = 0
            self._write(self._encoder.header())
        os.lseek(self._fd, self._offset, os.SEEK_SET)
        return saved

    def _write(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self._offset += len(data)

    def commit(self, rows: list[dict[str, Any]], state: dict[str, Any]) -> None:
        assert self._fd is not None
        self._write(self._encoder.rows(rows))
        os.fsync(self._fd)
        state = {**state, "offset": self._offset}
        checkpoint.write_atomic(self.state_path, checkpoint.dumps(state))
        self._resumable = True

    def finish(self, state: dict[str, Any]) -> None:
        assert self._fd is not None
        os.fsync(self._fd)
        self._resumable = True
        self.close()
        os.replace(self.part, self.path)
        checkpoint.fsync_dir(self.path)
        self.state_path.unlink(missing_ok=True)
        checkpoint.temporary(self.state_path).unlink(missing_ok=True)  # a crash's leftover
        checkpoint.fsync_dir(self.path)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            if not self._resumable:
                self.part.unlink(missing_ok=True)  # nothing committed: nothing to resume
