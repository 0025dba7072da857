from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REUTERS = SHARED / "corpora" / "reuters21578.jsonl.gz"


@pytest.fixture(scope="session")
def seeds() -> dict[str, str]:
    """The five seed articles, keyed by a short id ('000' .. '004')."""
    return {p.name[:3]: p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("0*.txt"))}


@pytest.fixture(scope="session")
def reuters_path() -> Path:
    if not REUTERS.exists():
        pytest.skip(f"Reuters-21578 not found at {REUTERS} (../shared is absent); CI always has it")
    return REUTERS


@pytest.fixture(scope="session")
def kernels():
    """:mod:`dedup.kernels`, the compiled loops.

    Fails where a C compiler is on the PATH but the extension was not built (an install that
    silently lost it); skips only on a machine without a compiler, where numpy runs instead.
    """
    import shutil

    import dedup.native as native

    module = native.kernels()
    if module is None:
        if native.USE_NATIVE and any(shutil.which(cc) for cc in ("cc", "gcc", "clang")):
            pytest.fail("dedup._kernels is not built although a C compiler is available: reinstall the package")
        pytest.skip("dedup._kernels is not built (no C compiler) or DEDUP_NO_NATIVE=1")
    return module


@pytest.fixture
def fork_calls(monkeypatch):
    """``fork_calls(module)`` records the jobs of every ``fork_map`` call ``module`` makes (the
    calls still run) and returns the list they are appended to."""

    def install(module):
        calls: list[list] = []
        real = module.fork_map

        def counting(fn, shared, jobs, workers):
            jobs = list(jobs)
            calls.append(jobs)
            return real(fn, shared, jobs, workers)

        monkeypatch.setattr(module, "fork_map", counting)
        return calls

    return install
