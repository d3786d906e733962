"""The exceptions this SDK raises.

Every exception is a :class:`Bangwo8Error`, so ``except bw.Bangwo8Error``
catches anything the SDK raises on purpose. Misuse (bad input, refused before
anything is sent) is kept apart from what happened on the wire::

    Bangwo8Error
    ├── ValidationError (also a ValueError)   bad input, refused before sending
    ├── TransportError                        connection failed, reset, or timed out
    ├── DecodeError (.retryable)              a body that is not what the endpoint returns
    │   └── InconsistentPagesError            pages that do not add up (.asked .served .count)
    └── APIError (.status, .code, .message, .request_id)
        ├── AuthenticationError               401, bad OAuth client
        ├── PermissionDeniedError             403
        ├── NotFoundError                     404, or "does not exist" in any status
        ├── RateLimitError (.retry_after)     429
        └── ServerError                       5xx

Errors raised for a request carry where they came from: ``method``, ``path``
(with its query), ``attempts`` (how many times the session tried) and, when
raised by an iterator, ``page``. None of them ever holds a password, secret,
token or ``Authorization`` value: the session never hands those to an error.
"""

from __future__ import annotations

__all__ = [
    "APIError",
    "AuthenticationError",
    "Bangwo8Error",
    "DecodeError",
    "InconsistentPagesError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "ValidationError",
]


class Bangwo8Error(Exception):
    """Base class of every exception raised by ``bangwo8_async``."""

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        attempts: int | None = None,
        page: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.attempts = attempts
        self.page = page

    def __str__(self) -> str:
        parts = [self._headline()]
        if self.method and self.path:
            parts.append(f"[{self.method} {self.path}]")
        if self.page is not None:
            parts.append(f"(page {self.page})")
        if self.attempts is not None:
            noun = "attempt" if self.attempts == 1 else "attempts"
            parts.append(f"after {self.attempts} {noun}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def _headline(self) -> str:
        """The first part of ``str(error)``: the message, and whatever a subclass adds to it."""
        return self.message

    def __reduce__(self) -> tuple[object, ...]:
        # Keep the keyword-only context when an error is pickled (e.g. across processes).
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[Bangwo8Error], state: dict[str, object]) -> Bangwo8Error:
    err = cls.__new__(cls)
    Exception.__init__(err, state.get("message", ""))
    err.__dict__.update(state)
    return err


class ValidationError(Bangwo8Error, ValueError):
    """Input the API would refuse, caught before any request is sent.

    ``field`` names the argument or model field at fault.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class TransportError(Bangwo8Error):
    """The request got no HTTP answer: the connection failed, was reset, or timed out."""


class DecodeError(Bangwo8Error):
    """A body that is not what the endpoint returns (not JSON, truncated, wrong shape).

    ``field`` is the JSON path of the offending value when it is known, and
    ``endpoint`` names the endpoint that returned it. ``retryable`` says
    whether asking again may help: a truncated body or a proxy's HTML page may
    not come twice, but a body in an encoding it cannot be read in will, so
    the session retries only when it is true.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        field: str | None = None,
        retryable: bool = True,
        **context: object,
    ) -> None:
        super().__init__(message, **context)  # type: ignore[arg-type]
        self.endpoint = endpoint
        self.field = field
        self.retryable = retryable


class InconsistentPagesError(DecodeError):
    """The server's pages cannot be reconciled with each other or with its ``count``.

    Raised by the iterators rather than yield a list that is silently short:
    ``asked`` is the ``per_page`` requested, ``served`` the rows the server
    served on that page, ``count`` the total it reported (``None`` if none).
    Asking again would get the same pages, so it is never retried.
    """

    def __init__(
        self,
        message: str,
        *,
        asked: int,
        served: int,
        count: int | None,
        page: int | None = None,
        **context: object,
    ) -> None:
        super().__init__(message, page=page, retryable=False, **context)  # type: ignore[arg-type]
        self.asked = asked
        self.served = served
        self.count = count

    def _headline(self) -> str:
        count = "no count" if self.count is None else f"count {self.count}"
        return f"{self.message} (asked {self.asked} per page, served {self.served}, {count})"


class APIError(Bangwo8Error):
    """The server answered with an error.

    ``status`` is the effective status (a body's own ``Status`` wins over an
    HTTP 2xx), ``code`` the vendor's error code if it sent one, ``message`` its
    text, ``request_id`` the ``Requestid`` header that was sent, if any, and
    ``retry_after`` the seconds a ``Retry-After`` header asked for, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        method: str | None = None,
        path: str | None = None,
        attempts: int | None = None,
        page: int | None = None,
    ) -> None:
        super().__init__(message, method=method, path=path, attempts=attempts, page=page)
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        code = f" {self.code}" if self.code else ""
        base = super().__str__()
        return f"HTTP {self.status}{code}: {base}"


class AuthenticationError(APIError):
    """The credentials were refused (HTTP 401, or an OAuth ``invalid_client``)."""


class PermissionDeniedError(APIError):
    """The account may not do this (HTTP 403). Call-task endpoints need an admin account."""


class NotFoundError(APIError):
    """No such resource: HTTP 404, or a message saying it "does not exist" at any status."""


class RateLimitError(APIError):
    """Too many requests (HTTP 429). ``retry_after`` is the server's wait in seconds, if given."""


class ServerError(APIError):
    """The server failed (HTTP 5xx), including a proxy's maintenance page."""
