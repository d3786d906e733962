"""JSON to models and back: one private cattrs converter, every hook in one place.

:func:`make_converter` builds it; the module keeps one fast instance for the
hot path and one with cattrs' detailed validation that only runs after the
fast one has failed, to name the field at fault in the :class:`DecodeError`:
no item pays for detailed validation, and an error is still precise.

Each model's JSON names are written once, in ``_JSON_NAMES``; both the
generated hooks and the hand-written ones below read them from there.

The two classes an export reads by the hundred thousand, :class:`CallTask`
and :class:`TaskUser`, get hand-written page hooks in the fast converter: one
loop per page reading the same fields with the same field hooks as the
generated ones (a fuzz test holds the two to the same answers), with their
common cases inlined. Each has a fast path for the well-formed page that
builds every frozen instance through a mutable twin of the same layout (see
:func:`_twin`) and falls back to the reference loop on anything unusual (a
hypothesis test holds the two to the same answers, errors included).
``python -m benchmarks.converter`` compares them with a plain per-item loop and
with cattrs' own generated hooks; the figures are in the benchmark docs.

:func:`to_dict` goes the other way for callers: a JSON-ready dict per model,
dates and enums converted, by a function generated per class (the same
benchmark compares it with ``attrs.asdict``).
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from operator import itemgetter
from types import MemberDescriptorType
from typing import Any, TypeVar

import attrs
import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn, override

from .errors import DecodeError, ValidationError
from .models import (
    Assignment,
    CallTask,
    CallTaskDetail,
    CreatedCallTask,
    DataSource,
    NewCallTask,
    Page,
    Progress,
    TaskStatus,
    TaskUser,
)

__all__ = [
    "make_converter",
    "structure",
    "structure_list",
    "to_dict",
    "unstructure_new_task",
]

T = TypeVar("T")

#: Per model, the JSON name of each field whose JSON name is not the SDK's own: the one
#: place they are written, read by the fast page hooks and the generated hooks alike.
_CALL_TASK_NAMES = {"call_task_id": "callTaskId", "status": "complete"}
_JSON_NAMES: dict[type[Any], dict[str, str]] = {
    CallTask: _CALL_TASK_NAMES,
    CallTaskDetail: {
        **_CALL_TASK_NAMES,
        "agent_id": "task_service",
        "phone_count": "phoneCount",
        "complete_count": "completeCount",
        "connect_count": "connectCount",
    },
    Assignment: {
        "call_task_id": "callTaskId",
        "customer_ids": "task_user",
        "agent_id": "task_service",
    },
    CreatedCallTask: {
        "sum_count": "sumCount",
        "legal_count": "legalCount",
        "illegal_ids": "illegalData",
        "illegal_count": "illegalCount",
        "success_count": "successCount",
        "failure_count": "failureCount",
        "assignments": "data",
    },
    TaskUser: {
        "call_task_id": "callTaskid",
        "contact_id": "cId",
        "company_id": "uId",
        "user_name": "userName",
        "company_name": "companyName",
    },
    NewCallTask: {"customer_ids": "task_user", "agent_ids": "task_service"},
}
#: The task detail example's name for ``task_start``, accepted wherever a task comes.
_START_ALIAS = "startime"
#: A customer record is ``{"callTaskid": ..., "userList": {...every other field...}}``.
_USER_RECORD = "userList"


def _json_names(cl: type[Any]) -> list[str]:
    """The JSON name of every field of ``cl``, in field order."""
    renamed = _JSON_NAMES[cl]
    return [renamed.get(f.name, f.name) for f in attrs.fields(cl)]


def _renames(cl: type[Any]) -> dict[str, Any]:
    """``cl``'s renamed fields as cattrs overrides, for a generated hook."""
    return {name: override(rename=json) for name, json in _JSON_NAMES[cl].items()}


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
        if value.isdigit() and value.isascii():
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


#: Entries a memo of dates keeps before it starts again: neighbouring rows share their dates,
#: so a small memo hits as often as a large one, and an export's heap stops growing sooner.
_MEMO_SIZE = 256
_PARSED_MOMENTS: dict[str, date | datetime] = {}


def _parse_moment(value: Any, _: Any = None) -> date | datetime:
    """``YYYY-MM-DD`` gives a date; ``YYYY-MM-DD HH:MM:SS`` a datetime.

    Tasks share few distinct dates, so parsed ones are remembered (they are
    immutable); the memo is bounded.
    """
    found = _PARSED_MOMENTS.get(value) if type(value) is str else None
    if found is not None:
        return found
    if type(value) is not str:
        raise ValueError(f"expected a date string, got {type(value).__name__}")
    parsed = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    if len(_PARSED_MOMENTS) >= _MEMO_SIZE:
        _PARSED_MOMENTS.clear()
    _PARSED_MOMENTS[value] = parsed
    return parsed


def _parse_status(value: Any, _: Any = None) -> TaskStatus | str:
    """A task's status: its :class:`TaskStatus`, or the label as sent when it is unknown."""
    if type(value) is str:
        return _STATUS_BY_LABEL.get(value, value)
    if type(value) is int:
        return str(value)
    raise ValueError(f"expected a status label, got {type(value).__name__}")


def _parse_progress(value: Any, _: Any = None) -> Progress | str:
    """A customer's progress, by code or label: its :class:`Progress`, or the value as sent
    (as text) when it is unknown."""
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


def _request_moment(value: date | datetime) -> str:
    """A date or datetime as the create request sends it (the vendor's own format)."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value.isoformat()


def unstructure_new_task(new: NewCallTask) -> dict[str, Any]:
    """The request body for ``POST /callTask.json``: ``{"callTask": {...}}``."""
    name, start, end, customers, agents, source = _NEW_TASK_KEYS
    return {
        "callTask": {
            name: new.task_name,
            start: _request_moment(new.task_start),
            end: _request_moment(new.task_end),
            customers: list(new.customer_ids),
            agents: list(new.agent_ids),
            source: new.data_source.value,
        }
    }


_NEW_TASK_KEYS = _json_names(NewCallTask)


def _slot_setters(cl: type[Any]) -> list[Callable[[Any, Any], None]]:
    """The slot descriptors' setters of a frozen attrs class, in field order.

    Setting slots through them builds the same instance as calling the class,
    without attrs' frozen per-field ``__setattr__`` calls; only valid for a
    class with no validators, converters or post-init, which is asserted.
    """
    fields = attrs.fields(cl)
    assert all(f.validator is None and f.converter is None for f in fields)
    assert not hasattr(cl, "__attrs_post_init__")
    return [getattr(cl, f.name).__set__ for f in fields]


def _twin(cl: type[Any]) -> type[Any] | None:
    """A plain, mutable class laid out like the frozen ``cl``, or ``None`` where none can be.

    ``cl`` keeps its fields' slots on a plain base (``models._CallTaskSlots``), so
    a subclass of that base with the same ``__weakref__`` slot has ``cl``'s very
    layout. An instance of it is filled by plain attribute stores, then becomes
    a ``cl`` by ``__class__`` assignment, which CPython allows between two such
    classes: the same object as ``cl(...)`` builds, without a call per field.
    Checked once, here, on a probe.
    """
    base = cl.__mro__[1]
    names = [f.name for f in attrs.fields(cl)]
    for name in names:
        slot = base.__dict__.get(name)
        if not isinstance(slot, MemberDescriptorType) or getattr(cl, name, None) is not slot:
            return None  # no slots on the base, or an attrs that made its own: not cl's layout
    _slot_setters(cl)  # the same preconditions: no validators, converters or post-init
    twin = type(f"_{cl.__name__}Twin", (base,), {"__slots__": ("__weakref__",)})  # no __init__
    probe: Any = object.__new__(twin)
    for name in names:
        setattr(probe, name, None)
    try:
        probe.__class__ = cl
    except TypeError:
        return None
    return twin


def _not_dict(value: Any) -> ValueError:
    return ValueError(f"expected an object, got {type(value).__name__}")


def _call_task_rows() -> Callable[[Any, Any], list[CallTask]]:
    """A whole page of tasks in one loop, with each field hook's common case inlined.

    The reference for the page hook's fast path, which falls back to it on
    anything unusual: it reads and rejects item by item, field by field.
    """
    s_id, s_name, s_start, s_end, s_status = _slot_setters(CallTask)
    k_id, k_name, k_start, k_end, k_status = _json_names(CallTask)
    k_alias = _START_ALIAS
    new, moments, statuses = object.__new__, _PARSED_MOMENTS, _STATUS_BY_LABEL

    def structure_call_tasks(raw: Any, _: Any) -> list[CallTask]:
        if type(raw) is not list:
            raise ValueError(f"expected a list, got {type(raw).__name__}")
        out = []
        for value in raw:
            if type(value) is not dict:
                raise _not_dict(value)
            cid = value[k_id]
            cid = int(cid) if type(cid) is str and cid.isdigit() and cid.isascii() else _int(cid)
            name = value[k_name]
            if type(name) is not str:
                name = _str(name)
            start = value[k_start] if k_start in value else value[k_alias]
            start = (type(start) is str and moments.get(start)) or _parse_moment(start)
            end = value[k_end]
            end = (type(end) is str and moments.get(end)) or _parse_moment(end)
            status = value[k_status]
            status = (type(status) is str and statuses.get(status)) or _parse_status(status)
            task = new(CallTask)
            s_id(task, cid)
            s_name(task, name)
            s_start(task, start)
            s_end(task, end)
            s_status(task, status)
            out.append(task)
        return out

    return structure_call_tasks


def _page_ids(ids: list[str]) -> list[int]:
    """A page's ids, every one a string of ASCII digits, as ints by one C call; else raises.

    As a JSON array they are parsed at once rather than by one ``int()`` each
    (which copies each string before it reads it). ``""`` and a leading zero
    are not JSON and raise; orjson reads an integer beyond 64 bits as a float,
    and one float makes the sum a float, so that raises too.
    """
    digits = "".join(ids)
    # bytes.isdigit reads ASCII by a table; str.isdigit asks the Unicode database per character
    if not (digits.isascii() and digits.encode().isdigit()):
        raise ValueError("not every id is a string of ASCII digits")
    numbers: list[int] = orjson.loads("[" + ",".join(ids) + "]")
    if type(sum(numbers)) is not int:
        raise ValueError("an id beyond 64 bits")
    return numbers


def _call_task_list() -> Callable[[Any, Any], list[CallTask]]:
    """A page of tasks: a fast path for the well-formed page, else :func:`_call_task_rows`.

    The fast path reads a page's ids at once (:func:`_page_ids`), each item's
    five fields by one ``itemgetter``, and builds each task through its twin
    (see :func:`_twin`). Anything else (an int id, a missing field, the
    ``startime`` alias, a value that is not JSON's) raises inside it, and the
    whole page is read again by the reference loop, which gives the answer or
    the error it always gave.
    Exact for the values a JSON parser returns.
    """
    rows = _call_task_rows()
    twin = _twin(CallTask)
    if twin is None:
        return rows
    names = _json_names(CallTask)
    id_of, fields = itemgetter(names[0]), itemgetter(*names[1:])
    moment, status_of, cl = _PARSED_MOMENTS.get, _STATUS_BY_LABEL.get, CallTask

    def structure_call_tasks(raw: Any, _: Any) -> list[CallTask]:
        try:
            numbers = _page_ids(list(map(id_of, raw)))
            out = []
            for cid, (name, start, end, status) in zip(numbers, map(fields, raw), strict=True):
                task = twin()
                task.call_task_id = cid
                task.task_name = name if type(name) is str else _str(name)
                task.task_start = moment(start) or _parse_moment(start)
                task.task_end = moment(end) or _parse_moment(end)
                task.status = status_of(status) or _parse_status(status)
                task.__class__ = cl
                out.append(task)
            return out
        except Exception:  # anything unusual: the reference loop answers, or raises
            pass
        return rows(raw, _)

    return structure_call_tasks


def _task_user_rows() -> Callable[[Any, Any], list[TaskUser]]:
    """A whole page of customers in one loop; each record is flattened from ``userList``.

    The reference for the page hook's fast path, as :func:`_call_task_rows`.
    """
    setters = _slot_setters(TaskUser)
    s_task, s_contact, s_company, s_user, s_company_name, s_phone, s_progress = setters
    k_task, k_contact, k_company, k_user, k_company_name, k_phone, k_progress = _json_names(
        TaskUser
    )
    k_record = _USER_RECORD
    new, progresses = object.__new__, _PROGRESS_BY_RAW

    def structure_task_users(raw: Any, _: Any) -> list[TaskUser]:
        if type(raw) is not list:
            raise ValueError(f"expected a list, got {type(raw).__name__}")
        out = []
        for value in raw:
            if type(value) is not dict:
                raise _not_dict(value)
            inner = value[k_record]
            if type(inner) is not dict:
                raise _not_dict(inner)
            progress = inner[k_progress]
            known = progresses.get(progress) if type(progress) in (str, int) else None
            user = new(TaskUser)
            s_task(user, _int(value[k_task]))
            s_contact(user, _optional_int(inner[k_contact]))
            s_company(user, _optional_int(inner[k_company]))
            s_user(user, _str(inner[k_user]))
            s_company_name(user, _str(inner[k_company_name]))
            s_phone(user, _str(inner[k_phone]))
            s_progress(user, known if known is not None else _parse_progress(progress))
            out.append(user)
        return out

    return structure_task_users


def _task_user_list() -> Callable[[Any, Any], list[TaskUser]]:
    """A page of customers: the reference loop's reads, each customer built through its twin.

    Anything unusual raises inside it and the page is read again by
    :func:`_task_user_rows`, as for tasks.
    """
    rows = _task_user_rows()
    twin = _twin(TaskUser)
    if twin is None:
        return rows
    names = _json_names(TaskUser)
    task_of, inner_fields = itemgetter(names[0]), itemgetter(*names[1:])
    record_of = itemgetter(_USER_RECORD)
    progresses, cl = _PROGRESS_BY_RAW, TaskUser

    def structure_task_users(raw: Any, _: Any) -> list[TaskUser]:
        try:
            if type(raw) is not list:
                raise _not_dict(raw)  # the reference loop says what it is instead
            out = []
            for value in raw:
                contact, company, user_name, company_name, phone, progress = inner_fields(
                    record_of(value)
                )
                user = twin()
                user.call_task_id = _int(task_of(value))
                user.contact_id = _optional_int(contact)
                user.company_id = _optional_int(company)
                user.user_name = user_name if type(user_name) is str else _str(user_name)
                user.company_name = (
                    company_name if type(company_name) is str else _str(company_name)
                )
                user.phone = phone if type(phone) is str else _str(phone)
                known = progresses.get(progress) if type(progress) in (str, int) else None
                user.progress = known if known is not None else _parse_progress(progress)
                user.__class__ = cl
                out.append(user)
            return out
        except Exception:  # anything unusual: the reference loop answers, or raises
            pass
        return rows(raw, _)

    return structure_task_users


def _one_of(many: Callable[[Any, Any], list[T]]) -> Callable[[Any, Any], T]:
    def structure_one(value: Any, cl: Any) -> T:
        return many([value], cl)[0]

    return structure_one


def make_converter(
    *, detailed_validation: bool = False, page_hooks: bool | None = None
) -> cattrs.Converter:
    """Build the SDK's converter with every hook registered here, never on the global one.

    ``page_hooks`` (default: on unless ``detailed_validation``) reads tasks and
    customers with the hand-written page hooks instead of cattrs' generated
    ones; ``benchmarks/converter.py`` turns them off to compare the two.
    """
    if page_hooks is None:
        page_hooks = not detailed_validation
    conv = cattrs.Converter(detailed_validation=detailed_validation, forbid_extra_keys=False)
    conv.register_structure_hook(int, _int)
    conv.register_structure_hook(int | None, _optional_int)
    conv.register_structure_hook(str, _str)
    conv.register_structure_hook(date | datetime, _parse_moment)
    conv.register_structure_hook(TaskStatus | str, _parse_status)
    conv.register_structure_hook(Progress | str, _parse_progress)
    conv.register_structure_hook_func(lambda t: t == list[int], _int_list)

    def generated(cl: type[T]) -> Callable[[Any, Any], T]:
        return make_dict_structure_fn(cl, conv, **_renames(cl))

    def with_startime(fn: Callable[[Any, Any], T]) -> Callable[[Any, Any], T]:
        def structure_task(value: Any, cl: Any) -> T:
            if type(value) is not dict:
                raise _not_dict(value)
            if "task_start" not in value and _START_ALIAS in value:
                value = {**value, "task_start": value[_START_ALIAS]}
            return fn(value, cl)

        return structure_task

    conv.register_structure_hook(CallTaskDetail, with_startime(generated(CallTaskDetail)))
    conv.register_structure_hook(Assignment, generated(Assignment))

    created = generated(CreatedCallTask)
    illegal_data, illegal_count, sum_count = (
        _JSON_NAMES[CreatedCallTask][name] for name in ("illegal_ids", "illegal_count", "sum_count")
    )

    def structure_created(value: Any, cl: Any) -> CreatedCallTask:
        # The table says illegalData (a list); the example sends illegalCount holding that
        # list. Normalise both to illegal ids plus a count before the generated hook runs.
        data = dict(_require_dict(value))
        count = data.get(illegal_count)
        if isinstance(count, list):
            data.setdefault(illegal_data, count)
        data.setdefault(illegal_data, [])
        if not isinstance(count, (int, str)) or isinstance(count, bool):
            ids = data[illegal_data]
            data[illegal_count] = len(ids) if isinstance(ids, list) else ids
        data.setdefault(sum_count, None)
        return created(data, cl)

    conv.register_structure_hook(CreatedCallTask, structure_created)
    conv.register_unstructure_hook(NewCallTask, unstructure_new_task)

    if page_hooks:
        # The hot path: a page per call, the field hooks' common cases inlined (see the
        # module docstring).
        tasks, users = _call_task_list(), _task_user_list()
        conv.register_structure_hook_func(lambda t: t == list[CallTask], tasks)
        conv.register_structure_hook_func(lambda t: t == list[TaskUser], users)
        conv.register_structure_hook(CallTask, _one_of(tasks))
        conv.register_structure_hook(TaskUser, _one_of(users))
        return conv

    conv.register_structure_hook(CallTask, with_startime(generated(CallTask)))
    user = generated(TaskUser)
    task_key = _JSON_NAMES[TaskUser]["call_task_id"]

    def structure_user(value: Any, cl: Any) -> TaskUser:
        # Each record is {"callTaskid": ..., "userList": {...one customer...}}: flatten it.
        outer = _require_dict(value)
        inner = _require_dict(outer[_USER_RECORD])
        return user({**inner, task_key: outer[task_key]}, cl)

    conv.register_structure_hook(TaskUser, structure_user)
    return conv


_FAST = make_converter()
_DETAILED = make_converter(detailed_validation=True)
#: The fast converter's page hooks by item class, called directly by :func:`structure_list`
#: rather than through cattrs' dispatch on a ``list[cl]`` made per call.
_PAGE_HOOKS: dict[type[Any], Callable[[Any, Any], list[Any]]] = {
    CallTask: _FAST.get_structure_hook(list[CallTask]),
    TaskUser: _FAST.get_structure_hook(list[TaskUser]),
}


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
    hook = _PAGE_HOOKS.get(cl)
    try:
        if hook is not None:
            return hook(raw, cl)
        return _FAST.structure(raw, list[cl])  # type: ignore[valid-type]
    except Exception as exc:
        raise _decode_error(exc, raw, cl, endpoint, path, many=True) from None


# -- models to JSON-ready dicts -----------------------------------------------------------------

_MODELS: tuple[type[Any], ...] = (
    CallTask,
    CallTaskDetail,
    TaskUser,
    CreatedCallTask,
    Assignment,
    NewCallTask,
    Page,
)
_TO_DICT: dict[type[Any], Callable[[Any], dict[str, Any]]] = {}


def to_dict(model: object) -> dict[str, Any]:
    """A JSON-ready dict of any SDK model, by its SDK field names.

    Dates are ISO 8601 (``"2022-05-09"``, ``"2022-05-09T08:30:00"``), enums
    their values (a :class:`TaskStatus` its label, a :class:`Progress` its int
    code, a :class:`DataSource` ``"0"`` or ``"1"``), a raw unknown status or
    progress stays the string it was, sequences are lists and nested models
    (a :class:`Page`'s items too) are dicts. Anything but a model raises
    :class:`ValidationError`. Each class has its own generated function, so it
    is cheap enough to run per row of an export.
    """
    fn = _TO_DICT.get(type(model))
    if fn is None:
        raise ValidationError(
            "to_dict takes an SDK model ("
            + ", ".join(cl.__name__ for cl in _MODELS)
            + f"), got {type(model).__name__}",
            field="model",
        )
    return fn(model)


_ISO_TEXT: dict[date, str] = {}
_VALUE_OF = {member: member.value for kind in (TaskStatus, Progress, DataSource) for member in kind}


def _iso(value: date | datetime) -> str:
    """ISO 8601 text of a date or datetime (to the second); rows share few, so it is memoised."""
    if isinstance(value, datetime):
        text = value.isoformat(timespec="seconds")
        if value.tzinfo is not None:
            return text  # equal instants in other zones are equal keys: never memoise these
    else:
        text = value.isoformat()
    if len(_ISO_TEXT) >= _MEMO_SIZE:
        _ISO_TEXT.clear()
    _ISO_TEXT[value] = text
    return text


def _field_expression(hint: Any, attr: str) -> str:
    """Python source turning one field's value into its JSON-ready form, by its type."""
    if hint in (int, str, int | None, str | None):
        return attr
    if hint == date | datetime:
        return f"(_iso_text({attr}) or _iso({attr}))"
    if hint in (TaskStatus | str, Progress | str, DataSource):
        # An enum member gives its value. A raw string gives itself: it is either no key,
        # or equal to a str enum's value.
        return f"_value_of({attr}, {attr})"
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (list, Sequence) and len(args) == 1:
        (item,) = args
        if item is int:
            return f"list({attr})"
        if item in _MODELS:
            return f"[_TO_DICT[{item.__name__}](x) for x in {attr}]"
        if isinstance(item, TypeVar):  # a Page's items: dispatch on each item's class
            return f"[to_dict(x) for x in {attr}]"
    raise TypeError(f"to_dict: no conversion for a field of type {hint!r}")


def _make_to_dict(cl: type[Any]) -> Callable[[Any], dict[str, Any]]:
    """One function per class, written out field by field (as attrs and cattrs do), so a
    row costs a dict display and no per-field dispatch."""
    hints = typing.get_type_hints(cl)
    items = "".join(
        f"\n        {f.name!r}: {_field_expression(hints[f.name], 'model.' + f.name)},"
        for f in attrs.fields(cl)
    )
    source = f"def to_dict_{cl.__name__}(model):\n    return {{{items}\n    }}\n"
    namespace: dict[str, Any] = {
        "_iso": _iso,
        "_iso_text": _ISO_TEXT.get,
        "_value_of": _VALUE_OF.get,
        "_TO_DICT": _TO_DICT,
        "to_dict": to_dict,
        **{model.__name__: model for model in _MODELS},
    }
    exec(compile(source, f"<to_dict {cl.__name__}>", "exec"), namespace)
    fn: Callable[[Any], dict[str, Any]] = namespace[f"to_dict_{cl.__name__}"]
    return fn


for _model in _MODELS:
    _TO_DICT[_model] = _make_to_dict(_model)
