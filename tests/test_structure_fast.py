"""The page hooks' fast paths give what the reference loops give, on any page, and build
instances indistinguishable from the class's own."""

from __future__ import annotations

import pickle
import weakref
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bangwo8_async as bw
import bangwo8_async.converter as converter
from bangwo8_async.testing._data import customer_item, seeded_task

from .test_fuzz import FUZZ, junk, records, user_records


def shape(outcome: Any) -> Any:
    """An outcome with every value's type beside it: ``TaskStatus.X == "..."`` and
    ``True == 1`` would otherwise hide a difference."""
    if isinstance(outcome, list):
        return [
            (type(item), [(type(v), v) for v in attrs.astuple(item, recurse=False)])
            for item in outcome
        ]
    return outcome


def outcome(hook: Any, raw: Any, cl: Any) -> Any:
    try:
        return shape(hook(raw, list[cl]))
    except Exception:
        return "error"  # any exception: structure_list turns each into a DecodeError


well_formed = st.fixed_dictionaries(
    {
        "callTaskId": st.from_regex(r"\A[0-9]{1,25}\Z"),
        "task_name": st.text(max_size=8),
        "task_start": st.one_of(
            st.dates().map(str), st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S"))
        ),
        "task_end": st.dates().map(str),
        "complete": st.sampled_from(["进行中", "已完成", "逾期未完成", "新状态", ""]),
    }
)
task_pages = st.one_of(
    st.lists(well_formed, max_size=6),
    st.lists(st.one_of(well_formed, well_formed, records, junk), max_size=6),
    junk,
)
user_pages = st.one_of(st.lists(st.one_of(user_records, junk), max_size=6), junk)


@FUZZ
@given(raw=task_pages)
def test_the_task_fast_path_agrees_with_the_reference_loop(raw: Any) -> None:
    rows = converter._call_task_rows()
    assert outcome(converter._call_task_list(), raw, bw.CallTask) == outcome(rows, raw, bw.CallTask)


@FUZZ
@given(raw=user_pages)
def test_the_customer_fast_path_agrees_with_the_reference_loop(raw: Any) -> None:
    rows = converter._task_user_rows()
    assert outcome(converter._task_user_list(), raw, bw.TaskUser) == outcome(rows, raw, bw.TaskUser)


def seeded_pages() -> tuple[list[Any], list[Any]]:
    tasks = [seeded_task(0, i, 500) for i in range(100)]
    users = [customer_item(0, task, c) for task in tasks[:20] for c in range(5)]
    return orjson.loads(orjson.dumps([t.list_item() for t in tasks])), users


class Spy:
    """Stands in for a reference loop and counts the pages it is asked to read."""

    def __init__(self, rows: Any) -> None:
        self.rows, self.pages = rows, 0

    def __call__(self, raw: Any, cl: Any) -> Any:
        self.pages += 1
        return self.rows(raw, cl)


@pytest.mark.parametrize("cl", [bw.CallTask, bw.TaskUser])
def test_a_well_formed_page_takes_the_fast_path_and_a_bad_one_the_reference(
    cl: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks, users = seeded_pages()
    page = tasks if cl is bw.CallTask else users
    name = "_call_task_rows" if cl is bw.CallTask else "_task_user_rows"
    spy = Spy(getattr(converter, name)())
    monkeypatch.setattr(converter, name, lambda: spy)
    hook = converter._call_task_list() if cl is bw.CallTask else converter._task_user_list()
    got = hook(page, list[cl])
    assert spy.pages == 0 and len(got) == len(page)
    assert shape(got) == shape(spy.rows(page, list[cl]))
    with pytest.raises(ValueError):
        hook([*page[:3], []], list[cl])
    assert spy.pages == 1  # the reference loop raised its own error


def test_a_task_page_with_an_int_id_is_read_by_the_reference_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tasks, _ = seeded_pages()
    spy = Spy(converter._call_task_rows())
    monkeypatch.setattr(converter, "_call_task_rows", lambda: spy)
    bad = [*tasks[:3], {**tasks[3], "callTaskId": 7}]
    got = converter._call_task_list()(bad, list[bw.CallTask])
    assert spy.pages == 1 and got[3].call_task_id == 7


def test_the_startime_alias_is_read_through_the_reference_loop() -> None:
    tasks, _ = seeded_pages()
    aliased = [{**t, "startime": t["task_start"]} for t in tasks[:3]]
    for t in aliased:
        del t["task_start"]
    got = converter._call_task_list()(aliased, list[bw.CallTask])
    assert [t.task_start for t in got] == [converter._parse_moment(t["startime"]) for t in aliased]


@pytest.mark.parametrize("cl", [bw.CallTask, bw.TaskUser])
def test_a_model_built_through_its_twin_is_the_class_own(cl: Any) -> None:
    tasks, users = seeded_pages()
    raw = tasks if cl is bw.CallTask else users
    built: list[Any] = converter.structure_list(raw, cl, endpoint="t")
    for item in built:
        assert type(item) is cl
        own = cl(*attrs.astuple(item, recurse=False))
        assert item == own and hash(item) == hash(own) and repr(item) == repr(own)
        assert pickle.loads(pickle.dumps(item)) == item
        assert id(weakref.ref(item)()) == id(item)
        assert attrs.evolve(item, call_task_id=1).call_task_id == 1
        assert bw.to_dict(item) == bw.to_dict(own)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            item.call_task_id = 2


def test_no_twin_for_a_class_that_keeps_its_own_slots() -> None:
    @attrs.frozen
    class Own:
        a: int

    @attrs.frozen(slots=False)
    class WithDict:
        a: int

    assert converter._twin(Own) is None
    assert converter._twin(WithDict) is None
    assert converter._twin(bw.CallTask) is not None


@pytest.mark.parametrize(
    ("cid", "expected"), [("007", 7), ("0", 0), ("9" * 25, int("9" * 25)), ("", "error")]
)
def test_ids_that_are_not_json_numbers_read_as_int_reads_them(cid: str, expected: Any) -> None:
    tasks, _ = seeded_pages()
    page = [*tasks[:3], {**tasks[3], "callTaskId": cid}]
    fast = outcome(converter._call_task_list(), page, bw.CallTask)
    assert fast == outcome(converter._call_task_rows(), page, bw.CallTask)
    assert fast == "error" if expected == "error" else fast[3][1][0] == (int, expected)
