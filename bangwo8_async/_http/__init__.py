"""The HTTP layer: the session and its send chain, one concern per module.

- :mod:`.session`: the public :class:`Session`, its options and credentials;
- :mod:`.retry`: the retry loop, one attempt after another;
- :mod:`.flow`: flow control, the window, the pace, pauses and recovery;
- :mod:`.transport`: one attempt over aiohttp (or a simulated server);
- :mod:`.response`: an answer's status, headers and body to data or an error.
"""

from .response import Expect
from .retry import attempt_limit
from .session import DEFAULT_BASE_URL, Session, SessionStats
from .transport import HttpRequest, HttpResponse, Transport

__all__ = [
    "DEFAULT_BASE_URL",
    "Expect",
    "HttpRequest",
    "HttpResponse",
    "Session",
    "SessionStats",
    "Transport",
    "attempt_limit",
]
