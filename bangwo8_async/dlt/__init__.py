"""A dlt source for the warehouse: every call task and every customer, kept fresh.

``pip install 'bangwo8_async[dlt]'``, then::

    import dlt
    from bangwo8_async.dlt import bangwo8_source

    pipeline = dlt.pipeline("bangwo8_sync", destination="duckdb", dataset_name="bangwo8")
    pipeline.run(bangwo8_source())

(The DuckDB file is named after the pipeline: a file and a dataset of one name
confuse DuckDB, so name them apart.)

Two resources: ``call_tasks`` (merged on ``call_task_id``) and ``task_users``
(every customer of every task, keyed by ``row_key``, a digest of the SDK's row
identity; merged task by task on ``call_task_id``, so a task read again
replaces its customers). A rerun of the same pipeline reads every task
but customers only for tasks that are new, were in progress at the last run,
or changed status; ``refresh="full"`` reads everything and replaces the tables.
"""

from __future__ import annotations

from typing import Literal

try:
    from dlt.extract.source import DltSource
except ModuleNotFoundError as exc:  # pragma: no cover - the extra is missing
    raise ModuleNotFoundError(
        "bangwo8_async.dlt needs the dlt extra: pip install 'bangwo8_async[dlt]'", name=exc.name
    ) from exc

from .._http import Session
from ..errors import ValidationError
from ._source import SyncStats, build_source, needs_customers

__all__ = ["SyncStats", "bangwo8_source", "needs_customers"]


def bangwo8_source(
    session: Session | None = None, *, refresh: Literal["incremental", "full"] = "incremental"
) -> DltSource:
    """A dlt source of every call task and every customer; see the module docstring.

    ``session`` gives the credentials, base URL and limits (it is copied: each
    resource runs its own copy in an event loop thread of its own, and the
    session given is neither used nor closed); without one they are read as
    :meth:`Session.from_env` reads them, now, so a missing credential fails here,
    before any request. The dataset is the pipeline's to name.
    """
    if refresh not in ("incremental", "full"):
        raise ValidationError(
            f"refresh must be 'incremental' or 'full', got {refresh!r}", field="refresh"
        )
    if session is None:
        session = Session.from_env()
    elif not isinstance(session, Session):
        raise ValidationError(
            f"session must be a bangwo8_async.Session, got {type(session).__name__}",
            field="session",
        )
    return build_source(session, refresh)
