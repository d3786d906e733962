"""A pytest plugin for ``tools/mutate.py``: which tests run which lines of the target modules.

Loaded with ``-p tools._linemap``; ``MUTATE_TRACE_TARGETS`` names the files
(``os.pathsep``-separated) and ``MUTATE_MAP`` the JSON to write: each test's
duration, and for each target file and line the tests that ran it, in this
process or in a Python process the test started (see ``_trace/sitecustomize``).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Generator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest


class LineMap:
    """Collects (file, line) -> tests while the suite runs."""

    def __init__(self, targets: frozenset[str], out: Path) -> None:
        self.targets = targets
        self.out = out
        self.current: str | None = None
        self.hits: dict[tuple[str, int], set[str]] = defaultdict(set)
        self.spans: list[tuple[float, float, str]] = []  # when each test ran
        self.durations: dict[str, float] = {}
        fd, name = tempfile.mkstemp(prefix="mutate-children-", suffix=".tsv")
        os.close(fd)
        self.children = Path(name)
        os.environ["MUTATE_TRACE_FILE"] = name  # inherited by the processes tests start

    def _local(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line" and self.current is not None:
            self.hits[(frame.f_code.co_filename, frame.f_lineno)].add(self.current)
        return self._local

    def _start(self, frame: FrameType, event: str, arg: Any) -> Any:
        return self._local if frame.f_code.co_filename in self.targets else None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, None, None]:
        self.current = item.nodeid
        sys.settrace(self._start)
        threading.settrace(self._start)
        began = time.time()
        try:
            yield
        finally:
            ended = time.time()
            sys.settrace(None)
            threading.settrace(None)
            self.current = None
            self.spans.append((began, ended, item.nodeid))
            self.durations[item.nodeid] = ended - began

    def pytest_sessionfinish(self) -> None:
        for raw in self.children.read_text().splitlines():
            stamp, file, number = raw.split("\t")
            for began, ended, nodeid in self.spans:
                if began <= float(stamp) <= ended:
                    self.hits[(file, int(number))].add(nodeid)
                    break
        self.children.unlink()
        lines: dict[str, dict[str, list[str]]] = defaultdict(dict)
        for (file, line), tests in self.hits.items():
            lines[file][str(line)] = sorted(tests)
        self.out.write_text(json.dumps({"durations": self.durations, "lines": lines}))


def pytest_configure(config: pytest.Config) -> None:
    targets = os.environ.get("MUTATE_TRACE_TARGETS", "")
    out = os.environ.get("MUTATE_MAP")
    if targets and out:
        files = frozenset(filter(None, targets.split(os.pathsep)))
        config.pluginmanager.register(LineMap(files, Path(out)), "mutate-linemap")
