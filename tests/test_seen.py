"""The compact set of keys an iterator has already yielded."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bangwo8_async._seen import SeenKeys

keys = st.one_of(st.integers(-(2**64), 2**64), st.tuples(st.none() | st.integers(0, 9),
                                                          st.integers(0, 9)))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(batches=st.lists(st.sets(keys, max_size=12), max_size=30), probe=st.lists(keys))
def test_behaves_like_a_set(batches: list[set[object]], probe: list[object]) -> None:
    seen, model = SeenKeys(pack_at=7), set()
    for batch in batches:
        assert seen.none_of(batch) == model.isdisjoint(batch)
        if len(batch) % 2:
            seen.update(batch)
        else:
            for key in batch:
                seen.add(key)
        model |= batch
    for key in [*model, *probe]:
        assert (key in seen) == (key in model)


def test_ints_are_packed_into_eight_bytes() -> None:
    """The point of it: packed ids cost 8 bytes each, not a Python int in a set."""
    seen = SeenKeys(pack_at=1000)
    seen.update(set(range(10_000)))
    seen.update({(1, 2), 2**70})
    assert sum(map(len, seen._runs)) == 10_000 and seen._recent == {(1, 2), 2**70}
    assert 9_999 in seen and 10_000 not in seen and 2**70 in seen
