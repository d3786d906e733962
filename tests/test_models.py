"""Models and the converter: the reference's payloads, every quirk, and NewCallTask checks."""

from __future__ import annotations

from datetime import date, datetime

import orjson
import pytest

import bangwo8_async as bw
from bangwo8_async._http.response import decode_response
from bangwo8_async.converter import make_converter, structure, structure_list, unstructure_new_task

from .conftest import vendor


def body(name: str) -> dict:
    return decode_response(200, {}, vendor(name))


def test_list_example_structures() -> None:
    tasks = structure_list(body("list_call_tasks")["callTask"], bw.CallTask, endpoint="t")
    assert tasks == [
        bw.CallTask(
            49242970, "外呼任务1", date(2022, 5, 9), date(2022, 5, 10), bw.TaskStatus.IN_PROGRESS
        ),
        bw.CallTask(
            49242971, "外呼任务2", date(2022, 5, 11), date(2022, 5, 12), bw.TaskStatus.IN_PROGRESS
        ),
    ]


def test_detail_example_reads_startime() -> None:
    detail = structure(body("get_call_task")["callTask"], bw.CallTaskDetail, endpoint="t")
    assert detail == bw.CallTaskDetail(
        49242970,
        "外呼任务1",
        date(2022, 5, 9),
        date(2022, 5, 10),
        bw.TaskStatus.IN_PROGRESS,
        agent_id=567332,
        phone_count=2,
        complete_count=2,
        connect_count=2,
    )
    assert isinstance(detail, bw.CallTask)


def test_created_example_reads_illegal_count_array() -> None:
    created = structure(body("create_call_task")["callTask"], bw.CreatedCallTask, endpoint="t")
    assert created.illegal_ids == [378594, 264758]
    assert created.illegal_count == 2
    assert created.sum_count is None
    assert (created.legal_count, created.success_count, created.failure_count) == (1, 1, 2)
    assert created.assignments == [
        bw.Assignment(49242970, [321456, 378594], 567332),
        bw.Assignment(49242970, [264758], 345294),
    ]


def test_created_table_shape_illegal_data_and_numeric_count() -> None:
    raw = {
        "task_name": "t",
        "task_start": "2022-05-09 08:00:00",
        "task_end": "2022-05-10",
        "sumCount": "3",
        "legalCount": "1",
        "illegalData": ["5", 6],
        "illegalCount": "2",
        "successCount": 1,
        "failureCount": 2,
        "data": [],
    }
    created = structure(raw, bw.CreatedCallTask, endpoint="t")
    assert created.task_start == datetime(2022, 5, 9, 8, 0, 0)
    assert (created.sum_count, created.illegal_ids, created.illegal_count) == (3, [5, 6], 2)


def test_users_example_flattens_and_reads_labels() -> None:
    users = structure_list(body("list_task_users")["callTask"], bw.TaskUser, endpoint="t")
    assert users[0] == bw.TaskUser(
        16798, 9516936, 5061778, "测试公司联系人1", "测试公司2", "13011112228", bw.Progress.PENDING
    )
    assert users[1].phone == "1"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("待处理", bw.Progress.PENDING),
        ("未接听", bw.Progress.UNANSWERED),
        ("已完成", bw.Progress.COMPLETED),
        (-1, bw.Progress.PENDING),
        ("0", bw.Progress.UNANSWERED),
        (1, bw.Progress.COMPLETED),
        ("已转接", "已转接"),
        (7, "7"),
    ],
)
def test_progress_from_code_or_label_unknown_kept_raw(raw: object, expected: object) -> None:
    user = {
        "callTaskid": 1,
        "userList": {
            "cId": "",
            "uId": 2,
            "userName": "a",
            "companyName": "b",
            "phone": 13800000000,
            "progress": raw,
        },
    }
    result = structure(user, bw.TaskUser, endpoint="t")
    assert result.progress == expected
    assert type(result.progress) is type(expected)
    assert result.contact_id is None
    assert result.phone == "13800000000"


def test_progress_enum_accepts_code_and_label() -> None:
    assert bw.Progress("待处理") is bw.Progress.PENDING
    assert bw.Progress("-1") is bw.Progress.PENDING
    assert bw.Progress.COMPLETED.label == "已完成"
    with pytest.raises(ValueError):
        bw.Progress("nope")


def test_unknown_status_kept_raw() -> None:
    raw = {
        "callTaskId": 1,
        "task_name": "x",
        "task_start": "2022-01-01",
        "task_end": "2022-01-02",
        "complete": "已暂停",
    }
    assert structure(raw, bw.CallTask, endpoint="t").status == "已暂停"


@pytest.mark.parametrize("bad", [True, 1.0, "1.5", "", None, [1], "abc", "12a"])
def test_bool_float_and_junk_are_not_ids(bad: object) -> None:
    raw = {
        "callTaskId": bad,
        "task_name": "x",
        "task_start": "2022-01-01",
        "task_end": "2022-01-02",
        "complete": "进行中",
    }
    with pytest.raises(bw.DecodeError) as info:
        structure_list([raw], bw.CallTask, endpoint="list_call_tasks", path="$.callTask")
    assert info.value.endpoint == "list_call_tasks"
    assert info.value.field == "$.callTask[0].call_task_id"
    assert "list_call_tasks" in str(info.value)


def test_missing_field_is_named() -> None:
    raw = {
        "callTaskId": 1,
        "task_start": "2022-01-01",
        "task_end": "2022-01-02",
        "complete": "进行中",
    }
    with pytest.raises(bw.DecodeError) as info:
        structure(raw, bw.CallTask, endpoint="get_call_task", path="$.callTask")
    assert info.value.field == "$.callTask.task_name"


def test_empty_optional_agent_becomes_none() -> None:
    raw = orjson.loads(vendor("get_call_task").replace("\u00a0".encode(), b" "))["callTask"]
    raw["task_service"] = ""
    assert structure(raw, bw.CallTaskDetail, endpoint="t").agent_id is None


def test_new_task_unstructures_to_the_reference_request_byte_for_byte() -> None:
    new = bw.NewCallTask(
        "外呼任务名称1",
        date(2022, 5, 20),
        date(2022, 5, 23),
        [321456, 378594, 264758],
        [567332, 345294, 655758],
        bw.DataSource.COMPANY,
    )
    assert orjson.dumps(unstructure_new_task(new)) == vendor("create_request")
    assert make_converter().unstructure(new) == unstructure_new_task(new)


def test_new_task_datetimes_and_contact_source() -> None:
    new = bw.NewCallTask(
        "x", datetime(2022, 5, 20, 9, 30), datetime(2022, 5, 20, 18, 0), (1,), (2,), "1"
    )
    inner = unstructure_new_task(new)["callTask"]
    assert inner["task_start"] == "2022-05-20 09:30:00"
    assert inner["data_source"] == "1"
    assert new.data_source is bw.DataSource.CONTACT


GOOD = {
    "task_name": "t",
    "task_start": date(2022, 5, 20),
    "task_end": date(2022, 5, 21),
    "customer_ids": [1],
    "agent_ids": [2],
    "data_source": bw.DataSource.CONTACT,
}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("task_name", ""),
        ("task_name", "   "),
        ("task_name", 5),
        ("task_start", "2022-05-20"),
        ("task_end", None),
        ("task_start", date(2022, 5, 22)),
        ("customer_ids", []),
        ("customer_ids", [0]),
        ("customer_ids", [True]),
        ("customer_ids", "123"),
        ("customer_ids", [1.0]),
        ("customer_ids", None),
        ("agent_ids", [-3]),
        ("agent_ids", []),
        ("agent_ids", ["7"]),
        ("data_source", "2"),
        ("data_source", 0),
        ("data_source", None),
    ],
)
def test_new_task_validation_names_the_field(field: str, value: object) -> None:
    with pytest.raises(bw.ValidationError) as info:
        bw.NewCallTask(**{**GOOD, field: value})
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


def test_start_equal_to_end_and_date_as_midnight() -> None:
    bw.NewCallTask(**{**GOOD, "task_start": date(2022, 5, 21)})
    bw.NewCallTask(
        **{**GOOD, "task_start": date(2022, 5, 21), "task_end": datetime(2022, 5, 21, 0, 0)}
    )
    with pytest.raises(bw.ValidationError):
        bw.NewCallTask(
            **{**GOOD, "task_start": datetime(2022, 5, 21, 0, 1), "task_end": date(2022, 5, 21)}
        )


def test_new_task_is_frozen_and_ids_are_tuples() -> None:
    ids = [1, 2]
    new = bw.NewCallTask(**{**GOOD, "customer_ids": ids})
    ids.append(3)
    assert new.customer_ids == (1, 2)
    with pytest.raises(AttributeError):
        new.task_name = "other"  # type: ignore[misc]


def test_page_last_page() -> None:
    page = bw.Page(items=[], count=201, page=1, per_page=100, next_page=None, previous_page=None)
    assert page.last_page == 3
    assert bw.Page([], None, 1, 100, None, None).last_page is None
