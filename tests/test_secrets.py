"""No password, secret, token or Authorization value in any repr, error or log record."""

from __future__ import annotations

import base64
import logging
import traceback
from collections.abc import Callable
from datetime import date

import pytest

import bangwo8_async as bw
from bangwo8_async.testing import RATE_FAULTS, FakeBangwo8

PASSWORD = "pw-Sup3r-Secret"
SECRET = "oauth-S3cret-Value"


def forbidden(fake: FakeBangwo8) -> list[str]:
    values = [PASSWORD, SECRET, fake.password, fake.secret, *fake._tokens]
    basic = [
        base64.b64encode(f"{u}:{p}".encode()).decode()
        for u, p in [
            (fake.account, fake.password),
            (fake.secret_id, fake.secret),
            ("admin", PASSWORD),
            (fake.secret_id, SECRET),
        ]
    ]
    return values + basic + ["Authorization", "Bearer "]


def test_reprs_hide_secrets() -> None:
    basic = bw.BasicAuth("admin", PASSWORD)
    creds = bw.ClientCredentials("sid", SECRET)
    session = bw.Session(creds)
    for text in (
        repr(basic),
        str(basic),
        repr(creds),
        str(creds),
        repr(session),
        str(session),
        repr(bw.Session(basic)),
    ):
        assert PASSWORD not in text and SECRET not in text
    assert "admin" in repr(basic) and "sid" in repr(creds)


async def test_no_secret_anywhere_on_every_error_path(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    fake.inject(*RATE_FAULTS * 2)
    fake.retry_after = 0
    sessions = [
        make_session(fake),
        make_session(fake, auth=fake.client_credentials),
        make_session(fake, auth=bw.BasicAuth("admin", PASSWORD), max_retries=0),
        make_session(fake, auth=bw.ClientCredentials(fake.secret_id, SECRET)),
        make_session(fake, max_retries=0),
    ]
    new = bw.NewCallTask("t", date(2022, 1, 1), date(2022, 1, 2), [1], [2], "0")
    for session in sessions:
        async with session:
            texts.append(repr(session))
            for call in (
                lambda: bw.get_call_task(session, fake.state.order[0]),
                lambda: bw.get_call_task(session, 1),
                lambda: bw.delete_call_task(session, 2),
                lambda: bw.create_call_task(session, new),
                lambda: bw.list_task_users(session, 3),
                lambda: bw.list_call_tasks(session, page=2),
            ):
                try:
                    result = await call()
                    texts.append(repr(result))
                except bw.Bangwo8Error as exc:
                    texts += [
                        str(exc),
                        repr(exc),
                        repr(vars(exc)),
                        "".join(traceback.format_exception(exc)),
                    ]
        fake.expire_tokens()
    texts += [r.getMessage() for r in caplog.records]
    texts += [repr(r.args) for r in caplog.records]
    assert any("503" in t for t in texts)  # the error paths really were taken
    joined = "\n".join(texts)
    for value in forbidden(fake):
        assert value not in joined, value
