"""Run every system for one corpus size and write JSON, Markdown and (with several sizes) a PNG.

    python -m benchmarks.report --size 2000            # quick size
    python -m benchmarks.report --size 20000 --peer-limit 20000

Each system runs in its own subprocess so that its peak RSS is its own.  Output:
``benchmarks/results/<size>.json`` and ``<size>.md``; ``benchmarks/results/scaling.png`` when
results for two or more sizes exist.  The Reuters corpus, when present, is run too (no truth:
found pairs and clusters only).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from dedup.shingles import sorted_unique

from .corpus import QUICK_SIZE, REUTERS, corpus_path, summary

RESULTS = Path(__file__).resolve().parent / "results"
SYSTEMS = ("dedup", "datasketch", "datasketch-tuned", "rensa")


def run_one(
    system: str, corpus: Path, limit: int | None, workers: int, with_truth: bool, work_dir: str | None = None
) -> dict[str, Any]:
    """Run one system in this process; figures + quality (quality computed after timing)."""
    from .peers import run_peer
    from .quality import components, evaluate
    from .systems import run_dedup
    from .util import public

    res = run_dedup(corpus, limit, workers, work_dir) if system == "dedup" else run_peer(system, corpus, limit)
    out = public(res)
    out["mb_per_s"] = out["text_mb"] / max(out["seconds"], 1e-9)
    out["docs_per_s"] = out["n_docs"] / max(out["seconds"], 1e-9)
    out["paragraphs_per_s"] = out["n_paragraphs"] / max(out["seconds"], 1e-9)
    out["found_pairs"] = int(sorted_unique(np.asarray(res["keys"])).size)
    cl = res["clusters"] if res["clusters"] is not None else components(res["table"].doc_ids, res["table"], res["keys"])
    out["n_clusters"] = len(cl)
    if with_truth:
        from .quality import StreamedTruth

        out["quality"] = evaluate(StreamedTruth(corpus), res["table"], res["keys"], cl)
    return out


def _child(
    system: str, corpus: Path, limit: int | None, workers: int, with_truth: bool, work_dir: str | None = None
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        tmp = fh.name
    cmd = [sys.executable, "-m", "benchmarks.report", "--one", system, "--corpus", str(corpus), "--out", tmp]
    cmd += ["--workers", str(workers)]
    if limit is not None:
        cmd += ["--limit", str(limit)]
    if not with_truth:
        cmd += ["--no-truth"]
    if work_dir:
        cmd += ["--work-dir", work_dir]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env)
    with open(tmp, encoding="utf-8") as f:
        out = json.load(f)
    os.unlink(tmp)
    print(f"  {out['system']:<22} {out['n_docs']:>7} docs  {time.perf_counter() - t0:7.1f} s", flush=True)
    return out


def run_size(
    size: int, peer_limit: int | None, workers: list[int], systems: tuple[str, ...], work_dir: str | None = None
) -> dict[str, Any]:
    corpus = corpus_path(size)
    runs: list[dict[str, Any]] = []
    for s in systems:
        lim = peer_limit if (s == "datasketch" and peer_limit is not None and peer_limit < size) else None
        if s == "dedup":
            for w in workers:
                runs.append(_child("dedup", corpus, None, w, True, work_dir))
        else:
            runs.append(_child(s, corpus, lim, 1, True))
            if lim is not None and not any(r["system"] == "dedup" and r["n_docs"] == lim for r in runs):
                runs.append(_child("dedup", corpus, lim, 1, True))
    reuters: list[dict[str, Any]] = []
    if REUTERS.exists():
        for s in ("dedup", "rensa"):
            if s in systems:
                reuters.append(_child(s, REUTERS, None, 1, False))
    else:
        print(f"  Reuters corpus not found at {REUTERS}: skipped")
    return {
        "size": size,
        "corpus": {k: v for k, v in summary(corpus).items() if k not in ("config", "files")},
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "runs": runs,
        "reuters": reuters,
    }


def machine() -> dict[str, Any]:
    import platform

    import psutil

    return {
        "cpus": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _f(x: Any, nd: int = 2) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def markdown(res: dict[str, Any]) -> str:
    runs = res["runs"]
    lines = [
        f"### Synthetic corpus, {res['size']:,} articles "
        f"({res['corpus']['text_chars'] / 1e6:.1f} M chars, {res['corpus']['n_paragraphs']:,} paragraphs), "
        f"{res['machine']['cpus']} CPUs, {res['date']}",
        "",
        "| system | docs | MB | s | MB/s | docs/s | peak RSS MB | recall | ≤10% edits | 10-20% | split | merge "
        "| precision | boilerplate share | ARI | dedup speed ×| dedup RSS ÷ |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        q = r.get("quality", {})
        rb = q.get("recall_by_band", {})
        ro = q.get("recall_by_op", {})
        le10 = _le10(q)
        ref = next((d for d in runs if d["system"] == "dedup" and d["n_docs"] == r["n_docs"]), None)
        speed = ref["mb_per_s"] / r["mb_per_s"] if ref and not r["system"].startswith("dedup") else None
        mem = ref["peak_rss_mb"] / r["peak_rss_mb"] if ref and not r["system"].startswith("dedup") else None
        lines.append(
            f"| {r['system']} | {r['n_docs']} | {r['text_mb']:.1f} | {r['seconds']:.1f} | {r['mb_per_s']:.2f} "
            f"| {r['docs_per_s']:.0f} | {r['peak_rss_mb']:.0f} | {_f(q.get('recall'))} | {_f(le10)} "
            f"| {_f(rb.get('10-20%'))} | {_f(ro.get('split'))} | {_f(ro.get('merge'))} | {_f(q.get('precision'))} "
            f"| {_f(q.get('boilerplate_share'))} | {_f(q.get('ari'))} | {_f(speed)} | {_f(mem)} |"
        )
    lines += ["", "Stage seconds:", ""]
    for r in runs:
        st = ", ".join(f"{k} {v:.2f}" for k, v in r["stages"].items())
        lines.append(f"- {r['system']} ({r['n_docs']} docs): {st}")
    extra = [r for r in runs if r.get("query")]
    if extra:
        lines += ["", "Memory and query (dedup):", ""]
    for r in extra:
        qd = r["query"]
        lines.append(
            f"- {r['system']} ({r['n_docs']} docs): RSS growth while indexing "
            f"{r['bytes_per_paragraph']:.0f} bytes/paragraph; DocPair objects of all pairs "
            f"(what iterating Index.pairs() adds to the pair table) {r.get('objects_s', 0):.2f} s; "
            "largest worker peak RSS "
            f"{r.get('peak_rss_worker_mb', 0):.0f} MB; query: first {qd['first_s']:.1f} s (builds the "
            f"lookup table), then median {_f(qd['median_ms'])} ms, p95 {_f(qd['p95_ms'])} ms over "
            f"{qd['queries']} articles ({_f(qd.get('major_faults'))} major page faults per query), then "
            f"warm: median {_f(qd.get('warm', {}).get('median_ms'))} ms, p95 "
            f"{_f(qd.get('warm', {}).get('p95_ms'))} ms over {qd.get('warm', {}).get('queries', 0)} other articles "
            f"({_f(qd.get('warm', {}).get('major_faults'))} major faults per query); "
            f"peak RSS with the table {r.get('peak_rss_after_query_mb', 0):.0f} MB"
        )
    if res.get("reuters"):
        lines += [
            "",
            "### Reuters-21578 (19,043 real stories; no truth)",
            "",
            "| system | docs | MB | s | MB/s | peak RSS MB | paragraph pairs found | doc pairs | clusters |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in res["reuters"]:
            lines.append(
                f"| {r['system']} | {r['n_docs']} | {r['text_mb']:.1f} | {r['seconds']:.1f} | {r['mb_per_s']:.2f} "
                f"| {r['peak_rss_mb']:.0f} | {r['found_pairs']} | {_f(r.get('doc_pairs'))} | {r['n_clusters']} |"
            )
    return "\n".join(lines) + "\n"


def _le10(q: dict[str, Any]) -> float | None:
    """Recall over truth pairs with edit rate <= 10% (bands "0" and "0-10%" weighted by count)."""
    c = q.get("band_counts")
    rb = q.get("recall_by_band", {})
    if not c:
        return rb.get("0-10%")
    n = c.get("0", 0) + c.get("0-10%", 0)
    if not n:
        return None
    return (rb.get("0", 0) * c.get("0", 0) + rb.get("0-10%", 0) * c.get("0-10%", 0)) / n


def plot() -> Path | None:
    files = sorted(RESULTS.glob("*.json"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0)
    data = [json.loads(p.read_text()) for p in files if p.stem.isdigit()]
    if len(data) < 2:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    names = sorted({r["system"] for d in data for r in d["runs"]})
    for name in names:
        pts = [(r["n_docs"], r["mb_per_s"], r["peak_rss_mb"]) for d in data for r in d["runs"] if r["system"] == name]
        pts = sorted(set(pts))
        ax1.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
        ax2.plot([p[0] for p in pts], [p[2] for p in pts], marker="o", label=name)
    for ax, yl in ((ax1, "throughput, MB/s (end to end)"), (ax2, "peak RSS, MB")):
        ax.set_xscale("log")
        ax.set_xlabel("articles")
        ax.set_ylabel(yl)
        ax.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    fig.tight_layout()
    out = RESULTS / "scaling.png"
    fig.savefig(out, dpi=100)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=int(os.environ.get("DEDUP_BENCH_SIZE", QUICK_SIZE)))
    ap.add_argument("--peer-limit", type=int, default=None, help="articles for the commonly-used datasketch")
    ap.add_argument("--workers", type=int, nargs="+", default=[1], help="add_many workers to run dedup with")
    ap.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    ap.add_argument("--plot-only", action="store_true")
    ap.add_argument(
        "--work-dir", default=None, help="run dedup with Index(directory=DIR): signatures, shingles, texts on disk"
    )
    # internal: one system in this process
    ap.add_argument("--one", choices=SYSTEMS, help=argparse.SUPPRESS)
    ap.add_argument("--corpus", help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--no-truth", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one:
        res = run_one(a.one, Path(a.corpus), a.limit, a.workers[0], not a.no_truth, a.work_dir)
        with open(a.out, "w", encoding="utf-8") as fh:
            json.dump(res, fh)
        return 0
    RESULTS.mkdir(exist_ok=True)
    if not a.plot_only:
        print(f"size {a.size}: corpus {corpus_path(a.size)}", flush=True)
        res = run_size(a.size, a.peer_limit, a.workers, tuple(a.systems), a.work_dir)
        (RESULTS / f"{a.size}.json").write_text(json.dumps(res, indent=1) + "\n")
        md = markdown(res)
        (RESULTS / f"{a.size}.md").write_text(md)
        print(md)
    p = plot()
    if p:
        print(f"plot: {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
