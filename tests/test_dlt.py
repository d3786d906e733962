"""The dlt source into a real DuckDB and a real PostgreSQL: every row, every type, each once.

The expected rows come from the fake's ``FakeState`` (the strings it sends),
not from the SDK's models or the source's conversion, so a test compares the
warehouse with the server, not the code with itself. PostgreSQL is a server
started from the machine's binaries (:mod:`tests._postgres`), never a mock.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import dlt
import orjson
import pytest

import bangwo8_async as bw
from bangwo8_async.dlt import SyncStats, bangwo8_source, needs_customers
from bangwo8_async.dlt._source import build_source
from bangwo8_async.testing import FakeBangwo8
from tests._postgres import PostgresServer, find_binaries, postgres_server
from tests.conftest import ThreadedFake

_PROGRESS = {"待处理": -1, "未接听": 0, "已完成": 1}
_LABELS = {code: label for label, code in _PROGRESS.items()}

TASK_COLUMNS = (
    "call_task_id, task_name, task_start, task_start_time, task_end, task_end_time, status"
)
USER_COLUMNS = (
    "row_key, call_task_id, contact_id, company_id, user_name, company_name, phone, "
    "progress, progress_label"
)


def _moment(text: str) -> tuple[date, time | None]:
    if len(text) == 10:
        return date.fromisoformat(text), None
    moment = datetime.fromisoformat(text)
    return moment.date(), moment.time()


def _id(text: str) -> int | None:
    return int(text) if text != "" else None


def _progress(raw: str) -> tuple[int | None, str]:
    if raw in _PROGRESS:
        return _PROGRESS[raw], raw
    if raw.lstrip("-").isdigit():
        code = int(raw)
        return code, _LABELS.get(code, raw)
    return None, raw


def expected_tasks(fake: FakeBangwo8) -> set[tuple[Any, ...]]:
    """Every task the fake serves, as a ``call_tasks`` row."""
    rows = set()
    for item in fake.state.task_items(fake.state.order):
        start, start_time = _moment(item["task_start"])
        end, end_time = _moment(item["task_end"])
        rows.add(
            (
                int(item["callTaskId"]),
                item["task_name"],
                start,
                start_time,
                end,
                end_time,
                item["complete"],
            )
        )
    return rows


def expected_users(fake: FakeBangwo8, only: set[int] | None = None) -> set[tuple[Any, ...]]:
    """Every customer of every task (or of the tasks ``only``), as a ``task_users`` row."""
    rows = set()
    state = fake.state
    for call_task_id in state.order:
        if only is not None and call_task_id not in only:
            continue
        record = state.task(call_task_id)
        assert record is not None
        for item in state.customer_items(record, 0, len(state.customers(record))):
            user = item["userList"]
            identity = [
                int(item["callTaskid"]),
                _id(user["cId"]),
                _id(user["uId"]),
                user["userName"],
                user["companyName"],
                user["phone"],
            ]
            key = hashlib.blake2b(orjson.dumps(identity), digest_size=16).hexdigest()
            rows.add((key, *identity, *_progress(str(user["progress"]))))
    return rows


def table_rows(client: Any, table: str) -> list[tuple[Any, ...]]:
    """Every row of one of our tables, in our column order, through dlt's SQL client."""
    columns = TASK_COLUMNS if table == "call_tasks" else USER_COLUMNS
    with client.execute_query(
        f"SELECT {columns} FROM {client.make_qualified_table_name(table)}"
    ) as cursor:
        return [tuple(row) for row in cursor.fetchall()]


# -- fixtures ---------------------------------------------------------------------------------

# dlt's anonymous telemetry stays off in every test: nothing may leave the machine.
os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"

USERS_PATH = "/api/v1/callTask/userList/"


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the module; each test loads into a dataset of its own."""
    if find_binaries() is None:
        pytest.skip("no PostgreSQL binaries on this machine (.ci/run installs them)")
    with postgres_server() as server:
        yield server


Warehouse = Callable[..., Any]


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Warehouse:
    """A factory of pipelines into one real warehouse: a DuckDB file, or the PostgreSQL."""
    kind: str = request.param
    url = request.getfixturevalue("pg").url if kind == "postgres" else None
    dataset = "ds_" + hashlib.sha1(str(tmp_path).encode()).hexdigest()[:10]

    def make(*, name: str = "bangwo8_test", dataset_name: str = dataset) -> Any:
        destination = (
            dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb"))
            if kind == "duckdb"
            else dlt.destinations.postgres(url)
        )
        return dlt.pipeline(
            name,
            pipelines_dir=str(tmp_path / "pipelines"),
            destination=destination,
            dataset_name=dataset_name,
        )

    make.kind = kind  # type: ignore[attr-defined]
    return make


def session_of(fake: FakeBangwo8, backoff: bw.Backoff, **options: Any) -> bw.Session:
    return bw.Session(fake.basic_auth, base_url=fake.base_url, backoff=backoff, **options)


def rows_of(pipeline: Any, table: str) -> list[tuple[Any, ...]]:
    with pipeline.sql_client() as client:
        return table_rows(client, table)


def assert_exact(pipeline: Any, tasks: set[tuple[Any, ...]], users: set[tuple[Any, ...]]) -> None:
    """The warehouse holds exactly these rows, each once."""
    got_tasks, got_users = rows_of(pipeline, "call_tasks"), rows_of(pipeline, "task_users")
    assert len(got_tasks) == len(set(got_tasks)) and len(got_users) == len(set(got_users))
    assert set(got_tasks) == tasks
    assert set(got_users) == users


def customers_read(fake: FakeBangwo8, since: int) -> set[int]:
    """The tasks whose customers were asked for after the first ``since`` requests."""
    return {
        int(r.path[len(USERS_PATH) :].split(".")[0])
        for r in fake.log[since:]
        if r.method == "GET" and r.path.startswith(USERS_PATH)
    }


def wire_user(n: int, progress: str, *, company: bool = False) -> dict[str, Any]:
    """A customer row as the vendor sends it."""
    return {
        "cId": "" if company else str(7_000_000 + n),
        "uId": str(5_000_000 + n),
        "userName": "" if company else f"欧阳{n}号",
        "companyName": f"深圳第{n}科技有限公司",
        "phone": f"010-6{n:07d}",
        "progress": progress,
    }


# -- the warehouse after a sync, and after the server changed ---------------------------------


def column_types(pipeline: Any, table: str) -> dict[str, str]:
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s",
            client.fully_qualified_dataset_name(quote=False).split(".")[-1],
            table,
        )
    return {name: kind.lower() for name, kind in rows}


TYPES = {
    "duckdb": {"bigint": "bigint", "text": "varchar", "date": "date", "time": "time"},
    "postgres": {
        "bigint": "bigint",
        "text": "character varying",
        "date": "date",
        "time": "time without time zone",
    },
}
DECLARED = {
    "call_tasks": {
        "call_task_id": "bigint",
        "task_name": "text",
        "task_start": "date",
        "task_start_time": "time",
        "task_end": "date",
        "task_end_time": "time",
        "status": "text",
    },
    "task_users": {
        "row_key": "text",
        "call_task_id": "bigint",
        "contact_id": "bigint",
        "company_id": "bigint",
        "user_name": "text",
        "company_name": "text",
        "phone": "text",
        "progress": "bigint",
        "progress_label": "text",
    },
}


def assert_declared_types(pipeline: Any, kind: str) -> None:
    for table, columns in DECLARED.items():
        found = column_types(pipeline, table)
        for column, declared in columns.items():
            assert found[column] == TYPES[kind][declared], (table, column, found[column])


def test_sync_then_resync_after_the_server_changed(
    warehouse: Warehouse, threaded_fake: Callable[..., ThreadedFake], backoff: bw.Backoff
) -> None:
    fake = threaded_fake(tasks=150, users_per_task=3, seed=3).fake
    session = session_of(fake, backoff)
    pipeline = warehouse()
    pipeline.run(bangwo8_source(session))
    assert_exact(pipeline, expected_tasks(fake), expected_users(fake))
    assert_declared_types(pipeline, warehouse.kind)  # type: ignore[attr-defined]
    assert any("外呼任务" in row[1] for row in rows_of(pipeline, "call_tasks"))

    state = fake.state
    status = {i: state.task(i).complete for i in state.order}  # type: ignore[union-attr]
    settled = [i for i in state.order if status[i] == "已完成"]
    running = {i for i in state.order if status[i] == "进行中"}
    changed, blind, odd = settled[:3]
    overdue = next(i for i in state.order if status[i] == "逾期未完成")
    state.set_status(changed, "逾期未完成")  # changed status: read again, rows replaced
    state.set_customers(
        changed,
        [wire_user(1, "9"), wire_user(2, "稍后再拨", company=True), wire_user(3, "-1")]
        + [wire_user(3, "-1")],  # two equal rows are one row: the key is the row identity
    )
    old_blind = expected_users(fake, {blind})
    state.set_customers(blind, [wire_user(4, "1")])  # settled and unchanged: not seen
    first_running = min(running)
    record = state.task(first_running)
    assert record is not None
    rows = [item["userList"] for item in state.customer_items(record, 0, 3)]
    state.set_customers(first_running, [{**row, "progress": "已完成"} for row in rows])
    state.set_status(odd, "暂停中")  # a status the SDK does not know: kept, and read again
    added = set(state.add_tasks(2))
    state.set_status(overdue, "已完成")  # settled to settled, but changed: read again

    before = len(fake.log)
    stats = SyncStats()
    pipeline.run(build_source(session, "incremental", stats=stats))
    assert customers_read(fake, before) == running | {changed, odd, overdue} | added
    assert stats.tasks_skipped == len(state.order) - len(running | {changed, odd, overdue} | added)
    users = expected_users(fake, set(state.order) - {blind}) | old_blind
    assert_exact(pipeline, expected_tasks(fake), users)
    labels = {row[-1] for row in rows_of(pipeline, "task_users") if row[1] == changed}
    assert labels == {"9", "稍后再拨", "待处理"}
    assert ("暂停中",) in {(row[-1],) for row in rows_of(pipeline, "call_tasks")}

    # The blind spot, seen by a full refresh, which reads everything again.
    before = len(fake.log)
    pipeline.run(bangwo8_source(session, refresh="full"))
    assert customers_read(fake, before) == set(state.order)
    assert_exact(pipeline, expected_tasks(fake), expected_users(fake))
    assert_declared_types(pipeline, warehouse.kind)  # type: ignore[attr-defined]


def test_every_row_once_through_ten_percent_faults(
    warehouse: Warehouse, threaded_fake: Callable[..., ThreadedFake], backoff: bw.Backoff
) -> None:
    fake = threaded_fake(tasks=200, users_per_task=4, seed=11, fault_rate=0.1, retry_after=0.0).fake
    session = session_of(fake, backoff, max_retries=10)
    pipeline = warehouse()
    pipeline.run(bangwo8_source(session))
    faults = sum(1 for r in fake.log if r.fault is not None)
    assert faults > 20  # the faults really happened
    assert_exact(pipeline, expected_tasks(fake), expected_users(fake))
    running = [i for i in fake.state.order if fake.state.task(i).complete == "进行中"]  # type: ignore[union-attr]
    for call_task_id in running[:10]:
        fake.state.set_customers(call_task_id, [wire_user(call_task_id % 1000, "0")])
    pipeline.run(bangwo8_source(session))
    assert_exact(pipeline, expected_tasks(fake), expected_users(fake))
