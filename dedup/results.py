"""Small immutable result types. Every span is ``[start, end)`` in characters of the original text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["ParagraphMatch", "Match", "DocPair", "Cluster", "Boilerplate", "Occurrence"]


class ParagraphMatch(NamedTuple):
    """One reused paragraph pair between two documents.

    An immutable named tuple (fields by name or position): ``pairs()`` builds millions of them
    at a million articles, and a tuple costs less than half the time of a frozen dataclass to
    build.

    Attributes:
        a_index, b_index: paragraph index in document a (the query, or ``DocPair.a``) and b.
        a_start, a_end, b_start, b_end: character span of the matched text in each document:
            the whole paragraph when paragraphs match as a whole, the matching sentence(s) when a
            sentence matched inside a longer paragraph.
        similarity: Jaccard similarity (0..1) of the shingle sets of the best matching units
            (estimated from MinHash signatures; exact when the estimate was near the threshold).
        exact: True when ``similarity`` is the exact Jaccard rather than the estimate.
        boilerplate: True when the matched text is boilerplate (only present when asked for).
    """

    a_index: int
    b_index: int
    a_start: int
    a_end: int
    b_start: int
    b_end: int
    similarity: float
    exact: bool = False
    boilerplate: bool = False


@dataclass(frozen=True, slots=True)
class Match:
    """An indexed document that shares reused paragraphs with a query text.

    Attributes:
        doc_id: the indexed document.
        score: share (0..1) of the shorter of the two texts (in words) covered by reused
            paragraphs; 1.0 for a full copy.
        paragraphs: paragraph pairs, best first; ``a`` is the query, ``b`` the indexed document.
        metadata: the metadata stored with the document.
    """

    doc_id: str
    score: float
    paragraphs: tuple[ParagraphMatch, ...]
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)


class DocPair(NamedTuple):
    """Two indexed documents that share reuse (``a`` was added before ``b``).

    An immutable named tuple, like :class:`ParagraphMatch`: ``pairs()`` yields millions of them
    at a million articles; tuples of plain values are cheaper to build than a frozen dataclass
    and drop out of the garbage collector's scans.

    Attributes:
        a, b: document ids.
        score: share (0..1) of the shorter document (in words) covered by reused paragraphs.
        a_coverage, b_coverage: share of each document's words covered.
        paragraphs: reused paragraph pairs in order of ``a_index``.
    """

    a: str
    b: str
    score: float
    a_coverage: float
    b_coverage: float
    paragraphs: tuple[ParagraphMatch, ...]


@dataclass(frozen=True, slots=True)
class Cluster:
    """Documents linked by reuse, directly or through other members.

    Attributes:
        doc_ids: members, in the order they were added to the index.
        pairs: number of linked document pairs inside the cluster.
        score: highest pair score inside the cluster.
    """

    doc_ids: tuple[str, ...]
    pairs: int
    score: float

    def __len__(self) -> int:
        return len(self.doc_ids)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """Where a recurring text occurs: document, paragraph index and character span."""

    doc_id: str
    paragraph: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Boilerplate:
    """A text that recurs across documents that otherwise share nothing.

    Attributes:
        text: the text of its first occurrence.
        doc_count: number of documents carrying it.
        occurrences: every paragraph that carries it.
        coverage: share of words the median carrying document shares with any other document;
            low means the documents have nothing else in common.
    """

    text: str
    doc_count: int
    occurrences: tuple[Occurrence, ...]
    coverage: float
