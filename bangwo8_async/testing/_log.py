"""The fake's request log: one entry for each request it received."""

from __future__ import annotations

import attrs

from ._faults import Fault

__all__ = ["LoggedRequest"]


@attrs.define
class LoggedRequest:
    """One request the fake received. Never holds an ``Authorization`` value."""

    method: str
    path: str
    query: dict[str, str]
    status: int | None = None  # None: the connection was dropped
    fault: Fault | None = None
    request_id: str | None = None
