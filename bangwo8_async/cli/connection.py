"""Where and as whom the command line connects, and its errors worded for the user."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

from .._http import DEFAULT_BASE_URL, Session
from ..auth import Auth, BasicAuth, IncompleteCredentials, ResolvedCredentials, resolve_credentials
from ..errors import AuthenticationError, TransportError, ValidationError

__all__ = [
    "FAKE_BASE",
    "FAKE_TASKS",
    "FAKE_USERS_PER_TASK",
    "Connection",
    "Failure",
    "UsageError",
    "credentials",
    "fake_base",
    "fake_options",
    "transport_line",
]

#: The embedded fake server's size when ``--fake-tasks`` and ``--fake-users-per-task`` (and
#: ``fake-server``'s ``--tasks`` and ``--users-per-task``) are not given.
FAKE_TASKS = 3000
FAKE_USERS_PER_TASK = 3

#: The base URL recorded for ``--fake`` exports: its port changes every run, its data does not
#: (for a size; ``fake_base`` adds the size, which does change it).
FAKE_BASE = "fake"

#: The ``--fake-*`` options: each needs ``--fake``.
FAKE_OPTIONS = ("fake_tasks", "fake_users_per_task", "fake_latency_ms", "fake_fault_rate")


class UsageError(Exception):
    """The command line itself is wrong: exit code 2."""


class Failure(Exception):
    """A failure already worded for the user, with its exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# -- credentials and the session --------------------------------------------------------------


def credentials(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[Auth, str]:
    """The credentials the flags and ``env`` give (the rules of ``Session.from_env``, a flag
    winning over its variable), and where they came from, in the command line's words."""
    try:
        found = resolve_credentials(
            env,
            account=args.account,
            password=args.password,
            secret_id=args.secret_id,
            secret=args.secret,
        )
    except IncompleteCredentials as exc:
        raise UsageError(f"{_half_a_pair(exc)}; or try --fake") from None
    except ValidationError as exc:
        raise UsageError(f"{exc.message}; or try --fake") from None
    return found.auth, _source(found)


def _flag(field: str) -> str:
    """The flag that sets an option (a credentials field, a fake's size...): ``secret_id`` ->
    ``--secret-id``."""
    return "--" + field.replace("_", "-")


def _half_a_pair(exc: IncompleteCredentials) -> str:
    """Half a pair, naming the flag or variable that gave one half and how to give the other."""
    if exc.given_variable is not None:
        return exc.message  # the environment's half: the words are the SDK's own
    return (
        f"{_flag(exc.given)} given without {exc.missing_noun}: "
        f"pass {_flag(exc.missing)} or set {exc.missing_variable}"
    )


def _source(found: ResolvedCredentials) -> str:
    """Where the credentials came from: ``the flags --account/--password``, ``the environment
    (BANGWO8_ACCOUNT/BANGWO8_PASSWORD)`` or ``flags and environment (--account/BANGWO8_PASSWORD)``.
    """
    halves = "/".join(
        _flag(field) if variable is None else variable
        for field, variable in zip(found.fields, found.variables, strict=True)
    )
    if all(variable is None for variable in found.variables):
        return f"the flags {halves}"
    if all(variable is not None for variable in found.variables):
        return f"the environment ({halves})"
    return f"flags and environment ({halves})"


class Connection:
    """Where and as whom the CLI connects; resolved before anything is sent."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.fake = bool(args.fake)
        if self.fake:
            self.auth: Auth | None = None
            self.source = "the embedded fake server (--fake)"
            self.base_url = fake_base(args)
            self.account = "fake"
            return
        given = [name for name in FAKE_OPTIONS if getattr(args, name, None) is not None]
        if given:
            raise UsageError(f"{_flag(given[0])} sizes the embedded fake server: add --fake")
        self.auth, self.source = credentials(args, os.environ)
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
            from ..testing import FakeBangwo8  # only when asked: the fake pulls in aiohttp.web

            fake = FakeBangwo8(**fake_options(args))
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
                raise Failure(transport_line(exc, s.base_url)) from None


def fake_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``FakeBangwo8`` options that ``--fake-*`` give, with the defaults for the rest."""

    def given(name: str, default: Any) -> Any:
        value = getattr(args, name, None)
        return default if value is None else value

    return {
        "tasks": given("fake_tasks", FAKE_TASKS),
        "users_per_task": given("fake_users_per_task", FAKE_USERS_PER_TASK),
        "latency": given("fake_latency_ms", 0.0) / 1000,
        "fault_rate": given("fake_fault_rate", 0.0),
    }


def fake_base(args: argparse.Namespace) -> str:
    """The base URL an export records for ``--fake``: its size, since that decides its rows
    (latency and faults do not: a rerun with other ones resumes)."""
    options = fake_options(args)
    return f"{FAKE_BASE}:tasks={options['tasks']},users_per_task={options['users_per_task']}"


def transport_line(exc: TransportError, base_url: str) -> str:
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
