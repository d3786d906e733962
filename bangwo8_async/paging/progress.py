"""The progress callback of the iterators, and what calls it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..models import Page

OnPage = Callable[[int, int, "int | None"], None]
"""The progress callback: ``on_page(page_number, items_so_far, total)``, called as each page
is yielded.

``page_number`` is an ``int``, not the page: the number of the page just
yielded (for every customer of every task, the count of customer pages so
far); ``items_so_far`` counts the items yielded up to and including it;
``total`` is the server's ``count`` when it sends one, else ``None``.

>>> def show(page_number: int, items_so_far: int, total: int | None) -> None:
...     print(f"page {page_number}: {items_so_far} of {total or '?'}")
"""


def page_reporter(on_page: OnPage | None, running: bool = False) -> Callable[[Page[Any]], None]:
    """What to call with each page handed on: it calls ``on_page``, if any, with the totals.

    ``running``: number the pages by a running count, with no total (pages of
    many lists), rather than by the page's own number and count.
    """
    items = pages = 0

    def report(page: Page[Any]) -> None:
        nonlocal items, pages
        items += len(page.items)
        pages += 1
        if on_page is not None:
            if running:
                on_page(pages, items, None)
            else:
                on_page(page.page, items, page.count)

    return report
