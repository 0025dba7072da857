"""Corpus-wide analysis: verified unit pairs, groups of recurring text, boilerplate.

Steps, each vectorized over all units:

1. LSH candidates: units sharing a band bucket (large buckets linked as stars, see
   :func:`dedup.lsh.bucket_pairs`), pairs inside one document dropped.
2. Verification: the MinHash estimate of Jaccard; estimates near the threshold are replaced
   by the exact Jaccard of the two shingle sets (``exact`` callback).
3. Groups: connected components of verified pairs; a group is one text recurring in several
   documents (a story paragraph, a quote, a newsletter blurb).
4. Boilerplate: a group found in at least ``boilerplate_min_docs`` documents, where the median
   carrying document shares at most ``boilerplate_max_coverage`` of its words with any other
   document. Outlet boilerplate recurs across articles that otherwise share nothing; a story
   reprinted by fifty outlets is carried by documents that share most of their words, so it is
   reuse however many documents contain it.
5. Pairs: inside every group that is not boilerplate, every unit pair from different documents
   is verified (this also recovers pairs LSH missed but that are linked through a third copy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from . import native
from .config import IndexConfig
from .heap import release_heap
from .lsh import Bands, Twins, bucket_pairs, key_pairs, pair_keys, run_pairs, twin_rows
from .parallel import fork_map, threads_preferred
from .shingles import ramp, sorted_unique

__all__ = ["Analysis", "analyze", "components", "verify_pairs", "AMBIGUOUS_BELOW", "AMBIGUOUS_ABOVE"]

#: Estimates in ``[threshold - AMBIGUOUS_BELOW, threshold + AMBIGUOUS_ABOVE)`` are re-checked
#: with the exact Jaccard. With 128 permutations the estimate's standard deviation is at most
#: 0.044, so a pair outside the window is on the right side of the threshold with near certainty.
AMBIGUOUS_BELOW = 0.15
AMBIGUOUS_ABOVE = 0.1

#: Candidate pairs with an estimate at least ``threshold - EDGE_SLACK`` link units into groups.
EDGE_SLACK = 0.05

#: Estimated Jaccard from which two units count as similar text when judging boilerplate.
SIMILAR_TEXT = 0.25

#: LSH buckets with more units than this are linked as stars instead of all pairs.
MAX_BUCKET_PAIRS = 64
#: Groups with more units than this are not expanded to all their pairs (their LSH pairs stay).
MAX_GROUP_EXPAND = 3000

#: (document, group, group) triples per chunk when judging boilerplate (bounds that step's memory).
COVERAGE_CHUNK = 8_000_000

ExactFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
EstimateFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


class Signatures(Bands, Protocol):
    """Signatures of units ``0 .. n - 1``: readable band by band, with pairwise estimates."""

    def estimate(self, a: np.ndarray, b: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Analysis:
    """Result of :func:`analyze` over the units ``0 .. n_units - 1``.

    Attributes:
        pairs: ``(m, 2)`` verified unit pairs (lo, hi; int32 or int64), different documents,
            not boilerplate, sorted.
        sims: float32 similarity of each pair.
        exact: bool, whether ``sims`` is exact for that pair.
        unit_group: int64 group id of every unit (singleton groups included).
        unit_boilerplate: bool, unit belongs to a boilerplate group.
        boilerplate_groups: int64 ids of boilerplate groups.
        group_docs: number of documents of every group.
        group_coverage: median coverage of the documents carrying each group.
        doc_coverage: share of each document's words shared with any other document.
        boilerplate_pairs: ``(m, 2)`` verified pairs inside boilerplate groups (stars).
    """

    pairs: np.ndarray
    sims: np.ndarray
    exact: np.ndarray
    unit_group: np.ndarray
    unit_boilerplate: np.ndarray
    boilerplate_groups: np.ndarray
    group_docs: np.ndarray
    group_coverage: np.ndarray
    doc_coverage: np.ndarray
    boilerplate_pairs: np.ndarray


def verify_pairs(
    estimate: EstimateFn,
    threshold: float,
    exact: ExactFn | None,
    idx_a: np.ndarray,
    idx_b: np.ndarray,
    exact_all: bool = False,
    est: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Similarity of candidate pairs; returns ``(accepted, sims, is_exact)``.

    ``estimate(idx_a, idx_b)`` gives the MinHash estimates of the pairs; ``est`` may hold some
    of them already (float32, NaN where unknown: only those are estimated). Estimates near the
    threshold (or, with ``exact_all``, every estimate that could pass) are replaced by the exact
    Jaccard from ``exact``.
    """
    m = len(idx_a)
    if est is None:
        est = np.asarray(estimate(idx_a, idx_b), dtype=np.float32) if m else np.empty(0, dtype=np.float32)
    else:
        est = np.array(est, dtype=np.float32)
        todo = np.flatnonzero(np.isnan(est))
        if len(todo):
            est[todo] = estimate(idx_a[todo], idx_b[todo])
    is_exact = np.zeros(m, dtype=bool)
    if exact is not None and m:
        upper = np.inf if exact_all else threshold + AMBIGUOUS_ABOVE
        amb = np.flatnonzero((est >= threshold - AMBIGUOUS_BELOW) & (est < upper))
        if len(amb):
            est[amb] = exact(idx_a[amb], idx_b[amb])
            is_exact[amb] = True
    return est >= threshold - 1e-9, est, is_exact


class _Memo:
    """Remembers exact similarities already computed, so a pair is never computed twice."""

    def __init__(self, fn: ExactFn) -> None:
        self.fn = fn
        self.keys = np.empty(0, dtype=np.int64)
        self.vals = np.empty(0, dtype=np.float32)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        key = a.astype(np.int64) << 32 | b.astype(np.int64)
        out = np.empty(len(key), dtype=np.float32)
        pos = np.minimum(np.searchsorted(self.keys, key), max(len(self.keys) - 1, 0))
        hit = self.keys[pos] == key if len(self.keys) else np.zeros(len(key), dtype=bool)
        out[hit] = self.vals[pos[hit]]
        miss = np.flatnonzero(~hit)
        if len(miss):
            out[miss] = self.fn(a[miss], b[miss])
            keys = np.concatenate([self.keys, key[miss]])
            vals = np.concatenate([self.vals, out[miss]])
            order = np.argsort(keys)  # a repeated key has the same value: tie order is irrelevant
            self.keys, self.vals = keys[order], vals[order]
        return out


#: Candidate pairs from which :func:`_estimates` shares their reduction to pairs of twin groups
#: out among the workers (a sort: about 70 ms per million pairs, against a few ms per fork).
PARALLEL_MIN_ESTIMATES = 1 << 19
#: The same where the analysis runs its parallel steps in threads (an index in RAM): a thread
#: costs a few hundred microseconds, not a fork of the process.
PARALLEL_MIN_ESTIMATES_THREADS = 1 << 16


def _estimates(
    estimate: EstimateFn, rep: np.ndarray | None, pairs: np.ndarray, workers: int = 1, chunk: int = 1 << 24
) -> np.ndarray:
    """MinHash estimates (float32) of the ``(m, 2)`` candidate ``pairs``, the analysis' largest
    array, with one call of ``estimate`` (which reads the signatures band by band: a call per
    chunk of pairs read every band of a million-article index once per chunk, 32 x 600 MB).

    With twin groups (``rep``: each unit's group's first unit; equal shingle sets, hence equal
    signatures) a pair inside a group is 1 without signatures, and the others are estimated
    once per pair of groups, on the groups' first units: ``chunk`` pairs at a time are reduced
    to their distinct pairs of groups (sorting one chunk, not all the pairs: at 20,000 articles
    the 866,707 pairs between groups are 258,573 pairs of groups, and 322,592 when cut in 19
    chunks). The chunks are shared out among ``workers`` forked processes.
    """
    if rep is None:
        return np.asarray(estimate(pairs[:, 0], pairs[:, 1]), dtype=np.float32)
    return _per_group_pair(estimate, rep, pairs[:, 0], pairs[:, 1], _share(len(pairs), chunk, workers), workers)


def _share(m: int, chunk: int, workers: int) -> int:
    """Pairs per chunk for :func:`_per_group_pair`: at most ``chunk``, and with workers (and
    enough pairs to be worth a fork, or threads where the caller prefers them) at least one
    chunk each."""
    least = PARALLEL_MIN_ESTIMATES_THREADS if threads_preferred() else PARALLEL_MIN_ESTIMATES
    return max(1, min(chunk, -(-m // max(workers, 1)) if m >= least else m))


def _per_group_pair(
    fn: ExactFn, rep: np.ndarray, a: np.ndarray, b: np.ndarray, chunk: int, workers: int = 1
) -> np.ndarray:
    """``fn`` of the pairs ``(a[i], b[i])`` computed once per pair of twin groups per ``chunk``
    pairs, on the groups' first units, in one call; 1 inside a group (float32). The chunks'
    reduction to pairs of groups is shared out among ``workers`` forked processes."""
    spans = [(lo, min(len(a), lo + chunk)) for lo in range(0, len(a), chunk)]
    parts = list(fork_map(_distinct_group_pairs, (rep, a, b), spans, workers))
    out = np.ones(len(a), dtype=np.float32)
    distinct = np.concatenate([p[2] for p in parts]) if parts else np.empty(0, np.int64)
    if not len(distinct):
        return out
    vals = np.asarray(fn(distinct >> 32, distinct & 0xFFFFFFFF), dtype=np.float32)
    del distinct
    base = 0
    for (lo, hi), (apart, which, d) in zip(spans, parts):
        part = out[lo:hi]
        part[apart] = vals[base + which]
        base += len(d)
    return out


def _distinct_group_pairs(shared: tuple[np.ndarray, ...], span: tuple[int, int]) -> tuple[Any, ...]:
    """Of the pairs ``(a[i], b[i])``, ``lo <= i < hi``, those between two twin groups:
    ``(apart, which, distinct)``, a mask of them, the index of each one's pair of groups in
    ``distinct``, and those pairs of groups as sorted ``lo << 32 | hi`` keys of the groups'
    first units (``rep``)."""
    rep, a, b = shared
    lo, hi = span
    ra, rb = rep[a[lo:hi]], rep[b[lo:hi]]
    apart = ra != rb
    ra, rb = ra[apart], rb[apart]
    key = pair_keys(ra, rb)
    del ra, rb
    distinct, which = np.unique(key, return_inverse=True)
    return apart, which.astype(np.int32 if len(distinct) < 2**31 else np.int64), distinct


def _by_twins(fn: ExactFn, rep: np.ndarray, chunk: int = 1 << 22, workers: int = 1) -> ExactFn:
    """``fn`` (a similarity of unit pairs) computed once per pair of twin groups.

    Units of one twin group (``rep``: the group's first unit, for every unit) have equal shingle
    sets and signatures, so a pair's similarity, exact or estimated, is that of the pair of their
    groups' first units, and 1 inside a group. In the 20,000-article corpus the 231,012 pairs
    sent to exact Jaccard are 67,305 pairs of groups. Pairs are reduced to their pairs of groups
    ``chunk`` at a time (bounds the sort; repeats across chunks are computed again), and ``fn``
    is called once for all of them (a MinHash estimate reads every band of the signatures per
    call). The reduction is shared out among ``workers`` as in :func:`_estimates`.
    """

    def by_group(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _per_group_pair(fn, rep, a, b, _share(len(a), chunk, workers), workers)

    return by_group


def components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected components of the graph of ``n`` nodes and the (lo, hi) ``pairs`` as edges.

    Labels number the components by their smallest node. The graph goes to scipy as a CSR
    matrix built straight from the pairs (sorted by lo, as the analysis makes them) with a
    stride-0 view for the all-ones weights: no COO copy and no float64 weight array, about a
    quarter less peak memory than a COO matrix (12 million edges: 444 -> 336 MB).
    """
    if len(pairs) == 0:
        return np.arange(n, dtype=np.int64)
    kernels = native.kernels()
    if kernels is not None:  # union-find in C: the same labels, no graph built
        return kernels.components(n, pairs)
    rows = pairs[:, 0]
    if len(rows) > 1 and not bool((rows[1:] >= rows[:-1]).all()):
        pairs = pairs[np.argsort(rows, kind="stable")]
        rows = pairs[:, 0]
    idx = np.int32 if max(n, len(pairs)) < 2**31 else np.int64
    indptr = np.zeros(n + 1, dtype=idx)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    indices = np.ascontiguousarray(pairs[:, 1], dtype=idx)
    ones = np.broadcast_to(np.float64(1.0), (len(indices),))
    g = csr_matrix((ones, indices, indptr), shape=(n, n), copy=False)
    _, labels = connected_components(g, directed=False)
    return labels.astype(np.int64)


def _components_over(
    unit_group: np.ndarray, pairs: np.ndarray, sel: np.ndarray, chunk: int = 1 << 22
) -> np.ndarray:
    """``components(n, pairs[sel])`` when each group of ``unit_group`` (labels from
    :func:`components`) is already connected by the selected pairs.

    The graph is contracted to the groups first: only selected pairs between two groups are
    kept (a few percent of them), read in chunks. The labels are the same as the direct
    computation's (groups are numbered by their smallest unit, so the smallest group of a
    component holds its smallest unit), without copying the selected pairs or handing scipy a
    graph of all of them (22 bytes per edge of transient memory there: 1.3 GB at a million
    articles, the step that set the analysis' peak). With the compiled kernels, union-find runs
    over the selected pairs in place instead (no contraction, no copy).
    """
    kernels = native.kernels()
    if kernels is not None and len(pairs):  # union-find over the selected pairs where they lie
        return kernels.components(len(unit_group), pairs, sel)
    n_groups = int(unit_group.max()) + 1 if len(unit_group) else 0
    parts = [np.empty(0, dtype=np.int64)]
    for lo in range(0, len(pairs), chunk):
        p = pairs[lo : lo + chunk][sel[lo : lo + chunk]]
        ga, gb = unit_group[p[:, 0]], unit_group[p[:, 1]]
        between = ga != gb
        parts.append(pair_keys(ga[between], gb[between]))
    keys = sorted_unique(np.concatenate(parts))
    return components(n_groups, key_pairs(keys, n_groups))[unit_group]


def _group_pairs(groups: np.ndarray, members_sorted: np.ndarray, max_size: int, unit_doc: np.ndarray) -> np.ndarray:
    """``lo << 32 | hi`` keys of all pairs of units from different documents inside each group of
    size 2..max_size (unsorted; one group size at a time, so temporaries stay small)."""
    starts, sizes = _segments(groups)
    keep = (sizes >= 2) & (sizes <= max_size)
    out = run_pairs(members_sorted, starts[keep], sizes[keep], unit_doc)
    return np.concatenate(out) if out else np.empty(0, dtype=np.int64)


def _union_known(expanded: np.ndarray, known: np.ndarray, known_est: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted unique pair keys of ``expanded`` (unsorted; sorted here, in place) and
    ``known`` (sorted), and the estimate of each from ``known_est`` where it is known, else NaN.
    With the compiled kernels one merge gives both; numpy sorts the concatenation and looks the
    known keys up in it."""
    expanded.sort()
    kernels = native.kernels()
    if kernels is not None:
        return kernels.union_values(expanded, known, known_est)
    keys = np.concatenate([expanded, known])
    keys.sort(kind="stable")  # two sorted runs: merged, not sorted again
    keys = sorted_unique(keys, presorted=True)
    return keys, _lookup(known, known_est, keys)


def _lookup(keys: np.ndarray, values: np.ndarray, want: np.ndarray) -> np.ndarray:
    """``values`` of the keys ``want`` found in ``keys``; NaN elsewhere. Both are sorted and
    unique, and every key is one of ``want``: the keys are placed into ``want``, the shorter
    search of the two."""
    out = np.full(len(want), np.nan, dtype=np.float32)
    if len(keys):
        out[np.searchsorted(want, keys)] = values
    return out


def _segments(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start index and length of each run of equal values in a sorted array.

    One bool per value and the two results, no other array of the input's length (it is
    called on unit-level arrays of 40 million values at a million articles).
    """
    n = len(sorted_keys)
    if n == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    first = np.empty(n, dtype=bool)
    first[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    del first
    lengths = np.empty(len(starts), dtype=np.int64)
    np.subtract(starts[1:], starts[:-1], out=lengths[:-1])
    lengths[-1] = n - starts[-1]
    return starts, lengths


def order_by(*keys: np.ndarray) -> np.ndarray:
    """An order sorting rows by the non-negative integer ``keys`` (the first one major).

    Rows whose keys are all equal come in an unspecified order: callers only reduce over such
    rows, or break ties themselves. When the keys fit in 63 bits together, one argsort of the
    packed keys (7-15x faster than ``np.lexsort`` on a million rows, which sorts once per key,
    stably); else ``np.lexsort``.
    """
    n = len(keys[0])
    bits = [int(k.max()).bit_length() if n else 0 for k in keys]
    if sum(bits) > 63:
        return np.lexsort(keys[::-1])
    packed = np.zeros(n, dtype=np.int64)
    for k, b in zip(keys, bits):
        packed <<= b
        packed |= k
    return np.argsort(packed)


def _incidence(
    unit_group: np.ndarray, unit_doc: np.ndarray, unit_ntok: np.ndarray, n_groups: int, n_docs: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (group, document) pairs present among the units, sorted, and the summed tokens of each
    document's units in that group: ``(inc_g, inc_d, inc_tok)``, int32 where the values fit (half
    the memory of int64: 400 MB less at a million articles, where this step's arrays are live
    through the analysis' peak), else int64.

    Group, document and token count are packed into one int64 per unit and sorted in place (one
    unit-level array instead of a key, an argsort and two gathers) whenever they fit in 63 bits.
    """
    bd = max(1, (n_docs - 1).bit_length())
    bt = 63 - max(1, (n_groups - 1).bit_length()) - bd
    top = int(unit_ntok.max()) if len(unit_ntok) else 0
    if bt >= 1 and 0 <= top < (1 << bt) and (not len(unit_ntok) or int(unit_ntok.min()) >= 0):
        key = unit_group.astype(np.int64)
        key <<= bd
        key |= unit_doc
        key <<= bt
        key |= unit_ntok
        key.sort()
        gd = key >> bt
        st, _ = _segments(gd)
        inc = gd[st]
        del gd, _
        key &= (1 << bt) - 1
        inc_tok = np.add.reduceat(key, st) if len(st) else np.empty(0, np.int64)
        del key
        return _compact(inc >> bd), _compact(inc & ((1 << bd) - 1)), _compact(inc_tok)
    gd_key = unit_group.astype(np.int64) << 32 | unit_doc.astype(np.int64)
    order = np.argsort(gd_key, kind="stable")
    gd_sorted = gd_key[order]
    st, _ = _segments(gd_sorted)
    inc_key = gd_sorted[st]
    inc_tok = np.add.reduceat(unit_ntok[order].astype(np.int64), st) if len(st) else np.empty(0, np.int64)
    return _compact(inc_key >> 32), _compact(inc_key & 0xFFFFFFFF), _compact(inc_tok)


def _compact(a: np.ndarray) -> np.ndarray:
    """``a`` (non-negative integers) as int32 when every value fits, else unchanged."""
    if not len(a) or int(a.max()) < 2**31:
        return a.astype(np.int32)
    return a


def _group_docs(unit_group: np.ndarray, unit_doc: np.ndarray, n_groups: int, n_docs: int) -> np.ndarray:
    """Number of distinct documents among the units of each group (int64, ``n_groups``).

    One packed (group, document) key per unit, sorted in place; the group of each distinct key
    is counted. Two unit-level arrays at most (what :func:`_incidence` needs five for; at a
    million articles that step set the analysis' peak memory).
    """
    if not len(unit_group):
        return np.zeros(n_groups, dtype=np.int64)
    bd = max(1, (n_docs - 1).bit_length())
    if max(1, (n_groups - 1).bit_length()) + bd > 63:  # keys do not pack: the general incidence
        inc_g, _, _ = _incidence(unit_group, unit_doc, np.zeros(len(unit_group), np.int64), n_groups, n_docs)
        return np.bincount(inc_g, minlength=n_groups).astype(np.int64)
    key = unit_group.astype(np.int64)
    key <<= bd
    key |= unit_doc
    key.sort()
    g = sorted_unique(key, presorted=True)  # the distinct (group, document) keys
    del key
    g >>= bd
    return np.bincount(g, minlength=n_groups).astype(np.int64)


def _coverage(
    unit_group: np.ndarray,
    unit_doc: np.ndarray,
    unit_kind: np.ndarray,
    unit_ntok: np.ndarray,
    unit_para_global: np.ndarray,
    para_ntok: np.ndarray,
    doc_ntok: np.ndarray,
    min_docs: int,
    workers: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coverage figures behind the boilerplate rule (chunks of groups shared out among
    ``workers`` forked processes; the figures do not depend on it).

    Returns ``(doc_coverage, group_docs, group_coverage)``: the share of each document's words
    shared with any other document; the number of documents of each group; and for each group
    carried by at least ``min_docs`` documents, the median over its documents d of the share of
    d's words that d shares *with the other documents of that group* (texts h with
    ``|docs(h) & docs(g)| >= 2``). Outlet boilerplate scores low even in articles that reprint
    a story, because the story's other copies are elsewhere; a reprinted story scores high.
    """
    n_docs = len(doc_ntok)
    n_groups = int(unit_group.max()) + 1 if len(unit_group) else 0
    doc_len = np.maximum(doc_ntok, 1).astype(np.float64)
    # (group, doc) incidence with the words of the document in that group
    inc_g, inc_d, inc_tok = _incidence(unit_group, unit_doc, unit_ntok, n_groups, n_docs)
    group_docs = np.bincount(inc_g, minlength=n_groups)
    shared = group_docs[inc_g] >= 2
    # share of each document's words shared with any other document (paragraph level)
    matched = group_docs[unit_group] >= 2
    is_par = unit_kind == 0
    sent = ~is_par & matched
    # the matched sentences' words per paragraph (bincount: the sums np.add.at gives, unbuffered)
    para_cov = np.bincount(
        unit_para_global[sent], weights=unit_ntok[sent].astype(np.float64), minlength=len(para_ntok)
    )
    pu = is_par & matched
    para_cov[unit_para_global[pu]] = para_ntok[unit_para_global[pu]]
    para_cov = np.minimum(para_cov, para_ntok)
    para_doc = np.zeros(len(para_ntok), dtype=np.int64)
    para_doc[unit_para_global] = unit_doc
    doc_cov = np.bincount(para_doc, weights=para_cov, minlength=n_docs) / doc_len

    group_cov = np.ones(n_groups, dtype=np.float64)
    cand = group_docs >= min_docs
    if not cand.any():
        return doc_cov, group_docs, group_cov
    # shared incidence sorted by document: each document's shared groups
    sg, sd, stok = inc_g[shared], inc_d[shared], inc_tok[shared]
    o = order_by(sd, sg)  # (document, group) pairs are distinct: the same order as a stable sort
    sg, sd, stok = sg[o], sd[o], stok[o]
    gids, g_local = np.unique(sg, return_inverse=True)
    m = csr_matrix((np.ones(len(sg), np.float32), (g_local, sd)), shape=(len(gids), n_docs))
    dst, dln = _segments(sd)
    doc_of = np.repeat(np.arange(len(dst)), dln)  # document segment of every incidence
    # Candidate groups are handled in chunks of at most COVERAGE_CHUNK (document, group, group)
    # triples: the triples of a group carried by many documents, each sharing many texts, are
    # the largest arrays of the analysis (tens of millions at a million articles).
    cand_ci = np.flatnonzero(cand[gids[g_local]])
    reps_all = dln[doc_of[cand_ci]]
    by_group = np.argsort(g_local[cand_ci], kind="stable")
    cand_ci, reps_all = cand_ci[by_group], reps_all[by_group]
    gst, gln = _segments(g_local[cand_ci])
    cost = np.add.reduceat(reps_all, gst) if len(gst) else np.zeros(0, np.int64)
    cum = np.cumsum(cost)
    # with workers, at least two chunks each (a chunk's cost is known only roughly)
    total = int(cum[-1]) if len(cum) else 0
    limit = COVERAGE_CHUNK if workers < 2 else max(1, min(COVERAGE_CHUNK, total // (2 * workers) + 1))
    bounds = []
    lo_g = 0
    while lo_g < len(gst):
        base_cost = cum[lo_g - 1] if lo_g else 0
        hi_g = max(lo_g + 1, int(np.searchsorted(cum, base_cost + limit, side="right")))
        bounds.append((int(gst[lo_g]), int(gst[hi_g - 1] + gln[hi_g - 1])))
        lo_g = hi_g
    shared = (cand_ci, g_local, sd, sg, stok, m, dst, dln, doc_of, doc_len, len(gids))
    for groups, cov in fork_map(_chunk_coverage, shared, bounds, workers):
        group_cov[groups] = cov
    return doc_cov, group_docs, group_cov


def _chunk_coverage(shared: tuple[Any, ...], bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Median coverage of the candidate groups of one chunk, the incidences
    ``cand_ci[bounds[0]:bounds[1]]``: ``(groups, coverage)``; see :func:`_coverage`."""
    cand_ci, g_local, sd, sg, stok, m, dst, dln, doc_of, doc_len, n_gids = shared
    ci = np.sort(cand_ci[bounds[0] : bounds[1]])
    cand_local = np.unique(g_local[ci])
    cand_row = np.full(n_gids, -1, dtype=np.int64)
    cand_row[cand_local] = np.arange(len(cand_local))
    co = (m[cand_local] @ m.T).tocoo()
    # triples (doc d, candidate g in d, shared group h in d)
    doc_of_ci = doc_of[ci]
    reps = dln[doc_of_ci]
    trip_c = np.repeat(ci, reps)
    trip_h = np.repeat(dst[doc_of_ci], reps) + ramp(reps)
    rows = cand_row[g_local[trip_c]]
    cols = g_local[trip_h]
    two = co.data >= 2
    co_key = np.sort(co.row[two].astype(np.int64) * n_gids + co.col[two].astype(np.int64))
    del co
    want = rows * n_gids + cols
    both = np.zeros(len(want), dtype=bool)
    if len(co_key):
        pos = np.minimum(np.searchsorted(co_key, want), len(co_key) - 1)
        both = co_key[pos] == want
    cov_ci = (
        np.bincount(np.searchsorted(ci, trip_c[both]), weights=stok[trip_h[both]], minlength=len(ci)) / doc_len[sd[ci]]
    )
    cov_ci = np.minimum(cov_ci, 1.0)
    # median per candidate group
    g_ci = sg[ci]
    o = np.lexsort((cov_ci, g_ci))
    g_sorted, c_sorted = g_ci[o], cov_ci[o]
    gst, gln = _segments(g_sorted)
    lo = gst + (gln - 1) // 2
    hi = gst + gln // 2
    return g_sorted[gst], (c_sorted[lo] + c_sorted[hi]) / 2


def analyze(
    *,
    config: IndexConfig,
    threshold: float,
    sig: Signatures,
    unit_doc: np.ndarray,
    unit_para_global: np.ndarray,
    unit_kind: np.ndarray,
    unit_ntok: np.ndarray,
    para_ntok: np.ndarray,
    doc_ntok: np.ndarray,
    exact: ExactFn | None,
    workers: int = 1,
    twins: Callable[[], Twins | None] | None = None,
) -> Analysis:
    """Run the corpus-wide analysis over all units (see the module docstring).

    ``workers`` processes share out the LSH bands; the result does not depend on it.
    ``twins`` may give a function returning :func:`dedup.lsh.twin_groups` of the units'
    :func:`dedup.shingles.set_keys` (called once, so the keys it reads are freed before the
    analysis' largest steps): units of one group have equal shingle sets and signatures, which
    LSH then buckets once (:func:`dedup.lsh.bucket_pairs`), and whose similarities are 1 inside
    a group and otherwise computed once per pair of groups (:func:`_by_twins`). The result does
    not depend on it.
    """
    n = len(unit_doc)
    tw = twins() if twins is not None else None
    estimate: EstimateFn = sig.estimate
    rep = None
    if tw is not None:
        # The candidates' estimates only skip the pairs inside a twin group (_estimates):
        # finding the distinct pairs of groups among all of them would sort every candidate,
        # the analysis' largest array (a gigabyte more at a million articles). The fewer pairs
        # that get an exact Jaccard, and the final estimates, are computed per pair of groups.
        rep = twin_rows(tw, n)
        estimate = _by_twins(estimate, rep, workers=workers)
        if exact is not None:
            exact = _by_twins(exact, rep, workers=workers)
    if exact is not None:
        exact = _Memo(exact)
    cand = bucket_pairs(sig, None, MAX_BUCKET_PAIRS, groups=unit_doc, workers=workers, twins=tw)
    del tw
    # Grouping needs no exact check: every pair reported is verified again below, exactly where
    # the estimate is ambiguous; a slightly loose edge only lets a group propose more pairs.
    est = _estimates(sig.estimate, rep, cand, workers)
    del rep
    # The candidates' steps free many arrays under glibc's mmap threshold (up to 32 MB): their
    # pages stay in the process, about 0.8 GB at a million articles, unless handed back.
    release_heap()
    # Boilerplate is judged on looser groups of *similar* text (estimate >= SIMILAR_TEXT), so
    # that edited copies of a story count as shared between its carriers. Only candidates that
    # are edges of either graph are kept: the candidates and their estimates are the largest
    # arrays of the analysis and are freed before the graphs are built.
    loose_cut = min(threshold, SIMILAR_TEXT)
    # Rows of the (m, 2) pair arrays are selected with np.compress / np.take along axis 0:
    # numpy's a[mask] and a[index] take a generic path on 2-D arrays, 4-10x slower (1.3
    # million candidates at 20,000 articles: 26 -> 5 ms per mask).
    keep = est >= min(loose_cut, threshold - EDGE_SLACK)
    cand, est = np.compress(keep, cand, axis=0), est[keep]
    del keep
    is_edge = est >= threshold - EDGE_SLACK
    edges, edge_est = np.compress(is_edge, cand, axis=0), est[is_edge]  # sorted (lo, hi), as cand
    del is_edge
    unit_group = components(n, edges)
    loose_sel = est >= loose_cut
    del est
    if threshold - EDGE_SLACK >= loose_cut:  # every edge of the groups is a loose edge too
        loose = _components_over(unit_group, cand, loose_sel)
    else:
        loose = components(n, np.compress(loose_sel, cand, axis=0))
    del cand, loose_sel
    release_heap()
    doc_cov, loose_docs, loose_cov = _coverage(
        loose,
        unit_doc,
        unit_kind,
        unit_ntok,
        unit_para_global,
        para_ntok,
        doc_ntok,
        config.boilerplate_min_docs,
        workers,
    )
    boiler_loose = (loose_docs >= config.boilerplate_min_docs) & (loose_cov <= config.boilerplate_max_coverage)
    unit_boiler = boiler_loose[loose]
    del boiler_loose, loose_docs
    release_heap()
    n_groups = int(unit_group.max()) + 1 if n else 0
    group_cov = np.ones(n_groups, dtype=np.float64)
    group_cov[unit_group] = loose_cov[loose]
    del loose, loose_cov  # unit-level labels: freed before the largest steps below
    group_docs = _group_docs(unit_group, unit_doc, n_groups, len(doc_ntok))
    boiler = np.zeros(n_groups, dtype=bool)
    boiler[unit_group[unit_boiler]] = True
    unit_boiler = boiler[unit_group]

    # pairs inside non-boilerplate groups
    members = np.flatnonzero(~unit_boiler & (group_docs[unit_group] >= 2))
    members = members[order_by(unit_group[members], members)]  # by group, then unit
    expanded = _group_pairs(unit_group[members], members, MAX_GROUP_EXPAND, unit_doc)
    del members
    not_boiler = ~unit_boiler[edges[:, 0]]
    kept_edges = np.compress(not_boiler, edges, axis=0)
    known = pair_keys(kept_edges[:, 0], kept_edges[:, 1])  # sorted, as edges
    del kept_edges
    known_est = edge_est[not_boiler]
    del edge_est, not_boiler
    # the estimates of LSH pairs are known already: only pairs found by group expansion need one
    keys, est_known = _union_known(expanded, known, known_est)
    del expanded, known, known_est
    allp = key_pairs(keys, n)
    del keys
    ok, sims, is_exact = verify_pairs(estimate, threshold, exact, allp[:, 0], allp[:, 1], est=est_known)
    return Analysis(
        pairs=np.compress(ok, allp, axis=0),
        sims=sims[ok],
        exact=is_exact[ok],
        unit_group=unit_group,
        unit_boilerplate=unit_boiler,
        boilerplate_groups=np.flatnonzero(boiler),
        group_docs=group_docs,
        group_coverage=group_cov,
        doc_coverage=doc_cov,
        boilerplate_pairs=np.compress(unit_boiler[edges[:, 0]], edges, axis=0),
    )
