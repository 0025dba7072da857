"""dedup: find, deduplicate and align text reuse in news corpora."""

from __future__ import annotations

from .errors import (
    ConfigMismatchError,
    CorruptIndexError,
    DedupError,
    DocumentNotFoundError,
    DuplicateDocumentError,
    EmptyDocumentError,
    FormatVersionError,
    InvalidParameterError,
    InvalidTextError,
    InvalidTypeError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigMismatchError",
    "CorruptIndexError",
    "DedupError",
    "DocumentNotFoundError",
    "DuplicateDocumentError",
    "EmptyDocumentError",
    "FormatVersionError",
    "InvalidParameterError",
    "InvalidTextError",
    "InvalidTypeError",
    "__version__",
]
