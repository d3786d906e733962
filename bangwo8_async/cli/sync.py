"""``bangwo8 sync``: load every task and every customer into a warehouse through dlt.

It runs a dlt pipeline over :func:`bangwo8_async.dlt.bangwo8_source`, one per
source and warehouse (``bangwo8_sync`` into DuckDB, ``bangwo8_sync_fake`` with
``--fake`` so sample data never mixes with an account's, ``bangwo8_sync_postgres``...).
The destination is checked (known to dlt, its credentials found the way dlt
finds them, a connection opened) before any request to Bangwo8. dlt's
telemetry is switched off: nothing leaves the machine but the loads.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from .._http import Session
from ..errors import AuthenticationError, Bangwo8Error, TransportError
from .connection import Connection, Failure, UsageError, fake_options, transport_line
from .progress import SyncProgressLine, log_to_stderr

if TYPE_CHECKING:
    from dlt import Pipeline

    from ..dlt import SyncStats

__all__ = ["add_parser", "run"]

_DEFAULT_DATASET = "bangwo8"


def add_parser(sub: Any, conn: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``sync`` to the subcommands ``sub``; ``conn`` gives the connection options."""
    sync: argparse.ArgumentParser = sub.add_parser(
        "sync",
        parents=[conn],
        help="load every task and customer into a warehouse (the dlt extra)",
        description="Load every task and every customer of every task into a warehouse "
        "through dlt: DuckDB (a file in the current directory) by default, or any dlt "
        "destination, with its credentials where dlt reads them (environment variables "
        "such as DESTINATION__POSTGRES__CREDENTIALS, or .dlt/secrets.toml). A rerun "
        "reads every task but customers only of tasks that are new, were in progress "
        "at the last run, or changed status.",
    )
    group = sync.add_argument_group("sync")
    group.add_argument(
        "--destination",
        default="duckdb",
        help="a dlt destination name: duckdb, postgres, bigquery, snowflake, filesystem... "
        "(default: duckdb)",
    )
    group.add_argument(
        "--dataset",
        default=_DEFAULT_DATASET,
        help=f"the dataset (schema) to load into (default: {_DEFAULT_DATASET})",
    )
    group.add_argument(
        "--full-refresh",
        action="store_true",
        help="read every customer of every task and replace the tables",
    )
    group.add_argument("--quiet", "-q", action="store_true", help="no progress line")
    return sync


def run(args: argparse.Namespace) -> int:
    """Run ``bangwo8 sync``; return its exit code."""
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"  # before dlt reads its configuration
    try:
        import dlt
    except ImportError:
        raise UsageError(
            "bangwo8 sync needs the dlt extra: pip install 'bangwo8_async[dlt]'"
        ) from None
    conn = Connection(args)  # credentials are checked before anything is sent
    log_to_stderr(args.verbose, None)  # -v: the SDK's retries, -vv: every request
    name = _pipeline_name(conn.fake, args.destination, args.dataset)
    destination = _destination(args.destination)
    pipeline = dlt.pipeline(name, destination=destination, dataset_name=args.dataset)
    where = _check_reachable(pipeline, args.destination)
    from ..dlt._source import merges

    if not args.full_refresh and not merges(pipeline):
        print(
            f"bangwo8: {args.destination} cannot merge (dlt's delete-insert): this sync reads "
            "everything and replaces the tables",
            file=sys.stderr,
            flush=True,
        )
        args.full_refresh = True
    if conn.fake:
        from ..dlt._loop import LoopThread

        loop = LoopThread()
        try:
            fake = _start_fake(args, loop)
            try:
                return _sync(args, pipeline, _session(args, fake.basic_auth, fake.base_url), where)
            finally:
                loop.run(fake.close())
        finally:
            loop.close()
    assert conn.auth is not None
    return _sync(args, pipeline, _session(args, conn.auth, conn.base_url), where)


def _pipeline_name(fake: bool, destination: str, dataset: str) -> str:
    """One pipeline, with its own state, per source and warehouse: ``bangwo8_sync`` into
    DuckDB's default dataset, else ``bangwo8_sync[_fake][_<destination>][_<dataset>]``.

    The DuckDB file is named after the pipeline; it must not be named as the dataset
    (DuckDB then cannot tell the catalog from the schema), and this name never is.
    """
    parts = ["bangwo8_sync"]
    if fake:
        parts.append("fake")
    if destination != "duckdb":
        parts.append(destination)
    if dataset != _DEFAULT_DATASET:
        parts.append(dataset)
    return "_".join("".join(c if c.isalnum() else "_" for c in p) for p in parts)


def _destination(name: str) -> Any:
    """dlt's destination of this name, or a one-line usage error."""
    from dlt.common.destination import Destination
    from dlt.common.destination.exceptions import UnknownDestinationModule

    try:
        return Destination.from_reference(name)
    except UnknownDestinationModule:
        raise UsageError(
            f"unknown destination {name!r}: give one of dlt's destination names "
            "(duckdb, postgres, bigquery, snowflake, filesystem, ...)"
        ) from None


def _check_reachable(pipeline: Pipeline, name: str) -> str:
    """Resolve the destination's configuration and open (and close) its client, which for a
    database is a connection; return where the data goes, for the summary.

    Missing credentials, a server that does not answer, a refused login: a usage error,
    in one line, before any request to Bangwo8.
    """
    from dlt.common.configuration.exceptions import ConfigFieldMissingException

    try:
        with pipeline.destination_client() as client:
            config = client.config
    except ConfigFieldMissingException as exc:
        fields = ", ".join(sorted(exc.fields)) or "credentials"
        raise UsageError(
            f"destination {name}: missing {fields}; set them the dlt way, e.g. "
            f"DESTINATION__{name.upper()}__CREDENTIALS or .dlt/secrets.toml"
        ) from None
    except Exception as exc:
        raise UsageError(f"cannot reach destination {name}: {_first_line(exc)}") from None
    return _location(name, config)


def _first_line(exc: BaseException) -> str:
    """The root cause's first line: a driver's message, without dlt's wrapping."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _location(name: str, config: Any) -> str:
    """Where the data goes: a bucket's URL, the DuckDB file, else dlt's printable
    credentials (no password)."""
    bucket = getattr(config, "bucket_url", None)
    if isinstance(bucket, str) and bucket:
        return bucket
    credentials = getattr(config, "credentials", None)
    database = getattr(credentials, "database", None)
    if name == "duckdb" and isinstance(database, str):
        return os.path.relpath(database) if os.path.isabs(database) else database
    text = str(credentials) if credentials is not None else ""
    return text or name


def _start_fake(args: argparse.Namespace, loop: Any) -> Any:
    from ..testing import FakeBangwo8

    fake = FakeBangwo8(**fake_options(args))
    loop.run(fake.start())
    return fake


def _session(args: argparse.Namespace, auth: Any, base_url: str) -> Session:
    return Session(
        auth,
        base_url=base_url,
        timeout=args.timeout,
        max_retries=args.max_retries,
        max_concurrency=args.max_concurrency,
    )


def _sync(args: argparse.Namespace, pipeline: Any, session: Session, where: str) -> int:
    from ..dlt import SyncStats
    from ..dlt._source import build_source

    progress = SyncProgressLine(None if args.quiet or not sys.stderr.isatty() else sys.stderr)
    stats = SyncStats(on_page=progress)
    started = time.monotonic()
    source = build_source(session, "full" if args.full_refresh else "incremental", stats=stats)
    try:
        _finish_pending(pipeline)
        pipeline.run(source)
    except Exception as exc:
        _raise_worded(exc, session, args.destination)
    finally:
        progress.clear()
    rows = _rows_loaded(pipeline)
    line = _summary(stats, rows, args.destination, where, pipeline.dataset_name, started)
    print(line, file=sys.stderr, flush=True)  # on stderr, as export's
    return 0


def _finish_pending(pipeline: Any) -> None:
    """Load what an interrupted sync left behind, so that this run extracts anew.

    (dlt's ``run`` would load only those packages and skip the new data.) A package
    that cannot be finished (a kill -9 while dlt was moving it leaves it half
    written) is aborted: dlt then restores the pipeline's state to where that
    package started, so the customers it held are read again, none lost.
    """
    if not pipeline.has_pending_data:
        return
    print("bangwo8: finishing the load an interrupted sync left", file=sys.stderr, flush=True)
    try:
        pipeline.normalize()
        pipeline.load()
    except Exception as exc:
        print(
            f"bangwo8: it cannot be finished ({_first_line(exc)}); dropping it: what it "
            "held is read again",
            file=sys.stderr,
            flush=True,
        )
        pipeline.abort_packages()


def _summary(
    stats: SyncStats, rows: int, name: str, where: str, dataset: str, started: float
) -> str:
    place = f"{name} {where}" if where != name else name
    return (
        f"bangwo8: synced {stats.tasks:,} tasks into {place}, dataset {dataset}: customers of "
        f"{stats.tasks_read:,} tasks read ({stats.customers:,} customers), of "
        f"{stats.tasks_skipped:,} skipped ({stats.customers_skipped:,} customers); "
        f"{rows:,} rows loaded in {time.monotonic() - started:.1f}s"
    )


def _rows_loaded(pipeline: Any) -> int:
    """Rows of our tables in this run's packages (dlt's own tables left out)."""
    trace = pipeline.last_trace
    info = trace.last_normalize_info if trace is not None else None
    counts: dict[str, int] = info.row_counts if info is not None else {}
    return sum(n for table, n in counts.items() if not table.startswith("_dlt"))


def _raise_worded(exc: Exception, session: Session, name: str) -> None:
    """A failed run as the CLI words it: the SDK's own error (exit 1, as ``export``), a
    refused login or an unreachable server in words, or the step of dlt that failed."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, Bangwo8Error):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, AuthenticationError):
        raise Failure(f"the server refused the credentials ({cause})") from None
    if isinstance(cause, TransportError):
        raise Failure(transport_line(cause, session.base_url)) from None
    if isinstance(cause, Bangwo8Error):
        raise cause from None
    step = getattr(exc, "step", None)
    at = f" at dlt's {step} step" if step else ""
    raise Failure(f"the sync into {name} failed{at}: {_first_line(exc)}") from None
