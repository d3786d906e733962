"""Each endpoint against the reference's own example payloads, and input refused before sending."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import orjson
import pytest
from aioresponses import aioresponses
from yarl import URL

import bangwo8_async as bw

from .conftest import BASE, vendor

ANY = re.compile(r".*")


def sent(m: aioresponses) -> list[tuple[str, URL, dict[str, Any]]]:
    return [
        (method, url, call.kwargs) for (method, url), calls in m.requests.items() for call in calls
    ]


async def test_list_call_tasks(
    mocked: aioresponses, make_session: Callable[..., bw.Session]
) -> None:
    mocked.get(re.compile(r".*/callTask\.json.*"), body=vendor("list_call_tasks"))
    async with make_session() as session:
        page = await bw.list_call_tasks(
            session, page=2, per_page=40, created_start=date(2020, 6, 8)
        )
    assert [t.call_task_id for t in page.items] == [49242970, 49242971]
    assert (page.count, page.page, page.per_page) == (1024, 2, 40)
    assert page.next_page and page.next_page.endswith("page=2")
    assert page.previous_page is None
    [(method, url, kwargs)] = sent(mocked)
    assert (method, str(url.with_query(None))) == ("GET", f"{BASE}/callTask.json")
    assert dict(url.query) == {"created_start": "2020-06-08", "page": "2", "per_page": "40"}
    assert "Requestid" not in kwargs["headers"]
    assert kwargs["headers"]["Authorization"].startswith("Basic ")


async def test_get_call_task(mocked: aioresponses, make_session: Callable[..., bw.Session]) -> None:
    mocked.get(f"{BASE}/callTask/4360708.json", body=vendor("get_call_task"))
    async with make_session() as session:
        detail = await bw.get_call_task(session, 4360708)
    assert detail.task_start == date(2022, 5, 9)
    assert (detail.agent_id, detail.phone_count) == (567332, 2)


async def test_create_call_task_sends_the_reference_body(
    mocked: aioresponses, make_session: Callable[..., bw.Session]
) -> None:
    mocked.post(f"{BASE}/callTask.json", body=vendor("create_call_task"))
    new = bw.NewCallTask(
        "外呼任务名称1",
        date(2022, 5, 20),
        date(2022, 5, 23),
        [321456, 378594, 264758],
        [567332, 345294, 655758],
        bw.DataSource.COMPANY,
    )
    async with make_session() as session:
        created = await bw.create_call_task(session, new, request_id="req-42")
    assert created.illegal_ids == [378594, 264758]
    [(method, _, kwargs)] = sent(mocked)
    assert method == "POST"
    assert kwargs["data"] == vendor("create_request")
    assert kwargs["headers"]["Content-Type"] == "application/json"
    assert kwargs["headers"]["Requestid"] == "req-42"


async def test_create_generates_a_uuid4_request_id(
    mocked: aioresponses, make_session: Callable[..., bw.Session]
) -> None:
    mocked.post(f"{BASE}/callTask.json", body=vendor("create_call_task"), repeat=True)
    new = bw.NewCallTask("n", date(2022, 5, 20), date(2022, 5, 23), [1], [2], bw.DataSource.CONTACT)
    async with make_session() as session:
        await bw.create_call_task(session, new)
        await bw.create_call_task(session, new)
    ids = [kwargs["headers"]["Requestid"] for _, _, kwargs in sent(mocked)]
    assert len(set(ids)) == 2
    assert all(re.fullmatch(r"[0-9a-f-]{36}", i) and i[14] == "4" for i in ids)


async def test_delete_accepts_the_non_json_success_body(
    mocked: aioresponses, make_session: Callable[..., bw.Session]
) -> None:
    mocked.delete(f"{BASE}/callTask/18738405.json", body=vendor("delete_call_task"))
    async with make_session() as session:
        assert await bw.delete_call_task(session, 18738405) is None


async def test_delete_of_a_missing_task_is_not_found(
    mocked: aioresponses, make_session: Callable[..., bw.Session]
) -> None:
    mocked.delete(f"{BASE}/callTask/1.json", body=vendor("delete_not_found"))
    async with make_session() as session:
        with pytest.raises(bw.NotFoundError) as info:
            await bw.delete_call_task(session, 1)
    assert info.value.status == 403
    assert info.value.attempts == 1


async def test_list_task_users(
    mocked: aioresponses, make_session: Callable[..., bw.Session]
) -> None:
    mocked.get(re.compile(r".*/callTask/userList/3214556\.json.*"), body=vendor("list_task_users"))
    async with make_session() as session:
        page = await bw.list_task_users(session, 3214556, per_page=50)
    assert (page.count, page.next_page, page.previous_page) == (2, None, None)
    assert [u.contact_id for u in page.items] == [9516936, 9516345]
    [(_, url, _)] = sent(mocked)
    assert dict(url.query) == {"page": "1", "per_page": "50"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"callTask": [{"callTaskId": "x"}]}, "$.callTask[0]"),
        ({"callTask": "nope", "count": 1}, "$.callTask"),
        ([1, 2], "$"),
    ],
)
async def test_bad_list_payloads_are_decode_errors(
    mocked: aioresponses, make_session: Callable[..., bw.Session], payload: Any, field: str
) -> None:
    mocked.get(ANY, body=orjson.dumps(payload))
    async with make_session() as session:
        with pytest.raises(bw.DecodeError) as info:
            await bw.list_call_tasks(session)
    assert info.value.field is not None and info.value.field.startswith(field)
    assert info.value.endpoint == "list_call_tasks"


async def test_count_missing_or_not_a_number_is_none(
    mocked: aioresponses, make_session: Callable[..., bw.Session]
) -> None:
    mocked.get(ANY, body=b'{"callTask": [], "count": "many"}')
    mocked.get(ANY, body=b'{"callTask": []}')
    mocked.get(ANY, body=b'{"count": "0"}')
    async with make_session() as session:
        assert (await bw.list_call_tasks(session)).count is None
        assert (await bw.list_call_tasks(session)).count is None
        empty = await bw.list_call_tasks(session)
    assert (empty.count, empty.items) == (0, [])


BAD_IDS = [0, -1, True, False, 1.0, "1", None, 2**70 * 0 - 5, [1]]
CALLS: list[Callable[[bw.Session, Any], Any]] = [
    lambda s, i: bw.get_call_task(s, i),
    lambda s, i: bw.delete_call_task(s, i),
    lambda s, i: bw.list_task_users(s, i),
]


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("call", CALLS)
async def test_bad_ids_refused_before_any_request(
    mocked: aioresponses, make_session: Callable[..., bw.Session], bad: Any, call: Any
) -> None:
    async with make_session() as session:
        with pytest.raises(bw.ValidationError) as info:
            await call(session, bad)
    assert info.value.field == "call_task_id"
    assert sent(mocked) == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"page": 0}, "page"),
        ({"page": True}, "page"),
        ({"per_page": 101}, "per_page"),
        ({"per_page": 0}, "per_page"),
        ({"per_page": 2.0}, "per_page"),
        ({"created_start": "2020-01-01"}, "created_start"),
        ({"created_end": datetime(2020, 1, 1)}, "created_end"),
        ({"created_start": date(2020, 2, 1), "created_end": date(2020, 1, 1)}, "created_start"),
    ],
)
async def test_bad_paging_refused_before_any_request(
    mocked: aioresponses, make_session: Callable[..., bw.Session], kwargs: Any, field: str
) -> None:
    async with make_session() as session:
        with pytest.raises(bw.ValidationError) as info:
            await bw.list_call_tasks(session, **kwargs)
    assert info.value.field == field
    assert sent(mocked) == []


@pytest.mark.parametrize("bad", [None, {"callTask": {}}, "task"])
async def test_create_refuses_anything_but_a_new_call_task(
    mocked: aioresponses, make_session: Callable[..., bw.Session], bad: Any
) -> None:
    async with make_session() as session:
        with pytest.raises(bw.ValidationError):
            await bw.create_call_task(session, bad)
        new = bw.NewCallTask("n", date(2022, 1, 1), date(2022, 1, 2), [1], [2], "0")
        with pytest.raises(bw.ValidationError):
            await bw.create_call_task(session, new, request_id="bad\r\nheader")
    assert sent(mocked) == []
