"""How long to wait before a retry: full-jitter exponential backoff and ``Retry-After``."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import attrs

from .errors import APIError, Bangwo8Error, DecodeError, TransportError

__all__ = ["RETRY_STATUSES", "Backoff"]

#: Statuses worth another attempt; every other 4xx is the caller's to fix.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Statuses whose ``Retry-After`` header is honoured.
RETRY_AFTER_STATUSES = frozenset({429, 503})


@attrs.frozen
class Backoff:
    """The wait between attempts: ``uniform(0, min(cap, base * 2**n))`` before retry ``n``.

    A ``Retry-After`` on a 429 or 503 replaces it, up to ``max_retry_after``
    seconds; a longer wait is not sat out, the error is raised. ``sleep`` is
    what waits: tests pass ``Backoff.instant()`` or their own recorder so that
    nothing sleeps for real.
    """

    base: float = 0.5
    cap: float = 8.0
    max_retry_after: float = 60.0
    sleep: Callable[[float], Awaitable[None]] = attrs.field(default=asyncio.sleep, repr=False)
    rng: random.Random = attrs.field(factory=random.Random, repr=False, eq=False)

    @classmethod
    def instant(cls) -> Backoff:
        """No waiting at all, ``Retry-After`` included: for tests."""

        async def no_sleep(_: float) -> None:
            await asyncio.sleep(0)

        return cls(base=0.0, cap=0.0, sleep=no_sleep)

    def delay(self, error: Bangwo8Error, retry: int) -> float | None:
        """Seconds to wait before retry number ``retry`` (0-based), or ``None`` not to retry.

        A :class:`DecodeError` is retried only when it is ``retryable``: a body
        that cannot be decoded in its charset would come back the same.
        """
        if isinstance(error, DecodeError):
            return self.jitter(retry) if error.retryable else None
        if isinstance(error, TransportError):
            return self.jitter(retry)
        if not isinstance(error, APIError) or error.status not in RETRY_STATUSES:
            return None
        if error.status in RETRY_AFTER_STATUSES and error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            return error.retry_after
        return self.jitter(retry)

    def jitter(self, retry: int) -> float:
        """Full jitter: anywhere from no wait to the exponential ceiling."""
        ceiling = min(self.cap, self.base * (2.0**retry))
        return self.rng.uniform(0.0, ceiling) if ceiling > 0 else 0.0
