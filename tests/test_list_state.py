"""The rules of one list's state, from plain ``Page`` values, with no request and no event loop.

What the server's pages tell the engine: the page size it really serves (and
where paging by it starts again), the last page a count or a hint implies, the
end (an empty page, a short one, a full page of repeats), the pages to read
again when a smaller count shows a possible gap, and when a list that never
holds still is given up on.
"""

from __future__ import annotations

import pytest

import bangwo8_async as bw
from bangwo8_async.paging.list_state import MAX_REPAIRS, ListState, Resized


def page(n: int, items: int, count: int | None, *, per_page: int = 10) -> bw.Page[int]:
    """Page ``n`` holding ``items`` items, reporting ``count`` (a next link while it is full)."""
    start = (n - 1) * per_page
    link = "next" if items == per_page else None
    return bw.Page(list(range(start, start + items)), count, n, per_page, link, None)


# -- the page size -----------------------------------------------------------------------------


def test_a_short_first_page_with_more_to_come_is_the_servers_page_size() -> None:
    state = ListState("l", 100)
    assert state.learn(1, 100, False, page(1, 20, 250, per_page=100)) == Resized(20, keep=True)
    assert (state.size, state.next, state.last, state.end) == (20, 2, 13, None)


def test_resized_on_a_later_page_paging_starts_again_where_that_page_began() -> None:
    state = ListState("l", 10, start_page=3)
    assert state.learn(3, 10, False, page(3, 5, 100)) == Resized(5, keep=False)
    assert (state.size, state.first, state.next, state.last) == (5, 5, 5, 20)


def test_a_page_size_no_page_can_start_at_is_an_error() -> None:
    state = ListState("l", 10, start_page=2)
    with pytest.raises(bw.InconsistentPagesError) as info:
        state.learn(2, 10, False, page(2, 3, 100))
    assert (info.value.asked, info.value.served, info.value.page) == (10, 3, 2)


def test_without_a_count_a_short_page_that_cannot_be_capped_is_the_end() -> None:
    state = ListState("l", 10, start_page=2)
    state.next = 3  # page 2 started
    assert state.learn(2, 10, False, page(2, 3, None)) == 2
    assert (state.size, state.end, state.startable(False)) == (10, 2, False)


# -- the last page and the end -----------------------------------------------------------------


def test_a_count_below_the_hint_cuts_the_pages_started_on_the_hint() -> None:
    state = ListState("l", 10, count_hint=100)
    assert state.last == 10
    state.next = 5  # pages 1 to 4 started on the hint
    assert state.learn(1, 10, False, page(1, 10, 25)) == 3
    assert (state.last, state.next) == (3, 4)


def test_a_growing_count_extends_the_list_and_a_shrinking_one_does_not_cut_it() -> None:
    state = ListState("l", 10)
    for n, count, last in ((1, 30, 3), (2, 45, 5), (3, 20, 5)):
        assert state.learn(n, 10, False, page(n, 10, count)) is None
        assert state.last == last
    assert (state.first_count, state.last_count) == (30, 20)


def test_an_empty_page_ends_the_list_unless_it_was_read_again() -> None:
    state = ListState("l", 10)
    state.next = 4
    state.learn(1, 10, False, page(1, 10, None))
    assert state.learn(3, 10, True, page(3, 0, None)) is None
    assert state.end is None
    assert state.learn(3, 10, False, page(3, 0, None)) == 3
    assert (state.end, state.next) == (3, 4)


def test_a_failed_page_ends_the_list_there_and_reading_it_again_reopens_it() -> None:
    state = ListState("l", 10)
    state.failed(4)
    state.failed(6)
    assert state.end == 4
    state.reopen(5)
    assert state.end == 4
    state.reopen(4)
    assert state.end is None


def test_what_a_page_taken_says_of_the_pages_after_it() -> None:
    state = ListState("l", 10)
    state.took(1, 10, False, 1, page(1, 10, None), fresh=10)
    assert state.open_until == 2  # a full page with a next link: the next is worth asking
    state.took(2, 10, False, 2, page(2, 10, None), fresh=0)
    assert state.end == 2  # a whole page of repeats, no count: a server that clamps pages
    state = ListState("l", 10)
    state.took(3, 10, False, 3, page(3, 4, 24), fresh=4)
    assert state.end == 3  # short, and the count says no more


# -- what may be read --------------------------------------------------------------------------


def test_before_the_first_answer_only_the_first_round_is_read_on_a_hint() -> None:
    state = ListState("l", 10, count_hint=50)
    state.next = 2
    assert state.startable(True) is None  # not known until the first page answers
    state.first_round = 3
    assert state.startable(True) is True
    state.learn(1, 10, False, page(1, 10, 50))
    state.next = 5
    assert state.startable(True) is True
    state.next = 6
    assert (state.startable(True), state.startable(False)) == (None, False)


def test_pages_are_expected_to_hold_what_the_count_leaves_for_them() -> None:
    state = ListState("l", 10)
    assert state.expected(3) == 10
    state.learn(1, 10, False, page(1, 10, 25))
    assert (state.expected(2), state.expected(3), state.expected(4)) == (10, 5, 0)


# -- gaps --------------------------------------------------------------------------------------


def test_a_smaller_count_on_a_page_read_first_reads_that_page_again() -> None:
    state = ListState("l", 10)
    state.took(1, 10, False, 5, page(1, 10, 100), fresh=10)
    assert state.gap(2, False, 7, page(2, 10, 100)) == []  # the same count: no gap
    assert state.gap(2, False, 3, page(2, 10, 97)) == [2]  # sent before page 1 came back


def test_a_smaller_count_on_a_page_read_last_reads_back_as_far_as_rows_can_have_moved() -> None:
    state = ListState("l", 10)
    state.took(5, 10, False, 5, page(5, 10, 100), fresh=10)
    assert state.gap(6, False, 9, page(6, 10, 75)) == [3, 4, 5]
    assert (state.repair, state.floor, state.count_before(6)) == (1, 75, 100)


def test_a_page_read_again_is_checked_only_against_its_own_repair() -> None:
    state = ListState("l", 10)
    state.took(5, 10, False, 5, page(5, 10, 100), fresh=10)
    state.gap(6, False, 9, page(6, 10, 90))
    state.took(5, 10, True, 12, page(5, 10, 95), fresh=10)  # read again in repair 1
    state.repair += 1  # a later repair began
    assert state.gap(6, True, 9, page(6, 10, 94)) == []  # no further shrink: not checked
    assert state.gap(6, True, 9, page(6, 10, 80)) == [6]  # shrunk further: checked


def test_a_boundary_that_never_agrees_is_given_up_on() -> None:
    state = ListState("l", 10)
    state.took(1, 10, False, 5, page(1, 10, 100), fresh=10)
    for _ in range(MAX_REPAIRS):
        assert state.gap(2, False, 3, page(2, 10, 99)) == [2]
    with pytest.raises(bw.InconsistentPagesError):
        state.gap(2, False, 3, page(2, 10, 99))
