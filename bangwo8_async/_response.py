"""Turn one HTTP answer (status, headers, body) into data or an exception.

Pure functions with no I/O, so every error shape the vendor sends is testable
without an event loop or a server.
"""

from __future__ import annotations

import email.utils
import html
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import orjson

from .errors import (
    APIError,
    AuthenticationError,
    DecodeError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)

__all__ = ["decode_response", "error_class_for", "parse_retry_after"]

_NOT_FOUND_TEXT = "does not exist"
_TAG = re.compile(r"<[^>]+>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")
_MAX_TEXT = 200


def decode_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    json_required: bool = True,
    method: str | None = None,
    path: str | None = None,
    request_id: str | None = None,
) -> Any:
    """Return the decoded JSON of a successful answer, or raise the matching error.

    On a 2xx or 3xx a body's own ``Status`` (the vendor sends ``"403"`` with
    HTTP 200) counts as the status. With ``json_required=False`` (DELETE,
    whose success body is not valid JSON) an unparseable 2xx body gives
    ``None`` instead of :class:`DecodeError`.
    """
    data = _loads(body)
    effective = status
    if status < 400 and isinstance(data, dict):
        effective = _body_status(data) or status
    if effective >= 300 or (effective < 300 and _is_error_body(data)):
        raise _api_error(effective, headers, body, data, method, path, request_id)
    if data is _INVALID:
        if json_required:
            raise DecodeError(
                f"HTTP {status} body is not valid JSON ({len(body)} bytes; truncated?)",
                method=method,
                path=path,
            )
        return None
    return data


def error_class_for(status: int, code: str | None, message: str) -> type[APIError]:
    """The exception class for an error answer: by status and code, never by luck."""
    if _NOT_FOUND_TEXT in " ".join(message.lower().split()):
        return NotFoundError
    if status == 401 or code == "invalid_client":
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 404:
        return NotFoundError
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    return APIError


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is no answer
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


class _Invalid:
    """Marks a body that is not JSON (``None`` is valid JSON: ``null``)."""


_INVALID: Any = _Invalid()


_NBSP = "\u00a0".encode()


def _loads(body: bytes) -> Any:
    if not body:
        return _INVALID
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    if _NBSP in body:
        # The vendor's own examples are indented with non-breaking spaces, which JSON
        # does not allow; read such a body as if they were spaces rather than fail.
        try:
            return orjson.loads(body.replace(_NBSP, b" "))
        except orjson.JSONDecodeError:
            pass
    return _INVALID


def _body_status(data: dict[str, Any]) -> int | None:
    raw = data.get("Status")
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        head = raw.strip().split(" ", 1)[0]
        if head.isdigit():
            return int(head)
    return None


def _is_error_body(data: Any) -> bool:
    """A 2xx body that is an error in one of the vendor's other shapes."""
    if not isinstance(data, dict):
        return False
    errcode = data.get("errcode")
    if errcode is not None and str(errcode) not in ("0", ""):
        return True
    return isinstance(data.get("error"), str) and "access_token" not in data


def _api_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    data: Any,
    method: str | None,
    path: str | None,
    request_id: str | None,
) -> APIError:
    code, message = _code_and_message(status, body, data)
    cls = error_class_for(status, code, message)
    context: dict[str, Any] = {
        "status": status,
        "code": code,
        "request_id": request_id,
        "method": method,
        "path": path,
        "retry_after": parse_retry_after(headers.get("Retry-After")),
    }
    return cls(message, **context)


def _code_and_message(status: int, body: bytes, data: Any) -> tuple[str | None, str]:
    if isinstance(data, dict):
        if "errcode" in data or "errmsg" in data:
            return _text(data.get("errcode")), _text(data.get("errmsg")) or f"HTTP {status}"
        if isinstance(data.get("error"), str):
            desc = _text(data.get("error_description"))
            return data["error"], desc or data["error"]
        if "message" in data:
            return None, _text(data.get("message")) or f"HTTP {status}"
    if data is _INVALID and body:
        return None, _plain_text(body) or f"HTTP {status}"
    if 300 <= status < 400:
        return None, f"unexpected redirect (HTTP {status}); redirects are not followed"
    return None, f"HTTP {status}"


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def _plain_text(body: bytes) -> str:
    """A short readable message from a plain-text or HTML body (a proxy's error page)."""
    text = body[:4096].decode("utf-8", "replace")
    title = _TITLE.search(text)
    if title:
        text = title.group(1)
    text = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", text))).strip()
    return text[:_MAX_TEXT]
