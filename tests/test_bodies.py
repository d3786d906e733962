"""Bodies as PHP servers send them, through the session: BOM, charset, HTML fronts, DELETE."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

import orjson
import pytest

import bangwo8_async as bw

from .conftest import BASE, MockedHTTP, vendor

ANY = re.compile(r".*")
BOM = b"\xef\xbb\xbf"
GBK = "application/json; charset=GBK"
WAF = b"<html><head><title>Just a moment...</title></head><body>challenge</body></html>"


def sends(m: MockedHTTP) -> int:
    return sum(len(calls) for calls in m.requests.values())


async def test_every_endpoint_reads_a_body_behind_a_bom(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session]
) -> None:
    mocked.get(re.compile(r".*/callTask\.json.*"), body=BOM + vendor("list_call_tasks"))
    mocked.get(f"{BASE}/callTask/4360708.json", body=BOM + vendor("get_call_task"))
    mocked.post(f"{BASE}/callTask.json", body=BOM + vendor("create_call_task"))
    mocked.delete(f"{BASE}/callTask/18738405.json", body=BOM + vendor("delete_call_task"))
    mocked.get(re.compile(r".*/userList/3214556\.json.*"), body=BOM + vendor("list_task_users"))
    new = bw.NewCallTask("n", date(2022, 5, 20), date(2022, 5, 23), [1], [2], bw.DataSource.COMPANY)
    async with make_session() as session:
        assert len((await bw.list_call_tasks(session)).items) == 2
        assert (await bw.get_call_task(session, 4360708)).agent_id == 567332
        assert (await bw.create_call_task(session, new)).illegal_ids == [378594, 264758]
        assert await bw.delete_call_task(session, 18738405) is None
        assert len((await bw.list_task_users(session, 3214556)).items) == 2
    assert sends(mocked) == 5


async def test_a_gbk_page_keeps_its_chinese(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session]
) -> None:
    body = vendor("list_call_tasks").decode().replace("\u00a0", " ").encode("gbk")
    mocked.get(ANY, body=body, content_type=GBK)
    async with make_session() as session:
        page = await bw.list_call_tasks(session)
    assert [t.task_name for t in page.items] == ["外呼任务1", "外呼任务2"]
    assert page.items[0].status is bw.TaskStatus.IN_PROGRESS


async def test_an_undecodable_body_is_not_retried(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session]
) -> None:
    mocked.get(ANY, body=b'{"callTask": [], "x": "\x81\x20"}', content_type=GBK, repeat=True)
    async with make_session(max_retries=3) as session:
        with pytest.raises(bw.DecodeError) as info:
            await bw.list_call_tasks(session)
    assert (info.value.retryable, info.value.attempts) == (False, 1)
    assert "encoding problem" in str(info.value) and "GBK" in str(info.value)
    assert sends(mocked) == 1


async def test_an_html_page_on_a_delete_is_retried_and_never_reported_as_deleted(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session]
) -> None:
    url = f"{BASE}/callTask/7.json"
    mocked.delete(url, body=WAF, status=200, content_type="text/html", repeat=True)
    async with make_session(max_retries=2) as session:
        with pytest.raises(bw.DecodeError) as info:
            await bw.delete_call_task(session, 7)
    assert info.value.retryable is True
    assert info.value.attempts == 3
    assert "HTML page" in str(info.value) and "Just a moment..." in str(info.value)


async def test_a_delete_through_an_html_front_succeeds_when_the_server_answers(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session]
) -> None:
    url = f"{BASE}/callTask/7.json"
    mocked.delete(url, body=WAF, status=200, content_type="text/html")
    mocked.delete(url, body=b"")
    async with make_session() as session:
        assert await bw.delete_call_task(session, 7) is None
    assert sends(mocked) == 2


async def test_a_bom_before_does_not_exist_on_delete_is_not_found(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session]
) -> None:
    mocked.delete(f"{BASE}/callTask/1.json", body=BOM + vendor("delete_not_found"))
    async with make_session() as session:
        with pytest.raises(bw.NotFoundError) as info:
            await bw.delete_call_task(session, 1)
    assert (info.value.status, info.value.attempts) == (403, 1)


@pytest.mark.parametrize(
    "payload",
    [
        {"callTask": None, "count": 5},
        {"callTask": None},
        {"count": "12", "next_page": ""},
        {"callTask": None, "count": 0},
    ],
)
async def test_a_null_or_missing_list_is_an_empty_page(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session], payload: dict[str, Any]
) -> None:
    mocked.get(ANY, body=orjson.dumps(payload), repeat=True)
    async with make_session() as session:
        tasks = await bw.list_call_tasks(session, page=3)
        users = await bw.list_task_users(session, 9, page=3)
    for page in (tasks, users):
        assert (page.items, page.page) == ([], 3)
        assert page.count == (int(payload["count"]) if "count" in payload else None)


@pytest.mark.parametrize("value", [{}, "none", 0, True])
async def test_a_list_that_is_neither_a_list_nor_null_is_a_decode_error(
    mocked: MockedHTTP, make_session: Callable[..., bw.Session], value: Any
) -> None:
    mocked.get(ANY, body=orjson.dumps({"callTask": value, "count": 1}))
    async with make_session() as session:
        with pytest.raises(bw.DecodeError) as info:
            await bw.list_call_tasks(session)
    assert info.value.field == "$.callTask"
