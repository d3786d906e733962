"""The fake's PHP-server behaviours, each an option, checked on the wire with a raw client."""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple

import aiohttp
import orjson
import pytest

from bangwo8_async.auth import basic_header
from bangwo8_async.testing import FakeBangwo8, FakeState, Fault, LoggedRequest

TASKS = "/callTask.json"


class Answer(NamedTuple):
    status: int
    content_type: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


async def call(
    fake: FakeBangwo8, path: str, method: str = "GET", auth: tuple[str, str] | None = None
) -> Answer:
    """One request with the fake's admin (or the given) Basic credentials."""
    user, password = auth or (fake.account, fake.password)
    headers = {"Authorization": basic_header(user, password)}
    async with aiohttp.ClientSession() as http:
        async with http.request(method, fake.base_url + path, headers=headers) as resp:
            return Answer(
                resp.status,
                resp.headers.get("Content-Type", ""),
                dict(resp.headers),
                await resp.read(),
            )


def ids(answer: Answer) -> list[int]:
    return [int(item["callTaskId"]) for item in answer.json()["callTask"]]


def users_path(fake: FakeBangwo8, index: int = 0, query: str = "") -> str:
    return f"/callTask/userList/{fake.state.order[index]}.json{query}"


# -- page_cap ---------------------------------------------------------------------------------


async def test_page_cap_serves_fewer_rows_and_pages_by_the_size_it_serves() -> None:
    async with FakeBangwo8(tasks=25, page_cap=10) as fake:
        order = list(fake.state.order)
        pages = [await call(fake, f"{TASKS}?page={n}&per_page=20") for n in (1, 2, 3)]
        assert [ids(p) for p in pages] == [order[0:10], order[10:20], order[20:25]]
        assert {p.json()["count"] for p in pages} == {25}  # the count stays true
        assert pages[1].json()["next_page"].endswith("page=3")
        assert pages[2].json()["next_page"] is None
        assert ids(await call(fake, f"{TASKS}?page=2&per_page=4")) == order[4:8]  # below the cap
        fake.page_cap = None  # flipped while serving: the cached page must not come back
        assert ids(await call(fake, f"{TASKS}?page=1&per_page=20")) == order[0:20]


async def test_page_cap_applies_to_the_customer_list() -> None:
    async with FakeBangwo8(tasks=2, users_per_task=12) as fake:
        whole = (await call(fake, users_path(fake, query="?per_page=100"))).json()["callTask"]
        fake.page_cap = 5
        capped = (await call(fake, users_path(fake, query="?page=2&per_page=10"))).json()
    assert capped["callTask"] == whole[5:10]
    assert capped["count"] == "12"


# -- count ------------------------------------------------------------------------------------


async def test_send_count_false_leaves_count_out_of_both_lists() -> None:
    async with FakeBangwo8(tasks=5, send_count=False) as fake:
        tasks = (await call(fake, TASKS)).json()
        users = (await call(fake, users_path(fake))).json()
    assert "count" not in tasks and "count" not in users
    assert len(tasks["callTask"]) == 5 and len(users["callTask"]) == 3


async def test_count_excess_overstates_the_count_and_the_links_follow_it() -> None:
    async with FakeBangwo8(tasks=20, count_excess=5) as fake:
        last = (await call(fake, f"{TASKS}?page=2&per_page=10")).json()
        users = (await call(fake, users_path(fake))).json()
        past = (await call(fake, f"{TASKS}?page=3&per_page=10")).json()
    assert last["count"] == 25 and len(last["callTask"]) == 10
    assert last["next_page"].endswith("page=3")  # the server believes its own count
    assert past["callTask"] == [] and past["next_page"] is None
    assert users["count"] == "8" and len(users["callTask"]) == 3


# -- the end of a list ------------------------------------------------------------------------


async def test_clamp_pages_answers_the_last_page_again_past_the_end() -> None:
    async with FakeBangwo8(tasks=25, clamp_pages=True) as fake:
        last = await call(fake, f"{TASKS}?page=3&per_page=10")
        past = await call(fake, f"{TASKS}?page=9&per_page=10")
        users_last = await call(fake, users_path(fake, query="?page=2&per_page=2"))
        users_past = await call(fake, users_path(fake, query="?page=7&per_page=2"))
        fake.clamp_pages = False
        unclamped = await call(fake, f"{TASKS}?page=9&per_page=10")
    assert ids(past) == ids(last) == list(fake.state.order[20:25])
    assert past.json()["next_page"] is None
    assert users_past.json()["callTask"] == users_last.json()["callTask"]
    assert len(users_last.json()["callTask"]) == 1
    assert unclamped.json()["callTask"] == []


async def test_clamp_pages_leaves_an_empty_list_empty() -> None:
    async with FakeBangwo8(tasks=0, clamp_pages=True) as fake:
        assert (await call(fake, f"{TASKS}?page=2")).json()["callTask"] == []


async def test_clamp_pages_clamps_to_the_capped_last_page() -> None:
    async with FakeBangwo8(tasks=25, clamp_pages=True, page_cap=10) as fake:
        past = await call(fake, f"{TASKS}?page=5&per_page=50")
        assert ids(past) == list(fake.state.order[20:25])


@pytest.mark.parametrize(
    ("option", "expected"), [("null_lists", {"callTask": None}), ("omit_empty_list", {})]
)
async def test_an_empty_page_says_null_or_nothing(option: str, expected: dict[str, Any]) -> None:
    async with FakeBangwo8(tasks=5) as fake:
        setattr(fake, option, True)
        full = (await call(fake, TASKS)).json()
        empty = (await call(fake, f"{TASKS}?page=2")).json()
        users_empty = (await call(fake, users_path(fake, query="?page=2"))).json()
        setattr(fake, option, False)
        plain = (await call(fake, f"{TASKS}?page=2")).json()
    assert len(full["callTask"]) == 5
    assert {k: v for k, v in empty.items() if k == "callTask"} == expected
    assert {k: v for k, v in users_empty.items() if k == "callTask"} == expected
    assert empty["count"] == 5 and plain["callTask"] == []


async def test_omit_empty_list_wins_over_null_lists() -> None:
    async with FakeBangwo8(tasks=1, null_lists=True, omit_empty_list=True) as fake:
        assert "callTask" not in (await call(fake, f"{TASKS}?page=2")).json()


# -- bodies -----------------------------------------------------------------------------------


async def test_bom_comes_before_every_json_body() -> None:
    async with FakeBangwo8(tasks=3) as fake:
        plain = await call(fake, TASKS)
        fake.bom = True
        victim = fake.state.order[0]
        answers = [
            await call(fake, TASKS),
            await call(fake, f"/callTask/{victim}.json"),
            await call(fake, "/nothing.json"),
            await call(fake, TASKS, auth=("nobody", "wrong")),
            await call(fake, f"/callTask/{victim}.json", method="DELETE"),
            await call(fake, f"/callTask/{victim}.json", method="DELETE"),
        ]
    assert [a.status for a in answers] == [200, 200, 404, 401, 200, 200]
    assert all(a.body.startswith(b"\xef\xbb\xbf") for a in answers)
    assert orjson.loads(answers[0].body[3:]) == plain.json()
    assert orjson.loads(answers[2].body[3:])["errcode"] == "100047"
    assert orjson.loads(answers[5].body[3:])["Status"] == "403"
    assert answers[4].body[3:].startswith(b'{\n    "Status": 200 OK')
    assert not plain.body.startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize("charset", ["gbk", "gb18030"])
async def test_charset_encodes_json_bodies_and_says_so(charset: str) -> None:
    async with FakeBangwo8(tasks=3, charset=charset) as fake:
        encoded = await call(fake, users_path(fake))
        error = await call(fake, "/callTask/1.json")
        fake.charset = None
        plain = await call(fake, users_path(fake))
    assert encoded.content_type == f"application/json; charset={charset}"
    assert orjson.loads(encoded.body.decode(charset)) == plain.json()
    with pytest.raises(UnicodeDecodeError):
        encoded.body.decode("utf-8")  # the Chinese names really are in the other charset
    names = [row["userList"]["companyName"] for row in plain.json()["callTask"]]
    assert all("有限公司" in name for name in names)
    assert error.content_type == f"application/json; charset={charset}"
    assert "charset" not in plain.content_type


async def test_html_ok_is_a_200_html_page_and_does_no_work() -> None:
    async with FakeBangwo8(tasks=3) as fake:
        victim = fake.state.order[0]
        fake.inject(Fault.HTML_OK)
        answer = await call(fake, f"/callTask/{victim}.json", method="DELETE")
        assert answer.status == 200 and answer.content_type.startswith("text/html")
        assert answer.body.startswith(b"<!DOCTYPE html>")
        assert victim in fake.state
        assert fake.log[-1].fault is Fault.HTML_OK and fake.log[-1].status == 200


# -- changes during an export -----------------------------------------------------------------


async def test_on_list_runs_just_before_the_page_is_read() -> None:
    seen: list[tuple[str, dict[str, str]]] = []

    def insert_on_page_two(entry: LoggedRequest, state: FakeState) -> None:
        seen.append((entry.path, entry.query))
        if entry.query.get("page") == "2":
            state.add_tasks(1, front=True)

    async with FakeBangwo8(tasks=10, on_list=insert_on_page_two) as fake:
        before = list(fake.state.order)
        first = await call(fake, f"{TASKS}?page=1&per_page=5")
        second = await call(fake, f"{TASKS}?page=2&per_page=5")
        await call(fake, users_path(fake, query="?page=1"))
    assert ids(first) == before[0:5]
    assert ids(second) == before[4:9]  # shifted by the insert made just before the read
    assert (first.json()["count"], second.json()["count"]) == (10, 11)
    assert [q for _, q in seen] == [
        {"page": "1", "per_page": "5"},
        {"page": "2", "per_page": "5"},
        {"page": "1"},
    ]
    assert seen[2][0].startswith("/api/v1/callTask/userList/")


async def test_on_list_can_change_a_customer_row_between_reads() -> None:
    row = {
        "cId": "1",
        "uId": "2",
        "userName": "王伟",
        "companyName": "北京科技有限公司",
        "phone": "010-61234567",
        "progress": "待处理",
    }

    async with FakeBangwo8(tasks=1) as fake:
        task = fake.state.order[0]

        def progress(entry: LoggedRequest, state: FakeState) -> None:
            state.set_customers(task, [{**row, "progress": "已完成"}])

        fake.state.set_customers(task, [row])
        before = (await call(fake, users_path(fake))).json()
        fake.on_list = progress
        after = (await call(fake, users_path(fake))).json()
    assert before["callTask"][0]["userList"]["progress"] == "待处理"
    assert after["callTask"][0]["userList"] == {**row, "progress": "已完成"}


async def test_insert_every_adds_a_task_at_the_front() -> None:
    async with FakeBangwo8(tasks=10, insert_every=2) as fake:
        before = list(fake.state.order)
        answers = [await call(fake, f"{TASKS}?per_page=3") for _ in range(4)]
        await call(fake, users_path(fake))  # customer lists do not count
    counts = [a.json()["count"] for a in answers]
    assert counts == [10, 11, 11, 12]
    new = fake.state.order[:2]
    assert ids(answers[1])[0] == new[1] and ids(answers[3])[:2] == new
    assert not set(new) & set(before) and fake.state.order[2:] == before


async def test_delete_every_deletes_a_seeded_choice() -> None:
    survivors = []
    for _ in range(2):
        async with FakeBangwo8(tasks=10, delete_every=3, seed=5) as fake:
            answers = [await call(fake, TASKS) for _ in range(6)]
            survivors.append(list(fake.state.order))
        assert [a.json()["count"] for a in answers] == [10, 10, 9, 9, 9, 8]
        assert len(set(ids(answers[1])) - set(ids(answers[2]))) == 1
    assert survivors[0] == survivors[1]


async def test_jitter_reads_on_arrival_and_answers_out_of_order() -> None:
    read = asyncio.Event()
    # Seed 14 draws a long hold (0.48 s) for the first answer, a short one for the second.
    async with FakeBangwo8(tasks=10, jitter=0.5, seed=14, on_list=lambda *_: read.set()) as fake:
        first_id = fake.state.order[0]
        done: list[str] = []

        async def page(n: int) -> Answer:
            answer = await call(fake, f"{TASKS}?page={n}&per_page=5")
            done.append(str(n))
            return answer

        one = asyncio.create_task(page(1))
        await read.wait()
        fake.state.delete(first_id)  # after page 1 was read, before it is answered
        two = await page(2)
        first = await one
    assert done == ["2", "1"]
    assert ids(first)[0] == first_id and first.json()["count"] == 10
    assert two.json()["count"] == 9


# -- set_customers ----------------------------------------------------------------------------


async def test_set_customers_serves_exactly_these_rows_in_order() -> None:
    contact = {
        "cId": "9",
        "uId": "5",
        "userName": "李娜",
        "companyName": "上海贸易有限公司",
        "progress": "待处理",
    }
    nobody = {
        "cId": "",
        "uId": "7",
        "userName": "",
        "companyName": "广州物流有限公司",
        "phone": "13800000000",
        "progress": "0",
    }
    rows = [{**contact, "phone": p} for p in ("13900000001", "13900000002", "+86 139")]
    rows += [{**nobody, "userName": n} for n in ("张三", "李四", "王五")] + [nobody, nobody]
    async with FakeBangwo8(tasks=2) as fake:
        task = fake.state.order[1]
        fake.state.set_customers(task, rows)
        pages = [
            (await call(fake, f"/callTask/userList/{task}.json?page={n}&per_page=3")).json()
            for n in (1, 2, 3)
        ]
        detail = (await call(fake, f"/callTask/{task}.json")).json()
        other = (await call(fake, users_path(fake, 0))).json()
        with pytest.raises(KeyError):
            fake.state.set_customers(1, rows)
    served = [item for p in pages for item in p["callTask"]]
    assert [item["userList"] for item in served] == rows
    assert {item["callTaskid"] for item in served} == {str(task)}
    assert {p["count"] for p in pages} == {"8"}
    assert detail["callTask"]["phoneCount"] == "8"
    assert other["count"] == "3"  # the other task keeps its seeded rows
