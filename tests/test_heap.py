"""The C heap of the process (dedup.heap): pages given back, kept, and not huge where asked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dedup.heap import _glibc, _numpy_hugepage_switch, release_heap, small_pages


def _rss_anon_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no RssAnon in /proc/self/status")


def test_release_heap_returns_freed_small_arrays_to_the_os():
    """Small arrays freed in the middle of the heap stay in the process until release_heap."""
    if getattr(_glibc(), "malloc_trim", None) is None:
        pytest.skip("needs glibc's malloc_trim (Linux); release_heap is a no-op elsewhere")
    release_heap()
    arrays = [np.ones(8000, dtype=np.uint8) for _ in range(25_000)]  # 200 MB in the C heap
    kept = arrays[::10]  # every tenth stays: the freed ones are holes, not the heap's top
    del arrays
    before = _rss_anon_mb()
    release_heap()
    after = _rss_anon_mb()
    assert before - after > 80, (before, after)  # ~170 MB of whole free pages
    assert all(int(a.sum()) == 8000 for a in kept[:100])  # kept arrays are untouched


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_keep_heap_reuses_freed_memory_without_new_page_faults():
    """After keep_heap(), a batch job's large temporaries freed and allocated again reuse the
    same pages (glibc otherwise unmaps them and the next batch faults them in again)."""
    code = (
        "import resource, numpy as np, sys;"
        "from dedup.heap import keep_heap;"
        "keep_heap() if sys.argv[1] == '1' else None;"
        "flt = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt;"
        "rounds = [];"
        "exec('for i in range(5):\\n r0 = flt(); a = np.ones(24 << 20, np.uint8); b = np.ones(3 << 20, np.uint8);"
        " rounds.append(flt() - r0); del a, b');"
        "print(rounds[0], sum(rounds[1:]))"
    )

    def run(flag: str) -> tuple[int, int]:
        done = subprocess.run([sys.executable, "-c", code, flag], capture_output=True, text=True, check=True)
        first, later = map(int, done.stdout.split())
        return first, later

    first, later = run("1")
    assert later * 4 < first, (first, later)


def _hugepage_hint() -> bool:
    """numpy's current huge-page hint (numpy 1.x and 2.x keep its getter in different modules)."""
    for mod in ("_core", "core"):
        get = getattr(getattr(np, mod, None), "multiarray", None)
        get = getattr(get, "_get_madvise_hugepage", None)
        if get is not None:
            return bool(get())
    pytest.skip("this numpy has no huge-page hint to switch")


def test_small_pages_turns_numpys_huge_page_hint_off_and_then_back():
    if _numpy_hugepage_switch() is None:
        pytest.skip("this numpy has no huge-page hint to switch")
    switch = _numpy_hugepage_switch()
    for start in (True, False):
        switch(start)
        try:
            with small_pages():
                assert _hugepage_hint() is False
                with small_pages():  # nested: the outer block's setting comes back
                    assert _hugepage_hint() is False
                assert _hugepage_hint() is False
            assert _hugepage_hint() is start
            with pytest.raises(RuntimeError), small_pages():
                raise RuntimeError("inside")
            assert _hugepage_hint() is start  # restored after an error too
        finally:
            switch(True)


def _thp_eligible(address: int) -> bool:
    """The ``THPeligible`` flag of the mapping of this process that holds ``address``."""
    inside = False
    with open("/proc/self/smaps") as fh:
        for line in fh:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = (int(x, 16) for x in head.split("-"))
                inside = lo <= address < hi
            elif inside and head == "THPeligible:":
                return line.split()[1] == "1"
    raise AssertionError(f"no mapping with THPeligible holds {address:#x}")


def test_arrays_made_within_small_pages_do_not_take_huge_pages():
    """Where the kernel gives huge pages only to memory that asks (``madvise``), a large array
    made inside the block is not eligible for them (the same array made outside is, or the
    test is skipped: the kernel then gives none)."""
    try:
        mode = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        pytest.skip("no transparent huge pages on this system")
    if "[madvise]" not in mode or _numpy_hugepage_switch() is None:
        pytest.skip(f"needs the kernel's THP mode 'madvise' and numpy's hint (mode: {mode.strip()})")
    if not Path("/proc/self/smaps").exists() or "THPeligible" not in Path("/proc/self/smaps").read_text():
        pytest.skip("this kernel's smaps do not say THPeligible")
    n = 64 << 20  # above glibc's largest mmap threshold: its own mapping
    outside = np.ones(n, dtype=np.uint8)
    with small_pages():
        inside = np.ones(n, dtype=np.uint8)
    middle = lambda a: a.ctypes.data + n // 2  # noqa: E731
    if not _thp_eligible(middle(outside)):
        pytest.skip("this kernel gives the process no huge pages even where numpy asks for them")
    assert _thp_eligible(middle(inside)) is False


def test_the_calling_process_featurizes_with_small_pages(monkeypatch):
    """add_many featurizing in this process does so inside small_pages; numpy's hint is back after."""
    import dedup.index as index_module
    from dedup import Index

    if _numpy_hugepage_switch() is None:
        pytest.skip("this numpy has no huge-page hint to switch")
    seen = []
    real = index_module.featurize

    def spy(*args, **kwargs):
        seen.append(_hugepage_hint())
        return real(*args, **kwargs)

    monkeypatch.setattr(index_module, "featurize", spy)
    before = _hugepage_hint()
    idx = Index()
    idx.add_many([("a", "The council approved the new budget on Monday evening."), ("b", "Rain is expected.")])
    assert seen == [False]
    assert _hugepage_hint() is before
    assert len(idx) == 2
