"""Turn one HTTP answer (status, headers, body) into data or an exception.

Pure functions with no I/O, so every error shape the vendor sends is testable
without an event loop or a server.
"""

from __future__ import annotations

import codecs
import email.utils
import enum
import functools
import html
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import attrs
import orjson

from ..errors import (
    APIError,
    AuthenticationError,
    DecodeError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)

__all__ = ["Expect", "decode_response", "error_class_for", "parse_retry_after"]

_NOT_FOUND_TEXT = "does not exist"
_TAG = re.compile(r"<[^>]+>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")
_MAX_TEXT = 200


class Expect(enum.Enum):
    """What a successful (2xx) body must be for the call to succeed."""

    #: The endpoint's data: a JSON value, returned decoded.
    JSON = "json"
    #: An acknowledgement with nothing to return (DELETE): an empty body, a JSON
    #: object without an error, or the vendor's own malformed success object
    #: ``{"Status": 200 OK, "callTaskId": "..."}``. Anything else is not one.
    ACKNOWLEDGEMENT = "acknowledgement"


def decode_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    expect: Expect = Expect.JSON,
    method: str | None = None,
    path: str | None = None,
    request_id: str | None = None,
) -> Any:
    """Return the decoded JSON of a successful answer, or raise the matching error.

    On a 2xx or 3xx a body's own ``Status`` (the vendor sends ``"403"`` with
    HTTP 200) counts as the status. A UTF-8 BOM is skipped (and wins over a
    declared charset, as in browsers); another ``charset`` in ``Content-Type``
    is decoded by it. A 2xx body that is not what ``expect`` asks for is a
    :class:`DecodeError`; one that cannot be decoded in its charset is one
    that is not ``retryable``. With :attr:`Expect.ACKNOWLEDGEMENT` the result
    is ``None``.
    """
    body, charset = _unwrap(headers, body)
    data = _loads(body, charset)
    effective = status
    if status < 400 and isinstance(data, dict):
        effective = _body_status(data) or status
    if effective >= 300 or _is_error_body(data):
        raise _api_error(effective, headers, body, charset, data, method, path, request_id)
    if isinstance(data, _Undecodable):
        raise DecodeError(
            f"HTTP {status} body cannot be decoded as {data.charset}: an encoding problem "
            f"({data.reason})",
            retryable=False,
            method=method,
            path=path,
        )
    if expect is Expect.ACKNOWLEDGEMENT:
        if _acknowledges(body, charset, data):
            return None
        raise DecodeError(
            f"{_unexpected(status, body, charset, data)}, not an acknowledgement",
            method=method,
            path=path,
        )
    if data is _NOT_JSON:
        raise DecodeError(_unexpected(status, body, charset, data), method=method, path=path)
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


class _NotJSON:
    """Marks a body that is not JSON (``None`` is valid JSON: ``null``)."""


_NOT_JSON: Any = _NotJSON()


@attrs.frozen
class _Undecodable:
    """Marks a body that cannot be decoded in its charset."""

    charset: str
    reason: str


_BOM = codecs.BOM_UTF8
_NBSP = "\u00a0"
#: The vendor's DELETE success body, which is not JSON; any whitespace, NBSP included.
_VENDOR_ACK = re.compile(r'\{\s*"Status"\s*:\s*200\s*OK\s*,\s*"callTaskId"\s*:\s*"?\d+"?\s*\}')


def _unwrap(headers: Mapping[str, str], body: bytes) -> tuple[bytes, str | None]:
    """The body without its UTF-8 BOMs, and its charset (``None`` for UTF-8)."""
    if body[:3] == _BOM:
        # A BOM says UTF-8 whatever the header says; PHP repeats it once per included file.
        while body[:3] == _BOM:
            body = body[3:]
        return body, None
    return body, _charset(headers.get("Content-Type"))


@functools.lru_cache(maxsize=64)  # a server sends the same few Content-Types
def _charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a ``Content-Type``, or ``None`` when it is UTF-8 or absent."""
    if not content_type or "charset" not in content_type.lower():
        return None
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            name = value.strip().strip("\"'")
            try:
                if codecs.lookup(name).name == "utf-8":
                    return None
            except LookupError:
                pass  # decoding by it names the unknown charset as the problem
            return name or None
    return None


def _decode(body: bytes, charset: str) -> str | _Undecodable:
    try:
        return body.decode(charset)
    except LookupError:
        return _Undecodable(charset, "not a charset Python knows")
    except UnicodeDecodeError as exc:
        return _Undecodable(charset, f"{exc.reason} at byte {exc.start}")


def _loads(body: bytes, charset: str | None) -> Any:
    if not body:
        return _NOT_JSON
    if charset is None:  # UTF-8: orjson reads (and validates) the bytes themselves
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
        try:
            text = body.decode()
        except UnicodeDecodeError as exc:
            if exc.end < len(body) or exc.reason != "unexpected end of data":
                return _Undecodable("UTF-8", f"{exc.reason} at byte {exc.start}")
            return _NOT_JSON  # a multi-byte character cut at the end: truncated
    else:
        decoded = _decode(body, charset)
        if isinstance(decoded, _Undecodable):
            return decoded
        text = decoded
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    if _NBSP in text:
        # The vendor's own examples are indented with non-breaking spaces, which JSON
        # does not allow; read such a body as if they were spaces rather than fail.
        try:
            return orjson.loads(text.replace(_NBSP, " "))
        except orjson.JSONDecodeError:
            pass
    return _NOT_JSON


def _as_text(body: bytes, charset: str | None) -> str:
    """The body as text for a message or a pattern, undecodable bytes replaced."""
    try:
        return body.decode(charset or "utf-8", "replace")
    except LookupError:
        return body.decode("utf-8", "replace")


def _acknowledges(body: bytes, charset: str | None, data: Any) -> bool:
    """Whether a 2xx body (already known not to be an error) acknowledges a DELETE."""
    if isinstance(data, dict):
        return True
    if data is not _NOT_JSON:
        return False  # null, a list, a number: JSON, but not an acknowledgement
    text = _as_text(body, charset).strip()
    return not text or _VENDOR_ACK.fullmatch(text) is not None


def _unexpected(status: int, body: bytes, charset: str | None, data: Any) -> str:
    """What a 2xx body is instead of what was expected, for a :class:`DecodeError`."""
    if data is not _NOT_JSON:
        return f"HTTP {status} body is JSON {type(data).__name__}, not an object"
    text = _as_text(body[:4096], charset).lstrip()
    if not text and not _as_text(body, charset).strip():  # blank at its start is not empty
        return f"HTTP {status} with an empty body"
    if text.startswith("<"):
        page = _plain_text(body, charset)
        return f"HTTP {status} body is an HTML page ({page!r}; a proxy or firewall answered?)"
    return f"HTTP {status} body is not valid JSON ({len(body)} bytes; truncated?)"


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
    charset: str | None,
    data: Any,
    method: str | None,
    path: str | None,
    request_id: str | None,
) -> APIError:
    code, message = _code_and_message(status, body, charset, data)
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


def _code_and_message(
    status: int, body: bytes, charset: str | None, data: Any
) -> tuple[str | None, str]:
    if isinstance(data, dict):
        if "errcode" in data or "errmsg" in data:
            return _text(data.get("errcode")), _text(data.get("errmsg")) or f"HTTP {status}"
        if isinstance(data.get("error"), str):
            desc = _text(data.get("error_description"))
            return data["error"], desc or data["error"]
        if "message" in data:
            return None, _text(data.get("message")) or f"HTTP {status}"
    if (data is _NOT_JSON or isinstance(data, _Undecodable)) and body:
        return None, _plain_text(body, charset) or f"HTTP {status}"
    if 300 <= status < 400:
        return None, f"unexpected redirect (HTTP {status}); redirects are not followed"
    return None, f"HTTP {status}"


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def _plain_text(body: bytes, charset: str | None) -> str:
    """A short readable message from a plain-text or HTML body (a proxy's error page)."""
    text = _as_text(body[:4096], charset)
    title = _TITLE.search(text)
    if title:
        text = title.group(1)
    text = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", text))).strip()
    return text[:_MAX_TEXT]
