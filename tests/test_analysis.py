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
