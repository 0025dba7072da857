"""Tests of dedup.evaluation: PAN measures against a brute-force oracle, pairs, ARI."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.align import align
from dedup.errors import InvalidParameterError, InvalidTypeError
from dedup.evaluation import (
    Case,
    PanScores,
    adjusted_rand_index,
    pan_scores,
    pan_scores_by_pair,
    precision_recall,
)

# ---------------------------------------------------------------------------------------------
# PAN measures


def _chars(c: Case) -> set[tuple[object, str, int]]:
    return {(c.pair, "a", i) for i in range(c.a_start, c.a_end)} | {
        (c.pair, "b", i) for i in range(c.b_start, c.b_end)
    }


def _detects(r: Case, s: Case) -> bool:
    return (
        r.pair == s.pair
        and min(r.a_end, s.a_end) > max(r.a_start, s.a_start)
        and min(r.b_end, s.b_end) > max(r.b_start, s.b_start)
    )


def _oracle(truth: list[Case], dets: list[Case]) -> PanScores:
    """The definitions of Potthast et al. (2010), on explicit character sets."""
    if not truth and not dets:
        return PanScores(1.0, 1.0, 1.0, 1.0)
    if not truth or not dets:
        return PanScores(0.0, 0.0, 1.0, 0.0)

    def macro(xs: list[Case], ys: list[Case], x_is_case: bool) -> float:
        total = 0.0
        for x in xs:
            cx = _chars(x)
            union: set[tuple[object, str, int]] = set()
            for y in ys:
                if _detects(x, y) if not x_is_case else _detects(y, x):
                    union |= _chars(y) & cx
            total += len(union) / len(cx) if cx else 0.0
        return total / len(xs)

    rec = macro(truth, dets, True)
    prec = macro(dets, truth, False)
    counts = [sum(1 for r in dets if _detects(r, s)) for s in truth]
    detected = [c for c in counts if c]
    gran = sum(detected) / len(detected) if detected else 1.0
    if rec == 0 and prec == 0:
        return PanScores(prec, rec, gran, 0.0)
    f1 = 2 * rec * prec / (rec + prec)
    return PanScores(prec, rec, gran, f1 / math.log2(1 + gran))


@st.composite
def _cases(draw: st.DrawFn, n_max: int = 5) -> list[Case]:
    out = []
    for _ in range(draw(st.integers(0, n_max))):
        a0 = draw(st.integers(0, 60))
        b0 = draw(st.integers(0, 60))
        out.append(
            Case(a0, a0 + draw(st.integers(1, 30)), b0, b0 + draw(st.integers(1, 30)),
                 draw(st.sampled_from([None, "p2"])))
        )
    return out


@settings(max_examples=300, deadline=None)
@given(truth=_cases(), dets=_cases(8))
def test_pan_matches_oracle(truth, dets):
    got = pan_scores(truth, dets)
    want = _oracle(truth, dets)
    assert got == pytest.approx(want)
    assert 0 <= got.precision <= 1 and 0 <= got.recall <= 1 and got.granularity >= 1


def test_perfect_and_split_detection():
    truth = [Case(0, 100, 0, 100)]
    assert pan_scores(truth, truth) == PanScores(1.0, 1.0, 1.0, 1.0)
    split = pan_scores(truth, [Case(0, 50, 0, 50), Case(50, 100, 50, 100)])
    assert split.precision == 1.0 and split.recall == 1.0 and split.granularity == 2.0
    assert split.plagdet == pytest.approx(1 / math.log2(3))


def test_overlap_in_one_document_only_detects_nothing():
    # The detection overlaps the case in a but not in b: it does not detect it.
    s = pan_scores([Case(0, 10, 0, 10)], [Case(0, 10, 50, 60)])
    assert s.recall == 0.0 and s.precision == 0.0 and s.plagdet == 0.0


def test_sizes_count_both_documents():
    # Detection covers all of a (10 chars) and half of b (5 of 10): recall 15/20.
    s = pan_scores([Case(0, 10, 0, 10)], [Case(0, 10, 0, 5)])
    assert s.recall == pytest.approx(0.75) and s.precision == 1.0


def test_empty_sets_follow_pan():
    assert pan_scores([], []) == PanScores(1.0, 1.0, 1.0, 1.0)
    assert pan_scores([Case(0, 1, 0, 1)], []) == PanScores(0.0, 0.0, 1.0, 0.0)
    assert pan_scores([], [Case(0, 1, 0, 1)]) == PanScores(0.0, 0.0, 1.0, 0.0)


def test_pairs_are_kept_apart():
    truth = [Case(0, 10, 0, 10, "x"), Case(0, 10, 0, 10, "y")]
    s = pan_scores(truth, [Case(0, 10, 0, 10, "x")])
    assert s.recall == 0.5 and s.precision == 1.0
    by_pair = pan_scores_by_pair({"x": [(0, 10, 0, 10)], "y": [(0, 10, 0, 10)]},
                                 {"x": [(0, 10, 0, 10)]})
    assert by_pair == s


def test_micro_over_cases_of_all_pairs():
    # Pair x has three cases, all found; pair y one case, missed: recall 3/4 (not (1 + 0) / 2).
    truth = {"x": [(0, 10, 0, 10), (20, 30, 20, 30), (40, 50, 40, 50)], "y": [(0, 10, 0, 10)]}
    dets = {"x": truth["x"]}
    assert pan_scores_by_pair(truth, dets).recall == pytest.approx(0.75)


def test_accepts_passages():
    a = "one two three four five six seven eight nine ten"
    ps = align(a, a)
    n = len(a)
    assert pan_scores([Case(0, n, 0, n)], ps).plagdet == 1.0


@pytest.mark.parametrize("bad", ["abc", (1, 2, 3), 5, (0, "1", 0, 1)])
def test_bad_case_types(bad):
    with pytest.raises(InvalidTypeError):
        pan_scores([bad], [])


def test_bad_case_ranges():
    with pytest.raises(InvalidParameterError):
        pan_scores([Case(5, 1, 0, 1)], [])


# ---------------------------------------------------------------------------------------------
# Pairs


def test_precision_recall_unordered_pairs():
    pr = precision_recall([("a", "b"), ("c", "d")], [("b", "a"), ("e", "f"), ("a", "b")])
    assert pr.precision == 0.5 and pr.recall == 0.5 and pr.f1 == 0.5


def test_precision_recall_empty():
    assert precision_recall([], []) == (1.0, 1.0, 1.0)
    assert precision_recall([("a", "b")], []) == (1.0, 0.0, 0.0)
    assert precision_recall([], [("a", "b")]) == (0.0, 1.0, 0.0)


def test_precision_recall_bad_pair():
    with pytest.raises(InvalidTypeError):
        precision_recall(["abc"], [])


# ---------------------------------------------------------------------------------------------
# Adjusted Rand index


def test_ari_known_values():
    assert adjusted_rand_index([0, 0, 1, 1], [1, 1, 0, 0]) == 1.0
    assert adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(-0.5)
    assert adjusted_rand_index([], []) == 1.0
    assert adjusted_rand_index(["a"], ["z"]) == 1.0
    assert adjusted_rand_index([1, 1, 1], [2, 2, 2]) == 1.0
    assert adjusted_rand_index([1, 2, 3], [4, 5, 6]) == 1.0
    assert adjusted_rand_index([-1, -2, -1], [0, 1, 0]) == 1.0  # hash(-1) == hash(-2) in CPython


def test_ari_length_mismatch():
    with pytest.raises(InvalidParameterError):
        adjusted_rand_index([1, 2], [1])


labels = st.lists(st.integers(0, 5), min_size=0, max_size=40)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_ari_matches_sklearn(data):
    metrics = pytest.importorskip(
        "sklearn.metrics",
        reason="scikit-learn is not installed (it is in the 'bench' extra); ARI oracle skipped",
    )
    t = data.draw(labels)
    p = data.draw(st.lists(st.integers(0, 5), min_size=len(t), max_size=len(t)))
    want = metrics.adjusted_rand_score(np.array(t, dtype=int), np.array(p, dtype=int))
    assert adjusted_rand_index(t, p) == pytest.approx(want, abs=1e-12)


def test_ari_large_no_overflow():
    rng = np.random.default_rng(0)
    t = rng.integers(0, 3, 300_000).tolist()
    assert adjusted_rand_index(t, t) == 1.0
    p = rng.integers(0, 3, 300_000).tolist()
    assert abs(adjusted_rand_index(t, p)) < 0.01
