"""What a new user reads first: the progress callback's text and the constants' docstrings."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import bangwo8_async as bw

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "name",
    [
        "OnPage",
        "__version__",
        pytest.param(
            "DEFAULT_BASE_URL",
            # Its docstring belongs beside it in session.py, which the lead edits: drop this
            # mark with that line (strict: the test says so once the docstring is there).
            marks=pytest.mark.xfail(strict=True, reason="the docstring goes in session.py"),
        ),
    ],
)
def test_the_public_constants_have_docstrings_the_reference_shows(name: str) -> None:
    """mkdocstrings reads an attribute's docstring (the string after it) through griffe."""
    griffe = pytest.importorskip("griffe")
    package = griffe.load("bangwo8_async", search_paths=[str(ROOT)])
    docstring = package[name].docstring
    assert docstring is not None and len(docstring.value) > 20, name


def test_on_page_is_documented_as_taking_a_page_number() -> None:
    griffe = pytest.importorskip("griffe")
    package = griffe.load("bangwo8_async", search_paths=[str(ROOT)])
    text = package["OnPage"].docstring.value
    assert text.startswith("The progress callback: ``on_page(page_number, items_so_far, total)``")
    assert "an ``int``, not the page" in text


@pytest.mark.parametrize(
    "function", [bw.iter_call_tasks, bw.iter_all_task_users, bw.iter_task_users]
)
def test_no_docstring_calls_the_first_argument_a_page(function: object) -> None:
    doc = " ".join((inspect.getdoc(function) or "").split())
    assert "on_page(page," not in doc
    assert "on_page(page_number," in doc, function


def test_the_callback_gets_an_int_as_documented() -> None:
    """The documented signature is the real one: the first argument has no ``.page``."""
    from bangwo8_async.paging.progress import page_reporter

    calls: list[tuple[object, ...]] = []
    report = page_reporter(lambda *a: calls.append(a))
    report(bw.Page([1, 2], 5, 3, 2, None, None))
    assert calls == [(3, 2, 5)] and type(calls[0][0]) is int
