"""The one error hierarchy of the package.

Every error says what was wrong, with the values involved, and what to do next.
`InputError` is also a `ValueError`, so callers that already catch bad
arguments the standard way keep working.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class: the CLI turns any of these into one line and exit code 1."""


class InputError(RagError, ValueError):
    """A question or option the caller passed is not usable."""


class IngestError(RagError):
    """The seeds cannot be read into passages (for example, an empty folder)."""


class ModelError(RagError):
    """The embedding model cannot be loaded or does not fit the index."""


class IndexStateError(RagError):
    """An index on disk is missing, damaged, or built with other settings."""


class StaleIndexError(IndexStateError):
    """The documents changed since the index was built."""
