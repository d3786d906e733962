"""The window of recent pages' keys that the iterators drop repeats against."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bangwo8_async._window import RecentKeys


def identity(x: int) -> int:
    return x


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    pages=st.lists(st.lists(st.integers(0, 30), max_size=8), max_size=30),
    max_keys=st.integers(1, 20),
)
def test_drops_only_what_a_remembered_earlier_page_held(
    pages: list[list[int]], max_keys: int
) -> None:
    window: RecentKeys[int] = RecentKeys(identity, max_keys)
    earlier: list[set[int]] = []
    for page in pages:
        got = window.fresh(list(page))
        # Every item not on an earlier page is kept, as often as the page holds it.
        unseen = [x for x in page if not any(x in keys for keys in earlier)]
        assert [x for x in got if x in set(unseen)] == unseen
        # Nothing is dropped that no earlier page held.
        assert set(page) - set(got) <= set().union(*earlier) if earlier else got == page
        earlier.append(set(page))
    # The last two pages are always remembered.
    for keys in earlier[-2:]:
        assert all(x in window for x in keys)


def test_forgets_pages_past_its_size_but_keeps_the_last_two() -> None:
    window: RecentKeys[int] = RecentKeys(identity, 4)
    for page in ([1, 2, 3], [4, 5, 6], [7, 8, 9]):
        window.fresh(page)
    assert 1 not in window and 4 in window and 9 in window
    assert window.fresh([3, 4, 10]) == [3, 10]  # 3 was forgotten: kept, never lost
    assert len(window) <= 3 + 3 + 3
