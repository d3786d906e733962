"""Moved to :mod:`bangwo8_async.paging.engine`: what the modules not yet moved import from here."""

from .paging.engine import Taken
from .paging.engine import ordered_pages as stream

__all__ = ["Taken", "stream"]
