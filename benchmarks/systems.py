"""dedup end to end on a corpus file, through the public API: read, index, all pairs, clusters."""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any

import numpy as np

from .corpus import read_records
from .measure import Stages, peak_rss_bytes, peak_rss_children_bytes, rss_bytes
from .quality import ParagraphTable, pair_keys


def run_dedup(
    path: Path, limit: int | None = None, workers: int = 1, work_dir: str | None = None, queries: int = 200
) -> dict[str, Any]:
    """Run dedup end to end; returns figures plus ``keys`` (found paragraph pairs), ``clusters``, ``table``.

    With ``work_dir`` the index keeps signatures, shingles and texts in files there
    (``Index(directory=work_dir)``).
    Pairs are read as columns (``Index.pair_table``); turning them into ``DocPair`` objects (what
    iterating ``Index.pairs()`` adds) is timed apart, after the end-to-end timing, as ``objects_s``.
    After the end-to-end timing (and the peak RSS reading), ``queries`` indexed articles spread
    evenly over the corpus are queried one by one: the first query (which builds the lookup
    table) is timed apart, then the median and 95th percentile of the others.
    """
    from dedup import Index

    st = Stages()
    text_bytes = 0

    def records() -> Any:
        nonlocal text_bytes
        for r in read_records(path, limit):
            text_bytes += len(r["text"].encode("utf-8"))
            yield (r["id"], r["text"])

    rss0 = rss_bytes()
    t0 = time.perf_counter()
    idx = Index(threshold=0.5, num_perm=128, seed=1, shingle_size=5, directory=work_dir, workers=workers)
    with st.stage("read+add_many"):
        idx.add_many(records(), workers=workers)
    rss_index = rss_bytes() - rss0
    with st.stage("pairs"):
        pt = idx.pair_table()  # the columns a batch job writes; objects are timed apart below
    n_pairs = len(pt)
    with st.stage("clusters"):
        clusters = idx.clusters()
    total = time.perf_counter() - t0
    peak = peak_rss_bytes()
    peak_child = peak_rss_children_bytes()
    t1 = time.perf_counter()
    n_objects = sum(1 for _ in pt)  # what Index.pairs() adds: a DocPair per document pair
    objects_s = time.perf_counter() - t1
    assert n_objects == n_pairs
    doc_ids = list(idx)
    query = measure_queries(idx, doc_ids, queries) if queries else {}
    table = ParagraphTable(doc_ids, [idx.paragraphs(d) for d in doc_ids])
    idx.close()
    pos = np.array([table.pos.get(d, -1) for d in pt.doc_ids], dtype=np.int64)
    counts = np.diff(pt.offsets)
    g1 = np.repeat(table.para0[pos[pt.a]], counts) + pt.a_index
    g2 = np.repeat(table.para0[pos[pt.b]], counts) + pt.b_index
    name = "dedup" if workers == 1 else f"dedup ({workers} workers)"
    return {
        "system": name + (", on disk" if work_dir else ""),
        "n_docs": len(doc_ids),
        "n_paragraphs": table.n_paragraphs,
        "text_mb": text_bytes / 1e6,
        "seconds": total,
        "stages": st.seconds,
        "doc_pairs": n_pairs,
        "n_clusters": len(clusters),
        "peak_rss_mb": peak / 1e6,
        "peak_rss_worker_mb": peak_child / 1e6,
        "objects_s": objects_s,
        "peak_rss_after_query_mb": peak_rss_bytes() / 1e6,
        "query": query,
        "index_rss_mb": rss_index / 1e6,
        "bytes_per_paragraph": rss_index / max(table.n_paragraphs, 1),
        "keys": pair_keys(g1, g2),
        "clusters": [c.doc_ids for c in clusters],
        "table": table,
    }


def _latencies(idx: Any, texts: list[str]) -> dict[str, Any]:
    """Median and 95th percentile of one query per text, with page faults per query."""
    lat = []
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    for t in texts:
        t0 = time.perf_counter()
        idx.query(t)
        lat.append((time.perf_counter() - t0) * 1e3)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    lat.sort()
    k = max(len(lat), 1)
    return {
        "queries": len(lat),
        "median_ms": lat[len(lat) // 2] if lat else None,
        "p95_ms": lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else None,
        # major faults read index pages from disk (not in the page cache)
        "major_faults": (r1.ru_majflt - r0.ru_majflt) / k,
        "minor_faults": (r1.ru_minflt - r0.ru_minflt) / k,
    }


def measure_queries(idx: Any, doc_ids: list[str], n: int) -> dict[str, Any]:
    """Query latency: the first query (it builds the lookup table) timed apart, then ``n - 1``
    indexed articles spread over the corpus (right after the build: the index files' pages are
    still being faulted in), then ``n`` other articles (``warm``: as a long-running service sees
    it)."""
    step = max(1, len(doc_ids) // (2 * n))
    picked = doc_ids[::step][: 2 * n]
    texts = [idx.text(d) for d in picked[0::2]]
    t0 = time.perf_counter()
    idx.query(texts[0])
    first = time.perf_counter() - t0
    out = {"first_s": first, **_latencies(idx, texts[1:])}
    out["warm"] = _latencies(idx, [idx.text(d) for d in picked[1::2]])
    return out
