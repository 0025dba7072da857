"""LSH banding over MinHash signatures, with vectorized bucket building and lookup.

A band key is a 64-bit hash of the band's ``rows`` signature values. Buckets are runs of equal
keys in a per-band sort, so building is a few ``argsort`` calls and a lookup is a
``searchsorted``; no per-key dict inserts. LSH only proposes candidates: callers verify them.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .shingles import fmix64

__all__ = ["band_key", "band_keys", "Bands", "ArrayBands", "BandTable", "bucket_pairs", "sorted_unique"]

_P = np.uint64(0x100000001B3)


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """uint64 key of every band of every ``(n, num_perm)`` signature: shape ``(n, bands)``."""
    sig = np.asarray(sig)
    out = np.empty((len(sig), bands), dtype=np.uint64)
    for j in range(bands):
        out[:, j] = band_key(sig[:, j * rows : (j + 1) * rows], j)
    return out


def band_key(values: np.ndarray, band: int, *, chunk: int = 1 << 20) -> np.ndarray:
    """uint64 key of band number ``band`` from its ``(n, rows)`` signature values.

    Works through ``values`` (which may be memory-mapped) in chunks of ``chunk`` rows.
    """
    n = len(values)
    rows = values.shape[1] if values.ndim == 2 else 0
    out = np.empty(n, dtype=np.uint64)
    salt = np.uint64(band) << np.uint64(56)
    for lo in range(0, n, chunk):
        cols = np.asarray(values[lo : lo + chunk])
        acc = np.zeros(len(cols), dtype=np.uint64)
        for j in range(rows):
            acc *= _P
            acc += cols[:, j]
        acc ^= salt
        out[lo : lo + chunk] = fmix64(acc)
    return out


class Bands(Protocol):
    """Signatures readable one LSH band at a time (see :class:`dedup.columns.SignatureView`)."""

    bands: int
    rows: int

    def __len__(self) -> int: ...

    def band(self, j: int) -> np.ndarray: ...


class ArrayBands:
    """:class:`Bands` over an in-memory ``(n, num_perm)`` signature array."""

    def __init__(self, sig: np.ndarray, bands: int, rows: int) -> None:
        self.sig, self.bands, self.rows = np.asarray(sig), bands, rows

    def __len__(self) -> int:
        return len(self.sig)

    def band(self, j: int) -> np.ndarray:
        return self.sig[:, j * self.rows : (j + 1) * self.rows]


def _pack(keys: np.ndarray, bits: int) -> np.ndarray:
    """Sorted ``key top bits | row`` values (distinct, so any sort algorithm gives the same order)."""
    mask = np.uint64((1 << bits) - 1)
    packed = (keys & ~mask) | np.arange(len(keys), dtype=np.uint64)
    packed.sort()
    return packed


class BandTable:
    """Per band, the sorted packed ``(key, row)`` values of a set of signatures, for lookups.

    Memory: 8 bytes per signature per band. Keys are compared on their top ``64 - bits`` bits
    (``bits`` addresses the rows): a few extra candidates, which callers verify.

    Args:
        sig: the signatures, read band by band.
        ids: the unit id of each signature.
        directory: write each band's sorted keys to a file there (``<prefix>NNN.u64``) and
            memory-map it, instead of holding them in RAM (a million articles make ~10 GB).
        prefix: file name prefix in ``directory``.
        workers: forked processes that share out the bands while building.
    """

    def __init__(
        self,
        sig: Bands,
        ids: np.ndarray,
        *,
        directory: Path | None = None,
        prefix: str = "lsh-",
        workers: int = 1,
    ) -> None:
        self.bands, self.rows = sig.bands, sig.rows
        self.size = len(ids)
        self.bits = max(1, (self.size - 1).bit_length())
        self.ids = np.asarray(ids, dtype=np.int64)
        paths = [None if directory is None else Path(directory) / f"{prefix}{j:03d}.u64" for j in range(self.bands)]
        jobs = list(zip(range(self.bands), paths))
        workers = min(workers, self.bands)
        if workers > 1 and self.size > 1 and "fork" in mp.get_all_start_methods():
            _SHARED["table"] = (sig, self.bits)
            try:
                with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
                    built = list(pool.map(_table_job, jobs))
            finally:
                _SHARED.clear()
        else:
            built = [_table_band(sig, self.bits, j, path) for j, path in jobs]
        self.packed = [
            b
            if isinstance(b, np.ndarray)
            else (np.memmap(b, dtype=np.uint64, mode="r", shape=(self.size,)) if self.size else np.empty(0, np.uint64))
            for b in built
        ]

    def lookup(self, query_sig: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Units sharing at least one band key with each query signature.

        Returns ``(query_row, unit_id)`` arrays (with repeats across bands).
        """
        rows_out = []
        ids_out = []
        mask = np.uint64((1 << self.bits) - 1)
        for j in range(self.bands):
            k = self.packed[j]
            q = band_key(query_sig[:, j * self.rows : (j + 1) * self.rows], j) & ~mask
            lo = np.searchsorted(k, q, side="left")
            hi = np.searchsorted(k, q | mask, side="right")
            n = hi - lo
            if not n.any():
                continue
            qrow = np.repeat(np.arange(len(q)), n)
            offs = np.repeat(lo, n) + _ramp(n)
            rows_out.append(qrow)
            ids_out.append(self.ids[(k[offs] & mask).astype(np.int64)])
        if not rows_out:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(rows_out), np.concatenate(ids_out)


def _table_band(sig: Bands, bits: int, j: int, path: Path | None) -> np.ndarray | Path:
    packed = _pack(band_key(sig.band(j), j), bits)
    if path is None:
        return packed
    # a new file replaces the old one atomically: memory maps of an older table stay valid
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    packed.tofile(tmp)
    os.replace(tmp, path)
    return path


def _table_job(job: tuple[int, Path | None]) -> np.ndarray | Path:
    sig, bits = _SHARED["table"]
    return _table_band(sig, bits, job[0], job[1])


def bucket_pairs(
    sig: Bands,
    ids: np.ndarray,
    max_bucket: int,
    groups: np.ndarray | None = None,
    workers: int = 1,
) -> np.ndarray:
    """Candidate pairs from LSH buckets, as an ``(m, 2)`` int64 array of unit ids (lo, hi).

    Band keys are computed from ``sig`` one band at a time (nothing per band is kept). Buckets of
    up to ``max_bucket`` units give all their pairs; larger buckets (recurring text such as
    boilerplate) give a star of pairs from their first unit, so a bucket of n units costs n - 1
    pairs rather than n(n - 1)/2. Callers group units transitively, so stars lose no grouping.
    Pairs of units with the same ``groups`` value (e.g. the same document) are dropped. The
    result is sorted and free of repeats; repeats across bands are merged as bands go, so memory
    stays near the size of the result. With ``workers > 1`` the bands are shared out among that
    many forked processes; the result is the same.
    """
    ids = np.asarray(ids, dtype=np.int64)
    workers = min(workers, sig.bands)
    if workers > 1 and len(ids) > 1 and "fork" in mp.get_all_start_methods():
        _SHARED["job"] = (sig, ids, max_bucket, groups)
        try:
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
                parts = list(pool.map(_bucket_job, [list(range(w, sig.bands, workers)) for w in range(workers)]))
        finally:
            _SHARED.clear()
        acc = _merge(np.empty(0, dtype=np.int64), parts)
    else:
        acc = _bucket_keys(sig, ids, range(sig.bands), max_bucket, groups)
    return np.stack([acc >> 32, acc & 0xFFFFFFFF], axis=1)


_SHARED: dict[str, Any] = {}


def _bucket_job(bands: list[int]) -> np.ndarray:
    sig, ids, max_bucket, groups = _SHARED["job"]
    return _bucket_keys(sig, ids, bands, max_bucket, groups)


def _bucket_keys(
    sig: Bands, ids: np.ndarray, bands: Iterable[int], max_bucket: int, groups: np.ndarray | None
) -> np.ndarray:
    """Sorted unique ``lo << 32 | hi`` candidate keys from the given bands."""
    out: list[np.ndarray] = []
    acc = np.empty(0, dtype=np.int64)
    pending = 0
    n = len(ids)
    # Keys that differ only in the low bits used for the row share a bucket: a few more
    # candidates, which verification removes.
    bits = max(1, (n - 1).bit_length())
    mask = np.uint64((1 << bits) - 1)
    for j in bands:
        packed = _pack(band_key(sig.band(j), j), bits)
        k = packed >> np.uint64(bits)
        u = ids[(packed & mask).astype(np.int64)]
        change = np.flatnonzero(k[1:] != k[:-1]) + 1
        starts = np.concatenate([[0], change])
        sizes = np.diff(np.concatenate([starts, [len(k)]]))
        multi = sizes >= 2
        starts, sizes = starts[multi], sizes[multi]
        if not len(starts):
            continue
        big = sizes > max_bucket
        if big.any():
            bs, bz = starts[big], sizes[big]
            first = np.repeat(u[bs], bz - 1)
            other = u[np.repeat(bs + 1, bz - 1) + _ramp(bz - 1)]
            out.append(_pair_keys(first, other, groups))
        for s in np.unique(sizes[~big]).tolist():
            st = starts[sizes == s]
            ia, ib = np.triu_indices(s, 1)
            a = u[st[:, None] + ia[None, :]].ravel()
            b = u[st[:, None] + ib[None, :]].ravel()
            out.append(_pair_keys(a, b, groups))
        pending += sum(len(o) for o in out)
        if pending > max(len(acc), 1 << 22):
            acc = _merge(acc, out)
            out, pending = [], 0
    return _merge(acc, out)


def _pair_keys(a: np.ndarray, b: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """``lo << 32 | hi`` keys of unit pairs, pairs inside one group dropped."""
    if groups is not None:
        keep = groups[a] != groups[b]
        a, b = a[keep], b[keep]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return lo << 32 | hi


def _merge(acc: np.ndarray, new: list[np.ndarray]) -> np.ndarray:
    """Sorted unique union of ``acc`` and the arrays in ``new``."""
    return sorted_unique(np.concatenate([acc, *new])) if new else acc


def sorted_unique(x: np.ndarray) -> np.ndarray:
    """``np.unique`` for 1-D integer arrays by sorting (faster than numpy's hash-based unique here)."""
    x = np.sort(x)
    if len(x) < 2:
        return x
    keep = np.empty(len(x), dtype=bool)
    keep[0] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    return x[keep]


def _ramp(counts: np.ndarray) -> np.ndarray:
    """``[0..c0-1, 0..c1-1, ...]`` for an array of counts."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)
