"""The fake server speaks the vendor's payloads, keeps state and misbehaves on demand."""

from __future__ import annotations

import ast
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

import bangwo8_async as bw
import bangwo8_async.testing
from bangwo8_async.auth import basic_header
from bangwo8_async.testing import FakeBangwo8, Fault

from .conftest import vendor


def shape(value: Any) -> Any:
    """Keys and JSON types, recursively: what must match the vendor's examples."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def example(name: str) -> Any:
    return orjson.loads(vendor(name).replace("\u00a0".encode(), b" "))


async def raw(fake: FakeBangwo8, method: str, path: str, **kw: Any) -> tuple[int, bytes]:
    headers = {"Authorization": basic_header(fake.account, fake.password), **kw.pop("headers", {})}
    async with aiohttp.ClientSession() as http:
        async with http.request(method, fake.base_url + path, headers=headers, **kw) as resp:
            return resp.status, await resp.read()


async def test_list_has_the_vendor_shape(fake: FakeBangwo8) -> None:
    status, body = await raw(fake, "GET", "/callTask.json?page=2&per_page=2")
    data = orjson.loads(body)
    expected = example("list_call_tasks")
    assert status == 200
    assert shape(data["callTask"]) == shape(expected["callTask"])
    assert type(data["count"]) is int and data["count"] == 250
    assert data["next_page"].endswith("page=3") and data["previous_page"].endswith("page=1")


async def test_detail_has_the_vendor_shape_with_startime(fake: FakeBangwo8) -> None:
    _, body = await raw(fake, "GET", f"/callTask/{fake.state.order[0]}.json")
    assert shape(orjson.loads(body)) == shape(example("get_call_task"))


async def test_users_have_the_vendor_shape(fake: FakeBangwo8) -> None:
    _, body = await raw(fake, "GET", f"/callTask/userList/{fake.state.order[1]}.json")
    data = orjson.loads(body)
    assert shape(data) == shape(example("list_task_users"))
    assert (data["next_page"], data["previous_page"], data["count"]) == ("", "", "3")


async def test_create_and_delete_change_state_with_vendor_bodies(fake: FakeBangwo8) -> None:
    status, body = await raw(
        fake,
        "POST",
        "/callTask.json",
        data=vendor("create_request"),
        headers={"Content-Type": "application/json", "Requestid": "r1"},
    )
    created = orjson.loads(body)
    assert status == 200
    assert set(created["callTask"]) <= set(example("create_call_task")["callTask"]) | {"sumCount"}
    new_id = int(created["callTask"]["data"][0]["callTaskId"])
    assert new_id in fake.state and len(fake.state) == 251
    again = await raw(
        fake,
        "POST",
        "/callTask.json",
        data=vendor("create_request"),
        headers={"Content-Type": "application/json", "Requestid": "r1"},
    )
    assert again == (status, body) and len(fake.state) == 251  # Requestid de-duplicates
    status, body = await raw(fake, "DELETE", f"/callTask/{new_id}.json")
    assert status == 200 and b'"Status": 200 OK' in body
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)
    assert new_id not in fake.state
    status, body = await raw(fake, "DELETE", f"/callTask/{new_id}.json")
    assert orjson.loads(body) == example("delete_not_found")


async def test_auth_and_bad_paths(fake: FakeBangwo8) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(fake.base_url + "/callTask.json") as resp:
            assert resp.status == 401
        async with http.get(fake.base_url.replace("/api/v1", "") + "/api/token.php") as resp:
            assert (await resp.json())["error"] == "invalid_request"


async def test_seeded_data_is_deterministic_and_chinese(
    make_session: Callable[..., bw.Session],
) -> None:
    runs = []
    for _ in range(2):
        async with FakeBangwo8(tasks=40, seed=7) as fake, make_session(fake) as session:
            runs.append([u async for u in bw.iter_all_task_users(session)])
    assert runs[0] == runs[1]
    users = runs[0]
    assert any(u.user_name and "\u4e00" <= u.user_name[0] <= "\u9fff" for u in users)
    assert all(isinstance(u.phone, str) for u in users)
    assert any(u.phone.startswith("0") for u in users) or any("+86" in u.phone for u in users)
    assert len({u.progress for u in users}) >= 2


async def test_request_log_and_peak(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    async with make_session(fake) as session:
        await bw.list_call_tasks(session, page=2, per_page=5)
        await bw.create_call_task(
            session,
            bw.NewCallTask("n", date(2022, 1, 1), date(2022, 1, 2), [5], [6], "0"),
            request_id="abc",
        )
    first, second = fake.log
    assert (first.method, first.path, first.query, first.status) == (
        "GET",
        "/api/v1/callTask.json",
        {"page": "2", "per_page": "5"},
        200,
    )
    assert (second.method, second.request_id) == ("POST", "abc")
    assert fake.peak_in_flight == 1
    assert "Authorization" not in repr(fake.log)


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        (Fault.SERVER_ERROR, 500),
        (Fault.UNAVAILABLE, 503),
        (Fault.RATE_LIMITED, 429),
        (Fault.TRUNCATED, 200),
    ],
)
async def test_http_faults(fake: FakeBangwo8, fault: Fault, status: int) -> None:
    fake.inject(fault)
    got, body = await raw(fake, "GET", "/callTask.json")
    assert got == status
    if fault is Fault.TRUNCATED:
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(body)
    if fault is Fault.UNAVAILABLE:
        assert body.startswith(b"<html>")


@pytest.mark.parametrize("fault", [Fault.RESET_BEFORE, Fault.RESET_AFTER])
async def test_resets(fake: FakeBangwo8, fault: Fault) -> None:
    victim = fake.state.order[0]
    fake.inject(fault, fault)  # twice: aiohttp re-sends an idempotent request once by itself
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await raw(fake, "DELETE", f"/callTask/{victim}.json")
    assert (victim in fake.state) is (fault is Fault.RESET_BEFORE)
    assert [r.status for r in fake.log] == [None, None]


async def test_fault_rate_is_seeded(make_session: Callable[..., bw.Session]) -> None:
    kinds = []
    for _ in range(2):
        async with FakeBangwo8(fault_rate=0.5, seed=3, retry_after=0) as fake:
            async with make_session(fake, max_concurrency=1, max_retries=10) as session:
                for call_task_id in fake.state.order[:10]:
                    await bw.get_call_task(session, call_task_id)
            kinds.append([r.fault for r in fake.log])
    assert kinds[0] == kinds[1]
    assert {k for k in kinds[0] if k} >= {Fault.SERVER_ERROR} or len(set(kinds[0])) > 2


async def test_unknown_path_is_the_vendors_404(fake: FakeBangwo8) -> None:
    status, body = await raw(fake, "GET", "/nothing.json")
    assert (status, orjson.loads(body)) == (404, example_error())


def example_error() -> dict[str, str]:
    return {"errcode": "100047", "errmsg": "Invalid resource URI"}


async def test_an_agent_is_not_an_administrator(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    agent = bw.BasicAuth(fake.agent_account, fake.agent_password)
    async with make_session(fake, auth=agent) as session:
        with pytest.raises(bw.PermissionDeniedError) as info:
            await bw.list_call_tasks(session)
    assert (info.value.status, info.value.code) == (403, "40003")


# -- its options: validated, and shared with the endpoints without a cycle ---------------------


@pytest.mark.parametrize(
    ("options", "error", "named"),
    [
        ({"page_cap": 0}, ValueError, "page_cap"),
        ({"page_cap": "10"}, TypeError, "page_cap"),
        ({"fault_rate": 1.5}, ValueError, "fault_rate"),
        ({"fault_rate": float("nan")}, ValueError, "fault_rate"),
        ({"latency": -0.1}, ValueError, "latency"),
        ({"latency": True}, TypeError, "latency"),
        ({"charset": "no-such-codec"}, ValueError, "charset"),
        ({"bom": "yes"}, TypeError, "bom"),
        ({"rate_limit": 0}, ValueError, "rate_limit"),
        ({"max_in_flight": 0}, ValueError, "max_in_flight"),
        ({"fault_kinds": []}, ValueError, "fault_kinds"),
        ({"fault_kinds": "500"}, TypeError, "fault_kinds"),
        ({"fault_kinds": ["500"]}, TypeError, "fault_kinds"),
        ({"faults": [Fault.SLOW, "500"]}, TypeError, "faults"),
        ({"on_list": 3}, TypeError, "on_list"),
        ({"port": 70000}, ValueError, "port"),
        ({"host": ""}, ValueError, "host"),
        ({"tasks": -1}, ValueError, "tasks"),
        ({"insert_every": 1.5}, TypeError, "insert_every"),
        ({"limit_retry_after": -1}, ValueError, "limit_retry_after"),
    ],
)
def test_a_bad_option_is_a_typed_error_that_names_it(
    options: dict[str, Any], error: type[Exception], named: str
) -> None:
    with pytest.raises(error, match=rf"FakeBangwo8 option {named} must be"):
        FakeBangwo8(**options)


def test_an_option_set_while_serving_is_validated_and_a_bad_one_changes_nothing() -> None:
    fake = FakeBangwo8(page_cap=10)
    with pytest.raises(ValueError, match="page_cap"):
        fake.page_cap = 0
    assert fake.page_cap == 10
    fake.fault_kinds = [Fault.SLOW]  # type: ignore[assignment]  # a list, as the option takes
    assert fake.fault_kinds == (Fault.SLOW,)
    with pytest.raises(TypeError, match="rate_limit"):
        fake.rate_limit = "20"  # type: ignore[assignment]
    with pytest.raises(TypeError, match="faults"):
        fake.inject("500")  # type: ignore[arg-type]


def test_a_bad_password_error_does_not_show_the_value() -> None:
    fake = FakeBangwo8()
    with pytest.raises(TypeError, match="password must be a str") as info:
        fake.password = b"hunter2-secret"  # type: ignore[assignment]
    assert "hunter2" not in str(info.value)


async def test_an_option_set_while_serving_reaches_the_endpoints(fake: FakeBangwo8) -> None:
    fake.page_cap = 7
    fake.account = "someone@example.com"
    status, body = await raw(fake, "GET", "/callTask.json?per_page=20")
    assert (status, len(orjson.loads(body)["callTask"])) == (200, 7)


async def test_the_fakes_own_per_page_ceiling_is_the_vendors_100(fake: FakeBangwo8) -> None:
    status, body = await raw(fake, "GET", "/callTask.json?per_page=250")
    page = orjson.loads(body)
    assert (status, len(page["callTask"]), page["count"]) == (200, 100, 250)
    assert "page=2" in page["next_page"]


def _imports(path: Path) -> set[str]:
    """The sibling modules of ``bangwo8_async.testing`` (and the parent's) a module imports,
    TYPE_CHECKING blocks included: a cycle hidden there is still a cycle for a reader."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 2 and node.module:
            found.add(".." + node.module)
    return found


def test_the_fakes_modules_import_each_other_without_a_cycle() -> None:
    package = Path(bangwo8_async.testing.__file__).parent
    graph = {p.stem: _imports(p) for p in package.glob("*.py")}
    assert "fake" not in graph["_endpoints"]
    assert not any("..pagination" in i or ".._validate" in i for i in graph["_endpoints"]), (
        "the fake's endpoints hold the server's rules, not the client's"
    )

    def reach(start: str, seen: set[str]) -> set[str]:
        for name in graph.get(start, set()) - seen:
            seen.add(name)
            reach(name, seen)
        return seen

    assert [m for m in graph if m in reach(m, set())] == []
