"""pytest fixtures for code that uses bangwo8_async, loaded through the ``pytest11`` entry point.

``bangwo8_fake`` is a running :class:`~bangwo8_async.testing.FakeBangwo8` with
sample data; ``bangwo8_fake_factory(**options)`` starts one with your own
sizes, latency and faults (closed for you at the end of the test). Both are
async fixtures and need pytest-asyncio; without it they are not defined and
nothing else in your test run changes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from .fake import FakeBangwo8

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the plugin must never break a run without it
    pytest_asyncio = None  # type: ignore[assignment]

FakeFactory = Callable[..., Awaitable[FakeBangwo8]]

if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def bangwo8_fake_factory() -> AsyncIterator[FakeFactory]:
        """Start fakes with your own options: ``fake = await bangwo8_fake_factory(tasks=10)``."""
        started: list[FakeBangwo8] = []

        async def make(**options: Any) -> FakeBangwo8:
            fake = await FakeBangwo8(**options).start()
            started.append(fake)
            return fake

        try:
            yield make
        finally:
            for fake in started:
                await fake.close()

    @pytest_asyncio.fixture
    async def bangwo8_fake(bangwo8_fake_factory: FakeFactory) -> FakeBangwo8:
        """A running fake Bangwo8 with 250 seeded tasks of 3 customers each."""
        return await bangwo8_fake_factory()
