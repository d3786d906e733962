"""The window of recent pages' keys that the iterators drop repeats against."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bangwo8_async.paging.window import RecentKeys


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


def test_keeps_the_oldest_page_while_the_newer_ones_hold_fewer_keys_than_its_size() -> None:
    # 7 keys asked for; the two newer pages hold 6: the oldest is still needed, so kept.
    window: RecentKeys[int] = RecentKeys(identity, 7)
    for page in ([1, 2, 3], [4, 5, 6], [7, 8, 9]):
        window.fresh(page)
    assert len(window) == 9
    assert window.fresh([1, 10]) == [10]  # a repeat from the oldest page: dropped


def test_forgets_the_oldest_page_exactly_when_the_newer_ones_hold_its_size() -> None:
    window: RecentKeys[int] = RecentKeys(identity, 6)
    for page in ([1, 2, 3], [4, 5, 6], [7, 8, 9]):
        window.fresh(page)
    assert len(window) == 6 and 3 not in window and 4 in window
    assert window.fresh([3, 4, 10]) == [3, 10]  # 4 is within the window: dropped


def test_a_window_of_one_page_keeps_the_whole_of_the_last_two() -> None:
    window: RecentKeys[int] = RecentKeys(identity, 1)
    window.remember([1, 2])
    window.fresh([3, 4])
    assert len(window) == 4 and all(x in window for x in (1, 2, 3, 4))
    assert window.fresh([2, 4, 5]) == [5]
    assert 1 not in window and 3 in window and len(window) == 5


def test_shared_keys_stay_while_a_later_page_holds_them() -> None:
    window: RecentKeys[int] = RecentKeys(identity, 2)
    window.fresh([1, 2])
    window.fresh([2, 3])  # shares 2 with the first page
    window.fresh([4, 5])  # the first page goes; 2 stays, on the second
    assert 1 not in window and 2 in window and 3 in window
    window.fresh([6, 7])  # the second page goes too, and 2 with it
    assert 2 not in window and 3 not in window and len(window) == 4
    assert window.fresh([2, 3, 4]) == [2, 3]


def test_keys_remembered_before_resuming_count_as_a_page() -> None:
    window: RecentKeys[int] = RecentKeys(identity, 10)
    window.remember([1, 2])
    window.remember([2, 3])  # shares a key: the union still holds every one
    assert len(window) == 4 and all(x in window for x in (1, 2, 3))
    assert window.fresh([1, 3, 4]) == [4]


class ModelWindow:
    """The window's rule, spelled out: drop the oldest page while more than two are kept
    and the newer ones hold at least ``max_keys`` keys."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self.pages: list[set[int]] = []

    def keys(self) -> set[int]:
        return set().union(*self.pages)

    def fresh(self, page: list[int]) -> list[int]:
        seen = self.keys()
        out = [x for x in page if x not in seen]
        self.pages.append(set(page))
        while len(self.pages) > 2 and sum(map(len, self.pages[1:])) >= self.max_keys:
            self.pages.pop(0)
        return out


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    pages=st.lists(st.lists(st.integers(0, 25), max_size=8), max_size=30),
    max_keys=st.integers(1, 20),
)
def test_drops_and_keeps_exactly_what_its_rule_says(pages: list[list[int]], max_keys: int) -> None:
    window: RecentKeys[int] = RecentKeys(identity, max_keys)
    model = ModelWindow(max_keys)
    for page in pages:
        assert window.fresh(list(page)) == model.fresh(page)
        keys = model.keys()
        assert len(window) == sum(map(len, model.pages))
        assert all(x in window for x in keys)
        assert not any(x in window for x in range(26) if x not in keys)


def test_the_oldest_page_goes_by_its_own_size_when_pages_differ() -> None:
    """Ten keys kept: after pages of 2, 9 and 1 keys, the last two hold ten, so the first goes."""
    window: RecentKeys[int] = RecentKeys(identity, 10)
    window.fresh([1, 2])
    window.fresh(list(range(10, 19)))
    window.fresh([30])
    assert 1 not in window and 2 not in window and len(window) == 10
