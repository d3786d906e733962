"""The ``bangwo8`` command line: resumable exports, one call per endpoint, or run the fake.

Run ``bangwo8 --help`` (or ``python -m bangwo8_async --help``). Exit codes:
0 done, 1 an API or transport error, 2 a usage or input error, 3 ``--verify``
found a difference, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from ..errors import Bangwo8Error, ValidationError
from ..export.checkpoint import CheckpointError
from ..export.location import LocationError
from . import sync
from .arguments import parse, parser
from .commands import export_command, fake_server_command, tasks_command
from .connection import FAKE_TASKS, FAKE_USERS_PER_TASK, Failure, UsageError

__all__ = ["FAKE_TASKS", "FAKE_USERS_PER_TASK", "main", "parser", "run"]


def _interrupted(args: argparse.Namespace) -> str:
    """The line for Ctrl-C: a file export checkpoints, so the same command resumes it (but
    for its ``--restart``, which would discard what this run wrote)."""
    if args.command != "export" or args.output == "-":
        return "bangwo8: interrupted"
    if args.restart:
        return "bangwo8: interrupted; run the same command without --restart to resume"
    return "bangwo8: interrupted; run the same command again to resume"


async def run(args: argparse.Namespace) -> int:
    """Run a parsed command; return its exit code."""
    if args.command == "export":
        return await export_command(args)
    if args.command == "tasks":
        return await tasks_command(args)
    return await fake_server_command(args)


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: one-line errors and an exit code, never a traceback."""
    args = parse(argv)
    try:
        if args.command == "sync":  # dlt runs its own loop: not inside ours
            return sync.run(args)
        return asyncio.run(run(args))
    except (UsageError, LocationError, CheckpointError, ValidationError) as exc:
        print(f"bangwo8: error: {exc}", file=sys.stderr)
        return 2
    except Failure as exc:
        print(f"bangwo8: error: {exc}", file=sys.stderr)
        return exc.code
    except Bangwo8Error as exc:
        print(f"bangwo8: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except OSError as exc:
        print(f"bangwo8: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(_interrupted(args), file=sys.stderr)
        return 130
