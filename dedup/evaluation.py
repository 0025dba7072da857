"""Quality measures: PAN text-alignment scores, pair precision/recall, adjusted Rand index.

PAN measures (Potthast et al. 2010; the PAN 2013-2015 text alignment evaluation code). A true
case ``s`` and a detection ``r`` are each a pair of character ranges, one per document of a
document pair; their size counts the characters in both documents. ``r`` *detects* ``s`` only when
they belong to the same document pair and overlap in both documents.

* recall = mean over true cases ``s`` of ``|s ∩ (union of the detections that detect s)| / |s|``
* precision = mean over detections ``r`` of ``|r ∩ (union of the cases that r detects)| / |r|``
* granularity = mean number of detections per detected case (1 when no case is detected)
* plagdet = F1(precision, recall) / log2(1 + granularity)

Empty sets are handled as the PAN code does: no cases and no detections give precision =
recall = 1 (and plagdet 1); cases without detections, or detections without cases, give
precision = recall = 0 (and plagdet 0). Precision and recall are averaged over all cases /
detections of all document pairs together (the PAN corpus is scored this way: each case carries
its pair key), so :func:`pan_scores` scores one pair or a whole corpus.

>>> truth = [Case(0, 100, 0, 100)]
>>> pan_scores(truth, [Case(0, 100, 0, 100)])
PanScores(precision=1.0, recall=1.0, granularity=1.0, plagdet=1.0)
>>> s = pan_scores(truth, [Case(0, 50, 0, 50), Case(50, 100, 50, 100)])
>>> s.recall, s.granularity, round(s.plagdet, 3)
(1.0, 2.0, 0.631)
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from typing import NamedTuple

import numpy as np

from .errors import InvalidParameterError, InvalidTypeError

__all__ = [
    "Case",
    "PanScores",
    "pan_scores",
    "pan_scores_by_pair",
    "PrecisionRecall",
    "precision_recall",
    "adjusted_rand_index",
]


class Case(NamedTuple):
    """A pair of character ranges ``[a_start, a_end)`` and ``[b_start, b_end)``, one per document.

    Used for true reuse cases and for detections alike. ``pair`` names the document pair the
    ranges belong to (any hashable: ``("doc1", "doc7")``, an int, ...); leave it ``None`` when
    scoring a single pair. Any object with ``a_start``, ``a_end``, ``b_start``, ``b_end``
    attributes (such as :class:`dedup.align.Passage`) is accepted where a ``Case`` is expected.
    """

    a_start: int
    a_end: int
    b_start: int
    b_end: int
    pair: Hashable = None


class PanScores(NamedTuple):
    """PAN text-alignment scores: macro precision and recall, granularity, plagdet (all floats)."""

    precision: float
    recall: float
    granularity: float
    plagdet: float


def _as_case(obj: object, pair: Hashable = None) -> Case:
    if isinstance(obj, Case):
        case = obj if pair is None else obj._replace(pair=pair)
    elif isinstance(obj, tuple) and len(obj) in (4, 5):
        case = Case(*obj)
        if pair is not None:
            case = case._replace(pair=pair)
    elif all(hasattr(obj, f) for f in ("a_start", "a_end", "b_start", "b_end")):
        case = Case(
            obj.a_start,  # type: ignore[attr-defined]
            obj.a_end,  # type: ignore[attr-defined]
            obj.b_start,  # type: ignore[attr-defined]
            obj.b_end,  # type: ignore[attr-defined]
            pair if pair is not None else getattr(obj, "pair", None),
        )
    else:
        raise InvalidTypeError(
            f"a case must be a Case, a 4-tuple (a_start, a_end, b_start, b_end) or an object "
            f"with those attributes, not {type(obj).__name__}"
        )
    for name in ("a_start", "a_end", "b_start", "b_end"):
        v = getattr(case, name)
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise InvalidTypeError(f"case {name} must be an int, not {type(v).__name__}")
    if not (0 <= case.a_start <= case.a_end and 0 <= case.b_start <= case.b_end):
        raise InvalidParameterError(f"case ranges must satisfy 0 <= start <= end, got {case}")
    return case


def _overlap(x0: int, x1: int, y0: int, y1: int) -> int:
    return max(0, min(x1, y1) - max(x0, y0))


def _detects(r: Case, s: Case) -> bool:
    return (
        _overlap(r.a_start, r.a_end, s.a_start, s.a_end) > 0
        and _overlap(r.b_start, r.b_end, s.b_start, s.b_end) > 0
    )


def _union_length_within(lo: int, hi: int, ranges: list[tuple[int, int]]) -> int:
    """Characters of ``[lo, hi)`` covered by the union of ``ranges``."""
    clipped = sorted((max(lo, x), min(hi, y)) for x, y in ranges if min(hi, y) > max(lo, x))
    total, cur_s, cur_e = 0, -1, -1
    for x, y in clipped:
        if x > cur_e:
            total += cur_e - cur_s
            cur_s, cur_e = x, y
        else:
            cur_e = max(cur_e, y)
    return total + (cur_e - cur_s)


def _macro_recall(cases: list[Case], detections: list[Case]) -> float:
    """Mean over ``cases`` of the share of their characters covered by detections detecting them."""
    by_pair: dict[Hashable, list[Case]] = defaultdict(list)
    for r in detections:
        by_pair[r.pair].append(r)
    total = 0.0
    for s in cases:
        size = (s.a_end - s.a_start) + (s.b_end - s.b_start)
        if size == 0:
            continue  # an empty case contributes 0 (it cannot be detected)
        hits = [r for r in by_pair.get(s.pair, ()) if _detects(r, s)]
        covered = _union_length_within(
            s.a_start, s.a_end, [(r.a_start, r.a_end) for r in hits]
        ) + _union_length_within(s.b_start, s.b_end, [(r.b_start, r.b_end) for r in hits])
        total += covered / size
    return total / len(cases)


def _granularity(cases: list[Case], detections: list[Case]) -> float:
    by_pair: dict[Hashable, list[Case]] = defaultdict(list)
    for r in detections:
        by_pair[r.pair].append(r)
    per_case = []
    for s in cases:
        n = sum(1 for r in by_pair.get(s.pair, ()) if _detects(r, s))
        if n:
            per_case.append(n)
    return sum(per_case) / len(per_case) if per_case else 1.0


def _plagdet(precision: float, recall: float, granularity: float) -> float:
    if precision <= 0 and recall <= 0:
        return 0.0
    f1 = 2 * precision * recall / (precision + recall)
    return f1 / math.log2(1 + granularity)


def pan_scores(truth: Iterable[object], detections: Iterable[object]) -> PanScores:
    """PAN text-alignment precision, recall, granularity and plagdet.

    Parameters
    ----------
    truth : iterable of Case
        True reuse cases (character ranges in both documents). Cases of several document pairs
        may be mixed; each carries its pair key in ``Case.pair``.
    detections : iterable of Case
        Detected passages (``Case``, 4-tuples, or objects with ``a_start`` .. ``b_end`` such as
        :class:`dedup.align.Passage`), with the same pair keys.

    Returns
    -------
    PanScores
        All scores in [0, 1] except granularity (>= 1). See the module docstring for the
        definitions and the handling of empty sets.

    Examples
    --------
    >>> pan_scores([], [])
    PanScores(precision=1.0, recall=1.0, granularity=1.0, plagdet=1.0)
    >>> pan_scores([(0, 10, 0, 10)], [])
    PanScores(precision=0.0, recall=0.0, granularity=1.0, plagdet=0.0)
    >>> pan_scores([(0, 10, 0, 10)], [(0, 10, 0, 30)]).precision
    0.5
    """
    cases = [_as_case(c) for c in truth]
    dets = [_as_case(d) for d in detections]
    if not cases and not dets:
        return PanScores(1.0, 1.0, 1.0, 1.0)
    if not cases or not dets:
        return PanScores(0.0, 0.0, 1.0, 0.0)
    recall = _macro_recall(cases, dets)
    precision = _macro_recall(dets, cases)
    gran = _granularity(cases, dets)
    return PanScores(precision, recall, gran, _plagdet(precision, recall, gran))


def pan_scores_by_pair(
    truth: Mapping[Hashable, Iterable[object]], detections: Mapping[Hashable, Iterable[object]]
) -> PanScores:
    """PAN scores over a corpus given as ``{pair_key: cases}`` mappings (micro over all cases).

    Pairs missing from one mapping have no cases (or no detections) there.

    >>> pan_scores_by_pair({"p1": [(0, 10, 0, 10)], "p2": [(0, 10, 0, 10)]},
    ...                    {"p1": [(0, 10, 0, 10)]}).recall
    0.5
    """
    t = [_as_case(c, pair=k) for k, cs in truth.items() for c in cs]
    d = [_as_case(c, pair=k) for k, cs in detections.items() for c in cs]
    return pan_scores(t, d)


# ---------------------------------------------------------------------------------------------
# Pairs and clusters


class PrecisionRecall(NamedTuple):
    """Precision, recall and F1 of a set of found items against the true set."""

    precision: float
    recall: float
    f1: float


def _pair_key(p: object) -> frozenset[Hashable] | tuple[Hashable, ...]:
    if not isinstance(p, (tuple, list, frozenset, set)) or len(p) != 2:
        raise InvalidTypeError(f"a pair must be a 2-tuple of document ids, not {p!r}")
    x, y = tuple(p)
    return frozenset((x, y)) if x != y else (x, y)


def precision_recall(
    truth_pairs: Iterable[object], found_pairs: Iterable[object]
) -> PrecisionRecall:
    """Precision, recall and F1 of found document pairs against the true pairs.

    Pairs are unordered: ``("a", "b")`` and ``("b", "a")`` are the same pair; duplicates count
    once. With nothing found, precision is 1.0 (no wrong pair was reported); with no true pair,
    recall is 1.0 (no true pair was missed). F1 is 0.0 when precision and recall are both 0.

    >>> precision_recall([(1, 2), (3, 4)], [(2, 1), (5, 6)])
    PrecisionRecall(precision=0.5, recall=0.5, f1=0.5)
    """
    t = {_pair_key(p) for p in truth_pairs}
    f = {_pair_key(p) for p in found_pairs}
    hit = len(t & f)
    precision = hit / len(f) if f else 1.0
    recall = hit / len(t) if t else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return PrecisionRecall(precision, recall, f1)


def adjusted_rand_index(true_labels: Iterable[Hashable], pred_labels: Iterable[Hashable]) -> float:
    """Adjusted Rand index of two clusterings of the same items (Hubert and Arabie, 1985).

    Computed from the pair confusion matrix with numpy, matching
    ``sklearn.metrics.adjusted_rand_score`` (including its limit cases: 1.0 when the two
    clusterings agree on every pair, for example when both put everything in one cluster or
    everything in its own cluster, and for fewer than two items). Labels may be any hashables.

    >>> adjusted_rand_index([0, 0, 1, 1], [5, 5, 7, 7])
    1.0
    >>> adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1])
    -0.5
    """
    t = list(true_labels)
    p = list(pred_labels)
    if len(t) != len(p):
        raise InvalidParameterError(
            f"true_labels and pred_labels must have the same length, got {len(t)} and {len(p)}"
        )
    n = len(t)
    if n < 2:
        return 1.0
    t_ids: dict[Hashable, int] = {}
    p_ids: dict[Hashable, int] = {}
    ti = np.fromiter((t_ids.setdefault(x, len(t_ids)) for x in t), dtype=np.int64, count=n)
    pi = np.fromiter((p_ids.setdefault(x, len(p_ids)) for x in p), dtype=np.int64, count=n)
    # Contingency counts of the non-empty cells.
    key = ti * (int(pi.max()) + 1) + pi
    _, cells = np.unique(key, return_counts=True)
    a = np.bincount(ti)
    b = np.bincount(pi)
    sum_sq = int((cells.astype(np.int64) ** 2).sum())
    sum_a2 = int((a.astype(np.int64) ** 2).sum())
    sum_b2 = int((b.astype(np.int64) ** 2).sum())
    # Pair confusion matrix (ordered pairs), as sklearn.metrics.pair_confusion_matrix.
    tp = sum_sq - n
    fp = sum_b2 - sum_sq  # same predicted cluster, different true cluster
    fn = sum_a2 - sum_sq  # same true cluster, different predicted cluster
    tn = n * n - fp - fn - sum_sq
    if fn == 0 and fp == 0:
        return 1.0
    return float(2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)))
