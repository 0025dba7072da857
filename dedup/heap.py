"""The C heap of this process: when its memory goes back to the operating system, and in what pages.

numpy arrays live in the C library's heap (glibc's malloc on Linux). Three choices there decide
how much memory dedup's batch work holds and how much system time it spends, and each is made
here, in one place:

- :func:`release_heap` gives the heap's free pages back after a large step, so that they do not
  count in the process's memory through the next one;
- :func:`keep_heap` makes a worker process keep and reuse what it frees, batch after batch;
- :func:`small_pages` stops numpy asking for transparent huge pages while the calling process
  does batch work whose temporaries come and go.

Each is a no-op where the C library or numpy lacks the call.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["keep_heap", "release_heap", "small_pages"]


def release_heap() -> None:
    """Give the free pages of the C heap back to the operating system (glibc; a no-op elsewhere).

    An index grows in batches of small arrays that live in the C heap. Once they are merged
    into whole columns (or written to files) the heap is mostly free, but glibc keeps the pages,
    and they still count in the process's memory: about 2 GB of a million-article analysis
    (150 MB of 400 MB at 100,000 articles). ``malloc_trim(0)`` returns them.
    """
    libc = _glibc()
    trim = getattr(libc, "malloc_trim", None) if libc is not None else None  # musl has none
    if trim is not None:
        trim(0)


def keep_heap() -> None:
    """Make glibc keep and reuse freed memory in this process (a no-op elsewhere): for worker
    processes that do the same large batch job again and again.

    By default glibc serves every allocation above a threshold (which grows up to 32 MB) with a
    fresh ``mmap`` and unmaps it when freed, and trims the heap's top: each batch then pays page
    faults again for most of its temporaries. A featurizing worker took 220-240k page faults
    and 1.1-1.3 s of system time for the 20,000-article corpus; with allocations up to 32 MB
    kept in the heap and the heap not trimmed, 77-79k and 0.5-0.6 s. Not for a caller's
    process: it would hold on to the memory it frees.
    """
    libc = _glibc()
    mallopt = getattr(libc, "mallopt", None) if libc is not None else None
    if mallopt is None:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's <malloc.h>
    mallopt(m_mmap_threshold, 32 << 20)  # the largest glibc accepts
    mallopt(m_trim_threshold, 1 << 30)


def _numpy_hugepage_switch() -> Any:
    """numpy's switch for ``madvise(MADV_HUGEPAGE)`` on its large arrays, or None.

    It is the private function behind the ``NUMPY_MADVISE_HUGEPAGE`` environment variable of
    numpy's "Global state" page, which numpy reads only at import; numpy 1.x and 2.x keep it in
    different modules. Where it is missing, :func:`small_pages` does nothing.
    """
    for mod in ("_core", "core"):
        multiarray = getattr(getattr(np, mod, None), "multiarray", None)
        switch = getattr(multiarray, "_set_madvise_hugepage", None)
        if switch is not None:
            return switch
    return None


@contextlib.contextmanager
def small_pages() -> Iterator[None]:
    """Within the block, numpy does not ask the kernel for transparent huge pages.

    numpy marks every array of 4 MB or more ``MADV_HUGEPAGE`` (where the kernel's setting is
    ``madvise``), so its first touch takes a 2 MB page, zeroed whole. In a process that does not
    keep its heap (the caller's: glibc gives large freed blocks back at once), a batch job's
    temporaries are new memory batch after batch. On a virtual machine whose balloon reports
    free memory to the host (``VIRTIO_BALLOON_F_REPORTING``: Firecracker, QEMU), free 2 MB
    blocks are what goes back to the host, which is likely why each huge page cost so much
    there (measured, not proven: the zeroing itself is what the samples show). On the benchmark
    machine, such a VM, featurizing the 20,000-article corpus in the calling
    process spent 0.7-1.2 s of system time so (of 2.2-2.8 s), against 0.25-0.3 s with 4 kB
    pages (one worker end to end: 4.57 -> 3.63 s).

    Worker processes that keep their heap (:func:`keep_heap`) fault their pages in once and
    keep the huge pages. The hint is process-wide: other threads' allocations within the block
    go without it too. numpy's previous setting is restored on exit.
    """
    switch = _numpy_hugepage_switch()
    if switch is None:
        yield
        return
    before = switch(False)
    try:
        yield
    finally:
        switch(bool(before))


@functools.cache
def _glibc() -> Any:
    """The C library on Linux (for glibc's malloc_trim and mallopt), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:  # glibc's soname; not ctypes.util.find_library, which forks the process to run ldconfig
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None
