"""What can go wrong with one request to the fake: scripted or random faults, and server limits."""

from __future__ import annotations

import enum
import math
import random
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import attrs
from aiohttp import web

__all__ = [
    "OUTAGE_KINDS",
    "RATE_FAULTS",
    "Admission",
    "Fault",
    "FaultScript",
    "Outage",
    "OutageKind",
    "default_burst",
]


class Fault(str, enum.Enum):
    """A way for one request to go wrong."""

    SERVER_ERROR = "500"  # HTTP 500 with an errcode body
    UNAVAILABLE = "503"  # HTTP 503 with a proxy's HTML page
    RATE_LIMITED = "429"  # HTTP 429 with Retry-After
    RESET_BEFORE = "reset-before"  # connection dropped before the handler runs
    RESET_AFTER = "reset-after"  # the handler ran (work done), then the answer is lost
    TRUNCATED = "truncated"  # HTTP 200 whose JSON body is cut short
    SLOW = "slow"  # answers only after ``slow_seconds``: longer than a client timeout
    HTML_OK = "html-200"  # HTTP 200 with a WAF or captive portal's HTML page; no work done


#: The faults a ``fault_rate`` draws from by default. Spelled out, so that a new kind
#: (SLOW would only add waiting, HTML_OK is a different failure) never changes what it draws.
RATE_FAULTS: tuple[Fault, ...] = (
    Fault.SERVER_ERROR,
    Fault.UNAVAILABLE,
    Fault.RATE_LIMITED,
    Fault.RESET_BEFORE,
    Fault.RESET_AFTER,
    Fault.TRUNCATED,
)


@attrs.define
class _Scripted:
    fault: Fault | None
    method: str | None = None
    path: str | None = None
    query: Mapping[str, str] | None = None

    def matches(self, request: web.Request) -> bool:
        return (
            (self.method is None or request.method == self.method)
            and (self.path is None or request.path.startswith(self.path))
            and (
                self.query is None or all(request.query.get(k) == v for k, v in self.query.items())
            )
        )


class FaultScript:
    """Faults scripted for the next matching requests, else drawn at ``rate`` (seeded)."""

    def __init__(self, faults: Iterable[Fault | None], seed: int) -> None:
        self._script: deque[_Scripted] = deque(_Scripted(f) for f in faults)
        self._rng = random.Random(seed)

    def add(
        self,
        faults: Iterable[Fault | None],
        method: str | None,
        path: str | None,
        query: Mapping[str, str] | None,
    ) -> None:
        self._script.extend(_Scripted(f, method, path, query) for f in faults)

    def pick(self, request: web.Request, rate: float, kinds: Sequence[Fault]) -> Fault | None:
        """The fault for this request: the first scripted one that matches, else a draw."""
        for i, scripted in enumerate(self._script):
            if scripted.matches(request):
                del self._script[i]
                return scripted.fault
        if rate and self._rng.random() < rate:
            return self._rng.choice(kinds)
        return None


@attrs.define
class _Bucket:
    tokens: float
    stamp: float


class Admission:
    """Who gets past the per-account limits: a token bucket each, and their requests in flight.

    The limits themselves are passed in on every call, so that a test can change
    them on the fake while it serves; the buckets and counts live here.
    """

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._in_flight: dict[str, int] = {}

    def admit(
        self,
        account: str,
        now: float,
        rate: float | None,
        burst: float | None,
        max_in_flight: int | None,
    ) -> bool:
        """Take a token and a slot for ``account``; ``False`` (nothing taken) beyond a limit.

        An admitted request must be given back with :meth:`release`.
        """
        in_flight = self._in_flight.get(account, 0)
        if max_in_flight is not None and in_flight >= max_in_flight:
            return False
        if rate is not None:
            capacity = burst if burst is not None else default_burst(rate)
            bucket = self._buckets.setdefault(account, _Bucket(capacity, now))
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
            if bucket.tokens < 1.0:
                return False
            bucket.tokens -= 1.0
        self._in_flight[account] = in_flight + 1
        return True

    def release(self, account: str) -> None:
        """Give back the slot an admitted request held."""
        self._in_flight[account] -= 1


def default_burst(rate: float) -> float:
    """The bucket's capacity when none is given: a tenth of a second's worth, at least one."""
    return max(1.0, rate / 10)


#: How the fake is down in an outage: it answers every request with a proxy's 502 or
#: 503 page, or it refuses connections (it stops listening and drops the open ones).
OutageKind = Literal["502", "503", "refuse"]
OUTAGE_KINDS: tuple[OutageKind, ...] = ("502", "503", "refuse")

#: What nginx says while its upstream is down.
BAD_GATEWAY = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


class Outage:
    """When the fake is down, and how: one outage at a time, a new one replaces the last."""

    def __init__(self) -> None:
        self.until = -math.inf
        self.kind: OutageKind = "503"
        self.answered = 0  # requests answered 502/503 or dropped while down

    def start(self, now: float, seconds: float, kind: str) -> None:
        """Be down from ``now`` for ``seconds``; a clear error for a kind the fake lacks."""
        if kind not in OUTAGE_KINDS:
            raise ValueError(f"outage kind must be one of {OUTAGE_KINDS}, not {kind!r}")
        if not seconds >= 0:  # also refuses NaN
            raise ValueError(f"outage seconds must be 0 or more, not {seconds!r}")
        self.until = now + seconds
        self.kind = kind

    def down(self, now: float) -> bool:
        return now < self.until
