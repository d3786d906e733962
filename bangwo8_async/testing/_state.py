"""The fake's data: the tasks in list order, created and deleted tasks, and customer rows."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from ._data import FIRST_TASK_ID, TaskRecord, customer_item, seeded_customers, seeded_task

__all__ = ["FakeState"]


class FakeState:
    """The fake's data: the tasks in list order and each task's customers.

    ``version`` goes up with every change, so a page rendered before it is
    never served after it.
    """

    def __init__(self, *, tasks: int, users_per_task: int, seed: int) -> None:
        self.seed = seed
        self.users_per_task = users_per_task
        self._seeded_total = tasks
        self.order: list[int] = list(range(FIRST_TASK_ID, FIRST_TASK_ID + tasks))
        self._alive = set(self.order)
        self._records: dict[int, TaskRecord] = {}
        self._rows: dict[int, list[dict[str, Any]]] = {}
        self._next_id = FIRST_TASK_ID + tasks
        self.version = 0  # bumped by every change, so cached pages go stale
        self._filtered: dict[tuple[str | None, str | None], tuple[int, list[int]]] = {}

    def __len__(self) -> int:
        return len(self.order)

    def __contains__(self, call_task_id: object) -> bool:
        return call_task_id in self._alive

    def task(self, call_task_id: int) -> TaskRecord | None:
        """The task with this id, or ``None`` if there is none (any more)."""
        if call_task_id not in self._alive:
            return None
        record = self._records.get(call_task_id)
        if record is None:
            index = call_task_id - FIRST_TASK_ID
            record = seeded_task(self.seed, index, self._seeded_total)
        return record

    def customers(self, record: TaskRecord) -> Sequence[int]:
        """The task's customer ids: those it was created with, or its seeded ones.

        For a task whose rows were given with :meth:`set_customers`, their positions.
        """
        rows = self._rows.get(record.call_task_id)
        if rows is not None:
            return range(len(rows))
        if record.customers is not None:
            return record.customers
        return seeded_customers(record, self.users_per_task)

    def set_customers(self, call_task_id: int, rows: Iterable[Mapping[str, Any]]) -> None:
        """Serve exactly these customer rows for the task, in this order, from now on.

        Each row holds the ``userList`` fields as they go on the wire (``cId``,
        ``uId``, ``userName``, ``companyName``, ``phone``, ``progress``): a contact
        with several phone rows, people with ``cId: ""`` under one company, two
        equal rows. Call it again to change a row between two reads.
        """
        if call_task_id not in self._alive:
            raise KeyError(f"no task {call_task_id}")
        self._rows[call_task_id] = [dict(row) for row in rows]
        self.version += 1

    def set_status(self, call_task_id: int, status: str) -> None:
        """Give a task this status (its ``complete`` label, or any raw text) from now on."""
        record = self.task(call_task_id)
        if record is None:
            raise KeyError(f"no task {call_task_id}")
        record.complete = status
        self._records[call_task_id] = record
        self.version += 1

    def customer_items(self, record: TaskRecord, start: int, stop: int) -> list[dict[str, Any]]:
        """The customer list's entries ``start:stop``, in the vendor's shape."""
        rows = self._rows.get(record.call_task_id)
        if rows is not None:
            task_id = str(record.call_task_id)
            return [{"callTaskid": task_id, "userList": dict(row)} for row in rows[start:stop]]
        chunk = self.customers(record)[start:stop]
        return [customer_item(self.seed, record, c) for c in chunk]

    def task_items(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """The task list's entries for these ids (any deleted meanwhile left out)."""
        records = (self.task(call_task_id) for call_task_id in ids)
        return [record.list_item() for record in records if record is not None]

    def add_task(self, record: TaskRecord, *, front: bool = False) -> None:
        """Add one task at the end of the list, or at the front (newest first)."""
        self._records[record.call_task_id] = record
        self._alive.add(record.call_task_id)
        if front:
            self.order.insert(0, record.call_task_id)
        else:
            self.order.append(record.call_task_id)
        self.version += 1

    def add_tasks(self, count: int, *, front: bool = False) -> list[int]:
        """Add ``count`` new tasks (at the front, as newest-first lists do, or the end)."""
        ids = []
        for _ in range(count):
            call_task_id = self.new_id()
            record = seeded_task(self.seed, call_task_id - FIRST_TASK_ID, self._seeded_total)
            record.call_task_id = call_task_id
            record.customers = list(self.customers(record))
            self.add_task(record, front=front)
            ids.append(call_task_id)
        return ids

    def new_id(self) -> int:
        """A task id never used before."""
        self._next_id += 1
        return self._next_id - 1

    def delete(self, call_task_id: int) -> bool:
        """Delete a task; ``False`` if it did not exist."""
        if call_task_id not in self._alive:
            return False
        self._alive.discard(call_task_id)
        self.order.remove(call_task_id)
        self._records.pop(call_task_id, None)
        self._rows.pop(call_task_id, None)
        self.version += 1
        return True

    def delete_random(self, rng: random.Random) -> int | None:
        """Delete a task chosen by ``rng``; its id, or ``None`` when there is none left."""
        if not self.order:
            return None
        victim = rng.choice(self.order)
        self.delete(victim)
        return victim

    def listing(self, start: str | None, end: str | None) -> list[int]:
        """Task ids in list order, filtered by created date (inclusive); cached per filter."""
        if start is None and end is None:
            return self.order
        cached = self._filtered.get((start, end))
        if cached is not None and cached[0] == self.version:
            return cached[1]
        lo = date.fromisoformat(start) if start else date.min
        hi = date.fromisoformat(end) if end else date.max
        ids = []
        for call_task_id in self.order:
            record = self.task(call_task_id)
            if record is not None and lo <= record.created <= hi:
                ids.append(call_task_id)
        self._filtered[(start, end)] = (self.version, ids)
        return ids
