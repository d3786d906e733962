"""Fuzzing with hypothesis: bad server data and bad caller input never escape as anything
but the SDK's typed errors."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Coroutine
from datetime import date, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bangwo8_async as bw
from bangwo8_async._http.response import Expect, decode_response
from bangwo8_async.call_tasks import _member, _page, _structured, call_tasks_of, task_users_of
from bangwo8_async.converter import _DETAILED, _FAST, structure

from .conftest import vendor

# Derandomized: the same examples on every run, so CI is deterministic.
FUZZ = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["", "0", "-1", "1.5", "进行中", "待处理", "2022-13-45", "9" * 30]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def example(name: str) -> Any:
    return orjson.loads(vendor(name).replace("\u00a0".encode(), b" "))


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    """The payload with some of its values dropped, replaced by junk, or added to."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            action = draw(st.sampled_from(["keep", "keep", "mutate", "drop", "junk"]))
            if action == "keep":
                out[key] = item
            elif action == "mutate":
                out[key] = draw(mutated(item))
            elif action == "junk":
                out[key] = draw(junk)
        if draw(st.booleans()):
            out[draw(st.text(max_size=6))] = draw(junk)
        return out
    if isinstance(value, list):
        return [draw(mutated(item)) for item in value] + draw(st.lists(junk, max_size=2))
    return draw(st.one_of(st.just(value), junk))


def read(endpoint: str, body: bytes) -> Any:
    """What each endpoint function does with a 2xx body, without the network."""
    expect = Expect.ACKNOWLEDGEMENT if endpoint == "delete" else Expect.JSON
    data = decode_response(200, {}, body, expect=expect)
    if endpoint == "list":
        unread = _page(data, 1, 100, "list_call_tasks")
        return _structured(unread, call_tasks_of(unread.items))
    if endpoint == "users":
        unread = _page(data, 1, 100, "list_task_users")
        return _structured(unread, task_users_of(unread.items))
    if endpoint == "get":
        return structure(_member(data, "get_call_task"), bw.CallTaskDetail, endpoint="get")
    if endpoint == "create":
        return structure(_member(data, "create_call_task"), bw.CreatedCallTask, endpoint="create")
    return data


ENDPOINTS = {
    "list": "list_call_tasks",
    "users": "list_task_users",
    "get": "get_call_task",
    "create": "create_call_task",
    "delete": "delete_not_found",
}


def only_typed_errors(endpoint: str, body: bytes) -> None:
    # Typed errors are fine; anything else (KeyError, TypeError, ...) fails the test.
    with contextlib.suppress(bw.DecodeError, bw.APIError):
        read(endpoint, body)


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@FUZZ
@given(data=st.data())
def test_mutated_payloads_give_a_model_or_a_typed_error(endpoint: str, data: st.DataObject) -> None:
    payload = data.draw(mutated(example(ENDPOINTS[endpoint])))
    only_typed_errors(endpoint, json.dumps(payload, ensure_ascii=False).encode())


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@FUZZ
@given(
    body=st.binary(max_size=200)
    | st.sampled_from([b"\xff\xfe{}", b'{"callTask": [', b"<html>", b"null", b"[]", b"1e999"])
)
def test_bytes_that_are_not_json_give_decode_error(endpoint: str, body: bytes) -> None:
    only_typed_errors(endpoint, body)


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@FUZZ
@given(
    data=st.data(),
    codec=st.sampled_from(["gbk", "gb18030", "utf-8", "utf-16"]),
    boms=st.integers(1, 2),
)
def test_a_payload_reads_the_same_in_any_declared_charset_or_behind_boms(
    endpoint: str, data: st.DataObject, codec: str, boms: int
) -> None:
    text = json.dumps(data.draw(mutated(example(ENDPOINTS[endpoint]))), ensure_ascii=False)
    try:
        encoded = text.encode(codec)
    except UnicodeEncodeError:
        return  # a character the charset has no code for: the server could not send it
    if encoded.decode(codec) != text:
        return  # nor one it cannot give back unchanged
    headers = {"Content-Type": f"application/json; charset={codec}"}
    expected = outcome(lambda: decode_response(200, {}, text.encode()))
    assert outcome(lambda: decode_response(200, headers, encoded)) == expected
    with_boms = b"\xef\xbb\xbf" * boms + text.encode()
    assert outcome(lambda: decode_response(200, headers, with_boms)) == expected


def outcome(read: Callable[[], Any]) -> Any:
    """What a read gives: its value, or its typed error's class (and whether to retry)."""
    try:
        return read()
    except bw.Bangwo8Error as exc:
        return type(exc), getattr(exc, "retryable", None)


@pytest.mark.parametrize("cut", [1, 10, 100, 300])
def test_every_truncated_example_is_a_decode_error(cut: int) -> None:
    for endpoint, name in ENDPOINTS.items():
        if endpoint == "delete":
            continue
        body = orjson.dumps(example(name))
        with pytest.raises(bw.DecodeError):
            read(endpoint, body[: min(cut, len(body) - 1)])


records = st.fixed_dictionaries(
    {
        "callTaskId": st.one_of(st.integers(-5, 10**12), st.from_regex(r"\A-?[0-9]{1,12}\Z"), junk),
        "task_name": st.one_of(st.text(max_size=8), junk),
        "task_start": st.one_of(
            st.dates().map(str), st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")), junk
        ),
        "task_end": st.one_of(st.dates().map(str), junk),
        "complete": st.one_of(st.sampled_from(["进行中", "已完成", "逾期未完成", "新状态"]), junk),
    }
)


def assert_converters_agree(record: dict[str, Any], cl: type) -> None:
    """The hand-written hot-path hook gives what the cattrs-generated one gives."""
    outcomes = []
    for conv in (_FAST, _DETAILED):
        try:
            outcomes.append(conv.structure(record, cl))
        except Exception:
            outcomes.append("error")  # only agreement on failing is asserted
    assert outcomes[0] == outcomes[1]
    if outcomes[0] != "error":  # whatever was read can be written out again
        orjson.dumps(bw.to_dict(outcomes[0]))


@FUZZ
@given(record=records)
def test_fast_and_detailed_converters_agree(record: dict[str, Any]) -> None:
    assert_converters_agree(record, bw.CallTask)


user_records = st.fixed_dictionaries(
    {
        "callTaskid": st.one_of(st.integers(1, 10**9).map(str), junk),
        "userList": st.one_of(
            junk,
            st.fixed_dictionaries(
                {
                    "cId": st.one_of(st.just(""), st.integers(1, 10**9).map(str), junk),
                    "uId": st.one_of(st.just(""), st.integers(1, 10**9), junk),
                    "userName": st.one_of(st.text(max_size=5), junk),
                    "companyName": st.text(max_size=5),
                    "phone": st.one_of(st.from_regex(r"\A\+?[0-9 -]{1,14}\Z"), junk),
                    "progress": st.one_of(
                        st.sampled_from(["待处理", "未接听", "已完成", -1, 0, 1, "2"]), junk
                    ),
                }
            ),
        ),
    }
)


@FUZZ
@given(record=user_records)
def test_fast_and_detailed_user_converters_agree(record: dict[str, Any]) -> None:
    assert_converters_agree(record, bw.TaskUser)


# -- bad caller input --------------------------------------------------------------------------

not_an_id = st.one_of(
    st.integers(max_value=0),
    st.booleans(),
    st.floats(),
    st.text(max_size=5),
    st.none(),
    st.lists(st.integers(1, 5), max_size=2),
    st.binary(max_size=3),
    st.decimals(),
    st.dates(),
    st.sampled_from([1.0, "1", b"1", (1,), {1: 1}]),
)


def refused(coro: Coroutine[Any, Any, Any], session: bw.Session) -> bool:
    """Run the call up to its first suspension: it must raise ValidationError first."""
    try:
        coro.send(None)
    except bw.ValidationError:
        return session._transport._http is None  # type: ignore[attr-defined]  # no connection pool, let alone a request
    except BaseException:
        return False
    coro.close()
    return False


SESSION = bw.Session(bw.BasicAuth("admin", "pw"))
CALLS: dict[str, Callable[[Any], Coroutine[Any, Any, Any]]] = {
    "get": lambda v: bw.get_call_task(SESSION, v),
    "delete": lambda v: bw.delete_call_task(SESSION, v),
    "users": lambda v: bw.list_task_users(SESSION, v),
    "users page": lambda v: bw.list_task_users(SESSION, 1, page=v),
    "users per_page": lambda v: bw.list_task_users(SESSION, 1, per_page=v),
    "list page": lambda v: bw.list_call_tasks(SESSION, page=v),
    "list per_page": lambda v: bw.list_call_tasks(SESSION, per_page=v),
    "list created_start": lambda v: bw.list_call_tasks(SESSION, created_start=v or 1),
    "create": lambda v: bw.create_call_task(SESSION, v),
}


@pytest.mark.parametrize("call", sorted(CALLS))
@FUZZ
@given(value=not_an_id)
def test_bad_ids_and_arguments_are_refused_before_sending(call: str, value: Any) -> None:
    if call == "list created_start" and isinstance(value, date) and not isinstance(value, datetime):
        return  # a date is a valid filter
    assert refused(CALLS[call](value), SESSION)


@FUZZ
@given(per_page=st.integers(min_value=101))
def test_per_page_above_the_vendor_ceiling_is_refused(per_page: int) -> None:
    assert refused(bw.list_call_tasks(SESSION, per_page=per_page), SESSION)


GOOD: dict[str, Any] = {
    "task_name": "t",
    "task_start": date(2024, 1, 1),
    "task_end": date(2024, 1, 2),
    "customer_ids": [1],
    "agent_ids": [2],
    "data_source": bw.DataSource.COMPANY,
}
WRONG: dict[str, st.SearchStrategy[Any]] = {
    "task_name": st.one_of(
        st.just(""),
        st.text(alphabet=" \t\n", max_size=3),
        st.integers(),
        st.none(),
        st.lists(st.text(), max_size=1),
    ),
    "task_start": st.one_of(
        st.text(max_size=10), st.integers(), st.none(), st.dates(min_value=date(2024, 1, 3))
    ),
    "task_end": st.one_of(
        st.text(max_size=10), st.floats(), st.none(), st.dates(max_value=date(2023, 12, 31))
    ),
    "customer_ids": st.one_of(
        st.just([]),
        st.lists(not_an_id, min_size=1, max_size=3),
        st.text(min_size=1, max_size=3),
        st.integers(),
        st.none(),
    ),
    "agent_ids": st.one_of(
        st.just(()), st.lists(not_an_id, min_size=1, max_size=3), st.none(), st.booleans()
    ),
    "data_source": st.one_of(
        st.text(max_size=3).filter(lambda s: s not in ("0", "1")),
        st.integers(),
        st.none(),
        st.just(bw.TaskStatus.COMPLETED),
    ),
}


@pytest.mark.parametrize("field", sorted(WRONG))
@FUZZ
@given(data=st.data())
def test_new_call_task_with_a_wrong_field_is_refused(field: str, data: st.DataObject) -> None:
    value = data.draw(WRONG[field])
    with pytest.raises(bw.ValidationError) as info:
        bw.NewCallTask(**{**GOOD, field: value})
    assert info.value.field == field or (field == "task_end" and info.value.field == "task_start")
