"""The identities of the items on the last few pages an iterator yielded, in bounded memory."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class RecentKeys(Generic[T]):
    """Remembers the keys of recent pages, to drop an item that a shift brought back.

    Offset paging repeats an item only when the list moved between two reads,
    and then only onto a nearby page, so the keys of pages that lie further
    back than ``max_keys`` keys are forgotten (always keeping the last two
    pages). An item shifted further may be yielded twice; it is never lost.

    Each page's keys are one set, and their union is kept beside them, so the
    usual page, with nothing repeated, is checked, remembered and forgotten by
    a few set operations in C, never a Python step per key.
    """

    def __init__(
        self,
        key: Callable[[T], Hashable],
        max_keys: int,
        keys: Callable[[list[T]], set[Hashable]] | None = None,
    ) -> None:
        self.key = key
        # A page's keys at once: ``keys`` gives what ``set(map(key, items))`` does, by a
        # comprehension that reads the fields directly rather than calling ``key`` per item.
        self.keys = keys if keys is not None else self._mapped
        self.max_keys = max_keys
        self._recent: deque[tuple[set[Hashable], bool]] = deque()  # keys, shared with earlier
        self._all: set[Hashable] = set()  # the union of the pages' keys
        self._shared = 0  # pages remembered that share keys with an earlier one
        self._size = 0

    def _mapped(self, items: list[T]) -> set[Hashable]:
        return set(map(self.key, items))

    def __len__(self) -> int:
        return self._size

    def __contains__(self, key: Hashable) -> bool:
        return key in self._all

    def remember(self, keys: Iterable[Hashable]) -> None:
        """Add one page's keys (e.g. what a caller already has, before resuming)."""
        page = set(keys)
        self._add(page, not self._all.isdisjoint(page))

    def fresh(self, items: list[T]) -> list[T]:
        """The items not on a remembered page, then remember this page.

        Two equal items on one page are two items: only earlier pages count.
        """
        page = self.keys(items)
        seen = self._all
        if seen.isdisjoint(page):
            self._add(page, False)
            return items
        key = self.key
        fresh = [item for item in items if key(item) not in seen]
        self._add(page, True)
        return fresh

    def _add(self, page: set[Hashable], shared: bool) -> None:
        """Remember ``page`` (``shared``: it holds a key of a remembered page), then forget
        the oldest pages beyond ``max_keys``."""
        pages, everything = self._recent, self._all
        pages.append((page, shared))
        everything |= page
        self._shared += shared
        self._size += len(page)
        while len(pages) > 2 and self._size - len(pages[0][0]) >= self.max_keys:
            old, old_shared = pages.popleft()
            self._size -= len(old)
            self._shared -= old_shared
            if self._shared:
                # A later page holds some of these keys too: only a rebuild knows which stay.
                self._all = everything = set().union(*(keys for keys, _ in pages))
            else:
                everything -= old  # no page shares a key with another: none of these stays
