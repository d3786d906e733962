"""The fake's server-side limits: requests per second and requests in flight, per account."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson

from bangwo8_async.auth import basic_header
from bangwo8_async.testing import RATE_FAULTS, FakeBangwo8, Fault, LoggedRequest
from bangwo8_async.testing._faults import default_burst

from .test_fake_php import TASKS, call


async def test_rate_limit_refuses_beyond_the_bucket_with_retry_after() -> None:
    # 0.001 requests per second: the bucket holds its burst, and nothing refills during a test.
    async with FakeBangwo8(tasks=3, rate_limit=0.001, rate_burst=2) as fake:
        answers = [await call(fake, TASKS) for _ in range(3)]
        agent = await call(fake, TASKS, auth=(fake.agent_account, fake.agent_password))
    assert [a.status for a in answers] == [200, 200, 429]
    assert answers[2].json() == {"errcode": "429", "errmsg": "Too Many Requests"}
    assert answers[2].headers["Retry-After"] == "1"
    assert agent.status == 403  # another account, another bucket
    assert fake.refused == 1
    assert [(r.status, r.fault) for r in fake.log] == [(200, None)] * 2 + [(429, None), (403, None)]


async def test_limit_retry_after_none_sends_no_header_and_bom_applies() -> None:
    async with FakeBangwo8(tasks=3, rate_limit=0.001, limit_retry_after=None, bom=True) as fake:
        await call(fake, TASKS)  # the default burst for so low a rate: one request
        refused = await call(fake, TASKS)
        fake.limit_retry_after = 2.5
        again = await call(fake, TASKS)
    assert refused.status == 429 and "Retry-After" not in refused.headers
    assert refused.body.startswith(b"\xef\xbb\xbf")
    assert again.headers["Retry-After"] == "2.5"
    assert fake.refused == 2


def test_the_default_burst_is_a_tenth_of_a_second_and_at_least_one() -> None:
    assert (default_burst(50), default_burst(200), default_burst(3)) == (5, 20, 1)


async def test_a_token_counts_against_its_client_and_the_token_endpoint_is_free() -> None:
    async with FakeBangwo8(tasks=3, rate_limit=0.001) as fake:
        token_url = fake.base_url.replace("/api/v1", "/api/token.php")
        client = {"Authorization": basic_header(fake.secret_id, fake.secret)}
        async with aiohttp.ClientSession() as http:
            tokens = []
            for _ in range(2):
                async with http.post(
                    token_url, data={"grant_type": "client_credentials"}, headers=client
                ) as resp:
                    tokens.append(orjson.loads(await resp.read())["access_token"])
            statuses = []
            for token in tokens:
                headers = {"Authorization": f"Bearer {token}"}
                async with http.get(fake.base_url + TASKS, headers=headers) as resp:
                    statuses.append(resp.status)
        basic = await call(fake, TASKS)
    assert fake.token_fetches == 2
    assert statuses == [200, 429]  # two tokens, one client, one bucket
    assert basic.status == 200  # the Basic account has its own


async def test_max_in_flight_refuses_a_request_beyond_the_cap_at_once() -> None:
    read = asyncio.Event()
    # Seed 14 holds the first answer back 0.97 s after its page was read, the next 0.01 s.
    async with FakeBangwo8(
        tasks=3, max_in_flight=1, jitter=1.0, seed=14, on_list=lambda *_: read.set()
    ) as fake:
        held = asyncio.create_task(call(fake, TASKS))
        await read.wait()
        refused = await call(fake, TASKS)
        assert not held.done()  # refused while the first was still in flight
        assert (await held).status == 200
        after = await call(fake, TASKS)  # the slot was given back
    assert refused.status == 429 and refused.headers["Retry-After"] == "1"
    assert after.status == 200
    assert fake.refused == 1 and fake.peak_in_flight == 1
    assert [r.status for r in fake.log] == [200, 429, 200]  # the log keeps arrival order


async def test_limits_can_be_changed_while_serving() -> None:
    async with FakeBangwo8(tasks=3) as fake:
        assert (await call(fake, TASKS)).status == 200
        fake.rate_limit, fake.rate_burst = 0.001, 1
        assert [(await call(fake, TASKS)).status for _ in range(2)] == [200, 429]
        fake.rate_limit = None
        assert (await call(fake, TASKS)).status == 200


def test_rate_faults_keep_their_six_kinds() -> None:
    # The exact six are pinned in test_reliability; a new kind must not join them.
    assert len(RATE_FAULTS) == 6 and not {Fault.SLOW, Fault.HTML_OK} & set(RATE_FAULTS)
    assert FakeBangwo8().fault_kinds == RATE_FAULTS
    assert Fault("html-200") is Fault.HTML_OK


async def test_paths_outside_the_call_task_api_are_not_limited() -> None:
    async with FakeBangwo8(tasks=1, rate_limit=0.001) as fake:
        statuses = [(await call(fake, "/nothing.json")).status for _ in range(3)]
    assert statuses == [404, 404, 404] and fake.refused == 0


async def test_a_refused_account_never_reaches_a_handler() -> None:
    reads: list[LoggedRequest] = []
    async with FakeBangwo8(tasks=2, on_list=lambda entry, _: reads.append(entry)) as fake:
        victim = fake.state.order[0]
        wrong = await call(fake, TASKS, auth=(fake.account, "wrong"))
        agent = (fake.agent_account, fake.agent_password)
        deleted = await call(fake, f"/callTask/{victim}.json", method="DELETE", auth=agent)
        users = await call(fake, f"/callTask/userList/{victim}.json", auth=agent)
    assert (wrong.status, deleted.status, users.status) == (401, 403, 403)
    assert wrong.json()["errcode"] == "40001" and deleted.json()["errcode"] == "40003"
    assert reads == [] and victim in fake.state
