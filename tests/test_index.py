from __future__ import annotations

import random

import numpy as np
import pytest

from dedup import (
    DedupError,
    DocumentNotFoundError,
    DuplicateDocumentError,
    EmptyDocumentError,
    Index,
    InvalidParameterError,
    InvalidTextError,
    InvalidTypeError,
)
from dedup.minhash import jaccard_estimate, to_lean_minhash

WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "is",
    "that",
    "for",
    "on",
    "with",
    "as",
    "was",
    "by",
    "at",
    "from",
    "it",
    "he",
    "said",
    "his",
    "have",
    "be",
    "are",
    "an",
    "this",
    "which",
    "or",
    "not",
    "but",
    "had",
    "they",
    "were",
    "has",
    "been",
    "its",
    "their",
    "one",
    "would",
    "who",
    "also",
    "more",
    "after",
    "two",
    "other",
    "first",
    "new",
    "people",
    "than",
    "year",
    "government",
    "minister",
    "police",
    "president",
    "state",
    "city",
    "report",
    "week",
    "company",
    "market",
    "court",
    "election",
    "party",
    "water",
    "school",
    "health",
    "price",
    "bank",
    "plan",
    "union",
    "army",
]


def make_text(rng: random.Random, paragraphs: int = 5, words: int = 40) -> str:
    paras = []
    for _ in range(paragraphs):
        ws = [rng.choice(WORDS) + str(rng.randrange(1000)) for _ in range(words)]
        paras.append(" ".join(ws).capitalize() + ".")
    return "\n\n".join(paras)


@pytest.fixture()
def rng() -> random.Random:
    return random.Random(7)


def test_add_query_remove_len_contains(rng):
    idx = Index()
    a, b = make_text(rng), make_text(rng)
    idx.add("a", a, outlet="metro", date="2022-04-07")
    idx.add("b", b)
    assert len(idx) == 2 and "a" in idx and "zzz" not in idx
    assert idx.metadata("a") == {"outlet": "metro", "date": "2022-04-07"}
    res = idx.query(a)
    assert [m.doc_id for m in res] == ["a"]
    assert res[0].score == 1.0 and res[0].metadata["outlet"] == "metro"
    assert len(res[0].paragraphs) == 5
    assert idx.num_paragraphs == len(idx.paragraphs("a")) + len(idx.paragraphs("b"))
    pm = res[0].paragraphs[0]
    assert a[pm.a_start : pm.a_end] == idx.text("a")[pm.b_start : pm.b_end]
    idx.remove("a")
    assert len(idx) == 1 and "a" not in idx
    assert idx.num_paragraphs == len(idx.paragraphs("b"))
    assert idx.query(a) == []
    with pytest.raises(DocumentNotFoundError):
        idx.remove("a")
    with pytest.raises(KeyError):  # also a KeyError
        idx.text("a")


def test_duplicate_id_and_replace(rng):
    idx = Index()
    t1, t2 = make_text(rng), make_text(rng)
    idx.add("x", t1)
    with pytest.raises(DuplicateDocumentError, match="replace=True"):
        idx.add("x", t2)
    with pytest.raises(ValueError):
        idx.add("x", t2)
    idx.add("x", t2, replace=True)
    assert len(idx) == 1 and idx.text("x") == t2
    assert [m.doc_id for m in idx.query(t2)] == ["x"]
    assert idx.query(t1) == []


def test_bad_inputs_raise_clear_errors(rng):
    idx = Index()
    with pytest.raises(EmptyDocumentError):
        idx.add("e", "")
    with pytest.raises(EmptyDocumentError, match="word character"):
        idx.add("e", "  \n\t ... !!! ")
    with pytest.raises(InvalidTextError, match="UTF-8"):
        idx.add("b", b"\xff\xfeabc")
    with pytest.raises(InvalidTypeError):
        idx.add("n", None)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        idx.add(5, "text here")  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        idx.add_many([42])
    with pytest.raises(InvalidParameterError):
        idx.add_many([{"id": "x"}])
    with pytest.raises(InvalidParameterError):
        idx.query("some words here", threshold=1.5)
    with pytest.raises(EmptyDocumentError):
        idx.query("   ")
    assert len(idx) == 0
    idx.add("ok", "fine words " * 10)
    assert isinstance(EmptyDocumentError("x"), DedupError)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold": 0},
        {"threshold": 1.2},
        {"num_perm": 1},
        {"shingle_size": 0},
        {"bands": 40, "rows": 4},
        {"bands": 10},
        {"seed": -1},
        {"seed": 2**32},
        {"threshold": "0.5"},
    ],
)
def test_invalid_parameters(kwargs):
    with pytest.raises(InvalidParameterError):
        Index(**kwargs)


def test_bands_error_names_the_fix():
    with pytest.raises(InvalidParameterError, match="did you forget num_perm"):
        Index(num_perm=64, bands=32, rows=4)


def test_add_many_accepts_tuples_and_mappings_and_skips(rng):
    idx = Index()
    recs = [
        ("t1", make_text(rng)),
        ("t2", make_text(rng), {"outlet": "x"}),
        {"id": "m1", "text": make_text(rng), "outlet": "y"},
        {"id": "bad", "text": "   "},
        {"id": "bytes", "text": b"\xff\xfe"},
        ("t1", make_text(rng)),  # duplicate in the same call
    ]
    report = idx.add_many(recs, on_error="skip")
    assert report.added == 3 and report.n_skipped == 3
    assert {r[0] for r in report.skipped} == {"bad", "bytes", "t1"}
    assert idx.metadata("m1") == {"outlet": "y"} and idx.metadata("t2") == {"outlet": "x"}
    with pytest.raises(InvalidParameterError):
        idx.add_many([], on_error="ignore")


def test_short_paragraph_is_matchable():
    idx = Index()
    idx.add("a", "Pskov refused.\n\n" + "other words entirely different " * 8)
    res = idx.query("Pskov refused!")
    assert [m.doc_id for m in res] == ["a"]


def test_query_finds_quote_embedded_in_longer_paragraph(rng):
    quote = "About sixty servicemen from Pskov refused to go to war on Ukrainian territory according to our sources."
    host = make_text(rng, paragraphs=1, words=60)
    idx = Index()
    idx.add("long", make_text(rng, 2) + "\n\n" + host + " " + quote + " " + make_text(rng, 1, 30))
    res = idx.query("Pskovskaya reported: ‘" + quote + "’")
    assert [m.doc_id for m in res] == ["long"]
    pm = res[0].paragraphs[0]
    assert "Pskov refused" in idx.text("long")[pm.b_start : pm.b_end]


def test_merged_paragraphs_link_documents(rng):
    p1, p2 = make_text(rng, 1, 30), make_text(rng, 1, 30)
    a = make_text(rng, 2) + "\n\n" + p1 + "\n\n" + p2
    b = p1 + " " + p2 + "\n\n" + make_text(rng, 2)
    idx = Index()
    idx.add("a", a)
    idx.add("b", b)
    pairs = list(idx.pairs())
    assert len(pairs) == 1
    assert {m.a_index for m in pairs[0].paragraphs} == {2, 3}
    assert {m.b_index for m in pairs[0].paragraphs} == {0}


def test_per_call_threshold(rng):
    base = make_text(rng, 1, 60).split()
    edited = list(base)
    for i in range(0, 60, 15):
        edited[i] = "changed"
    idx = Index(threshold=0.3)
    idx.add("a", " ".join(base))
    sim = idx.query(" ".join(edited))[0].paragraphs[0].similarity
    assert 0.3 < sim < 0.9
    assert idx.query(" ".join(edited), threshold=min(1.0, sim + 0.05)) == []
    assert idx.query(" ".join(edited), threshold=max(0.01, sim - 0.05))


def test_signatures_interoperate_with_datasketch(rng):
    idx = Index(num_perm=64)
    idx.add("a", make_text(rng, 1))
    idx.add("b", make_text(rng, 1))
    sig = idx._signatures()
    la, lb = to_lean_minhash(sig[0], seed=1), to_lean_minhash(sig[1], seed=1)
    assert la.jaccard(lb) == pytest.approx(jaccard_estimate(sig[0], sig[1]))
    assert np.array_equal(np.asarray(la.hashvalues, dtype=np.uint32), sig[0])


@pytest.fixture(params=["compiled", "small", "by_length"])
def sign_path(request, monkeypatch):
    """Run a test with each signature path of ``dedup.minhash.signatures``."""
    import dedup.minhash as minhash
    import dedup.native as native

    if request.param == "compiled":
        request.getfixturevalue("kernels")
    else:
        monkeypatch.setattr(native, "USE_NATIVE", False)
        monkeypatch.setattr(minhash, "SMALL_INPUT", 1 << 30 if request.param == "small" else 0)
    return request.param


def test_signatures_equal_datasketch_affine32(rng, sign_path):
    """Bit-for-bit the signature datasketch computes for the same shingle hashes (both paths)."""
    from datasketch import MinHash

    from dedup.config import IndexConfig
    from dedup.units import featurize, unit_shingles

    cfg = IndexConfig(num_perm=128, seed=42)
    text = make_text(rng, 1, 50)
    f = featurize([text], cfg)
    sh = unit_shingles(text, 0, len(text), cfg) & np.uint64(0xFFFFFFFF)
    m = MinHash(num_perm=128, seed=42, scheme="affine32", hashfunc=lambda x: x)
    m.update_batch([int(x) for x in sh])
    assert np.array_equal(np.asarray(m.hashvalues, dtype=np.uint32), f.sig[0])


def test_estimate_agrees_with_exact_jaccard(rng):
    """Signatures estimate exact shingle Jaccard without bias (checked on many pairs)."""
    from dedup.config import IndexConfig
    from dedup.units import featurize, unit_shingles

    cfg = IndexConfig(num_perm=256)
    base = make_text(rng, 1, 80).split()
    texts = []
    for rate in np.linspace(0, 0.6, 40):
        ws = [w if rng.random() > rate else "x" + str(rng.randrange(10**6)) for w in base]
        texts.append(" ".join(ws))
    f = featurize([" ".join(base)] + texts, cfg)
    par = np.flatnonzero(f.unit_kind == 0)
    s0 = unit_shingles(" ".join(base), 0, len(" ".join(base)), cfg)
    errs = []
    for u, t in zip(par[1:], texts):
        s = unit_shingles(t, 0, len(t), cfg)
        exact = len(np.intersect1d(s0, s)) / len(np.union1d(s0, s))
        errs.append(jaccard_estimate(f.sig[par[0]], f.sig[u]) - exact)
    assert abs(np.mean(errs)) < 0.02
    assert np.max(np.abs(errs)) < 0.12


def test_seed_articles_pairs(seeds):
    idx = Index()
    for k, t in seeds.items():
        idx.add(k, t)
    linked = {(p.a, p.b) for p in idx.pairs()}
    # articles that share copied or lightly edited sentences
    for pair in [
        ("000", "001"),
        ("000", "002"),
        ("001", "002"),
        ("003", "004"),
        ("000", "004"),
        ("001", "004"),
        ("002", "004"),
    ]:
        assert pair in linked, pair
    # every reported paragraph pair really shares text (no pair through boilerplate alone)
    for p in idx.pairs():
        for m in p.paragraphs:
            a = idx.text(p.a)[m.a_start : m.a_end]
            b = idx.text(p.b)[m.b_start : m.b_end]
            assert m.similarity >= 0.5
            from dedup.text import tokenize

            wa, wb = set(tokenize(a).words), set(tokenize(b).words)
            assert len(wa & wb) >= 0.5 * min(len(wa), len(wb)), (a, b)


def test_pairs_paragraph_matches_are_typed_immutable_and_ordered(seeds):
    """pairs() builds its ParagraphMatch named tuples in bulk: fields keep their types and names."""
    from dedup.results import ParagraphMatch

    idx = Index()
    for k, t in seeds.items():
        idx.add(k, t)
    pairs = list(idx.pairs())
    assert pairs
    for p in pairs:
        assert [m.a_index for m in p.paragraphs] == sorted(m.a_index for m in p.paragraphs)
        for m in p.paragraphs:
            assert type(m) is ParagraphMatch
            assert all(type(v) is int for v in m[:6])
            assert type(m.similarity) is float and type(m.exact) is bool and type(m.boilerplate) is bool
            assert m.similarity == round(m.similarity, 6)
            assert 0 <= m.a_start < m.a_end <= len(idx.text(p.a))
            assert 0 <= m.b_start < m.b_end <= len(idx.text(p.b))
            assert m == ParagraphMatch(*m) and m._asdict()["b_index"] == m.b_index
            with pytest.raises(AttributeError):
                m.similarity = 1.0  # type: ignore[misc]
    # the paragraph pairs of a document pair are those the query of one document reports for the other
    p = pairs[0]
    match = next(m for m in idx.query(idx.text(p.a)) if m.doc_id == p.b)
    assert {(m.a_index, m.b_index) for m in match.paragraphs} == {(m.a_index, m.b_index) for m in p.paragraphs}


def test_seed_quote_embedded_in_longer_paragraph_links(seeds):
    """004 embeds the 'Things are bad with food' quote inside a longer paragraph."""
    idx = Index()
    for k, t in seeds.items():
        idx.add(k, t)
    pair = next(p for p in idx.pairs() if (p.a, p.b) == ("000", "004"))
    quoted = [idx.text("004")[m.b_start : m.b_end] for m in pair.paragraphs]
    assert any(q.startswith("Very often, we have a situation") for q in quoted)
    para_of_004 = next(m.b_index for m in pair.paragraphs if "Very often" in idx.text("004")[m.b_start : m.b_end])
    s, e = idx.paragraphs("004")[para_of_004]
    assert idx.text("004")[s:e].startswith("“Things are bad with food")  # embedded in a longer one


def test_boilerplate_is_not_reuse(rng):
    """Outlet templates recur across unrelated articles; a story reprinted across outlets is reuse."""
    templates = {o: [make_text(rng, 1, 30), make_text(rng, 1, 25)] for o in "XYZ"}
    story = [make_text(rng, 1, 40) for _ in range(6)]
    idx = Index()
    for o in "XYZ":
        for i in range(8):
            body = [make_text(rng, 1, 40) for _ in range(8)]
            if i < 3:
                body = story[:5] + [make_text(rng, 1, 40)]
            idx.add(f"{o}{i}", "\n\n".join(body + templates[o]), outlet=o)
    bp = idx.boilerplate()
    assert len(bp) == 6  # two template paragraphs per outlet
    assert all(b.doc_count == 8 for b in bp)
    texts = {b.text for b in bp}
    assert all(t in texts for ts in templates.values() for t in ts)
    pairs = {(p.a, p.b) for p in idx.pairs()}
    reprints = [f"{o}{i}" for o in "XYZ" for i in range(3)]
    assert pairs == {(a, b) for i, a in enumerate(reprints) for b in reprints[i + 1 :]}
    with_bp = {(p.a, p.b) for p in idx.pairs(include_boilerplate=True)}
    assert pairs < with_bp
    clusters = idx.clusters()
    assert [set(c.doc_ids) for c in clusters] == [set(reprints)]
    assert clusters[0].pairs == 36
    # a query never matches through boilerplate unless asked
    q = templates["X"][0]
    assert idx.query(q) == []
    assert len(idx.query(q, include_boilerplate=True)) == 8
    assert all(m.paragraphs[0].boilerplate for m in idx.query(q, include_boilerplate=True))


def test_story_in_fifty_documents_is_reuse(rng):
    story = [make_text(rng, 1, 40) for _ in range(6)]
    idx = Index()
    for i in range(50):
        r = random.Random(i)
        kept = [p for p in story if r.random() < 0.8] or story[:1]
        idx.add(f"d{i}", "\n\n".join(kept + [make_text(rng, 1, 30)]))
    assert idx.boilerplate() == []
    clusters = idx.clusters()
    assert len(clusters) == 1 and len(clusters[0]) == 50


def test_passages_between_indexed_documents(seeds):
    idx = Index()
    for k, t in seeds.items():
        idx.add(k, t)
    ps = idx.passages("000", "001")
    assert ps
    a, b = idx.text("000"), idx.text("001")
    joined = " ".join(b[p.b_start : p.b_end] for p in ps)
    assert "About 60 servicemen from Pskov refused to go to war" in joined
    for p in ps:
        assert 0 <= p.a_start < p.a_end <= len(a) and 0 <= p.b_start < p.b_end <= len(b)
    with pytest.raises(DocumentNotFoundError):
        idx.passages("000", "nope")


def test_passages_drop_boilerplate_by_default(rng):
    template = make_text(rng, 1, 40)
    idx = Index()
    for i in range(8):
        idx.add(f"d{i}", make_text(rng, 6) + "\n\n" + template)
    assert idx.boilerplate_spans("d0")
    assert idx.passages("d0", "d1") == []
    assert len(idx.passages("d0", "d1", include_boilerplate=True)) == 1


def test_two_workers_give_identical_results(seeds, rng):
    recs = [(k, t) for k, t in seeds.items()] + [(f"r{i}", make_text(rng)) for i in range(30)]
    recs += [(f"c{i}", recs[i][1] + "\n\n" + make_text(rng, 1)) for i in range(0, 30, 3)]
    one, two = Index(), Index()
    one.add_many(recs, batch_size=4)
    two.add_many(recs, batch_size=4, workers=2)
    assert np.array_equal(one._signatures(), two._signatures())
    assert list(one.pairs()) == list(two.pairs())
    assert one.clusters() == two.clusters()
    with pytest.raises(InvalidParameterError):
        one.add_many([], workers=-1)


def test_on_error_raise_keeps_records_before_the_bad_one(rng):
    idx = Index()
    with pytest.raises(EmptyDocumentError):
        idx.add_many([("a", make_text(rng)), ("b", make_text(rng)), ("c", "  ")], batch_size=1, workers=2)
    assert list(idx) == ["a", "b"]


def test_stored_unit_shingles_match_the_unit_text(seeds):
    """Every unit's stored shingles are the shingles of its character span (exact verification)."""
    from dedup.config import IndexConfig
    from dedup.units import featurize, unit_shingles

    cfg = IndexConfig()
    texts = list(seeds.values())
    f = featurize(texts, cfg)
    for u in range(f.n_units):
        text = texts[int(f.unit_doc[u])]
        want = unit_shingles(text, int(f.unit_start[u]), int(f.unit_end[u]), cfg) & np.uint64(0xFFFFFFFF)
        got = f.shingles[f.unit_sh0[u] : f.unit_sh0[u] + f.unit_nsh[u]]
        assert set(got.tolist()) == set(want.tolist()), u


def test_set_jaccard_matches_python_sets():
    from dedup.shingles import set_jaccard

    r = np.random.default_rng(5)
    sh = r.integers(0, 40, size=5000).astype(np.uint32)
    m = 300
    sa = r.integers(0, 4000, m)
    sb = r.integers(0, 4000, m)
    la = r.integers(0, 60, m)
    lb = r.integers(0, 60, m)
    got = set_jaccard(sh, sa, la, sh, sb, lb, chunk=500)  # small chunks: several rounds
    for i in range(m):
        a = set(sh[sa[i] : sa[i] + la[i]].tolist())
        b = set(sh[sb[i] : sb[i] + lb[i]].tolist())
        want = len(a & b) / len(a | b) if a | b else 1.0
        assert abs(got[i] - want) < 1e-6, i


@pytest.mark.parametrize("chunk", [3, 64, 8192])
def test_union_signatures_are_minhash_of_the_union(chunk, sign_path):
    from dedup.errors import InvalidParameterError
    from dedup.minhash import permutations, signatures

    gen = np.random.default_rng(5)
    sizes = gen.integers(1, 40, 60)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    hashes = gen.integers(0, 2**63, int(sizes.sum()), dtype=np.uint64)
    unions = np.array([0, 1, 4, 5, 30, 59])
    perms = permutations(32, seed=3)
    sig, union = signatures(hashes, starts, perms, chunk=chunk, unions=unions)
    assert np.array_equal(sig, signatures(hashes, starts, perms))
    bounds = list(starts[unions]) + [len(hashes)]
    for u in range(len(unions)):
        whole = signatures(hashes[bounds[u] : bounds[u + 1]], np.array([0]), perms)[0]
        assert np.array_equal(union[u], whole)
    for bad in ([1, 2], [0, 0], [0, 60]):
        with pytest.raises(InvalidParameterError):
            signatures(hashes, starts, perms, unions=np.array(bad))


@pytest.mark.parametrize("seed", range(4))
def test_signature_paths_agree(seed, monkeypatch, kernels):
    """The compiled kernel, the one-block path (small inputs) and the by-length path agree."""
    import dedup.minhash as minhash
    import dedup.native as native

    gen = np.random.default_rng(seed)
    sizes = gen.integers(1, 300, int(gen.integers(1, 80)))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    hashes = gen.integers(0, 2**63, int(sizes.sum()), dtype=np.uint64)
    perms = minhash.permutations(64, seed=seed)
    compiled = minhash.signatures(hashes, starts, perms)
    monkeypatch.setattr(native, "USE_NATIVE", False)
    assert native.kernels() is None
    monkeypatch.setattr(minhash, "SMALL_INPUT", 1 << 30)
    small = minhash.signatures(hashes, starts, perms)
    monkeypatch.setattr(minhash, "SMALL_INPUT", 0)
    assert np.array_equal(small, minhash.signatures(hashes, starts, perms, chunk=int(gen.integers(1, 500))))
    assert np.array_equal(small, compiled)


def test_incidence_packed_and_wide_paths_agree():
    """The packed (group, doc, tokens) sort and the general key + argsort path give the same incidence."""
    from dedup.analysis import _incidence

    gen = np.random.default_rng(2)
    n = 5000
    group = gen.integers(0, 700, n).astype(np.int64)
    doc = gen.integers(0, 90, n).astype(np.int32)
    ntok = gen.integers(0, 400, n).astype(np.int32)
    packed = _incidence(group, doc, ntok, 700, 90)
    wide = _incidence(group, doc, ntok, 700, 2**62)  # too many documents to pack: general path
    for x, y in zip(packed, wide):
        assert np.array_equal(x, y)
    pairs = sorted(set(zip(group.tolist(), doc.tolist())))
    assert list(zip(packed[0].tolist(), packed[1].tolist())) == pairs
    g0, d0 = pairs[0]
    assert packed[2][0] == ntok[(group == g0) & (doc == d0)].sum()


def test_doc_pairs_are_typed_immutable_named_tuples(seeds):
    from dedup.results import DocPair

    idx = Index()
    idx.add_many(list(seeds.items()))
    pairs = list(idx.pairs())
    assert pairs
    for p in pairs:
        assert type(p) is DocPair and p == DocPair(*p)
        assert isinstance(p.a, str) and isinstance(p.score, float) and isinstance(p.paragraphs, tuple)
        assert p._asdict()["b"] == p.b and 0.0 <= p.a_coverage <= 1.0
        with pytest.raises(AttributeError):
            p.score = 0.0  # type: ignore[misc]
