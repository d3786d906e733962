"""How fast the converter turns pages of JSON into models, against the obvious alternatives.

    python -m benchmarks.converter            # about 20 seconds
    python -m benchmarks.converter --quick    # smaller sizes, for a smoke run

Prints, side by side in one run, CPU milliseconds per 10k items (best of N, already
parsed JSON, so only structuring is timed) and ratios, for tasks and for
customers:

- ours: the fast converter's hand-written page hooks (what every list call runs);
- plain loop: a per-item Python loop calling the same field hooks and the class;
- cattrs: cattrs' own generated per-item hooks, with the same field hooks.

And ``bw.to_dict`` per row against ``attrs.asdict`` (which leaves dates and
enums for the caller to convert).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import attrs

import bangwo8_async as bw
from bangwo8_async.converter import (
    _FAST,
    _int,
    _optional_int,
    _parse_moment,
    _parse_progress,
    _parse_status,
    _str,
    make_converter,
)
from bangwo8_async.testing._data import customer_item, seeded_task

PER_PAGE = 100
_GENERATED = make_converter(page_hooks=False)


def task_pages(items: int) -> list[list[dict[str, Any]]]:
    rows = [seeded_task(0, i, items).list_item() for i in range(items)]
    return [rows[i : i + PER_PAGE] for i in range(0, items, PER_PAGE)]


def user_pages(items: int) -> list[list[dict[str, Any]]]:
    per_task = 20
    rows = [
        customer_item(0, seeded_task(0, t, items), c)
        for t in range(items // per_task)
        for c in range(per_task)
    ]
    return [rows[i : i + PER_PAGE] for i in range(0, items, PER_PAGE)]


def plain_tasks(page: list[dict[str, Any]]) -> list[bw.CallTask]:
    """The straightforward loop: one field hook per field, the class called per item."""
    out = []
    for d in page:
        start = d["task_start"] if "task_start" in d else d["startime"]
        out.append(
            bw.CallTask(
                _int(d["callTaskId"]),
                _str(d["task_name"]),
                _parse_moment(start),
                _parse_moment(d["task_end"]),
                _parse_status(d["complete"]),
            )
        )
    return out


def plain_users(page: list[dict[str, Any]]) -> list[bw.TaskUser]:
    out = []
    for d in page:
        u = d["userList"]
        out.append(
            bw.TaskUser(
                _int(d["callTaskid"]),
                _optional_int(u["cId"]),
                _optional_int(u["uId"]),
                _str(u["userName"]),
                _str(u["companyName"]),
                _str(u["phone"]),
                _parse_progress(u["progress"]),
            )
        )
    return out


Pages = list[list[dict[str, Any]]]


def race(
    candidates: dict[str, Callable[[Any], Any]], data: list[Any], rounds: int
) -> dict[str, tuple[float, list[Any]]]:
    """Best CPU seconds of each candidate over ``data``, and its output.

    The candidates take turns round by round, and CPU time (not wall time) is
    measured, so that a busy machine slows them alike instead of whichever ran
    at the wrong moment.
    """
    results: dict[str, tuple[float, list[Any]]] = {k: (float("inf"), []) for k in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            t = time.process_time()
            out = [fn(chunk) for chunk in data]
            spent = time.process_time() - t
            results[name] = (min(results[name][0], spent), out)
    return results


def ms_per_10k(seconds: float, items: int) -> float:
    return seconds * 1000 * 10_000 / items


def structuring(
    name: str,
    cl: type[Any],
    pages: Pages,
    plain: Callable[[list[dict[str, Any]]], Any],
    rounds: int,
) -> None:
    n = sum(map(len, pages))
    got = race(
        {
            "ours": lambda p: _FAST.structure(p, list[cl]),
            "plain": plain,
            "cattrs": lambda p: _GENERATED.structure(p, list[cl]),
        },
        pages,
        rounds,
    )
    assert got["ours"][1] == got["plain"][1] == got["cattrs"][1], "all must build the same"
    ours, loop, gen = (got[k][0] for k in ("ours", "plain", "cattrs"))
    print(
        f"{name:<10} {ms_per_10k(ours, n):>8.1f} {ms_per_10k(loop, n):>11.1f} "
        f"{ms_per_10k(gen, n):>8.1f} {loop / ours:>13.2f}x {gen / ours:>12.2f}x"
    )


def to_dict_part(pages: Pages, cl: type[Any], rounds: int) -> None:
    models = [m for page in pages for m in _FAST.structure(page, list[cl])]
    got = race(
        {
            "ours": lambda ms: [bw.to_dict(m) for m in ms],
            "asdict": lambda ms: [attrs.asdict(m) for m in ms],
        },
        [models],
        rounds,
    )
    ours, plain = got["ours"][0], got["asdict"][0]
    print(
        f"{cl.__name__:<10} {ms_per_10k(ours, len(models)):>8.1f} "
        f"{ms_per_10k(plain, len(models)):>12.1f} {plain / ours:>9.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer rounds")
    args = parser.parse_args()
    items, rounds = (2_000, 3) if args.quick else (20_000, 15)
    tasks, users = task_pages(items), user_pages(items)
    print(
        f"structuring {items} items in pages of {PER_PAGE}: CPU ms per 10k items (best of {rounds})"
    )
    print(
        f"{'':<10} {'ours':>8} {'plain loop':>11} {'cattrs':>8} {'plain / ours':>14} "
        f"{'cattrs / ours':>13}"
    )
    structuring("tasks", bw.CallTask, tasks, plain_tasks, rounds)
    structuring("customers", bw.TaskUser, users, plain_users, rounds)
    print(f"\nto_dict per row: CPU ms per 10k rows (best of {rounds})")
    print(f"{'':<10} {'to_dict':>8} {'attrs.asdict':>12} {'ratio':>10}")
    to_dict_part(tasks, bw.CallTask, rounds)
    to_dict_part(users, bw.TaskUser, rounds)


if __name__ == "__main__":
    main()
