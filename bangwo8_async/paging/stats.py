"""What an iterator did: pages, items, repeats dropped, pages read again, the counts seen."""

from __future__ import annotations

import attrs


@attrs.define
class PageStats:
    """What an iterator did, filled in as it goes: pass ``stats=bw.PageStats()``.

    ``count_start`` and ``count_end`` are the ``count`` the server reported
    on the first and on the last page read (for every customer of every task:
    summed over the tasks).
    """

    pages: int = 0
    items: int = 0
    repeats_dropped: int = 0
    pages_reread: int = 0
    count_start: int | None = None
    count_end: int | None = None

    def counted(self, first: int | None, last: int | None) -> None:
        """Add one list's first and last count."""
        if first is not None:
            self.count_start = (self.count_start or 0) + first
        if last is not None:
            self.count_end = (self.count_end or 0) + last
