"""Index.pair_table: the pairs of Index.pairs as numpy columns."""

from __future__ import annotations

import numpy as np
import pytest

from dedup import DocPair, Index, InvalidParameterError, PairTable
from dedup.synth import SynthConfig, generate


@pytest.fixture(scope="module")
def index() -> Index:
    idx = Index()
    idx.add_many((r["id"], r["text"]) for r in generate(SynthConfig(n_articles=300, seed=11)))
    return idx


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"include_boilerplate": True},
        {"min_score": 0.4},
        {"threshold": 0.7},
        {"include_boilerplate": True, "min_score": 0.2},
    ],
)
def test_iterating_the_table_gives_the_pairs_objects(index, kwargs):
    table = index.pair_table(**kwargs)
    pairs = list(index.pairs(**kwargs))
    assert pairs, "the corpus must have pairs for this test to mean anything"
    assert len(table) == len(pairs)
    assert list(table) == pairs
    assert all(type(p) is DocPair for p in table)
    assert table[0] == pairs[0] and table[-1] == pairs[-1]


def test_columns_hold_the_fields_of_the_objects(index):
    table = index.pair_table(include_boilerplate=True)
    pairs = list(index.pairs(include_boilerplate=True))
    assert table.n_matches == sum(len(p.paragraphs) for p in pairs)
    assert table.offsets[0] == 0 and np.all(np.diff(table.offsets) >= 1)
    of = table.pair_of_match()
    assert len(of) == table.n_matches and np.all(np.diff(of) >= 0)
    for i, p in enumerate(pairs):
        assert (table.doc_ids[table.a[i]], table.doc_ids[table.b[i]]) == (p.a, p.b)
        assert (table.score[i], table.a_coverage[i], table.b_coverage[i]) == (p.score, p.a_coverage, p.b_coverage)
        rows = range(table.offsets[i], table.offsets[i + 1])
        for r, m in zip(rows, p.paragraphs, strict=True):
            assert of[r] == i
            assert tuple(getattr(table, c)[r].item() for c in PairTable.MATCH_COLUMNS) == tuple(m)
    assert table.boilerplate.any() and not table.boilerplate.all()
    assert table.a.dtype == np.int64 and table.a_start.dtype == np.int32
    assert table.similarity.dtype == np.float64 and table.exact.dtype == bool


def test_spans_are_character_offsets_into_the_original_texts(index):
    table = index.pair_table()
    of = table.pair_of_match()
    for r in range(0, table.n_matches, max(1, table.n_matches // 50)):
        a, b = table.doc_ids[table.a[of[r]]], table.doc_ids[table.b[of[r]]]
        ta, tb = index.text(a), index.text(b)
        pa = index.paragraphs(a)[table.a_index[r]]
        pb = index.paragraphs(b)[table.b_index[r]]
        assert pa[0] <= table.a_start[r] < table.a_end[r] <= pa[1] <= len(ta)
        assert pb[0] <= table.b_start[r] < table.b_end[r] <= pb[1] <= len(tb)


def test_min_score_filters_whole_document_pairs(index):
    full = index.pair_table()
    cut = float(np.median(full.score))
    part = index.pair_table(min_score=cut)
    keep = full.score >= cut
    assert 0 < len(part) < len(full)
    assert np.array_equal(part.a, full.a[keep]) and np.array_equal(part.b, full.b[keep])
    assert part.n_matches == int(np.diff(full.offsets)[keep].sum())
    assert list(part) == [p for p in full if p.score >= cut]


def test_empty_index_and_no_pairs_give_an_empty_table():
    for idx in (Index(), _two_unrelated()):
        table = idx.pair_table()
        assert len(table) == 0 and table.n_matches == 0
        assert list(table) == [] and list(idx.pairs()) == []
        assert table.pair_of_match().shape == (0,)
        with pytest.raises(IndexError):
            table[0]


def _two_unrelated() -> Index:
    idx = Index()
    idx.add("x", "The committee met on Tuesday to discuss the budget for next year in detail.")
    idx.add("y", "Heavy rain flooded the valley roads and closed three schools near the river.")
    return idx


def test_bad_arguments(index):
    table = index.pair_table()
    with pytest.raises(IndexError):
        table[len(table)]
    with pytest.raises(TypeError):
        table["0"]  # type: ignore[index]
    with pytest.raises(InvalidParameterError):
        index.pair_table(min_score="high")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError):
        index.pair_table(threshold=1.5)


def test_removed_documents_leave_the_table():
    idx = Index()
    recs = [(r["id"], r["text"]) for r in generate(SynthConfig(n_articles=120, seed=4))]
    idx.add_many(recs)
    before = idx.pair_table()
    gone = before.doc_ids[before.a[0]]
    idx.remove(gone)
    after = idx.pair_table()
    assert gone not in {after.doc_ids[d] for d in np.concatenate([after.a, after.b]).tolist()}
    assert list(after) == list(idx.pairs())


def test_columns_are_read_only_and_do_not_touch_the_index(index):
    table = index.pair_table()
    clusters = index.clusters()
    with pytest.raises(ValueError):
        table.score[0] = 0.0
    with pytest.raises(ValueError):
        table.a_start[:] = 0
    assert isinstance(table.doc_ids, tuple)
    column = table.score.copy()
    column[:] = 0.0  # a copy is the caller's
    assert index.clusters() == clusters


def test_similarities_round_like_python_round():
    """The numpy rounding of float32 similarities equals Python's round(v, 6) value for value."""
    from itertools import repeat

    from dedup.index import _round6

    rng = np.random.default_rng(2)
    ratios = [np.float32(k) / np.float32(n) for n in range(1, 200) for k in range(n + 1)]
    x = np.concatenate([np.array(ratios, dtype=np.float32), rng.random(200_000, dtype=np.float32)])
    want = list(map(round, x.astype(np.float64).tolist(), repeat(6)))
    assert _round6(x).tolist() == want
    assert _round6(x.astype(np.float64), chunk=1000).tolist() == want


def test_scores_round_like_python_round_near_ties_and_out_of_range():
    """float64 values (scores): exact ties, values one float away from a tie on either side,
    values past the fast range, infinities, NaN and signed zeros round as Python's round does."""
    from itertools import repeat

    from dedup.index import _round6

    rng = np.random.default_rng(3)
    ties = (np.arange(200_000) + 0.5) / 1e6
    x = np.concatenate(
        [
            rng.random(300_000),
            rng.random(20_000) * 4000 - 2000,
            ties,
            np.nextafter(ties, 2.0),
            np.nextafter(ties, -1.0),
            np.arange(0, 50_000) / 1e6,
            [0.0, -0.0, 1.0, 2.675, 0.1234565, 0.0078125, 1e300, -1e-300, np.inf, -np.inf, 999.9999995, 1000.0000005],
        ]
    )
    got = _round6(x, chunk=1000)
    want = np.array(list(map(round, x.tolist(), repeat(6))))
    assert got.tolist() == want.tolist()
    assert np.array_equal(np.signbit(got), np.signbit(want))
    assert np.isnan(_round6(np.array([np.nan]))[0])
