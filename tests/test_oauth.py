"""OAuth2 client credentials against the fake: single flight, renewal, bad secrets."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

import bangwo8_async as bw
from bangwo8_async.testing import FakeBangwo8, Fault


async def test_one_token_fetch_for_fifty_concurrent_calls(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    fake.latency = 0.005
    async with make_session(fake, auth=fake.client_credentials) as session:
        ids = fake.state.order[:50]
        details = await asyncio.gather(*(bw.get_call_task(session, i) for i in ids))
    assert [d.call_task_id for d in details] == ids
    assert fake.token_fetches == 1
    token_requests = fake.requests("POST", "/api/token.php")
    assert len(token_requests) == 1


async def test_token_renewed_before_it_expires(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    fake.token_ttl = 1.0  # renewed at half its life when that is under two minutes
    async with make_session(fake, auth=fake.client_credentials) as session:
        await bw.get_call_task(session, fake.state.order[0])
        await bw.get_call_task(session, fake.state.order[0])
        assert fake.token_fetches == 1
        await asyncio.sleep(0.55)
        await bw.get_call_task(session, fake.state.order[0])
    assert fake.token_fetches == 2
    assert not [r for r in fake.log if r.status == 401]


async def test_token_renewed_once_on_401(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    async with make_session(fake, auth=fake.client_credentials, max_retries=0) as session:
        await bw.get_call_task(session, fake.state.order[0])
        fake.expire_tokens()  # revoked server-side: the cached token now gets a 401
        await asyncio.gather(*(bw.get_call_task(session, i) for i in fake.state.order[:5]))
    assert fake.token_fetches == 2
    assert len([r for r in fake.log if r.status == 401]) >= 1


async def test_401_with_a_fresh_token_is_raised_not_looped(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    fake.token_ttl = 3600

    async with make_session(fake, auth=fake.client_credentials) as session:
        await bw.get_call_task(session, fake.state.order[0])
        fake.expire_tokens()
        fake.token_ttl = 0.000001  # every new token is dead on arrival
        with pytest.raises(bw.AuthenticationError) as info:
            await bw.get_call_task(session, fake.state.order[0])
    assert info.value.status == 401
    assert info.value.attempts == 2  # the first try, then one with a renewed token
    assert fake.token_fetches == 2


async def test_bad_secret_is_authentication_error_without_retries(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    creds = bw.ClientCredentials(fake.secret_id, "wrong-secret")
    async with make_session(fake, auth=creds) as session:
        with pytest.raises(bw.AuthenticationError) as info:
            await bw.get_call_task(session, fake.state.order[0])
    assert info.value.code == "invalid_client"
    assert len(fake.requests("POST", "/api/token.php")) == 1
    assert not fake.requests("GET")


async def test_bad_password_is_authentication_error(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    async with make_session(fake, auth=bw.BasicAuth(fake.account, "nope")) as session:
        with pytest.raises(bw.AuthenticationError):
            await bw.list_call_tasks(session)
    assert len(fake.log) == 1


async def test_token_fetch_is_retried_through_faults(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    fake.inject(Fault.UNAVAILABLE, Fault.RESET_BEFORE, path="/api/token.php")
    async with make_session(fake, auth=fake.client_credentials) as session:
        await bw.get_call_task(session, fake.state.order[0])
    assert fake.token_fetches == 1
    assert len(fake.requests("POST", "/api/token.php")) >= 3


async def test_token_url_defaults_to_the_host_of_base_url(fake: FakeBangwo8) -> None:
    session = bw.Session(fake.client_credentials, base_url=fake.base_url)
    assert str(session._token_url) == f"http://127.0.0.1:{fake.port}/api/token.php"
    await session.close()
    session = bw.Session(bw.ClientCredentials("i", "s"))
    assert str(session._token_url) == "https://www.bangwo8.com/api/token.php"
    await session.close()
