"""``session.stats`` counts every retry, the attempt after a refused token included."""

from __future__ import annotations

from collections.abc import Callable

import bangwo8_async as bw
from bangwo8_async.testing import FakeBangwo8


async def test_a_token_renewed_after_a_401_counts_as_one_retry(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    task = fake.state.order[0]
    async with make_session(fake, auth=fake.client_credentials, max_retries=0) as session:
        await bw.get_call_task(session, task)
        before = session.stats
        assert (before.retries, fake.token_fetches) == (0, 1)
        fake.expire_tokens()  # revoked server-side: the next call is refused, then renewed
        detail = await bw.get_call_task(session, task)
        after = session.stats
    assert detail.call_task_id == task
    assert fake.token_fetches == 2
    assert len([r for r in fake.log if r.status == 401]) == 1
    assert after.retries - before.retries == 1  # the call sent again with the new token
    # The refused attempt, the token fetch and the attempt that succeeded.
    assert after.attempts - before.attempts == 3


async def test_a_call_that_succeeds_at_once_counts_no_retry(
    fake: FakeBangwo8, make_session: Callable[..., bw.Session]
) -> None:
    async with make_session(fake, auth=fake.client_credentials) as session:
        for task in fake.state.order[:3]:
            await bw.get_call_task(session, task)
        assert session.stats.retries == 0
        assert session.stats.attempts == 4  # one token fetch, three calls
