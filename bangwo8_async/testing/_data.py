"""Deterministic sample data for the fake server, computed from (seed, index) on demand.

Nothing is stored per seeded task but its id in the list order, so 200k tasks
cost a list of ints, and any record can be rebuilt in a few microseconds.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import attrs

FIRST_TASK_ID = 49242970
FIRST_CONTACT_ID = 9516000
FIRST_COMPANY_ID = 5061000
FIRST_AGENT_ID = 567332
EPOCH = date(2022, 1, 1)
SPAN_DAYS = 900

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
_CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "苏州"]
_TRADES = ["科技", "贸易", "物流", "餐饮", "教育", "医疗", "建材", "传媒"]
_TOPICS = ["回访", "续费提醒", "满意度调查", "新品推广", "逾期催缴", "活动邀约"]
_STATUSES = ["进行中"] * 6 + ["已完成"] * 3 + ["逾期未完成"]
_PROGRESS = ["待处理", "待处理", "未接听", "已完成", "已完成", "-1", "0", "1"]


def mix(*parts: int) -> int:
    """A well-spread 64-bit hash of a few ints (splitmix64 steps): cheap, seeded, stable."""
    x = 0x9E3779B97F4A7C15
    for part in parts:
        x = (x ^ (part & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        x = (x ^ (x >> 31)) * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 29
    return x


@attrs.define
class TaskRecord:
    """One task as the fake stores it: API strings, ready to send."""

    call_task_id: int
    task_name: str
    task_start: str
    task_end: str
    complete: str
    agent_id: int
    created: date
    customers: list[int] | None = None  # None: seeded customers, computed on demand
    data_source: str = "1"

    def list_item(self) -> dict[str, Any]:
        return {
            "callTaskId": str(self.call_task_id),
            "task_name": self.task_name,
            "task_start": self.task_start,
            "task_end": self.task_end,
            "complete": self.complete,
        }


def seeded_task(seed: int, index: int, total: int) -> TaskRecord:
    """The ``index``-th seeded task; created dates spread over ~2.5 years in list order."""
    h = mix(seed, index, 1)
    created = EPOCH + timedelta(days=index * SPAN_DAYS // max(total, 1))
    start = created + timedelta(days=h % 10)
    end = start + timedelta(days=1 + (h >> 8) % 30)
    with_time = (h >> 16) % 5 == 0
    topic = _TOPICS[(h >> 20) % len(_TOPICS)]
    return TaskRecord(
        call_task_id=FIRST_TASK_ID + index,
        task_name=f"{topic}外呼任务{index + 1}",
        task_start=f"{start} 09:00:00" if with_time else start.isoformat(),
        task_end=f"{end} 18:00:00" if with_time else end.isoformat(),
        complete=_STATUSES[(h >> 24) % len(_STATUSES)],
        agent_id=FIRST_AGENT_ID + (h >> 28) % 50,
        created=created,
        data_source=str((h >> 32) % 2),
    )


def person_name(h: int) -> str:
    return (
        _SURNAMES[h % len(_SURNAMES)]
        + _GIVEN[(h >> 5) % len(_GIVEN)]
        + (_GIVEN[(h >> 10) % len(_GIVEN)] if (h >> 15) % 2 else "")
    )


def company_name(h: int) -> str:
    return f"{_CITIES[h % len(_CITIES)]}{_TRADES[(h >> 4) % len(_TRADES)]}有限公司"


def phone(h: int) -> str:
    kind = (h >> 40) % 10
    digits = f"{h % 10**9:09d}"
    if kind == 0:
        return f"010-6{digits[:7]}"  # a landline: the leading zero matters
    if kind == 1:
        return f"+86 13{digits}"
    return f"13{digits}"


def customer_item(seed: int, task: TaskRecord, customer: int) -> dict[str, Any]:
    """One entry of the customer list, in the vendor's shape (string ids, progress label)."""
    h = mix(seed, task.call_task_id, customer, 2)
    contact = task.data_source == "1"
    return {
        "callTaskid": str(task.call_task_id),
        "userList": {
            "cId": str(customer) if contact else "",
            # A company-sourced task lists companies: the customer id is the company id.
            "uId": str(FIRST_COMPANY_ID + customer % 100_000) if contact else str(customer),
            "userName": person_name(h) if contact else "",
            "companyName": company_name(h >> 3),
            "phone": phone(h),
            "progress": _PROGRESS[(h >> 50) % len(_PROGRESS)],
        },
    }


def seeded_customers(task: TaskRecord, per_task: int) -> range:
    """A seeded task's customer ids: a run of its own, so no two tasks share one."""
    base = FIRST_CONTACT_ID + (task.call_task_id - FIRST_TASK_ID) * per_task
    return range(base, base + per_task)
