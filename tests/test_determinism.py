from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import json, sys
from pathlib import Path
from dedup import Index
idx = Index()
for p in sorted(Path(sys.argv[1]).glob("0*.txt")):
    idx.add(p.name[:3], p.read_text(encoding="utf-8"))
out = {
    "sig": idx._signatures()[:20].tolist(),
    "pairs": [
        (p.a, p.b, p.score, [(m.a_index, m.b_index, m.similarity) for m in p.paragraphs])
        for p in idx.pairs()
    ],
    "clusters": [list(c.doc_ids) for c in idx.clusters()],
}
print(json.dumps(out))
"""


def _run(hashseed: str) -> dict:
    env = dict(os.environ, PYTHONHASHSEED=hashseed)
    fixtures = Path(__file__).parent / "fixtures"
    res = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(fixtures)], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(res.stdout)


def test_identical_results_across_processes_with_different_hash_seeds():
    a, b = _run("1"), _run("4242")
    assert a == b
    assert a["pairs"]
