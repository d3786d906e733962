"""Pages read again to close a gap are checked against one another."""

import asyncio
import contextlib

import bangwo8_async as bw
from bangwo8_async._http import attempt_limit
from bangwo8_async.paging.engine import ordered_pages
from bangwo8_async.paging.source import Source
from bangwo8_async.paging.stats import PageStats


class Mutating:
    """Offset-paged list; ``hooks[(page, nth read of that page)]`` runs just before that read."""

    def __init__(self, n, hooks):
        self.items = list(range(1, n + 1))
        self.hooks = hooks
        self.seen = {}
        self.log = []

    async def fetch(self, page, size):
        async with attempt_limit.get() or contextlib.nullcontext():
            await asyncio.sleep(0)
            k = self.seen[page] = self.seen.get(page, 0) + 1
            hook = self.hooks.get((page, k))
            if hook:
                hook(self.items)
            items = self.items[(page - 1) * size : page * size]
            self.log.append((page, items[:1], len(self.items)))
            return bw.Page(
                items=items,
                count=len(self.items),
                page=page,
                per_page=size,
                next_page=None,
                previous_page=None,
            )


async def export(lst, **kw):
    src = Source(lst.fetch, lambda x: x, per_page=10, label="m", **kw)

    async def one():
        yield src

    stats = PageStats()
    async with contextlib.aclosing(
        ordered_pages(one(), concurrency=1, read_ahead=10, stats=stats)
    ) as t:
        got = [x async for tk in t for x in tk.page.items]
    return got, stats


def rm(lo, hi):
    return lambda items: [items.remove(x) for x in range(lo, hi + 1)]


async def test_deletes_between_two_rereads_lose_nothing() -> None:
    lst = Mutating(60, {(4, 1): rm(1, 15), (3, 2): rm(16, 20)})
    got, _stats = await export(lst)
    survivors = set(range(21, 61))
    assert survivors <= set(got), sorted(survivors - set(got))


def ins(*ids):
    def hook(items):
        items[:0] = ids

    return hook


async def test_insert_between_two_rereads_loses_nothing() -> None:
    """A gap re-read of pages 2-3: page 3 is re-read first, then 5 rows arrive in front,
    then page 2 is re-read. The re-reads are never checked against each other."""
    lst = Mutating(60, {(4, 1): rm(1, 15), (2, 2): ins(101, 102, 103, 104, 105)})
    got, _stats = await export(lst)
    survivors = set(range(16, 61))
    assert survivors <= set(got), sorted(survivors - set(got))
