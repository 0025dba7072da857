"""dedup end to end on Reuters-21578 (19,043 real stories): figures and near-duplicates found.

Skipped when the corpus is absent (``DEDUP_BENCH_REUTERS`` overrides its path).  No truth: the
counts of paragraph pairs, document pairs and clusters are recorded, not checked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from benchmarks.corpus import REUTERS
from benchmarks.systems import run_dedup
from benchmarks.util import public, rates, run_timed
from dedup.shingles import sorted_unique


def test_reuters_end_to_end(benchmark: Any, workers: int) -> None:
    if not REUTERS.exists():
        pytest.skip(f"Reuters corpus not found at {REUTERS} (set DEDUP_BENCH_REUTERS)")
    res, _ = run_timed(benchmark, lambda: run_dedup(REUTERS, workers=workers), rounds=1)
    rates(benchmark.extra_info, res["seconds"], res["n_docs"], res["n_paragraphs"], res["text_mb"])
    benchmark.extra_info.update({k: v for k, v in public(res).items() if k != "seconds"})
    benchmark.extra_info["paragraph_pairs"] = int(sorted_unique(np.asarray(res["keys"])).size)
    assert res["n_docs"] > 0
