"""The shortcuts on the per-request and per-page paths answer as the general code does, and
the next request goes out before a page is read."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

import bangwo8_async as bw
from bangwo8_async._window import RecentKeys
from bangwo8_async.session import _query
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


async def test_the_next_get_is_sent_before_a_page_reaches_its_caller(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    """With one place in the window, the call waiting for it has started its attempt by the
    time the first call's page is handed back: a round's next requests go out while its
    pages are structured, not after."""
    attempts_seen: list[int] = []
    async with make_session(fake, max_concurrency=1, adaptive=False) as session:

        async def first() -> None:
            await bw.list_call_tasks(session, page=1)
            attempts_seen.append(session.stats.attempts)

        await asyncio.gather(first(), bw.list_call_tasks(session, page=2))
    assert attempts_seen == [2]
