"""A command line run with its stderr on a terminal (a pty), as a user sees its progress."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

__all__ = ["on_a_terminal"]


def on_a_terminal(
    argv: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 120
) -> tuple[int, str]:
    """Run ``python -m bangwo8_async *argv`` with stderr on a pty; its exit code and all it
    wrote there, with the terminal's line ends (``\\r\\n``) back to ``\\n``."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "bangwo8_async", *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    seen = b""
    while select.select([leader], [], [], timeout)[0]:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the other end closed: the command is done
            break
        if not chunk:
            break
        seen += chunk
    code = process.wait(60)
    os.close(leader)
    return code, seen.decode().replace("\r\n", "\n")
