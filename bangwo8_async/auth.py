"""The two ways to sign in: HTTP Basic, and OAuth2 client credentials.

Both are plain values whose ``repr`` never shows the password or secret. The
OAuth token itself lives in a private cache inside each :class:`Session`.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs

from .errors import ValidationError

__all__ = ["Auth", "BasicAuth", "ClientCredentials", "ResolvedCredentials", "resolve_credentials"]


def _non_empty(name: str) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(_: Any, __: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, str) or not value:
            raise ValidationError(f"{name} must be a non-empty string", field=name)

    return check


def basic_header(user: str, password: str) -> str:
    """An ``Authorization`` value for HTTP Basic."""
    raw = f"{user}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


@attrs.frozen(repr=False)
class BasicAuth:
    """HTTP Basic with the Bangwo8 admin account and its password."""

    account: str = attrs.field(validator=_non_empty("account"))
    password: str = attrs.field(validator=_non_empty("password"))

    def __repr__(self) -> str:
        return f"BasicAuth(account={self.account!r}, password='***')"


@attrs.frozen(repr=False)
class ClientCredentials:
    """OAuth2 client credentials: a secret id and secret from the Bangwo8 admin console.

    ``token_url=None`` means ``<scheme>://<host>[:<port>]/api/token.php`` of the
    session's ``base_url``.
    """

    secret_id: str = attrs.field(validator=_non_empty("secret_id"))
    secret: str = attrs.field(validator=_non_empty("secret"))
    token_url: str | None = attrs.field(default=None)

    def __repr__(self) -> str:
        return (
            f"ClientCredentials(secret_id={self.secret_id!r}, secret='***', "
            f"token_url={self.token_url!r})"
        )


Auth = BasicAuth | ClientCredentials


@attrs.frozen
class ResolvedCredentials:
    """The credentials to sign in with, and where they came from (for messages, never secret)."""

    auth: Auth
    #: e.g. ``"--account/--password"`` or ``"BANGWO8_SECRET_ID/BANGWO8_SECRET"``
    source: str


def _pick(explicit: str | None, flag: str, env: Mapping[str, str], var: str) -> tuple[str, str]:
    """A value and where it came from: the explicit argument wins; empty counts as unset."""
    if explicit:
        return explicit, flag
    value = env.get(var) or ""
    return value, (var if value else "")


def resolve_credentials(
    env: Mapping[str, str],
    *,
    account: str | None = None,
    password: str | None = None,
    secret_id: str | None = None,
    secret: str | None = None,
    token_url: str | None = None,
) -> ResolvedCredentials:
    """The credentials from explicit arguments, else from ``BANGWO8_*`` in ``env``.

    One helper for :meth:`Session.from_env` and the command line, so that both
    read the environment the same way. Explicit arguments (named after the
    command line's flags in ``source`` and messages) win over the environment,
    half by half. An account and password win over a secret id and secret.
    ``token_url`` (or ``BANGWO8_TOKEN_URL``) goes with client credentials.
    Half a pair raises :class:`ValidationError` naming what is missing; no
    credentials at all raises it too.
    """
    user, user_from = _pick(account, "--account", env, "BANGWO8_ACCOUNT")
    word, word_from = _pick(password, "--password", env, "BANGWO8_PASSWORD")
    sid, sid_from = _pick(secret_id, "--secret-id", env, "BANGWO8_SECRET_ID")
    sec, sec_from = _pick(secret, "--secret", env, "BANGWO8_SECRET")
    explicit_client = bool(secret_id or secret) and not (account or password)
    if (user or word) and not explicit_client:
        _check_pair(
            user_from,
            word_from,
            "an account",
            "a password",
            "--password",
            "BANGWO8_PASSWORD",
            "--account",
            "BANGWO8_ACCOUNT",
        )
        return ResolvedCredentials(BasicAuth(user, word), f"{user_from}/{word_from}")
    if sid or sec:
        _check_pair(
            sid_from,
            sec_from,
            "a secret id",
            "a secret",
            "--secret",
            "BANGWO8_SECRET",
            "--secret-id",
            "BANGWO8_SECRET_ID",
        )
        url, _ = _pick(token_url, "--token-url", env, "BANGWO8_TOKEN_URL")
        return ResolvedCredentials(
            ClientCredentials(sid, sec, url or None), f"{sid_from}/{sec_from}"
        )
    raise ValidationError(
        "no credentials: set BANGWO8_ACCOUNT and BANGWO8_PASSWORD, "
        "or BANGWO8_SECRET_ID and BANGWO8_SECRET",
        field="auth",
    )


def _check_pair(
    first_from: str,
    second_from: str,
    first: str,
    second: str,
    second_flag: str,
    second_var: str,
    first_flag: str,
    first_var: str,
) -> None:
    """Raise for half a pair, saying which half came from where and how to give the other."""
    if first_from and second_from:
        return
    if first_from:
        given, missing, flag, var = first_from, second, second_flag, second_var
    else:
        given, missing, flag, var = second_from, first, first_flag, first_var
    how = f"pass {flag} or set {var}" if given.startswith("--") else f"set {var}"
    raise ValidationError(f"{given} given without {missing}: {how}", field="auth")


@attrs.define
class Token:
    """One access token and the loop time after which it must be renewed."""

    header: str = attrs.field(repr=False)
    renew_at: float


class TokenCache:
    """Holds a session's OAuth token: fetched once for all concurrent callers, renewed early.

    A lock makes the fetch single-flight: whoever finds no valid token fetches
    it while the rest wait for that one answer instead of each asking.
    """

    #: Renew this long before ``expires_in`` runs out (or halfway, for short tokens).
    MARGIN = 60.0

    def __init__(self, fetch: Callable[[], Awaitable[tuple[str, float]]]) -> None:
        self._fetch = fetch
        self._token: Token | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    def __repr__(self) -> str:
        return f"TokenCache(fetches={self.fetches})"

    def _valid(self, now: float) -> str | None:
        token = self._token
        if token is not None and now < token.renew_at:
            return token.header
        return None

    async def header(self) -> str:
        """The ``Authorization`` value, fetching a token only if none is valid."""
        loop = asyncio.get_running_loop()
        header = self._valid(loop.time())
        if header is not None:
            return header
        async with self._lock:
            header = self._valid(loop.time())
            if header is not None:
                return header
            self.fetches += 1
            access_token, expires_in = await self._fetch()
            margin = min(self.MARGIN, expires_in / 2)
            header = f"Bearer {access_token}"
            self._token = Token(header, loop.time() + expires_in - margin)
            return header

    def invalidate(self, header: str) -> None:
        """Forget the token the server refused, unless another caller already renewed it."""
        if self._token is not None and self._token.header == header:
            self._token = None
