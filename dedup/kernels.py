"""Compiled inner loops (C, built with the package), where one fused loop beats a chain of numpy
calls.

A MinHash signature is the minimum, per permutation, of ``a * x + b`` over a set's shingles.
numpy has to write the whole ``(permutations, shingles)`` block of values to memory, add to it
and reduce it: three passes over a block 128 times the size of the input. In C each shingle's
128 values stay in vector registers and fold into the set's running minimum (about 10x on a
batch of articles; the loop is compiled for AVX-512, AVX2 and plain x86-64, chosen when the
library loads). Token and shingle hashes likewise take one pass over their input instead of one
numpy pass per arithmetic step.

The loops are in ``_kernels.c``, built into the extension module ``dedup._kernels`` when the
package is installed, and called here through ctypes (no Python C API code to get wrong); the
wrappers check every index the C code will follow, so a bad argument raises instead of reading
out of bounds. Every kernel computes exactly what the numpy code in the module that calls it
computes (unsigned arithmetic modulo 2**32 or 2**64): :mod:`dedup.native` says when they are
used. Importing this module raises ImportError where the extension was not built.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from . import _kernels  # type: ignore[attr-defined]  # ImportError when not built

__all__ = ["sign_sets", "window_hashes", "span_poly", "unit_bands", "set_jaccard"]

_lib = ctypes.CDLL(_kernels.__file__)
_PTR = ctypes.c_void_p
_INT = ctypes.c_int64


def _bind(name: str, *argtypes: type) -> Any:
    fn = getattr(_lib, name)
    fn.argtypes = list(argtypes)
    fn.restype = None
    return fn


_sign_sets = _bind("dd_sign_sets", _PTR, _INT, _PTR, _INT, _PTR, _PTR, _INT, _PTR)
_window_hashes = _bind("dd_window_hashes", _PTR, _PTR, _INT, _INT, _PTR)
_span_poly8 = _bind("dd_span_poly8", _PTR, _PTR, _PTR, _INT, ctypes.c_int, _PTR)
_span_poly32 = _bind("dd_span_poly32", _PTR, _PTR, _PTR, _INT, ctypes.c_int, _PTR)
_set_jaccard = _bind("dd_set_jaccard", _PTR, _PTR, _PTR, _PTR, _PTR, _PTR, _INT, _PTR, _PTR, _PTR, _PTR, _INT)
_unit_bands = _bind("dd_unit_bands", _PTR, _INT, _INT, _PTR, _INT, _PTR, _INT, _INT, _INT, _PTR, _PTR, _PTR)


def _arr(x: np.ndarray, dtype: type) -> np.ndarray:
    """``x`` as a C-contiguous array of ``dtype`` (no copy when it is one already)."""
    return np.ascontiguousarray(x, dtype=dtype)


def _check_range(name: str, idx: np.ndarray, lo: int, hi: int) -> None:
    """Raise IndexError unless every value of ``idx`` lies in ``[lo, hi]``."""
    if len(idx) and (int(idx.min()) < lo or int(idx.max()) > hi):
        raise IndexError(f"{name}: index out of range [{lo}, {hi}]")


def sign_sets(hashes: np.ndarray, set_starts: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """MinHash signatures of consecutive shingle sets into ``out`` (uint32 ``(sets, permutations)``).

    ``hashes`` are pre-mixed uint32 shingle hashes, set after set; set ``s`` is
    ``hashes[set_starts[s] : set_starts[s + 1]]`` (the last one runs to the end). Values are
    ``a[i] * x + b[i]`` modulo 2**32, as numpy's uint32 arithmetic gives them.
    """
    h, st = _arr(hashes, np.uint32), _arr(set_starts, np.int64)
    a, b = _arr(a, np.uint32), _arr(b, np.uint32)
    if out.dtype != np.uint32 or not out.flags.c_contiguous or out.shape != (len(st), len(a)) or len(b) != len(a):
        raise ValueError("sign_sets: out must be a C-contiguous uint32 (sets, permutations) array")
    _check_range("sign_sets", st, 0, len(h))
    _sign_sets(h.ctypes.data, len(h), st.ctypes.data, len(st), a.ctypes.data, b.ctypes.data, len(a), out.ctypes.data)


def window_hashes(tokens: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """:func:`dedup.shingles.window_hashes` of the windows of ``width`` tokens at ``starts``."""
    t, st = _arr(tokens, np.uint64), _arr(starts, np.int64)
    if width < 1:
        raise ValueError("window_hashes: width must be >= 1")
    _check_range("window_hashes", st, 0, len(t) - width)
    out = np.empty(len(st), dtype=np.uint64)
    _window_hashes(t.ctypes.data, st.ctypes.data, len(st), int(width), out.ctypes.data)
    return out


def span_poly(chars: np.ndarray, starts: np.ndarray, ends: np.ndarray, lower_ascii: bool) -> np.ndarray:
    """``sum(c[s + k] * Q**k)`` modulo 2**64 of every span ``[s, e)`` of ``chars`` (uint8 or
    uint32 code units), the polynomial of :func:`dedup.text._span_hashes`; with
    ``lower_ascii``, ASCII capitals count as lower case."""
    if chars.dtype not in (np.uint8, np.uint32):
        raise TypeError(f"span_poly: characters must be uint8 or uint32, not {chars.dtype}")
    c = np.ascontiguousarray(chars)
    st, en = _arr(starts, np.int64), _arr(ends, np.int64)
    if len(st) != len(en):
        raise ValueError("span_poly: starts and ends differ in length")
    _check_range("span_poly", st, 0, len(c))
    _check_range("span_poly", en, 0, len(c))
    out = np.empty(len(st), dtype=np.uint64)
    fn = _span_poly8 if c.dtype == np.uint8 else _span_poly32
    fn(c.ctypes.data, st.ctypes.data, en.ctypes.data, len(st), int(bool(lower_ascii)), out.ctypes.data)
    return out


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
    sig = _arr(seg_sig, np.uint32)
    p0, ss = _arr(para_seg0, np.int64), _arr(sent_seg, np.int64)
    n_seg, n_perm = sig.shape
    if bands < 0 or rows < 1 or bands * rows > n_perm:
        raise ValueError("unit_bands: bands * rows must fit the signature")
    _check_range("unit_bands", p0, 0, n_seg - 1)
    _check_range("unit_bands", ss, 0, n_seg - 1)
    n = len(p0) + len(ss)
    banded = np.empty((bands, n, rows), dtype=np.uint32)
    rest = np.empty((n, n_perm - bands * rows), dtype=np.uint32)
    row = np.empty(n_perm, dtype=np.uint32)
    _unit_bands(
        sig.ctypes.data,
        n_seg,
        n_perm,
        p0.ctypes.data,
        len(p0),
        ss.ctypes.data,
        len(ss),
        bands,
        rows,
        banded.ctypes.data,
        rest.ctypes.data,
        row.ctypes.data,
    )
    return banded, rest


def set_jaccard(
    sh_a: np.ndarray,
    start_a: np.ndarray,
    len_a: np.ndarray,
    sh_b: np.ndarray,
    start_b: np.ndarray,
    len_b: np.ndarray,
) -> np.ndarray:
    """:func:`dedup.shingles.set_jaccard` (float32), one small hash table per pair instead of
    sorting every gathered shingle."""
    a, b = _arr(sh_a, np.uint32), _arr(sh_b, np.uint32)
    sa, la = _arr(start_a, np.int64), _arr(len_a, np.int64)
    sb, lb = _arr(start_b, np.int64), _arr(len_b, np.int64)
    n = len(sa)
    if not (len(la) == len(sb) == len(lb) == n):
        raise ValueError("set_jaccard: the six arrays of a batch of pairs differ in length")
    out = np.ones(n, dtype=np.float32)
    if n == 0:
        return out
    for name, st, ln, sh in (("a", sa, la, a), ("b", sb, lb, b)):
        _check_range(f"set_jaccard ({name} lengths)", ln, 0, len(sh))
        _check_range(f"set_jaccard ({name} starts)", st, 0, len(sh))
        _check_range(f"set_jaccard ({name} ends)", st + ln, 0, len(sh))
    if n >= 2**32 - 1:
        raise ValueError("set_jaccard: at most 2**32 - 2 pairs per call")
    cap = 1 << max(1, int(2 * int((la + lb).max())).bit_length())  # >= twice the largest pair
    keys = np.empty(cap, dtype=np.uint32)
    stamp = np.zeros(cap, dtype=np.uint32)
    side = np.empty(cap, dtype=np.uint8)
    _set_jaccard(
        a.ctypes.data,
        sa.ctypes.data,
        la.ctypes.data,
        b.ctypes.data,
        sb.ctypes.data,
        lb.ctypes.data,
        n,
        out.ctypes.data,
        keys.ctypes.data,
        stamp.ctypes.data,
        side.ctypes.data,
        cap,
    )
    return out
