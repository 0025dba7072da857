"""Helpers shared by the benchmark tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def run_timed(
    benchmark: Any, fn: Callable[..., Any], *, rounds: int = 1, setup: Callable[[], Any] | None = None
) -> tuple[Any, float]:
    """Run ``fn`` under pytest-benchmark (pedantic) and return (last result, best wall seconds).

    Works with ``--benchmark-disable`` too (then ``fn`` runs once).  With ``setup``, ``fn`` gets
    the ``(args, kwargs)`` that ``setup`` returns, and setup time is not counted.
    """
    times: list[float] = []
    out: list[Any] = [None]

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        out[0] = fn(*args, **kwargs)
        times.append(time.perf_counter() - t0)
        return out[0]

    if setup is None:
        benchmark.pedantic(wrapped, rounds=rounds, iterations=1)
    else:
        benchmark.pedantic(wrapped, setup=setup, rounds=rounds, iterations=1)
    return out[0], min(times)


def rates(extra: dict[str, Any], seconds: float, n_docs: int, n_paragraphs: int, mb: float) -> None:
    s = max(seconds, 1e-9)
    extra.update(
        seconds=round(seconds, 4),
        docs_per_s=round(n_docs / s, 1),
        paragraphs_per_s=round(n_paragraphs / s, 1),
        mb_per_s=round(mb / s, 3),
    )


def public(result: dict[str, Any]) -> dict[str, Any]:
    """A run result without its bulky fields (keys, clusters, paragraph table)."""
    return {k: v for k, v in result.items() if k not in ("keys", "clusters", "table")}
