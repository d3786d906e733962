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

__all__ = [
    "Auth",
    "BasicAuth",
    "ClientCredentials",
    "IncompleteCredentials",
    "ResolvedCredentials",
    "resolve_credentials",
]


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


#: The environment variable that gives each half of a pair of credentials.
_VARIABLES = {
    "account": "BANGWO8_ACCOUNT",
    "password": "BANGWO8_PASSWORD",
    "secret_id": "BANGWO8_SECRET_ID",
    "secret": "BANGWO8_SECRET",
}
#: Each half in words, for messages.
_NOUNS = {
    "account": "an account",
    "password": "a password",
    "secret_id": "a secret id",
    "secret": "a secret",
}
_BASIC = ("account", "password")
_CLIENT = ("secret_id", "secret")


class IncompleteCredentials(ValidationError):
    """Half a pair of credentials: ``given`` without ``missing`` (field names: ``"account"``,
    ``"password"``, ``"secret_id"``, ``"secret"``).

    ``given_variable`` is the environment variable the given half was read from
    (``None`` for a value passed in), ``missing_variable`` the one that would
    supply the other half. Neither half's value is kept.
    """

    def __init__(self, given: str, given_variable: str | None, missing: str) -> None:
        self.given = given
        self.given_variable = given_variable
        self.missing = missing
        self.missing_variable = _VARIABLES[missing]
        how = f"set {self.missing_variable}"
        if given_variable is None:
            how = f"pass {missing} or {how}"
        super().__init__(
            f"{given_variable or given} given without {self.missing_noun}: {how}", field="auth"
        )

    @property
    def missing_noun(self) -> str:
        """The missing half in words: ``"a password"``, ``"a secret id"``..."""
        return _NOUNS[self.missing]


@attrs.frozen
class ResolvedCredentials:
    """The credentials to sign in with, and where each half came from (never its value)."""

    auth: Auth
    #: The environment variable each half was read from, ``None`` for a value passed in:
    #: ``("BANGWO8_ACCOUNT", "BANGWO8_PASSWORD")``, ``(None, "BANGWO8_PASSWORD")``...
    variables: tuple[str | None, str | None]

    @property
    def fields(self) -> tuple[str, str]:
        """The halves' names: ``("account", "password")`` or ``("secret_id", "secret")``."""
        return _BASIC if isinstance(self.auth, BasicAuth) else _CLIENT


def _pair(
    fields: tuple[str, str], given: tuple[str | None, str | None], env: Mapping[str, str]
) -> tuple[tuple[str, str], tuple[str | None, str | None]] | None:
    """A pair's values and the variable each came from, a value passed in winning over its
    variable (empty counts as unset); ``None`` if neither half is set anywhere.

    Half a pair raises :class:`IncompleteCredentials`.
    """
    values: list[str] = []
    variables: list[str | None] = []
    for field, value in zip(fields, given, strict=True):
        variable = _VARIABLES[field]
        values.append(value or env.get(variable) or "")
        variables.append(None if value else variable)
    if not any(values):
        return None
    for half, other in ((0, 1), (1, 0)):
        if not values[half]:
            raise IncompleteCredentials(fields[other], variables[other], fields[half])
    return (values[0], values[1]), (variables[0], variables[1])


def resolve_credentials(
    env: Mapping[str, str],
    *,
    account: str | None = None,
    password: str | None = None,
    secret_id: str | None = None,
    secret: str | None = None,
    token_url: str | None = None,
) -> ResolvedCredentials:
    """The credentials from the values passed in, else from ``BANGWO8_*`` in ``env``.

    One helper for :meth:`Session.from_env` and the command line, so that both
    read the environment the same way. A value passed in wins over its
    environment variable, half by half. An account and password win over a
    secret id and secret, unless only the secret id or secret were passed in.
    ``token_url`` (or ``BANGWO8_TOKEN_URL``) goes with client credentials.
    Half a pair raises :class:`IncompleteCredentials` naming the missing half
    and its variable; no credentials at all raises :class:`ValidationError`.
    """
    if not (secret_id or secret) or account or password:
        basic = _pair(_BASIC, (account, password), env)
        if basic is not None:
            return ResolvedCredentials(BasicAuth(*basic[0]), basic[1])
    client = _pair(_CLIENT, (secret_id, secret), env)
    if client is not None:
        url = token_url or env.get("BANGWO8_TOKEN_URL") or None
        return ResolvedCredentials(ClientCredentials(*client[0], url), client[1])
    raise ValidationError(
        "no credentials: set BANGWO8_ACCOUNT and BANGWO8_PASSWORD, "
        "or BANGWO8_SECRET_ID and BANGWO8_SECRET",
        field="auth",
    )


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
