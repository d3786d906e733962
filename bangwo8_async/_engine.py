"""Moved to :mod:`bangwo8_async.paging.engine`: names kept here for the modules not yet moved."""

from .paging.engine import Taken, stream

__all__ = ["Taken", "stream"]
