"""Tests of dedup.synth: determinism, streaming write, ground-truth consistency, statistics."""

from __future__ import annotations

import difflib
import gzip
import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.errors import DedupError, InvalidParameterError
from dedup.synth import SynthConfig, generate, load_truth, truth_paths, write_corpus

SMALL = SynthConfig(n_articles=300, seed=0, block_size=300)


def _digest(cfg: SynthConfig) -> str:
    h = hashlib.sha256()
    for rec in generate(cfg):
        h.update(json.dumps(rec, sort_keys=True).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict[str, str]]:
    path = tmp_path_factory.mktemp("synth") / "corpus.jsonl.gz"
    summary = write_corpus(path, SMALL)
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        texts = {r["id"]: r["text"] for r in map(json.loads, fh)}
    return path, summary, texts


def test_records_shape_and_ids() -> None:
    recs = list(generate(SynthConfig(n_articles=12, seed=3)))
    assert [r["id"] for r in recs] == [f"syn-{i:07d}" for i in range(1, 13)]
    for r in recs:
        assert set(r) == {"id", "text", "outlet", "date", "title"}
        assert r["text"] and r["title"] and r["outlet"]
        assert len(r["date"]) == 10
        assert "\n\n\n" not in r["text"] and not r["text"].startswith("\n")


def test_same_seed_same_output_different_seed_differs() -> None:
    cfg = SynthConfig(n_articles=60, seed=5, block_size=60)
    assert _digest(cfg) == _digest(cfg)
    assert _digest(cfg) != _digest(SynthConfig(n_articles=60, seed=6, block_size=60))


def test_write_is_byte_identical(tmp_path: Path) -> None:
    cfg = SynthConfig(n_articles=40, seed=2, block_size=40)
    a, b = tmp_path / "a" / "c.jsonl.gz", tmp_path / "b" / "c.jsonl.gz"
    a.parent.mkdir()
    b.parent.mkdir()
    write_corpus(a, cfg)
    write_corpus(b, cfg)
    for k in ("clusters", "pairs", "passages", "boilerplate"):
        assert truth_paths(a)[k].read_bytes() == truth_paths(b)[k].read_bytes()
    assert a.read_bytes() == b.read_bytes()


def test_prefix_and_ranges_match_full_run() -> None:
    cfg = SynthConfig(n_articles=90, seed=1, block_size=40)
    full = list(generate(cfg))
    assert list(generate(SynthConfig(n_articles=50, seed=1, block_size=40))) == full[:50]
    parts = list(generate(cfg, 0, 33)) + list(generate(cfg, 33, 71)) + list(generate(cfg, 71))
    assert parts == full


def test_ranges_across_chunks_and_blocks() -> None:
    cfg = SynthConfig(n_articles=260, seed=9, block_size=150)
    full = list(generate(cfg))
    assert list(generate(cfg, 70, 200)) == full[70:200]
    assert list(generate(cfg, 150, 151)) == full[150:151]


def test_plain_jsonl_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    s = write_corpus(path, SynthConfig(n_articles=30, seed=4, block_size=30))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == s["n_articles"] == 30
    assert s["corpus_bytes"] == path.stat().st_size
    assert truth_paths(path)["pairs"].name == "x.pairs.jsonl"
    truth = load_truth(path)
    assert len(truth.clusters) == s["n_clusters"]
    assert len(truth.pairs) == s["n_pairs"]


def test_truth_roundtrip(corpus: tuple[Path, dict, dict[str, str]]) -> None:
    path, summary, texts = corpus
    truth = load_truth(path)
    assert truth_paths(path)["clusters"].name == "corpus.clusters.jsonl.gz"
    assert len(truth.clusters) == summary["n_clusters"] > 0
    assert len(truth.pairs) == summary["n_pairs"] > 0
    assert len(truth.passages) == summary["n_passages"] > 0
    assert len(truth.boilerplate) == summary["n_boilerplate"] > 0
    cols = truth.columns("pairs")
    assert len(cols["a_start"]) == len(truth.pairs)
    assert set(truth.doc_cluster()) <= set(texts)
    kinds = Counter(c["kind"] for c in truth.clusters)
    assert kinds["story"] > 0 and kinds["resend"] > 0
    seen: set[str] = set()
    for c in truth.clusters:
        assert len(c["doc_ids"]) >= 2
        assert not seen & set(c["doc_ids"])  # each document is in at most one cluster
        seen |= set(c["doc_ids"])
    assert 0.5 <= 1 - len(seen) / len(texts) <= 0.7  # about 60% fresh unrelated articles


def test_spans_slice_and_ops_are_consistent(corpus: tuple[Path, dict, dict[str, str]]) -> None:
    path, _, texts = corpus
    truth = load_truth(path)
    ops = Counter()
    members = {d: c["cluster"] for c in truth.clusters for d in c["doc_ids"]}
    for p in truth.pairs:
        a = texts[p["a"]][p["a_start"] : p["a_end"]]
        b = texts[p["b"]][p["b_start"] : p["b_end"]]
        assert a and b and "\n\n" not in a and "\n\n" not in b
        assert p["a"] < p["b"] and members[p["a"]] == members[p["b"]] == p["cluster"]
        assert 0.0 <= p["edit_rate"] <= 1.0
        ops[p["op"]] += 1
        if p["op"] in ("copy", "resend"):
            assert a == b
        elif p["op"] == "restyle":
            assert _straight(a) == _straight(b)
        elif p["op"] == "edit":
            sa, sb = _straight(a).split(), _straight(b).split()
            ratio = difflib.SequenceMatcher(None, sa, sb, autojunk=False).ratio()
            assert ratio >= 1 - 2 * p["edit_rate"] - 0.05, (p, ratio)
    assert {"copy", "edit", "resend", "embed"} <= set(ops)
    for p in truth.passages:
        a = texts[p["a"]][p["a_start"] : p["a_end"]]
        b = texts[p["b"]][p["b_start"] : p["b_end"]]
        assert a.strip() == a and b.strip() == b and a and b
        if p["edit_rate"] == 0.0 and p["kind"] == "story" and "\n\n" not in a + b:
            assert _straight(a) == _straight(b) or len(a) != len(b)
    for bp in truth.boilerplate:
        span = texts[bp["doc"]][bp["start"] : bp["end"]]
        assert span and "\n" not in span


def _straight(s: str) -> str:
    return s.translate(str.maketrans({"\u201c": '"', "\u201d": '"', "\u2019": "'"}))


def test_boilerplate_recurs_within_outlet(corpus: tuple[Path, dict, dict[str, str]]) -> None:
    path, _, texts = corpus
    truth = load_truth(path)
    by_outlet: dict[str, Counter[str]] = defaultdict(Counter)
    docs_by_outlet: dict[str, set[str]] = defaultdict(set)
    for bp in truth.boilerplate:
        by_outlet[bp["outlet"]][_straight(texts[bp["doc"]][bp["start"] : bp["end"]])] += 1
        docs_by_outlet[bp["outlet"]].add(bp["doc"])
    busiest = max(docs_by_outlet, key=lambda o: len(docs_by_outlet[o]))
    text, count = by_outlet[busiest].most_common(1)[0]
    assert count >= 3
    # the recurring paragraph belongs to that outlet only
    for outlet, ctr in by_outlet.items():
        if outlet != busiest:
            assert text not in ctr


def test_corpus_statistics(corpus: tuple[Path, dict, dict[str, str]]) -> None:
    _, summary, texts = corpus
    n = len(texts)
    assert n == 300
    chars = sum(len(t) for t in texts.values()) / n
    paras = sum(t.count("\n\n") + 1 for t in texts.values()) / n
    assert 4000 <= chars <= 5600
    assert 11 <= paras <= 15
    assert summary["n_paragraphs"] == sum(t.count("\n\n") + 1 for t in texts.values())
    lens = [len(p.split()) for t in texts.values() for p in t.split("\n\n")]
    assert min(lens) <= 10 and max(lens) >= 100  # one-liners and long paragraphs
    words = Counter(w.lower() for t in texts.values() for w in t.split())
    assert words.most_common(1)[0][0] == "the"
    assert any('"' in t or "\u201c" in t for t in texts.values())
    assert any("\u2019" in t for t in texts.values()) and any("'" in t for t in texts.values())


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_any_seed_produces_consistent_truth(
    seed: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("h") / "c.jsonl"
    cfg = SynthConfig(n_articles=40, seed=seed, block_size=40, fresh_fraction=0.3)
    write_corpus(path, cfg)
    texts = {r["id"]: r["text"] for r in map(json.loads, path.read_text("utf-8").splitlines())}
    truth = load_truth(path)
    assert len(texts) == 40
    for p in truth.pairs + truth.passages:
        assert 0 <= p["a_start"] < p["a_end"] <= len(texts[p["a"]])
        assert 0 <= p["b_start"] < p["b_end"] <= len(texts[p["b"]])
        if p.get("op") == "copy":
            assert (
                texts[p["a"]][p["a_start"] : p["a_end"]] == texts[p["b"]][p["b_start"] : p["b_end"]]
            )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_articles": -1},
        {"n_articles": 1.5},
        {"seed": -3},
        {"seed": True},
        {"n_outlets": 1},
        {"fresh_fraction": 1.2},
        {"fresh_fraction": float("nan")},
        {"fresh_fraction": 0.9, "embed_fraction": 0.2},
        {"max_cluster_size": 1},
        {"max_edit_rate": -0.1},
        {"block_size": 0},
        {"start_date": "yesterday"},
        {"articles_per_day": 0},
    ],
)
def test_bad_parameters_raise(kwargs: dict) -> None:
    with pytest.raises(InvalidParameterError):
        SynthConfig(**kwargs)


def test_bad_call_arguments(tmp_path: Path) -> None:
    cfg = SynthConfig(n_articles=10)
    with pytest.raises(InvalidParameterError):
        list(generate(cfg, 5, 3))
    with pytest.raises(InvalidParameterError):
        list(generate(cfg, 0, 11))
    with pytest.raises(InvalidParameterError):
        write_corpus(tmp_path / "c.txt", cfg)
    with pytest.raises(InvalidParameterError):
        write_corpus(tmp_path / "c.jsonl", cfg, compresslevel=12)
    with pytest.raises(DedupError):
        load_truth(tmp_path / "missing.jsonl")
    with pytest.raises(TypeError):
        list(generate({"n_articles": 3}))  # type: ignore[arg-type]


def test_empty_corpus(tmp_path: Path) -> None:
    cfg = SynthConfig(n_articles=0)
    assert list(generate(cfg)) == []
    s = write_corpus(tmp_path / "e.jsonl.gz", cfg)
    assert s["n_articles"] == 0
    assert load_truth(tmp_path / "e.jsonl.gz").pairs == []


def test_bundled_sample_loads() -> None:
    from dedup import synth

    sample = Path(synth.__file__).parent / "data" / "sample.jsonl.gz"
    if not sample.exists():
        pytest.skip("bundled sample not generated yet")
    truth = load_truth(sample)
    with gzip.open(sample, "rt", encoding="utf-8") as fh:
        recs = [json.loads(line) for line in fh]
    assert len(recs) == 300 and truth.pairs
    assert sample.stat().st_size < 1_000_000
