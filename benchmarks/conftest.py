"""Benchmark fixtures: corpus size options and a seeded synthetic corpus cached per size.

Size: ``--corpus-size N`` or ``DEDUP_BENCH_SIZE`` (default 2,000 articles, the quick size).
Cache: ``DEDUP_BENCH_CACHE`` (default ``~/.cache/dedup-bench``); a corpus is generated once per size.
Peers: ``--peer-limit N`` / ``DEDUP_BENCH_PEER_LIMIT`` caps the articles given to the commonly-used
datasketch (default 2,000, it is the slowest); the other peers get the whole corpus.
Workers: ``--workers N`` / ``DEDUP_BENCH_WORKERS`` for ``Index.add_many`` (default 1).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from benchmarks.corpus import corpus_path, default_size, read_records


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("dedup-bench")
    g.addoption("--corpus-size", type=int, default=None, help="articles in the synthetic corpus (default 2000)")
    g.addoption("--peer-limit", type=int, default=None, help="articles for the commonly-used datasketch")
    g.addoption("--workers", type=int, default=None, help="add_many workers for dedup (default 1)")


@pytest.fixture(scope="session")
def bench_size(pytestconfig: pytest.Config) -> int:
    v = pytestconfig.getoption("--corpus-size")
    return int(v) if v is not None else default_size()


@pytest.fixture(scope="session")
def peer_limit(pytestconfig: pytest.Config) -> int:
    v = pytestconfig.getoption("--peer-limit")
    return int(v) if v is not None else int(os.environ.get("DEDUP_BENCH_PEER_LIMIT", 2000))


@pytest.fixture(scope="session")
def workers(pytestconfig: pytest.Config) -> int:
    v = pytestconfig.getoption("--workers")
    return int(v) if v is not None else int(os.environ.get("DEDUP_BENCH_WORKERS", 1))


@pytest.fixture(scope="session")
def corpus(bench_size: int) -> Path:
    return corpus_path(bench_size)


@pytest.fixture(scope="session")
def truth(corpus: Path) -> Any:
    from dedup.synth import load_truth

    return load_truth(corpus)


@pytest.fixture(scope="session")
def records(corpus: Path) -> list[tuple[str, str]]:
    return [(r["id"], r["text"]) for r in read_records(corpus)]


@pytest.fixture(scope="session")
def text_mb(records: list[tuple[str, str]]) -> float:
    return sum(len(t.encode("utf-8")) for _, t in records) / 1e6
