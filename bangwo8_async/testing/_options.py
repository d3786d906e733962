"""The fake's options: its quirks, limits, misbehaviour and accounts, each an attrs object.

Built once from ``FakeBangwo8(**options)`` and shared by the fake and its
endpoints, so neither reads the other's attributes. Each is validated when
set, at construction and when a test changes one while the fake serves: a bad
value is a ``TypeError`` or ``ValueError`` that names the option.
"""

from __future__ import annotations

import codecs
import math
import secrets
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from ._faults import Fault
from ._log import LoggedRequest
from ._payloads import PageOptions
from ._state import FakeState

__all__ = ["Accounts", "FakeOptions", "Limits", "Misbehaviour", "OnList", "Quirks", "check_script"]

OnList = Callable[[LoggedRequest, FakeState], None]
_Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _fail(attribute: attrs.Attribute[Any], wants: str, value: object) -> str:
    return f"FakeBangwo8 option {attribute.name} must be {wants}; got {value!r}"


def _count(minimum: int, *, optional: bool = False) -> _Validator:
    """An ``int`` (never a ``bool``) of at least ``minimum``, or ``None`` if ``optional``."""
    wants = f"an int of {minimum} or more" + (", or None" if optional else "")

    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(_fail(attribute, wants, value))
        if value < minimum:
            raise ValueError(_fail(attribute, wants, value))

    return check


def _number(
    *, positive: bool = False, most: float = math.inf, optional: bool = False
) -> _Validator:
    """A real number (not NaN, never a ``bool``), 0 or more (more than 0 if ``positive``)."""
    wants = "a number " + ("above 0" if positive else "of 0 or more")
    wants += f" and at most {most:g}" if most < math.inf else ""
    wants += ", or None" if optional else ""

    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise TypeError(_fail(attribute, wants, value))
        low_ok = value > 0 if positive else value >= 0
        if not (low_ok and value <= most):  # NaN fails both
            raise ValueError(_fail(attribute, wants, value))

    return check


def _typed(kind: type, wants: str, *, optional: bool = False) -> _Validator:
    """An instance of ``kind``, or ``None`` if ``optional``."""

    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not (isinstance(value, kind) or (optional and value is None)):
            raise TypeError(_fail(attribute, wants, value))

    return check


_flag = _typed(bool, "True or False")


def _text(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A ``str``; the error names the type only, since the value may be a password."""
    if not isinstance(value, str):
        kind = type(value).__name__
        raise TypeError(f"FakeBangwo8 attribute {attribute.name} must be a str, got a {kind}")


def _charset(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """``None`` or the name of a codec Python has, since every JSON body is encoded in it."""
    if value is None:
        return
    if not isinstance(value, str):
        raise TypeError(_fail(attribute, "a codec name or None", value))
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(_fail(attribute, "a codec name Python knows, or None", value)) from None


def _callable(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not callable(value):
        raise TypeError(_fail(attribute, "a function (logged_request, state) or None", value))


def _host(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(_fail(attribute, "a host name or address", value))
    if not value:
        raise ValueError(_fail(attribute, "a host name or address", value))


def _faults(value: Iterable[Fault]) -> tuple[Fault, ...]:
    """``fault_kinds`` as a tuple; a string is refused here, before it is split into letters."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(
            f"FakeBangwo8 option fault_kinds must be a sequence of Fault; got {value!r}"
        )
    return tuple(value)


def _kinds(_: Any, attribute: attrs.Attribute[Any], value: tuple[Any, ...]) -> None:
    wants = "a non-empty sequence of Fault"
    if not all(isinstance(kind, Fault) for kind in value):
        raise TypeError(_fail(attribute, wants, value))
    if not value:
        raise ValueError(_fail(attribute, wants, value))


def check_script(faults: Iterable[Fault | None]) -> list[Fault | None]:
    """The ``faults`` option as a list, each a :class:`Fault` or ``None``: a clear error first."""
    if isinstance(faults, (str, bytes)) or not isinstance(faults, Iterable):
        raise TypeError(f"FakeBangwo8 option faults must be a sequence of Fault; got {faults!r}")
    script = list(faults)
    bad = [f for f in script if f is not None and not isinstance(f, Fault)]
    if bad:
        raise TypeError(f"FakeBangwo8 option faults must be Fault or None, each; got {bad[0]!r}")
    return script


@attrs.define(kw_only=True)
class Quirks:
    """What real PHP servers do to a list and its bodies: the options docs/testing.md lists."""

    page_cap: int | None = attrs.field(validator=_count(1, optional=True))
    send_count: bool = attrs.field(validator=_flag)
    count_excess: int = attrs.field(validator=_count(0))
    clamp_pages: bool = attrs.field(validator=_flag)
    null_lists: bool = attrs.field(validator=_flag)
    omit_empty_list: bool = attrs.field(validator=_flag)
    bom: bool = attrs.field(validator=_flag)
    charset: str | None = attrs.field(validator=_charset)
    jitter: float = attrs.field(validator=_number())
    on_list: OnList | None = attrs.field(validator=_callable)
    insert_every: int = attrs.field(validator=_count(0))
    delete_every: int = attrs.field(validator=_count(0))

    def page_options(self) -> PageOptions:
        """The options that shape a list page now, frozen: a key of the page cache."""
        return PageOptions(
            self.page_cap,
            self.send_count,
            self.count_excess,
            self.clamp_pages,
            self.null_lists,
            self.omit_empty_list,
        )


@attrs.define(kw_only=True)
class Limits:
    """Per-account server limits, answered with 429 and ``limit_retry_after``."""

    rate_limit: float | None = attrs.field(validator=_number(positive=True, optional=True))
    rate_burst: float | None = attrs.field(validator=_number(positive=True, optional=True))
    max_in_flight: int | None = attrs.field(validator=_count(1, optional=True))
    limit_retry_after: float | None = attrs.field(validator=_number(optional=True))


@attrs.define(kw_only=True)
class Misbehaviour:
    """How slow and how faulty each request is: latency, random faults and their details."""

    latency: float = attrs.field(validator=_number())
    fault_rate: float = attrs.field(validator=_number(most=1.0))
    fault_kinds: tuple[Fault, ...] = attrs.field(converter=_faults, validator=_kinds)
    retry_after: float = attrs.field(validator=_number())
    slow_seconds: float = attrs.field(validator=_number())


def _secret(size: int) -> Callable[[], str]:
    return lambda: secrets.token_urlsafe(size)


@attrs.define(kw_only=True)
class Accounts:
    """Who may sign in: an administrator, an agent (who gets 403s) and an OAuth client.

    The passwords and secret are new for every fake, so no test can hard-code one.
    """

    account: str = attrs.field(default="admin@example.com", validator=_text)
    password: str = attrs.field(factory=_secret(12), validator=_text, repr=False)
    agent_account: str = attrs.field(default="agent@example.com", validator=_text)
    agent_password: str = attrs.field(factory=_secret(12), validator=_text, repr=False)
    secret_id: str = attrs.field(factory=lambda: "fake-" + secrets.token_hex(4), validator=_text)
    secret: str = attrs.field(factory=_secret(16), validator=_text, repr=False)


@attrs.define(kw_only=True)
class FakeOptions:
    """Everything a fake is configured with: where it listens, its data's size and its parts."""

    tasks: int = attrs.field(validator=_count(0))
    users_per_task: int = attrs.field(validator=_count(0))
    seed: int = attrs.field(validator=_typed(int, "an int"))
    token_ttl: float = attrs.field(validator=_number())
    host: str = attrs.field(validator=_host)
    port: int = attrs.field(validator=_count(0))  # the bound port, once it listens
    link_host: str | None = attrs.field(validator=_typed(str, "a host:port or None", optional=True))
    quirks: Quirks
    limits: Limits
    misbehaviour: Misbehaviour
    accounts: Accounts = attrs.field(factory=Accounts)

    @port.validator
    def _port_range(self, attribute: attrs.Attribute[int], value: int) -> None:
        if value > 65535:
            raise ValueError(_fail(attribute, "a port, 0 to 65535", value))

    def address(self) -> str:
        """``host:port`` the fake's links point at: ``link_host`` when set, else its own."""
        return self.link_host or f"{self.host}:{self.port}"
