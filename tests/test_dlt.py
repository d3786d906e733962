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


def _expected_progress(raw: str) -> tuple[int | None, str]:
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
            rows.add((key, *identity, *_expected_progress(str(user["progress"]))))
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


def first_sync(
    warehouse: Warehouse,
    threaded_fake: Callable[..., ThreadedFake],
    backoff: bw.Backoff,
    **options: Any,
) -> tuple[FakeBangwo8, bw.Session, Any]:
    """A fake server (3 customers a task unless told), a session on it, and a pipeline into
    the warehouse that has synced it once."""
    fake = threaded_fake(**{"users_per_task": 3, **options}).fake
    session = session_of(fake, backoff)
    pipeline = warehouse()
    pipeline.run(bangwo8_source(session))
    return fake, session, pipeline


def test_sync_then_resync_after_the_server_changed(
    warehouse: Warehouse, threaded_fake: Callable[..., ThreadedFake], backoff: bw.Backoff
) -> None:
    fake, session, pipeline = first_sync(warehouse, threaded_fake, backoff, tasks=150, seed=3)
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
        # Two equal rows are one row: the warehouse key is the row identity.
        [
            *(wire_user(n, p, company=n == 2) for n, p in ((1, "9"), (2, "稍后再拨"), (3, "-1"))),
            wire_user(3, "-1"),
        ],
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


def test_a_full_refresh_of_an_account_with_no_task_left_empties_the_tables(
    warehouse: Warehouse, threaded_fake: Callable[..., ThreadedFake], backoff: bw.Backoff
) -> None:
    fake, session, pipeline = first_sync(warehouse, threaded_fake, backoff, tasks=20, seed=16)
    for call_task_id in list(fake.state.order):
        fake.state.delete(call_task_id)
    pipeline.run(bangwo8_source(session))  # incremental: nothing to read, nothing changes
    assert len(rows_of(pipeline, "call_tasks")) == 20
    pipeline.run(bangwo8_source(session, refresh="full"))
    assert rows_of(pipeline, "call_tasks") == [] and rows_of(pipeline, "task_users") == []


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


def test_a_destination_that_cannot_merge_gets_every_row_once(
    tmp_path: Path, threaded_fake: Callable[..., ThreadedFake], backoff: bw.Backoff
) -> None:
    """Files cannot merge: dlt would append each run's rows again. There every run reads
    everything and replaces the tables, whatever ``refresh`` says."""
    import pyarrow.dataset as ds

    fake = threaded_fake(tasks=40, users_per_task=3, seed=13).fake
    pipeline = dlt.pipeline(
        "bangwo8_files",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.filesystem((tmp_path / "out").as_uri()),
        dataset_name="files",
    )
    for _ in range(2):
        stats = SyncStats()
        pipeline.run(build_source(session_of(fake, backoff), "incremental", stats=stats))
        assert stats.tasks_skipped == 0
        fake.state.add_tasks(1)
    fake.state.delete(fake.state.order[-1])  # as at the second run
    for table, expected in (
        ("call_tasks", expected_tasks(fake)),
        ("task_users", expected_users(fake)),
    ):
        names = [
            c.strip() for c in (TASK_COLUMNS if table == "call_tasks" else USER_COLUMNS).split(",")
        ]
        rows = ds.dataset(tmp_path / "out" / "files" / table).to_table().to_pylist()
        got = [tuple(row[n] for n in names) for row in rows]
        assert len(got) == len(set(got)) and set(got) == expected


# -- state: what decides whose customers to read ----------------------------------------------


def duckdb_pipeline(tmp_path: Path, *, dataset: str = "bw", file: str = "w.duckdb") -> Any:
    return dlt.pipeline(
        "bangwo8_test",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.duckdb(str(tmp_path / file)),
        dataset_name=dataset,
    )


@pytest.mark.parametrize(
    ("before", "status", "read"),
    [
        (None, "已完成", True),  # new
        (["进行中", 3], "进行中", True),  # in progress at the last run
        (["进行中", 3], "已完成", True),  # finished since
        (["已完成", 3], "已完成", False),  # settled, unchanged
        (["逾期未完成", 3], "逾期未完成", False),
        (["逾期未完成", 3], "已完成", True),  # changed status
        (["已完成", 3], "进行中", True),  # reopened
        (["暂停中", 3], "暂停中", True),  # a status we do not know: never taken as settled
        ("garbage", "已完成", True),  # a state we cannot read: read
        ([], "已完成", True),
    ],
)
def test_the_incremental_rule(before: Any, status: str, read: bool) -> None:
    assert needs_customers(before, status) is read


def test_a_run_that_fails_changes_no_state(
    tmp_path: Path, threaded_fake: Callable[..., ThreadedFake], backoff: bw.Backoff
) -> None:
    from bangwo8_async.testing import Fault

    fake = threaded_fake(tasks=120, users_per_task=2, seed=5).fake
    pipeline = duckdb_pipeline(tmp_path)
    pipeline.run(bangwo8_source(session_of(fake, backoff)))
    state = fake.state
    settled = [i for i in state.order if state.task(i).complete == "已完成"]  # type: ignore[union-attr]
    for call_task_id in settled[:3]:
        state.set_status(call_task_id, "逾期未完成")
        state.set_customers(call_task_id, [wire_user(call_task_id % 997, "1")])
    # The customers of the last changed task fail for good: the run fails mid-extract.
    fake.inject(Fault.SERVER_ERROR, Fault.SERVER_ERROR, path=f"{USERS_PATH}{settled[2]}.json")
    with pytest.raises(Exception, match=r"ServerError|500"):
        pipeline.run(bangwo8_source(session_of(fake, backoff, max_retries=1)))
    before = len(fake.log)
    pipeline.run(bangwo8_source(session_of(fake, backoff)))
    # The failed run recorded nothing: all three changed tasks are read again.
    assert set(settled[:3]) <= customers_read(fake, before)
    assert_exact(pipeline, expected_tasks(fake), expected_users(fake))


def test_the_state_comes_back_from_the_warehouse(
    tmp_path: Path, threaded_fake: Callable[..., ThreadedFake], backoff: bw.Backoff
) -> None:
    """A scheduled rerun on a fresh machine (no pipeline directory) is still incremental."""
    import shutil

    fake = threaded_fake(tasks=100, users_per_task=2, seed=8).fake
    pipeline = duckdb_pipeline(tmp_path)
    pipeline.run(bangwo8_source(session_of(fake, backoff)))
    shutil.rmtree(tmp_path / "pipelines")
    stats = SyncStats()
    again = duckdb_pipeline(tmp_path)
    again.run(build_source(session_of(fake, backoff), "incremental", stats=stats))
    settled = [i for i in fake.state.order if fake.state.task(i).complete != "进行中"]  # type: ignore[union-attr]
    assert stats.tasks_skipped == len(settled) > 0
    assert_exact(again, expected_tasks(fake), expected_users(fake))


@pytest.mark.parametrize("move", ["dataset", "file"])
def test_another_warehouse_gets_every_customer(
    move: str, tmp_path: Path, threaded_fake: Callable[..., ThreadedFake], backoff: bw.Backoff
) -> None:
    """The same pipeline pointed at a new dataset or DuckDB file skips nothing: the state
    of the old warehouse does not decide for the new one."""
    fake = threaded_fake(tasks=100, users_per_task=2, seed=9).fake
    duckdb_pipeline(tmp_path).run(bangwo8_source(session_of(fake, backoff)))
    stats = SyncStats()
    other = (
        duckdb_pipeline(tmp_path, dataset="other")
        if move == "dataset"
        else duckdb_pipeline(tmp_path, file="other.duckdb")
    )
    other.run(build_source(session_of(fake, backoff), "incremental", stats=stats))
    assert stats.tasks_skipped == 0 and stats.tasks_read == 100
    assert_exact(other, expected_tasks(fake), expected_users(fake))


# -- where it runs, and how its pages are shaped ----------------------------------------------


def test_built_and_run_in_a_worker_thread_and_inside_a_running_loop(
    tmp_path: Path, threaded_fake: Callable[..., ThreadedFake], backoff: bw.Backoff
) -> None:
    import asyncio

    fake = threaded_fake(tasks=60, users_per_task=2, seed=2).fake
    errors: list[BaseException] = []

    def work() -> None:
        try:
            pipeline = duckdb_pipeline(tmp_path, dataset="threaded")
            pipeline.run(bangwo8_source(session_of(fake, backoff)))
            assert_exact(pipeline, expected_tasks(fake), expected_users(fake))
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(120)
    assert not worker.is_alive() and errors == []

    async def inside_a_loop() -> None:  # a caller that blocks its own loop: still works
        pipeline = duckdb_pipeline(tmp_path, dataset="in_loop")
        pipeline.run(bangwo8_source(session_of(fake, backoff)))
        assert_exact(pipeline, expected_tasks(fake), expected_users(fake))

    asyncio.run(inside_a_loop())


def test_dict_pages_load_the_same_rows_as_arrow_pages(
    tmp_path: Path, threaded_fake: Callable[..., ThreadedFake], backoff: bw.Backoff
) -> None:
    fake = threaded_fake(tasks=80, users_per_task=3, seed=4).fake
    arrow = duckdb_pipeline(tmp_path, dataset="arrow")
    arrow.run(build_source(session_of(fake, backoff), "incremental", arrow=True))
    dicts = duckdb_pipeline(tmp_path, dataset="dicts")
    dicts.run(build_source(session_of(fake, backoff), "incremental", arrow=False))
    for table in ("call_tasks", "task_users"):
        assert sorted(rows_of(arrow, table)) == sorted(rows_of(dicts, table))
    assert_exact(dicts, expected_tasks(fake), expected_users(fake))


def test_bad_arguments_fail_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BANGWO8_ACCOUNT", "BANGWO8_PASSWORD", "BANGWO8_SECRET_ID", "BANGWO8_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(bw.ValidationError, match=r"credentials|account|secret"):
        bangwo8_source()
    with pytest.raises(bw.ValidationError, match="refresh"):
        bangwo8_source(bw.Session(bw.BasicAuth("a", "b")), refresh="everything")  # type: ignore[arg-type]
    with pytest.raises(bw.ValidationError, match="session"):
        bangwo8_source("https://www.bangwo8.com")  # type: ignore[arg-type]


def test_credentials_from_the_environment(
    tmp_path: Path,
    threaded_fake: Callable[..., ThreadedFake],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = threaded_fake(tasks=30, users_per_task=1, seed=1)
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    pipeline = duckdb_pipeline(tmp_path)
    pipeline.run(bangwo8_source())
    assert_exact(pipeline, expected_tasks(server.fake), expected_users(server.fake))


def test_the_module_docstring_example_runs_and_reruns(
    tmp_path: Path, threaded_fake: Callable[..., ThreadedFake], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The example a reader meets first (the module docstring, in the API reference), run
    as written, twice: the second run merges."""
    import itertools
    import textwrap

    import bangwo8_async.dlt

    lines = (bangwo8_async.dlt.__doc__ or "").split("::\n", 1)[1].splitlines()
    block = itertools.takewhile(lambda line: not line or line.startswith(" "), lines)
    example = textwrap.dedent("\n".join(block))
    assert "bangwo8_source()" in example
    server = threaded_fake(tasks=30, users_per_task=2, seed=15)
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    monkeypatch.chdir(tmp_path)  # the DuckDB file goes here
    namespace: dict[str, Any] = {}
    exec(compile(example, "<bangwo8_async.dlt docstring>", "exec"), namespace)
    pipeline = namespace["pipeline"]
    pipeline.run(bangwo8_source())
    assert_exact(pipeline, expected_tasks(server.fake), expected_users(server.fake))


# -- no secret anywhere dlt writes ------------------------------------------------------------


def _texts(path: Path) -> str:
    """A file's contents as text, whatever dlt wrote: gzip, Parquet, pickle or plain."""
    import gzip
    import pickle

    import pyarrow.parquet as pq

    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if raw[:4] == b"PAR1":
        return str(pq.read_table(path).to_pylist())
    text = raw.decode("utf-8", "replace")
    if path.suffix == ".pickle":
        text += repr(pickle.loads(raw))
    return text


def test_no_secret_in_state_trace_schema_packages_or_logs(
    tmp_path: Path,
    pg: PostgresServer,
    threaded_fake: Callable[..., ThreadedFake],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    import logging

    from dlt.pipeline.state_sync import decompress_state

    server = threaded_fake(tasks=40, users_per_task=2, seed=6, fault_rate=0.1, retry_after=0.0)
    fake = server.fake
    # Everything the dlt way: the warehouse's password and Bangwo8's from the environment.
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", pg.url)
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    for name in ("dlt", "bangwo8_async"):
        logging.getLogger(name).addHandler(caplog.handler)
    pipeline = dlt.pipeline(
        "bangwo8_secrets",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination="postgres",
        dataset_name="secrets_test",
    )
    traces: dict[str, str] = {}  # dlt keeps the last run's trace only: each run's, as it ends
    try:
        pipeline.run(bangwo8_source(bw.Session.from_env(max_retries=10)))  # Basic auth
        traces["basic auth trace"] = orjson.dumps(
            pipeline.last_trace.asdict(), default=str
        ).decode()
        traces["basic auth trace repr"] = repr(pipeline.last_trace) + str(pipeline.last_trace)
        oauth = bw.Session(fake.client_credentials, base_url=fake.base_url, max_retries=10)
        pipeline.run(bangwo8_source(oauth, refresh="full"))  # OAuth: a secret, then a token
    finally:
        for name in ("dlt", "bangwo8_async"):
            logging.getLogger(name).removeHandler(caplog.handler)
    secrets = {"bangwo8 password": fake.password, "oauth secret": fake.secret}
    secrets |= {f"token {i}": token for i, token in enumerate(fake._tokens)}
    secrets["postgres password"] = pg.password
    assert len(secrets) >= 5  # a token was issued: the OAuth run really signed in

    places: dict[str, str] = {"logs": caplog.text, "output": "".join(capfd.readouterr())}
    places |= traces
    for path in (tmp_path / "pipelines").rglob("*"):
        if path.is_file():
            places[str(path.relative_to(tmp_path))] = _texts(path)
    places["state"] = orjson.dumps(pipeline.state, default=str).decode()
    places["trace"] = orjson.dumps(pipeline.last_trace.asdict(), default=str).decode()
    places["trace repr"] = repr(pipeline.last_trace) + str(pipeline.last_trace)
    places["schema"] = pipeline.default_schema.to_pretty_yaml()
    with pipeline.sql_client() as client:
        for table in ("_dlt_pipeline_state", "_dlt_version", "_dlt_loads"):
            name = client.make_qualified_table_name(table)
            places[table] = str(client.execute_sql(f"SELECT * FROM {name}"))
        states = client.execute_sql(
            f"SELECT state FROM {client.make_qualified_table_name('_dlt_pipeline_state')}"
        )
        places["warehouse state"] = str([decompress_state(row[0]) for row in states])
    # dlt kept a trace with the credentials it resolved, masked, and it was searched.
    assert f"{pg.user}:***@{pg.host}:{pg.port}" in places["trace"]
    assert f"{pg.user}:***@{pg.host}:{pg.port}" in places["basic auth trace"]
    assert any("trace" in place for place in places)
    assert any("load" in place and "loaded" in place for place in places)  # and the packages
    leaks = [(what, where) for what, s in secrets.items() for where, t in places.items() if s in t]
    assert leaks == []


def test_stopping_early_stops_every_request(
    threaded_fake: Callable[..., ThreadedFake], backoff: bw.Backoff
) -> None:
    """dlt closing a resource early (``add_limit``) cancels its reads and closes its session."""
    import gc

    fake = threaded_fake(tasks=3000, users_per_task=2, seed=2, latency=0.01).fake
    source = bangwo8_source(session_of(fake, backoff))
    first = list(source.task_users.add_limit(1))
    assert len(first) == 1 and first[0].num_rows > 0  # one batch of customers, as Arrow
    gc.collect()  # an unclosed aiohttp session would warn here, and warnings are errors
    settled = len(fake.log)
    threading.Event().wait(0.3)
    assert len(fake.log) == settled  # nothing is still reading
    assert fake.in_flight == 0


def test_a_task_listed_twice_in_one_run_is_read_once() -> None:
    from bangwo8_async.dlt._source import _choose, _Plan

    plan, stats = _Plan({}, full=False), SyncStats()
    assert _choose(plan, 7, "进行中", stats) is True
    assert _choose(plan, 7, "进行中", stats) is False  # its rows go in once
    assert stats.tasks_read == 1 and plan.seen == {"7": ["进行中", 0]}


def test_another_server_gets_every_customer(
    tmp_path: Path,
    pg: PostgresServer,
    threaded_fake: Callable[..., ThreadedFake],
    backoff: bw.Backoff,
) -> None:
    """The same pipeline and dataset on another database, where the dataset already exists
    (another pipeline loads into it): dlt keeps its local state there (it wipes it only
    for a dataset that does not exist), but the state records which warehouse it
    describes, so nothing is skipped."""
    import psycopg2

    database = "other_" + hashlib.sha1(str(tmp_path).encode()).hexdigest()[:8]
    connection = psycopg2.connect(pg.url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {database}")
    connection.close()
    fake = threaded_fake(tasks=60, users_per_task=2, seed=10).fake

    def pipeline(url: str) -> Any:
        return dlt.pipeline(
            "bangwo8_moved",
            pipelines_dir=str(tmp_path / "pipelines"),
            destination=dlt.destinations.postgres(url),
            dataset_name="moved",
        )

    pipeline(pg.url).run(bangwo8_source(session_of(fake, backoff)))
    other_url = pg.url.rsplit("/", 1)[0] + f"/{database}"
    dlt.pipeline(
        "someone_else",
        pipelines_dir=str(tmp_path / "elsewhere"),
        destination=dlt.destinations.postgres(other_url),
        dataset_name="moved",
    ).run([{"note": "已有数据"}], table_name="notes")
    stats = SyncStats()
    other = pipeline(other_url)
    other.run(build_source(session_of(fake, backoff), "incremental", stats=stats))
    assert stats.tasks_skipped == 0 and stats.tasks_read == 60
    assert_exact(other, expected_tasks(fake), expected_users(fake))
