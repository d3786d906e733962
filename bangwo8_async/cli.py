"""The ``bangwo8`` command line: export everything, one call per endpoint, or run the fake.

Run ``bangwo8 --help`` (or ``python -m bangwo8_async --help``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from typing import Any

import orjson

from . import _export
from .auth import BasicAuth, ClientCredentials
from .call_tasks import (
    create_call_task,
    delete_call_task,
    get_call_task,
    list_call_tasks,
)
from .errors import Bangwo8Error
from .models import DataSource, NewCallTask
from .pagination import iter_all_task_users, iter_call_tasks
from .session import Session
from .testing import FakeBangwo8, Fault

__all__ = ["main"]

FAKE_TASKS = 3000
FAKE_USERS_PER_TASK = 3


class UsageError(Exception):
    """The command line itself is wrong: exit code 2."""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _moment(text: str) -> date | datetime:
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date or datetime (YYYY-MM-DD[ HH:MM:SS]): {text!r}"
        ) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number: {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    """The argument parser for ``bangwo8``."""
    conn = argparse.ArgumentParser(add_help=False)
    group = conn.add_argument_group("connection (defaults from BANGWO8_* environment variables)")
    group.add_argument("--base-url", help="API root (env BANGWO8_BASE_URL)")
    group.add_argument("--account", help="admin account for Basic auth (env BANGWO8_ACCOUNT)")
    group.add_argument("--password", help="its password (env BANGWO8_PASSWORD)")
    group.add_argument("--secret-id", help="OAuth secret id (env BANGWO8_SECRET_ID)")
    group.add_argument("--secret", help="OAuth secret (env BANGWO8_SECRET)")
    group.add_argument("--timeout", type=float, default=30.0, help="seconds per attempt")
    group.add_argument("--max-retries", type=int, default=3)
    group.add_argument("--max-concurrency", type=_positive, default=8,
                       help="requests in flight at most (default 8)")
    group.add_argument("--fake", action="store_true",
                       help=f"use an embedded fake server with {FAKE_TASKS} sample tasks; "
                            "no credentials needed")

    top = argparse.ArgumentParser(
        prog="bangwo8", description="Bangwo8 (帮我吧) outbound call tasks from the command line."
    )
    sub = top.add_subparsers(dest="command", required=True)

    export = sub.add_parser("export", parents=[conn], help="stream every task or customer")
    export.add_argument("what", choices=["tasks", "users"])
    export.add_argument("--format", choices=["jsonl", "csv"],
                        help="default: from the output's extension, else jsonl")
    export.add_argument("--output", "-o", default="-", help="file path, or - for stdout")
    export.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    export.add_argument("--concurrency", type=_positive, help="pages in flight at once")
    export.add_argument("--per-page", type=_positive, default=100, help="1 to 100")
    export.add_argument("--created-start", type=_date, metavar="YYYY-MM-DD")
    export.add_argument("--created-end", type=_date, metavar="YYYY-MM-DD")

    tasks = sub.add_parser("tasks", help="one call to one endpoint; prints JSON")
    actions = tasks.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", parents=[conn], help="one page of tasks")
    listing.add_argument("--page", type=_positive, default=1)
    listing.add_argument("--per-page", type=_positive, default=100)
    listing.add_argument("--created-start", type=_date, metavar="YYYY-MM-DD")
    listing.add_argument("--created-end", type=_date, metavar="YYYY-MM-DD")
    get = actions.add_parser("get", parents=[conn], help="one task in detail")
    get.add_argument("id", type=_positive)
    create = actions.add_parser("create", parents=[conn], help="create a task")
    create.add_argument("--name", required=True)
    create.add_argument("--start", required=True, type=_moment)
    create.add_argument("--end", required=True, type=_moment)
    create.add_argument("--customer", type=_positive, action="append", required=True,
                        help="a customer id; repeat for several")
    create.add_argument("--agent", type=_positive, action="append", required=True,
                        help="an agent id; repeat for several")
    create.add_argument("--data-source", choices=["company", "contact"], required=True)
    create.add_argument("--request-id", help="the Requestid to send (default: a new uuid4)")
    delete = actions.add_parser("delete", parents=[conn], help="delete a task")
    delete.add_argument("id", type=_positive)

    fake = sub.add_parser("fake-server", help="serve a fake Bangwo8 until interrupted")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8080)
    fake.add_argument("--tasks", type=int, default=FAKE_TASKS)
    fake.add_argument("--users-per-task", type=int, default=FAKE_USERS_PER_TASK)
    fake.add_argument("--latency-ms", type=float, default=0.0)
    fake.add_argument("--fault-rate", type=float, default=0.0)
    fake.add_argument("--seed", type=int, default=0)
    return top


@contextlib.asynccontextmanager
async def _session(args: argparse.Namespace) -> AsyncIterator[Session]:
    options: dict[str, Any] = {
        "timeout": args.timeout,
        "max_retries": args.max_retries,
        "max_concurrency": args.max_concurrency,
    }
    if args.fake:
        fake = FakeBangwo8(tasks=FAKE_TASKS, users_per_task=FAKE_USERS_PER_TASK)
        async with fake, Session(fake.basic_auth, base_url=fake.base_url, **options) as session:
            yield session
        return
    if args.base_url:
        options["base_url"] = args.base_url
    account = args.account or os.environ.get("BANGWO8_ACCOUNT")
    password = args.password or os.environ.get("BANGWO8_PASSWORD")
    secret_id = args.secret_id or os.environ.get("BANGWO8_SECRET_ID")
    secret = args.secret or os.environ.get("BANGWO8_SECRET")
    if account and password:
        options["auth"] = BasicAuth(account, password)
    elif secret_id and secret:
        options["auth"] = ClientCredentials(secret_id, secret)
    else:
        raise UsageError(
            "no credentials: pass --account and --password (or --secret-id and --secret), "
            "set BANGWO8_ACCOUNT and BANGWO8_PASSWORD, or try --fake"
        )
    async with Session.from_env(**options) as session:
        yield session


async def _export_command(args: argparse.Namespace) -> int:
    fmt = args.format or ("csv" if args.output.lower().endswith(".csv") else "jsonl")
    interactive = not args.quiet and sys.stderr.isatty()
    progress = _export.ProgressLine(args.what, sys.stderr if interactive else None)
    async with _session(args) as session:
        common: dict[str, Any] = {
            "per_page": args.per_page,
            "concurrency": args.concurrency,
            "created_start": args.created_start,
            "created_end": args.created_end,
            "on_page": progress,
        }
        if args.what == "tasks":
            items: AsyncIterator[Any] = iter_call_tasks(session, **common)
            fields = _export.TASK_FIELDS
        else:
            items = iter_all_task_users(session, **common)
            fields = _export.USER_FIELDS
        with _export.output(args.output) as stream:
            writer = _export.Writer(stream, fmt, fields)
            try:
                async with contextlib.aclosing(items):  # type: ignore[type-var]
                    count = await _export.drain(items, writer)
            finally:
                writer.close()
    progress.finish(count)
    return 0


async def _tasks_command(args: argparse.Namespace) -> int:
    async with _session(args) as session:
        result: Any
        if args.action == "list":
            page = await list_call_tasks(
                session, page=args.page, per_page=args.per_page,
                created_start=args.created_start, created_end=args.created_end,
            )
            result = _export.record(page)
        elif args.action == "get":
            result = _export.record(await get_call_task(session, args.id))
        elif args.action == "create":
            new = NewCallTask(
                task_name=args.name, task_start=args.start, task_end=args.end,
                customer_ids=args.customer, agent_ids=args.agent,
                data_source=DataSource.COMPANY if args.data_source == "company"
                else DataSource.CONTACT,
            )
            created = await create_call_task(session, new, request_id=args.request_id)
            result = _export.record(created)
        else:
            await delete_call_task(session, args.id)
            result = {"deleted": args.id}
    sys.stdout.buffer.write(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.buffer.flush()
    return 0


async def _fake_server_command(args: argparse.Namespace) -> int:
    fake = FakeBangwo8(
        tasks=args.tasks, users_per_task=args.users_per_task, seed=args.seed,
        latency=args.latency_ms / 1000, fault_rate=args.fault_rate, host=args.host,
        port=args.port,
    )
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


async def run(args: argparse.Namespace) -> int:
    """Run a parsed command; return its exit code."""
    if args.command == "export":
        return await _export_command(args)
    if args.command == "tasks":
        return await _tasks_command(args)
    return await _fake_server_command(args)


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: one-line errors and an exit code, never a traceback."""
    args = parser().parse_args(argv)
    try:
        return asyncio.run(run(args))
    except UsageError as exc:
        print(f"bangwo8: error: {exc}", file=sys.stderr)
        return 2
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
