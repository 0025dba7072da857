"""dedup: find, deduplicate and align text reuse in news corpora."""

from __future__ import annotations

from .align import EditOp, Passage, PreparedText, align, prepare
from .config import IndexConfig
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
from .index import AddReport, Index
from .results import Boilerplate, Cluster, DocPair, Match, Occurrence, PairTable, ParagraphMatch

__version__ = "0.1.0"

__all__ = [
    "EditOp",
    "Passage",
    "PreparedText",
    "align",
    "prepare",
    "AddReport",
    "Boilerplate",
    "Cluster",
    "DocPair",
    "Index",
    "IndexConfig",
    "Match",
    "Occurrence",
    "PairTable",
    "ParagraphMatch",
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
