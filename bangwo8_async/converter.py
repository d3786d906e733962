"""JSON to models and back: one private cattrs converter, every hook in one place.

:func:`make_converter` builds it; the module keeps one fast instance for the
hot path and one with cattrs' detailed validation that only runs after the
fast one has failed, to name the field at fault in the :class:`DecodeError`.
That keeps structuring cheap per item (detailed validation costs about a
quarter more on every item) without giving up precise errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar

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
    if type(value) is int:
        return value
    if type(value) is str and value.isascii():
        text = value.strip()
        if text.isdigit() or (text[:1] == "-" and text[1:].isdigit()):
            return int(text)
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


def _moment(value: Any, _: Any = None) -> date | datetime:
    """``YYYY-MM-DD`` gives a date; ``YYYY-MM-DD HH:MM:SS`` a datetime."""
    if type(value) is not str:
        raise ValueError(f"expected a date string, got {type(value).__name__}")
    if len(value) == 10:
        return date.fromisoformat(value)
    return datetime.fromisoformat(value)


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
    hook = _FAST.get_structure_hook(cl)
    try:
        if type(raw) is not list:
            raise ValueError(f"expected a list, got {type(raw).__name__}")
        return [hook(item, cl) for item in raw]
    except Exception as exc:
        raise _decode_error(exc, raw, cl, endpoint, path, many=True) from None
