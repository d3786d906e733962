"""The pure (status, headers, body) -> data-or-exception function, every vendor error shape."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import orjson
import pytest

import bangwo8_async as bw
from bangwo8_async._response import decode_response, parse_retry_after

from .conftest import vendor


def decode(status: int, body: bytes | str, headers: dict[str, str] | None = None, **kw: object):
    raw = body.encode() if isinstance(body, str) else body
    return decode_response(status, headers or {}, raw, **kw)  # type: ignore[arg-type]


def test_success_returns_json() -> None:
    assert decode(200, vendor("get_call_task"))["callTask"]["startime"] == "2022-05-09"


@pytest.mark.parametrize(
    ("status", "body", "cls", "code", "message"),
    [
        (404, '{"errcode": "100047", "errmsg": "Invalid resource URI"}', bw.NotFoundError,
         "100047", "Invalid resource URI"),
        (400, '{"errcode": "100002", "errmsg": "Invalid parameters"}', bw.APIError,
         "100002", "Invalid parameters"),
        (401, '{"errcode": "40001", "errmsg": "Authentication failed"}', bw.AuthenticationError,
         "40001", "Authentication failed"),
        (403, '{"errcode": "40003", "errmsg": "not an administrator"}',
         bw.PermissionDeniedError, "40003", "not an administrator"),
        (429, '{"errcode": "429", "errmsg": "Too Many Requests"}', bw.RateLimitError, "429",
         "Too Many Requests"),
        (500, '{"errcode": "500", "errmsg": "Internal Server Error"}', bw.ServerError, "500",
         "Internal Server Error"),
        (400, '{"error": "invalid_client", "error_description": "bad secret"}',
         bw.AuthenticationError, "invalid_client", "bad secret"),
        (400, '{"error": "invalid_request", "error_description": "must be POST"}', bw.APIError,
         "invalid_request", "must be POST"),
        (401, '{"error": "invalid_client"}', bw.AuthenticationError, "invalid_client",
         "invalid_client"),
        (503, "<html><head><title>503 Service Unavailable</title></head><body>down</body></html>",
         bw.ServerError, None, "503 Service Unavailable"),
        (502, "Bad Gateway\n", bw.ServerError, None, "Bad Gateway"),
        (500, "", bw.ServerError, None, "HTTP 500"),
        (302, "", bw.APIError, None, "unexpected redirect (HTTP 302); redirects are not followed"),
    ],
)
def test_error_shapes(status: int, body: str, cls: type, code: str | None, message: str) -> None:
    with pytest.raises(bw.APIError) as info:
        decode(status, body, method="GET", path="/x.json", request_id="rid-1")
    err = info.value
    assert type(err) is cls
    assert (err.status, err.code, err.message) == (status, code, message)
    assert (err.method, err.path, err.request_id) == ("GET", "/x.json", "rid-1")


def test_body_status_on_http_200_wins() -> None:
    with pytest.raises(bw.NotFoundError) as info:
        decode(200, vendor("delete_not_found"))
    assert info.value.status == 403
    assert info.value.message == "callTaskId does not exist"


def test_body_status_403_without_does_not_exist_is_permission_denied() -> None:
    with pytest.raises(bw.PermissionDeniedError) as info:
        decode(200, '{"Status": "403", "message": "forbidden"}')
    assert info.value.status == 403


def test_does_not_exist_is_not_found_whatever_the_status() -> None:
    for status in (400, 403, 500):
        with pytest.raises(bw.NotFoundError):
            decode(status, '{"Status": "403", "message": "callTaskId does not exist"}')


def test_errcode_on_http_200_is_an_error() -> None:
    with pytest.raises(bw.APIError) as info:
        decode(200, '{"errcode": "100047", "errmsg": "Invalid resource URI"}')
    assert info.value.code == "100047"


def test_errcode_zero_is_success() -> None:
    assert decode(200, '{"errcode": 0, "callTask": []}') == {"errcode": 0, "callTask": []}


def test_vendor_delete_success_body_is_not_json_but_accepted() -> None:
    assert decode(200, vendor("delete_call_task"), json_required=False) is None
    with pytest.raises(bw.DecodeError):
        decode(200, vendor("delete_call_task"))


@pytest.mark.parametrize("body", [b"", b'{"callTask": [', b"<html>ok</html>", b"\xff\xfe"])
def test_2xx_not_json_is_decode_error(body: bytes) -> None:
    with pytest.raises(bw.DecodeError):
        decode(200, body)


def test_retry_after_header_is_kept_on_the_error() -> None:
    with pytest.raises(bw.RateLimitError) as info:
        decode(429, "{}", {"Retry-After": "7"})
    assert info.value.retry_after == 7.0


def test_parse_retry_after_seconds_and_dates() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("-4") == 0.0
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    earlier = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later, now=now) == 30
    assert parse_retry_after(earlier, now=now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("nan") is None


def test_error_is_picklable_with_its_context() -> None:
    import pickle

    with pytest.raises(bw.APIError) as info:
        decode(500, orjson.dumps({"errcode": "1", "errmsg": "x"}), method="GET", path="/p")
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is bw.ServerError
    assert (copy.status, copy.code, copy.path) == (500, "1", "/p")
