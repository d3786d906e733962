"""Shared fixtures: a fake server, sessions that never sleep for real, and helpers."""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aioresponses import aioresponses

import bangwo8_async as bw
from bangwo8_async.testing import FakeBangwo8

# dlt reports usage to its makers unless told not to; nothing in the tests leaves the machine.
os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"

VENDOR = Path(__file__).parent / "vendor"
BASE = "https://api.test.invalid/api/v1"


def vendor(name: str) -> bytes:
    """One of the reference's own example payloads, byte for byte."""
    return (VENDOR / f"{name}.txt").read_bytes()


class SleepRecorder:
    """A Backoff sleep that records each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


class _NoWriter:
    output_size = 0


_NEEDS_WRITER = "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters


class CompatResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 builds responses without aiohttp 3.14's ``stream_writer``
    (pnuckowski/aioresponses#289); supply the one attribute aiohttp reads from it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if _NEEDS_WRITER:
            kwargs.setdefault("stream_writer", _NoWriter())
        super().__init__(*args, **kwargs)


class MockedHTTP(aioresponses):
    """aioresponses with the compatible response class on every mock."""

    def add(self, url: Any, method: str = "GET", *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("response_class", CompatResponse)
        super().add(url, method, *args, **kwargs)


@pytest.fixture
def mocked() -> Iterator[MockedHTTP]:
    with MockedHTTP() as m:
        yield m


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def backoff(sleeps: SleepRecorder) -> bw.Backoff:
    return bw.Backoff(sleep=sleeps)


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeBangwo8]:
    async with FakeBangwo8(tasks=250, users_per_task=3) as server:
        yield server


@pytest.fixture
def make_session(backoff: bw.Backoff) -> Callable[..., bw.Session]:
    """Sessions for a fake (or any base URL) whose retries never sleep for real."""

    def make(fake: FakeBangwo8 | None = None, **options: Any) -> bw.Session:
        if fake is not None:
            options.setdefault("base_url", fake.base_url)
            options.setdefault("auth", fake.basic_auth)
        options.setdefault("base_url", BASE)
        options.setdefault("auth", bw.BasicAuth("admin@example.com", "pa55-word"))
        options.setdefault("backoff", backoff)
        auth = options.pop("auth")
        return bw.Session(auth, **options)

    return make


def sdk_tasks() -> list[asyncio.Task[Any]]:
    """Unfinished tasks running SDK code (the fake server's own handler tasks excluded)."""
    found = []
    for task in asyncio.all_tasks():
        if task is asyncio.current_task() or task.done():
            continue
        coro = task.get_coro()
        code = getattr(coro, "cr_code", None)
        filename = code.co_filename if code else ""
        ours = "bangwo8_async" in filename and "testing" not in filename
        if ours or "aclose" in repr(coro):  # an abandoned generator being closed
            found.append(task)
    return found


async def settle(limit: float = 2.0) -> None:
    """Wait until no SDK task is left (an abandoned generator is closed by the loop soon)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    for _ in range(5):
        await asyncio.sleep(0)
    while sdk_tasks() and loop.time() < deadline:  # noqa: ASYNC110 - polling the loop itself
        await asyncio.sleep(0.005)


@pytest_asyncio.fixture(autouse=True)
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """Fail a test whose loop reported an error: a task destroyed while pending, an
    exception never retrieved, and the like."""
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: errors.append(context))
    yield errors
    loop.set_exception_handler(previous)
    assert not errors, [e.get("message") for e in errors]


class ThreadedFake:
    """A :class:`FakeBangwo8` served from its own thread and loop, for subprocesses to reach.

    It outlives the command lines a test starts (and kills); ``env`` is what
    they need to connect, ``fake.log`` what they asked.
    """

    def __init__(self, **options: Any) -> None:
        import threading

        self.fake = FakeBangwo8(**options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> ThreadedFake:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    @property
    def env(self) -> dict[str, str]:
        """The environment a ``bangwo8`` subprocess connects with."""
        return {
            "BANGWO8_BASE_URL": self.fake.base_url,
            "BANGWO8_ACCOUNT": self.fake.account,
            "BANGWO8_PASSWORD": self.fake.password,
        }


@pytest.fixture
def threaded_fake() -> Iterator[Callable[..., ThreadedFake]]:
    """A factory of :class:`ThreadedFake` servers, each closed at the end of the test."""
    import contextlib

    with contextlib.ExitStack() as stack:
        yield lambda **options: stack.enter_context(ThreadedFake(**options))
