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
    pages). An item shifted further than that may be yielded twice; it is
    never lost. Each page's keys are one set, so the usual page, with nothing
    repeated, is checked and remembered in C, and forgetting a page is O(1).
    """

    def __init__(self, key: Callable[[T], Hashable], max_keys: int) -> None:
        self.key = key
        self.max_keys = max_keys
        self._pages: deque[set[Hashable]] = deque()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __contains__(self, key: Hashable) -> bool:
        return any(key in page for page in self._pages)

    def remember(self, keys: Iterable[Hashable]) -> None:
        """Add one page's keys (e.g. what a caller already has, before resuming)."""
        self._add(set(keys))

    def fresh(self, items: list[T]) -> list[T]:
        """The items not on a remembered page, then remember this page.

        Two equal items on one page are two items: only earlier pages count.
        """
        keys = list(map(self.key, items))
        page = set(keys)
        if any(not earlier.isdisjoint(page) for earlier in self._pages):
            items = [item for k, item in zip(keys, items, strict=True) if k not in self]
        self._add(page)
        return items

    def _add(self, page: set[Hashable]) -> None:
        pages = self._pages
        pages.append(page)
        self._size += len(page)
        while len(pages) > 2 and self._size - len(pages[0]) >= self.max_keys:
            self._size -= len(pages.popleft())
