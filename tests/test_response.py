"""The pure (status, headers, body) -> data-or-exception function, every vendor error shape."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import orjson
import pytest

import bangwo8_async as bw
from bangwo8_async._http.response import Expect, decode_response, parse_retry_after

from .conftest import vendor


def decode(status: int, body: bytes | str, headers: dict[str, str] | None = None, **kw: object):
    raw = body.encode() if isinstance(body, str) else body
    return decode_response(status, headers or {}, raw, **kw)  # type: ignore[arg-type]


def test_success_returns_json() -> None:
    assert decode(200, vendor("get_call_task"))["callTask"]["startime"] == "2022-05-09"


@pytest.mark.parametrize(
    ("status", "body", "cls", "code", "message"),
    [
        (
            404,
            '{"errcode": "100047", "errmsg": "Invalid resource URI"}',
            bw.NotFoundError,
            "100047",
            "Invalid resource URI",
        ),
        (
            400,
            '{"errcode": "100002", "errmsg": "Invalid parameters"}',
            bw.APIError,
            "100002",
            "Invalid parameters",
        ),
        (
            401,
            '{"errcode": "40001", "errmsg": "Authentication failed"}',
            bw.AuthenticationError,
            "40001",
            "Authentication failed",
        ),
        (
            403,
            '{"errcode": "40003", "errmsg": "not an administrator"}',
            bw.PermissionDeniedError,
            "40003",
            "not an administrator",
        ),
        (
            429,
            '{"errcode": "429", "errmsg": "Too Many Requests"}',
            bw.RateLimitError,
            "429",
            "Too Many Requests",
        ),
        (
            500,
            '{"errcode": "500", "errmsg": "Internal Server Error"}',
            bw.ServerError,
            "500",
            "Internal Server Error",
        ),
        (
            400,
            '{"error": "invalid_client", "error_description": "bad secret"}',
            bw.AuthenticationError,
            "invalid_client",
            "bad secret",
        ),
        (
            400,
            '{"error": "invalid_request", "error_description": "must be POST"}',
            bw.APIError,
            "invalid_request",
            "must be POST",
        ),
        (
            401,
            '{"error": "invalid_client"}',
            bw.AuthenticationError,
            "invalid_client",
            "invalid_client",
        ),
        (
            503,
            "<html><head><title>503 Service Unavailable</title></head><body>down</body></html>",
            bw.ServerError,
            None,
            "503 Service Unavailable",
        ),
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
    assert decode(200, vendor("delete_call_task"), expect=Expect.ACKNOWLEDGEMENT) is None
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


# -- bodies as PHP servers send them ------------------------------------------------------------

BOM = b"\xef\xbb\xbf"
ACK = Expect.ACKNOWLEDGEMENT
CHINESE = {"callTask": [{"task_name": "外呼任务名称1", "complete": "逾期未完成"}], "count": "1"}


@pytest.mark.parametrize(
    "name", ["list_call_tasks", "get_call_task", "create_call_task", "list_task_users"]
)
@pytest.mark.parametrize("boms", [1, 2])
def test_a_utf8_bom_before_the_json_is_skipped(name: str, boms: int) -> None:
    assert decode(200, BOM * boms + vendor(name)) == decode(200, vendor(name))


def test_a_bom_before_an_error_body_keeps_the_error() -> None:
    with pytest.raises(bw.NotFoundError):
        decode(200, BOM + vendor("delete_not_found"), expect=ACK)
    with pytest.raises(bw.APIError) as info:
        decode(200, BOM + b'{"errcode": "100047", "errmsg": "Invalid resource URI"}')
    assert info.value.code == "100047"


@pytest.mark.parametrize(
    ("charset", "codec", "payload"),
    [
        ("GBK", "gbk", CHINESE),
        ("gb18030", "gb18030", CHINESE),
        ("gb2312", "gb2312", CHINESE),
        ('"GBK"', "gbk", CHINESE),
        ("Big5", "big5", {"callTask": [{"task_name": "外呼任務"}]}),
    ],
)
def test_a_declared_charset_is_decoded_by_it(charset: str, codec: str, payload: object) -> None:
    body = orjson.dumps(payload).decode().encode(codec)
    assert body != orjson.dumps(payload)  # really not UTF-8
    headers = {"Content-Type": f"application/json; charset={charset}"}
    assert decode(200, body, headers) == payload


def test_utf8_declared_or_not_takes_the_same_road() -> None:
    body = orjson.dumps(CHINESE)
    for ctype in (
        "application/json",
        "application/json;charset=UTF-8",
        "text/html; charset=utf8",
        "application/json; charset=",
        "application/json; boundary=x",
    ):
        assert decode(200, body, {"Content-Type": ctype}) == CHINESE


def test_a_bom_wins_over_a_declared_charset() -> None:
    headers = {"Content-Type": "application/json; charset=GBK"}
    assert decode(200, BOM + orjson.dumps(CHINESE), headers) == CHINESE


def test_an_error_body_in_its_charset_keeps_its_message() -> None:
    body = '{"Status": "403", "message": "没有权限"}'.encode("gbk")
    with pytest.raises(bw.PermissionDeniedError) as info:
        decode(200, body, {"Content-Type": "application/json; charset=gbk"})
    assert info.value.message == "没有权限"
    page = "<html><title>服务维护中</title></html>".encode("gb18030")
    with pytest.raises(bw.ServerError) as server:
        decode(503, page, {"Content-Type": "text/html; charset=gb18030"})
    assert server.value.message == "服务维护中"


@pytest.mark.parametrize(
    ("body", "ctype", "charset"),
    [
        (b'{"callTask": "\x81\x20"}', "application/json; charset=GBK", "GBK"),
        (orjson.dumps(CHINESE), "application/json; charset=ascii", "ascii"),
        (b"{}", "application/json; charset=x-klingon", "x-klingon"),
        (b"{}", "application/json; charset=base64", "base64"),
        ('{"task_name": "外呼"}'.encode("gbk"), "application/json", "UTF-8"),
    ],
)
def test_a_body_not_in_its_charset_is_an_encoding_problem_not_retried(
    body: bytes, ctype: str, charset: str
) -> None:
    for expect in Expect:
        with pytest.raises(bw.DecodeError) as info:
            decode(200, body, {"Content-Type": ctype}, expect=expect)
        assert info.value.retryable is False
        assert "encoding problem" in info.value.message
        assert charset in info.value.message
        assert bw.Backoff().delay(info.value, 0) is None


def test_utf8_cut_inside_a_character_is_truncation_and_retryable() -> None:
    body = orjson.dumps(CHINESE)
    cut = body[: body.index("外".encode()) + 2]
    with pytest.raises(bw.DecodeError) as info:
        decode(200, cut)
    assert info.value.retryable is True
    assert "truncated" in info.value.message


def test_a_status_error_wins_over_an_undecodable_body() -> None:
    with pytest.raises(bw.ServerError) as info:
        decode(503, b"\x81\x20 down", {"Content-Type": "text/plain; charset=gbk"})
    assert info.value.status == 503


WAF = b"<!DOCTYPE html>\n<html><head><title>Access denied | WAF</title></head><body>...</body>"


@pytest.mark.parametrize("expect", list(Expect))
def test_an_html_page_on_a_2xx_is_a_retryable_decode_error(expect: Expect) -> None:
    with pytest.raises(bw.DecodeError) as info:
        decode(
            200,
            WAF,
            {"Content-Type": "text/html"},
            expect=expect,
            method="DELETE",
            path="/callTask/1.json",
        )
    assert info.value.retryable is True
    assert "HTML page" in info.value.message and "Access denied | WAF" in info.value.message
    assert (info.value.method, info.value.path) == ("DELETE", "/callTask/1.json")


VENDOR_ACK = vendor("delete_call_task").decode()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"  \r\n",
        BOM,
        b"{}",
        b'{"Status": 200, "callTaskId": "1"}',
        b'{"Status": "200 OK"}',
        VENDOR_ACK.encode(),
        BOM + VENDOR_ACK.encode(),
        VENDOR_ACK.replace("\u00a0", "").encode(),
        VENDOR_ACK.replace("\u00a0", "\t").replace("\n", "\r\n").encode(),
        b'{\r\n\t"Status":\t200 OK,\r\n\t"callTaskId":\t"18738405"\r\n}\r\n',
        b'{"Status":200 OK,"callTaskId":18738405}',
    ],
)
def test_delete_acknowledgements(body: bytes) -> None:
    assert decode(200, body, expect=ACK) is None


@pytest.mark.parametrize(
    "body",
    [
        b"null",
        b"[]",
        b'"deleted"',
        b"true",
        b"OK",
        b"<html><body>captive portal</body></html>",
        b'{"Status": 200 OK}',
        b'{"Status": 200 OK, "callTaskId": "1"',
        b'{"Status": 200 OK, "callTaskId": "1"} <html>',
    ],
)
def test_anything_else_on_a_2xx_delete_is_a_decode_error(body: bytes) -> None:
    with pytest.raises(bw.DecodeError) as info:
        decode(200, body, expect=ACK)
    assert "not an acknowledgement" in info.value.message


def test_decode_error_retryable_defaults_to_true_and_survives_pickling() -> None:
    import pickle

    assert bw.DecodeError("x").retryable is True
    copy = pickle.loads(pickle.dumps(bw.DecodeError("x", retryable=False, endpoint="e")))
    assert (copy.retryable, copy.endpoint) == (False, "e")


def test_inconsistent_pages_error_carries_its_numbers() -> None:
    import pickle

    err = bw.InconsistentPagesError(
        "pages do not add up",
        asked=100,
        served=37,
        count=1234,
        page=5,
        endpoint="list_call_tasks",
        method="GET",
        path="/callTask.json?page=5",
    )
    assert isinstance(err, bw.DecodeError)
    assert (err.asked, err.served, err.count, err.page, err.retryable) == (100, 37, 1234, 5, False)
    assert err.endpoint == "list_call_tasks"
    text = str(err)
    assert text.startswith("pages do not add up (asked 100 per page, served 37, count 1234)")
    assert "(page 5)" in text and "[GET /callTask.json?page=5]" in text
    assert "no count" in str(bw.InconsistentPagesError("x", asked=1, served=0, count=None))
    assert bw.Backoff().delay(err, 0) is None
    copy = pickle.loads(pickle.dumps(err))
    assert (type(copy), str(copy)) == (bw.InconsistentPagesError, text)
