"""The pytest plugin, used the way a user's own test suite would use it."""

from __future__ import annotations

from typing import Any

import bangwo8_async as bw
from bangwo8_async.testing import FakeBangwo8, Fault


async def test_bangwo8_fake_fixture(bangwo8_fake: FakeBangwo8) -> None:
    async with bw.Session(bangwo8_fake.basic_auth, base_url=bangwo8_fake.base_url) as session:
        tasks = [t async for t in bw.iter_call_tasks(session)]
    assert len(tasks) == len(bangwo8_fake.state) == 250


async def test_bangwo8_fake_factory_fixture(bangwo8_fake_factory: Any) -> None:
    fake = await bangwo8_fake_factory(tasks=5, users_per_task=2, retry_after=0)
    fake.inject(Fault.RATE_LIMITED)
    async with bw.Session(fake.client_credentials, base_url=fake.base_url) as session:
        users = [u async for u in bw.iter_all_task_users(session)]
    assert len(users) == 10
    assert fake.log[0].status == 429


def test_plugin_is_registered(pytestconfig: Any) -> None:
    assert pytestconfig.pluginmanager.has_plugin("bangwo8_async")
