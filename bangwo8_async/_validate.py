"""Checks on caller input, run before any request is sent."""

from __future__ import annotations

import ipaddress
from datetime import date, datetime
from typing import Any

from yarl import URL

from .errors import ValidationError

MAX_PER_PAGE = 100
_LOOPBACK_NAMES = frozenset({"localhost"})


def check_base_url(value: Any, name: str = "base_url") -> URL:
    """``https://`` anywhere, ``http://`` only on a loopback host; anything else is refused."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{name} must be a non-empty URL string", field=name)
    url = URL(value)
    host = url.host or ""
    if url.scheme not in ("http", "https") or not host:
        raise ValidationError(f"{name} must be an http(s) URL with a host: {value!r}", field=name)
    if url.user or url.password:
        raise ValidationError(f"{name} must not carry credentials", field=name)
    if url.scheme == "http" and not _is_loopback(host):
        raise ValidationError(
            f"{name} must use https:// (http:// is allowed only on a loopback host): {host}",
            field=name,
        )
    return url


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_number(value: Any, name: str, *, minimum: float, integer: bool) -> None:
    """``value`` is an int (or, unless ``integer``, a float) of at least ``minimum``; no bool."""
    number = isinstance(value, int) or (not integer and isinstance(value, float))
    if isinstance(value, bool) or not number or not value >= minimum:
        kind = "an int" if integer else "a number"
        raise ValidationError(f"{name} must be {kind} >= {minimum}, got {value!r}", field=name)


def check_type(value: Any, name: str, types: type | tuple[type, ...], wanted: str) -> None:
    """``value`` is an instance of ``types`` (``wanted`` names them for the message)."""
    if not isinstance(value, types):
        raise ValidationError(f"{name} must be {wanted}, got {type(value).__name__}", field=name)


def check_flag(value: Any, name: str) -> None:
    """``value`` is a real ``bool`` (not 0, 1 or a string)."""
    check_type(value, name, bool, "True or False")


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
