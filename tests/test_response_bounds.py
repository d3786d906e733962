"""Answers at the edges of the rules: the first redirect status, the longest error text."""

from __future__ import annotations

import pytest

import bangwo8_async as bw
from bangwo8_async._http.response import decode_response, parse_retry_after


@pytest.mark.parametrize("status", [300, 301, 399])
def test_every_3xx_is_an_error_not_data(status: int) -> None:
    with pytest.raises(bw.APIError) as info:
        decode_response(status, {"Content-Type": "application/json"}, b'{"rows": []}')
    assert info.value.status == status
    assert "redirects are not followed" in str(info.value)


def test_a_2xx_just_below_the_redirects_is_data() -> None:
    assert decode_response(299, {}, b'{"rows": []}') == {"rows": []}


def test_an_error_page_is_cut_to_200_characters() -> None:
    text = "维护中" * 50 + "x" * 100  # 250 characters
    body = f"<html><body><p>{text}</p></body></html>".encode()
    with pytest.raises(bw.ServerError) as info:
        decode_response(503, {"Content-Type": "text/html; charset=utf-8"}, body)
    assert text[:200] in str(info.value) and text[:201] not in str(info.value)


@pytest.mark.parametrize(
    ("value", "seconds"), [("  7 ", 7.0), ("   ", None), ("", None), ("-3", 0.0), ("nan", None)]
)
def test_retry_after_in_seconds_with_spaces_and_nonsense(value: str, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_an_empty_2xx_body_says_so() -> None:
    with pytest.raises(bw.DecodeError) as info:
        decode_response(200, {}, b"  ")
    assert "HTTP 200 with an empty body" in str(info.value)


def test_a_body_blank_for_its_first_four_kib_then_text_is_not_empty() -> None:
    body = b" " * 5000 + b"oops"
    with pytest.raises(bw.DecodeError) as info:
        decode_response(200, {}, body)
    assert "empty body" not in str(info.value)
    assert f"not valid JSON ({len(body)} bytes" in str(info.value)


@pytest.mark.parametrize("status", [403, "403", "403 Forbidden"])
def test_a_status_in_the_body_counts_whether_a_number_or_text(status: object) -> None:
    body = f'{{"Status": {status!r}, "message": "no access"}}'.replace("'", '"').encode()
    with pytest.raises(bw.PermissionDeniedError) as info:
        decode_response(200, {}, body)
    assert info.value.status == 403 and "no access" in str(info.value)
