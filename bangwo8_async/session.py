"""Moved to :mod:`bangwo8_async._http.session`; kept while other modules move over."""

from ._http.retry import attempt_limit
from ._http.session import DEFAULT_BASE_URL, Session, SessionStats, check_base_url

__all__ = ["DEFAULT_BASE_URL", "Session", "SessionStats", "attempt_limit", "check_base_url"]
