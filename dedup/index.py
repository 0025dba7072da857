"""The :class:`Index`: paragraph MinHash-LSH over documents, with verified pairs and clusters.

>>> from dedup import Index
>>> idx = Index()
>>> story = "Around 60 Russian paratroopers refused to fight in Ukraine, according to reports."
>>> idx.add("a", story + "\\n\\nSubscribe to our newsletter today.")
>>> idx.add("b", "Unrelated lead paragraph about the weather.\\n\\n" + story.replace("Around", "About"))
>>> [(m.doc_id, round(m.score, 2)) for m in idx.query(story)]
[('a', 1.0), ('b', 1.0)]
>>> [(p.a, p.b) for p in idx.pairs()]
[('a', 'b')]
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import shutil
import tempfile
import weakref
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from itertools import repeat
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import native
from .analysis import MAX_BUCKET_PAIRS, Analysis, analyze, components, order_by
from .columns import Column, SignatureStore, SignatureView, TextStore, prefetch
from .config import IndexConfig
from .errors import (
    CorruptIndexError,
    DedupError,
    DocumentNotFoundError,
    DuplicateDocumentError,
    EmptyDocumentError,
    InvalidParameterError,
    InvalidTypeError,
)
from .handoff import HandoffDir, Layout, read_arrays, read_texts, write_arrays, write_texts
from .heap import keep_heap, release_heap, small_pages
from .lsh import BandTable, twin_groups
from .parallel import fork_map, prefer_threads
from .results import Boilerplate, Cluster, DocPair, Match, Occurrence, PairTable, ParagraphMatch
from .shingles import set_jaccard, sorted_unique
from .text import coerce_text
from .units import Features, featurize

__all__ = ["Index", "AddReport"]

#: Documents featurized per batch in :meth:`Index.add_many`. With 1,000 (about 5 MB of text)
#: most of a batch's temporaries stay under glibc's 32 MB mmap threshold, so a worker reuses
#: their memory from batch to batch (see :func:`dedup.heap.keep_heap`), and a small corpus
#: still splits among the workers; 2,000 gave the 20,000-article corpus twice the page faults.
BATCH_DOCS = 1000
#: Unit pairs folded into paragraph pairs at a time (whole document pairs per block).
FOLD_BLOCK = 2_000_000
#: Unit pairs from which the fold is shared out among the index's workers.
PARALLEL_MIN_FOLD = 100_000


@dataclass
class AddReport:
    """What :meth:`Index.add_many` did: ids added, and records skipped with the reason."""

    added: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)


_COLUMNS = (
    "unit_doc",
    "unit_para",
    "unit_kind",
    "unit_start",
    "unit_end",
    "unit_ntok",
    "unit_nsh",
    "para_start",
    "para_end",
    "para_ntok",
    "para_doc",
    "para_sh0",
    "unit_sh0",
)

# the columns a query reads for its candidate units (exact Jaccard, then paragraph matches)
_QUERY_COLUMNS = ("shingles", *(c for c in _COLUMNS if c.startswith("unit_")))


class Index:
    """A MinHash-LSH index over the paragraphs (and sentences) of documents.

    Args:
        threshold: Jaccard similarity of word-shingle sets (0..1] from which two paragraphs
            count as reused. Default 0.5.
        num_perm: permutations per MinHash signature. Default 128.
        seed: seed of token hashing and permutations; equal seeds give equal signatures on every
            machine. Default 1.
        shingle_size: words per shingle. Default 5.
        bands, rows: LSH banding, chosen from ``threshold`` when omitted.
        min_sentence_words: sentence units shorter than this many words are merged. Default 8.
        boilerplate_min_docs: minimum documents before a recurring text can be boilerplate.
            Default 5.
        boilerplate_max_coverage: see :class:`dedup.config.IndexConfig`. Default 0.3.
        directory: keep signatures, shingle hashes and texts in files under this directory
            (memory-mapped, in a private subdirectory removed by :meth:`close`) instead of RAM;
            for corpora larger than memory. Default ``None`` (all in RAM). Results are the same.
        workers: how many share out the corpus-wide analysis behind :meth:`pairs`,
            :meth:`clusters` and :meth:`boilerplate` (``0``: one per CPU): threads for an index
            in RAM, forked processes for one whose signatures are files (``directory``, or a
            loaded index's memory maps). Default 1. Results are the same for any number.

    Documents are kept (text and metadata) so matches can be aligned and the index saved
    without the original corpus. Empty or whitespace-only documents raise
    :class:`EmptyDocumentError` in :meth:`add`; :meth:`add_many` can skip and report them.
    """

    def __init__(
        self,
        threshold: float = 0.5,
        num_perm: int = 128,
        seed: int = 1,
        shingle_size: int = 5,
        *,
        bands: int | None = None,
        rows: int | None = None,
        min_sentence_words: int = 8,
        boilerplate_min_docs: int = 5,
        boilerplate_max_coverage: float = 0.3,
        config: IndexConfig | None = None,
        directory: str | os.PathLike[str] | None = None,
        workers: int = 1,
    ) -> None:
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
            raise InvalidParameterError(f"workers must be an int >= 0, got {workers!r}")
        self.workers = workers or (os.cpu_count() or 1)
        if config is None:
            config = IndexConfig(
                threshold=threshold,
                num_perm=num_perm,
                seed=seed,
                shingle_size=shingle_size,
                bands=bands,
                rows=rows,
                min_sentence_words=min_sentence_words,
                boilerplate_min_docs=boilerplate_min_docs,
                boilerplate_max_coverage=boilerplate_max_coverage,
            )
        self.config = config
        self._workdir: Path | None = None
        if directory is not None:
            base = Path(directory)
            try:
                base.mkdir(parents=True, exist_ok=True)
                self._workdir = Path(tempfile.mkdtemp(prefix="dedup-index-", dir=base))
            except OSError as exc:
                raise InvalidParameterError(f"cannot use {base} as the index directory: {exc}") from None
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._workdir, True)
        wd = self._workdir
        self._ids: list[str] = []
        # UTF-8 (surrogatepass): about half the RAM of str for non-ASCII text
        self._texts = TextStore(None if wd is None else wd / "texts.bin")
        self._sigs = SignatureStore(config.num_perm, config.b, config.r, wd)
        self._shingles = Column(np.uint32, 0, None if wd is None else wd / "shingles.u32")
        # the units' shingle-set keys (8 bytes a unit) go to a file too: only the analysis reads them
        self._unit_keys = Column(np.uint64, 0, None if wd is None else wd / "unit_key.u64")
        self._meta: list[dict[str, Any]] = []
        self._alive: list[bool] = []
        self._pos: dict[str, int] = {}
        self._doc_ntok: list[int] = []
        self._doc_para0: list[int] = []  # global index of each document's first paragraph
        self._n_para = 0
        self._chunks: dict[str, list[np.ndarray]] = {c: [] for c in _COLUMNS}
        self._cols: dict[str, np.ndarray] | None = None
        self._live: np.ndarray | None = None
        self._tables: dict[bool, BandTable] = {}
        self._prefetched = False  # whether the first query asked for its columns to be read ahead
        self._analysis: dict[float, Analysis] = {}
        # threshold -> document pairs (a, b, score) of the last pairs/clusters call, for clusters()
        self._edges: dict[float, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    # ------------------------------------------------------------------ documents

    def __len__(self) -> int:
        return len(self._pos)

    @property
    def num_paragraphs(self) -> int:
        """Number of paragraphs (as segmented for matching) in the indexed documents; removed ones excluded."""
        if not self._doc_para0:
            return 0
        starts = np.asarray(self._doc_para0, dtype=np.int64)
        counts = np.diff(np.append(starts, self._n_para))
        return int(counts[np.asarray(self._alive, dtype=bool)].sum())

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._pos

    def __iter__(self) -> Iterator[str]:
        return (d for d, alive in zip(self._ids, self._alive) if alive)

    def __repr__(self) -> str:
        c = self.config
        return (
            f"Index(documents={len(self)}, threshold={c.threshold}, num_perm={c.num_perm}, "
            f"shingle_size={c.shingle_size}, bands={c.bands}, rows={c.rows})"
        )

    def text(self, doc_id: str) -> str:
        """The stored text of ``doc_id``."""
        return self._text(self._doc(doc_id))

    def _text(self, d: int) -> str:
        try:
            return self._texts.get(d).decode("utf-8", "surrogatepass")
        except UnicodeDecodeError as exc:
            raise CorruptIndexError(f"the stored text of document {self._ids[d]!r} is damaged: {exc}") from None

    def metadata(self, doc_id: str) -> dict[str, Any]:
        """A copy of the metadata stored with ``doc_id``."""
        return dict(self._meta[self._doc(doc_id)])

    def paragraphs(self, doc_id: str) -> list[tuple[int, int]]:
        """Character spans of the paragraphs of ``doc_id``, as segmented for matching."""
        d = self._doc(doc_id)
        cols = self._columns()
        lo = self._doc_para0[d]
        hi = self._doc_para0[d + 1] if d + 1 < len(self._doc_para0) else self._n_para
        return list(zip(cols["para_start"][lo:hi].tolist(), cols["para_end"][lo:hi].tolist()))

    def _doc(self, doc_id: str) -> int:
        try:
            return self._pos[doc_id]
        except (KeyError, TypeError):
            raise DocumentNotFoundError(f"no document with id {doc_id!r} in the index") from None

    @staticmethod
    def _check_id(doc_id: object) -> str:
        if not isinstance(doc_id, str):
            raise InvalidTypeError(f"document id must be str, not {type(doc_id).__name__}")
        if not doc_id:
            raise InvalidParameterError("document id must not be empty")
        return doc_id

    def add(self, doc_id: str, text: str | bytes, *, replace: bool = False, **metadata: Any) -> None:
        """Add one document. Keyword arguments are stored as its metadata.

        Raises:
            DuplicateDocumentError: ``doc_id`` is already indexed and ``replace`` is False.
            EmptyDocumentError: the text has no word character.
            InvalidTypeError, InvalidTextError: wrong type, undecodable bytes, too long.
        """
        report = self.add_many([(doc_id, text, metadata)], replace=replace, on_error="raise")
        assert report.added == 1

    def add_many(
        self,
        records: Iterable[Any],
        *,
        replace: bool = False,
        on_error: str = "raise",
        batch_size: int = BATCH_DOCS,
        workers: int = 1,
    ) -> AddReport:
        """Add many documents, featurized in batches.

        Args:
            records: ``(id, text)`` or ``(id, text, metadata)`` tuples, or mappings with ``"id"``
                and ``"text"`` keys (other keys become metadata).
            replace: update documents whose id is already indexed instead of raising.
            on_error: ``"raise"`` (default) stops at the first bad record; ``"skip"`` skips it
                and reports it in the returned :class:`AddReport` (nothing is dropped
                silently).
            batch_size: documents featurized per numpy batch.
            workers: processes that featurize batches in parallel (``0`` means one per CPU).
                Results are identical for any number of workers.

        Returns:
            An :class:`AddReport` with the count added and the skipped ids with reasons.
        """
        if on_error not in ("raise", "skip"):
            raise InvalidParameterError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
            raise InvalidParameterError(f"workers must be an int >= 0, got {workers!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidParameterError(f"batch_size must be an int >= 1, got {batch_size!r}")
        if workers == 0:
            workers = os.cpu_count() or 1
        report = AddReport()
        with _Featurizer(self.config, workers, map_signatures=self._sigs.on_disk) as featurizer:
            try:
                for batch in self._batches(records, replace, on_error, batch_size, report):
                    featurizer.submit(batch)
                    for done in featurizer.ready():
                        self._store_batch(done, report)
            finally:  # records before a bad one (on_error="raise") are still added
                for done in featurizer.drain():
                    self._store_batch(done, report)
                release_heap()  # the handed-off batches were freed
        return report

    def _batches(
        self, records: Iterable[Any], replace: bool, on_error: str, batch_size: int, report: AddReport
    ) -> Iterator[_Batch]:
        """Validated batches of records; bad ones raise or are reported, never dropped silently."""
        batch: _Batch = []
        seen: set[str] = set()
        for n, rec in enumerate(records):
            try:
                doc_id, text, meta = self._parse_record(rec, n)
                if doc_id in seen or (doc_id in self._pos and not replace):
                    raise DuplicateDocumentError(
                        f"document id {doc_id!r} is already in the index; pass replace=True to update it"
                    )
                if not any(ch.isalnum() for ch in text):
                    what = "empty" if not text.strip() else "without any word character"
                    raise EmptyDocumentError(f"document {doc_id!r} is {what}; there is nothing to index")
            except DedupError as exc:
                if on_error == "raise":
                    if batch:
                        yield batch
                    raise
                report.skipped.append((_record_id(rec), str(exc)))
                continue
            seen.add(doc_id)
            batch.append((doc_id, text, meta))
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _parse_record(self, rec: Any, n: int) -> tuple[str, str, dict[str, Any]]:
        if isinstance(rec, Mapping):
            if "id" not in rec or "text" not in rec:
                raise InvalidParameterError(f"record {n} needs 'id' and 'text' keys, has {sorted(rec)[:8]}")
            meta = {k: v for k, v in rec.items() if k not in ("id", "text")}
            doc_id, text = rec["id"], rec["text"]
        elif isinstance(rec, tuple) and len(rec) in (2, 3):
            doc_id, text = rec[0], rec[1]
            meta = dict(rec[2]) if len(rec) == 3 and rec[2] else {}
        else:
            raise InvalidTypeError(
                f"record {n} must be an (id, text) tuple or a mapping with 'id' and 'text', not {type(rec).__name__}"
            )
        doc_id = self._check_id(doc_id)
        return doc_id, coerce_text(text, what=f"text of document {doc_id!r}"), meta

    def _store_batch(self, done: _Done, report: AddReport) -> None:
        for doc_id, _, _ in done.batch:
            if doc_id in self._pos:
                self.remove(doc_id)
        self._append(done)
        report.added += len(done.batch)

    def _append(self, done: _Done) -> None:
        f = done.feats
        ids = [d for d, _, _ in done.batch]
        base_doc = len(self._ids)
        base_para = self._n_para
        para0 = np.zeros(len(ids), dtype=np.int64)
        if len(ids):
            np.cumsum(f.doc_npara[:-1], out=para0[1:])
        for i, doc_id in enumerate(ids):
            self._pos[doc_id] = base_doc + i
            self._doc_para0.append(base_para + int(para0[i]))
        self._ids.extend(ids)
        self._texts.extend(done.blobs)
        self._meta.extend(m for _, _, m in done.batch)
        self._alive.extend([True] * len(ids))
        self._doc_ntok.extend(f.doc_ntok.tolist())
        c = self._chunks
        c["unit_doc"].append(f.unit_doc + base_doc)
        c["unit_para"].append(f.unit_para)
        c["unit_kind"].append(f.unit_kind)
        c["unit_start"].append(f.unit_start)
        c["unit_end"].append(f.unit_end)
        c["unit_ntok"].append(f.unit_ntok)
        c["unit_nsh"].append(f.unit_nsh)
        self._unit_keys.append(f.unit_key)
        self._sigs.append_banded(*done.bands)
        c["para_start"].append(f.para_start)
        c["para_end"].append(f.para_end)
        c["para_ntok"].append(f.para_ntok)
        c["para_doc"].append(f.para_doc + base_doc)
        base_sh = len(self._shingles)
        c["para_sh0"].append(f.para_sh0 + base_sh)
        c["unit_sh0"].append(f.unit_sh0 + base_sh)
        self._shingles.append(f.shingles)
        self._n_para += len(f.para_doc)
        self._invalidate()

    def _invalidate(self) -> None:
        self._live = None
        self._cols = None
        self._tables.clear()
        self._prefetched = False
        self._analysis.clear()
        self._edges.clear()

    def remove(self, doc_id: str) -> None:
        """Remove a document. Raises :class:`DocumentNotFoundError` when absent."""
        d = self._doc(doc_id)
        del self._pos[doc_id]
        self._alive[d] = False
        self._texts.clear(d)
        self._meta[d] = {}
        self._invalidate()

    # ------------------------------------------------------------------ columns

    def _columns(self) -> dict[str, np.ndarray]:
        if self._cols is None:
            cols = {}
            merged_any = False
            for name, chunks in self._chunks.items():
                if len(chunks) > 1:
                    merged = np.concatenate(chunks)
                    self._chunks[name] = [merged]
                    merged_any = True
                cols[name] = self._chunks[name][0] if chunks else _empty_column(name, self.config)
            if merged_any:
                release_heap()  # the batches' chunks were freed: ~2 GB at a million articles
            cols["shingles"] = self._shingles.array()
            cols["unit_key"] = self._unit_keys.array()
            self._cols = cols
        return self._cols

    def _signatures(self) -> np.ndarray:
        """All ``(units, num_perm)`` signatures in one array (for tests and export)."""
        return self._sigs.take(np.arange(len(self._sigs)))

    def _live_units(self) -> np.ndarray:
        if self._live is None:
            cols = self._columns()
            alive = np.array(self._alive, dtype=bool)
            self._live = np.flatnonzero(alive[cols["unit_doc"]]) if len(alive) else np.empty(0, np.int64)
        return self._live

    def _para_global(self, cols: dict[str, np.ndarray]) -> np.ndarray:
        """Each unit's paragraph as a row of the paragraph columns: int32 while they fit."""
        para0 = np.array(self._doc_para0, dtype=np.int32 if len(cols["para_ntok"]) < 2**31 else np.int64)
        return para0[cols["unit_doc"]] + cols["unit_para"].astype(para0.dtype, copy=False)

    def _exact_units(self, us: np.ndarray, vs: np.ndarray) -> np.ndarray:
        """Exact Jaccard of the shingle sets of unit pairs ``(us[i], vs[i])``."""
        cols = self._columns()
        sh, sh0, nsh = cols["shingles"], cols["unit_sh0"], cols["unit_nsh"]
        return set_jaccard(sh, sh0[us], nsh[us], sh, sh0[vs], nsh[vs], workers=self.workers)

    # ------------------------------------------------------------------ analysis

    def _analyze(self, threshold: float) -> tuple[Analysis, np.ndarray]:
        """Analysis over live units; returns it with the live unit ids it is indexed by."""
        key = float(threshold)
        if key in self._analysis:
            return self._analysis[key], self._live_units()
        alive = np.array(self._alive, dtype=bool)
        # Without removed documents every unit is live: the analysis gets the columns, not
        # copies, and its unit numbers are the index's (the list of live units, an int64 per
        # unit, is made after the analysis' peak).
        everything = bool(alive.all())
        early, ahead = None, []
        if everything and self.workers > 1 and not self._sigs.mapped:
            # the twin groups (a compiled hash table, no GIL) in a thread while this one merges
            # the batches' columns: two serial steps of the analysis' start side by side (the
            # keys merged first, here: _columns reads them too)
            early = ThreadPoolExecutor(1)
            ahead.append(early.submit(twin_groups, self._unit_keys.array(), MAX_BUCKET_PAIRS))
        cols = self._columns()
        doc_ntok = np.array(self._doc_ntok, dtype=np.int64)
        doc_ntok = np.where(alive, doc_ntok, 0)
        live = None if everything else self._live_units()
        pg = self._para_global(cols)

        def exact(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            if live is None:
                return self._exact_units(a, b)
            return self._exact_units(live[a], live[b])

        def sel(a: np.ndarray) -> np.ndarray:
            return a if live is None else a[live]

        # The kernels read each band's batches where they lie. Without them, merge the chunks
        # here, once: forked workers then share one copy (each worker reading a band of a
        # chunked column merged it again and lost it).
        if native.kernels() is None:
            self._sigs.consolidate(self.workers)
        with prefer_threads(not self._sigs.mapped), early or contextlib.nullcontext():  # in RAM: threads
            res = analyze(
                config=self.config,
                threshold=threshold,
                sig=SignatureView(self._sigs, live, self.workers),
                unit_doc=sel(cols["unit_doc"]),
                unit_para_global=sel(pg),
                unit_kind=sel(cols["unit_kind"]),
                unit_ntok=sel(cols["unit_ntok"]),
                para_ntok=cols["para_ntok"],
                doc_ntok=doc_ntok,
                exact=exact,
                workers=self.workers,
                # (the future is dropped as its groups are taken: analyze frees them early)
                twins=(
                    (lambda: ahead.pop().result())
                    if ahead
                    else lambda: twin_groups(sel(self._unit_keys.read()), MAX_BUCKET_PAIRS)
                ),
            )
        # the analysis' freed temporaries: glibc keeps many of their pages, which the folding
        # into document pairs (the peak of pair_table) would otherwise count on top
        release_heap()
        self._analysis[key] = res
        return res, self._live_units()

    def _threshold(self, threshold: float | None) -> float:
        if threshold is None:
            return self.config.threshold
        if not isinstance(threshold, (int, float)) or not 0.0 < threshold <= 1.0:
            raise InvalidParameterError(f"threshold must be in (0, 1], got {threshold!r}")
        return float(threshold)

    # ------------------------------------------------------------------ query

    def query(
        self,
        text: str | bytes,
        *,
        threshold: float | None = None,
        include_boilerplate: bool = False,
        limit: int | None = None,
    ) -> list[Match]:
        """Indexed documents that share reused paragraphs with ``text``, best first.

        Args:
            text: the query document.
            threshold: per-call similarity threshold; defaults to the index's. Thresholds below
                the index's may miss pairs that LSH, tuned for the index threshold, never
                proposes.
            include_boilerplate: also report matches on boilerplate paragraphs (flagged).
            limit: at most this many matches.

        Returns:
            One :class:`Match` per indexed document, by decreasing score. Similarities of query
            matches are exact Jaccard values of the shingle sets.
        """
        t = self._threshold(threshold)
        text = coerce_text(text, what="query text")
        if not any(ch.isalnum() for ch in text):
            raise EmptyDocumentError("query text has no word character")
        if len(self) == 0:
            return []
        q = featurize([text], self.config)  # the batch tokenizer: same tokens, no per-word Python
        cols = self._columns()
        analysis, live = self._analyze(self.config.threshold)
        table = self._query_table(include_boilerplate)
        if not self._prefetched:
            # what every query reads, by unit: into the page cache while the first queries run
            prefetch([cols[c] for c in _QUERY_COLUMNS] + [analysis.unit_boilerplate])
            self._prefetched = True
        qrow, unit = table.lookup(q.sig)
        if not len(qrow):
            return []
        pairs = sorted_unique(qrow.astype(np.int64) << 32 | unit.astype(np.int64))
        qrow, unit = pairs >> 32, pairs & 0xFFFFFFFF

        def exact(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return set_jaccard(
                q.shingles, q.unit_sh0[a], q.unit_nsh[a], cols["shingles"], cols["unit_sh0"][b], cols["unit_nsh"][b]
            )

        # boilerplate candidates are flagged (and only found at all with include_boilerplate)
        boiler = analysis.unit_boilerplate[np.searchsorted(live, unit)]

        # Every candidate gets the exact Jaccard of its shingle sets: one contiguous read of each
        # candidate's shingle hashes, where a MinHash estimate would read its signature from
        # every band (random reads across files when the index is on disk).
        sims = exact(qrow, unit)
        ok = sims >= t - 1e-9
        qrow, unit, sims, boiler = qrow[ok], unit[ok], sims[ok], boiler[ok]
        is_exact = np.ones(len(qrow), dtype=bool)
        by_doc: dict[int, list[int]] = defaultdict(list)
        udoc = cols["unit_doc"][unit]
        for i, d in enumerate(udoc.tolist()):
            by_doc[d].append(i)
        q_ntok = int(q.doc_ntok[0])
        matches = []
        for d, rows in by_doc.items():
            pms, cov_q, cov_d = self._paragraph_matches(
                vars(q), qrow[rows], cols, unit[rows], sims[rows], is_exact[rows], boiler[rows]
            )
            score = float(_scores(np.array([cov_q]), np.array([cov_d]), q_ntok, self._doc_ntok[d])[0][0])
            matches.append(
                Match(self._ids[d], score, tuple(sorted(pms, key=lambda p: -p.similarity)), dict(self._meta[d]))
            )
        matches.sort(key=lambda m: (-m.score, self._pos[m.doc_id]))
        return matches[:limit] if limit is not None else matches

    def _query_table(self, include_boilerplate: bool = False) -> BandTable:
        """The LSH lookup table of queries (built on first use, or loaded with the index)."""
        analysis, live = self._analyze(self.config.threshold)
        table = self._tables.get(include_boilerplate)
        if table is None:
            # Without boilerplate, its units are left out of the table: a newsletter blurb in
            # thousands of articles would otherwise bring thousands of candidates to every query.
            units = live if include_boilerplate else live[~analysis.unit_boilerplate]
            table = self._tables[include_boilerplate] = BandTable(
                SignatureView(self._sigs, units),
                units,
                directory=self._workdir,
                prefix="lsh-all-" if include_boilerplate else "lsh-reuse-",
                workers=self.workers,
            )
        return table

    @staticmethod
    def _paragraph_matches(
        fa: Mapping[str, np.ndarray],
        ua: np.ndarray,
        fb: Mapping[str, np.ndarray],
        ub: np.ndarray,
        sims: np.ndarray,
        is_exact: np.ndarray,
        boiler: np.ndarray,
    ) -> tuple[list[ParagraphMatch], int, int]:
        """Fold unit pairs of one document pair into paragraph pairs; returns coverage too."""
        best: dict[tuple[int, int], list[Any]] = {}
        a_units: dict[int, dict[int, int]] = defaultdict(dict)
        b_units: dict[int, dict[int, int]] = defaultdict(dict)
        a_para_ntok: dict[int, int] = {}
        b_para_ntok: dict[int, int] = {}
        # each column gathered for these units in one call (the index's may be memory maps,
        # where indexing element by element costs a Python call each)
        rows = zip(
            ua.tolist(),
            ub.tolist(),
            *(fa[c][ua].tolist() for c in ("unit_para", "unit_kind", "unit_start", "unit_end", "unit_ntok")),
            *(fb[c][ub].tolist() for c in ("unit_para", "unit_kind", "unit_start", "unit_end", "unit_ntok")),
            sims.tolist(),
            is_exact.tolist(),
            boiler.tolist(),
        )
        for u, v, pa, ka, sa, ea, na, pb, kb, sb, eb, nb, s, ex, bp in rows:
            key = (pa, pb)
            whole = ka == 0 and kb == 0
            cur = best.get(key)
            if cur is None:
                best[key] = [sa, ea, sb, eb, s, ex, bp, whole]
            else:
                if whole and not cur[7]:
                    cur[0:4] = [sa, ea, sb, eb]
                    cur[7] = True
                elif not cur[7]:
                    cur[0], cur[1] = min(cur[0], sa), max(cur[1], ea)
                    cur[2], cur[3] = min(cur[2], sb), max(cur[3], eb)
                if s > cur[4]:
                    cur[4], cur[5] = s, ex
                cur[6] = cur[6] and bp
            a_units[pa][u] = na
            b_units[pb][v] = nb
            if ka == 0:
                a_para_ntok[pa] = na
            if kb == 0:
                b_para_ntok[pb] = nb
        cov_a = sum(a_para_ntok.get(p, sum(us.values())) for p, us in a_units.items())
        cov_b = sum(b_para_ntok.get(p, sum(us.values())) for p, us in b_units.items())
        pms = [
            ParagraphMatch(pa, pb, v[0], v[1], v[2], v[3], round(float(v[4]), 6), bool(v[5]), bool(v[6]))
            for (pa, pb), v in best.items()
        ]
        return pms, cov_a, cov_b

    # ------------------------------------------------------------------ pairs and clusters

    def pairs(
        self, *, threshold: float | None = None, include_boilerplate: bool = False, min_score: float = 0.0
    ) -> Iterator[DocPair]:
        """Every pair of indexed documents that share reused paragraphs.

        Args:
            threshold: per-call similarity threshold (see :meth:`query`).
            include_boilerplate: also link documents through boilerplate (flagged paragraphs).
            min_score: drop pairs whose score (share of the shorter document reused) is lower.

        Yields:
            :class:`DocPair` in order of (a, b) insertion.
        """
        yield from self.pair_table(threshold=threshold, include_boilerplate=include_boilerplate, min_score=min_score)

    def pair_table(
        self, *, threshold: float | None = None, include_boilerplate: bool = False, min_score: float = 0.0
    ) -> PairTable:
        """Every reused document pair and its paragraph pairs, as numpy columns.

        The same pairs as :meth:`pairs` with the same arguments, without building a Python object
        per paragraph pair: for batch jobs over large corpora (a million articles give millions
        of paragraph pairs, about 3 GB as objects). See :class:`~dedup.results.PairTable`; iterating the
        table yields the :class:`DocPair` objects of :meth:`pairs`.
        """
        if not isinstance(min_score, (int, float)) or isinstance(min_score, bool):
            raise InvalidParameterError(f"min_score must be a number, got {min_score!r}")
        table = self._doc_pairs(self._threshold(threshold), include_boilerplate)
        if table is None:
            return _empty_table(tuple(self._ids))
        if min_score <= 0.0:
            return table
        keep = table.score >= min_score
        rows = np.repeat(keep, np.diff(table.offsets))
        counts = np.diff(table.offsets)[keep]
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        pair_cols = {c: getattr(table, c)[keep] for c in PairTable.PAIR_COLUMNS}
        match_cols = {c: getattr(table, c)[rows] for c in PairTable.MATCH_COLUMNS}
        return PairTable(doc_ids=table.doc_ids, offsets=offsets, **pair_cols, **match_cols)

    def _doc_pairs(self, t: float, include_boilerplate: bool = False) -> PairTable | None:
        """All document pairs of the analysis at threshold ``t`` as a table (``None``: no pairs)."""
        analysis, live = self._analyze(t)
        cols = self._columns()
        up = live[analysis.pairs]
        sims, exact = analysis.sims, analysis.exact
        boiler = np.zeros(len(up), dtype=bool)
        if include_boilerplate and len(analysis.boilerplate_pairs):
            bp = live[analysis.boilerplate_pairs]
            bp = np.compress(cols["unit_doc"][bp[:, 0]] != cols["unit_doc"][bp[:, 1]], bp, axis=0)
            up = np.concatenate([up, bp])
            sims = np.concatenate([sims, np.ones(len(bp), np.float32)])
            exact = np.concatenate([exact, np.zeros(len(bp), bool)])
            boiler = np.concatenate([boiler, np.ones(len(bp), bool)])
        if not len(up):
            if not include_boilerplate:
                self._edges = {t: (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))}
            return None
        da = cols["unit_doc"][up[:, 0]].astype(np.int64)
        db = cols["unit_doc"][up[:, 1]].astype(np.int64)
        # rows of the (m, 2) unit pairs are moved along axis 0 by np.take / flat indexes, not
        # up[mask] / up[order] (a slow generic path for 2-D arrays, see analysis.analyze)
        swap = np.flatnonzero(da > db)
        up[swap] = np.take(up, swap, axis=0)[:, ::-1]
        da, db = np.minimum(da, db), np.maximum(da, db)
        # by document pair; within one, the fold breaks ties by the rank of the unit pair in
        # the analysis' (sorted) output, so the result does not depend on the sort's tie order
        order = order_by(da, db)
        up = np.take(up, order, axis=0)
        da, db, sims, exact, boiler = da[order], db[order], sims[order], exact[order], boiler[order]
        key = da << 32 | db
        cut = np.flatnonzero(key[1:] != key[:-1]) + 1
        g_start = np.concatenate([[0], cut]).astype(np.int64)
        n_g = len(g_start)
        del key
        # folded a block of document pairs at a time: the fold's temporaries are a dozen arrays
        # per unit pair (gigabytes at a million articles); with workers, at least two blocks
        # each (blocks of equal unit pairs take unequal times: two each even the load out)
        g_end = np.append(g_start[1:], len(up))
        block = FOLD_BLOCK
        if self.workers > 1 and len(up) >= PARALLEL_MIN_FOLD:
            block = min(block, -(-len(up) // (2 * self.workers)))
        blocks = []
        g0 = 0
        while g0 < n_g:
            lo = int(g_start[g0])
            g1 = max(g0 + 1, int(np.searchsorted(g_end, lo + block, side="right")))
            blocks.append((g0, g1))
            g0 = g1
        shared = (cols, up, sims, exact, boiler, order, g_start, g_end)
        with prefer_threads(not self._sigs.mapped):  # in RAM: threads, not forks
            parts = list(fork_map(_fold_block, shared, blocks, self.workers))
        seg_g = np.concatenate([p[0] for p in parts])
        cov_a = np.concatenate([p[2] for p in parts])
        cov_b = np.concatenate([p[3] for p in parts])
        block_fields: list[list[Any]] = [list(p[1]) for p in parts]
        del parts
        fields = []
        for k in range(len(block_fields[0])):  # one column at a time: the blocks' copy is freed as it goes
            fields.append(np.concatenate([f[k] for f in block_fields]))
            for f in block_fields:
                f[k] = None
        del block_fields
        offsets = np.searchsorted(seg_g, np.arange(n_g + 1, dtype=np.int64))
        doc_a, doc_b = da[g_start], db[g_start]
        ntok = np.asarray(self._doc_ntok, dtype=np.int64)
        scores, a_cov, b_cov = _scores(cov_a, cov_b, ntok[doc_a], ntok[doc_b])
        if not include_boilerplate:
            self._edges = {t: (doc_a, doc_b, scores)}
        pa, pb, sa, ea, sb, eb, sim, is_exact, is_boiler = fields
        return PairTable(
            doc_ids=tuple(self._ids),
            a=doc_a,
            b=doc_b,
            score=scores,
            a_coverage=a_cov,
            b_coverage=b_cov,
            offsets=offsets.astype(np.int64),
            a_index=pa,
            b_index=pb,
            a_start=sa,
            a_end=ea,
            b_start=sb,
            b_end=eb,
            similarity=sim,
            exact=is_exact,
            boilerplate=is_boiler,
        )

    def clusters(self, *, threshold: float | None = None, min_score: float = 0.0) -> list[Cluster]:
        """Groups of two or more documents linked by reuse (boilerplate excluded).

        Returns clusters by decreasing size, then by first member.
        """
        t = self._threshold(threshold)
        edges = self._edges.get(t)
        if edges is None:
            dp = self._doc_pairs(t)
            if dp is None:
                return []
            edges = (dp.a, dp.b, dp.score)
        doc_a, doc_b, scores = edges[0], edges[1], np.asarray(edges[2], dtype=np.float64)
        if not len(doc_a):
            return []
        keep = scores >= min_score
        if not keep.any():
            return []
        ea, eb, sc = np.asarray(doc_a, np.int64)[keep], np.asarray(doc_b, np.int64)[keep], scores[keep]
        n = len(self._ids)
        labels = components(n, np.stack([ea, eb], axis=1))
        members = sorted_unique(np.concatenate([ea, eb]))
        m_lab = labels[members]
        order = np.lexsort((members, m_lab))
        members, m_lab = members[order], m_lab[order]
        starts = np.flatnonzero(np.r_[True, m_lab[1:] != m_lab[:-1]])
        bounds = np.append(starts, len(members))
        e_lab = labels[ea]
        pair_count = np.bincount(e_lab, minlength=n)
        best = np.zeros(n, dtype=np.float64)
        np.maximum.at(best, e_lab, sc)
        ids = self._ids
        out = []
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            lab = int(m_lab[lo])
            out.append(Cluster(tuple(ids[d] for d in members[lo:hi].tolist()), int(pair_count[lab]), float(best[lab])))
        out.sort(key=lambda c: (-len(c.doc_ids), self._pos[c.doc_ids[0]]))
        return out

    def boilerplate(self) -> list[Boilerplate]:
        """Texts recognised as boilerplate, most widespread first."""
        analysis, live = self._analyze(self.config.threshold)
        if not len(analysis.boilerplate_groups):
            return []
        cols = self._columns()
        units = np.flatnonzero(analysis.unit_boilerplate)
        groups = analysis.unit_group[units]
        order = np.lexsort((live[units], groups))
        units, groups = units[order], groups[order]
        out = []
        cut = np.flatnonzero(groups[1:] != groups[:-1]) + 1
        for lo, hi in zip(np.concatenate([[0], cut]).tolist(), np.concatenate([cut, [len(groups)]]).tolist()):
            occ: dict[tuple[int, int], Occurrence] = {}
            for u in live[units[lo:hi]].tolist():
                d, p = int(cols["unit_doc"][u]), int(cols["unit_para"][u])
                if (d, p) not in occ:
                    occ[(d, p)] = Occurrence(self._ids[d], p, int(cols["unit_start"][u]), int(cols["unit_end"][u]))
            first = next(iter(occ.values()))
            g = int(groups[lo])
            out.append(
                Boilerplate(
                    self._text(self._pos[first.doc_id])[first.start : first.end],
                    int(analysis.group_docs[g]),
                    tuple(occ.values()),
                    float(analysis.group_coverage[g]),
                )
            )
        out.sort(key=lambda b: (-b.doc_count, b.text))
        return out

    # ------------------------------------------------------------------ passages

    def boilerplate_spans(self, doc_id: str) -> list[tuple[int, int]]:
        """Character spans of the text of ``doc_id`` recognised as boilerplate, in order."""
        d = self._doc(doc_id)
        analysis, live = self._analyze(self.config.threshold)
        cols = self._columns()
        units = live[analysis.unit_boilerplate]
        units = units[cols["unit_doc"][units] == d]
        spans = sorted(zip(cols["unit_start"][units].tolist(), cols["unit_end"][units].tolist()))
        merged: list[tuple[int, int]] = []
        for s, e in spans:
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((s, e))
        return merged

    def passages(self, a: str, b: str, *, include_boilerplate: bool = False, **options: Any) -> list[Any]:
        """Aligned reused passages between two indexed documents (see :func:`dedup.align.align`).

        Args:
            a, b: document ids.
            include_boilerplate: keep passages that lie mostly (over half, on either side) in
                boilerplate; they are dropped by default. With ``True`` the result is the same
                as ``align`` and :meth:`boilerplate_spans` tells which passages are boilerplate.
            **options: keyword options of :func:`dedup.align.align` (``shingle_size``,
                ``min_words``, ``max_gap``, ...).

        Returns:
            ``list[Passage]`` in order of ``a``, offsets into the stored texts.
        """
        from .align import align

        ta, tb = self.text(a), self.text(b)
        found = align(ta, tb, **options)
        if include_boilerplate:
            return found
        ba, bb = self.boilerplate_spans(a), self.boilerplate_spans(b)

        def mostly_in(s: int, e: int, spans: list[tuple[int, int]]) -> bool:
            inside = sum(max(0, min(e, y) - max(s, x)) for x, y in spans)
            return inside * 2 > (e - s)

        return [p for p in found if not (mostly_in(p.a_start, p.a_end, ba) or mostly_in(p.b_start, p.b_end, bb))]

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | Path, *, analyze: bool = False, query_table: bool = False) -> Path:
        """Write the index to directory ``path`` atomically; returns the path. See :mod:`dedup.storage`.

        The corpus analysis at the index's threshold (verified paragraph pairs, groups,
        boilerplate) is saved with the index whenever it has been computed (by ``pairs``,
        ``pair_table``, ``clusters``, ``boilerplate`` or ``query``); ``analyze=True`` computes it
        first if needed. An index loaded with its analysis answers those calls without analysing
        the corpus again (about 5 minutes at a million articles on 2 cores, 25 s at 100,000).

        ``query_table=True`` also saves the lookup table of queries (analysing first if needed):
        8 bytes per unit per band, about 10 GB at a million articles (a third more on disk), so
        that a loaded index answers its first query without building the table (about a minute
        at a million articles). Its pages are read from disk as queries touch them.
        """
        from .storage import save_index

        if not isinstance(analyze, bool) or not isinstance(query_table, bool):
            raise InvalidParameterError(f"analyze and query_table must be bools, got {analyze!r}, {query_table!r}")
        if analyze or query_table:
            self._analyze(self.config.threshold)
        return save_index(self, Path(path), query_table=query_table)

    @classmethod
    def load(cls, path: str | Path, *, mmap: bool = True, verify: bool = True) -> Index:
        """Load an index written by :meth:`save`.

        Args:
            path: the directory given to :meth:`save`.
            mmap: memory-map the arrays and texts (read when used) instead of reading them into
                RAM; default True.
            verify: check every file's xxh3-128 checksum, which reads the whole index once (about
                40 s for a million articles, 29 GB, on this project's test machine); default True.
                ``False`` checks sizes and structure only, for a trusted index that a service
                reloads often.
        """
        from .storage import load_index

        if not isinstance(mmap, bool) or not isinstance(verify, bool):
            raise InvalidParameterError(f"mmap and verify must be bools, got {mmap!r} and {verify!r}")
        return load_index(cls, Path(path), mmap=mmap, verify=verify)

    @property
    def analyzed(self) -> bool:
        """Whether the corpus analysis at the index's threshold is computed (or was loaded with the
        index): ``pairs``, ``pair_table``, ``clusters``, ``boilerplate`` and ``query`` then start at
        once. Any change to the index (add, remove, merge) clears it."""
        return float(self.config.threshold) in self._analysis

    @property
    def directory(self) -> Path | None:
        """The private work directory holding the index's files, or ``None`` when all is in RAM."""
        return self._workdir

    def close(self) -> None:
        """Delete the work files of an index built with ``directory`` (the index is unusable after)."""
        self._sigs.close()
        self._shingles.close()
        self._unit_keys.close()
        self._texts.close()
        if self._workdir is not None:
            self._cleanup()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def merge(self, other: Index) -> None:
        """Add every document of ``other``; both must share one configuration."""
        self.config.require_same(other.config, "the other index")
        recs = [(d, other.text(d), other.metadata(d)) for d in other]
        self.add_many(recs)


def _record_id(rec: Any) -> str:
    if isinstance(rec, tuple) and rec:
        return str(rec[0])
    if isinstance(rec, Mapping):
        return str(rec.get("id"))
    return "?"


#: validated records of one batch: (id, text, metadata)
_Batch = list[tuple[str, str, dict[str, Any]]]


class _Done(NamedTuple):
    """A featurized batch: its records, their texts in UTF-8 and their features.

    Its signatures come band-major in ``bands`` (see :func:`dedup.columns.band_major`) and
    ``feats.sig`` is empty.
    """

    batch: _Batch
    blobs: list[bytes]
    feats: Features
    bands: tuple[np.ndarray, np.ndarray]


def _featurize_job(config: IndexConfig, texts_at: Path, lengths: list[int], out: Path) -> Layout:
    """Featurize the texts in file ``texts_at``; the features go to file ``out``."""
    f = featurize(read_texts(texts_at, lengths), config, banded=True)
    assert f.bands is not None
    # the signatures first: a reader that keeps them mapped cuts the file after them
    arrays = {"sig_bands": f.bands[0], "sig_rest": f.bands[1]}
    arrays.update((fl.name, getattr(f, fl.name)) for fl in fields(f) if fl.name not in ("sig", "bands"))
    return write_arrays(out, arrays)


class _Featurizer:
    """Featurizes batches in order, in this process or in a pool of ``workers`` processes.

    Batches travel to and from the workers as files in RAM (:mod:`dedup.handoff`), not through
    the pool's pipe.
    """

    def __init__(self, config: IndexConfig, workers: int, map_signatures: bool = False) -> None:
        self.config = config
        self.workers = workers
        # signatures that go straight to the index's files are mapped from the handoff file,
        # not read into this process (see dedup.handoff.read_arrays); so are those of an index
        # in RAM while the handoff directory has room (see _collect)
        self.on_disk = map_signatures
        self.mapped = ("sig_bands", "sig_rest")
        self.pool: ProcessPoolExecutor | None = None
        self.scratch: HandoffDir | None = None
        self.pending: deque[tuple[_Batch, list[bytes], Path, Future[Layout]]] = deque()
        self.done: deque[_Done] = deque()

    def __enter__(self) -> _Featurizer:
        if self.workers > 1:
            ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
            self.scratch = HandoffDir()
            self.pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=keep_heap)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        if self.scratch is not None:
            self.scratch.close()

    def submit(self, batch: _Batch) -> None:
        texts = [t for _, t, _ in batch]
        blobs = [t.encode("utf-8", "surrogatepass") for t in texts]
        if self.pool is None or self.scratch is None:
            with small_pages():  # this is the caller's process (see dedup.heap.small_pages)
                feats = featurize(texts, self.config, banded=True)
            assert feats.bands is not None
            self.done.append(_Done(batch, blobs, feats, feats.bands))
        else:
            texts_at, out = self.scratch.new_file(), self.scratch.new_file()
            lengths = write_texts(texts_at, blobs)
            fut = self.pool.submit(_featurize_job, self.config, texts_at, lengths, out)
            self.pending.append((batch, blobs, out, fut))

    def _collect(self) -> _Done:
        batch, blobs, out, fut = self.pending.popleft()
        # An index in RAM keeps the mapped signatures of each batch until it merges its chunks
        # (Column.array): one copy of them instead of two (read here, then merged), about a
        # third of this process's work per batch. They hold their space in the handoff
        # directory until then, so only while it keeps MIN_RAM_FREE bytes free.
        keep_mapped = self.on_disk or (self.scratch is not None and self.scratch.has_room())
        arrays = read_arrays(out, fut.result(), self.mapped if keep_mapped else ())
        bands = (arrays.pop("sig_bands"), arrays.pop("sig_rest"))
        sig = np.empty((0, self.config.num_perm), dtype=np.uint32)
        # arrays holds exactly the array fields of Features (mypy cannot tell them from bands)
        return _Done(batch, blobs, Features(sig=sig, **arrays), bands)  # type: ignore[arg-type]

    def ready(self) -> Iterator[_Done]:
        """Finished batches in submission order; waits when too many are in flight."""
        while self.done:
            yield self.done.popleft()
        while self.pending and (self.pending[0][3].done() or len(self.pending) > 2 * self.workers):
            yield self._collect()

    def drain(self) -> Iterator[_Done]:
        yield from self.ready()
        while self.pending:
            yield self._collect()


def _side_coverage(cols: Mapping[str, np.ndarray], g: np.ndarray, units: np.ndarray, n_g: int) -> np.ndarray:
    """Words of one side covered by matched units, per group: a matched paragraph counts whole,
    otherwise its distinct matched sentences count."""
    key = sorted_unique(g << 32 | units.astype(np.int64))
    kg, ku = key >> 32, key & 0xFFFFFFFF
    para = cols["unit_para"][ku].astype(np.int64)
    is_par = cols["unit_kind"][ku] == 0
    nt = cols["unit_ntok"][ku].astype(np.int64)
    order = order_by(kg, para)  # only reduced per (group, paragraph): tie order is irrelevant
    kg, para, is_par, nt = kg[order], para[order], is_par[order], nt[order]
    cut = np.flatnonzero((kg[1:] != kg[:-1]) | (para[1:] != para[:-1])) + 1
    st = np.concatenate([[0], cut]).astype(np.int64)
    if not len(kg):
        return np.zeros(n_g, dtype=np.int64)
    has_par = np.maximum.reduceat(is_par, st)
    par_nt = np.maximum.reduceat(np.where(is_par, nt, 0), st)
    sent_nt = np.add.reduceat(np.where(is_par, 0, nt), st)
    cov = np.where(has_par, par_nt, sent_nt)
    return np.bincount(kg[st], weights=cov, minlength=n_g).astype(np.int64)


def _fold_block(shared: tuple[Any, ...], block: tuple[int, int]) -> tuple[Any, ...]:
    """:func:`_fold_paragraphs` of the document pairs ``block[0] .. block[1] - 1`` (the unit
    pairs of :meth:`Index._doc_pairs`, sorted by document pair); groups numbered as there."""
    cols, up, sims, exact, boiler, order, g_start, g_end = shared
    g0, g1 = block
    lo, hi = int(g_start[g0]), int(g_end[g1 - 1])
    g = np.repeat(np.arange(g1 - g0, dtype=np.int64), g_end[g0:g1] - g_start[g0:g1])
    part = _fold_paragraphs(
        cols, g, up[lo:hi, 0], up[lo:hi, 1], sims[lo:hi], exact[lo:hi], boiler[lo:hi], order[lo:hi], g1 - g0
    )
    return (part[0] + g0, *part[1:])


def _fold_paragraphs(
    cols: Mapping[str, np.ndarray],
    g: np.ndarray,
    ua: np.ndarray,
    ub: np.ndarray,
    sims: np.ndarray,
    is_exact: np.ndarray,
    boiler: np.ndarray,
    rank: np.ndarray,
    n_g: int,
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray, np.ndarray]:
    """Fold unit pairs into paragraph pairs, for all document pairs ``g`` at once.

    A paragraph pair's span is the two whole paragraphs when the paragraphs themselves matched,
    otherwise the smallest span covering its matched sentences; its similarity and exactness
    are the best unit pair's (ties: the lowest distinct ``rank``). Returns the group of each
    paragraph pair (sorted by group, a paragraph, b paragraph), its fields, and the covered
    words of each side per group.
    """
    pa = cols["unit_para"][ua].astype(np.int64)
    pb = cols["unit_para"][ub].astype(np.int64)
    whole = (cols["unit_kind"][ua] == 0) & (cols["unit_kind"][ub] == 0)
    sa, ea = cols["unit_start"][ua].astype(np.int64), cols["unit_end"][ua].astype(np.int64)
    sb, eb = cols["unit_start"][ub].astype(np.int64), cols["unit_end"][ub].astype(np.int64)
    order = order_by(g, pa, pb)
    g, pa, pb, whole = g[order], pa[order], pb[order], whole[order]
    sa, ea, sb, eb = sa[order], ea[order], sb[order], eb[order]
    sims, is_exact, boiler, rank = sims[order], is_exact[order], boiler[order], rank[order]
    cut = np.flatnonzero((g[1:] != g[:-1]) | (pa[1:] != pa[:-1]) | (pb[1:] != pb[:-1])) + 1
    st = np.concatenate([[0], cut]).astype(np.int64)
    # the best unit pair of each paragraph pair: highest similarity, then lowest rank
    n_in = np.diff(st, append=len(g))
    top = np.maximum.reduceat(sims, st)
    at_top = sims == np.repeat(top, n_in)
    first = np.minimum.reduceat(np.where(at_top, rank, np.iinfo(np.int64).max), st)
    best = np.flatnonzero(at_top & (rank == np.repeat(first, n_in)))
    any_whole = np.maximum.reduceat(whole, st)
    big = np.iinfo(np.int64).max
    # spans: the whole paragraphs where they matched, else the union of matched sentences
    w_sa = np.minimum.reduceat(np.where(whole, sa, big), st)
    w_ea = np.maximum.reduceat(np.where(whole, ea, -1), st)
    w_sb = np.minimum.reduceat(np.where(whole, sb, big), st)
    w_eb = np.maximum.reduceat(np.where(whole, eb, -1), st)
    span_sa = np.where(any_whole, w_sa, np.minimum.reduceat(sa, st))
    span_ea = np.where(any_whole, w_ea, np.maximum.reduceat(ea, st))
    span_sb = np.where(any_whole, w_sb, np.minimum.reduceat(sb, st))
    span_eb = np.where(any_whole, w_eb, np.maximum.reduceat(eb, st))
    # the table's column types: int32 indexes and spans (a document has at most
    # MAX_DOCUMENT_CHARS characters), similarity rounded to 6 decimals
    fields: list[Any] = [pa[st], pb[st], span_sa, span_ea, span_sb, span_eb]
    fields = [f.astype(np.int32) for f in fields]
    fields += [_round6(top), is_exact[best], np.logical_and.reduceat(boiler, st)]
    cov_a = _side_coverage(cols, g, ua[order], n_g)
    cov_b = _side_coverage(cols, g, ub[order], n_g)
    return g[st], fields, cov_a, cov_b


def _round6(x: np.ndarray, chunk: int = 1 << 18) -> np.ndarray:
    """``round(v, 6)`` of every value (Python's correctly rounded ``round``), float64.

    In numpy, with the same result: ``k = rint(v * 1e6)`` is the decimal ``round`` picks unless
    ``v * 1e6`` lies within 1e-6 of a half (a tie, or near enough for the product's rounding
    error to matter: that error is below 1e-7 for ``|v| <= 1000``), and ``k / 1e6`` is then the
    float nearest that decimal (both operands exact, the division correctly rounded), as
    ``round`` returns. The values near a half, above 1000 or not finite (few: scores and
    similarities lie in [0, 1]) go through ``round`` itself, in chunks (a Python float per value
    for a whole column took 8 s at a million articles, 43aa0e9).
    """
    v = np.asarray(x, dtype=np.float64)
    out = v * 1e6
    with np.errstate(invalid="ignore"):  # inf - inf: such values take the slow path
        frac = out - np.floor(out)
    np.rint(out, out=out)
    out /= 1e6
    slow = np.flatnonzero(~(np.abs(v) <= 1000.0) | (np.abs(frac - 0.5) < 1e-6))
    for lo in range(0, len(slow), chunk):
        at = slow[lo : lo + chunk]
        out[at] = list(map(round, v[at].tolist(), repeat(6)))
    return out


def _empty_table(doc_ids: tuple[str, ...]) -> PairTable:
    cols = {c: np.empty(0, dtype=np.int64) for c in ("a", "b")}
    cols.update({c: np.empty(0, dtype=np.int32) for c in PairTable.MATCH_COLUMNS[:6]})
    cols.update({c: np.empty(0, dtype=np.float64) for c in ("score", "a_coverage", "b_coverage", "similarity")})
    cols.update({c: np.empty(0, dtype=bool) for c in ("exact", "boilerplate")})
    return PairTable(doc_ids=doc_ids, offsets=np.zeros(1, dtype=np.int64), **cols)


def _scores(cov_a: np.ndarray, cov_b: np.ndarray, n_a: Any, n_b: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores of document pairs from their covered words and lengths (in tokens), with each
    side's covered share: ``(score, a_coverage, b_coverage)``, float64.

    The score is the larger share, at most 1, rounded to 6 decimals (Python's ``round``); the
    same numbers for query matches and for pairs.
    """
    frac_a = cov_a / np.maximum(n_a, 1)
    frac_b = cov_b / np.maximum(n_b, 1)
    return _round6(np.minimum(1.0, np.maximum(frac_a, frac_b))), np.minimum(1.0, frac_a), np.minimum(1.0, frac_b)


def _empty_column(name: str, config: IndexConfig) -> np.ndarray:
    if name == "unit_kind":
        return np.empty(0, dtype=np.uint8)
    if name in ("para_sh0", "unit_sh0"):
        return np.empty(0, dtype=np.int64)
    return np.empty(0, dtype=np.int32)
