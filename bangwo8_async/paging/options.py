"""The options of the paging iterators: one object, checked once when it is built.

Every public iterator spells its options as keyword parameters, for its
callers and their type checkers, and builds one :class:`PagingOptions` from
them (:meth:`PagingOptions.of`) before anything is sent; everything below the
public signatures takes that object.

A new option is a field here (its default, its check) and a parameter of the
iterators that offer it; what uses it reads ``options.<name>``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from datetime import date
from typing import Any

import attrs

from .._validate import check_id, check_page, date_range
from ..errors import ValidationError
from .cursor import UsersCursor
from .progress import OnPage
from .stats import PageStats

#: Items that may be fetched ahead of the consumer, per request in flight, by default: enough
#: that a page waiting out a retry's backoff does not stop the pages behind it.
READ_AHEAD_PER_SLOT = 2_000
#: Keys of recent pages kept to recognise a repeat: a shift between two reads repeats rows
#: across a page boundary, so ten pages (at least ``_WINDOW_MIN`` keys) of them reach far
#: enough; an item shifted further may be yielded twice, never lost.
WINDOW_PAGES = 10
_WINDOW_MIN = 1_000

#: An iterator's arguments that are not options: what it reads, not how.
_NOT_OPTIONS = frozenset({"session", "call_task_id"})


def _per_page(_: object, __: object, value: Any) -> None:
    check_page(1, value)


def _positive_or_none(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        check_id(value, attribute.name)


def _count_hint(_: object, __: object, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValidationError(
            f"count_hint must be None or an int >= 0, got {value!r}", field="count_hint"
        )


def _created(options: PagingOptions, _: object, __: Any) -> None:
    date_range(options.created_start, options.created_end)


def _on_page(_: object, __: object, value: Any) -> None:
    if value is not None and not callable(value):
        raise ValidationError("on_page must be callable", field="on_page")


def _instance_or_none(kind: type) -> Any:
    def check(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and not isinstance(value, kind):
            raise ValidationError(
                f"{attribute.name} must be a bangwo8_async.{kind.__name__}", field=attribute.name
            )

    return check


def _identities(value: Any) -> tuple[Hashable, ...]:
    """``known``: row identities, hashable (tuples, not the lists JSON gives back)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValidationError("known must be an iterable of row identities", field="known")
    keys = tuple(value)
    try:
        for key in keys:
            hash(key)
    except TypeError:
        raise ValidationError(
            "known must hold hashable row identities (tuples, not lists)", field="known"
        ) from None
    return keys


@attrs.frozen
class Bounds:
    """What the options come to on one session: the iterator's limits."""

    concurrency: int  # requests in flight
    read_ahead: int  # items held, or expected, ahead of the consumer
    window: int  # keys of recent pages remembered to recognise a repeat


@attrs.frozen(kw_only=True)
class PagingOptions:
    """How an iterator reads, as its caller asked: each option checked when this is built.

    A bad value raises ``ValidationError`` naming the option, before any
    request is sent. The defaults are the public iterators' own.
    """

    per_page: int = attrs.field(default=100, validator=_per_page)
    concurrency: int | None = attrs.field(default=None, validator=_positive_or_none)
    start_page: int = attrs.field(default=1, validator=_positive_or_none)
    count_hint: int | None = attrs.field(default=None, validator=_count_hint)
    created_start: date | None = attrs.field(default=None, validator=_created)
    created_end: date | None = None
    known: tuple[Hashable, ...] = attrs.field(default=(), converter=_identities)
    read_ahead: int | None = attrs.field(default=None, validator=_positive_or_none)
    on_page: OnPage | None = attrs.field(default=None, validator=_on_page)
    stats: PageStats | None = attrs.field(default=None, validator=_instance_or_none(PageStats))
    after: UsersCursor | None = attrs.field(default=None, validator=_instance_or_none(UsersCursor))

    @classmethod
    def of(cls, arguments: Mapping[str, Any]) -> PagingOptions:
        """The options among a public iterator's arguments (its ``locals()`` on entry).

        Every argument but the session and a task id is an option: an
        iterator parameter that is not a field here fails every call.
        """
        return cls(**{name: v for name, v in arguments.items() if name not in _NOT_OPTIONS})

    def bounds(self, max_concurrency: int) -> Bounds:
        """The limits on a session that allows ``max_concurrency`` requests in flight."""
        limit = max_concurrency if self.concurrency is None else self.concurrency
        limit = min(limit, max_concurrency)
        read_ahead = READ_AHEAD_PER_SLOT * limit if self.read_ahead is None else self.read_ahead
        window = min(read_ahead, max(WINDOW_PAGES * self.per_page, _WINDOW_MIN))
        return Bounds(limit, max(read_ahead, self.per_page), window)
