"""The paging engine against a simulated list that changes while it is read.

A ``SimList`` answers page reads the way an offset-paged PHP server does, and a
driver decides, step by step, which waiting read the "server" answers next and
what changes in the list between answers. hypothesis draws the schedules: the
engine must yield every item present for the whole export, and none twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bangwo8_async as bw
from bangwo8_async._http import attempt_limit
from bangwo8_async.paging.engine import ordered_pages
from bangwo8_async.paging.source import Source
from bangwo8_async.paging.stats import PageStats


class SimList:
    """An offset-paged list (newest first) whose reads the test answers one by one."""

    def __init__(
        self,
        size: int,
        *,
        cap: int | None = None,
        send_count: bool = True,
        clamp: bool = False,
        count_excess: int = 0,
    ) -> None:
        self.items = list(range(1, size + 1))
        self.next_id = size + 1
        self.cap = cap
        self.send_count = send_count
        self.clamp = clamp
        self.count_excess = count_excess
        self.waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self.reads: list[tuple[int, int]] = []
        self.auto = False  # answer every read at once, in arrival order

    async def fetch(self, page: int, per_page: int) -> bw.Page[int]:
        """One read, holding the iterator's attempt slot as the session does."""
        async with attempt_limit.get() or contextlib.nullcontext():
            gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if self.auto:
                gate.set_result(None)
            else:
                self.waiting.append((page, per_page, gate))
            await gate
            return self.read(page, per_page)

    def read(self, page: int, per_page: int) -> bw.Page[int]:
        self.reads.append((page, per_page))
        size = min(per_page, self.cap) if self.cap else per_page
        last = max(1, -(-len(self.items) // size))
        if self.clamp and page > last:
            page = last
        items = self.items[(page - 1) * size : page * size]
        count = len(self.items) + self.count_excess if self.send_count else None
        return bw.Page(
            items=items,
            count=count,
            page=page,
            per_page=per_page,
            next_page=None,
            previous_page=None,
        )

    def answer(self, index: int) -> None:
        _, _, gate = self.waiting.pop(index % len(self.waiting))
        if not gate.done():
            gate.set_result(None)

    def insert_front(self, n: int) -> None:
        self.items[:0] = range(self.next_id, self.next_id + n)
        self.next_id += n

    def delete_at(self, position: int) -> int | None:
        if not self.items:
            return None
        return self.items.pop(position % len(self.items))


async def pages_of(
    sim: SimList,
    *,
    per_page: int = 10,
    concurrency: int = 4,
    stats: PageStats | None = None,
    **options: object,
) -> AsyncGenerator[bw.Page[int], None]:
    source: Source[int] = Source(sim.fetch, lambda x: x, per_page=per_page, label="sim", **options)  # type: ignore[arg-type]

    async def one() -> AsyncGenerator[Source[int], None]:
        yield source

    async with contextlib.aclosing(
        ordered_pages(one(), concurrency=concurrency, read_ahead=1000, stats=stats)
    ) as taken:
        async for one_page in taken:
            yield one_page.page


async def run(sim: SimList, steps: list[tuple[str, int]], **options: object) -> list[int]:
    """Drive an export: apply ``steps`` between answers, then answer everything in order."""
    got: list[int] = []

    async def consume() -> None:
        async for page in pages_of(sim, **options):  # type: ignore[arg-type]
            got.extend(page.items)

    consumer = asyncio.ensure_future(consume())
    pending = list(steps)
    for _ in range(100_000):
        await asyncio.sleep(0)
        if consumer.done():
            break
        if not sim.waiting:
            continue
        if pending:
            kind, value = pending.pop(0)
            if kind == "answer":
                sim.answer(value)
            elif kind == "insert":
                sim.insert_front(value)
            else:
                sim.delete_at(value)
        else:
            sim.answer(0)
    await consumer
    return got


async def test_every_item_once_in_order_with_answers_in_any_order() -> None:
    sim = SimList(95)
    got = await run(sim, [("answer", i * 7) for i in range(40)])
    assert got == list(range(1, 96))


async def test_page_cap_learned_from_the_first_page() -> None:
    """The server serves 50 rows although 100 were asked, with a true count."""
    sim = SimList(1234, cap=50)
    sim.auto = True
    got = [x async for page in pages_of(sim, per_page=100) for x in page.items]
    assert got == list(range(1, 1235))
    assert all(per_page == 50 for _, per_page in sim.reads[1:])


async def test_page_cap_with_a_count_hint_rereads_the_first_round_at_the_real_size() -> None:
    sim = SimList(120, cap=50)
    sim.auto = True
    got = [x async for page in pages_of(sim, per_page=100, count_hint=120) for x in page.items]
    assert got == list(range(1, 121))


async def test_page_cap_without_a_count_is_probed_not_taken_as_the_end() -> None:
    sim = SimList(120, cap=50, send_count=False)
    sim.auto = True
    got = [x async for page in pages_of(sim, per_page=100) for x in page.items]
    assert got == list(range(1, 121))


async def test_a_resume_that_cannot_meet_the_served_size_is_a_typed_error() -> None:
    sim = SimList(1000, cap=30)
    sim.auto = True
    with pytest.raises(bw.InconsistentPagesError) as info:
        [x async for page in pages_of(sim, per_page=100, start_page=2) for x in page.items]
    assert (info.value.asked, info.value.served, info.value.count) == (100, 30, 1000)
    assert "100" in str(info.value) and "30" in str(info.value)


@pytest.mark.parametrize("send_count", [True, False])
async def test_clamped_pages_end_the_list(send_count: bool) -> None:
    """PHP frameworks answer a page past the end with the last page again."""
    sim = SimList(45, clamp=True, send_count=send_count)
    got = await run(sim, [], per_page=10, count_hint=200)  # answered one at a time
    assert got == list(range(1, 46))
    assert len(sim.reads) <= 5 + 4  # the list, and what was in flight when it ended


async def test_clamped_pages_without_a_count_end_after_one_page_of_repeats() -> None:
    sim = SimList(40, clamp=True, send_count=False)
    sim.auto = True
    got = [x async for page in pages_of(sim, per_page=10) for x in page.items]
    assert got == list(range(1, 41))
    assert len(sim.reads) == 5


async def test_an_overstated_count_ends_at_the_first_empty_page() -> None:
    sim = SimList(45, count_excess=300)
    sim.auto = True
    got = [x async for page in pages_of(sim, per_page=10, concurrency=2) for x in page.items]
    assert got == list(range(1, 46))


async def test_inserts_in_front_between_out_of_order_answers_lose_nothing() -> None:
    """Page 2 answered first, then tasks added in front, then page 1: a gap without repair."""
    sim = SimList(60)
    stats = PageStats()

    async def consume() -> list[int]:
        return [
            x
            async for page in pages_of(sim, per_page=10, count_hint=60, stats=stats)
            for x in page.items
        ]

    consumer = asyncio.ensure_future(consume())
    while len(sim.waiting) < 4:  # noqa: ASYNC110 - polling the simulated server
        await asyncio.sleep(0)
    sim.answer(1)  # page 2 read first
    await asyncio.sleep(0)
    sim.insert_front(5)  # then 5 tasks arrive
    sim.auto = True
    for _ in list(sim.waiting):
        sim.answer(0)
    got = await consumer
    assert set(range(1, 61)) <= set(got)
    assert len(got) == len(set(got))
    assert stats.pages_reread >= 1


async def test_deletes_between_reads_lose_nothing() -> None:
    """Page 1 read, then 3 tasks deleted in front, then page 2: its first items moved to page 1."""
    sim = SimList(50)
    stats = PageStats()

    async def consume() -> list[int]:
        return [
            x
            async for page in pages_of(sim, per_page=10, concurrency=1, stats=stats)
            for x in page.items
        ]

    consumer = asyncio.ensure_future(consume())
    while not sim.waiting:  # noqa: ASYNC110 - polling the simulated server
        await asyncio.sleep(0)
    sim.answer(0)
    while not sim.waiting:  # noqa: ASYNC110 - polling the simulated server
        await asyncio.sleep(0)
    deleted = [sim.delete_at(0), sim.delete_at(0), sim.delete_at(0)]
    sim.auto = True
    for _ in list(sim.waiting):
        sim.answer(0)
    got = await consumer
    assert set(range(1, 51)) - set(deleted) <= set(got)
    assert len(got) == len(set(got))
    assert stats.pages_reread == 1


async def test_resume_after_the_list_shrank_reads_the_page_before() -> None:
    sim = SimList(50)
    sim.auto = True
    first = [p async for p in pages_of(sim, per_page=10)]
    committed = first[1]  # pages 1 and 2 were written, then the run stopped
    sim.delete_at(0)
    sim.delete_at(0)
    rest = [
        x
        async for page in pages_of(
            sim, per_page=10, start_page=3, count_hint=committed.count, known=list(committed.items)
        )
        for x in page.items
    ]
    written = [x for p in first[:2] for x in p.items] + rest
    assert set(range(3, 51)) <= set(written)
    assert len(written) == len(set(written))


answers = st.tuples(st.just("answer"), st.integers(0, 20))
inserts = st.tuples(st.just("insert"), st.integers(1, 12))
deletes = st.tuples(st.just("delete"), st.integers(0, 200))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    size=st.integers(0, 80),
    per_page=st.sampled_from([3, 10, 25]),
    concurrency=st.integers(1, 6),
    kind=st.sampled_from(["inserts", "deletes", "both"]),
    data=st.data(),
    hinted=st.booleans(),
)
def test_random_schedules_lose_nothing_and_repeat_nothing(
    size: int, per_page: int, concurrency: int, kind: str, data: st.DataObject, hinted: bool
) -> None:
    """Inserts in front, or deletes anywhere, between answers given in any order.

    With both, an insert and a delete can cancel out between two reads, which
    no count reveals (the README's stated limit): then only "never twice" holds.
    """
    changes = {"inserts": inserts, "deletes": deletes, "both": inserts | deletes}[kind]
    schedule = data.draw(st.lists(answers | changes, max_size=60), label="schedule")

    async def scenario() -> None:
        sim = SimList(size)
        original = list(sim.items)
        deleted: set[int] = set()
        got = await run_tracking(
            sim,
            schedule,
            deleted,
            per_page=per_page,
            concurrency=concurrency,
            count_hint=size if hinted else None,
        )
        assert len(got) == len(set(got))
        assert set(got) <= set(original) | set(range(size + 1, sim.next_id))
        if kind != "both":
            throughout = [x for x in original if x not in deleted]
            assert set(throughout) <= set(got), sorted(set(throughout) - set(got))

    asyncio.run(scenario())


async def run_tracking(
    sim: SimList, steps_: list[tuple[str, int]], deleted: set[int], **options: object
) -> list[int]:
    original_delete = sim.delete_at

    def delete_at(position: int) -> int | None:
        gone = original_delete(position)
        if gone is not None:
            deleted.add(gone)
        return gone

    sim.delete_at = delete_at  # type: ignore[method-assign]
    return await run(sim, steps_, **options)


async def test_deletes_while_a_gap_is_being_closed_are_followed_back() -> None:
    """Found by hypothesis: more rows deleted while the page before was read again."""
    sim = SimList(16)
    deleted: set[int] = set()
    schedule = [("answer", 0)] * 5 + [("delete", 0), ("answer", 0), ("answer", 0)]
    schedule += [("delete", 0)] * 3
    got = await run_tracking(sim, schedule, deleted, per_page=3, concurrency=1)
    assert set(range(1, 17)) - deleted <= set(got)
    assert len(got) == len(set(got))
