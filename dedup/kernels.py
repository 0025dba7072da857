"""Compiled inner loops (numba), where one fused loop beats a chain of numpy calls.

A MinHash signature is the minimum, per permutation, of ``a * x + b`` over a set's shingles.
numpy has to write the whole ``(permutations, shingles)`` block of values to memory, add to it
and reduce it: three passes over a block 128 times the size of the input. Compiled, each
shingle's 128 values stay in registers and fold into the set's running minimum (about 7x on a
batch of articles). Token and shingle hashes likewise take one pass over their input instead of
one numpy pass per arithmetic step.

Every kernel computes exactly what the numpy code in the module that calls it computes (integer
arithmetic modulo 2**32 or 2**64): :mod:`dedup.jit` says when they are used. They are compiled
on first use and cached on disk by numba (``cache=True``); :func:`warm_up` loads every
specialization that indexing uses.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["sign_sets", "window_hashes", "span_poly", "span_poly_lower", "unit_bands", "warm_up"]

_P = np.uint64(0x9E3779B97F4A7C15)  # dedup.shingles._P
_C1 = np.uint64(0xFF51AFD7ED558CCD)  # MurmurHash3 fmix64
_C2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_Q = np.uint64(0xC2B2AE3D27D4EB4F)  # dedup.text._Q
_A = np.uint64(ord("A"))
_CASE = np.uint64(32)
_26 = np.uint64(26)

_jit = numba.njit(cache=True, nogil=True, boundscheck=False)


@_jit
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


@_jit
def window_hashes(tokens: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """:func:`dedup.shingles.window_hashes` of the windows starting at ``starts`` (int64)."""
    out = np.empty(starts.shape[0], dtype=np.uint64)
    w = np.uint64(width)
    for i in range(starts.shape[0]):
        s = starts[i]
        acc = tokens[s]
        for j in range(1, width):
            acc = acc * _P + tokens[s + j]
        acc ^= w
        acc ^= acc >> _S33
        acc *= _C1
        acc ^= acc >> _S33
        acc *= _C2
        acc ^= acc >> _S33
        out[i] = acc
    return out


@_jit
def span_poly(chars: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``sum(c[s + k] * Q**k)`` modulo 2**64 of every span ``[s, e)`` of ``chars`` (the
    polynomial of :func:`dedup.text._span_hashes`)."""
    out = np.empty(starts.shape[0], dtype=np.uint64)
    for i in range(starts.shape[0]):
        acc = np.uint64(0)
        p = np.uint64(1)
        for j in range(starts[i], ends[i]):
            acc += np.uint64(chars[j]) * p
            p *= _Q
        out[i] = acc
    return out


@_jit
def span_poly_lower(chars: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """:func:`span_poly` with ASCII capitals counted as lower case. (A separate kernel: a flag
    argument tested in this loop made it several times slower.)"""
    out = np.empty(starts.shape[0], dtype=np.uint64)
    for i in range(starts.shape[0]):
        acc = np.uint64(0)
        p = np.uint64(1)
        for j in range(starts[i], ends[i]):
            c = np.uint64(chars[j])
            if c - _A < _26:
                c = c + _CASE
            acc += c * p
            p *= _Q
        out[i] = acc
    return out


@_jit
def unit_bands(
    seg_sig: np.ndarray, para_seg0: np.ndarray, sent_seg: np.ndarray, bands: int, rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """Signatures of a batch's units in the band-major layout of :func:`dedup.columns.band_major`.

    Units are the paragraphs, then the sentences. Paragraph ``u`` is the union of segments
    ``para_seg0[u]`` up to the next paragraph's first (its signature the elementwise minimum of
    theirs); sentence ``t`` is segment ``sent_seg[t]``. Returns ``(bands, units, rows)`` and the
    ``(units, permutations - bands * rows)`` values past the bands: what gathering, stacking and
    transposing the rows with numpy gives, in one pass.
    """
    n_seg, n_perm = seg_sig.shape
    n_par = para_seg0.shape[0]
    n = n_par + sent_seg.shape[0]
    width = bands * rows
    banded = np.empty((bands, n, rows), dtype=np.uint32)
    rest = np.empty((n, n_perm - width), dtype=np.uint32)
    row = np.empty(n_perm, dtype=np.uint32)
    for u in range(n):
        if u < n_par:
            lo = para_seg0[u]
            hi = para_seg0[u + 1] if u + 1 < n_par else n_seg
            for i in range(n_perm):
                row[i] = seg_sig[lo, i]
            for s in range(lo + 1, hi):
                for i in range(n_perm):
                    v = seg_sig[s, i]
                    if v < row[i]:
                        row[i] = v
        else:
            s = sent_seg[u - n_par]
            for i in range(n_perm):
                row[i] = seg_sig[s, i]
        for j in range(bands):
            for k in range(rows):
                banded[j, u, k] = row[j * rows + k]
        for i in range(width, n_perm):
            rest[u, i - width] = row[i]
    return banded, rest


def warm_up() -> None:
    """Run every kernel once on the argument types indexing gives them (loads the cached code)."""
    one32 = np.ones(1, dtype=np.uint32)
    zero = np.zeros(1, dtype=np.int64)
    sign_sets(one32, zero, one32, one32, np.empty((1, 1), dtype=np.uint32))
    window_hashes(np.ones(2, dtype=np.uint64), zero, 2)
    unit_bands(np.ones((1, 2), dtype=np.uint32), zero, zero, 1, 1)
    one = np.ones(1, dtype=np.int64)
    # characters come read-only (numpy views of encoded text): numba compiles those apart
    for chars in (np.frombuffer(b"a", dtype=np.uint8), np.frombuffer(b"a\0\0\0", dtype="<u4")):
        span_poly(chars, zero, one)
        span_poly_lower(chars, zero, one)
