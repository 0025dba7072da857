"""Where the cores wait: idle core-seconds of the pairs stage, by the call the main thread is in.

    python -m benchmarks.idle --size 20000 --workers 2
    python -m benchmarks.idle --workers 2 --depth 2 --lines --top 30

Indexes the cached synthetic corpus of ``--size`` articles with ``--workers`` (an index in RAM:
the analysis then runs in threads, whose CPU time this process's clock counts), then times
``pair_table()`` and ``clusters()`` while a sampling thread reads, every ``--interval`` seconds,
the main thread's innermost calls in dedup (``--depth`` of them, the innermost first) and the
process's CPU time. Each sample charges ``workers x elapsed - CPU used`` to the calls it found:
the core-seconds that went unused while the main thread was there. Summed per call and signed
(the CPU clock ticks more coarsely than the samples; clipping each sample at zero would count
its noise as idle time). A serial step shows as idle time about equal to its wall time; a
share-out among threads whose jobs end unevenly shows as idle time inside ``fork_map``.

The sampling thread takes a little CPU itself, and the figures move with the machine's load:
read them as where to look, and measure a change with :mod:`benchmarks.compare`.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections import Counter
from typing import Any


def _calls(frame: Any, depth: int, lines: bool) -> str:
    """The innermost ``depth`` calls in dedup of a stack, innermost first (``-`` for none)."""
    chain: list[str] = []
    while frame is not None and len(chain) < depth:
        code = frame.f_code
        path = code.co_filename.replace(os.sep, "/")
        if "/dedup/" in path:
            name = f"{path.rsplit('/', 1)[-1]}:{code.co_name}"
            chain.append(f"{name}:{frame.f_lineno}" if lines and not chain else name)
        frame = frame.f_back
    return " < ".join(chain) or "-"


def sample_idle(
    fn: Any, workers: int, interval: float = 0.002, depth: int = 1, lines: bool = False
) -> tuple[float, dict[str, float], dict[str, float]]:
    """Run ``fn()`` in this thread while sampling it; returns ``(seconds, idle, wall)``: its wall
    time, and per call (see :func:`_calls`) the idle core-seconds and the wall seconds charged."""
    main = threading.get_ident()
    idle: Counter[str] = Counter()
    wall: Counter[str] = Counter()
    stop = threading.Event()

    def sampler() -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        while not stop.wait(interval):
            t1, c1 = time.perf_counter(), time.process_time()
            frame = sys._current_frames().get(main)
            key = _calls(frame, depth, lines)
            idle[key] += workers * (t1 - t0) - (c1 - c0)
            wall[key] += t1 - t0
            t0, c0 = t1, c1

    th = threading.Thread(target=sampler, name="dedup-idle-sampler", daemon=True)
    th.start()
    t = time.perf_counter()
    try:
        fn()
    finally:
        seconds = time.perf_counter() - t
        stop.set()
        th.join()
    return seconds, dict(idle), dict(wall)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.idle", description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=20000, help="articles in the cached corpus (default 20000)")
    ap.add_argument("--workers", type=int, default=2, help="Index and add_many workers (default 2)")
    ap.add_argument("--depth", type=int, default=1, help="calls per key, innermost first (default 1)")
    ap.add_argument("--lines", action="store_true", help="key the innermost call by its line")
    ap.add_argument("--top", type=int, default=20, help="calls to print (default 20)")
    ap.add_argument("--interval", type=float, default=0.002, help="seconds between samples (default 0.002)")
    a = ap.parse_args(argv)
    if a.workers < 1 or a.depth < 1 or a.interval <= 0:
        ap.error("--workers and --depth must be at least 1, --interval positive")

    from dedup import Index

    from .corpus import corpus_path, read_records

    idx = Index(threshold=0.5, num_perm=128, seed=1, shingle_size=5, workers=a.workers)
    idx.add_many(((r["id"], r["text"]) for r in read_records(corpus_path(a.size))), workers=a.workers)

    def pairs_stage() -> None:
        idx.pair_table()
        idx.clusters()

    seconds, idle, wall = sample_idle(pairs_stage, a.workers, a.interval, a.depth, a.lines)
    idx.close()
    total = sum(idle.values())
    print(
        f"pairs stage ({a.size} articles, {a.workers} worker{'s' if a.workers > 1 else ''}): {seconds:.3f} s, "
        f"{total:.3f} idle core-seconds of {a.workers * seconds:.3f} ({a.workers - total / max(seconds, 1e-9):.2f} "
        "cores busy on average)"
    )
    print(f"{'idle core-s':>11} {'wall s':>8}  call (innermost first)")
    for key, v in sorted(idle.items(), key=lambda kv: -kv[1])[: a.top]:
        print(f"{v:11.3f} {wall[key]:8.3f}  {key}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
