"""What the server has told us about one paged list, and the rules that follow from it.

The page size it really serves, its last page, its end, the counts it
reported and the gaps closed in it. Plain values in (a page's number, the size
it was asked by, whether it was read again, the :class:`~bangwo8_async.Page`
it gave), decisions out: the reads themselves are the read queue's
(:mod:`.read_queue`), and :class:`~.source.Source` applies what is decided here.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs

from ..errors import InconsistentPagesError
from ..models import Page

logger = logging.getLogger("bangwo8_async")

#: How often one page boundary may be read again before the engine gives up on a list that
#: never holds still long enough for two neighbouring reads to agree.
MAX_REPAIRS = 20

#: Pages whose count is remembered for the gap check: far more than a gap can reach back.
_PAGES_REMEMBERED = 64


@attrs.frozen
class Resized:
    """The server pages by ``size``, not by what was asked: every read at the old size is void.

    ``keep``: the page that showed it starts a page of the new size (page 1),
    so its rows stand, as that page at the new size.
    """

    size: int
    keep: bool


def _pages_for(count: int, size: int) -> int:
    """The number of pages of ``size`` that hold ``count`` items."""
    return -(-count // size)


def _served_size(number: int, asked: int, page: Page[Any]) -> int | None:
    """The page size the server really serves, if the first page shows one below ``asked``.

    Without a count, a short first page is the end unless it can be a capped
    page: one that starts where a page of its size would.
    """
    served = len(page.items)
    offset = (number - 1) * asked
    more = page.count is None or page.count > offset + served
    capped = page.count is not None or offset % max(served, 1) == 0
    return served if 0 < served < asked and more and capped else None


def _is_end(number: int, asked: int, page: Page[Any]) -> bool:
    """Whether page ``number`` is the end: empty, or short with no count saying more."""
    short = len(page.items) < asked and (page.count is None or page.count <= number * asked)
    return short or not page.items


class ListState:
    """One paged list as far as the server has shown it: the rules, no requests."""

    __slots__ = (
        "end",
        "first",
        "first_count",
        "first_round",
        "floor",
        "hinted",
        "label",
        "last",
        "last_count",
        "next",
        "open_until",
        "repair",
        "repairs",
        "size",
        "sized",
        "taken",
    )

    def __init__(
        self, label: str, per_page: int, start_page: int = 1, count_hint: int | None = None
    ) -> None:
        self.label = label
        self.size = per_page
        self.first = start_page  # the first page read: it tells the real page size
        self.next = start_page  # the next page to start reading
        self.last = _pages_for(count_hint, per_page) if count_hint else None  # from a count
        self.hinted = self.last is not None  # ``last`` comes from a hint until a page counts
        # Pages asked for at once before the first answer: the scheduler sets its concurrency.
        self.first_round = 1
        self.open_until = start_page  # without a count: pages known to be worth asking for
        self.end: int | None = None  # no page after this one exists
        self.sized = False
        # Recent pages taken: number -> (count, when it came back, the repair it was read in);
        # a hint stands in for the page before ``start_page``.
        self.taken: dict[int, tuple[int | None, int, int]] = {}
        if start_page > 1 and count_hint is not None:
            self.taken[start_page - 1] = (count_hint, -1, 0)
        self.repair = 0  # the current repair: pages read again are checked against each other
        self.floor = 0  # the count that sized the current repair
        self.repairs: dict[int, int] = {}  # page -> times a gap before it was closed
        self.first_count: int | None = None
        self.last_count: int | None = None

    def __repr__(self) -> str:
        return f"<ListState {self.label} next={self.next} last={self.last} end={self.end}>"

    # -- what may be read -------------------------------------------------------------------

    def startable(self, reading: bool) -> bool | None:
        """``True``: read ``next`` now; ``None``: not known yet; ``False``: nothing more to read.

        ``reading``: reads of this list are queued, whose answers may tell more.
        """
        n = self.next
        if self.end is not None and n > self.end:
            return False
        if n == self.first or n <= self.open_until:
            return True
        if self.last is not None and n <= self.last:
            return self.sized or n < self.first + self.first_round or None
        return None if reading else False

    def expected(self, number: int) -> int:
        """How many items page ``number`` should hold, as far as we know."""
        count = self.last_count
        if count is not None and self.sized:
            return max(0, min(self.size, count - (number - 1) * self.size))
        return self.size

    # -- learning from a page that came back ------------------------------------------------

    def learn(self, number: int, asked: int, again: bool, page: Page[Any]) -> Resized | int | None:
        """Take in what page ``number`` (asked by ``asked`` a page) says of the list.

        Returns :class:`Resized` when it shows the server's real page size;
        otherwise the page past which no new read is wanted, or ``None``.
        """
        self._count(page.count)
        if not self.sized and number == self.first and not again:
            self.sized = True
            served = _served_size(number, asked, page)
            if served is not None:
                return self._resize(number, asked, served, page.count)
        cut = self._last_from_count(page.count)
        if not again and _is_end(number, asked, page):
            self.end_at(number)
            end = self._cut(number)  # nothing lies past the end: stop asking
            cut = end if cut is None else min(cut, end)
        return cut

    def failed(self, number: int) -> None:
        """Page ``number`` could not be read: nothing after it is started."""
        self.end_at(number)

    def end_at(self, number: int) -> None:
        """No page after ``number`` exists."""
        self.end = number if self.end is None else min(self.end, number)

    def _count(self, count: int | None) -> None:
        """Remember the first and the latest count the server reported."""
        if count is not None:
            if self.first_count is None:
                self.first_count = count
            self.last_count = count

    def _resize(self, number: int, asked: int, served: int, count: int | None) -> Resized:
        """The server serves ``served`` rows a page, not what we asked: page by that."""
        offset = (number - 1) * asked
        if offset % served:
            raise InconsistentPagesError(
                f"{self.label}: asked for {asked} a page, the server served {served}, "
                f"and page {number} (offset {offset}) has no page of {served} to start at",
                asked=asked,
                served=served,
                count=count,
                page=number,
            )
        logger.info(
            "%s: the server serves %d rows a page, not %d; paging by %d",
            self.label,
            served,
            asked,
            served,
        )
        new = offset // served + 1
        before = self.taken.pop(number - 1, None)
        self.taken = {new - 1: before} if before is not None else {}
        self.size = served
        keep = new == number  # page 1: the same rows at either size
        self.next = new + 1 if keep else new
        self.first = new
        self.open_until = new + 1
        self.last = _pages_for(count, served) if count is not None else None
        self.end = None
        return Resized(served, keep)

    def _last_from_count(self, count: int | None) -> int | None:
        """The last page a count implies; a cut if it shows a hint overstated the list."""
        if count is None:
            return None
        implied = _pages_for(count, self.size)
        if self.hinted:
            self.hinted = False
            self.last = implied
            return self._cut(max(implied, self.first))
        # A count that grows mid-export extends the list; a shrinking one ends it where it ends.
        self.last = implied if self.last is None else max(self.last, implied)
        return None

    def _cut(self, last: int) -> int:
        """Nothing past page ``last`` is read: step ``next`` back to it, and say so."""
        self.next = max(self.first, min(self.next, last + 1))
        return last

    # -- taking the head page ---------------------------------------------------------------

    def gap(self, number: int, again: bool, sent: int, page: Page[Any]) -> list[int]:
        """The pages to read again before page ``number`` may follow the last page taken.

        The two were read at different moments (``sent`` is when this one went
        out, on the scheduler's clock). An item can fall between them only if
        the list shrank in front of them between the two reads, which the later
        read's smaller ``count`` shows: either this page was read first (items
        added in front pushed the rest past it: read this page again), or last
        (items removed pulled the rest onto the pages before: read those again).
        A count cannot reveal an insert and a delete that cancel out between two
        reads.
        """
        before = number - 1
        count, received, repair = self.taken.get(before, (None, 0, 0))
        if again and repair != self.repair and (page.count or 0) >= self.floor:
            # A repair reaches back as far as the list had shrunk when it began, so a page
            # read again is checked only against the pages read again with it, unless the
            # list has shrunk further since.
            return []
        if count is None or page.count is None or page.count >= count:
            return []
        repairs = self.repairs[number] = self.repairs.get(number, 0) + 1
        if repairs > MAX_REPAIRS:
            raise InconsistentPagesError(
                f"{self.label}: pages {before} and {number} never agreed after "
                f"{MAX_REPAIRS} reads (count {count} then {page.count}); the list keeps changing",
                asked=self.size,
                served=len(page.items),
                count=page.count,
                page=number,
            )
        if sent <= received:  # maybe read first: items added in front pushed rows past it
            return [number]
        self.repair += 1
        self.floor = page.count
        back = _pages_for(count - page.count, self.size)  # as far back as rows can have moved
        return list(range(max(1, before - back + 1), before + 1))

    def count_before(self, number: int) -> int | None:
        """The count the page before ``number`` reported when it was taken, if known."""
        return self.taken.get(number - 1, (None, 0, 0))[0]

    def reopen(self, number: int) -> None:
        """Page ``number`` is read again: an end its stale read decided is decided again."""
        if self.end is not None and self.end >= number:
            self.end = None

    def took(
        self, number: int, asked: int, again: bool, received: int, page: Page[Any], fresh: int
    ) -> None:
        """Remember page ``number`` taken (``fresh`` of its items new), and whether more follow."""
        self.taken[number] = (page.count, received, self.repair if again else 0)
        self.taken.pop(number - _PAGES_REMEMBERED, None)
        self.repairs.pop(number - 1, None)
        if again:
            return
        full = len(page.items) >= asked
        more = page.count is not None and page.count > number * asked
        if not page.items:
            self.end_at(number)
        elif not fresh and full and not more:
            # A whole page of items already yielded, and no count that says more: a server
            # that clamps the page number (a list that grew in front says so by its count).
            self.end_at(number)
        elif full and (page.count is None or page.next_page is not None):
            self.open_until = max(self.open_until, number + 1)
        elif not full and (page.count is None or page.count <= number * asked):
            self.end_at(number)
