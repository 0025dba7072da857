"""Small immutable result types. Every span is ``[start, end)`` in characters of the original text."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

import numpy as np

__all__ = ["ParagraphMatch", "Match", "DocPair", "PairTable", "Cluster", "Boilerplate", "Occurrence"]


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


_new_match = partial(tuple.__new__, ParagraphMatch)
_new_pair = partial(tuple.__new__, DocPair)

#: Document pairs turned into objects at a time when iterating a :class:`PairTable`.
OBJECT_BLOCK = 50_000


@dataclass(frozen=True, eq=False)
class PairTable:
    """Every reused document pair and its paragraph pairs, as numpy columns.

    What :meth:`Index.pairs <dedup.Index.pairs>` yields as objects, column by column: at a
    million articles about 0.5 GB for 11.6 million paragraph pairs, where the objects would
    take about 3 GB if kept (280 bytes per ParagraphMatch, tracemalloc), and a batch job
    usually writes columns anyway (Parquet, Arrow, a database). Iterating the table yields the
    same :class:`DocPair` objects as ``Index.pairs`` with the same arguments, in the same order.

    Document pairs (one row each, ``len(table)`` rows, ordered by ``(a, b)``):
        a, b: int64 document numbers (insertion order, ``a < b``); ``doc_ids[a]`` is the id.
        score, a_coverage, b_coverage: float64, as in :class:`DocPair`.
        offsets: int64, ``len(table) + 1`` entries: the paragraph pairs of document pair ``i``
            are rows ``offsets[i]:offsets[i + 1]`` of the paragraph columns.

    Paragraph pairs (``n_matches`` rows, by document pair, then ``a_index``, then ``b_index``):
        a_index, b_index, a_start, a_end, b_start, b_end: int32 (a document has at most
            ``dedup.text.MAX_DOCUMENT_CHARS`` characters), as in :class:`ParagraphMatch` (spans
            in characters of the original texts).
        similarity: float64, rounded to 6 decimals; exact, boilerplate: bool.

    Attributes:
        doc_ids: the id of every document number (removed documents keep their number).

    The arrays are read-only (the index keeps some of them for :meth:`Index.clusters`); copy a
    column to change it.
    """

    doc_ids: Sequence[str]
    a: np.ndarray
    b: np.ndarray
    score: np.ndarray
    a_coverage: np.ndarray
    b_coverage: np.ndarray
    offsets: np.ndarray
    a_index: np.ndarray
    b_index: np.ndarray
    a_start: np.ndarray
    a_end: np.ndarray
    b_start: np.ndarray
    b_end: np.ndarray
    similarity: np.ndarray
    exact: np.ndarray
    boilerplate: np.ndarray

    def __post_init__(self) -> None:
        for name in self.PAIR_COLUMNS + ("offsets",) + self.MATCH_COLUMNS:
            getattr(self, name).flags.writeable = False  # a result: shared with the index's cache

    #: the document-pair columns, in :class:`DocPair` field order (ids as numbers)
    PAIR_COLUMNS = ("a", "b", "score", "a_coverage", "b_coverage")
    #: the paragraph columns, in :class:`ParagraphMatch` field order
    MATCH_COLUMNS = ("a_index", "b_index", "a_start", "a_end", "b_start", "b_end", "similarity", "exact", "boilerplate")

    def __len__(self) -> int:
        return len(self.a)

    @property
    def n_matches(self) -> int:
        """Number of paragraph pairs (rows of the paragraph columns)."""
        return int(self.offsets[-1]) if len(self.offsets) else 0

    def pair_of_match(self) -> np.ndarray:
        """The document pair (row number) of every paragraph pair, int64."""
        return np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.offsets))

    def __getitem__(self, i: int) -> DocPair:
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"PairTable indices must be integers, not {type(i).__name__}")
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"document pair {i} out of range for {n} pairs")
        return next(self._objects(int(i) % n, int(i) % n + 1))

    def __iter__(self) -> Iterator[DocPair]:
        for lo in range(0, len(self), OBJECT_BLOCK):
            yield from self._objects(lo, min(len(self), lo + OBJECT_BLOCK))

    def _objects(self, lo: int, hi: int) -> Iterator[DocPair]:
        """DocPair objects of rows ``lo:hi``, built column-wise (a block of them at a time)."""
        m0, m1 = int(self.offsets[lo]), int(self.offsets[hi])
        with _gc_paused():
            cols = [getattr(self, c)[m0:m1].tolist() for c in self.MATCH_COLUMNS]
            # tuple.__new__ over zipped columns builds the named tuples without a Python call each
            matches = list(map(_new_match, zip(*cols)))
            del cols
            cuts = (self.offsets[lo : hi + 1] - m0).tolist()
            ids = self.doc_ids
            rows = zip(
                self.a[lo:hi].tolist(),
                self.b[lo:hi].tolist(),
                self.score[lo:hi].tolist(),
                self.a_coverage[lo:hi].tolist(),
                self.b_coverage[lo:hi].tolist(),
                cuts[:-1],
                cuts[1:],
            )
            pairs = [_new_pair((ids[a], ids[b], s, ca, cb, tuple(matches[c0:c1]))) for a, b, s, ca, cb, c0, c1 in rows]
            del matches
        yield from pairs


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a block of plain tuples is built.

    Millions of new tuples trigger a collection every 700 allocations, each scanning the young
    ones again; none of them can be part of a cycle. The previous state is restored on exit
    (nothing runs user code inside).
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


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
