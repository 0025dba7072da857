"""The one exception hierarchy of dedup.

Every error dedup raises on purpose derives from :class:`DedupError`, and each member also
subclasses the built-in exception a Python user would catch for that kind of problem, so both
``except DedupError`` and ``except ValueError`` work.

>>> from dedup.errors import InvalidTextError, DedupError
>>> issubclass(InvalidTextError, ValueError) and issubclass(InvalidTextError, DedupError)
True
"""

from __future__ import annotations

__all__ = [
    "DedupError",
    "InvalidParameterError",
    "InvalidTextError",
    "EmptyDocumentError",
    "InvalidTypeError",
    "DuplicateDocumentError",
    "DocumentNotFoundError",
    "IndexFormatError",
    "CorruptIndexError",
    "FormatVersionError",
    "ConfigMismatchError",
    "MissingDependencyError",
    "InputError",
]


class DedupError(Exception):
    """Root of every exception dedup raises on purpose."""


class InvalidParameterError(DedupError, ValueError):
    """A parameter is out of range or inconsistent with another (the message names the fix)."""


class InvalidTypeError(DedupError, TypeError):
    """An argument has the wrong type (for example ``bytes`` or ``None`` where text is expected)."""


class InvalidTextError(DedupError, ValueError):
    """Text that cannot be indexed: undecodable bytes, or a document over the size limit."""


class EmptyDocumentError(InvalidTextError):
    """A document is empty or holds no word characters (only whitespace or punctuation)."""


class DuplicateDocumentError(DedupError, ValueError):
    """A document id is already in the index (pass ``replace=True`` to update it)."""


class DocumentNotFoundError(DedupError, KeyError):
    """A document id is not in the index."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class IndexFormatError(DedupError, ValueError):
    """A saved index cannot be read."""


class CorruptIndexError(IndexFormatError):
    """A saved index is truncated, bit-flipped or missing files (checksum or size mismatch)."""


class FormatVersionError(IndexFormatError):
    """A saved index was written in a format version this release does not read."""


class ConfigMismatchError(DedupError, ValueError):
    """Two indexes (or an index and a request) were built with different configurations."""


class MissingDependencyError(DedupError, ImportError):
    """An optional dependency is needed for this feature; the message says what to install."""


class InputError(DedupError, ValueError):
    """A corpus record or file is malformed (bad JSON, missing field); carries file and line."""
