"""Compiled inner loops (numba), where one fused loop beats a chain of numpy calls.

A MinHash signature is the minimum, per permutation, of ``a * x + b`` over a set's shingles.
numpy has to write the whole ``(permutations, shingles)`` block of values to memory, add to it
and reduce it: three passes over a block 128 times the size of the input. Compiled, each
shingle's 128 values stay in registers and fold into the set's running minimum (about 7x on a
batch of articles).

Every kernel has a numpy counterpart in the module that calls it, with the same results bit for
bit: :mod:`dedup.minhash` falls back to it where numba is not installed, or when the environment
variable ``DEDUP_NO_NUMBA`` is set to ``1`` (the tests run both). Kernels are compiled on first
use and cached on disk by numba (``cache=True``): a process then loads them in a fraction of a
second. :func:`dedup.minhash.warm_up` loads them before worker processes are forked, so that the
workers inherit them.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["sign_sets"]


@numba.njit(cache=True, nogil=True, boundscheck=False)
def sign_sets(hashes: np.ndarray, set_starts: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """MinHash signatures of consecutive shingle sets into ``out`` (``(sets, permutations)``).

    ``hashes`` are pre-mixed uint32 shingle hashes, set after set; set ``s`` is
    ``hashes[set_starts[s] : set_starts[s + 1]]`` (the last one runs to the end). Values are
    ``a[i] * x + b[i]`` modulo 2**32, as numpy's uint32 arithmetic gives them.
    """
    n_sets = set_starts.shape[0]
    n_perm = a.shape[0]
    acc = np.empty(n_perm, dtype=np.uint32)
    for s in range(n_sets):
        lo = set_starts[s]
        hi = set_starts[s + 1] if s + 1 < n_sets else hashes.shape[0]
        for i in range(n_perm):
            acc[i] = np.uint32(0xFFFFFFFF)
        for j in range(lo, hi):
            x = hashes[j]
            for i in range(n_perm):
                v = np.uint32(a[i] * x + b[i])
                if v < acc[i]:
                    acc[i] = v
        for i in range(n_perm):
            out[s, i] = acc[i]
