"""The fake server speaks the vendor's payloads, keeps state and misbehaves on demand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import aiohttp
import orjson
import pytest

import bangwo8_async as bw
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
