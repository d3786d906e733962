"""The keys an iterator has already yielded, kept in little memory."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Set
from typing import Any

_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


def _packable(key: Any) -> bool:
    return type(key) is int and _I64_MIN <= key <= _I64_MAX


class SeenKeys:
    """A set of keys that packs integer ids into sorted arrays of 8-byte ints.

    A Python int in a set costs about 70 bytes; exporting 200k tasks would
    otherwise grow the process by ~14 MB just to remember their ids. Recent
    keys live in a set (fast, and where every non-int key stays); when it
    reaches ``pack_at`` keys, its ints become one more sorted run. A lookup
    checks each run's range first, so ids that arrive in order (the usual
    case) are settled by two comparisons per run.
    """

    def __init__(self, pack_at: int = 32768) -> None:
        self._recent: set[Any] = set()
        self._runs: list[array[int]] = []
        self._pack_at = pack_at

    def __contains__(self, key: Any) -> bool:
        return key in self._recent or self._packed(key)

    def _packed(self, key: Any) -> bool:
        if not self._runs or not _packable(key):
            return False
        for run in self._runs:
            if run[0] <= key <= run[-1]:
                i = bisect_left(run, key)
                if run[i] == key:
                    return True
        return False

    def none_of(self, keys: Set[Any]) -> bool:
        """Whether none of ``keys`` has been seen."""
        if not keys or not self._runs:
            return self._recent.isdisjoint(keys)
        if not self._recent.isdisjoint(keys):
            return False
        try:
            lowest, highest = min(keys), max(keys)
            if type(lowest) is int and type(highest) is int and not any(
                lowest <= run[-1] and highest >= run[0] for run in self._runs
            ):
                return True
        except TypeError:
            pass  # not all comparable: ask key by key
        return not any(map(self._packed, keys))

    def add(self, key: Any) -> None:
        self._recent.add(key)
        if len(self._recent) >= self._pack_at:
            self._pack()

    def update(self, keys: Set[Any]) -> None:
        self._recent |= keys
        if len(self._recent) >= self._pack_at:
            self._pack()

    def _pack(self) -> None:
        try:  # the usual case, every key an int: sorted and packed in C
            ints: list[int] = sorted(self._recent)
            rest: set[Any] = set()
            if type(ints[0]) is not int or not _packable(ints[0]) or not _packable(ints[-1]):
                raise TypeError
        except TypeError:
            ints = sorted(k for k in self._recent if _packable(k))
            rest = {k for k in self._recent if not _packable(k)}
        if ints:
            self._runs.append(array("q", ints))
            self._recent = rest
        # Keys that cannot be packed stay in the set; don't try again until it doubles.
        self._pack_at = max(self._pack_at, 2 * len(self._recent))
