"""Word shingles: hashes of every run of ``shingle_size`` consecutive token hashes.

Token hashes are ``xxh3_64(token, seed)`` (see :func:`dedup.text.token_hashes`). A shingle of
tokens ``t0 .. t(w-1)`` hashes to ``fmix64(poly(t0 .. t(w-1)) ^ w)`` where ``poly`` is the
polynomial ``((t0 * P + t1) * P + t2) ...`` modulo 2**64 and ``fmix64`` is the 64-bit finalizer of
MurmurHash3. Both are computed for all windows of a token array at once with numpy, so no Python
code runs per shingle.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fmix64", "window_hashes"]

_P = np.uint64(0x9E3779B97F4A7C15)
_C1 = np.uint64(0xFF51AFD7ED558CCD)
_C2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)


def fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer, applied elementwise (returns a new array)."""
    x = np.array(x, dtype=np.uint64, copy=True)
    x ^= x >> _S33
    x *= _C1
    x ^= x >> _S33
    x *= _C2
    x ^= x >> _S33
    return x


def window_hashes(token_hashes: np.ndarray, width: int, starts: np.ndarray | None = None) -> np.ndarray:
    """Hashes of token windows of ``width`` tokens.

    Args:
        token_hashes: uint64 token hashes.
        width: tokens per window (>= 1).
        starts: window start positions; ``None`` means every position ``0 .. len - width``.

    Returns:
        uint64 array, one hash per window.

    >>> t = np.array([1, 2, 3, 1, 2, 3], dtype=np.uint64)
    >>> h = window_hashes(t, 3)
    >>> len(h), bool(h[0] == h[3]), bool(h[0] == h[1])
    (4, True, False)
    """
    t = np.asarray(token_hashes, dtype=np.uint64)
    if starts is None:
        n = len(t) - width + 1
        if n <= 0:
            return np.empty(0, dtype=np.uint64)
        acc = t[:n].copy()
        for j in range(1, width):
            acc *= _P
            acc += t[j : j + n]
    else:
        starts = np.asarray(starts, dtype=np.int64)
        acc = t[starts].copy()
        for j in range(1, width):
            acc *= _P
            acc += t[starts + j]
    acc ^= np.uint64(width)
    return fmix64(acc)
