"""Exports: every task or every customer, page by page, into a file, stdout or SQLite.

:mod:`.loop` reads the pages and commits each with its checkpoint, :mod:`.rows`
gives each row its one format, :mod:`.checkpoint` writes where an export got to,
:mod:`.sinks` and :mod:`.sqlite` are the outputs, :mod:`.location` checks an
output path before any request. The command line (:mod:`bangwo8_async.cli`)
drives it; nothing here prints.
"""
