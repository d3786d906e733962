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
    back than ``max_keys`` items are forgotten (always keeping the last two
    pages). An item shifted further than that may be yielded twice; it is
    never lost. Each key counts the window pages that hold it, so forgetting a
    page is exact even when a key sits on two of them.
    """

    def __init__(self, key: Callable[[T], Hashable], max_keys: int) -> None:
        self.key = key
        self.max_keys = max_keys
        self._pages: deque[list[Hashable]] = deque()
        self._count: dict[Hashable, int] = {}
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __contains__(self, key: Hashable) -> bool:
        return key in self._count

    def remember(self, keys: Iterable[Hashable]) -> None:
        """Add one page's keys (e.g. what a caller already has, before resuming)."""
        page = list(keys)
        counts = self._count
        for key in page:
            counts[key] = counts.get(key, 0) + 1
        self._pages.append(page)
        self._size += len(page)
        while len(self._pages) > 2 and self._size - len(self._pages[0]) >= self.max_keys:
            self._forget()

    def fresh(self, items: list[T]) -> list[T]:
        """The items not on a remembered page, then remember this page.

        Two equal items on one page are two items: only earlier pages count.
        """
        key = self.key
        keys = [key(item) for item in items]
        counts = self._count
        if counts and not counts.keys().isdisjoint(keys):
            items = [item for k, item in zip(keys, items, strict=True) if k not in counts]
        self.remember(keys)
        return items

    def _forget(self) -> None:
        counts = self._count
        page = self._pages.popleft()
        self._size -= len(page)
        for key in page:
            left = counts[key] - 1
            if left:
                counts[key] = left
            else:
                del counts[key]
