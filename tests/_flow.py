"""What the flow-control tests share: a clock the test moves, and answers made up."""

from __future__ import annotations

from bangwo8_async._http.flow.ledger import Answer, Outcome, Ticket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def answer(in_flight: int, refused: bool, at: float = 0.0) -> Answer:
    """The answer to an attempt of epoch 0 sent at ``at`` with ``in_flight`` in flight."""
    outcome = Outcome.REFUSED if refused else Outcome.OK
    return Answer(Ticket(0, at, in_flight), at, outcome)
