"""The two ways to sign in: HTTP Basic, and OAuth2 client credentials.

Both are plain values whose ``repr`` never shows the password or secret. The
OAuth token itself lives in a private cache inside each :class:`Session`.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from .errors import ValidationError

__all__ = ["Auth", "BasicAuth", "ClientCredentials"]


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
