"""bw.to_dict: every SDK model as a JSON-ready dict, by its SDK names."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bangwo8_async as bw
from bangwo8_async._http.response import decode_response
from bangwo8_async.call_tasks import _page, _structured, call_tasks_of, task_users_of
from bangwo8_async.converter import structure

from .conftest import vendor


def body(name: str) -> Any:
    return decode_response(200, {}, vendor(name))


def json_ready(value: dict[str, Any]) -> dict[str, Any]:
    """to_dict's result, which must survive JSON unchanged (no enum, date or tuple left)."""
    assert orjson.loads(orjson.dumps(value)) == value
    return value


def test_call_task_detail() -> None:
    detail = structure(body("get_call_task")["callTask"], bw.CallTaskDetail, endpoint="t")
    assert json_ready(bw.to_dict(detail)) == {
        "call_task_id": 49242970,
        "task_name": "外呼任务1",
        "task_start": "2022-05-09",
        "task_end": "2022-05-10",
        "status": "进行中",
        "agent_id": 567332,
        "phone_count": 2,
        "complete_count": 2,
        "connect_count": 2,
    }
    assert type(bw.to_dict(detail)["status"]) is str


def test_datetimes_are_iso_8601_with_a_t_and_seconds() -> None:
    task = bw.CallTask(
        1, "n", datetime(2022, 5, 9, 8, 30), datetime(2022, 5, 9, 18, 0, 5, 999), "新状态"
    )
    assert json_ready(bw.to_dict(task)) == {
        "call_task_id": 1,
        "task_name": "n",
        "task_start": "2022-05-09T08:30:00",
        "task_end": "2022-05-09T18:00:05",
        "status": "新状态",
    }
    aware = bw.NewCallTask(
        "n",
        datetime(2022, 5, 9, 8, 0, tzinfo=timezone(timedelta(hours=8))),
        date(2022, 5, 10),
        [1],
        [2],
        bw.DataSource.COMPANY,
    )
    assert bw.to_dict(aware)["task_start"] == "2022-05-09T08:00:00+08:00"


def test_created_call_task_with_its_assignments() -> None:
    created = structure(body("create_call_task")["callTask"], bw.CreatedCallTask, endpoint="t")
    assert json_ready(bw.to_dict(created)) == {
        "task_name": "外呼任务1",
        "task_start": "2022-05-09",
        "task_end": "2022-05-10",
        "sum_count": None,
        "legal_count": 1,
        "illegal_ids": [378594, 264758],
        "illegal_count": 2,
        "success_count": 1,
        "failure_count": 2,
        "assignments": [
            {"call_task_id": 49242970, "customer_ids": [321456, 378594], "agent_id": 567332},
            {"call_task_id": 49242970, "customer_ids": [264758], "agent_id": 345294},
        ],
    }


def test_task_users_progress_by_code_and_raw_values_kept() -> None:
    pending = bw.TaskUser(
        16798, 9516936, None, "联系人", "公司", "+8613011112228", bw.Progress.PENDING
    )
    assert json_ready(bw.to_dict(pending)) == {
        "call_task_id": 16798,
        "contact_id": 9516936,
        "company_id": None,
        "user_name": "联系人",
        "company_name": "公司",
        "phone": "+8613011112228",
        "progress": -1,
    }
    assert type(bw.to_dict(pending)["progress"]) is int
    assert bw.to_dict(attrs.evolve(pending, progress="回访中"))["progress"] == "回访中"


def test_new_call_task_sequences_are_lists_and_data_source_its_value() -> None:
    new = bw.NewCallTask(
        "n", date(2022, 5, 20), date(2022, 5, 23), (3, 1), [2], bw.DataSource.CONTACT
    )
    assert json_ready(bw.to_dict(new)) == {
        "task_name": "n",
        "task_start": "2022-05-20",
        "task_end": "2022-05-23",
        "customer_ids": [3, 1],
        "agent_ids": [2],
        "data_source": "1",
    }


@pytest.mark.parametrize(
    ("name", "cl"), [("list_call_tasks", bw.CallTask), ("list_task_users", bw.TaskUser)]
)
def test_a_page_with_its_items(name: str, cl: type) -> None:
    unread = _page(body(name), 2, 50, "t")
    page = _structured(
        unread, (call_tasks_of if cl is bw.CallTask else task_users_of)(unread.items)
    )
    out = json_ready(bw.to_dict(page))
    assert out["items"] == [bw.to_dict(item) for item in page.items]
    assert len(out["items"]) == 2
    assert {k: v for k, v in out.items() if k != "items"} == {
        "count": page.count,
        "page": 2,
        "per_page": 50,
        "next_page": page.next_page,
        "previous_page": None,
    }
    assert bw.to_dict(bw.Page([], None, 1, 100, None, None))["items"] == []


@pytest.mark.parametrize(
    "value",
    [
        None,
        {"call_task_id": 1},
        [bw.CallTask(1, "n", date(2022, 1, 1), date(2022, 1, 1), "x")],
        bw.TaskStatus.COMPLETED,
        bw.Session,
        object(),
    ],
)
def test_anything_but_a_model_is_a_validation_error(value: object) -> None:
    with pytest.raises(bw.ValidationError) as info:
        bw.to_dict(value)
    assert info.value.field == "model"


def test_a_subclass_of_a_model_is_not_silently_cut_down() -> None:
    @attrs.frozen
    class Mine(bw.CallTask):
        extra: str

    with pytest.raises(bw.ValidationError):
        bw.to_dict(Mine(1, "n", date(2022, 1, 1), date(2022, 1, 1), "x", "more"))


moments = st.one_of(st.dates(), st.datetimes().map(lambda d: d.replace(microsecond=0)))


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    start=moments,
    end=moments,
    status=st.one_of(st.sampled_from(bw.TaskStatus), st.text()),
    progress=st.one_of(st.sampled_from(bw.Progress), st.text()),
)
def test_iso_strings_read_back_to_the_same_values(
    start: date, end: date, status: bw.TaskStatus | str, progress: bw.Progress | str
) -> None:
    task = json_ready(bw.to_dict(bw.CallTask(7, "n", start, end, status)))
    for key, value in (("task_start", start), ("task_end", end)):
        kind = datetime if isinstance(value, datetime) else date
        assert kind.fromisoformat(task[key]) == value
    assert task["status"] == (status.value if isinstance(status, bw.TaskStatus) else status)
    user = bw.to_dict(bw.TaskUser(7, None, None, "u", "c", "1", progress))
    assert user["progress"] == (int(progress) if isinstance(progress, bw.Progress) else progress)
    assert list(user) == [f.name for f in attrs.fields(bw.TaskUser)]


def test_equal_moments_keep_their_own_text() -> None:
    """The ISO text memo never hands one value's text to another that compares equal."""
    east = datetime(2022, 5, 9, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    utc = datetime(2022, 5, 9, 0, 0, tzinfo=timezone.utc)
    assert east == utc
    texts = []
    for start in (date(2022, 5, 9), datetime(2022, 5, 9), east, utc, date(2022, 5, 9)):
        new = bw.NewCallTask("n", start, date(2022, 5, 10), [1], [2], bw.DataSource.COMPANY)
        texts.append(bw.to_dict(new)["task_start"])
    assert texts == [
        "2022-05-09",
        "2022-05-09T00:00:00",
        "2022-05-09T08:00:00+08:00",
        "2022-05-09T00:00:00+00:00",
        "2022-05-09",
    ]
