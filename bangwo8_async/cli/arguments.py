"""The ``bangwo8`` command line's arguments: their types, the parser and its help."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from .._http import DEFAULT_BASE_URL
from .._version import __version__
from ..export.loop import COMMIT_INTERVAL
from .connection import FAKE_TASKS, FAKE_USERS_PER_TASK
from .sync import add_parser as add_sync_parser

__all__ = ["parse", "parser"]


# -- argument types ----------------------------------------------------------------------------


def _filter_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _date_or_datetime(text: str) -> date | datetime:
    """A task's start or end: ``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM:SS``, nothing looser."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        if len(text) == 19 and text[10] in " T":
            return datetime.fromisoformat(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(
        f"not a date or date-time (YYYY-MM-DD or 'YYYY-MM-DD HH:MM:SS'): {text!r}"
    )


def _number(
    kind: type[int] | type[float], low: float, high: float | None, words: str
) -> Callable[[str], Any]:
    """An argparse type: a number of ``kind`` from ``low`` to ``high``, else ``words``."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= (high if high is not None else value):
            raise argparse.ArgumentTypeError(f"must be {words}: {text!r}")
        return value

    return parse


_positive = _number(int, 1, None, "a positive whole number")
_non_negative = _number(int, 0, None, "0 or a positive whole number")
_per_page = _number(int, 1, 100, "1 to 100 (the server's ceiling)")
_seconds = _number(float, 1e-3, None, "a positive number of seconds")
_non_negative_seconds = _number(float, 0, None, "0 or a positive number of seconds")
_fraction = _number(float, 0, 1, "a fraction from 0 to 1")
_non_negative_ms = _number(float, 0, None, "0 or a positive number of milliseconds")
_rate = _number(float, 1e-3, None, "a positive number of requests per second")
_port = _number(int, 0, 65535, "a port from 0 to 65535")


# -- the parser --------------------------------------------------------------------------------


class _Help(argparse.RawDescriptionHelpFormatter):
    """Help that shows each flag's default, except where there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            "%(default)" not in text
            and action.default not in (None, False, argparse.SUPPRESS)
            and action.option_strings
        ):
            text += " (default: %(default)s)"
        return text


def _connection() -> argparse.ArgumentParser:
    conn = argparse.ArgumentParser(add_help=False)
    group = conn.add_argument_group("connection (each flag wins over its environment variable)")
    group.add_argument(
        "--base-url", help=f"API root (env BANGWO8_BASE_URL; default {DEFAULT_BASE_URL})"
    )
    group.add_argument("--account", help="admin account for HTTP Basic (env BANGWO8_ACCOUNT)")
    group.add_argument("--password", help="its password (env BANGWO8_PASSWORD)")
    group.add_argument("--secret-id", help="OAuth client id (env BANGWO8_SECRET_ID)")
    group.add_argument("--secret", help="OAuth client secret (env BANGWO8_SECRET)")
    group.add_argument("--timeout", type=_seconds, default=30.0, help="seconds per attempt")
    group.add_argument(
        "--max-retries", type=_non_negative, default=3, help="retries after a failed attempt"
    )
    group.add_argument(
        "--max-concurrency", type=_positive, default=8, help="requests in flight at most"
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log retries (-v) and every request (-vv) to stderr",
    )
    _fake_options(conn)
    return conn


def _fake_options(parent: argparse.ArgumentParser) -> None:
    """``--fake`` and the size and behaviour of that fake: in the connection parent, so that
    every command that connects (export, tasks, sync) takes them. Defaults are ``None``, so
    that one given without ``--fake`` can be refused rather than ignored."""
    group = parent.add_argument_group("the embedded fake server (--fake)")
    group.add_argument(
        "--fake",
        action="store_true",
        help="use an embedded fake server with sample data instead of Bangwo8; "
        "no credentials needed",
    )
    group.add_argument(
        "--fake-tasks",
        type=_non_negative,
        metavar="N",
        help=f"sample tasks (default: {FAKE_TASKS:,})",
    )
    group.add_argument(
        "--fake-users-per-task",
        type=_non_negative,
        metavar="N",
        help=f"customers per task (default: {FAKE_USERS_PER_TASK})",
    )
    group.add_argument(
        "--fake-latency-ms",
        type=_non_negative_ms,
        metavar="MS",
        help="delay per request (default: 0)",
    )
    group.add_argument(
        "--fake-fault-rate",
        type=_fraction,
        metavar="F",
        help="fraction of requests that fail: 500, 503, 429, resets, truncation (default: 0); "
        "raise --max-retries for a high one",
    )


def _export_options() -> argparse.ArgumentParser:
    opts = argparse.ArgumentParser(add_help=False)
    group = opts.add_argument_group("export")
    group.add_argument(
        "--output", "-o", default="-", help="file path, or - for stdout (stdout never resumes)"
    )
    group.add_argument(
        "--format",
        choices=["jsonl", "csv", "sqlite"],
        help="default: from the output's suffix (.csv, .db/.sqlite), else jsonl",
    )
    group.add_argument(
        "--excel",
        action="store_true",
        help="CSV with a UTF-8 byte order mark, so Excel reads Chinese right",
    )
    group.add_argument(
        "--restart",
        action="store_true",
        help="discard a partial export of this output and start over",
    )
    group.add_argument(
        "--verify",
        action="store_true",
        help="exit 3 when the rows written differ from the server's final count",
    )
    group.add_argument(
        "--checkpoint-every",
        type=_non_negative_seconds,
        default=COMMIT_INTERVAL,
        metavar="SECONDS",
        help="seconds of pages per durable checkpoint; 0 checkpoints every page",
    )
    group.add_argument("--quiet", "-q", action="store_true", help="no progress line")
    group.add_argument(
        "--concurrency", type=_positive, help="pages in flight at once (default: --max-concurrency)"
    )
    group.add_argument("--per-page", type=_per_page, default=100, help="rows per page, 1 to 100")
    group.add_argument(
        "--created-start",
        type=_filter_date,
        metavar="YYYY-MM-DD",
        help="only tasks created on or after this day",
    )
    group.add_argument(
        "--created-end",
        type=_filter_date,
        metavar="YYYY-MM-DD",
        help="only tasks created on or before this day",
    )
    return opts


def parser() -> argparse.ArgumentParser:
    """The argument parser for ``bangwo8``."""
    conn = _connection()
    top = argparse.ArgumentParser(
        prog="bangwo8",
        formatter_class=_Help,
        description="Bangwo8 (帮我吧) outbound call tasks from the command line.",
        epilog="Exit codes: 0 done, 1 API or transport error, 2 usage or input error, "
        "3 --verify found a difference, 130 interrupted.",
    )
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_export(sub, conn)
    _add_tasks(sub, conn)
    add_sync_parser(sub, conn)
    _add_fake_server(sub)
    return top


def _add_export(sub: Any, conn: argparse.ArgumentParser) -> None:
    """``export tasks|users``."""
    export = sub.add_parser(
        "export",
        formatter_class=_Help,
        help="every task or every customer, resumable",
        description="Export every task, or every customer of every task, to JSON lines, CSV "
        "or SQLite. A file export checkpoints as it goes: run the same "
        "command again after an interruption and it resumes.",
    )
    kinds = export.add_subparsers(dest="what", required=True, metavar="tasks|users")
    for what, text in (
        ("tasks", "every call task"),
        ("users", "every customer of every call task"),
    ):
        kinds.add_parser(
            what,
            parents=[_export_options(), conn],
            formatter_class=_Help,
            help=text,
            description=f"Export {text}.",
        )


def _add_tasks(sub: Any, conn: argparse.ArgumentParser) -> None:
    """``tasks list|get|create|delete``."""
    tasks = sub.add_parser(
        "tasks", formatter_class=_Help, help="one call to one endpoint; prints JSON"
    )
    actions = tasks.add_subparsers(dest="action", required=True)
    listing = actions.add_parser(
        "list", parents=[conn], formatter_class=_Help, help="one page of tasks"
    )
    listing.add_argument("--page", type=_positive, default=1, help="page number")
    listing.add_argument("--per-page", type=_per_page, default=100, help="1 to 100")
    listing.add_argument("--created-start", type=_filter_date, metavar="YYYY-MM-DD")
    listing.add_argument("--created-end", type=_filter_date, metavar="YYYY-MM-DD")
    get = actions.add_parser(
        "get", parents=[conn], formatter_class=_Help, help="one task in detail"
    )
    get.add_argument("id", type=_positive, help="call_task_id")
    create = actions.add_parser(
        "create", parents=[conn], formatter_class=_Help, help="create a task"
    )
    create.add_argument("--name", required=True, help="task name")
    when = "YYYY-MM-DD or 'YYYY-MM-DD HH:MM:SS'"
    create.add_argument(
        "--start", required=True, type=_date_or_datetime, metavar="WHEN", help=f"start, {when}"
    )
    create.add_argument(
        "--end", required=True, type=_date_or_datetime, metavar="WHEN", help=f"end, {when}"
    )
    create.add_argument(
        "--customer",
        type=_positive,
        action="append",
        required=True,
        help="a customer id; repeat for several",
    )
    create.add_argument(
        "--agent",
        type=_positive,
        action="append",
        required=True,
        help="an agent id; repeat for several",
    )
    create.add_argument(
        "--data-source",
        choices=["company", "contact"],
        required=True,
        help="whether the customer ids are company or contact ids",
    )
    create.add_argument("--request-id", help="the Requestid to send (default: a new uuid4)")
    delete = actions.add_parser(
        "delete", parents=[conn], formatter_class=_Help, help="delete a task"
    )
    delete.add_argument("id", type=_positive, help="call_task_id")


def _add_fake_server(sub: Any) -> None:
    """``fake-server``."""
    fake = sub.add_parser(
        "fake-server",
        formatter_class=_Help,
        help="serve a fake Bangwo8 until interrupted",
        description="Serve a fake Bangwo8 with seeded sample data until Ctrl+C. It prints "
        "the environment to use it: BANGWO8_BASE_URL, and an admin account and "
        "password (plus an OAuth secret id and secret). They are throwaway "
        "credentials of this fake only, new on every start unless --account and "
        "--password fix them; paste the export lines into another shell and run "
        "any bangwo8 command, or Session.from_env(), against it.",
    )
    fake.add_argument("--host", default="127.0.0.1", help="address to bind")
    fake.add_argument("--port", type=_port, default=8080, help="port; 0 picks a free one")
    fake.add_argument("--tasks", type=_non_negative, default=FAKE_TASKS, help="sample tasks")
    fake.add_argument(
        "--users-per-task",
        type=_non_negative,
        default=FAKE_USERS_PER_TASK,
        help="customers per task",
    )
    fake.add_argument(
        "--latency-ms", type=_non_negative_ms, default=0.0, help="delay per request (default: 0)"
    )
    fake.add_argument(
        "--fault-rate",
        type=_fraction,
        default=0.0,
        help="fraction of requests that fail: 500, 503, 429, resets, truncation (default: 0)",
    )
    fake.add_argument(
        "--seed", type=int, default=0, help="seed of the sample data and faults (default: 0)"
    )
    fake.add_argument("--account", help="fixed admin account (default: admin@example.com)")
    fake.add_argument("--password", help="fixed password (default: a new random one)")
    fake.add_argument(
        "--rate-limit",
        type=_rate,
        help="requests per second allowed per account; beyond it, 429 (default: no limit)",
    )
    fake.add_argument(
        "--max-in-flight",
        type=_positive,
        help="concurrent requests allowed per account; beyond it, 429 (default: no limit)",
    )


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse a command line; exit 2 with the usage on any error, as argparse does."""
    top = parser()
    args = top.parse_args(argv)
    start, end = getattr(args, "created_start", None), getattr(args, "created_end", None)
    if start and end and start > end:
        top.error(f"--created-start ({start}) is after --created-end ({end})")
    return args
