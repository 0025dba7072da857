"""Query latency on a large index, without the rest of the report.

    python -m benchmarks.query_latency --size 1000000 --workers 2 --work-dir /tmp/dd-work
    python -m benchmarks.query_latency --size 1000000 --work-dir /tmp/dd-work --save /tmp/ix-1m --queries 0
    python -m benchmarks.query_latency --index /tmp/ix-1m --workers 2

Builds the index of the cached synthetic corpus (``Index(directory=...)`` with ``--work-dir``),
then queries ``--queries`` indexed articles spread evenly over the corpus one by one, as the report
does: the first query (which runs the corpus analysis and builds the lookup table) is timed apart,
then the median and 95th percentile of the others. Writes ``benchmarks/results/query-<size>.json``.

``--save DIR`` also saves the index with its corpus analysis (``Index.save(analyze=True)``), timed.
``--index DIR`` measures what a query service sees: in this fresh process, it loads that saved
index (memory-mapped; the load time includes checking every file's checksum), then queries it
as above (the first query builds the lookup table only, the analysis being saved). Writes
``benchmarks/results/query-<size>-loaded.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from .corpus import corpus_path, read_records
from .measure import peak_rss_bytes
from .report import RESULTS, machine
from .systems import measure_queries


def run(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse ``argv``, measure, write the results file (when queries ran); returns the figures."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.query_latency", description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--size", type=int, help="build the index of the cached corpus of this size")
    src.add_argument("--index", default=None, metavar="DIR", help="load this saved index instead")
    ap.add_argument("--save", default=None, metavar="DIR", help="save the built index with its analysis")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work-dir", default=None)
    ap.add_argument("--queries", type=int, default=200)
    a = ap.parse_args(argv)
    from dedup import Index

    out: dict[str, Any] = {"workers": a.workers}
    if a.index:
        t0 = time.perf_counter()
        idx = Index.load(a.index)
        idx.workers = a.workers
        out |= {"load_s": time.perf_counter() - t0, "analyzed": idx.analyzed, "on_disk": True}
    else:
        idx = Index(directory=a.work_dir, workers=a.workers)
        t0 = time.perf_counter()
        idx.add_many(((r["id"], r["text"]) for r in read_records(corpus_path(a.size))), workers=a.workers)
        out |= {"add_s": time.perf_counter() - t0, "on_disk": a.work_dir is not None}
        if a.save:
            t0 = time.perf_counter()
            idx.save(a.save, analyze=True)
            out["analyze_and_save_s"] = time.perf_counter() - t0
    out["size"] = len(idx)
    if a.queries:
        out["query"] = measure_queries(idx, list(idx), a.queries)
    out |= {"peak_rss_mb": peak_rss_bytes() / 1e6, "machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M")}
    idx.close()
    if a.queries:  # a build-and-save run without queries leaves the results alone
        RESULTS.mkdir(exist_ok=True)
        path = Path(RESULTS) / f"query-{out['size']}{'-loaded' if a.index else ''}.json"
        path.write_text(json.dumps(out, indent=1) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    print(json.dumps(run(argv), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
