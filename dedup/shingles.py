"""Word shingles: hashes of every run of ``shingle_size`` consecutive token hashes.

Token hashes come from :func:`dedup.text.token_hashes`. A shingle of
tokens ``t0 .. t(w-1)`` hashes to ``fmix64(poly(t0 .. t(w-1)) ^ w)`` where ``poly`` is the
polynomial ``((t0 * P + t1) * P + t2) ...`` modulo 2**64 and ``fmix64`` is the 64-bit finalizer of
MurmurHash3. Both are computed for all windows of a token array at once with numpy, so no Python
code runs per shingle.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from . import native
from .parallel import fork_map

__all__ = ["fmix64", "fmix64_inplace", "window_hashes", "ramp", "set_jaccard", "set_keys", "set_sums", "finish_keys"]

_P = np.uint64(0x9E3779B97F4A7C15)
_C1 = np.uint64(0xFF51AFD7ED558CCD)
_C2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)


def fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer, applied elementwise (returns a new array)."""
    x = np.array(x, dtype=np.uint64, copy=True)
    fmix64_inplace(x)
    return x


def fmix64_inplace(x: np.ndarray) -> None:
    """:func:`fmix64` computed in place in the uint64 array ``x`` (one temporary, not five)."""
    tmp = np.empty_like(x)
    for c in (_C1, _C2, None):
        np.right_shift(x, _S33, out=tmp)
        x ^= tmp
        if c is not None:
            x *= c


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
        kernels = native.kernels()
        if kernels is not None and len(starts):
            return kernels.window_hashes(t, starts, int(width))
        acc = t[starts].copy()
        for j in range(1, width):
            acc *= _P
            acc += t[starts + j]
    acc ^= np.uint64(width)
    fmix64_inplace(acc)
    return acc


def sorted_unique(x: np.ndarray, presorted: bool = False) -> np.ndarray:
    """``np.unique`` of a 1-D integer array, by sorting.

    numpy 2's ``np.unique`` finds the values with a hash table and then sorts them: 30-60x
    slower than one sort on this machine (a million int64 values: 0.5-0.8 s against 0.01-0.014 s).
    """
    if not presorted:
        x = np.sort(x)
    if len(x) < 2:
        return x
    keep = np.empty(len(x), dtype=bool)
    keep[0] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    return x[keep]


def ramp(counts: np.ndarray) -> np.ndarray:
    """``[0 .. c0-1, 0 .. c1-1, ...]`` for an array of non-negative counts."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


_KEY_SALT = np.uint64(0x2545F4914F6CDD1D)
_KEY_LEN = np.uint64(0xD6E8FEB86659FD93)
#: Shingles per prefix-sum pass of :func:`set_keys` (bounds its temporaries: 8 bytes each).
KEY_WINDOW = 1 << 24


def set_keys(shingles: np.ndarray, starts: np.ndarray, lengths: np.ndarray, *, window: int = KEY_WINDOW) -> np.ndarray:
    """A uint64 key of every shingle multiset ``shingles[starts[i] : starts[i] + lengths[i]]``.

    The key is ``fmix64(sum(fmix64(s ^ salt) for s in the multiset) + length * G)`` modulo
    2**64: the same multiset (in any order) always has the same key, and two different
    multisets share one with probability about 2**-64. Equal keys of two units mean equal
    shingle sets, hence equal MinHash signatures, which is what lets LSH treat such units as
    one (see :func:`dedup.lsh.bucket_pairs`). It is ``finish_keys(set_sums(...))``.

    >>> sh = np.array([7, 8, 9, 8, 7, 9, 5], dtype=np.uint32)
    >>> k = set_keys(sh, np.array([0, 3, 4, 0]), np.array([3, 3, 3, 2]))
    >>> bool(k[0] == k[1]), bool(k[0] == k[2]), bool(k[0] == k[3])
    (True, False, False)
    """
    return finish_keys(set_sums(shingles, starts, lengths, window=window), lengths)


def set_sums(shingles: np.ndarray, starts: np.ndarray, lengths: np.ndarray, *, window: int = KEY_WINDOW) -> np.ndarray:
    """The sums (uint64, modulo 2**64) behind :func:`set_keys`: sums of disjoint multisets add up
    to the sum of their union. They come from prefix sums over the shingles, in passes covering
    at most ``window`` shingles (ranges are taken in order and may overlap)."""
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    out = np.empty(len(starts), dtype=np.uint64)
    todo = [(0, len(starts))]
    while todo:
        a, b = todo.pop()
        if a >= b:
            continue
        s, e = starts[a:b], starts[a:b] + lengths[a:b]
        w0, w1 = int(s.min()), int(e.max())
        if w1 - w0 > window and b - a > 1:
            mid = (a + b) // 2
            todo += [(mid, b), (a, mid)]
            continue
        mixed = np.empty(w1 - w0 + 1, dtype=np.uint64)
        mixed[0] = 0
        np.bitwise_xor(shingles[w0:w1], _KEY_SALT, out=mixed[1:], casting="unsafe")
        fmix64_inplace(mixed[1:])
        np.cumsum(mixed, out=mixed)  # wraps modulo 2**64: the sums of any range are exact
        out[a:b] = mixed[e - w0] - mixed[s - w0]
    return out


def finish_keys(sums: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """:func:`set_keys` from :func:`set_sums` of multisets of ``lengths`` shingles (new array)."""
    out = np.asarray(lengths, dtype=np.int64).astype(np.uint64) * _KEY_LEN
    out += sums
    fmix64_inplace(out)
    return out


#: One side of a batch of pairs: shingle hashes, and each pair's start and length in them.
Side = tuple[np.ndarray, np.ndarray, np.ndarray]


def _side_keys(side: Side, bit: int) -> np.ndarray:
    """``pair << 33 | shingle << 1 | bit`` keys (uint64) of every shingle of every pair's side."""
    shingles, starts, lens = side
    keys = shingles[np.repeat(starts, lens) + ramp(lens)].astype(np.uint64)
    keys <<= np.uint64(1)
    if bit:
        keys |= np.uint64(1)
    keys |= np.repeat(np.arange(len(starts), dtype=np.uint64) << np.uint64(33), lens)
    return keys


def _inter_union(a: Side, b: Side) -> tuple[np.ndarray, np.ndarray]:
    """Sizes of the intersection and the union of each pair's two shingle sets.

    Both sides' keys go into one array sorted once: a repeat inside one side is then an equal
    neighbour (dropped), and a shingle of both sides two neighbours that differ only in the side
    bit. (Two sorts and a binary search of one side in the other took 1.5-2x longer.)
    """
    n = len(a[1])
    keys = np.concatenate([_side_keys(a, 0), _side_keys(b, 1)])
    keys.sort()
    keys = sorted_unique(keys, presorted=True)
    total = np.bincount((keys >> np.uint64(33)).view(np.int64), minlength=n)
    head = keys[1:] >> np.uint64(1)
    both = head == keys[:-1] >> np.uint64(1)
    inter = np.bincount((head[both] >> np.uint64(32)).view(np.int64), minlength=n)
    return inter, total - inter


def set_jaccard(
    sh_a: np.ndarray,
    start_a: np.ndarray,
    len_a: np.ndarray,
    sh_b: np.ndarray,
    start_b: np.ndarray,
    len_b: np.ndarray,
    *,
    chunk: int = 4_000_000,
    workers: int = 1,
) -> np.ndarray:
    """Exact Jaccard of many pairs of shingle sets, vectorized.

    Pair ``i`` compares the set of ``sh_a[start_a[i] : start_a[i] + len_a[i]]`` with the set of
    ``sh_b[start_b[i] : start_b[i] + len_b[i]]`` (uint32 shingle hashes; repeats inside a range
    count once). Pairs are processed in chunks of about ``chunk`` gathered shingles; with
    ``workers > 1`` and at least ``PARALLEL_MIN_SHINGLES`` of them, forked processes take equal
    shares of the shingles.

    >>> sh = np.array([1, 2, 3, 2, 3, 4], dtype=np.uint32)
    >>> set_jaccard(sh, np.array([0]), np.array([3]), sh, np.array([3]), np.array([3])).tolist()
    [0.5]
    """
    start_a = np.asarray(start_a, dtype=np.int64)
    start_b = np.asarray(start_b, dtype=np.int64)
    len_a = np.asarray(len_a, dtype=np.int64)
    len_b = np.asarray(len_b, dtype=np.int64)
    m = len(start_a)
    out = np.ones(m, dtype=np.float32)
    if m == 0:
        return out
    cost = np.cumsum(len_a + len_b)
    kernels = native.kernels()
    threads = kernels is not None and not isinstance(sh_a, np.memmap) and not isinstance(sh_b, np.memmap)
    min_parallel = (
        PARALLEL_MIN_SHINGLES
        if kernels is None
        else PARALLEL_MIN_SHINGLES_THREADS
        if threads
        else PARALLEL_MIN_SHINGLES_NATIVE
    )
    if workers > 1 and m >= 2 and int(cost[-1]) >= min_parallel:
        # equal shares of the gathered shingles (the work), not of the pairs
        cuts = np.searchsorted(cost, np.linspace(0, int(cost[-1]), workers + 1)[1:-1], side="right")
        spans = np.unique(np.concatenate([[0], cuts, [m]])).tolist()
        if threads:
            # the compiled loop runs without the GIL: threads, no fork
            def part(lo: int, hi: int) -> np.ndarray:
                return set_jaccard(sh_a, start_a[lo:hi], len_a[lo:hi], sh_b, start_b[lo:hi], len_b[lo:hi])

            with ThreadPoolExecutor(workers) as pool:
                return np.concatenate(list(pool.map(part, spans[:-1], spans[1:])))
        # Shingles in a memory-mapped file are read in forked workers: the pages they touch
        # (the whole 2.9 GB file at a million articles) then count in the workers, which exit,
        # not in this long-lived process for the rest of the analysis.
        shared = (sh_a, start_a, len_a, sh_b, start_b, len_b, chunk)
        return np.concatenate(list(fork_map(_jaccard_job, shared, zip(spans[:-1], spans[1:]), workers)))
    if kernels is not None:  # one small hash table per pair, in C: no sort of the gathered shingles
        return kernels.set_jaccard(sh_a, start_a, len_a, sh_b, start_b, len_b)
    lo = 0
    while lo < m:
        base = cost[lo - 1] if lo else 0
        hi = max(lo + 1, int(np.searchsorted(cost, base + chunk, side="right")))
        hi = min(hi, m, lo + _MAX_CHUNK_PAIRS)
        inter, union = _inter_union((sh_a, start_a[lo:hi], len_a[lo:hi]), (sh_b, start_b[lo:hi], len_b[lo:hi]))
        out[lo:hi] = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
        lo = hi
    return out


#: Gathered shingles from which the compiled :func:`set_jaccard` shares the pairs among forked
#: workers, for shingles in a memory-mapped file (about 5 ns per shingle: 16 million take ~80 ms
#: on one core, against forking a process of gigabytes)...
PARALLEL_MIN_SHINGLES_NATIVE = 1 << 24
#: ... and among threads, for shingles in RAM (2 million: ~10 ms on one core, against well
#: under a millisecond to start two threads; the 20,000-article verification gathers 6.6
#: million).
PARALLEL_MIN_SHINGLES_THREADS = 1 << 21

#: Pairs per chunk at most (the pair number takes the top 31 bits of a key).
_MAX_CHUNK_PAIRS = 1 << 30

#: Gathered shingles (both sides) from which :func:`set_jaccard` is worth forking workers for:
#: about 40 ms of work on one core, against a few milliseconds to fork. (The 67,305 exact pairs
#: of the 20,000-article analysis gather 6.6 million; a pair-count threshold of 100,000 kept
#: them on one core.)
PARALLEL_MIN_SHINGLES = 1_000_000


def _jaccard_job(shared: tuple[Any, ...], span: tuple[int, int]) -> np.ndarray:
    sh_a, start_a, len_a, sh_b, start_b, len_b, chunk = shared
    lo, hi = span
    return set_jaccard(sh_a, start_a[lo:hi], len_a[lo:hi], sh_b, start_b[lo:hi], len_b[lo:hi], chunk=chunk)
