"""Answers the other response tests leave open: titles, charsets, odd bodies, Retry-After dates."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import orjson
import pytest

import bangwo8_async as bw
from bangwo8_async._http.response import Expect, decode_response, parse_retry_after

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_an_uppercase_title_over_two_lines_is_the_message() -> None:
    """An error page's <TITLE>, in capitals and broken over lines, is its message."""
    body = b"<HTML><HEAD><TITLE>502\n Bad Gateway</TITLE></HEAD><BODY><h1>nginx</h1></BODY></HTML>"
    with pytest.raises(bw.ServerError) as info:
        decode_response(502, {"Content-Type": "text/html"}, body)
    assert info.value.message == "502 Bad Gateway"


def test_a_title_with_a_bare_less_than_sign_is_kept_whole() -> None:
    """A title may hold a bare '<' (HTML allows it there): the text after it is kept."""
    body = b"<html><head><title>503 - retry in < 1 minute</title></head><body>x</body></html>"
    with pytest.raises(bw.ServerError) as info:
        decode_response(503, {"Content-Type": "text/html"}, body)
    assert info.value.message == "503 - retry in < 1 minute"


def test_an_error_message_is_looked_for_in_the_first_4096_bytes_only() -> None:
    """A huge error body is not scanned for its message past its first 4096 bytes."""
    with pytest.raises(bw.ServerError) as info:
        decode_response(502, {}, b" " * 4096 + b"Bad Gateway")
    assert info.value.message == "HTTP 502"


def test_utf8_declared_and_cut_inside_a_character_is_truncation() -> None:
    """A body declared charset=UTF-8 and cut inside a character is truncated, so retryable."""
    body = orjson.dumps({"task_name": "外呼任务"})
    cut = body[: body.index("外".encode()) + 2]
    with pytest.raises(bw.DecodeError) as info:
        decode_response(200, {"Content-Type": "application/json; charset=UTF-8"}, cut)
    assert info.value.retryable is True
    assert "truncated" in info.value.message


def test_a_bad_last_byte_is_an_encoding_problem_not_truncation() -> None:
    """A body whose last byte can start no UTF-8 character is undecodable, not cut short."""
    with pytest.raises(bw.DecodeError) as info:
        decode_response(200, {}, b'{"a": 1}\xff')
    assert info.value.retryable is False
    assert "encoding problem" in info.value.message
    assert "truncated" not in info.value.message


def test_a_json_list_is_no_acknowledgement_and_the_message_says_why() -> None:
    """A 2xx JSON list where an acknowledgement is expected is named as a list."""
    with pytest.raises(bw.DecodeError) as info:
        decode_response(200, {}, b"[1, 2]", expect=Expect.ACKNOWLEDGEMENT)
    assert "HTTP 200 body is JSON list, not an object" in info.value.message


def test_a_400_with_an_empty_body_is_no_redirect() -> None:
    """HTTP 400 with nothing in the body says HTTP 400, not an unexpected redirect."""
    with pytest.raises(bw.APIError) as info:
        decode_response(400, {}, b"")
    assert (info.value.status, info.value.message) == (400, "HTTP 400")


def test_a_400_stays_an_error_whatever_status_the_body_claims() -> None:
    """A body's own Status counts on 2xx and 3xx only: HTTP 400 with Status 200 is an error."""
    body = b'{"Status": 200, "message": "Invalid parameters"}'
    with pytest.raises(bw.APIError) as info:
        decode_response(400, {}, body)
    assert (info.value.status, info.value.message) == (400, "Invalid parameters")


def test_a_boolean_status_in_the_body_is_no_status() -> None:
    """``"Status": true`` is a flag, not a status: the error keeps the HTTP status."""
    body = b'{"Status": true, "errcode": "100002", "errmsg": "Invalid parameters"}'
    with pytest.raises(bw.APIError) as info:
        decode_response(200, {}, body)
    assert type(info.value) is bw.APIError
    assert (info.value.status, info.value.code) == (200, "100002")


def test_an_errmsg_without_an_errcode_is_the_message() -> None:
    """An error body with ``errmsg`` and no ``errcode`` still gives its message."""
    with pytest.raises(bw.APIError) as info:
        decode_response(400, {}, b'{"errmsg": "Invalid parameters"}')
    assert (info.value.code, info.value.message) == (None, "Invalid parameters")


def test_an_oauth_error_on_a_2xx_is_an_error_but_a_token_is_not() -> None:
    """A 2xx ``{"error": ...}`` is an error; a token answer with an ``error`` key is data."""
    with pytest.raises(bw.APIError) as info:
        decode_response(200, {}, b'{"error": "invalid_grant", "error_description": "expired"}')
    assert (info.value.status, info.value.code, info.value.message) == (
        200,
        "invalid_grant",
        "expired",
    )
    token = {"access_token": "t0k", "error": ""}
    assert decode_response(200, {}, orjson.dumps(token)) == token


def test_a_retry_after_date_with_an_offset_counts_from_that_offset() -> None:
    """A Retry-After date in +0800 is that moment, not the same clock time in UTC."""
    assert parse_retry_after("Thu, 01 Jan 2026 08:00:30 +0800", now=NOW) == 30


@pytest.mark.parametrize("value", ["Thu, 01 Jan 2026 00:00:30 -0000", "Thu, 01 Jan 2026 00:00:30"])
def test_a_retry_after_date_without_a_zone_is_utc(value: str) -> None:
    """A Retry-After date with no zone (or -0000) is read as UTC."""
    assert parse_retry_after(value, now=NOW) == 30


def test_a_retry_after_date_is_measured_against_the_clock() -> None:
    """Without ``now``, a Retry-After date is measured from the current time."""
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    later = format_datetime(datetime.now(timezone.utc) + timedelta(hours=1), usegmt=True)
    wait = parse_retry_after(later)
    assert wait is not None and 3000 < wait <= 3600
