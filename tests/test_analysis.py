"""Corpus-analysis building blocks against straightforward references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from dedup.analysis import components


@pytest.mark.parametrize("seed", range(40))
def test_components_match_scipy_on_a_coo_graph(seed):
    """Labels of the CSR-built graph are scipy's labels of the plain COO graph (smallest node
    first), for sorted and unsorted pairs, with loops and repeated edges."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    m = int(rng.integers(0, 400))
    a, b = rng.integers(0, n, m), rng.integers(0, n, m)
    pairs = np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1).astype(np.int32)
    if seed % 2:
        pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    if m:
        g = coo_matrix((np.ones(m), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        expected = connected_components(g, directed=False)[1]
    else:
        expected = np.arange(n)
    labels = components(n, pairs)
    assert labels.dtype == np.int64
    assert labels.tolist() == expected.tolist()
    # a label is the rank of its component's smallest node
    first = {}
    for node, lab in enumerate(labels.tolist()):
        first.setdefault(lab, node)
    assert sorted(first, key=first.get) == list(range(len(first)))


@pytest.mark.parametrize("big", [False, True])
def test_order_by_sorts_rows_like_lexsort_packed_or_not(big: bool) -> None:
    from dedup.analysis import order_by

    rng = np.random.default_rng(5)
    a = rng.integers(0, 50, 3000)
    b = rng.integers(0, 2**40 if big else 7, 3000)  # 2**40 x 50: more than 63 bits with c
    c = rng.integers(0, 2**30, 3000)
    order = order_by(a, b, c)
    assert sorted(order.tolist()) == list(range(3000))
    got = list(zip(a[order].tolist(), b[order].tolist(), c[order].tolist()))
    want = list(zip(a.tolist(), b.tolist(), c.tolist()))
    assert got == sorted(want)
    assert order_by(np.empty(0, np.int64), np.empty(0, np.int64)).tolist() == []


@pytest.mark.parametrize("seed", range(10))
def test_fold_does_not_depend_on_the_order_of_its_rows(seed: int) -> None:
    """Paragraph pairs folded from unit pairs are the same for any row order (ties in similarity
    go to the lowest rank, whatever order the sort left them in)."""
    from dedup.index import _fold_paragraphs

    rng = np.random.default_rng(seed)
    n_units = 60
    cols = {
        "unit_para": rng.integers(0, 4, n_units).astype(np.int32),
        "unit_kind": rng.integers(0, 2, n_units).astype(np.uint8),
        "unit_start": rng.integers(0, 500, n_units).astype(np.int32),
        "unit_ntok": rng.integers(5, 40, n_units).astype(np.int32),
    }
    cols["unit_end"] = (cols["unit_start"] + rng.integers(1, 100, n_units)).astype(np.int32)
    m = 200
    g = np.sort(rng.integers(0, 5, m)).astype(np.int64)
    ua, ub = rng.integers(0, n_units, m), rng.integers(0, n_units, m)
    sims = rng.choice(np.array([0.5, 0.75, 1.0], dtype=np.float32), m)  # many ties
    exact = rng.integers(0, 2, m).astype(bool)
    boiler = rng.integers(0, 2, m).astype(bool)
    rank = rng.permutation(10 * m)[:m].astype(np.int64)
    want = _fold_paragraphs(cols, g, ua, ub, sims, exact, boiler, rank, 5)
    for _ in range(3):
        p = rng.permutation(m)
        got = _fold_paragraphs(cols, g[p], ua[p], ub[p], sims[p], exact[p], boiler[p], rank[p], 5)
        assert np.array_equal(got[0], want[0])
        assert all(np.array_equal(x, y) for x, y in zip(got[1], want[1]))
        assert np.array_equal(got[2], want[2]) and np.array_equal(got[3], want[3])
    # the best unit pair of each paragraph pair gives its similarity and exactness
    for i, (pa, pb) in enumerate(zip(want[1][0].tolist(), want[1][1].tolist())):
        rows = np.flatnonzero((g == want[0][i]) & (cols["unit_para"][ua] == pa) & (cols["unit_para"][ub] == pb))
        best = rows[np.lexsort((rank[rows], -sims[rows]))[0]]
        assert want[1][6][i] == sims[best] and want[1][7][i] == exact[best]


@pytest.mark.parametrize("seed", range(20))
def test_components_over_groups_match_the_direct_computation(seed: int) -> None:
    """Loose components computed on the graph contracted to the strict groups have exactly the
    labels of the direct computation, when the strict edges are among the loose ones."""
    from dedup.analysis import _components_over

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    m = int(rng.integers(0, 600))
    a, b = rng.integers(0, n, m), rng.integers(0, n, m)
    keys = np.unique(np.minimum(a, b).astype(np.int64) << 32 | np.maximum(a, b))
    pairs = np.stack([keys >> 32, keys & 0xFFFFFFFF], axis=1).astype(np.int32)
    sel = rng.random(len(pairs)) < 0.7  # the loose edges
    strict = sel & (rng.random(len(pairs)) < 0.5)  # the group edges: a subset of the loose ones
    groups = components(n, pairs[strict])
    got = _components_over(groups, pairs, sel, chunk=int(rng.integers(1, 50)))
    assert got.tolist() == components(n, pairs[sel]).tolist()


@pytest.mark.parametrize("seed", range(6))
def test_group_docs_counts_distinct_documents_per_group(seed: int) -> None:
    """Distinct documents per group, packed or through the general incidence, against a set count."""
    from dedup.analysis import _group_docs

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    n_groups, n_docs = int(rng.integers(1, 60)), int(rng.integers(1, 40))
    unit_group = rng.integers(0, n_groups, n)
    unit_doc = rng.integers(0, n_docs, n).astype(np.int32)
    want = np.zeros(n_groups, dtype=np.int64)
    for g, _d in set(zip(unit_group.tolist(), unit_doc.tolist())):
        want[g] += 1
    assert np.array_equal(_group_docs(unit_group, unit_doc, n_groups, n_docs), want)
    # group numbers too wide to pack with the documents: the general path gives the same counts
    assert np.array_equal(_group_docs(unit_group, unit_doc, n_groups, 2**62), want)
    assert _group_docs(unit_group[:0], unit_doc[:0], n_groups, n_docs).tolist() == [0] * n_groups


@pytest.mark.parametrize("seed", range(6))
def test_incidence_sums_tokens_per_group_and_document(seed: int) -> None:
    """(group, document) incidences with summed tokens, packed or not, against a dict; int32
    columns while the values fit, int64 (not wrapped) when the token sums do not."""
    from dedup.analysis import _incidence

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    n_groups, n_docs = int(rng.integers(1, 60)), int(rng.integers(1, 40))
    unit_group = rng.integers(0, n_groups, n)
    unit_doc = rng.integers(0, n_docs, n).astype(np.int32)
    unit_ntok = rng.integers(0, 500, n).astype(np.int32)
    want: dict[tuple[int, int], int] = {}
    for g, d, t in zip(unit_group.tolist(), unit_doc.tolist(), unit_ntok.tolist()):
        want[g, d] = want.get((g, d), 0) + t
    keys = sorted(want)
    for docs in (n_docs, 2**62):  # packed into one int64 per unit, and the general path
        g, d, tok = _incidence(unit_group, unit_doc, unit_ntok, n_groups, docs)
        assert list(zip(g.tolist(), d.tolist())) == keys
        assert tok.tolist() == [want[k] for k in keys]
        assert g.dtype == d.dtype == tok.dtype == np.int32
    big = np.full(n, 2**30, dtype=np.int64)  # two such units of one (group, document) pass 2**31
    g, d, tok = _incidence(np.zeros(n, np.int64), np.zeros(n, np.int32), big, 1, 1)
    assert tok.tolist() == [n * 2**30] and (tok.dtype == np.int64 or n == 1)


@pytest.mark.parametrize("seed", range(4))
def test_segments_are_the_runs_of_equal_values(seed: int) -> None:
    from dedup.analysis import _segments

    rng = np.random.default_rng(seed)
    x = np.sort(rng.integers(0, int(rng.integers(1, 50)), int(rng.integers(1, 300))))
    _, first, counts = np.unique(x, return_index=True, return_counts=True)
    starts, lengths = _segments(x)
    assert starts.tolist() == first.tolist() and lengths.tolist() == counts.tolist()
    assert [len(a) for a in _segments(x[:0])] == [0, 0]
