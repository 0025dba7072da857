"""LSH banding over MinHash signatures, with vectorized bucket building and lookup.

A band key is a 64-bit hash of the band's ``rows`` signature values. Buckets are runs of equal
keys in a per-band sort, so building is a few ``argsort`` calls and a lookup is a
``searchsorted``; no per-key dict inserts. LSH only proposes candidates: callers verify them.
"""

from __future__ import annotations

import numpy as np

from .shingles import fmix64

__all__ = ["band_keys", "BandTable", "bucket_pairs"]

_P = np.uint64(0x100000001B3)


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """uint64 key of every band of every signature: shape ``(len(sig), bands)``."""
    sig = np.asarray(sig)
    n = len(sig)
    cols = sig[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    acc = np.zeros((n, bands), dtype=np.uint64)
    for j in range(rows):
        acc *= _P
        acc += cols[:, :, j]
    acc ^= np.arange(bands, dtype=np.uint64)[None, :] << np.uint64(56)
    return fmix64(acc)


class BandTable:
    """Sorted band keys of a set of units, for lookups.

    Args:
        keys: ``(n, bands)`` uint64 band keys.
        ids: the unit id of each row of ``keys``.
    """

    def __init__(self, keys: np.ndarray, ids: np.ndarray) -> None:
        self.bands = keys.shape[1]
        order = np.argsort(keys, axis=0, kind="stable")
        self.keys = np.take_along_axis(keys, order, axis=0).T.copy()  # (bands, n)
        self.ids = np.asarray(ids)[order].T.copy()
        self.size = len(ids)

    def lookup(self, query_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Units sharing at least one band key with each query row.

        Returns ``(query_row, unit_id)`` arrays (with repeats across bands).
        """
        rows_out = []
        ids_out = []
        for j in range(self.bands):
            k = self.keys[j]
            q = query_keys[:, j]
            lo = np.searchsorted(k, q, side="left")
            hi = np.searchsorted(k, q, side="right")
            n = hi - lo
            if not n.any():
                continue
            qrow = np.repeat(np.arange(len(q)), n)
            offs = np.repeat(lo - np.concatenate([[0], np.cumsum(n)[:-1]]), n) + np.arange(int(n.sum()))
            rows_out.append(qrow)
            ids_out.append(self.ids[j][offs])
        if not rows_out:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(rows_out), np.concatenate(ids_out)


def bucket_pairs(keys: np.ndarray, ids: np.ndarray, max_bucket: int) -> np.ndarray:
    """Candidate pairs from LSH buckets, as an ``(m, 2)`` int64 array of unit ids (lo, hi).

    Buckets of up to ``max_bucket`` units give all their pairs; larger buckets (recurring text
    such as boilerplate) give a star of pairs from their first unit, so a bucket of n units
    costs n - 1 pairs rather than n(n - 1)/2. Callers group units transitively, so stars lose
    no grouping. Pairs may repeat across bands.
    """
    out = []
    ids = np.asarray(ids, dtype=np.int64)
    n = len(ids)
    # Sort each band by (key, position) packed in one uint64: the top bits of the key, the row
    # position below them. Keys that differ only in the dropped low bits share a bucket: a few
    # more candidates, which verification removes. The packed values are distinct, so the
    # result does not depend on the sort algorithm.
    bits = max(1, (n - 1).bit_length())
    mask = np.uint64((1 << bits) - 1)
    pos = np.arange(n, dtype=np.uint64)
    for j in range(keys.shape[1]):
        packed = (keys[:, j] & ~mask) | pos
        packed.sort()
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
            out.append(np.stack([first, other], axis=1))
        for s in np.unique(sizes[~big]).tolist():
            st = starts[sizes == s]
            ia, ib = np.triu_indices(s, 1)
            a = u[st[:, None] + ia[None, :]].ravel()
            b = u[st[:, None] + ib[None, :]].ravel()
            out.append(np.stack([a, b], axis=1))
    if not out:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.concatenate(out)
    return np.sort(pairs, axis=1)


def _ramp(counts: np.ndarray) -> np.ndarray:
    """``[0..c0-1, 0..c1-1, ...]`` for an array of counts."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)
