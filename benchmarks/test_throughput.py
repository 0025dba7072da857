"""Per-stage and end-to-end throughput of dedup on the seeded synthetic corpus.

Figures go into ``benchmark.extra_info``: seconds, docs/s, paragraphs/s, MB/s (MB of article text,
UTF-8), peak RSS of the process, and bytes of RAM per indexed paragraph (RSS growth while indexing
divided by paragraphs).  No timing assertions.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from benchmarks.measure import peak_rss_bytes, rss_bytes
from benchmarks.quality import evaluate
from benchmarks.systems import run_dedup
from benchmarks.util import public, rates, run_timed


def _n_paragraphs(records: list[tuple[str, str]]) -> int:
    from dedup.text import paragraph_spans

    return sum(len(paragraph_spans(t)) for _, t in records)


@pytest.fixture(scope="module")
def n_paragraphs(records: list[tuple[str, str]]) -> int:
    return _n_paragraphs(records)


def _fresh_index(records: list[tuple[str, str]], workers: int = 1) -> Any:
    from dedup import Index

    idx = Index(threshold=0.5, num_perm=128, seed=1, shingle_size=5)
    idx.add_many(records, workers=workers)
    return idx


@pytest.fixture(scope="module")
def built_index(records: list[tuple[str, str]], workers: int) -> Any:
    return _fresh_index(records, workers)


def test_tokenize(benchmark: Any, records: list[tuple[str, str]], n_paragraphs: int, text_mb: float) -> None:
    from dedup.text import tokenize

    texts = [t for _, t in records]
    out, s = run_timed(benchmark, lambda: sum(len(tokenize(t)) for t in texts), rounds=3)
    rates(benchmark.extra_info, s, len(texts), n_paragraphs, text_mb)
    benchmark.extra_info["tokens"] = out
    assert out > 0


def test_featurize(benchmark: Any, records: list[tuple[str, str]], n_paragraphs: int, text_mb: float) -> None:
    from dedup.config import IndexConfig
    from dedup.units import featurize

    texts = [t for _, t in records]
    cfg = IndexConfig()

    def run() -> int:
        return sum(featurize(texts[i : i + 2000], cfg).n_units for i in range(0, len(texts), 2000))

    units, s = run_timed(benchmark, run, rounds=1)
    rates(benchmark.extra_info, s, len(texts), n_paragraphs, text_mb)
    benchmark.extra_info["units"] = units
    assert units >= n_paragraphs


def test_add_many(
    benchmark: Any, records: list[tuple[str, str]], n_paragraphs: int, text_mb: float, workers: int
) -> None:
    rss0 = rss_bytes()
    idx, s = run_timed(benchmark, lambda: _fresh_index(records, workers), rounds=1)
    grown = rss_bytes() - rss0
    rates(benchmark.extra_info, s, len(records), n_paragraphs, text_mb)
    benchmark.extra_info.update(
        workers=workers,
        index_rss_mb=round(grown / 1e6, 1),
        bytes_per_paragraph=round(grown / max(n_paragraphs, 1)),
        peak_rss_mb=round(peak_rss_bytes() / 1e6, 1),
    )
    assert len(idx) == len(records)


def test_query(benchmark: Any, built_index: Any, records: list[tuple[str, str]]) -> None:
    queries = [t for _, t in records[: min(100, len(records))]]
    built_index.query(queries[0])  # the first query builds the lookup table: not a latency
    lat: list[float] = []

    def timed_queries() -> list[Any]:
        res = []
        for t in queries:
            t0 = time.perf_counter()
            res.append(built_index.query(t))
            lat.append(time.perf_counter() - t0)
        return res

    out, s = run_timed(benchmark, timed_queries, rounds=1)
    ms = sorted(x * 1e3 for x in lat)
    benchmark.extra_info.update(
        queries=len(queries),
        queries_per_s=round(len(queries) / max(s, 1e-9), 1),
        median_ms=round(ms[len(ms) // 2], 2),
        p95_ms=round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 2),
        index_docs=len(built_index),
    )
    # each query document is indexed: it finds at least itself
    assert all(any(m.doc_id == d for m in r) for (d, _), r in zip(records, out))


def test_query_saved_index(
    benchmark: Any, built_index: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """A query service's start: a fresh load of an index saved with its analysis, then queries
    (through ``python -m benchmarks.query_latency --index``, which writes nothing here)."""
    import benchmarks.query_latency as ql

    saved = built_index.save(tmp_path / "ix", analyze=True)
    monkeypatch.setattr(ql, "RESULTS", tmp_path / "results")
    out, s = run_timed(
        benchmark, lambda: ql.run(["--index", str(saved), "--workers", str(workers), "--queries", "50"]), rounds=1
    )
    q = out["query"]
    benchmark.extra_info.update(
        load_s=round(out["load_s"], 3),
        first_query_s=round(q["first_s"], 3),
        median_ms=round(q["median_ms"], 2),
        warm_median_ms=round(q["warm"]["median_ms"], 2),
        index_docs=out["size"],
    )
    assert out["analyzed"] and out["size"] == len(built_index) and q["queries"] == 49


def test_pairs(benchmark: Any, records: list[tuple[str, str]], n_paragraphs: int, text_mb: float) -> None:
    """All pairs on a freshly built index (includes candidate analysis and verification)."""
    out, s = run_timed(
        benchmark, lambda idx: list(idx.pairs()), setup=lambda: ((_fresh_index(records),), {}), rounds=1
    )
    rates(benchmark.extra_info, s, len(records), n_paragraphs, text_mb)
    benchmark.extra_info.update(doc_pairs=len(out), paragraph_pairs=sum(len(p.paragraphs) for p in out))


def test_clusters(benchmark: Any, records: list[tuple[str, str]], n_paragraphs: int, text_mb: float) -> None:
    """Clusters on a freshly built index (includes the same analysis as pairs)."""
    out, s = run_timed(benchmark, lambda idx: idx.clusters(), setup=lambda: ((_fresh_index(records),), {}), rounds=1)
    rates(benchmark.extra_info, s, len(records), n_paragraphs, text_mb)
    benchmark.extra_info.update(clusters=len(out), clustered_docs=sum(len(c) for c in out))


def test_end_to_end(benchmark: Any, corpus: Path, truth: Any, workers: int) -> None:
    """Read the JSONL.gz, index, all pairs, clusters; quality against the truth."""
    res, _ = run_timed(benchmark, lambda: run_dedup(corpus, workers=workers), rounds=1)
    q = evaluate(truth, res["table"], res["keys"], res["clusters"])
    pub = public(res)
    rates(benchmark.extra_info, res["seconds"], res["n_docs"], res["n_paragraphs"], res["text_mb"])
    benchmark.extra_info.update({k: v for k, v in pub.items() if k != "seconds"})
    benchmark.extra_info["quality"] = q
    # robust quality floor: exact copies (op copy/resend, edit rate 0) are found
    for op in ("copy", "resend"):
        r = q["recall_by_op"].get(op)
        assert r is None or r >= 0.95, (op, r)


def test_workers_ratio_alternates_one_and_two_workers(bench_size: int) -> None:
    """``python -m benchmarks.workers_ratio`` runs (one alternation here, at the suite's corpus
    size): both worker counts and two one-worker copies at once, the same pairs, medians and
    ratios of every stage, and the machine's ceiling; no timing assertion."""
    from benchmarks.workers_ratio import main, measure

    out = measure(bench_size, 1)
    assert [len(out["runs"][w]) for w in (1, 2)] == [1, 1]
    assert {"read+add_many", "pairs", "total"} <= set(out["ratio"]) <= {"read+add_many", "pairs", "clusters", "total"}
    assert all(v > 0 for v in out["ratio"].values())
    # two one-worker copies at once, the same pairs as every other run, and the ceiling from them
    assert [len(pair) for pair in out["copies"]] == [2]
    slower = max(r["seconds"] for r in out["copies"][0])
    assert out["ceiling"] == pytest.approx(2 * out["runs"][1][0]["seconds"] / slower)
    assert "ceiling" not in measure(bench_size, 1, ceiling=False)
    with pytest.raises(ValueError):
        measure(bench_size, 0)
    with pytest.raises(SystemExit):
        main(["--runs", "x"])
