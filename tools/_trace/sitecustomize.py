"""Line tracing for the Python processes a test starts, while ``tools/mutate.py`` maps the suite.

Imported at start-up by every interpreter whose ``PYTHONPATH`` holds this
folder; it does nothing unless ``MUTATE_TRACE_FILE`` is set (by the map's
pytest plugin, so the pytest process itself is not traced here). Each line of
a target module is written once per process with the time it first ran, and
the plugin gives it to the test that was running then.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from types import FrameType
from typing import Any


def _install(path: str, targets: frozenset[str]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    seen: set[tuple[str, int]] = set()

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            key = (frame.f_code.co_filename, frame.f_lineno)
            if key not in seen:  # written at once: a test may kill this process any time
                seen.add(key)
                os.write(fd, f"{time.time()}\t{key[0]}\t{key[1]}\n".encode())
        return local

    def start(frame: FrameType, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename in targets else None

    sys.settrace(start)
    threading.settrace(start)


_path = os.environ.get("MUTATE_TRACE_FILE")
_targets = frozenset(filter(None, os.environ.get("MUTATE_TRACE_TARGETS", "").split(os.pathsep)))
if _path and _targets:
    _install(_path, _targets)
