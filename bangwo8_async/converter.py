"""JSON to models and back: one private cattrs converter, every hook in one place.

:func:`make_converter` builds it; the module keeps one fast instance for the
hot path and one with cattrs' detailed validation that only runs after the
fast one has failed, to name the field at fault in the :class:`DecodeError`.
That keeps structuring cheap per item (detailed validation costs about a
quarter more on every item) without giving up precise errors.

The two classes an export reads by the hundred thousand, :class:`CallTask`
and :class:`TaskUser`, get hand-written page hooks in the fast converter: one
loop per page, reading the same fields with the same field hooks as the
generated ones (a fuzz test holds the two to the same answers) but with their
common cases inlined, and building each frozen instance through its slots.
Together that is about twice as fast as the generated per-item hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

from .errors import DecodeError
from .models import (
    Assignment,
    CallTask,
    CallTaskDetail,
    CreatedCallTask,
    NewCallTask,
    Progress,
    TaskStatus,
    TaskUser,
)

__all__ = ["make_converter", "structure", "structure_list", "unstructure_new_task"]

T = TypeVar("T")

_STATUS_BY_LABEL = {member.value: member for member in TaskStatus}
_PROGRESS_BY_RAW: dict[object, Progress] = {}
for _member in Progress:
    _PROGRESS_BY_RAW[_member.value] = _member
    _PROGRESS_BY_RAW[str(_member.value)] = _member
    _PROGRESS_BY_RAW[_member.label] = _member


def _int(value: Any, _: Any = None) -> int:
    """An int from a number or a string of digits; a bool or a float is not one."""
    kind = type(value)
    if kind is str:
        if value.isdigit() and value.isascii():  # the common case, first
            return int(value)
        text = value.strip()
        if text.isascii() and (text.isdigit() or (text[:1] == "-" and text[1:].isdigit())):
            return int(text)
    elif kind is int:
        return value  # type: ignore[no-any-return]
    raise ValueError(f"expected an integer or a string of digits, got {value!r:.40}")


def _optional_int(value: Any, _: Any = None) -> int | None:
    if value is None or value == "":
        return None
    return _int(value)


def _str(value: Any, _: Any = None) -> str:
    if type(value) is str:
        return value
    if type(value) is int:  # the reference documents phone numbers as int
        return str(value)
    raise ValueError(f"expected a string, got {type(value).__name__}")


_MOMENTS: dict[str, date | datetime] = {}


def _moment(value: Any, _: Any = None) -> date | datetime:
    """``YYYY-MM-DD`` gives a date; ``YYYY-MM-DD HH:MM:SS`` a datetime.

    Tasks share few distinct dates, so parsed ones are remembered (they are
    immutable); the memo is bounded.
    """
    found = _MOMENTS.get(value) if type(value) is str else None
    if found is not None:
        return found
    if type(value) is not str:
        raise ValueError(f"expected a date string, got {type(value).__name__}")
    parsed = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    if len(_MOMENTS) >= 4096:
        _MOMENTS.clear()
    _MOMENTS[value] = parsed
    return parsed


def _status(value: Any, _: Any = None) -> TaskStatus | str:
    if type(value) is str:
        return _STATUS_BY_LABEL.get(value, value)
    if type(value) is int:
        return str(value)
    raise ValueError(f"expected a status label, got {type(value).__name__}")


def _progress(value: Any, _: Any = None) -> Progress | str:
    if type(value) is str or type(value) is int:
        found = _PROGRESS_BY_RAW.get(value)
        if found is not None:
            return found
        return value if type(value) is str else str(value)
    raise ValueError(f"expected a progress code or label, got {type(value).__name__}")


def _int_list(value: Any, _: Any = None) -> list[int]:
    if type(value) is not list:
        raise ValueError(f"expected a list of ids, got {type(value).__name__}")
    return [_int(item) for item in value]


def _require_dict(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"expected an object, got {type(value).__name__}")
    return value


def _format_moment(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value.isoformat()


def unstructure_new_task(new: NewCallTask) -> dict[str, Any]:
    """The request body for ``POST /callTask.json``: ``{"callTask": {...}}``."""
    return {
        "callTask": {
            "task_name": new.task_name,
            "task_start": _format_moment(new.task_start),
            "task_end": _format_moment(new.task_end),
            "task_user": list(new.customer_ids),
            "task_service": list(new.agent_ids),
            "data_source": new.data_source.value,
        }
    }


def _slot_setters(cl: type[Any]) -> list[Callable[[Any, Any], None]]:
    """The slot descriptors' setters of a frozen attrs class, in field order.

    Setting slots through them builds the same instance as calling the class,
    without attrs' frozen per-field ``__setattr__`` calls; only valid for a
    class with no validators, converters or post-init, which is asserted.
    """
    fields = attrs.fields(cl)
    assert all(f.validator is None and f.converter is None for f in fields)
    assert not hasattr(cl, "__attrs_post_init__")
    return [cl.__dict__[f.name].__set__ for f in fields]


def _not_dict(value: Any) -> ValueError:
    return ValueError(f"expected an object, got {type(value).__name__}")


def _call_task_list() -> Callable[[Any, Any], list[CallTask]]:
    """A whole page of tasks in one loop, with each field hook's common case inlined."""
    s_id, s_name, s_start, s_end, s_status = _slot_setters(CallTask)
    new, moments, statuses = object.__new__, _MOMENTS, _STATUS_BY_LABEL

    def structure_call_tasks(raw: Any, _: Any) -> list[CallTask]:
        if type(raw) is not list:
            raise ValueError(f"expected a list, got {type(raw).__name__}")
        out = []
        for value in raw:
            if type(value) is not dict:
                raise _not_dict(value)
            cid = value["callTaskId"]
            cid = int(cid) if type(cid) is str and cid.isdigit() and cid.isascii() else _int(cid)
            name = value["task_name"]
            if type(name) is not str:
                name = _str(name)
            start = value["task_start"] if "task_start" in value else value["startime"]
            start = (type(start) is str and moments.get(start)) or _moment(start)
            end = value["task_end"]
            end = (type(end) is str and moments.get(end)) or _moment(end)
            status = value["complete"]
            status = (type(status) is str and statuses.get(status)) or _status(status)
            task = new(CallTask)
            s_id(task, cid)
            s_name(task, name)
            s_start(task, start)
            s_end(task, end)
            s_status(task, status)
            out.append(task)
        return out

    return structure_call_tasks


def _task_user_list() -> Callable[[Any, Any], list[TaskUser]]:
    """A whole page of customers in one loop; each record is flattened from ``userList``."""
    setters = _slot_setters(TaskUser)
    s_task, s_contact, s_company, s_user, s_company_name, s_phone, s_progress = setters
    new, progresses = object.__new__, _PROGRESS_BY_RAW

    def structure_task_users(raw: Any, _: Any) -> list[TaskUser]:
        if type(raw) is not list:
            raise ValueError(f"expected a list, got {type(raw).__name__}")
        out = []
        for value in raw:
            if type(value) is not dict:
                raise _not_dict(value)
            inner = value["userList"]
            if type(inner) is not dict:
                raise _not_dict(inner)
            progress = inner["progress"]
            known = progresses.get(progress) if type(progress) in (str, int) else None
            user = new(TaskUser)
            s_task(user, _int(value["callTaskid"]))
            s_contact(user, _optional_int(inner["cId"]))
            s_company(user, _optional_int(inner["uId"]))
            s_user(user, _str(inner["userName"]))
            s_company_name(user, _str(inner["companyName"]))
            s_phone(user, _str(inner["phone"]))
            s_progress(user, known if known is not None else _progress(progress))
            out.append(user)
        return out

    return structure_task_users


def _one_of(many: Callable[[Any, Any], list[T]]) -> Callable[[Any, Any], T]:
    def structure_one(value: Any, cl: Any) -> T:
        return many([value], cl)[0]

    return structure_one


def make_converter(*, detailed_validation: bool = False) -> cattrs.Converter:
    """Build the SDK's converter with every hook registered here, never on the global one."""
    conv = cattrs.Converter(detailed_validation=detailed_validation, forbid_extra_keys=False)
    conv.register_structure_hook(int, _int)
    conv.register_structure_hook(int | None, _optional_int)
    conv.register_structure_hook(str, _str)
    conv.register_structure_hook(date | datetime, _moment)
    conv.register_structure_hook(TaskStatus | str, _status)
    conv.register_structure_hook(Progress | str, _progress)
    conv.register_structure_hook_func(lambda t: t == list[int], _int_list)

    task_fields = {
        "call_task_id": override(rename="callTaskId"),
        "status": override(rename="complete"),
    }
    call_task = make_dict_structure_fn(CallTask, conv, **task_fields)  # type: ignore[arg-type]
    detail = make_dict_structure_fn(
        CallTaskDetail,
        conv,
        **task_fields,  # type: ignore[arg-type]
        agent_id=override(rename="task_service"),
        phone_count=override(rename="phoneCount"),
        complete_count=override(rename="completeCount"),
        connect_count=override(rename="connectCount"),
    )

    def with_startime(fn: Callable[[Any, Any], T]) -> Callable[[Any, Any], T]:
        # The detail example calls the start "startime"; accept it wherever a task comes.
        def structure_task(value: Any, cl: Any) -> T:
            if type(value) is not dict:
                raise ValueError(f"expected an object, got {type(value).__name__}")
            if "task_start" not in value and "startime" in value:
                value = {**value, "task_start": value["startime"]}
            return fn(value, cl)

        return structure_task

    conv.register_structure_hook(CallTask, with_startime(call_task))
    conv.register_structure_hook(CallTaskDetail, with_startime(detail))

    conv.register_structure_hook(
        Assignment,
        make_dict_structure_fn(
            Assignment,
            conv,
            call_task_id=override(rename="callTaskId"),
            customer_ids=override(rename="task_user"),
            agent_id=override(rename="task_service"),
        ),
    )

    created = make_dict_structure_fn(
        CreatedCallTask,
        conv,
        sum_count=override(rename="sumCount"),
        legal_count=override(rename="legalCount"),
        illegal_ids=override(rename="illegalData"),
        illegal_count=override(rename="illegalCount"),
        success_count=override(rename="successCount"),
        failure_count=override(rename="failureCount"),
        assignments=override(rename="data"),
    )

    def structure_created(value: Any, cl: Any) -> CreatedCallTask:
        # The table says illegalData (a list); the example sends illegalCount holding that
        # list. Normalise both to illegal ids plus a count before the generated hook runs.
        data = dict(_require_dict(value))
        count = data.get("illegalCount")
        if isinstance(count, list):
            data.setdefault("illegalData", count)
        data.setdefault("illegalData", [])
        if not isinstance(count, (int, str)) or isinstance(count, bool):
            ids = data["illegalData"]
            data["illegalCount"] = len(ids) if isinstance(ids, list) else ids
        data.setdefault("sumCount", None)
        return created(data, cl)

    conv.register_structure_hook(CreatedCallTask, structure_created)

    user = make_dict_structure_fn(
        TaskUser,
        conv,
        call_task_id=override(rename="callTaskid"),
        contact_id=override(rename="cId"),
        company_id=override(rename="uId"),
        user_name=override(rename="userName"),
        company_name=override(rename="companyName"),
    )

    def structure_user(value: Any, cl: Any) -> TaskUser:
        # Each record is {"callTaskid": ..., "userList": {...one customer...}}: flatten it.
        outer = _require_dict(value)
        inner = _require_dict(outer["userList"])
        return user({**inner, "callTaskid": outer["callTaskid"]}, cl)

    conv.register_structure_hook(TaskUser, structure_user)
    conv.register_unstructure_hook(NewCallTask, unstructure_new_task)
    if not detailed_validation:
        # The hot path: a page per call, the field hooks' common cases inlined (see the
        # module docstring); the detailed converter keeps the generated per-item hooks.
        tasks, users = _call_task_list(), _task_user_list()
        conv.register_structure_hook_func(lambda t: t == list[CallTask], tasks)
        conv.register_structure_hook_func(lambda t: t == list[TaskUser], users)
        conv.register_structure_hook(CallTask, _one_of(tasks))
        conv.register_structure_hook(TaskUser, _one_of(users))
    return conv


_FAST = make_converter()
_DETAILED = make_converter(detailed_validation=True)


def _decode_error(
    exc: Exception, raw: Any, cl: type[Any], endpoint: str, path: str, many: bool
) -> DecodeError:
    """Re-run the detailed converter on a failed value to name the field at fault."""
    where = path
    try:
        if many:
            _DETAILED.structure(raw, list[cl])  # type: ignore[valid-type]
        else:
            _DETAILED.structure(raw, cl)
        detail = f"{type(exc).__name__}: {exc}"
    except Exception as detailed:
        messages = cattrs.transform_error(detailed, path=path)
        detail = messages[0] if messages else str(detailed)
        where = detail.split(" @ ", 1)[1] if " @ " in detail else path
    return DecodeError(
        f"{endpoint}: cannot read {cl.__name__}: {detail}", endpoint=endpoint, field=where
    )


def structure(raw: Any, cl: type[T], *, endpoint: str, path: str = "$") -> T:
    """Structure one model, turning any failure into a :class:`DecodeError`."""
    try:
        return _FAST.structure(raw, cl)
    except Exception as exc:
        raise _decode_error(exc, raw, cl, endpoint, path, many=False) from None


def structure_list(raw: Any, cl: type[T], *, endpoint: str, path: str = "$") -> list[T]:
    """Structure a JSON array of models; the hot path of every list endpoint."""
    if type(raw) is not list:
        raise DecodeError(
            f"{endpoint}: cannot read {cl.__name__} list: expected a list, "
            f"got {type(raw).__name__} @ {path}",
            endpoint=endpoint,
            field=path,
        )
    try:
        return _FAST.structure(raw, list[cl])  # type: ignore[valid-type]
    except Exception as exc:
        raise _decode_error(exc, raw, cl, endpoint, path, many=True) from None
