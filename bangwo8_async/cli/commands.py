"""The ``bangwo8`` commands that run in the command line's event loop: ``export``,
``tasks list|get|create|delete`` and ``fake-server``."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from .._http import Session
from ..call_tasks import create_call_task, delete_call_task, get_call_task, list_call_tasks
from ..converter import to_dict
from ..errors import NotFoundError
from ..export.loop import Audit, ExportRequest, retries_of, run_export
from ..export.rows import TASK_FIELDS, USER_FIELDS
from ..export.sinks import FileSink, Sink, StdoutSink
from ..models import DataSource, NewCallTask
from ..paging.identity import TASK_IDENTITY, USER_IDENTITY
from .connection import Connection, Failure, UsageError
from .progress import ProgressLine, log_to_stderr

if TYPE_CHECKING:
    from ..testing import FakeBangwo8

__all__ = ["export_command", "fake_server_command", "tasks_command"]

_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def _format(args: argparse.Namespace) -> str:
    """``--format``, else the output's suffix: ``.csv``, ``.db``/``.sqlite``, else JSON lines."""
    if args.format:
        return str(args.format)
    suffix = Path(args.output).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in _SQLITE_SUFFIXES:
        return "sqlite"
    return "jsonl"


def _sink(args: argparse.Namespace, fmt: str) -> Sink:
    """Where the rows go: stdout, a checkpointed file, or an SQLite database."""
    fields = TASK_FIELDS if args.what == "tasks" else USER_FIELDS
    if args.excel and fmt != "csv":
        raise UsageError("--excel applies to CSV only (use --format csv or a .csv file)")
    if args.output == "-":
        if fmt == "sqlite":
            raise UsageError("--format sqlite needs a file: give --output PATH.db")
        return StdoutSink(fmt, fields, args.excel)
    path = Path(args.output)
    if fmt == "sqlite":
        from ..export.sqlite import SqliteSink

        identity = list(TASK_IDENTITY if args.what == "tasks" else USER_IDENTITY)
        return SqliteSink(path, args.what, fields, identity)
    return FileSink(path, fmt, fields, args.excel)


async def export_command(args: argparse.Namespace) -> int:
    """``bangwo8 export tasks|users``: resumes a partial export of the same output."""
    fmt = _format(args)
    conn = Connection(args)
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
    progress = ProgressLine(
        args.what, sys.stderr if interactive else None, estimated=args.what == "users"
    )
    log_to_stderr(args.verbose, progress)
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
            progress.already = saved["rows"]
            print(
                f"bangwo8: resuming at page {at:,}: {saved['rows']:,} rows already written",
                file=sys.stderr,
                flush=True,
            )
        async with conn.session() as session:
            progress.status = lambda: _status(session)
            # stdout keeps no checkpoint: pass each page on as it comes.
            interval = 0.0 if isinstance(sink, StdoutSink) else args.checkpoint_every
            audit = await run_export(
                session,
                request,
                sink,
                saved,
                shape,
                on_page=progress,
                interval=interval,
                estimate=interactive,
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
    """The progress line's view of the session: retries, throttles, window, and pace if any."""
    retries, throttles = retries_of(session)
    status = f"{retries:,} retries  {throttles:,} throttled  window {session.concurrency}"
    rate = session.stats.rate
    return status if rate is None else f"{status}  paced {rate:.0f}/s"


def _verdict(audit: Audit, verify: bool) -> int:
    """``--verify``: exit 3 when the rows written differ from the server's final count; say
    what was checked either way, so that a pass is not mistaken for a check never made."""
    if not verify:
        return 0
    if audit.rows != audit.count_end:
        print(
            f"bangwo8: verify failed: {audit.rows:,} rows written, but the server's final "
            f"count is {audit.count_end if audit.count_end is not None else 'unknown'}",
            file=sys.stderr,
            flush=True,
        )
        return 3
    print(
        f"bangwo8: verify passed: {audit.rows:,} rows written, as many as the server's final "
        f"count ({audit.count_end:,})",
        file=sys.stderr,
        flush=True,
    )
    return 0


async def tasks_command(args: argparse.Namespace) -> int:
    """``bangwo8 tasks list|get|create|delete``: one call, its answer as JSON on stdout."""
    conn = Connection(args)
    log_to_stderr(args.verbose, None)
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


async def fake_server_command(args: argparse.Namespace) -> int:
    """``bangwo8 fake-server``: serve until interrupted, printing the environment to reach it."""
    from ..testing import Fault

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
    """The fake server ``fake-server``'s own flags describe."""
    from ..testing import FakeBangwo8

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
