"""The package's version, kept in one place for ``bangwo8 --version`` and packaging."""

__version__ = "0.1.0"
"""The installed bangwo8_async's version (PEP 440), as ``bangwo8 --version`` prints it."""
