"""dedup end to end on a corpus file, through the public API: read, index, all pairs, clusters."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from .corpus import read_records
from .measure import Stages, peak_rss_bytes, rss_bytes
from .quality import ParagraphTable, pair_keys


def run_dedup(path: Path, limit: int | None = None, workers: int = 1) -> dict[str, Any]:
    """Run dedup end to end; returns figures plus ``keys`` (found paragraph pairs), ``clusters``, ``table``."""
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
    idx = Index(threshold=0.5, num_perm=128, seed=1, shingle_size=5)
    with st.stage("read+add_many"):
        idx.add_many(records(), workers=workers)
    rss_index = rss_bytes() - rss0
    with st.stage("pairs"):
        pairs = list(idx.pairs())
    with st.stage("clusters"):
        clusters = idx.clusters()
    total = time.perf_counter() - t0
    doc_ids = list(idx)
    table = ParagraphTable(doc_ids, [idx.paragraphs(d) for d in doc_ids])
    g1: list[int] = []
    g2: list[int] = []
    for p in pairs:
        a0 = table.global_id(p.a, 0)
        b0 = table.global_id(p.b, 0)
        for m in p.paragraphs:
            g1.append(a0 + m.a_index)
            g2.append(b0 + m.b_index)
    return {
        "system": "dedup" if workers == 1 else f"dedup ({workers} workers)",
        "n_docs": len(doc_ids),
        "n_paragraphs": table.n_paragraphs,
        "text_mb": text_bytes / 1e6,
        "seconds": total,
        "stages": st.seconds,
        "doc_pairs": len(pairs),
        "n_clusters": len(clusters),
        "peak_rss_mb": peak_rss_bytes() / 1e6,
        "index_rss_mb": rss_index / 1e6,
        "bytes_per_paragraph": rss_index / max(table.n_paragraphs, 1),
        "keys": pair_keys(np.array(g1, np.int64), np.array(g2, np.int64)),
        "clusters": [c.doc_ids for c in clusters],
        "table": table,
    }
