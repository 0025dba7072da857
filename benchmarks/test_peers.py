"""Peers (datasketch as commonly used, datasketch tuned, rensa) end to end on the same corpus.

The commonly-used datasketch runs on the first ``--peer-limit`` articles (default 2,000) and
says so in ``extra_info["subset"]``; dedup is run on the same subset for the ratio.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks.peers import PEERS, run_peer
from benchmarks.quality import components, evaluate
from benchmarks.util import public, rates, run_timed


@pytest.mark.parametrize("name", PEERS)
def test_peer_end_to_end(benchmark: Any, name: str, corpus: Path, truth: Any, bench_size: int, peer_limit: int) -> None:
    pytest.importorskip("rensa" if name == "rensa" else "datasketch")
    limit = min(peer_limit, bench_size) if name == "datasketch" else None
    res, _ = run_timed(benchmark, lambda: run_peer(name, corpus, limit), rounds=1)
    cl = components(res["table"].doc_ids, res["table"], res["keys"])
    q = evaluate(truth, res["table"], res["keys"], cl)
    rates(benchmark.extra_info, res["seconds"], res["n_docs"], res["n_paragraphs"], res["text_mb"])
    benchmark.extra_info.update({k: v for k, v in public(res).items() if k != "seconds"})
    benchmark.extra_info["subset"] = f"first {res['n_docs']} of {bench_size} articles"
    benchmark.extra_info["quality"] = q
    assert res["n_docs"] == (limit or bench_size)
    # identical paragraphs always collide in LSH
    assert q["recall_by_op"].get("copy") in (None, 1.0) or q["recall_by_op"]["copy"] >= 0.95
