"""Compiled inner loops (C, built with the package), where one fused loop beats a chain of numpy
calls.

A MinHash signature is the minimum, per permutation, of ``a * x + b`` over a set's shingles.
numpy has to write the whole ``(permutations, shingles)`` block of values to memory, add to it
and reduce it: three passes over a block 128 times the size of the input. In C each shingle's
128 values stay in vector registers and fold into the set's running minimum (about 10x on a
batch of articles; the loop is compiled for AVX-512, AVX2 and plain x86-64, chosen when the
library loads). Token and shingle hashes likewise take one pass over their input instead of one
numpy pass per arithmetic step. Where the work is a Python loop over small items, as in cutting
paragraphs into sentence units or in :func:`dedup.align.align` after the text is folded (words,
shingle groups, blocks, the chaining DP, gap opcodes, trimming, the evidence tests), one C call
replaces thousands of interpreted steps.

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

__all__ = [
    "sign_sets",
    "window_hashes",
    "span_poly",
    "unit_bands",
    "set_jaccard",
    "sentence_units",
    "band_pack",
    "equal_counts",
    "components",
    "key_groups",
    "run_pairs",
    "TwinRows",
    "union_values",
    "union_pairs",
    "StopTable",
    "align_found",
]

_lib = ctypes.CDLL(_kernels.__file__)
_PTR = ctypes.c_void_p
_INT = ctypes.c_int64
_STR = ctypes.c_char_p  # a bytes object, passed without a copy
_SPACES = b" " * 8


def _bind(name: str, *argtypes: type, restype: type | None = None) -> Any:
    fn = getattr(_lib, name)
    fn.argtypes = list(argtypes)
    fn.restype = restype
    return fn


_sign_sets = _bind("dd_sign_sets", _PTR, _INT, _PTR, _INT, _PTR, _PTR, _INT, _PTR)
_window_hashes = _bind("dd_window_hashes", _PTR, _PTR, _INT, _INT, _PTR)
_span_poly8 = _bind("dd_span_poly8", _PTR, _PTR, _PTR, _INT, ctypes.c_int, _PTR)
_span_poly32 = _bind("dd_span_poly32", _PTR, _PTR, _PTR, _INT, ctypes.c_int, _PTR)
_set_jaccard = _bind("dd_set_jaccard", _PTR, _PTR, _PTR, _PTR, _PTR, _PTR, _INT, _PTR, _PTR, _PTR, _PTR, _INT)
_unit_bands = _bind("dd_unit_bands", _PTR, _INT, _INT, _PTR, _INT, _PTR, _INT, _INT, _INT, _PTR, _PTR, _PTR)
_sentence_units = _bind("dd_sentence_units", *([_PTR] * 5), _INT, _PTR, _INT, _PTR, _PTR, _PTR, restype=_INT)
_band_pack = _bind("dd_band_pack", _PTR, _PTR, _INT, _INT, _INT, _PTR, _INT, _INT, _PTR)
_equal_counts = _bind("dd_equal_counts", _PTR, _PTR, _INT, _INT, _PTR, _PTR, ctypes.c_int, _INT, _PTR)
_components = _bind("dd_components", _INT, _PTR, _INT, ctypes.c_int, _PTR, _PTR)
_CINT = ctypes.c_int
_run_pairs = _bind("dd_run_pairs", *([_PTR] * 3), _INT, _PTR, _CINT, _PTR, _CINT, _PTR, restype=_INT)
_twin_run_pairs = _bind(
    "dd_twin_run_pairs",
    *([_PTR] * 3), _INT, _PTR, _CINT, _PTR, _PTR, _PTR, _PTR, _CINT, _PTR, _CINT, _PTR, _CINT, _PTR,
    restype=_INT,
)
_union_values = _bind("dd_union_values", _PTR, _INT, _PTR, _INT, _PTR, _PTR, _PTR, restype=_INT)
_union_pairs = _bind("dd_union_pairs", _PTR, _PTR, _INT, _INT, _CINT, _PTR, restype=_INT)
_key_groups = _bind("dd_key_groups", _PTR, _INT, _PTR, _PTR, _PTR, restype=_INT)
_DBL = ctypes.c_double
_align_found = _bind(
    "dd_align_found",
    *(_STR, _INT, _INT, _INT, _INT, _INT, _INT, _INT, _INT, _DBL, _DBL, _DBL, _DBL, _DBL),
    *(_PTR, _INT, ctypes.c_uint64, _STR, _PTR, _PTR, _INT),
    restype=_INT,
)


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


class StopTable:
    """Function words for :func:`align_found`: a direct-mapped table of ``2**bits`` int16 slots,
    slot ``(hash * mul) >> (64 - bits)`` holding 1 + the index of the word with that hash (0:
    none), the words' bytes (``blob``) and their offsets in it (``off``, one more than words).
    The hash is that of :func:`dedup.align._word_keys`."""

    def __init__(self, table: np.ndarray, bits: int, mul: int, blob: bytes, off: np.ndarray) -> None:
        self.table = _arr(table, np.int16)
        self.off = _arr(off, np.int64)
        if len(self.table) != 1 << bits or not 1 <= bits <= 30 or not isinstance(blob, bytes):
            raise ValueError("StopTable: the table must have 2**bits slots, the words be bytes")
        n = len(self.off) - 1
        if n < 0 or self.off[0] != 0 or self.off[-1] != len(blob) or np.any(np.diff(self.off) < 0):
            raise ValueError("StopTable: offsets must run from 0 to the end of blob")
        _check_range("StopTable", self.table, 0, n)
        self.bits, self.mul, self.blob = int(bits), int(mul) % 2**64, blob
        # The kernel's arguments, once: (table, bits, mul, blob, offsets).
        self.args = (self.table.ctypes.data, self.bits, self.mul, blob, self.off.ctypes.data)


def align_found(
    padded: bytes, len_a: int, iopt: tuple[int, ...], fopt: tuple[float, ...], stops: StopTable
) -> tuple[np.ndarray, list[int], list[list[int]], list[list[int]]] | None:
    """:func:`dedup.align.align` on a pair of folded texts up to its candidate passages, in one
    compiled pass; None when two different shingles share a hash (take the exact path).

    ``padded`` is 8 spaces, ``fa + " " + fb`` folded (:func:`dedup.align._fold`), 8 spaces, with
    ``len(fa) == len_a``. ``iopt``: shingle size, max_repeats, min_words, max_gap, max
    predecessors, min content words; ``fopt``: half the gap cost, the shift cost, half the trim
    cost, min similarity, min content share. Returns ``(words, (w_a, w), found, ops)``:
    ``words`` an int64 ``(2, cap)`` array of the words' starts and ends in ``fa`` or ``fb`` (the
    first ``w`` columns, those of ``fa`` first, ``w_a`` of them); ``(matched, first op, ops)``
    per candidate, in align's order; the columns kind, a0, a1, b0, b1 of their word ops (kinds
    0 equal, 1 replace, 2 delete, 3 insert).
    """
    if not isinstance(padded, bytes):
        raise TypeError("align_found: padded must be bytes")
    n = len(padded)
    if n < 17 or padded[:8] != _SPACES or padded[-8:] != _SPACES or not 0 <= len_a <= n - 17:
        raise ValueError("align_found: padded must be 8 spaces, the text, 8 spaces; len_a within the text")
    if padded[8 + len_a] != 32:
        raise ValueError("align_found: a space must separate the two texts")
    k, max_repeats, min_words, max_gap, max_pred, min_content = iopt
    if n >= 2**31 or min(k, max_repeats, min_words) < 1 or min(max_gap, max_pred) < 0 or len(fopt) != 5:
        raise ValueError("align_found: text too long (2**31 bytes), or an option out of range")
    cap = (n - 16) // 2 + 1
    size = 4 + 2 * cap + 1024
    while True:
        out = np.empty(size, dtype=np.int64)
        r = _align_found(padded, n, len_a, *iopt, *fopt, *stops.args, out.ctypes.data, size)
        if r >= -2:
            break
        size = -r - 3
    if r == -2:
        raise MemoryError("align_found: out of memory")
    if r == -1:
        return None
    head = out[:4].tolist()
    n_found, n_ops = head[2], head[3]
    base = 4 + 2 * cap
    found = out[base : base + 3 * n_found].reshape(n_found, 3).tolist()
    ops = out[base + 3 * n_found : base + 3 * n_found + 5 * n_ops].reshape(n_ops, 5).T.tolist()
    return out[4:base].reshape(2, cap), head[:2], found, ops


def sentence_units(
    cand: np.ndarray,
    plo: np.ndarray,
    phi: np.ndarray,
    b0: np.ndarray,
    b1: np.ndarray,
    brk: np.ndarray,
    min_sent: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sentence units of :func:`dedup.units.featurize`: for each paragraph ``cand[c]`` (tokens
    ``plo[c] .. phi[c]``, sentence breaks ``brk[b0[c] : b1[c]]`` at token positions), the breaks
    with at least ``min_sent`` tokens since the previous boundary and before the paragraph end
    cut it into units. Returns the units' paragraphs, first tokens and past-last tokens (int64),
    paragraph after paragraph; a paragraph with no such break gives none."""
    cols = [_arr(x, np.int64) for x in (cand, plo, phi, b0, b1)]
    br = _arr(brk, np.int64)
    n = len(cols[0])
    if any(len(x) != n for x in cols):
        raise ValueError("sentence_units: the paragraph arrays differ in length")
    c0, c1 = cols[3], cols[4]
    if n and (int(c0.min()) < 0 or int(c1.max()) > len(br) or int((c1 - c0).min()) < 0):
        raise IndexError("sentence_units: break ranges out of range")
    cap = int((c1 - c0).sum()) + n
    out = np.empty((3, cap), dtype=np.int64)
    m = _sentence_units(*(x.ctypes.data for x in cols), n, br.ctypes.data, int(min_sent),
                        out[0].ctypes.data, out[1].ctypes.data, out[2].ctypes.data)  # fmt: skip
    return out[0, :m], out[1, :m], out[2, :m]


class Chunks:
    """A column of uint32 rows kept as the arrays it was appended in, for the kernels that read
    it without merging them: ``(rows_k, width)`` arrays, C-contiguous, one width (at least one
    array, empty ones allowed). Holds the arrays (their memory must outlive the calls) and their
    row offsets."""

    def __init__(self, arrays: list[np.ndarray], name: str) -> None:
        if not arrays:
            raise ValueError(f"{name}: no array gives the width of the rows")
        width = arrays[0].shape[1] if arrays[0].ndim == 2 else -1
        for a in arrays:
            if a.dtype != np.uint32 or a.ndim != 2 or a.shape[1] != width or not a.flags.c_contiguous:
                raise ValueError(f"{name}: chunks must be C-contiguous uint32 arrays of {width} values per row")
        kept = [a for a in arrays if len(a)]  # no rows: no chunk (a column without any: no row to read)
        self.arrays, self.width = kept, width
        self.starts = np.zeros(len(kept) + 1, dtype=np.int64)
        np.cumsum([len(a) for a in kept], out=self.starts[1:])
        self.rows = int(self.starts[-1])
        self.pointers = np.array([a.ctypes.data for a in kept], dtype=np.uintp)


def band_pack(chunks: Chunks, band: int, sel: np.ndarray, bits: int) -> np.ndarray:
    """:func:`dedup.lsh.band_key` of band number ``band`` (``chunks``: its values, ``width``
    uint32 per row) at the rows ``sel``, packed as :func:`dedup.lsh._pack` packs them before its
    sort: the key's low ``bits`` bits replaced by the position in ``sel`` (uint64, unsorted)."""
    st = _arr(sel, np.int64)
    _check_range("band_pack", st, 0, chunks.rows - 1)
    if not 1 <= bits <= 63 or len(st) > 1 << bits:
        raise ValueError("band_pack: bits must be 1..63 and number every selected row")
    out = np.empty(len(st), dtype=np.uint64)
    c = chunks
    _band_pack(c.pointers.ctypes.data, c.starts.ctypes.data, len(c.arrays), c.width, int(band),
               st.ctypes.data, len(st), int(bits), out.ctypes.data)
    return out


def equal_counts(chunks: Chunks, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """Add to ``out[i]`` (int32) the number of equal values of rows ``a[i]`` and ``b[i]`` of
    ``chunks`` (``a`` and ``b``: int32 or int64, the same)."""
    wide = not (a.dtype == np.int32 and b.dtype == np.int32)
    x, y = _arr(a, np.int64 if wide else np.int32), _arr(b, np.int64 if wide else np.int32)
    if len(x) != len(y) or out.dtype != np.int32 or len(out) != len(x) or not out.flags.c_contiguous:
        raise ValueError("equal_counts: a, b and out (int32, contiguous) must have one length")
    _check_range("equal_counts", x, 0, chunks.rows - 1)
    _check_range("equal_counts", y, 0, chunks.rows - 1)
    c = chunks
    _equal_counts(c.pointers.ctypes.data, c.starts.ctypes.data, len(c.arrays), c.width,
                  x.ctypes.data, y.ctypes.data, int(wide), len(x), out.ctypes.data)


def components(n: int, pairs: np.ndarray, sel: np.ndarray | None = None) -> np.ndarray:
    """:func:`dedup.analysis.components`: connected components of ``n`` nodes and the ``(m, 2)``
    edges ``pairs`` (int32 or int64), or of the edges where the bool array ``sel`` is True
    (nothing copied), labels numbered by each component's smallest node (int64), by union-find
    instead of a sparse graph."""
    p = np.asarray(pairs)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError("components: pairs must be an (m, 2) array")
    p, wide = _int_array(p)
    _check_range("components", p.reshape(-1), 0, n - 1)
    s = None
    if sel is not None:
        s = np.ascontiguousarray(sel)
        if s.dtype != np.bool_ or s.shape != (len(p),):
            raise ValueError("components: sel must be one bool per pair")
    labels = np.empty(n, dtype=np.int64)
    _components(int(n), p.ctypes.data, len(p), wide, None if s is None else s.ctypes.data,
                labels.ctypes.data)
    return labels


def _int_array(x: np.ndarray) -> tuple[np.ndarray, int]:
    """``x`` as a C-contiguous int32 array when it is one, else int64, and whether it is int64."""
    a = np.asarray(x)
    wide = a.dtype != np.int32
    return _arr(a, np.int64 if wide else np.int32), int(wide)


def _ints(x: np.ndarray | None) -> tuple[np.ndarray | None, int]:
    """:func:`_int_array` of ``x``, or ``(None, 0)``."""
    return (None, 0) if x is None else _int_array(x)


def _ptr(x: np.ndarray | None) -> int | None:
    return None if x is None else x.ctypes.data


def _check_values(name: str, values: np.ndarray, ids: np.ndarray | None, groups: np.ndarray | None) -> None:
    """Values must index ``ids`` (when given), and what they map to must index ``groups`` (when
    given) and pack into a pair key (below 2**31)."""
    if ids is not None:
        _check_range(name, values, 0, len(ids) - 1)
        values = ids
    if groups is not None:
        _check_range(name, values, 0, len(groups) - 1)
    if len(values) and (int(values.min()) < 0 or int(values.max()) >= 1 << 31):
        raise ValueError(f"{name}: values must lie in [0, 2**31)")


def _check_runs(name: str, starts: np.ndarray, sizes: np.ndarray, n: int) -> None:
    if len(starts) != len(sizes):
        raise ValueError(f"{name}: starts and sizes differ in length")
    if len(sizes) and int(sizes.min()) < 0:
        raise ValueError(f"{name}: sizes must be >= 0")
    _check_range(name, starts, 0, n)
    _check_range(name, starts + sizes, 0, n)


def run_pairs(
    u: np.ndarray, starts: np.ndarray, sizes: np.ndarray, groups: np.ndarray | None, ids: np.ndarray | None
) -> np.ndarray:
    """:func:`dedup.lsh.run_pairs` in one pass: the ``lo << 32 | hi`` keys of the pairs inside
    each run ``u[starts[k] : starts[k] + sizes[k]]`` (values mapped through ``ids`` when given),
    pairs inside one of ``groups`` dropped; run after run (int64). ``ids`` and ``groups``:
    int32 or int64."""
    uu, st, sz = _arr(u, np.int64), _arr(starts, np.int64), _arr(sizes, np.int64)
    _check_runs("run_pairs", st, sz, len(uu))
    ix, ix_wide = _ints(ids)
    gr, gr_wide = _ints(groups)
    _check_values("run_pairs", uu, ix, gr)
    out = np.empty(int((sz * (sz - 1) // 2).sum()), dtype=np.int64)
    w = _run_pairs(uu.ctypes.data, st.ctypes.data, sz.ctypes.data, len(st), _ptr(ix), ix_wide, _ptr(gr), gr_wide,
                   out.ctypes.data)
    if w < len(out):
        out.resize(w, refcheck=False)  # shrinks in place: the keys are kept, the tail freed
    return out


class TwinRows:
    """Twin groups (:class:`dedup.lsh.Twins`) with the ``ids`` their rows map to and the
    ``groups`` whose inner pairs are dropped, checked once for :meth:`pairs` (which then checks
    only its runs)."""

    def __init__(self, first: np.ndarray, multi_of: np.ndarray, start: np.ndarray, size: np.ndarray,
                 rows: np.ndarray, ids: np.ndarray | None, groups: np.ndarray | None) -> None:
        name = "TwinRows"
        self.first, self.first_wide = _int_array(first)
        self.rows, self.rows_wide = _int_array(rows)
        self.multi_of = _arr(multi_of, np.int32)
        self.start, self.size = _arr(start, np.int64), _arr(size, np.int64)
        self.ids, self.ids_wide = _ints(ids)
        self.groups, self.groups_wide = _ints(groups)
        if len(self.multi_of) != len(self.first) or len(self.start) != len(self.size):
            raise ValueError(f"{name}: one multi_of per group, one start per size")
        _check_range(name, self.multi_of, -1, len(self.size) - 1)
        _check_runs(name, self.start, self.size, len(self.rows))
        _check_values(name, self.first, self.ids, self.groups)
        _check_values(name, self.rows, self.ids, self.groups)

    def pairs(self, g: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """The keys of :func:`run_pairs` between the rows of twin groups: for each pair of groups
        inside a run ``g[starts[k] : starts[k] + sizes[k]]``, every row of the one with every row
        of the other (``lo << 32 | hi`` of the rows' ids, pairs inside one of the table's groups
        dropped; int64, unsorted)."""
        gg, st, sz = _arr(g, np.int64), _arr(starts, np.int64), _arr(sizes, np.int64)
        _check_runs("TwinRows.pairs", st, sz, len(gg))
        _check_range("TwinRows.pairs", gg, 0, len(self.first) - 1)
        args = (
            gg.ctypes.data, st.ctypes.data, sz.ctypes.data, len(st), self.first.ctypes.data, self.first_wide,
            self.multi_of.ctypes.data, self.start.ctypes.data, self.size.ctypes.data, self.rows.ctypes.data,
            self.rows_wide, _ptr(self.ids), self.ids_wide, _ptr(self.groups), self.groups_wide,
        )
        out = np.empty(int(_twin_run_pairs(*args, None)), dtype=np.int64)
        w = _twin_run_pairs(*args, out.ctypes.data)
        if w < 0:
            raise MemoryError("TwinRows.pairs: no memory for a run's rows")
        if w < len(out):
            out.resize(w, refcheck=False)
        return out


def union_values(a: np.ndarray, b: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted union of the int64 keys ``a`` and ``b`` (each sorted ascending) without
    repeats, in one merge, and for each key its value from ``values`` (float32, one per key of
    ``b``) where it is one of ``b``, else NaN: what sorting the concatenation, dropping repeats
    and looking ``b`` up in it gives."""
    x, y, v = _arr(a, np.int64), _arr(b, np.int64), _arr(values, np.float32)
    if len(v) != len(y):
        raise ValueError("union_values: one value per key of b")
    keys = np.empty(len(x) + len(y), dtype=np.int64)
    est = np.empty(len(keys), dtype=np.float32)
    w = _union_values(x.ctypes.data, len(x), y.ctypes.data, len(y), v.ctypes.data, keys.ctypes.data, est.ctypes.data)
    if w == -3:  # checked by the kernel, with no temporary the size of the keys
        raise ValueError("union_values: a and b must be sorted ascending")
    if w < len(keys):
        keys.resize(w, refcheck=False)
        est.resize(w, refcheck=False)
    return keys, est


def union_pairs(parts: list[np.ndarray], n: int) -> np.ndarray:
    """:func:`dedup.lsh.key_pairs` of the sorted union of the ``lo << 32 | hi`` keys in
    ``parts`` (int64 arrays, each sorted ascending; at most 64), without repeats, in one merge:
    ``(m, 2)`` rows of ids below ``n``, int32 when they fit. The kernel checks the order and the
    ids as it merges (no temporary the size of the keys)."""
    ks = [_arr(p, np.int64) for p in parts]
    if len(ks) > 64:
        raise ValueError("union_pairs: at most 64 arrays")
    wide = n > 2**31
    out = np.empty((sum(len(k) for k in ks), 2), dtype=np.int64 if wide else np.int32)
    ptrs = np.array([k.ctypes.data for k in ks], dtype=np.uintp)
    lens = np.array([len(k) for k in ks], dtype=np.int64)
    w = _union_pairs(ptrs.ctypes.data, lens.ctypes.data, len(ks), int(n), int(wide), out.ctypes.data)
    if w == -2:
        raise IndexError(f"union_pairs: a key holds an id outside [0, {n})")
    if w == -3:
        raise ValueError("union_pairs: every array must be sorted ascending")
    if w < len(out):
        out.resize((w, 2), refcheck=False)
    return out


def key_groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows grouped by equal ``keys`` (uint64), groups numbered in order of their first row:
    the group of every row, and each group's first row and number of rows (int64)."""
    k = _arr(keys, np.uint64)
    n = len(k)
    group = np.empty(n, dtype=np.int64)
    first = np.empty(n, dtype=np.int64)
    count = np.empty(n, dtype=np.int64)
    g = _key_groups(k.ctypes.data, n, group.ctypes.data, first.ctypes.data, count.ctypes.data)
    if g < 0:
        raise MemoryError("key_groups: out of memory")
    return group, first[:g], count[:g]
