"""The fake's server-side limits: requests per second and requests in flight, per account."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import orjson
import pytest

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


async def test_an_outage_answers_every_path_with_nginx_502_until_it_is_ended() -> None:
    async with FakeBangwo8(tasks=3, rate_limit=0.001) as fake:
        await fake.outage(600, "502")
        down = await call(fake, TASKS)
        token = await call(fake, "/../token.php", method="POST")
        await fake.outage(0)  # a new outage replaces the last: this one is over at once
        back = await call(fake, TASKS)
    assert (down.status, token.status, back.status) == (502, 502, 200)
    assert down.content_type == "text/html" and b"502 Bad Gateway" in down.body
    assert "Retry-After" not in down.headers
    assert fake.outage_answers == 2 and fake.refused == 0  # the limits never saw them
    assert [r.status for r in fake.log] == [502, 502, 200]


async def test_a_503_outage_sends_a_maintenance_page_and_ends_on_its_own() -> None:
    async with FakeBangwo8(tasks=3) as fake:
        await fake.outage(0.2, "503")
        down = await call(fake, TASKS)
        await asyncio.sleep(0.25)  # the loop's clock is past the outage now
        back = await call(fake, TASKS)
    assert (down.status, back.status) == (503, 200)
    assert down.content_type == "text/html" and "Retry-After" not in down.headers
    assert fake.outage_answers == 1


async def test_a_refusing_outage_drops_connections_and_listens_again_on_its_port() -> None:
    async with FakeBangwo8(tasks=3) as fake:
        port = fake.port
        headers = {"Authorization": basic_header(fake.account, fake.password)}
        async with aiohttp.ClientSession() as http:
            async with http.get(fake.base_url + TASKS, headers=headers) as resp:
                assert resp.status == 200  # a keep-alive connection now sits in the pool
            await fake.outage(600, "refuse")
            with pytest.raises(aiohttp.ClientError):
                await http.get(fake.base_url + TASKS, headers=headers)
        with pytest.raises(aiohttp.ClientConnectorError):  # a new connection is refused
            await call(fake, TASKS)
        await fake.outage(0.1, "refuse")  # replaces the long one: back in a tenth of a second
        statuses = []
        for _ in range(100):  # bounded: the fake listens again after 0.1 s
            await asyncio.sleep(0.05)
            with contextlib.suppress(aiohttp.ClientConnectorError):
                statuses.append((await call(fake, TASKS)).status)
                break
        assert fake.port == port and statuses == [200]


async def test_an_outage_of_another_kind_ends_a_refusing_one_at_once() -> None:
    async with FakeBangwo8(tasks=3) as fake:
        await fake.outage(600, "refuse")
        await fake.outage(600, "503")  # listening again, answering 503
        down = await call(fake, TASKS)
        await fake.outage(0)
        back = await call(fake, TASKS)
    assert (down.status, back.status) == (503, 200)


async def test_an_outage_of_an_unknown_kind_or_negative_length_is_a_value_error() -> None:
    async with FakeBangwo8(tasks=3) as fake:
        with pytest.raises(ValueError, match="outage kind must be one of"):
            await fake.outage(1, "504")
        with pytest.raises(ValueError, match="0 or more"):
            await fake.outage(-1)
        assert (await call(fake, TASKS)).status == 200


async def test_the_benchmark_server_changes_the_fake_and_takes_it_down_on_command() -> None:
    from benchmarks._server import obey  # the benchmarks' fake process runs these commands

    async with FakeBangwo8(tasks=3) as fake:
        assert (await obey(fake, {"set": {"rate_limit": 0.001, "rate_burst": 1}}))["refused"] == 0
        statuses = [(await call(fake, TASKS)).status for _ in range(2)]
        refused = await obey(fake, {"set": {"limit_retry_after": None, "rate_limit": None}})
        assert fake.limit_retry_after is None and fake.rate_limit is None
        assert await obey(fake, {"set": {"state": None}}) == {"error": "not settable: state"}
        down = await obey(fake, {"outage": [600, "502"]})
        answer = await call(fake, TASKS)
        counts = await obey(fake, {"outage": [0, "503"]})
    assert statuses == [200, 429] and refused["refused"] == 1
    assert down["outage_answers"] == 0 and answer.status == 502
    assert counts["statuses"] == {"200": 1, "429": 1, "502": 1} and counts["requests"] == 3


async def test_requests_in_flight_finish_through_a_502_outage_but_not_a_refusing_one() -> None:
    read = asyncio.Event()
    # Seed 14 holds the first answer back 0.97 s after its page was read (as above).
    async with FakeBangwo8(tasks=3, jitter=1.0, seed=14, on_list=lambda *_: read.set()) as fake:
        held = asyncio.create_task(call(fake, TASKS))
        await read.wait()
        await fake.outage(600, "502")
        assert (await held).status == 200  # read before the outage: answered
        read.clear()
        held = asyncio.create_task(call(fake, TASKS))
        await fake.outage(0)
        await read.wait()
        await fake.outage(600, "refuse")
        with pytest.raises(aiohttp.ClientError):  # dropped with its connection
            await held
