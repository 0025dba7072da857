"""LSH banding over MinHash signatures, with vectorized bucket building and lookup.

A band key is a 64-bit hash of the band's ``rows`` signature values. Buckets are runs of equal
keys in a per-band sort, so building is a few ``argsort`` calls and a lookup is a
``searchsorted``; no per-key dict inserts. LSH only proposes candidates: callers verify them.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np

from . import native

if TYPE_CHECKING:  # the compiled kernels load only where the extension was built
    from .kernels import TwinRows
from .parallel import fork_map
from .shingles import sorted_unique

__all__ = [
    "band_key",
    "band_keys",
    "Bands",
    "ArrayBands",
    "BandTable",
    "bucket_pairs",
    "twin_groups",
    "twin_rows",
    "Twins",
    "pair_keys",
    "run_pairs",
    "key_pairs",
    "sorted_unique",
]

_BAND_SALT = np.uint64(0x9E3779B97F4A7C15)
_LANE_MULT = tuple(
    np.uint64(k) for k in (0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53)
)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_S31 = np.uint64(31)
_S29 = np.uint64(29)


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """uint64 key of every band of every ``(n, num_perm)`` signature: shape ``(n, bands)``."""
    sig = np.asarray(sig)
    return band_key(sig[:, : bands * rows].reshape(len(sig), bands, rows), np.arange(bands))


def band_key(values: np.ndarray, band: int | np.ndarray, *, chunk: int = 1 << 20) -> np.ndarray:
    """uint64 key of band number ``band`` from its ``(n, rows)`` uint32 signature values.

    ``values`` may also be ``(n, bands, rows)`` with ``band`` an array of the ``bands`` band
    numbers: then the keys of all those bands, ``(n, bands)``. Works through ``values`` (which
    may be memory-mapped) in chunks of ``chunk`` rows.

    The values are read as 64-bit lanes (two values each; an odd last value alone), the key is
    ``sum(lane_i * K_i) ^ salt(band)`` modulo 2**64 with fixed odd ``K_i``, then a xor-shift
    multiply mix: about half the passes of a polynomial over the values and MurmurHash3's
    finalizer, with the same job done (equal values, equal keys; unequal values share a key's
    top bits, which bucket, with the probability of chance).
    """
    values = values if isinstance(values, np.ndarray) else np.asarray(values)
    n = len(values)
    rows = values.shape[-1] if values.ndim >= 2 else 0
    out = np.empty(values.shape[:-1] if values.ndim >= 2 else (n,), dtype=np.uint64)
    salt = np.asarray(band, dtype=np.uint64) * _BAND_SALT
    pairs = rows // 2
    for lo in range(0, n, chunk):
        cols = np.ascontiguousarray(values[lo : lo + chunk], dtype=np.uint32)
        acc = out[lo : lo + chunk]
        tmp = np.empty_like(acc)
        acc[...] = 0
        if pairs:
            lanes = cols[..., : 2 * pairs].view(np.uint64)
            np.multiply(lanes[..., 0], _LANE_MULT[0], out=acc)
            for i in range(1, pairs):
                np.multiply(lanes[..., i], _LANE_MULT[i % len(_LANE_MULT)], out=tmp)
                acc += tmp
        if rows % 2:
            np.multiply(cols[..., rows - 1], _LANE_MULT[pairs % len(_LANE_MULT)], out=tmp, casting="unsafe")
            acc += tmp
        acc ^= salt
        np.right_shift(acc, _S31, out=tmp)
        acc ^= tmp
        acc *= _MIX1
        np.right_shift(acc, _S29, out=tmp)
        acc ^= tmp
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
    """Sorted ``key top bits | row`` values (distinct, so any sort algorithm gives the same
    order), made in place in ``keys``."""
    keys &= ~np.uint64((1 << bits) - 1)
    keys |= np.arange(len(keys), dtype=np.uint64)
    keys.sort()
    return keys


class BandTable:
    """The sorted packed ``(band, key, row)`` values of a set of signatures, for lookups.

    All bands live in one sorted uint64 array: the band number in the top bits, then the band
    key, then the row in the low ``bits`` bits. A lookup of every band of every query signature
    is then one vectorized binary search, narrowed by a first-level index on the top bits.
    Memory: 8 bytes per signature per band (plus at most 128 MB of index). Keys are
    compared on their remaining ``64 - band bits - bits`` bits: a few extra candidates, which
    callers verify.

    Args:
        sig: the signatures, read band by band.
        ids: the unit id of each signature.
        directory: build the table in a file there (``<prefix>table.u64``) and memory-map it,
            instead of holding it in RAM (a million articles make ~10 GB).
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
        self._shape(sig.bands, sig.rows, ids)
        n, total = self.size, self.bands * self.size
        path = None if directory is None else Path(directory) / f"{prefix}table.u64"
        tmp = None if path is None else path.with_name(path.name + f".{os.getpid()}.tmp")
        workers = workers if n > 1 else 1
        out: np.ndarray | None = None
        shm: mmap.mmap | None = None
        if tmp is not None:
            with open(tmp, "wb") as f:
                f.truncate(total * 8)
        elif workers > 1 and total:
            # shared anonymous memory: the forked workers write their bands in place (no copy of
            # the table through their result pipes)
            shm = mmap.mmap(-1, total * 8)
            out = np.frombuffer(shm, dtype=np.uint64)
        else:
            out = np.empty(total, dtype=np.uint64)
        counts = np.zeros(1 << self.prefix_bits, dtype=np.int64)
        shared = _TableJob(sig, self.bits, self.band_bits, self.prefix_bits, tmp, out)
        for lo, band_counts in fork_map(_table_band, shared, range(self.bands), workers):
            counts[lo : lo + len(band_counts)] += band_counts
        if shm is not None:
            _populate(shm)
        if out is None:
            assert path is not None and tmp is not None
            # a new file replaces the old one atomically: memory maps of an older table stay valid
            os.replace(tmp, path)
            out = np.memmap(path, dtype=np.uint64, mode="r", shape=(total,)) if total else np.empty(0, np.uint64)
        self.table = out
        self.starts = np.zeros((1 << self.prefix_bits) + 1, dtype=np.int64)
        np.cumsum(counts, out=self.starts[1:])

    def _shape(self, bands: int, rows: int, ids: np.ndarray) -> None:
        """The layout, set by the number of bands and of signatures alone."""
        self.bands, self.rows = bands, rows
        self.ids = np.asarray(ids, dtype=np.int64)
        self.size = n = len(self.ids)
        self.bits = max(1, (n - 1).bit_length())
        self.band_bits = max(1, (bands - 1).bit_length())
        # first level: where each value of the top ``prefix_bits`` bits starts (about 16 table
        # entries per slot, at most 2**24 slots = 128 MB), so a lookup searches a few entries
        self.prefix_bits = int(min(24, max(4, (bands * n).bit_length() - 4)))

    @classmethod
    def wrap(cls, table: np.ndarray, starts: np.ndarray, ids: np.ndarray, bands: int, rows: int) -> BandTable:
        """A table built before (its :attr:`table` and :attr:`starts`, say memory-mapped from a
        saved index) for the signatures of units ``ids``. Raises ``ValueError`` when the arrays
        do not have the layout of such a table."""
        self = cls.__new__(cls)
        self._shape(bands, rows, ids)
        if (
            table.ndim != 1 or table.dtype != np.uint64 or len(table) != bands * self.size
            or starts.ndim != 1 or starts.dtype != np.int64 or len(starts) != (1 << self.prefix_bits) + 1
            or starts[0] != 0 or starts[-1] != len(table) or (np.diff(starts) < 0).any()
        ):
            raise ValueError("the arrays are not a lookup table of these signatures")
        self.table, self.starts = table, starts
        return self

    def _query_keys(self, query_sig: np.ndarray) -> np.ndarray:
        """Packed query keys (row bits zero), shape ``(n_query, bands)``."""
        mask = np.uint64((1 << self.bits) - 1)
        top = np.uint64(64 - self.band_bits)
        k = band_keys(np.asarray(query_sig), self.bands, self.rows)
        band = np.arange(self.bands, dtype=np.uint64)
        return (band << top) | ((k >> np.uint64(self.band_bits)) & ~mask)

    def lookup(self, query_sig: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Units sharing at least one band key with each query signature.

        Returns ``(query_row, unit_id)`` arrays (with repeats across bands).
        """
        mask = np.uint64((1 << self.bits) - 1)
        q = self._query_keys(np.asarray(query_sig)).ravel()
        # sorted keys make the binary searches walk the table in order (numpy narrows each
        # search with the previous result): several times fewer cache misses than random order
        order = np.argsort(q, kind="stable")
        q = q[order]
        lo = self._search(q)
        hi = self._search(q | mask, right=True)
        n = hi - lo
        if not n.any():
            return np.empty(0, np.int64), np.empty(0, np.int64)
        qrow = np.repeat(order // self.bands, n)
        offs = np.repeat(lo, n) + _ramp(n)
        return qrow, self.ids[(np.asarray(self.table[offs]) & mask).astype(np.int64)]

    def _search(self, keys: np.ndarray, right: bool = False) -> np.ndarray:
        """``np.searchsorted(self.table, keys, side)`` narrowed by the first-level index."""
        slot = (keys >> np.uint64(64 - self.prefix_bits)).astype(np.int64)
        lo = self.starts[slot]
        hi = self.starts[slot + 1]
        last = max(len(self.table) - 1, 0)
        while True:
            active = lo < hi
            if not active.any():
                return lo
            mid = (lo + hi) // 2
            v = np.asarray(self.table[np.minimum(mid, last)]) if len(self.table) else keys
            go_right = (v <= keys) if right else (v < keys)
            lo = np.where(active & go_right, mid + 1, lo)
            hi = np.where(active & ~go_right, mid, hi)


def _populate(buf: mmap.mmap) -> None:
    """Map every page of ``buf`` into this process now. Pages written by forked workers are not
    in this process's page tables: each would fault on its first read, one query at a time
    (hundreds per query over a 10 GB table). Linux 5.14+; elsewhere the pages fault in as used."""
    advice = getattr(mmap, "MADV_POPULATE_READ", 22 if sys.platform.startswith("linux") else None)
    if advice is None:
        return
    with contextlib.suppress(OSError):  # an older kernel: the pages fault in as they are used
        buf.madvise(advice)


class _TableJob(NamedTuple):
    """What the workers building a :class:`BandTable` share (inherited by fork)."""

    sig: Bands
    bits: int
    band_bits: int
    prefix_bits: int
    path: Path | None  # the table file, or None to write into ``out``
    out: np.ndarray | None


def _table_band(job: _TableJob, j: int) -> tuple[int, np.ndarray]:
    """Sort the packed values of band ``j`` into their place in the table (file or shared
    array); returns ``(first slot, entries per slot from it)`` of the first-level index."""
    n = len(job.sig)
    mask = np.uint64((1 << job.bits) - 1)
    key = (band_key(job.sig.band(j), j) >> np.uint64(job.band_bits)) & ~mask
    packed = (np.uint64(j) << np.uint64(64 - job.band_bits)) | key | np.arange(n, dtype=np.uint64)
    del key
    packed.sort()
    if job.path is not None:
        with open(job.path, "r+b") as f:
            f.seek(j * n * 8)
            packed.tofile(f)
    else:
        assert job.out is not None
        job.out[j * n : (j + 1) * n] = packed
    if not n:
        return 0, np.zeros(0, np.int64)
    packed >>= np.uint64(64 - job.prefix_bits)  # slots, still sorted
    lo = int(packed[0])
    packed -= np.uint64(lo)
    return lo, np.bincount(packed.view(np.int64), minlength=int(packed[-1]) + 1)


def bucket_pairs(
    sig: Bands,
    ids: np.ndarray | None,
    max_bucket: int,
    groups: np.ndarray | None = None,
    workers: int = 1,
    twins: np.ndarray | Twins | None = None,
) -> np.ndarray:
    """Candidate pairs from LSH buckets, as an ``(m, 2)`` array of unit ids (lo, hi).

    The array is int32 when every id fits (half the memory of int64 at a million articles),
    else int64.

    Band keys are computed from ``sig`` one band at a time (nothing per band is kept). Buckets of
    up to ``max_bucket`` units give all their pairs; larger buckets (recurring text such as
    boilerplate) give a star of pairs from their first unit, so a bucket of n units costs n - 1
    pairs rather than n(n - 1)/2. Callers group units transitively, so stars lose no grouping.
    Pairs of units with the same ``groups`` value (e.g. the same document) are dropped. The
    result is sorted and free of repeats; repeats across bands are merged as bands go, so memory
    stays near the size of the result. With ``workers > 1`` the bands are shared out among that
    many forked processes; the result is the same. ``ids=None`` means the row numbers.

    ``twins`` may give a key per row such that rows with equal keys have equal signatures (as
    :func:`dedup.shingles.set_keys` of their shingles does), or :func:`twin_groups` of such keys.
    Such twins share a bucket in every band, so each group of twins is bucketed as one row: the
    pairs inside a group are made once instead of once per band, and only pairs between groups
    are made band by band. (In a news corpus about a quarter of the units are verbatim copies of
    another, and their pairs were most of the keys made and merged.) The result is the same as
    without ``twins``.
    """
    ids = None if ids is None else np.asarray(ids, dtype=np.int64)
    workers = max(1, min(workers, sig.bands)) if len(sig) > 1 else 1
    tw = twin_groups(twins, max_bucket) if isinstance(twins, np.ndarray) else twins
    if len(sig) < 2:
        tw = None
    shared = _BucketJob(sig, ids, max_bucket, groups, tw)
    jobs = [range(w, sig.bands, workers) for w in range(workers)]
    parts = []
    seen_small = seen_lead = None
    for keys, small, lead in fork_map(_bucket_keys, shared, jobs, workers):
        parts.append(keys)
        if small is not None and lead is not None:
            seen_small = small if seen_small is None else seen_small | small
            seen_lead = lead if seen_lead is None else seen_lead | lead
    if tw is not None and seen_small is not None and seen_lead is not None:
        parts.append(_twin_pairs(tw, seen_small, seen_lead, ids, groups))
    del shared, tw, seen_small, seen_lead  # freed before the merge, the step's memory peak
    top = len(sig) - 1 if ids is None else (int(ids.max()) if len(ids) else 0)
    kernels = native.kernels()
    if kernels is not None:  # each part is sorted and unique: one merge writes the pairs
        return kernels.union_pairs(parts, top + 1)
    acc = parts[0]
    if len(parts) > 1:  # each part is sorted and unique: a stable sort merges the runs
        acc = np.concatenate(parts)
        del parts
        acc.sort(kind="stable")
        acc = sorted_unique(acc, presorted=True)
    else:
        del parts
    return key_pairs(acc, top + 1)


class Twins(NamedTuple):
    """Groups of rows with equal keys (see :func:`twin_groups`), numbered in order of their first
    row. Only the groups of two or more rows (``multi``) carry their rows: most groups are one
    row, which is its first (memory: 8-12 bytes per group, plus the copies' rows)."""

    first: np.ndarray  # first (smallest) row of every group, ascending (int32 when rows fit)
    multi_of: np.ndarray  # int32: the index in ``multi`` of every group, -1 for a single row
    multi: np.ndarray  # int64 the groups of two or more rows, ascending
    size: np.ndarray  # int64 rows of each of ``multi``
    start: np.ndarray  # int64 offset of the rows of each of ``multi`` in ``rows``
    rows: np.ndarray  # the rows of ``multi``, group after group, ascending within a group
    small: np.ndarray  # bool, whether each of ``multi`` has at most ``max_bucket`` rows


def twin_groups(keys: np.ndarray, max_bucket: int) -> Twins | None:
    """Rows grouped by equal ``keys``; ``None`` when every key is distinct."""
    keys = np.asarray(keys)
    n = len(keys)
    if n < 2:
        return None
    kernels = native.kernels()
    if kernels is not None and keys.dtype == np.uint64:
        return _twin_groups_hashed(kernels, keys, max_bucket)
    order = np.argsort(keys)  # not stable (several times faster): rows are ordered below
    ks = keys[order]
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(ks[1:], ks[:-1], out=new[1:])
    del ks
    run = np.flatnonzero(new)  # where each key's rows start in ``order``
    del new
    if len(run) == n:
        return None
    firsts = np.minimum.reduceat(order, run)  # the smallest row of each key
    # number the groups in order of their first row
    rank = np.argsort(firsts)
    number = np.empty(len(run), dtype=np.int64)
    number[rank] = np.arange(len(run), dtype=np.int64)
    first = firsts[rank].astype(np.int32 if n < 2**31 else np.int64)
    del firsts, rank
    length = np.diff(run, append=n)
    many = np.flatnonzero(length >= 2)
    # the rows of groups of two or more, by group number, ascending within a group
    z = length[many]
    packed = np.repeat(number[many] * n, z)
    packed += order[np.repeat(run[many], z) + _ramp(z)]
    del order
    packed.sort()
    multi = np.sort(number[many])
    size = z[np.argsort(number[many])]
    start = np.cumsum(size) - size
    rows = (packed % n).astype(first.dtype)
    del packed
    multi_of = np.full(len(run), -1, dtype=np.int32 if len(multi) < 2**31 else np.int64)
    multi_of[multi] = np.arange(len(multi))
    return Twins(first, multi_of, multi, size, start, rows, size <= max_bucket)


def _twin_groups_hashed(kernels: Any, keys: np.ndarray, max_bucket: int) -> Twins | None:
    """:func:`twin_groups` from one pass of a compiled hash table over the rows (no sort): the
    groups come numbered in order of their first row, and a second pass places the rows of the
    groups of two or more, in row order."""
    n = len(keys)
    group, firsts, count = kernels.key_groups(keys)
    if len(firsts) == n:
        return None
    first = firsts.astype(np.int32 if n < 2**31 else np.int64)
    multi = np.flatnonzero(count >= 2)
    size = count[multi]
    start = np.cumsum(size) - size
    multi_of = np.full(len(firsts), -1, dtype=np.int32 if len(multi) < 2**31 else np.int64)
    multi_of[multi] = np.arange(len(multi))
    # rows of the groups of two or more, group after group, ascending within a group: a stable
    # sort of those rows by group keeps their row order
    in_multi = np.flatnonzero(multi_of[group] >= 0)
    rows = in_multi[np.argsort(group[in_multi], kind="stable")].astype(first.dtype)
    return Twins(first, multi_of, multi, size, start, rows, size <= max_bucket)


def twin_rows(tw: Twins, n: int) -> np.ndarray:
    """The first row of the twin group of every row ``0 .. n - 1`` (itself for a single row)."""
    rep = np.arange(n, dtype=tw.first.dtype)
    rep[tw.rows] = np.repeat(tw.first[tw.multi], tw.size)
    return rep


def _twin_sizes(tw: Twins, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of each group ``g``; whether it is one of ``tw.multi``, and its index there (-1 if not)."""
    idx = tw.multi_of[g]
    is_multi = idx >= 0
    n_rows = np.ones(len(g), dtype=np.int64)
    n_rows[is_multi] = tw.size[idx[is_multi]]
    return n_rows, is_multi, idx


class _BucketJob(NamedTuple):
    """What the workers of :func:`bucket_pairs` share (inherited by fork)."""

    sig: Bands
    ids: np.ndarray | None
    max_bucket: int
    groups: np.ndarray | None
    twins: Twins | None


def key_pairs(keys: np.ndarray, n: int) -> np.ndarray:
    """``(m, 2)`` (lo, hi) rows of ``lo << 32 | hi`` keys of ids below ``n``: int32 when they fit
    (half the memory of int64), filled in place (no full-size temporaries)."""
    out = np.empty((len(keys), 2), dtype=np.int32 if n <= 2**31 else np.int64)
    np.right_shift(keys, 32, out=out[:, 0], casting="unsafe")
    np.bitwise_and(keys, 0xFFFFFFFF, out=out[:, 1], casting="unsafe")
    return out


def _bucket_keys(job: _BucketJob, bands: Iterable[int]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Sorted unique ``lo << 32 | hi`` candidate keys from the given bands.

    With twins, the pairs inside twin groups are left out, and two flags per group say what
    they would have been: whether the group was in a bucket of at most ``max_bucket`` rows in
    one of these bands (all its inner pairs), and whether it led a larger bucket (the star from
    its first row to its other rows).
    """
    sig, ids, max_bucket, groups, tw = job
    out: list[np.ndarray] = []
    acc = np.empty(0, dtype=np.int64)
    pending = 0
    n = len(sig)
    # Keys that differ only in the low bits used for the row share a bucket: a few more
    # candidates, which verification removes.
    bits = max(1, (n - 1).bit_length())
    mask = np.uint64((1 << bits) - 1)
    seen_small = seen_lead = None
    if tw is not None:
        seen_small = np.zeros(len(tw.multi), dtype=bool)
        seen_lead = np.zeros(len(tw.multi), dtype=bool)
    kernels = native.kernels()
    # the twin groups checked once for the kernel that pairs their rows in every band
    table = None
    if kernels is not None and tw is not None:
        table = kernels.TwinRows(tw.first, tw.multi_of, tw.start, tw.size, tw.rows, ids, groups)
    for j in bands:
        if kernels is not None:  # the keys of the rows wanted only, packed, in one pass
            rows = np.arange(n) if tw is None else tw.first  # one row per twin group, by group
            arrays, units = _band_arrays(sig, j)
            sel = rows if units is None else units[rows]
            packed = kernels.band_pack(kernels.Chunks(arrays, "band_pack"), j, sel, bits)
            packed.sort()
        else:
            keys = band_key(sig.band(j), j)
            if tw is not None:
                keys = keys[tw.first]  # one row per twin group, numbered by group
            packed = _pack(keys, bits)
            del keys
        # a bucket continues where the key (the bits above the row) does not change
        same = packed[1:] ^ packed[:-1]
        same >>= np.uint64(bits)
        cont = same == 0
        del same
        packed &= mask
        u = packed.view(np.int64)
        # runs of True in cont are buckets of two or more: starts and sizes
        edges = np.diff(cont.view(np.int8), prepend=np.int8(0), append=np.int8(0))
        del cont
        starts = np.flatnonzero(edges == 1)
        sizes = np.flatnonzero(edges == -1) - starts + 1
        del edges
        if tw is None:
            out += _bucket_run_pairs(u if ids is None else ids[u], starts, sizes, max_bucket, groups)
        else:
            assert seen_small is not None and seen_lead is not None
            out += _twin_bucket_pairs(tw, u, starts, sizes, max_bucket, ids, groups, seen_small, seen_lead, table)
        del packed, u
        pending += sum(len(o) for o in out)
        if pending > max(len(acc), 1 << 22):
            acc = _merge(acc, out)
            out, pending = [], 0
    return _merge(acc, out), seen_small, seen_lead


def _band_arrays(sig: Bands, j: int) -> tuple[list[np.ndarray], np.ndarray | None]:
    """Band ``j`` as arrays a kernel reads in place, with the row of each of ``sig``'s units
    (None: the same numbers): the batches of a band in RAM as they were appended (nothing
    merged), else the band read whole."""
    chunked = getattr(sig, "band_chunks", None)
    got = chunked(j) if chunked is not None else None
    if got is None:
        return [np.ascontiguousarray(sig.band(j), dtype=np.uint32)], None
    return got


def _bucket_run_pairs(
    u: np.ndarray, starts: np.ndarray, sizes: np.ndarray, max_bucket: int, groups: np.ndarray | None
) -> list[np.ndarray]:
    """Pair keys of the buckets ``u[starts[i] : starts[i] + sizes[i]]``: all pairs of a bucket of
    up to ``max_bucket`` units, a star from the first unit of a larger one."""
    if not len(starts):
        return []
    out = []
    big = sizes > max_bucket
    if big.any():
        bs, bz = starts[big], sizes[big]
        first = np.repeat(u[bs], bz - 1)
        other = u[np.repeat(bs + 1, bz - 1) + _ramp(bz - 1)]
        out.append(pair_keys(first, other, groups))
        starts, sizes = starts[~big], sizes[~big]
    return out + run_pairs(u, starts, sizes, groups)


def _twin_bucket_pairs(
    tw: Twins,
    g: np.ndarray,
    starts: np.ndarray,
    sizes: np.ndarray,
    max_bucket: int,
    ids: np.ndarray | None,
    groups: np.ndarray | None,
    seen_small: np.ndarray,
    seen_lead: np.ndarray,
    table: TwinRows | None = None,
) -> list[np.ndarray]:
    """Pair keys of one band's buckets over twin groups (``g``: the groups in bucket order;
    ``starts``, ``sizes``: its runs of two or more groups), for rows of different groups: what
    :func:`_bucket_run_pairs` makes over the rows, less the pairs inside a group, which
    ``seen_small`` and ``seen_lead`` (flags of ``tw.multi``) record instead; they are updated
    in place. ``table``: ``tw``, ``ids`` and ``groups`` as a :class:`dedup.kernels.TwinRows`,
    for the kernel that pairs the rows of the runs' groups in one pass (None: numpy)."""
    out: list[np.ndarray] = []
    in_run = np.zeros(len(tw.multi), dtype=bool)
    run_total = np.zeros(0, dtype=np.int64)
    if len(starts):
        first_pos = np.repeat(starts, sizes)
        in_runs = g[first_pos + _ramp(sizes)]  # the groups of the runs, run after run
        rows, is_multi, m = _twin_sizes(tw, in_runs)
        run_total = np.add.reduceat(rows, np.cumsum(sizes) - sizes)
        # the groups of two or more rows inside runs: their bucket is the run, not themselves
        m = m[is_multi]
        total = np.repeat(run_total, sizes)[is_multi]
        leads = (in_runs == g[first_pos])[is_multi]
        del first_pos, in_runs, rows, is_multi
        in_run[m] = True
        seen_small[m[total <= max_bucket]] = True
        seen_lead[m[(total > max_bucket) & leads]] = True
    # a group alone in its bucket: the bucket is the group itself
    alone = ~in_run
    seen_small |= alone & tw.small
    seen_lead |= alone & ~tw.small
    big = run_total > max_bucket
    if big.any():
        # star from the first row of the leading group to every row of the run's other groups
        bs, bz = starts[big], sizes[big]
        others = g[np.repeat(bs + 1, bz - 1) + _ramp(bz - 1)]
        rows, n_rows = _group_rows(tw, others)
        lead = np.repeat(np.repeat(tw.first[g[bs]], bz - 1), n_rows)
        out.append(_row_pair_keys(lead, rows, ids, groups))
    if table is not None:  # every row of each group with every row of its run's later groups
        out.append(table.pairs(g, starts[~big], sizes[~big]))
        return out
    pairs = _run_index_pairs(g, starts[~big], sizes[~big])
    if pairs:
        ga = np.concatenate([p[0] for p in pairs])
        gb = np.concatenate([p[1] for p in pairs])
        del pairs
        out.append(_cross_pairs(tw, ga, gb, ids, groups))
    return out


def _group_rows(tw: Twins, gs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All rows of the groups ``gs``, group after group, and the number of rows of each."""
    n_rows, is_multi, m = _twin_sizes(tw, gs)
    out = np.empty(int(n_rows.sum()), dtype=tw.first.dtype)
    at = np.cumsum(n_rows) - n_rows
    out[at[~is_multi]] = tw.first[gs[~is_multi]]
    if is_multi.any():
        m, z = m[is_multi], n_rows[is_multi]
        step = _ramp(z)
        out[np.repeat(at[is_multi], z) + step] = tw.rows[np.repeat(tw.start[m], z) + step]
    return out, n_rows


def _cross_pairs(
    tw: Twins, ga: np.ndarray, gb: np.ndarray, ids: np.ndarray | None, groups: np.ndarray | None
) -> np.ndarray:
    """Pair keys of every row of group ``ga[i]`` with every row of group ``gb[i]``."""
    _, ma, _ = _twin_sizes(tw, ga)
    _, mb, _ = _twin_sizes(tw, gb)
    single = ~(ma | mb)
    a = tw.first[ga[single]]
    b = tw.first[gb[single]]
    multi = np.flatnonzero(~single)
    if len(multi):
        ra, sa = _group_rows(tw, ga[multi])
        rb, sb = _group_rows(tw, gb[multi])
        # every row of a's group with every row of b's group, pair after pair
        cnt = sa * sb
        k = _ramp(cnt)
        wb = np.repeat(sb, cnt)
        a_at = np.repeat(np.cumsum(sa) - sa, cnt) + k // wb
        b_at = np.repeat(np.cumsum(sb) - sb, cnt) + k % wb
        a = np.concatenate([a, ra[a_at]])
        b = np.concatenate([b, rb[b_at]])
    return _row_pair_keys(a, b, ids, groups)


def _row_pair_keys(a: np.ndarray, b: np.ndarray, ids: np.ndarray | None, groups: np.ndarray | None) -> np.ndarray:
    """:func:`pair_keys` of rows ``a``, ``b`` (mapped to ``ids`` when given)."""
    if ids is not None:
        a, b = ids[a], ids[b]
    return pair_keys(a, b, groups)


def _run_index_pairs(u: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The value pairs ``(u[i], u[j])``, ``i < j``, inside each run ``u[starts[k] : starts[k] +
    sizes[k]]``: runs are taken one size at a time (so temporaries stay small), found with one
    stable sort of the sizes (a radix sort for sizes below 65,536) rather than a pass over all
    runs per size."""
    if not len(sizes):
        return []
    small = int(sizes.max()) < 1 << 16
    by_size = np.argsort(sizes.astype(np.uint16) if small else sizes, kind="stable")
    starts, sizes = starts[by_size], sizes[by_size]
    cuts = np.flatnonzero(np.diff(sizes, prepend=-1, append=-1)).tolist()
    out = []
    for c0, c1 in zip(cuts[:-1], cuts[1:]):
        st = starts[c0:c1]
        ia, ib = np.triu_indices(int(sizes[c0]), 1)
        out.append((u[st[:, None] + ia[None, :]].ravel(), u[st[:, None] + ib[None, :]].ravel()))
    return out


def _twin_pairs(
    tw: Twins, seen_small: np.ndarray, seen_lead: np.ndarray, ids: np.ndarray | None, groups: np.ndarray | None
) -> np.ndarray:
    """Sorted unique keys of the pairs inside twin groups (flags of ``tw.multi``): all of them for
    a group that was in a bucket of at most ``max_bucket`` rows in some band; for one that only
    led larger buckets, the star from its first row."""
    parts = [np.empty(0, dtype=np.int64)]
    every = np.flatnonzero(seen_small)
    parts += run_pairs(tw.rows, tw.start[every], tw.size[every], groups, ids)
    star = np.flatnonzero(~seen_small & seen_lead)
    if len(star):
        rest = tw.size[star] - 1
        a = np.repeat(tw.first[tw.multi[star]], rest)
        b = tw.rows[np.repeat(tw.start[star] + 1, rest) + _ramp(rest)]
        parts.append(_row_pair_keys(a, b, ids, groups))
    keys = np.concatenate(parts)
    keys.sort()
    return sorted_unique(keys, presorted=True)


def run_pairs(
    u: np.ndarray,
    starts: np.ndarray,
    sizes: np.ndarray,
    groups: np.ndarray | None = None,
    ids: np.ndarray | None = None,
) -> list[np.ndarray]:
    """:func:`pair_keys` of all pairs inside each run ``u[starts[i] : starts[i] + sizes[i]]``
    (of ``ids[u[...]]`` when ``ids`` is given), unsorted.

    With the compiled kernels, one pass over the runs writes every key. Otherwise runs are
    taken one size at a time (so temporaries stay small), found with one stable sort of the
    sizes (a radix sort for sizes below 65,536) rather than a pass over all runs per size.
    """
    kernels = native.kernels()
    if kernels is not None:
        return [kernels.run_pairs(u, starts, sizes, groups, ids)] if len(sizes) else []
    return [_row_pair_keys(a, b, ids, groups) for a, b in _run_index_pairs(u, starts, sizes)]


def pair_keys(a: np.ndarray, b: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """``lo << 32 | hi`` int64 keys of unit pairs, pairs inside one group dropped."""
    if groups is not None:
        keep = groups[a] != groups[b]
        a, b = a[keep], b[keep]
    lo = np.minimum(a, b).astype(np.int64, copy=False)
    lo <<= 32
    lo |= np.maximum(a, b)
    return lo


def _merge(acc: np.ndarray, new: list[np.ndarray]) -> np.ndarray:
    """Sorted unique union of ``acc`` (sorted, unique) and the arrays in ``new``.

    The new keys are sorted and made unique on their own, then merged into ``acc`` by a stable
    sort, which finds the two sorted runs and merges them in one pass: 1.5-1.6x faster than
    sorting everything again once ``acc`` is large (30 + 10 million keys).
    """
    if not new:
        return acc
    x = np.concatenate(new)
    x.sort()  # in place: the concatenation is ours
    x = sorted_unique(x, presorted=True)
    if not len(acc):
        return x
    x = np.concatenate([acc, x])
    x.sort(kind="stable")  # two sorted runs: merged, not sorted again
    return sorted_unique(x, presorted=True)


def _ramp(counts: np.ndarray) -> np.ndarray:
    """``[0..c0-1, 0..c1-1, ...]`` for an array of counts."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)
