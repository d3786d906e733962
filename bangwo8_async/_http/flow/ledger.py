"""What the server answered lately: each answer with the state it was sent in."""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Iterator

import attrs

__all__ = ["Answer", "Ledger", "Outcome", "Ticket"]


class Outcome(enum.Enum):
    """How the server took one attempt."""

    #: answered, and not turned away (a success, or an error that is the caller's)
    OK = "ok"
    #: turned away: a 429 or a 503, the statuses a limit answers with
    REFUSED = "refused"
    #: no useful answer: another 5xx, a reset, a timeout, a body cut short
    FAILED = "failed"


@attrs.frozen(slots=True)
class Ticket:
    """One attempt as it was sent: pass it back with its answer."""

    #: the flow control's state when sent: a cut starts a new epoch
    epoch: int
    #: when, on the active clock
    sent: float
    #: our attempts in flight when it was sent, itself included
    in_flight: int


@attrs.frozen(slots=True)
class Answer:
    """One attempt's answer, with the ticket it was sent under."""

    ticket: Ticket
    at: float
    outcome: Outcome

    @property
    def refused(self) -> bool:
        return self.outcome is Outcome.REFUSED


class Ledger:
    """The answers of the last ``horizon`` seconds on the active clock, at most ``most`` of
    them, counted by outcome.

    ``most`` bounds the heap at any request rate: a fast server would otherwise leave
    thousands of answers a second in it, while a share refused and a rate are judged
    as well on the last few hundred.
    """

    #: The shortest span a rate is measured over (seconds).
    MIN_SPAN = 0.01

    def __init__(self, horizon: float, most: int) -> None:
        self.horizon = horizon
        self.most = most
        self._answers: deque[Answer] = deque()
        self._counts = dict.fromkeys(Outcome, 0)
        self.first_sent: float | None = None
        #: when the newest answer dropped for ``most`` came: the answers held came after it
        self._since = -math.inf
        self.epoch = 0
        #: answers to attempts sent in the current epoch, and the refusals among them
        self.epoch_total = 0
        self.epoch_refused = 0

    def sent(self, at: float) -> None:
        """An attempt went out: the first one starts the measurement."""
        if self.first_sent is None:
            self.first_sent = at

    def add(self, answer: Answer) -> None:
        self._answers.append(answer)
        self._counts[answer.outcome] += 1
        if answer.ticket.epoch == self.epoch:
            self.epoch_total += 1
            self.epoch_refused += answer.refused
        if len(self._answers) > self.most:
            self._since = self._drop_oldest().at

    def new_epoch(self, epoch: int) -> None:
        """Count the answers of attempts sent from now on apart: a cut starts afresh."""
        self.epoch = epoch
        self.epoch_total = self.epoch_refused = 0

    def this_epoch(self) -> Iterator[Answer]:
        return (a for a in self._answers if a.ticket.epoch == self.epoch)

    def forget(self, now: float) -> None:
        """Drop the answers older than the horizon."""
        oldest = now - self.horizon
        answers = self._answers
        while answers and answers[0].at <= oldest:
            self._drop_oldest()

    def _drop_oldest(self) -> Answer:
        answer = self._answers.popleft()
        self._counts[answer.outcome] -= 1
        if answer.ticket.epoch == self.epoch:
            self.epoch_total -= 1
            self.epoch_refused -= answer.refused
        return answer

    @property
    def kept_since(self) -> float:
        """Every answer that came after this time is still held (``-inf``: every answer
        of the horizon); a rate over a span reaching further back would be too low."""
        return self._since

    def count(self, outcome: Outcome) -> int:
        return self._counts[outcome]

    @property
    def total(self) -> int:
        return len(self._answers)

    def share_refused(self) -> float:
        return self._counts[Outcome.REFUSED] / max(1, len(self._answers))

    def admitted_rate(self, now: float) -> float:
        """Answers per second that a limit let through (all but refusals), over the span the
        answers held cover: the horizon, or less when ``most`` dropped older ones.

        Over the first round trips this overstates the limit (a server may let a burst
        through from a full bucket): a pace cut from it is cut again on trial.
        """
        if self.first_sent is None:
            return 0.0
        span = max(self.MIN_SPAN, min(self.horizon, now - self.first_sent, now - self._since))
        return (len(self._answers) - self._counts[Outcome.REFUSED]) / span
