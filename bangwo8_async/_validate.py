"""Checks on caller input, run before any request is sent."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from .errors import ValidationError

MAX_PER_PAGE = 100


def check_id(value: Any, name: str) -> int:
    """Return ``value`` if it is a positive ``int`` (``bool`` is not an id)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            f"{name} must be a positive int, got {type(value).__name__} {value!r}", field=name
        )
    if value <= 0:
        raise ValidationError(f"{name} must be a positive int, got {value}", field=name)
    return value


def check_page(page: Any, per_page: Any) -> None:
    """``page`` is 1 or more; ``per_page`` is 1 to 100, the vendor's ceiling."""
    check_id(page, "page")
    check_id(per_page, "per_page")
    if per_page > MAX_PER_PAGE:
        raise ValidationError(
            f"per_page must be 1 to {MAX_PER_PAGE}, got {per_page}", field="per_page"
        )


def check_concurrency(value: Any, default: int) -> int:
    """``None`` means the session's own limit; otherwise a positive int."""
    if value is None:
        return default
    return check_id(value, "concurrency")


def date_param(value: Any, name: str) -> str | None:
    """A ``created_start``/``created_end`` filter as ``YYYY-MM-DD``."""
    if value is None:
        return None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValidationError(
            f"{name} must be a datetime.date, got {type(value).__name__}", field=name
        )
    return value.isoformat()


def date_range(created_start: Any, created_end: Any) -> dict[str, str]:
    """The query parameters for a created-date filter, checked for order."""
    start = date_param(created_start, "created_start")
    end = date_param(created_end, "created_end")
    if start and end and start > end:
        raise ValidationError(
            f"created_start ({start}) is after created_end ({end})", field="created_start"
        )
    params = {}
    if start:
        params["created_start"] = start
    if end:
        params["created_end"] = end
    return params
