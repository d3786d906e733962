"""The shortcuts on the per-request and per-page paths answer as the general code does, and
a slow GET lets the next request go out before its page is read."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import date
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bangwo8_async as bw
import bangwo8_async._http.retry as retry_module
from bangwo8_async._http.session import _query
from bangwo8_async.paging.identity import task_keys, user_keys
from bangwo8_async.paging.window import RecentKeys
from bangwo8_async.testing import FakeBangwo8

_values = st.one_of(
    st.integers(),
    st.booleans(),
    st.text(max_size=12),
    st.text(alphabet="abcXYZ019_.-", min_size=1, max_size=12),
    st.dates().map(str),
)
_keys = st.one_of(st.text(max_size=8), st.sampled_from(["page", "per_page", "created_start"]))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.dictionaries(_keys, _values, max_size=4))
def test_query_is_urlencode(params: dict[str, str | int]) -> None:
    assert _query(params) == urlencode(params)


def test_a_key_stays_known_while_a_later_page_holds_it() -> None:
    window: RecentKeys[int] = RecentKeys(lambda x: x, 4)
    window.fresh([1, 2, 3])
    assert window.fresh([3, 4, 5]) == [4, 5]  # 3 repeated from the first page
    window.fresh([6, 7, 8])  # forgets the first page, not the second
    assert 1 not in window and 2 not in window
    assert 3 in window and 4 in window
    assert window.fresh([3, 9]) == [9]


def test_forgetting_pages_with_nothing_shared_forgets_their_keys() -> None:
    window: RecentKeys[int] = RecentKeys(lambda x: x, 4)
    for start in range(0, 30, 3):
        window.fresh([start, start + 1, start + 2])
    assert [x for x in range(30) if x in window] == list(range(24, 30))
    assert window.fresh([20, 23, 24, 30]) == [20, 23, 30]


@pytest.mark.parametrize(("turn_after", "attempts"), [(0.0, 2), (math.inf, 1)])
async def test_a_slow_get_lets_the_next_send_go_before_its_page_reaches_its_caller(
    fake: FakeBangwo8,
    make_session: Callable[..., bw.Session],
    monkeypatch: pytest.MonkeyPatch,
    turn_after: float,
    attempts: int,
) -> None:
    """With one place in the window, the call waiting for it has started its attempt by the
    time the first call's page is handed back, when answers take at least ``_TURN_AFTER``
    (a round's next requests go out while its pages are structured); a quicker answer is
    handed back at once."""
    monkeypatch.setattr(retry_module, "_TURN_AFTER", turn_after)
    attempts_seen: list[int] = []
    async with make_session(fake, max_concurrency=1, adaptive=False) as session:

        async def first() -> None:
            await bw.list_call_tasks(session, page=1)
            attempts_seen.append(session.stats.attempts)

        await asyncio.gather(first(), bw.list_call_tasks(session, page=2))
    assert attempts_seen == [attempts]


_user_fields = st.tuples(
    st.integers(1, 10**9),
    st.none() | st.integers(1, 10**9),
    st.none() | st.integers(1, 10**9),
    st.text(max_size=4),
    st.text(max_size=4),
    st.text(max_size=4),
    st.sampled_from([*bw.Progress, "raw"]),
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(_user_fields, max_size=6), st.lists(st.integers(1, 10**9), max_size=6))
def test_a_page_of_keys_is_the_set_of_its_row_identities(
    users: list[tuple[object, ...]], task_ids: list[int]
) -> None:
    customers = [bw.TaskUser(*fields) for fields in users]  # type: ignore[arg-type]
    tasks = [bw.CallTask(i, "t", date(2022, 1, 1), date(2022, 1, 2), "x") for i in task_ids]
    assert user_keys(customers) == {bw.row_identity(u) for u in customers}
    assert task_keys(tasks) == {bw.row_identity(t) for t in tasks}


def test_a_window_with_a_page_keys_function_drops_what_the_key_drops() -> None:
    def keys(xs: list[int]) -> set[object]:
        return {x % 10 for x in xs}

    window: RecentKeys[int] = RecentKeys(lambda x: x % 10, 100, keys=keys)
    window.fresh([1, 2, 3])
    assert window.fresh([11, 14, 15]) == [14, 15]  # 11 is 1 again, by the key
