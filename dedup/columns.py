"""Append-only columns of an index, kept in RAM or in files of a work directory.

An index grows batch by batch. In RAM a column is a list of chunks, concatenated once when it is
read. Given a directory, every chunk is appended to one file per column instead, and the column
is read back as a read-only memory map: the operating system's page cache, not the process,
holds it. That is how the signatures, shingle hashes and texts of a million articles (tens of
GB) cost the process almost no RAM of its own.

Signatures are stored band by band (:class:`SignatureStore`): LSH needs one band of every unit
at a time, and verification compares signatures band by band, so on disk every pass reads one
file sequentially and holds one band in memory.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import numpy as np

from . import native
from .parallel import fork_map, threads_preferred

__all__ = ["Column", "SignatureStore", "band_major", "SignatureView", "TextStore"]


class Column:
    """A growing 1-D (``width == 0``) or 2-D ``(n, width)`` array of one dtype.

    Args:
        dtype: element type.
        width: columns per row, or 0 for a 1-D column.
        path: file to append to (created or truncated); ``None`` keeps the column in RAM.
    """

    def __init__(self, dtype: np.dtype | type, width: int = 0, path: Path | None = None) -> None:
        self.dtype = np.dtype(dtype)
        self.width = width
        self.path = path
        self._n = 0
        self._chunks: list[np.ndarray] = []
        self._fh: BinaryIO | None = None
        self._map: np.ndarray | None = None
        if path is not None:
            self._fh = open(path, "wb")  # noqa: SIM115 - closed in close()

    @classmethod
    def wrap(cls, array: np.ndarray) -> Column:
        """A RAM column holding ``array`` (for example a memory map of a saved index)."""
        col = cls(array.dtype, array.shape[1] if array.ndim == 2 else 0)
        col._chunks = [array]
        col._n = len(array)
        return col

    def __len__(self) -> int:
        return self._n

    @property
    def on_disk(self) -> bool:
        return self.path is not None

    @property
    def mapped(self) -> bool:
        """Whether the rows live in a file (this column's, or a loaded index's memory map)."""
        return self.on_disk or any(isinstance(c, np.memmap) for c in self._chunks)

    def _shape(self, n: int) -> tuple[int, ...]:
        return (n, self.width) if self.width else (n,)

    def append(self, a: np.ndarray) -> None:
        """Append rows (converted to the column's dtype)."""
        a = np.ascontiguousarray(a, dtype=self.dtype)
        if a.shape[1:] != self._shape(0)[1:]:
            raise ValueError(f"rows of shape {a.shape[1:]} do not fit a column of shape {self._shape(0)[1:]}")
        if not len(a):
            return
        if self._fh is not None:
            self._fh.write(a.reshape(-1).view(np.uint8).data)  # the array's own buffer: no copy
            self._map = None
        else:
            self._chunks.append(a)
        self._n += len(a)

    def array(self) -> np.ndarray:
        """The whole column: one array in RAM, or a read-only memory map of the file."""
        if self._fh is not None:
            if self._map is None:
                self._fh.flush()
                if self._n == 0:
                    self._map = np.empty(self._shape(0), dtype=self.dtype)
                else:
                    assert self.path is not None
                    self._map = np.memmap(self.path, dtype=self.dtype, mode="r", shape=self._shape(self._n))
            return self._map
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0] if self._chunks else np.empty(self._shape(0), dtype=self.dtype)

    def chunks(self) -> list[np.ndarray]:
        """The column as the arrays it was appended in (nothing merged); one array where there
        are none (a column in a file: its memory map; an empty column: an empty array)."""
        return list(self._chunks) or [self.array()]

    def read(self, rows: np.ndarray | None = None) -> np.ndarray:
        """A copy in RAM of the column (or of ``rows`` of it), read sequentially from a file."""
        if self._fh is not None and self.path is not None and rows is None and self._n:
            self._fh.flush()
            return np.fromfile(self.path, dtype=self.dtype, count=self._n * max(self.width, 1)).reshape(
                self._shape(self._n)
            )
        a = self.array()
        return np.asarray(a if rows is None else a[rows])

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            self._map = None
            assert self.path is not None
            with contextlib.suppress(OSError):
                os.unlink(self.path)


_PREFETCH_STEP = 8 << 20  # bytes per posix_fadvise call


def prefetch(arrays: Iterable[np.ndarray], max_fraction: float = 0.25) -> int:
    """Ask the kernel to read the files behind memory-mapped ``arrays`` into the page cache, in
    the background, so that their first use does not wait on the disk page by page.

    Arrays in RAM are skipped, and nothing is asked when the mapped bytes exceed ``max_fraction``
    of physical memory (default a quarter: the cache is the kernel's to share). Returns the bytes
    asked for (0 where ``posix_fadvise`` does not exist).
    """
    spans = [(a.filename, a.offset, a.nbytes) for a in arrays if isinstance(a, np.memmap) and a.filename and a.nbytes]
    total = sum(n for _, _, n in spans)
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0
    if not spans or not hasattr(os, "posix_fadvise") or total > max_fraction * ram:
        return 0

    def advise() -> None:
        # in steps: the kernel reads ahead at most a few tens of MB per call
        for name, offset, n in spans:
            with contextlib.suppress(OSError):
                fd = os.open(name, os.O_RDONLY)
                try:
                    for at in range(offset, offset + n, _PREFETCH_STEP):
                        os.posix_fadvise(fd, at, min(_PREFETCH_STEP, offset + n - at), os.POSIX_FADV_WILLNEED)
                finally:
                    os.close(fd)

    threading.Thread(target=advise, name="dedup-prefetch", daemon=True).start()
    return total


def band_major(sig: np.ndarray, bands: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """``(n, num_perm)`` signatures as a contiguous ``(bands, n, rows)`` array, and the
    ``(n, num_perm - bands * rows)`` values past the bands (see :meth:`SignatureStore.append_banded`)."""
    n = len(sig)
    # one transposing copy into band-major order, then every band is a contiguous block
    # (1.3x faster than a strided copy per band, measured on 80,000 signatures)
    banded = np.ascontiguousarray(sig[:, : bands * rows].reshape(n, bands, rows).transpose(1, 0, 2))
    return banded, sig[:, bands * rows :]


class SignatureStore:
    """MinHash signatures, one :class:`Column` of ``(n, rows)`` uint32 per LSH band.

    Permutations beyond ``bands * rows`` (when the banding does not use them all) form one more
    column, so every signature value is kept and estimates use all ``num_perm`` of them.

    Args:
        num_perm, bands, rows: the signature length and LSH banding.
        directory: where band files are written; ``None`` keeps them in RAM.
    """

    def __init__(self, num_perm: int, bands: int, rows: int, directory: Path | None = None) -> None:
        self.num_perm, self.bands, self.rows = num_perm, bands, rows
        widths = [rows] * bands
        if num_perm > bands * rows:
            widths.append(num_perm - bands * rows)
        self.widths = widths
        self.parts = [
            Column(np.uint32, w, None if directory is None else Path(directory) / f"sig-{j:03d}.u32")
            for j, w in enumerate(widths)
        ]

    @classmethod
    def wrap(cls, num_perm: int, bands: int, rows: int, parts: list[np.ndarray]) -> SignatureStore:
        """A store over existing per-band arrays (for example memory maps of a saved index)."""
        store = cls(num_perm, bands, rows)
        if [p.shape[1] if p.ndim == 2 else -1 for p in parts] != store.widths:
            raise ValueError("band arrays do not match the banding")
        store.parts = [Column.wrap(p) for p in parts]
        return store

    def __len__(self) -> int:
        return len(self.parts[0])

    @property
    def on_disk(self) -> bool:
        """Whether the bands are written to files (rather than kept in RAM)."""
        return bool(self.parts) and self.parts[0].on_disk

    @property
    def mapped(self) -> bool:
        """Whether the signatures live in files (the index's, or a loaded index's memory maps)."""
        return any(col.mapped for col in self.parts)

    def append(self, sig: np.ndarray) -> None:
        """Append ``(n, num_perm)`` signatures."""
        self.append_banded(*band_major(sig, self.bands, self.rows))

    def append_banded(self, banded: np.ndarray, rest: np.ndarray) -> None:
        """Append signatures given as :func:`band_major` returns them."""
        for j in range(self.bands):
            self.parts[j].append(banded[j])
        if len(self.parts) > self.bands:
            self.parts[self.bands].append(rest)

    def band(self, j: int, units: np.ndarray | None = None) -> np.ndarray:
        """Values of band ``j`` (``(n, rows)``) of every unit, or of ``units``, in RAM."""
        return self.parts[j].read(units)

    def band_chunks(self, j: int) -> list[np.ndarray] | None:
        """Band ``j`` as the arrays its batches were appended in, nothing merged (a band in RAM),
        or None (a band in a file: :meth:`band` reads it)."""
        col = self.parts[j]
        return None if col.on_disk else col.chunks()

    def take(self, units: np.ndarray) -> np.ndarray:
        """Whole ``(len(units), num_perm)`` signatures of ``units``."""
        units = np.asarray(units, dtype=np.int64)
        if not len(self.parts):
            return np.empty((len(units), 0), dtype=np.uint32)
        return np.concatenate([np.asarray(c.array()[units]) for c in self.parts], axis=1)

    def equal_counts(self, a: np.ndarray, b: np.ndarray, *, workers: int = 1) -> np.ndarray:
        """Number of equal signature values of unit pairs ``(a[i], b[i])`` (int32).

        Band by band. With the compiled kernels, one pass over the pairs per band compares their
        rows where the band's batches lie in RAM (:func:`dedup.kernels.equal_counts`; nothing
        merged: an index's first analysis skips copying its signatures into whole columns).
        Without, each band's rows are gathered as single opaque ``rows * 4``-byte items
        (``np.take`` on a void view, several times faster than 2-D fancy indexing), compared,
        and the equal columns added up. With ``workers > 1`` forked processes (or threads, see
        :func:`dedup.parallel.prefer_threads`) share out the bands (for large batches of pairs);
        the counts are the same.
        """
        a = _as_index(a)  # int32 pairs stay int32: no copies of the (many) candidate ids
        b = _as_index(b)
        parts = range(len(self.parts))
        least = PARALLEL_MIN_PAIRS_THREADS if threads_preferred() else PARALLEL_MIN_PAIRS
        workers = 1 if len(a) < least else max(1, min(workers, len(parts)))
        if native.kernels() is None:
            self.consolidate(workers)  # before forking: workers then share one copy
        out = np.zeros(len(a), dtype=np.int32)
        for counts in fork_map(_counts_job, (self, a, b), [parts[w::workers] for w in range(workers)], workers):
            out += counts
        return out

    def _counts(self, a: np.ndarray, b: np.ndarray, parts: Iterable[int], chunk: int = 1 << 20) -> np.ndarray:
        out = np.zeros(len(a), dtype=np.int32)
        if not len(a):
            return out
        kernels = native.kernels()
        for j in parts:
            col = self.parts[j]
            if kernels is not None:
                chunks = kernels.Chunks([col.read()] if col.on_disk else col.chunks(), "equal_counts")
                kernels.equal_counts(chunks, a, b, out)
                continue
            vals = np.ascontiguousarray(col.read() if col.on_disk else col.array())
            w = vals.shape[1]
            items = vals.view(np.dtype(f"V{4 * w}")).reshape(-1)
            for lo in range(0, len(a), chunk):
                x = np.take(items, a[lo : lo + chunk]).view(np.uint32).reshape(-1, w)
                y = np.take(items, b[lo : lo + chunk]).view(np.uint32).reshape(-1, w)
                eq = x == y
                acc = out[lo : lo + chunk]
                if w % 4 == 0:
                    # four equality bytes (0 or 1) per uint32: times 0x01010101, their sum is the
                    # top byte (one pass instead of one strided pass per column)
                    four = eq.view(np.uint32)
                    for k in range(w // 4):
                        s = four[:, k] * np.uint32(0x01010101)
                        s >>= np.uint32(24)
                        acc += s.view(np.int32)
                else:
                    for k in range(w):
                        acc += eq[:, k]
            del vals, items
        return out

    def consolidate(self, workers: int = 1) -> None:
        """Merge RAM chunks now (before forking workers, so they share one copy).

        With ``workers > 1`` that many threads share the columns: numpy copies without holding
        the GIL (0.15 -> 0.075 s for the 400 MB of a 20,000-article index).
        """
        if workers > 1 and len(self.parts) > 1:
            with ThreadPoolExecutor(min(workers, len(self.parts))) as pool:
                list(pool.map(Column.array, self.parts))
        else:
            for col in self.parts:
                col.array()

    def close(self) -> None:
        for col in self.parts:
            col.close()


def _as_index(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return x if x.dtype in (np.int32, np.int64) else x.astype(np.int64)


#: Pairs from which :meth:`SignatureStore.equal_counts` is worth forking workers for.
PARALLEL_MIN_PAIRS = 200_000
#: ... and worth threads for (see :func:`dedup.parallel.prefer_threads`): no fork to pay for.
PARALLEL_MIN_PAIRS_THREADS = 1 << 15


def _counts_job(shared: tuple[SignatureStore, np.ndarray, np.ndarray], parts: Iterable[int]) -> np.ndarray:
    store, a, b = shared
    return store._counts(a, b, parts)


class SignatureView:
    """The signatures of a subset of units, renumbered ``0 .. len(units) - 1``."""

    def __init__(self, store: SignatureStore, units: np.ndarray | None = None, workers: int = 1) -> None:
        self.store = store
        self.workers = workers
        self.units = None if units is None else np.asarray(units, dtype=np.int64)
        self.bands, self.rows, self.num_perm = store.bands, store.rows, store.num_perm

    def __len__(self) -> int:
        return len(self.store) if self.units is None else len(self.units)

    def band(self, j: int) -> np.ndarray:
        return self.store.band(j, self.units)

    def band_chunks(self, j: int) -> tuple[list[np.ndarray], np.ndarray | None] | None:
        """:meth:`SignatureStore.band_chunks` of the store, with the store's row of each local unit
        (None: the same numbers); None for a band in a file."""
        chunks = self.store.band_chunks(j)
        return None if chunks is None else (chunks, self.units)

    def estimate(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """MinHash Jaccard estimate (share of equal values) of pairs of local unit numbers."""
        if self.units is not None:
            a, b = self.units[a], self.units[b]
        est = self.store.equal_counts(a, b, workers=self.workers).astype(np.float32)
        est /= np.float32(self.num_perm)  # in float32: no float64 temporary (the same values)
        return est


class TextStore:
    """Document texts as UTF-8 bytes: a list in RAM, or one file with byte offsets.

    Args:
        path: file to append texts to; ``None`` keeps them in RAM.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._list: list[bytes] | None = None if path is not None else []
        self._blob = Column(np.uint8, 0, path) if path is not None else None
        self._offsets: list[int] = [0]
        # a saved file mapped read-only (texts 0 .. n - 1), ``_list`` then holds texts added after
        self._mapped: tuple[np.ndarray, np.ndarray] | None = None
        self._cleared: set[int] = set()

    @classmethod
    def wrap(cls, texts: list[bytes]) -> TextStore:
        store = cls()
        store._list = texts
        return store

    @classmethod
    def mapped(cls, path: Path, offsets: np.ndarray) -> TextStore:
        """The texts of a saved file, memory-mapped: ``offsets`` (``n + 1`` byte offsets) delimit
        them. Nothing is read until a text is asked for; texts added later are kept in RAM."""
        store = cls()
        size = int(offsets[-1]) if len(offsets) else 0
        blob = np.memmap(path, dtype=np.uint8, mode="r", shape=(size,)) if size else np.empty(0, np.uint8)
        store._mapped = (blob, np.asarray(offsets, dtype=np.int64))
        return store

    def _n_mapped(self) -> int:
        return 0 if self._mapped is None else len(self._mapped[1]) - 1

    def __len__(self) -> int:
        if self._list is not None:
            return self._n_mapped() + len(self._list)
        return len(self._offsets) - 1

    def extend(self, texts: Iterable[bytes]) -> None:
        texts = list(texts)
        if self._list is not None:
            self._list.extend(texts)
            return
        assert self._blob is not None
        for t in texts:
            self._offsets.append(self._offsets[-1] + len(t))
        if texts:
            self._blob.append(np.frombuffer(b"".join(texts), dtype=np.uint8))

    def get(self, d: int) -> bytes:
        if self._mapped is not None and d < self._n_mapped():
            if d in self._cleared:
                return b""
            blob, offsets = self._mapped
            return blob[offsets[d] : offsets[d + 1]].tobytes()
        if self._list is not None:
            return self._list[d - self._n_mapped()]
        assert self._blob is not None
        return self._blob.array()[self._offsets[d] : self._offsets[d + 1]].tobytes()

    def clear(self, d: int) -> None:
        """Forget the text of a removed document (frees RAM; a file keeps its bytes)."""
        if d < self._n_mapped():
            self._cleared.add(d)
        elif self._list is not None:
            self._list[d - self._n_mapped()] = b""

    def close(self) -> None:
        if self._blob is not None:
            self._blob.close()
