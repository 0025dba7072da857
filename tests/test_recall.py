"""LSH recall against a brute-force oracle of exact shingle Jaccard over all paragraph pairs."""

from __future__ import annotations

import random

import numpy as np
from scipy.sparse import csr_matrix

from dedup import Index
from dedup.units import unit_shingles

VOCAB = [f"w{i}" for i in range(3000)]


def _edit(words: list[str], rate: float, rng: random.Random) -> list[str]:
    out = []
    for w in words:
        r = rng.random()
        if r < rate / 3:
            out.append(rng.choice(VOCAB))  # substitution
        elif r < 2 * rate / 3:
            continue  # deletion
        elif r < rate:
            out.extend([w, rng.choice(VOCAB)])  # insertion
        else:
            out.append(w)
    return out or words[:1]


def _corpus(seed: int = 3):
    rng = random.Random(seed)
    zipf = np.random.default_rng(seed).zipf(1.3, size=400_000) % len(VOCAB)
    pos = 0

    def para(n: int) -> list[str]:
        nonlocal pos
        ws = [VOCAB[i] for i in zipf[pos : pos + n]]
        pos += n
        return ws

    docs = []
    for s in range(40):
        story = [para(rng.randint(15, 70)) for _ in range(5)]
        for c in range(rng.randint(2, 6)):
            paras = [_edit(p, rng.choice([0.0, 0.02, 0.05, 0.1, 0.2]), rng) for p in story if rng.random() < 0.85]
            paras += [para(rng.randint(20, 60)) for _ in range(rng.randint(1, 4))]
            rng.shuffle(paras)
            docs.append((f"s{s}c{c}", "\n\n".join(" ".join(p) + "." for p in paras)))
    for f in range(150):
        docs.append((f"fresh{f}", "\n\n".join(" ".join(para(rng.randint(20, 60))) + "." for _ in range(6))))
    return docs


def test_recall_against_brute_force_oracle():
    docs = _corpus()
    idx = Index(threshold=0.5)
    idx.add_many(docs)
    cfg = idx.config
    # every paragraph with its exact shingle set
    keys, sets = [], []
    for d, text in docs:
        for p, (s, e) in enumerate(idx.paragraphs(d)):
            keys.append((d, p))
            sets.append(unit_shingles(text, s, e, cfg))
    vocab = {h: i for i, h in enumerate(np.unique(np.concatenate(sets)).tolist())}
    rows = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
    cols = np.array([vocab[h] for s in sets for h in s.tolist()])
    m = csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(sets), len(vocab)))
    inter = (m @ m.T).tocoo()
    sizes = np.array([len(s) for s in sets])
    a, b, n = inter.row, inter.col, inter.data
    jac = n / (sizes[a] + sizes[b] - n)
    doc_of = np.array([k[0] for k in keys])
    sel = (a < b) & (doc_of[a] != doc_of[b]) & (jac >= cfg.threshold + 0.1)
    truth = {(keys[i], keys[j]) for i, j in zip(a[sel].tolist(), b[sel].tolist())}
    assert len(truth) > 300

    found = set()
    for pair in idx.pairs():
        for pm in pair.paragraphs:
            x, y = (pair.a, pm.a_index), (pair.b, pm.b_index)
            found.add((x, y))
            found.add((y, x))
    recall = len(truth & found) / len(truth)
    assert recall >= 0.99, recall
    # and nothing reported is unrelated: every reported paragraph pair has real overlap
    jac_of = {(keys[i], keys[j]): v for i, j, v in zip(a.tolist(), b.tolist(), jac.tolist())}
    reported = [(x, y) for (x, y) in found if x[0] < y[0]]
    weak = [p for p in reported if jac_of.get(p, 0.0) < 0.2]
    assert len(weak) <= 0.02 * len(reported)


def test_query_finds_what_pairs_finds():
    """query(text of a) returns every document that pairs() links to a through a strong paragraph."""
    docs = _corpus(seed=11)
    idx = Index(threshold=0.5)
    idx.add_many(docs)
    text = dict(docs)
    want: dict[str, set[str]] = {}
    for pair in idx.pairs():
        if any(pm.similarity >= 0.7 for pm in pair.paragraphs):
            want.setdefault(pair.a, set()).add(pair.b)
    assert sum(len(v) for v in want.values()) > 100
    missed = 0
    for a, bs in want.items():
        got = {m.doc_id for m in idx.query(text[a])}
        assert a in got  # a document finds itself
        missed += len(bs - got)
    assert missed == 0
