"""Where and as whom the command line connects, and its errors worded for the user."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

from ._cli_args import FAKE_TASKS, FAKE_USERS_PER_TASK
from .auth import BasicAuth, ClientCredentials, resolve_credentials
from .errors import AuthenticationError, TransportError, ValidationError
from .session import DEFAULT_BASE_URL, Session

__all__ = ["FAKE_BASE", "Connection", "Failure", "UsageError"]

#: The base URL recorded for ``--fake`` exports: its port changes every run, its data does not.
FAKE_BASE = "fake"


class UsageError(Exception):
    """The command line itself is wrong: exit code 2."""


class Failure(Exception):
    """A failure already worded for the user, with its exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# -- credentials and the session --------------------------------------------------------------


def _credentials(args: argparse.Namespace) -> tuple[BasicAuth | ClientCredentials, str]:
    """The credentials to use and where they came from (``"--account/--password"``,
    ``"BANGWO8_ACCOUNT/BANGWO8_PASSWORD"``...): the helper ``Session.from_env`` uses too."""
    try:
        found = resolve_credentials(
            os.environ,
            account=args.account,
            password=args.password,
            secret_id=args.secret_id,
            secret=args.secret,
        )
    except ValidationError as exc:
        raise UsageError(f"{exc.message}; or try --fake") from None
    return found.auth, found.source


def _described(source: str) -> str:
    """``--account/--password`` -> "the flags --account/--password", and so on."""
    halves = source.split("/")
    if all(h.startswith("--") for h in halves):
        return f"the flags {source}"
    if all(h.startswith("BANGWO8_") for h in halves):
        return f"the environment ({source})"
    return f"flags and environment ({source})"


class Connection:
    """Where and as whom the CLI connects; resolved before anything is sent."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.fake = bool(args.fake)
        if self.fake:
            self.auth: BasicAuth | ClientCredentials | None = None
            self.source = "the embedded fake server (--fake)"
            self.base_url = FAKE_BASE
            self.account = "fake"
            return
        self.auth, source = _credentials(args)
        self.source = _described(source)
        self.base_url = args.base_url or os.environ.get("BANGWO8_BASE_URL") or DEFAULT_BASE_URL
        self.account = (
            self.auth.account
            if isinstance(self.auth, BasicAuth)
            else f"oauth:{self.auth.secret_id}"
        )

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        args = self.args
        options: dict[str, Any] = {
            "timeout": args.timeout,
            "max_retries": args.max_retries,
            "max_concurrency": args.max_concurrency,
        }
        if self.fake:
            from .testing import FakeBangwo8  # only when asked: the fake pulls in aiohttp.web

            fake = FakeBangwo8(tasks=FAKE_TASKS, users_per_task=FAKE_USERS_PER_TASK)
            async with fake, Session(fake.basic_auth, base_url=fake.base_url, **options) as s:
                yield s
            return
        assert self.auth is not None
        async with Session(self.auth, base_url=self.base_url, **options) as s:
            try:
                yield s
            except AuthenticationError as exc:
                raise Failure(
                    f"the server refused the credentials from {self.source} (account "
                    f"{self.account!r}, {exc}); check the account or secret id, its password or "
                    "secret, and that it is an admin account of this Bangwo8 site"
                ) from None
            except TransportError as exc:
                raise Failure(_transport_line(exc, s.base_url)) from None


def _transport_line(exc: TransportError, base_url: str) -> str:
    """``cannot reach host:port: connection refused``: where, and why, in plain words."""
    from yarl import URL

    url = URL(base_url)
    reason = exc.message
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno:
            reason = os.strerror(cause.errno).lower()  # "connection refused", by errno
            break
        cause = cause.__cause__ or getattr(cause, "os_error", None)
    where = f" ({exc.method} {exc.path})" if exc.method and exc.path else ""
    return f"cannot reach {url.host}:{url.port}: {reason}{where}"
