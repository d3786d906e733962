"""Flow control: which limit a server's refusals show, and how the session holds it.

Small parts, each testable alone: the :mod:`.ledger` of recent answers, the
pure tests in :mod:`.judge`, a concurrency limit held in :mod:`.window`, a rate
limit paced in :mod:`.pace`, the :mod:`.control` that tells them apart and puts
cuts on trial, the waiting rooms in :mod:`.waiting`, and :mod:`.runtime`, where
the session's attempts meet them.
"""

from .control import FlowControl
from .ledger import Outcome, Ticket
from .runtime import Flow

__all__ = ["Flow", "FlowControl", "Outcome", "Ticket"]
