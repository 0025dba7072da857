"""Paragraph-level quality of found reuse against the synthetic ground truth.

Definitions (also in docs/benchmarks.md):

* Paragraphs are numbered per document (the spans of ``Index.paragraphs`` for dedup, of
  ``dedup.text.paragraph_spans`` for the peers: the same segmentation) and given a global number
  ``para0[doc] + index`` in corpus order.
* A truth pair (character spans in documents a and b) maps to every paragraph of a that overlaps
  its a-span times every paragraph of b that overlaps its b-span.  The union of these paragraph
  pairs over all truth pairs (any op) is the set T of true paragraph pairs.
* Recall: share of truth pairs for which at least one of its mapped paragraph pairs was found.
  Broken down by op and by edit-rate band.
* Precision: share of found paragraph pairs (distinct, unordered, across two documents) that are in
  T, i.e. overlap some truth pair in both documents.  Peers report raw LSH candidates (they have no
  verification step), so their precision is candidate precision.
* Boilerplate share: share of found pairs whose two paragraphs both overlap a boilerplate span.
* ARI: adjusted Rand index of document clusters against the true clusters; documents in no
  cluster are singletons on both sides.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from dedup.evaluation import adjusted_rand_index
from dedup.shingles import sorted_unique

BANDS = (("0", 0.0, 0.0), ("0-10%", 0.0, 0.10), ("10-20%", 0.10, 0.20), ("20-30%+", 0.20, 1.01))


def band_of(rate: float) -> str:
    if rate <= 0.0:
        return "0"
    for name, lo, hi in BANDS[1:]:
        if lo < rate <= hi:
            return name
    return BANDS[-1][0]


class ParagraphTable:
    """Global paragraph numbering of a corpus (documents in order)."""

    def __init__(self, doc_ids: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]) -> None:
        self.doc_ids = list(doc_ids)
        self.pos = {d: i for i, d in enumerate(self.doc_ids)}
        self.starts = [[s for s, _ in sp] for sp in spans]
        self.ends = [[e for _, e in sp] for sp in spans]
        counts = np.array([len(sp) for sp in spans], dtype=np.int64)
        self.para0 = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.n_paragraphs = int(self.para0[-1])

    def overlapping(self, doc: str, start: int, end: int) -> list[int]:
        """Global numbers of the paragraphs of ``doc`` overlapping ``[start, end)``."""
        d = self.pos[doc]
        lo = bisect_right(self.ends[d], start)
        hi = bisect_left(self.starts[d], end)
        base = int(self.para0[d])
        return [base + i for i in range(lo, hi)]

    def global_id(self, doc: str, index: int) -> int:
        return int(self.para0[self.pos[doc]]) + index


def pair_keys(g1: np.ndarray, g2: np.ndarray) -> np.ndarray:
    """Unordered int64 keys ``min << 32 | max`` of global paragraph pairs."""
    g1 = np.asarray(g1, dtype=np.int64)
    g2 = np.asarray(g2, dtype=np.int64)
    return np.minimum(g1, g2) << 32 | np.maximum(g1, g2)


def evaluate(
    truth: Any,
    table: ParagraphTable,
    found_keys: np.ndarray,
    clusters: Iterable[Iterable[str]] | None = None,
) -> dict[str, Any]:
    """Recall (overall, by op, by edit band), precision, boilerplate share and ARI.

    ``found_keys``: :func:`pair_keys` of found paragraph pairs (duplicates allowed);
    ``clusters``: predicted document clusters (None: ARI not computed).  Truth pairs with a
    document outside ``table`` (a subset run) are ignored.
    """
    found = sorted_unique(np.asarray(found_keys, dtype=np.int64))
    same_doc = _same_doc(table, found)
    found = found[~same_doc]
    # compact accumulation (a million-article corpus has tens of millions of truth pairs):
    # mapped paragraph-pair keys, flat, with per-truth-pair counts and op / band codes
    flat = array("q")
    lens = array("q")
    op_code = array("b")
    band_code = array("b")
    ops: dict[str, int] = {}
    band_names = [b[0] for b in BANDS]
    pos = table.pos
    for t in truth.pairs:
        if t["a"] not in pos or t["b"] not in pos:
            continue
        pa = table.overlapping(t["a"], t["a_start"], t["a_end"])
        pb = table.overlapping(t["b"], t["b_start"], t["b_end"])
        n0 = len(flat)
        flat.extend((x << 32 | y) if x < y else (y << 32 | x) for x in pa for y in pb)
        lens.append(len(flat) - n0)
        op_code.append(ops.setdefault(t["op"], len(ops)))
        band_code.append(band_names.index(band_of(float(t["edit_rate"]))))
    flat_a = np.frombuffer(flat, dtype=np.int64) if len(flat) else np.zeros(0, np.int64)
    tset = sorted_unique(flat_a)
    # one vectorized membership test: which truth pairs have at least one mapped pair found
    n_t = len(lens)
    hit_flat = _member(flat_a, found)
    owner = np.repeat(np.arange(n_t), np.frombuffer(lens, dtype=np.int64) if n_t else np.zeros(0, np.int64))
    ok_arr = np.bincount(owner[hit_flat], minlength=n_t) > 0
    opc = np.frombuffer(op_code, dtype=np.int8) if n_t else np.zeros(0, np.int8)
    bdc = np.frombuffer(band_code, dtype=np.int8) if n_t else np.zeros(0, np.int8)
    hits: dict[str, list[int]] = {}
    by_op: dict[str, list[int]] = {}
    by_band: dict[str, list[int]] = {}
    if n_t:
        hits["all"] = [int(ok_arr.sum()), n_t]
    for name, code in ops.items():
        sel = opc == code
        by_op[name] = [int(ok_arr[sel].sum()), int(sel.sum())]
    for code, name in enumerate(band_names):
        sel = bdc == code
        if sel.any():
            by_band[name] = [int(ok_arr[sel].sum()), int(sel.sum())]
    out: dict[str, Any] = {
        "truth_pairs": hits.get("all", [0, 0])[1],
        "recall": _ratio(hits.get("all", [0, 0])),
        "recall_by_op": {k: _ratio(v) for k, v in sorted(by_op.items())},
        "recall_by_band": {b[0]: _ratio(by_band[b[0]]) for b in BANDS if b[0] in by_band},
        "band_counts": {k: v[1] for k, v in by_band.items()},
        "op_counts": {k: v[1] for k, v in by_op.items()},
        "found_pairs": int(len(found)),
        "precision": float(_member(found, tset).mean()) if len(found) else 1.0,
        "boilerplate_share": _boiler_share(truth, table, found),
    }
    if clusters is not None:
        out["ari"] = cluster_ari(truth, table.doc_ids, clusters)
    return out


def _member(x: np.ndarray, sorted_unique: np.ndarray) -> np.ndarray:
    """``np.isin`` for a sorted unique right-hand side (binary search)."""
    if not len(sorted_unique):
        return np.zeros(len(x), dtype=bool)
    i = np.minimum(np.searchsorted(sorted_unique, x), len(sorted_unique) - 1)
    return sorted_unique[i] == x


def _ratio(c: list[int]) -> float | None:
    return c[0] / c[1] if c[1] else None


def _same_doc(table: ParagraphTable, keys: np.ndarray) -> np.ndarray:
    a, b = keys >> 32, keys & 0xFFFFFFFF
    da = np.searchsorted(table.para0, a, side="right")
    db = np.searchsorted(table.para0, b, side="right")
    return da == db


def _boiler_share(truth: Any, table: ParagraphTable, found: np.ndarray) -> float:
    if not len(found):
        return 0.0
    bp: set[int] = set()
    for r in truth.boilerplate:
        if r["doc"] in table.pos:
            bp.update(table.overlapping(r["doc"], r["start"], r["end"]))
    arr = np.fromiter(bp, dtype=np.int64, count=len(bp))
    both = np.isin(found >> 32, arr) & np.isin(found & 0xFFFFFFFF, arr)
    return float(both.mean())


def cluster_ari(truth: Any, doc_ids: Sequence[str], clusters: Iterable[Iterable[str]]) -> float:
    """ARI of predicted document clusters vs the true clusters (unclustered docs are singletons)."""
    true = truth.doc_cluster()
    pred: dict[str, int] = {}
    for i, c in enumerate(clusters):
        for d in c:
            pred.setdefault(d, i)
    tl = [f"t{true[d]}" if d in true else f"s{d}" for d in doc_ids]
    pl = [f"p{pred[d]}" if d in pred else f"s{d}" for d in doc_ids]
    return adjusted_rand_index(tl, pl)


def components(doc_ids: Sequence[str], table: ParagraphTable, keys: np.ndarray) -> list[list[str]]:
    """Document clusters as connected components of found paragraph pairs (how peers' users cluster)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(doc_ids)
    keys = sorted_unique(np.asarray(keys))
    da = np.searchsorted(table.para0, keys >> 32, side="right") - 1
    db = np.searchsorted(table.para0, keys & 0xFFFFFFFF, side="right") - 1
    g = coo_matrix((np.ones(len(da), np.int8), (da, db)), shape=(n, n))
    _, lab = connected_components(g, directed=False)
    groups: dict[int, list[str]] = {}
    for d, lb in zip(doc_ids, lab.tolist()):
        groups.setdefault(lb, []).append(d)
    return [g for g in groups.values() if len(g) > 1]


class StreamedTruth:
    """Ground truth read from the files beside a corpus each time it is iterated (not held in RAM).

    Same attributes as :class:`dedup.synth.GroundTruth` for what :func:`evaluate` uses: ``pairs``
    and ``boilerplate`` are iterables of dicts, ``doc_cluster()`` maps clustered ids to clusters.
    """

    def __init__(self, corpus: Any) -> None:
        from dedup.synth import truth_paths

        self.paths = truth_paths(corpus)
        for k in ("pairs", "boilerplate", "clusters"):
            if not self.paths[k].exists():
                raise FileNotFoundError(f"{self.paths[k]}: ground-truth file not found")

    def _rows(self, kind: str) -> Any:
        import gzip
        import json

        fp = self.paths[kind]
        opener = gzip.open if fp.name.endswith(".gz") else open
        with opener(fp, "rt", encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)

    @property
    def pairs(self) -> Any:
        return self._rows("pairs")

    @property
    def boilerplate(self) -> Any:
        return self._rows("boilerplate")

    def doc_cluster(self) -> dict[str, int]:
        return {d: c["cluster"] for c in self._rows("clusters") for d in c["doc_ids"]}
