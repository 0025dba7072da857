"""Query latency on a large index, without the rest of the report.

    python -m benchmarks.query_latency --size 1000000 --workers 2 --work-dir /tmp/dd-work

Builds the index of the cached synthetic corpus (``Index(directory=...)`` with ``--work-dir``),
then queries ``--queries`` indexed articles spread evenly over the corpus one by one, as the report
does: the first query (which runs the corpus analysis and builds the lookup table) is timed apart,
then the median and 95th percentile of the others. Writes ``benchmarks/results/query-<size>.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from .corpus import corpus_path, read_records
from .measure import peak_rss_bytes
from .report import RESULTS, machine
from .systems import measure_queries


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.query_latency", description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work-dir", default=None)
    ap.add_argument("--queries", type=int, default=200)
    a = ap.parse_args(argv)
    from dedup import Index

    idx = Index(directory=a.work_dir, workers=a.workers)
    t0 = time.perf_counter()
    idx.add_many(((r["id"], r["text"]) for r in read_records(corpus_path(a.size))), workers=a.workers)
    add_s = time.perf_counter() - t0
    q = measure_queries(idx, list(idx), a.queries)
    out = {
        "size": a.size,
        "workers": a.workers,
        "on_disk": a.work_dir is not None,
        "add_s": add_s,
        "query": q,
        "peak_rss_mb": peak_rss_bytes() / 1e6,
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    idx.close()
    RESULTS.mkdir(exist_ok=True)
    path = Path(RESULTS) / f"query-{a.size}.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
