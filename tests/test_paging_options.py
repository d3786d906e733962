"""The paging options: every iterator's keyword parameters are its fields, with the same
defaults, and a bad option is a ``ValidationError`` naming it, before any request."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import attrs
import pytest

import bangwo8_async as bw
from bangwo8_async.paging.options import Bounds, PagingOptions

ITERATORS = [
    bw.iter_call_tasks,
    bw.iter_task_users,
    bw.iter_all_task_users,
    bw.iter_call_task_pages,
    bw.iter_task_user_pages,
    bw.iter_all_task_user_pages,
]


@pytest.mark.parametrize("iterator", ITERATORS)
def test_every_keyword_of_an_iterator_is_an_option_with_its_default(
    iterator: Callable[..., Any],
) -> None:
    fields = {field.name: field.default for field in attrs.fields(PagingOptions)}
    keywords = [
        p for p in inspect.signature(iterator).parameters.values() if p.kind is p.KEYWORD_ONLY
    ]
    assert keywords
    for parameter in keywords:
        assert parameter.name in fields, parameter.name
        assert parameter.default == fields[parameter.name], parameter.name


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("per_page", 101),
        ("concurrency", 0),
        ("start_page", 0),
        ("count_hint", -1),
        ("created_end", "2022-01-01"),
        ("known", "abc"),
        ("read_ahead", 2.5),
        ("on_page", 3),
        ("stats", {}),
        ("after", {}),
    ],
)
def test_a_bad_option_is_named(option: str, value: object) -> None:
    with pytest.raises(bw.ValidationError) as info:
        PagingOptions(**{option: value})  # type: ignore[arg-type]
    assert info.value.field == option


def test_known_identities_must_be_hashable() -> None:
    assert PagingOptions(known=[(1, "a"), 2]).known == ((1, "a"), 2)
    with pytest.raises(bw.ValidationError) as info:
        PagingOptions(known=[[1, "a"]])
    assert info.value.field == "known"


def test_the_bounds_on_a_session() -> None:
    assert PagingOptions().bounds(8) == Bounds(8, 16_000, 1_000)
    assert PagingOptions(concurrency=20).bounds(8).concurrency == 8
    assert PagingOptions(per_page=50, read_ahead=10).bounds(8) == Bounds(8, 50, 10)
    assert PagingOptions(per_page=100, read_ahead=5_000).bounds(2) == Bounds(2, 5_000, 1_000)
