"""Batch work shared out among forked processes, over data the parent already holds.

The corpus-wide steps (LSH bands, band-by-band estimates, exact Jaccard of many pairs, the query
table) each split into independent jobs over large read-only arrays. Forked workers inherit those
arrays (copy-on-write, memory maps included) instead of receiving them pickled; only the jobs and
their results cross the process boundary.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

__all__ = ["fork_map"]

S = TypeVar("S")
J = TypeVar("J")
R = TypeVar("R")

# the function and shared data of the running fork_map, set before the workers are forked
_TASK: list[Any] = []


def _run(job: Any) -> Any:
    fn, shared = _TASK[0]
    return fn(shared, job)


def fork_map(fn: Callable[[S, J], R], shared: S, jobs: Iterable[J], workers: int) -> Iterator[R]:
    """``fn(shared, job)`` for every job, in up to ``workers`` forked processes.

    Yields the results in job order as they are ready (so a caller can store each and drop it).
    With fewer than two workers or jobs, or where the platform cannot fork, the jobs run one by
    one in this process: the results are the same. Consume the iterator before starting another.
    """
    jobs = list(jobs)
    workers = min(workers, len(jobs))
    if workers < 2 or "fork" not in mp.get_all_start_methods() or _TASK:
        for j in jobs:
            yield fn(shared, j)
        return
    _TASK.append((fn, shared))
    try:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            yield from pool.map(_run, jobs)
    finally:
        _TASK.clear()
