"""``bangwo8 sync`` in subprocesses: a DuckDB file in the current directory, reruns in new
processes, bad input refused before any request, and a kill -9 during a load.

The server is a fake in a thread of the test process, so it outlives every kill
and can change between two syncs.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bangwo8_async.testing import FakeBangwo8
from tests._postgres import PostgresServer, find_binaries, postgres_server
from tests._terminal import on_a_terminal
from tests.conftest import ThreadedFake
from tests.test_dlt import (
    DECLARED,
    TASK_COLUMNS,
    TYPES,
    USER_COLUMNS,
    expected_tasks,
    expected_users,
    wire_user,
)

ENV = {k: v for k, v in os.environ.items() if not k.startswith(("BANGWO8_", "DESTINATION__"))}
SUMMARY = re.compile(
    r"^bangwo8: synced (?P<tasks>[\d,]+) tasks into duckdb (?P<file>\S+), "
    r"dataset (?P<dataset>\w+): "
    r"customers of (?P<read>[\d,]+) tasks read \((?P<customers>[\d,]+) customers\), of "
    r"(?P<skipped>[\d,]+) skipped \((?P<customers_skipped>[\d,]+) customers\); "
    r"(?P<rows>[\d,]+) rows loaded in [\d.]+s$"
)


def sync(
    cwd: Path, env: dict[str, str], *args: str, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bangwo8_async", "sync", *args],
        cwd=cwd,
        env=environment(cwd, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def environment(cwd: Path, env: dict[str, str]) -> dict[str, str]:
    # dlt's pipelines live in the test's directory, not the user's ~/.dlt.
    return {**ENV, "DLT_DATA_DIR": str(cwd / "dlt"), **env}


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    match = SUMMARY.match(lines[-1])
    assert match, lines
    return {
        k: int(v.replace(",", "")) if v[0].isdigit() else v for k, v in match.groupdict().items()
    }


def warehouse_rows(where: Path | str, dataset: str = "bangwo8") -> tuple[list[Any], list[Any]]:
    """Every row of both tables: from a DuckDB file, or a PostgreSQL URL."""
    queries = [f"SELECT {TASK_COLUMNS} FROM {dataset}.call_tasks"]
    queries.append(f"SELECT {USER_COLUMNS} FROM {dataset}.task_users")
    if isinstance(where, Path):
        with duckdb.connect(str(where), read_only=True) as db:
            tasks, users = (db.execute(q).fetchall() for q in queries)
        return tasks, users
    import psycopg2

    with psycopg2.connect(where) as db, db.cursor() as cursor:
        cursor.execute(queries[0])
        tasks = cursor.fetchall()
        cursor.execute(queries[1])
        users = cursor.fetchall()
    db.close()
    return tasks, users


def assert_exact(where: Path | str, fake: FakeBangwo8) -> None:
    tasks, users = warehouse_rows(where)
    assert len(tasks) == len(set(tasks)) and len(users) == len(set(users))
    assert set(tasks) == expected_tasks(fake)
    assert set(users) == expected_users(fake)


def test_sync_fake_makes_a_duckdb_file_here_and_reruns_incrementally(tmp_path: Path) -> None:
    first = summary(sync(tmp_path, {}, "--fake"))
    assert first["file"] == "bangwo8_sync_fake.duckdb" and (tmp_path / first["file"]).is_file()
    reference = FakeBangwo8(tasks=3000, users_per_task=3)  # the same seeded data, not served
    assert first["tasks"] == first["read"] == 3000 and first["skipped"] == 0
    assert first["rows"] == 3000 + 9000
    assert_exact(tmp_path / first["file"], reference)
    second = summary(sync(tmp_path, {}, "--fake"))  # a new process: the state is on disk
    settled = [i for i in reference.state.order if reference.state.task(i).complete != "进行中"]  # type: ignore[union-attr]
    assert second["skipped"] == len(settled) and second["customers_skipped"] == 3 * len(settled)
    assert second["rows"] == 3000 + 3 * (3000 - len(settled))
    assert_exact(tmp_path / first["file"], reference)


def test_a_terminal_sees_a_progress_line_then_the_summary(tmp_path: Path) -> None:
    """Its stderr a terminal: a progress line that counts as it goes, cleared before the one
    summary line. A pipe (every other test here) gets the summary line alone."""
    argv = ["sync", "--fake", "--fake-tasks", "300", "--fake-latency-ms", "10"]
    code, text = on_a_terminal(argv, environment(tmp_path, {}), tmp_path)
    assert code == 0, text
    counts = [
        tuple(int(n.replace(",", "")) for n in m.groups())
        for m in re.finditer(r"\rsync: ([\d,]+) tasks  ([\d,]+) customers of ([\d,]+) tasks", text)
    ]
    assert len(counts) >= 2 and counts == sorted(counts) and counts[-1] != counts[0], text
    last = text.rsplit("\r", 1)[-1].strip()  # what the terminal shows at the end
    assert SUMMARY.match(last) and last.count("bangwo8: synced") == 1, text


def test_a_pipe_gets_the_summary_line_alone(tmp_path: Path) -> None:
    result = sync(tmp_path, {}, "--fake", "--fake-tasks", "50")
    assert result.returncode == 0, result.stderr
    (line,) = result.stderr.splitlines()
    assert SUMMARY.match(line)


def test_sync_an_account_then_again_after_it_changed(
    tmp_path: Path, threaded_fake: Callable[..., ThreadedFake]
) -> None:
    server = threaded_fake(tasks=120, users_per_task=2, seed=12)
    fake = server.fake
    first = summary(sync(tmp_path, server.env, "--dataset", "sales"))
    assert first["file"] == "bangwo8_sync_sales.duckdb" and first["dataset"] == "sales"
    settled = [i for i in fake.state.order if fake.state.task(i).complete == "已完成"]  # type: ignore[union-attr]
    fake.state.set_status(settled[0], "逾期未完成")
    fake.state.set_customers(settled[0], [wire_user(5, "0")])
    second = summary(sync(tmp_path, server.env, "--dataset", "sales"))
    assert second["skipped"] == first["tasks"] - second["read"] > 0
    tasks, users = warehouse_rows(tmp_path / first["file"], "sales")
    assert set(tasks) == expected_tasks(fake) and set(users) == expected_users(fake)
    assert len(users) == len(expected_users(fake))
    full = summary(sync(tmp_path, server.env, "--dataset", "sales", "--full-refresh"))
    assert full["skipped"] == 0 and full["read"] == 120
    old = list(fake.state.order)
    fake.state.add_tasks(2)
    after = summary(sync(tmp_path, server.env, "--dataset", "sales"))  # incremental again
    settled_now = [i for i in old if fake.state.task(i).complete != "进行中"]  # type: ignore[union-attr]
    assert after["tasks"] == 122 and after["skipped"] == len(settled_now) > 0
    tasks, users = warehouse_rows(tmp_path / first["file"], "sales")
    assert len(tasks) == len(set(tasks)) and len(users) == len(set(users))
    assert set(tasks) == expected_tasks(fake) and set(users) == expected_users(fake)


def test_files_cannot_merge_so_each_sync_replaces_them(
    tmp_path: Path, threaded_fake: Callable[..., ThreadedFake]
) -> None:
    """A destination that cannot merge (files) would append every sync's rows again: each
    sync there reads everything and replaces the tables, every row once."""
    import pyarrow.dataset as ds

    server = threaded_fake(tasks=40, users_per_task=3, seed=13)
    env = {**server.env, "DESTINATION__FILESYSTEM__BUCKET_URL": (tmp_path / "out").as_uri()}
    for _ in range(2):
        result = sync(tmp_path, env, "--destination", "filesystem")
        assert result.returncode == 0, result.stderr
        assert "filesystem cannot merge" in result.stderr
        assert f"into filesystem {(tmp_path / 'out').as_uri()}," in result.stderr
        server.fake.state.add_tasks(1)
    server.fake.state.delete(server.fake.state.order[-1])  # as at the second sync
    for table, columns, expected in (
        ("call_tasks", TASK_COLUMNS, expected_tasks(server.fake)),
        ("task_users", USER_COLUMNS, expected_users(server.fake)),
    ):
        rows = ds.dataset(tmp_path / "out" / "bangwo8" / table).to_table().to_pylist()
        names = [c.strip() for c in columns.split(",")]
        got = [tuple(row[n] for n in names) for row in rows]
        assert len(got) == len(set(got)) and set(got) == expected


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (["--destination", "nosuch"], {}, "unknown destination 'nosuch'"),
        (["--destination", "postgres"], {}, "destination postgres: missing credentials"),
        (
            ["--destination", "postgres"],
            {"DESTINATION__POSTGRES__CREDENTIALS": "postgresql://u:pw-9f3a@127.0.0.1:{port}/db"},
            "cannot reach destination postgres: ",
        ),
    ],
)
def test_bad_destinations_exit_2_in_one_line_before_any_request(
    args: list[str],
    env: dict[str, str],
    words: str,
    tmp_path: Path,
    threaded_fake: Callable[..., ThreadedFake],
) -> None:
    server = threaded_fake(tasks=10)
    env = {k: v.format(port=_closed_port()) for k, v in env.items()}
    result = sync(tmp_path, {**server.env, **env}, *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bangwo8: error: ") and words in lines[0]
    assert "pw-9f3a" not in result.stderr
    assert server.fake.log == []  # nothing was sent to Bangwo8


def test_a_refused_login_exits_2_in_one_line_before_any_request(
    tmp_path: Path, threaded_fake: Callable[..., ThreadedFake], pg: PostgresServer
) -> None:
    server = threaded_fake(tasks=10)
    wrong = pg.url.replace(f":{pg.password}@", ":pw-wrong-7c1@")
    env = {**server.env, "DESTINATION__POSTGRES__CREDENTIALS": wrong}
    result = sync(tmp_path, env, "--destination", "postgres")
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("bangwo8: error: cannot reach destination postgres: "), line
    assert "password authentication failed" in line and "pw-wrong-7c1" not in line
    assert server.fake.log == []


def test_missing_bangwo8_credentials_exit_2(tmp_path: Path) -> None:
    result = sync(tmp_path, {})
    assert result.returncode == 2
    assert result.stderr.startswith("bangwo8: error: ") and "--fake" in result.stderr


# -- kill -9 ----------------------------------------------------------------------------------


def kill_after_extract(tmp_path: Path, env: dict[str, str], args: list[str]) -> int | None:
    """Start a sync and kill -9 it once it has extracted a package (before it is
    normalised); its return code if it ended first, else ``None``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bangwo8_async", "sync", *args],
        cwd=tmp_path,
        env=environment(tmp_path, env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pipelines = tmp_path / "dlt" / "pipelines"
    deadline = time.monotonic() + 240
    while process.poll() is None and time.monotonic() < deadline:
        if any(p.is_dir() for p in pipelines.glob("*/normalize/extracted/*")):
            process.send_signal(signal.SIGKILL)
            process.wait()
            return None
        time.sleep(0.002)
    return process.wait()


@pytest.fixture(scope="module")
def pg() -> Any:
    if find_binaries() is None:
        pytest.skip("no PostgreSQL binaries on this machine (.ci/run installs them)")
    with postgres_server() as server:
        yield server


def test_every_row_once_after_a_kill_9_during_extract(
    tmp_path: Path, threaded_fake: Callable[..., ThreadedFake]
) -> None:
    server = threaded_fake(
        tasks=200, users_per_task=6, seed=21, fault_rate=0.1, retry_after=0.0, latency=0.002
    )
    fake = server.fake
    args = ["--max-retries", "10"]
    kills = 0
    for _ in range(2):  # a first sync, then one after the server changed
        ended = kill_after_extract(tmp_path, server.env, args)
        kills += ended is None
        assert ended in (None, 0)
        result = sync(tmp_path, server.env, *args)
        assert result.returncode == 0, result.stderr
        assert_exact(tmp_path / "bangwo8_sync.duckdb", fake)
        change(fake, kills)
    assert kills >= 1  # a kill really landed there


def change(fake: FakeBangwo8, n: int) -> None:
    """The server between two syncs: a task in progress has new customers, three are new."""
    running = [i for i in fake.state.order if fake.state.task(i).complete == "进行中"]  # type: ignore[union-attr]
    fake.state.set_customers(running[n], [wire_user(n, "1"), wire_user(9, "-1")])
    fake.state.add_tasks(3)


#: ``bangwo8 sync`` that kills itself (SIGKILL, as kill -9) at one point of dlt's load step,
#: named by the first argument. dlt loads a package job by job: each table's rows into a
#: staging table (a ``.parquet`` job), then one merge per table (a ``.sql`` job, in a
#: transaction), then it records the load (``_dlt_loads``) and moves the package to "loaded".
_KILL_DURING_LOAD = """
import contextlib, os, runpy, signal, sys
from dlt.common.destination.client import RunnableLoadJob
from dlt.common.storages.load_package import PackageStorage
from dlt.common.storages.load_storage import LoadStorage
from dlt.destinations.job_client_impl import SqlLoadJob

point = sys.argv.pop(1)
die = lambda: os.kill(os.getpid(), signal.SIGKILL)
release = RunnableLoadJob._release
def die_once_copied(self, next_state):
    name = self.file_name()
    if point == "copied" and next_state == "completed" and name.startswith("task_users."):
        if not name.endswith(".sql"):
            die()
    return release(self, next_state)
transaction = SqlLoadJob.maybe_transaction
@contextlib.contextmanager
def die_before_commit(self, sql):
    with transaction(self, sql):
        yield
        if point == "merging":
            die()
complete_job = PackageStorage.complete_job
def die_once_merged(self, load_id, file_name):
    moved = complete_job(self, load_id, file_name)
    if point == "merged" and file_name.endswith(".sql"):
        die()
    return moved
complete_package = LoadStorage.complete_load_package
def die_before_moving(self, load_id, aborted):
    if point == "recorded":
        die()
    return complete_package(self, load_id, aborted)
RunnableLoadJob._release = die_once_copied
SqlLoadJob.maybe_transaction = die_before_commit
PackageStorage.complete_job = die_once_merged
LoadStorage.complete_load_package = die_before_moving
sys.argv[0] = "bangwo8"
runpy.run_module("bangwo8_async", run_name="__main__")
"""

#: Where the load is killed: the customers copied (into staging, or with ``--full-refresh``
#: into the table) but the job not yet marked done, so dlt runs it again; a merge run but
#: not committed; one table merged, the other not; every table merged and the load
#: recorded in the warehouse, but the package not yet moved to "loaded".
KILL_POINTS = ("copied", "merging", "merged", "recorded")
#: Each sync of the test below, killed at a point: incremental, then a full refresh (a merge
#: that replaces every row).
KILLS = [(point, []) for point in KILL_POINTS] + [("copied", ["--full-refresh"])]


def kill_during_load(cwd: Path, env: dict[str, str], point: str, args: list[str]) -> None:
    """A sync that is killed at ``point`` of its load; it must really die there."""
    result = subprocess.run(
        [sys.executable, "-c", _KILL_DURING_LOAD, point, "sync", *args],
        cwd=cwd,
        env=environment(cwd, env),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == -signal.SIGKILL, (point, result.returncode, result.stderr)


def column_types(where: Path | str, dataset: str = "bangwo8") -> dict[str, dict[str, str]]:
    """Each table's column types as the warehouse reports them (dlt's own columns left out)."""
    query = (
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        f"WHERE table_schema = '{dataset}' AND table_name IN ('call_tasks', 'task_users')"
    )
    if isinstance(where, Path):
        with duckdb.connect(str(where), read_only=True) as db:
            rows = db.execute(query).fetchall()
    else:
        import psycopg2

        with psycopg2.connect(where) as db, db.cursor() as cursor:
            cursor.execute(query)
            rows = cursor.fetchall()
        db.close()
    types: dict[str, dict[str, str]] = {}
    for table, column, kind in rows:
        if not column.startswith("_dlt"):
            types.setdefault(table, {})[column] = kind.lower()
    return types


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
def test_every_row_once_after_a_kill_9_during_a_load(
    destination: str,
    tmp_path: Path,
    threaded_fake: Callable[..., ThreadedFake],
    request: pytest.FixtureRequest,
) -> None:
    """kill -9 at each point of dlt's load, then a plain rerun: every row once, each column
    of its declared type; then the server changes and the next sync is killed elsewhere."""
    server = threaded_fake(tasks=200, users_per_task=6, seed=21, fault_rate=0.1, retry_after=0.0)
    fake = server.fake
    env = dict(server.env)
    where: Path | str = tmp_path / "bangwo8_sync.duckdb"
    args = ["--max-retries", "10", "--destination", destination]
    if destination == "postgres":
        database: PostgresServer = request.getfixturevalue("pg")
        env["DESTINATION__POSTGRES__CREDENTIALS"] = where = database.url
    declared = {
        table: {column: TYPES[destination][kind] for column, kind in columns.items()}
        for table, columns in DECLARED.items()
    }
    for n, (point, refresh) in enumerate(KILLS):
        kill_during_load(tmp_path, env, point, [*args, *refresh])
        result = sync(tmp_path, env, *args)
        assert result.returncode == 0, (point, result.stderr)
        assert_exact(where, fake)
        assert column_types(where) == declared, point
        change(fake, n)


# -- no secret anywhere dlt or the command writes ---------------------------------------------


@pytest.mark.parametrize("auth", ["basic", "oauth"])
def test_no_secret_where_sync_or_dlt_writes(
    auth: str, tmp_path: Path, threaded_fake: Callable[..., ThreadedFake], pg: PostgresServer
) -> None:
    """``bangwo8 sync -vv`` into PostgreSQL, its password in ``.dlt/secrets.toml`` and
    Bangwo8's credentials in the environment (an account and password, or a client secret
    that buys tokens): none of them in the output, dlt's trace (the config it resolved),
    state, schemas, load packages, or dlt's tables in the warehouse, searched after the
    run (dlt keeps the last run's trace only)."""
    from tests.test_dlt import _texts

    server = threaded_fake(tasks=30, users_per_task=2, seed=14, fault_rate=0.1, retry_after=0.0)
    fake = server.fake
    env = {"BANGWO8_BASE_URL": fake.base_url}
    if auth == "basic":
        env |= {"BANGWO8_ACCOUNT": fake.account, "BANGWO8_PASSWORD": fake.password}
    else:
        env |= {"BANGWO8_SECRET_ID": fake.secret_id, "BANGWO8_SECRET": fake.secret}
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "secrets.toml").write_text(
        "[destination.postgres.credentials]\n"
        f'host = "{pg.host}"\nport = {pg.port}\ndatabase = "{pg.database}"\n'
        f'username = "{pg.user}"\npassword = "{pg.password}"\n'
    )
    args = ["-vv", "--max-retries", "10", "--destination", "postgres", "--dataset", auth]
    result = sync(tmp_path, env, *args)
    assert result.returncode == 0, result.stderr
    secrets = {"postgres password": pg.password}
    if auth == "basic":
        secrets["bangwo8 password"] = fake.password
    else:
        secrets |= {"oauth secret": fake.secret}
        secrets |= {f"token {i}": token for i, token in enumerate(fake._tokens)}
        assert len(secrets) > 2  # the run really signed in for a token

    places = {"stdout": result.stdout, "stderr": result.stderr}
    for path in (tmp_path / "dlt").rglob("*"):
        if path.is_file():
            places[str(path.relative_to(tmp_path))] = _texts(path)
    import psycopg2

    with psycopg2.connect(pg.url) as db, db.cursor() as cursor:
        for table in ("_dlt_pipeline_state", "_dlt_version", "_dlt_loads"):
            cursor.execute(f"SELECT * FROM {auth}.{table}")
            places[table] = str(cursor.fetchall())
    db.close()
    # Where dlt keeps the config it resolved, and the run's packages, were searched.
    trace = next(text for where, text in places.items() if where.endswith("trace.pickle"))
    assert "key='password'" in trace and "provider_name='secrets.toml'" in trace
    assert any("/load/loaded/" in where for where in places)
    assert "GET " in result.stderr  # -vv logged every request
    leaks = [(what, where) for what, s in secrets.items() for where, t in places.items() if s in t]
    assert leaks == []
