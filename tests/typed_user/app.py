"""A user's program, type-checked with ``mypy --strict`` outside this repository.

CI and ``tests/test_packaging.py`` copy this file to an empty directory and run
``mypy --strict`` on it there, so the check only passes if an installed
``bangwo8_async`` (editable included) is visible to type checkers and ships its
types (``py.typed``). It also runs: ``python app.py`` exports from the fake
server and prints what it saw.

Use only public names here: this is what a program outside the repository sees.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import date

import bangwo8_async as bw
from bangwo8_async.testing import FakeBangwo8


async def names_of_tasks(session: bw.Session, limit: int) -> list[str]:
    """The first ``limit`` task names, in list order, through the concurrent iterator."""
    names: list[str] = []
    async with contextlib.aclosing(bw.iter_call_tasks(session, concurrency=4)) as tasks:
        async for task in tasks:
            names.append(task.task_name)
            if len(names) == limit:
                break
    return names


async def first_customer(session: bw.Session, call_task_id: int) -> bw.TaskUser | None:
    """The first customer of a task, or ``None`` for a task without any."""
    page: bw.Page[bw.TaskUser] = await bw.list_task_users(session, call_task_id, per_page=10)
    return page.items[0] if page.items else None


def describe(task: bw.CallTaskDetail) -> str:
    """One line about a task; the status is an enum member or the server's raw label."""
    status = task.status.value if isinstance(task.status, bw.TaskStatus) else task.status
    return f"{task.call_task_id} {task.task_name} {status} {task.connect_count}/{task.phone_count}"


async def main() -> int:
    async with FakeBangwo8(tasks=30, users_per_task=2, seed=7) as fake:
        auth: bw.BasicAuth = fake.basic_auth
        async with bw.Session(auth, base_url=fake.base_url, max_concurrency=4) as session:
            listing: bw.Page[bw.CallTask] = await bw.list_call_tasks(
                session, per_page=5, created_start=date(2000, 1, 1)
            )
            detail = await bw.get_call_task(session, listing.items[0].call_task_id)
            print(describe(detail))
            print(await names_of_tasks(session, limit=12))
            customer = await first_customer(session, detail.call_task_id)
            if customer is not None:
                progress: bw.Progress | str = customer.progress
                print(customer.user_name, customer.phone, progress)
            try:
                await bw.get_call_task(session, 99_999_999)
            except bw.NotFoundError as exc:
                code: str | None = exc.code
                print("not found:", exc.status, code)
            try:
                bw.NewCallTask(
                    task_name="",
                    task_start=date(2024, 5, 20),
                    task_end=date(2024, 5, 23),
                    customer_ids=[321456],
                    agent_ids=[567332],
                    data_source=bw.DataSource.CONTACT,
                )
            except bw.ValidationError as exc:
                print("refused:", exc)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
