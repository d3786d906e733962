"""The ``bangwo8`` command line: resumable exports, one call per endpoint, or run the fake.

Run ``bangwo8 --help`` (or ``python -m bangwo8_async --help``). Exit codes:
0 done, 1 an API or transport error, 2 a usage or input error, 3 ``--verify``
found a difference, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from . import _export
from . import auth as _auth
from ._checkpoint import CheckpointError
from ._cli_export import COMMIT_INTERVAL, Audit, ExportRequest, retries_of, run_export
from ._sinks import FileSink, LocationError, Sink, StreamSink
from ._version import __version__
from .auth import BasicAuth, ClientCredentials
from .call_tasks import create_call_task, delete_call_task, get_call_task, list_call_tasks
from .converter import to_dict
from .errors import (
    AuthenticationError,
    Bangwo8Error,
    NotFoundError,
    TransportError,
    ValidationError,
)
from .models import DataSource, NewCallTask
from .session import DEFAULT_BASE_URL, Session

if TYPE_CHECKING:
    from .testing import FakeBangwo8

__all__ = ["main"]

FAKE_TASKS = 3000
FAKE_USERS_PER_TASK = 3
#: The base URL recorded for ``--fake`` exports: its port changes every run, its data does not.
FAKE_BASE = "fake"
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


class UsageError(Exception):
    """The command line itself is wrong: exit code 2."""


class Failure(Exception):
    """A failure already worded for the user, with its exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


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
_rate = _number(float, 1e-3, None, "a positive number of requests per second")


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
        "--fake",
        action="store_true",
        help=f"use an embedded fake server with {FAKE_TASKS} sample tasks; no credentials needed",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log retries (-v) and every request (-vv) to stderr",
    )
    return conn


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
    fake.add_argument("--port", type=_non_negative, default=8080, help="port; 0 picks a free one")
    fake.add_argument("--tasks", type=_non_negative, default=FAKE_TASKS, help="sample tasks")
    fake.add_argument(
        "--users-per-task",
        type=_non_negative,
        default=FAKE_USERS_PER_TASK,
        help="customers per task",
    )
    fake.add_argument("--latency-ms", type=float, default=0.0, help="delay per request")
    fake.add_argument(
        "--fault-rate",
        type=_fraction,
        default=0.0,
        help="fraction of requests that fail (500, 503, 429, resets, truncation)",
    )
    fake.add_argument("--seed", type=int, default=0, help="seed of the sample data and faults")
    fake.add_argument("--account", help="fixed admin account (default: admin@example.com)")
    fake.add_argument("--password", help="fixed password (default: a new random one)")
    fake.add_argument(
        "--rate-limit", type=_rate, help="requests per second allowed per account; beyond it, 429"
    )
    fake.add_argument(
        "--max-in-flight",
        type=_positive,
        help="concurrent requests allowed per account; beyond it, 429",
    )
    return top


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    top = parser()
    args = top.parse_args(argv)
    start, end = getattr(args, "created_start", None), getattr(args, "created_end", None)
    if start and end and start > end:
        top.error(f"--created-start ({start}) is after --created-end ({end})")
    return args


# -- credentials and the session --------------------------------------------------------------


def _credentials(args: argparse.Namespace) -> tuple[BasicAuth | ClientCredentials, str]:
    """The credentials to use and where they came from, as ``"--account/--password"`` or
    ``"BANGWO8_ACCOUNT/BANGWO8_PASSWORD"``: the helper ``Session.from_env`` uses."""
    resolve = getattr(_auth, "resolve_credentials", None)
    if resolve is not None:
        try:
            found = resolve(
                os.environ,
                account=args.account,
                password=args.password,
                secret_id=args.secret_id,
                secret=args.secret,
            )
        except ValidationError as exc:
            raise UsageError(f"{exc.message}; or try --fake") from None
        return found.auth, str(found.source)
    return _own_credentials(args)  # until the shared helper is on main


def _own_credentials(args: argparse.Namespace) -> tuple[BasicAuth | ClientCredentials, str]:
    env = os.environ
    if args.account or args.password:
        if not (args.account and args.password):
            raise UsageError("--account and --password go together: give both")
        return BasicAuth(args.account, args.password), "--account/--password"
    if args.secret_id or args.secret:
        if not (args.secret_id and args.secret):
            raise UsageError("--secret-id and --secret go together: give both")
        token_url = env.get("BANGWO8_TOKEN_URL") or None
        return (ClientCredentials(args.secret_id, args.secret, token_url), "--secret-id/--secret")
    if env.get("BANGWO8_ACCOUNT") and env.get("BANGWO8_PASSWORD"):
        return (
            BasicAuth(env["BANGWO8_ACCOUNT"], env["BANGWO8_PASSWORD"]),
            "BANGWO8_ACCOUNT/BANGWO8_PASSWORD",
        )
    if env.get("BANGWO8_SECRET_ID") and env.get("BANGWO8_SECRET"):
        return (
            ClientCredentials(
                env["BANGWO8_SECRET_ID"],
                env["BANGWO8_SECRET"],
                env.get("BANGWO8_TOKEN_URL") or None,
            ),
            "BANGWO8_SECRET_ID/BANGWO8_SECRET",
        )
    raise UsageError(
        "no credentials: pass --account and --password (or --secret-id and --secret), "
        "set BANGWO8_ACCOUNT and BANGWO8_PASSWORD, or try --fake"
    )


def _described(source: str) -> str:
    """``--account/--password`` -> "the flags --account/--password", and so on."""
    halves = source.split("/")
    if all(h.startswith("--") for h in halves):
        return f"the flags {source}"
    if all(h.startswith("BANGWO8_") for h in halves):
        return f"the environment ({source})"
    return f"flags and environment ({source})"


class _Connection:
    """Where and as whom the CLI connects; resolved before anything is sent."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.fake = bool(args.fake)
        if self.fake:
            self.auth: BasicAuth | ClientCredentials | None = None
            self.source = "the embedded fake server (--fake)"
            self.base_url = FAKE_BASE
            self.account = "fake"
            return
        self.auth, source = _credentials(args)
        self.source = _described(source)
        self.base_url = args.base_url or os.environ.get("BANGWO8_BASE_URL") or DEFAULT_BASE_URL
        self.account = (
            self.auth.account
            if isinstance(self.auth, BasicAuth)
            else f"oauth:{self.auth.secret_id}"
        )

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        args = self.args
        options: dict[str, Any] = {
            "timeout": args.timeout,
            "max_retries": args.max_retries,
            "max_concurrency": args.max_concurrency,
        }
        if self.fake:
            from .testing import FakeBangwo8  # only when asked: the fake pulls in aiohttp.web

            fake = FakeBangwo8(tasks=FAKE_TASKS, users_per_task=FAKE_USERS_PER_TASK)
            async with fake, Session(fake.basic_auth, base_url=fake.base_url, **options) as s:
                yield s
            return
        assert self.auth is not None
        async with Session(self.auth, base_url=self.base_url, **options) as s:
            try:
                yield s
            except AuthenticationError as exc:
                raise Failure(
                    f"the server refused the credentials from {self.source} (account "
                    f"{self.account!r}, {exc}); check the account or secret id, its password or "
                    "secret, and that it is an admin account of this Bangwo8 site"
                ) from None
            except TransportError as exc:
                raise Failure(_transport_line(exc, s.base_url)) from None


def _transport_line(exc: TransportError, base_url: str) -> str:
    """``cannot reach host:port: connection refused``: where, and why, in plain words."""
    from yarl import URL

    url = URL(base_url)
    reason = exc.message
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno:
            reason = os.strerror(cause.errno).lower()  # "connection refused", by errno
            break
        cause = cause.__cause__ or getattr(cause, "os_error", None)
    where = f" ({exc.method} {exc.path})" if exc.method and exc.path else ""
    return f"cannot reach {url.host}:{url.port}: {reason}{where}"


# -- logging and progress ---------------------------------------------------------------------


class _LogHandler(logging.Handler):
    """Log records on their own lines: the progress line is cleared before each."""

    def __init__(self, progress: _export.ProgressLine | None) -> None:
        super().__init__()
        self.progress = progress
        self.setFormatter(logging.Formatter("bangwo8: %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self.progress is not None:
                self.progress.clear()
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # pragma: no cover - logging must never break the export
            self.handleError(record)


def _logging(verbose: int, progress: _export.ProgressLine | None) -> None:
    logger = logging.getLogger("bangwo8_async")
    logger.handlers[:] = [h for h in logger.handlers if not isinstance(h, _LogHandler)]
    logger.addHandler(_LogHandler(progress))
    logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    logger.propagate = False


# -- commands ----------------------------------------------------------------------------------


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    suffix = Path(args.output).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in _SQLITE_SUFFIXES:
        return "sqlite"
    return "jsonl"


def _sink(args: argparse.Namespace, fmt: str) -> Sink:
    fields = _export.TASK_FIELDS if args.what == "tasks" else _export.USER_FIELDS
    if args.excel and fmt != "csv":
        raise UsageError("--excel applies to CSV only (use --format csv or a .csv file)")
    if args.output == "-":
        if fmt == "sqlite":
            raise UsageError("--format sqlite needs a file: give --output PATH.db")
        return StreamSink(fmt, fields, args.excel)
    path = Path(args.output)
    if fmt == "sqlite":
        from ._sqlite import SqliteSink

        identity = ["call_task_id"] if args.what == "tasks" else fields[:-1]
        return SqliteSink(path, args.what, fields, identity)
    return FileSink(path, fmt, fields, args.excel)


async def _export_command(args: argparse.Namespace) -> int:
    fmt = _format(args)
    conn = _Connection(args)
    request = ExportRequest(
        args.what, args.per_page, args.concurrency, args.created_start, args.created_end
    )
    shape = {
        "what": args.what,
        "format": fmt,
        "excel": bool(args.excel),
        "per_page": args.per_page,
        "created_start": args.created_start and args.created_start.isoformat(),
        "created_end": args.created_end and args.created_end.isoformat(),
        "base_url": conn.base_url,
        "account": conn.account,
    }
    interactive = not args.quiet and sys.stderr.isatty()
    progress = _export.ProgressLine(args.what, sys.stderr if interactive else None)
    _logging(args.verbose, progress)
    sink = _sink(args, fmt)
    started = time.monotonic()
    try:
        saved = sink.open(shape, args.restart)  # the location is checked before any request
        if saved is not None:
            where = saved.get("cursor") or {}
            at = (
                where["page"] + 1
                if args.what == "tasks" and "page" in where
                else (saved.get("pages", 0) + 1)
            )
            print(
                f"bangwo8: resuming at page {at:,}: {saved['rows']:,} rows already written",
                file=sys.stderr,
                flush=True,
            )
        async with conn.session() as session:
            progress.status = lambda: _status(session)
            # stdout keeps no checkpoint: pass each page on as it comes.
            interval = 0.0 if isinstance(sink, StreamSink) else args.checkpoint_every
            audit = await run_export(
                session, request, sink, saved, shape, on_page=progress, interval=interval
            )
        sink.finish(audit.as_state())
    finally:
        sink.close()
    progress.finish(audit.rows)
    print(
        audit.line(args.what, sink.where, time.monotonic() - started), file=sys.stderr, flush=True
    )
    return _verdict(audit, args.verify)


def _status(session: Session) -> str:
    retries, throttles = retries_of(session)
    window = getattr(session, "concurrency", None)
    text = f"{retries:,} retries  {throttles:,} throttled"
    return text + (f"  window {window}" if window is not None else "")


def _verdict(audit: Audit, verify: bool) -> int:
    if verify and audit.rows != audit.count_end:
        print(
            f"bangwo8: verify failed: {audit.rows:,} rows written, but the server's final "
            f"count is {audit.count_end if audit.count_end is not None else 'unknown'}",
            file=sys.stderr,
            flush=True,
        )
        return 3
    return 0


async def _tasks_command(args: argparse.Namespace) -> int:
    conn = _Connection(args)
    _logging(args.verbose, None)
    async with conn.session() as session:
        result: Any
        try:
            if args.action == "list":
                page = await list_call_tasks(
                    session,
                    page=args.page,
                    per_page=args.per_page,
                    created_start=args.created_start,
                    created_end=args.created_end,
                )
                result = to_dict(page)
            elif args.action == "get":
                result = to_dict(await get_call_task(session, args.id))
            elif args.action == "create":
                new = NewCallTask(
                    task_name=args.name,
                    task_start=args.start,
                    task_end=args.end,
                    customer_ids=args.customer,
                    agent_ids=args.agent,
                    data_source=DataSource.COMPANY
                    if args.data_source == "company"
                    else DataSource.CONTACT,
                )
                created = await create_call_task(session, new, request_id=args.request_id)
                result = to_dict(created)
            else:
                await delete_call_task(session, args.id)
                result = {"deleted": args.id}
        except NotFoundError:
            if args.action in ("get", "delete"):
                raise Failure(f"task {args.id} does not exist") from None
            raise
    sys.stdout.buffer.write(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.buffer.flush()
    return 0


async def _fake_server_command(args: argparse.Namespace) -> int:
    from .testing import Fault

    fake = _make_fake(args)
    async with fake:
        # These are the fake's own throwaway credentials, printed on purpose.
        print(f"Fake Bangwo8 serving {len(fake.state)} tasks at {fake.base_url}")
        print(f"export BANGWO8_BASE_URL={fake.base_url}")
        print(f"export BANGWO8_ACCOUNT={fake.account}")
        print(f"export BANGWO8_PASSWORD={fake.password}")
        print(f"# or OAuth: BANGWO8_SECRET_ID={fake.secret_id} BANGWO8_SECRET={fake.secret}")
        if args.fault_rate:
            kinds = ", ".join(f.value for f in fake.fault_kinds if isinstance(f, Fault))
            print(f"# faults: {args.fault_rate:.0%} of requests ({kinds})")
        print("Press Ctrl+C to stop.", flush=True)
        await asyncio.Event().wait()
    return 0


def _make_fake(args: argparse.Namespace) -> FakeBangwo8:
    from .testing import FakeBangwo8

    fake = FakeBangwo8(
        tasks=args.tasks,
        users_per_task=args.users_per_task,
        seed=args.seed,
        latency=args.latency_ms / 1000,
        fault_rate=args.fault_rate,
        host=args.host,
        port=args.port,
        rate_limit=args.rate_limit,
        max_in_flight=args.max_in_flight,
    )
    if args.account:
        fake.account = args.account
    if args.password:
        fake.password = args.password
    return fake


async def run(args: argparse.Namespace) -> int:
    """Run a parsed command; return its exit code."""
    if args.command == "export":
        return await _export_command(args)
    if args.command == "tasks":
        return await _tasks_command(args)
    return await _fake_server_command(args)


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: one-line errors and an exit code, never a traceback."""
    args = _parse(argv)
    try:
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
        print("bangwo8: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
