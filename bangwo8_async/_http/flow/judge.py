"""Pure tests on answers: are the refusals more than noise, and do they follow the window?

A limit shows in the pattern of its refusals, not in how many there are: a
concurrency limit refuses what was sent with more than N in flight, a rate
limit refuses at any concurrency once the rate is too high, and noise refuses
the same share whatever is sent. These functions read that pattern.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from .ledger import Answer

__all__ = ["MIN_REFUSED", "SLACK", "concurrency_limit", "excess", "lowered"]

#: The fewest refusals that can show a limit.
MIN_REFUSED = 3
#: Shares within this of the background are the background.
SLACK = 0.05
#: Standard deviations of the background's own spread that a share must clear.
SPREAD = 3.0
#: The share refused above a concurrency limit: most of what is sent there.
ABOVE = 0.5


def excess(refused: int, total: int, background: float, slack: float = SLACK) -> bool:
    """Whether ``refused`` of ``total`` answers is more than a ``background`` share explains.

    The margin is the larger of ``slack`` and ``SPREAD`` standard deviations of
    a binomial share at the background, so that noise at any level does not
    pass for a limit by chance.
    """
    if refused < MIN_REFUSED:
        return False
    b = min(max(background, 0.0), 1.0)
    margin = max(slack * total, SPREAD * math.sqrt(total * b * (1.0 - b)))
    return refused > total * b + margin


def lowered(before: tuple[int, int], after: tuple[int, int], spread: float = SPREAD) -> bool:
    """Whether the share refused fell from ``before`` to ``after`` ((refused, total) each) by
    more than chance explains: a two-proportion test at ``spread`` standard errors, and
    by ``SLACK`` at least."""
    (b_refused, b_total), (a_refused, a_total) = before, after
    if not (b_total and a_total):
        return False
    p_before, p_after = b_refused / b_total, a_refused / a_total
    pooled = (b_refused + a_refused) / (b_total + a_total)
    error = math.sqrt(pooled * (1.0 - pooled) * (1.0 / b_total + 1.0 / a_total))
    return p_before - p_after > max(SLACK, spread * error)


def concurrency_limit(answers: Iterable[Answer], background: float) -> int | None:
    """The N whose refusals these are, if they come only with more than N in flight.

    The largest N such that what was sent with at most N in flight was refused
    no more than the ``background`` explains, most of what was sent with exactly
    N went through, and most of what was sent with more was refused (at least
    ``MIN_REFUSED`` of it). ``None``: the refusals do not follow the window, as a
    rate limit's and noise's do not.

    Our count of requests in flight includes refusals on their way back, which
    the server no longer counts: above the limit some go through, below it none
    are refused but by noise.
    """
    sent: dict[int, list[int]] = {}
    for answer in answers:
        counts = sent.setdefault(answer.ticket.in_flight, [0, 0])
        counts[0] += 1
        counts[1] += answer.refused
    above_total = sum(total for total, _ in sent.values())
    above_refused = sum(refused for _, refused in sent.values())
    below_total = below_refused = 0
    found = None
    for k in sorted(sent):
        total, refused = sent[k]
        below_total, below_refused = below_total + total, below_refused + refused
        above_total, above_refused = above_total - total, above_refused - refused
        if above_refused < MIN_REFUSED:
            break
        if excess(below_refused, below_total, background):
            break  # refused below: no larger N is clean either
        if refused < ABOVE * total and above_refused >= ABOVE * above_total:
            found = k
    return found
