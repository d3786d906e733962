"""``bangwo8 sync``: load every task and every customer into a warehouse through dlt."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any, conn: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``sync`` to the subcommands ``sub``; ``conn`` gives the connection options."""
    return sub.add_parser(  # type: ignore[no-any-return]
        "sync",
        parents=[conn],
        help="load every task and customer into a warehouse (the dlt extra)",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``bangwo8 sync``; return its exit code."""
    from ._cli_connect import UsageError  # _cli_connect imports the parser, which imports us

    raise UsageError("bangwo8 sync is not built yet")
