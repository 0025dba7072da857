"""Two workers against one, end to end, in alternated runs: what the second core gives.

    python -m benchmarks.workers_ratio --size 20000 --runs 4

Runs dedup end to end (:func:`benchmarks.systems.run_dedup`, the report's dedup run without the
queries) on the cached synthetic corpus with one worker, then with two, each run in a fresh
subprocess, ``--runs`` times over; prints every run, then the medians of the end-to-end seconds
and of each stage, and their ratios (one worker's median over two workers'). Alternating the two
in one sitting is steadier than comparing single runs on a shared machine whose speed moves
between minutes. Writes no file.

Each alternation also runs two copies of the one-worker job at once (unless ``--no-ceiling``):
twice the one-worker run's time over the slower copy's (in each alternation; then the median)
is what the machine gives two independent copies of the same work, with no serial step and no
handoff between them: the ceiling for what two workers can give at that moment (two cores share
caches, memory bandwidth and, on a virtual machine, a host). Above 2 it is noise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

_RUN = (
    "import json, sys; from benchmarks.corpus import corpus_path; from benchmarks.systems import run_dedup;"
    "from dedup import native;"
    "r = run_dedup(corpus_path({size}), workers={workers}, queries=0);"
    "print(json.dumps({{'seconds': r['seconds'], 'stages': r['stages'], 'doc_pairs': r['doc_pairs'],"
    " 'peak_rss_mb': r['peak_rss_mb'], 'native': native.kernels() is not None}}))"
)


def run_once(
    size: int, workers: int, cwd: str | Path | None = None, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """One end-to-end run in a fresh interpreter: ``seconds``, ``stages``, ``doc_pairs``,
    ``peak_rss_mb`` and ``native`` (whether the compiled kernels ran).

    With ``cwd``, the run imports dedup and the benchmarks from that checkout (its compiled
    kernels too, where they are built there); ``env`` adds environment variables.
    """
    code = _RUN.format(size=int(size), workers=int(workers))
    full = dict(os.environ)
    if cwd is not None:
        full["PYTHONPATH"] = str(Path(cwd).resolve())
    full.update(env or {})
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=cwd, env=full)
    return json.loads(done.stdout.strip().splitlines()[-1])


def medians_of(runs: list[dict[str, Any]]) -> dict[str, float]:
    """The median seconds of each stage of ``runs`` (from :func:`run_once`), and of the whole
    run as ``total``."""
    m = {stage: statistics.median(r["stages"][stage] for r in runs) for stage in runs[0]["stages"]}
    m["total"] = statistics.median(r["seconds"] for r in runs)
    return m


def run_copies(size: int, copies: int = 2) -> list[dict[str, Any]]:
    """``copies`` one-worker runs started together, each in its own interpreter."""
    code = _RUN.format(size=int(size), workers=1)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(copies)]
    outs = [p.communicate()[0] for p in procs]
    for p in procs:
        if p.returncode:
            raise subprocess.CalledProcessError(p.returncode, p.args)
    return [json.loads(out.strip().splitlines()[-1]) for out in outs]


def measure(size: int, runs: int, ceiling: bool = True) -> dict[str, Any]:
    """``runs`` alternations of one and two workers (and, with ``ceiling``, of two one-worker
    copies at once); per-run figures, medians and ratios."""
    if runs < 1:
        raise ValueError("runs must be at least 1")
    got: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    copies: list[list[dict[str, Any]]] = []
    for _ in range(runs):
        for workers in (1, 2):
            got[workers].append(run_once(size, workers))
        if ceiling:
            copies.append(run_copies(size))
    every = [r for rs in got.values() for r in rs] + [r for pair in copies for r in pair]
    if len({r["doc_pairs"] for r in every}) != 1:
        raise RuntimeError("runs found different numbers of document pairs")
    medians = {workers: medians_of(rs) for workers, rs in got.items()}
    ratio = {k: medians[1][k] / medians[2][k] for k in medians[1] if medians[2][k] > 0}
    out: dict[str, Any] = {"size": size, "runs": got, "medians": medians, "ratio": ratio}
    if ceiling:
        # paired with the one-worker run of the same alternation (minutes apart, the machine's
        # speed moves), then the median
        out["copies"] = copies
        out["ceiling"] = statistics.median(
            2 * one["seconds"] / max(r["seconds"] for r in pair) for one, pair in zip(got[1], copies)
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.workers_ratio", description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=20000, help="articles in the cached corpus (default 20000)")
    ap.add_argument("--runs", type=int, default=4, help="alternations of one and two workers (default 4)")
    ap.add_argument(
        "--no-ceiling", action="store_true", help="skip the two one-worker copies at once (the machine's ceiling)"
    )
    a = ap.parse_args(argv)
    out = measure(a.size, a.runs, ceiling=not a.no_ceiling)
    for workers in (1, 2):
        print(f"{workers} worker(s): " + ", ".join(f"{r['seconds']:.2f} s" for r in out["runs"][workers]))
    if "copies" in out:
        print("two one-worker copies at once: " + ", ".join(
            " + ".join(f"{r['seconds']:.2f}" for r in pair) + " s" for pair in out["copies"]
        ))
    for workers in (1, 2):
        m = out["medians"][workers]
        print(f"median, {workers} worker(s): " + ", ".join(f"{k} {v:.3f} s" for k, v in m.items()))
    print("two workers / one: " + ", ".join(f"{k} {v:.2f}x" for k, v in out["ratio"].items()))
    if "ceiling" in out:
        print(
            f"the machine's ceiling: two one-worker copies at once do {out['ceiling']:.2f}x the work of one "
            f"in the same time; two workers give {out['ratio']['total'] / out['ceiling']:.0%} of it"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
