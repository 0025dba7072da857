"""Hand batches of texts and numpy arrays between processes through files in RAM.

:meth:`dedup.Index.add_many` with several workers sends every batch of texts to a worker and
gets its features back: about 10 MB out and 40 MB back per 2,000 articles. Through the process
pool's pipe (64 KB at a time, pickled on one side and unpickled on the other) that cost the
parent process about 2 s of CPU per 20,000 articles, on a machine whose two cores the workers
already keep busy. Instead each side writes one file into a private directory on a RAM-backed
file system (``/dev/shm`` where there is one with room, else the temporary directory, whose files
the page cache holds while they live) and sends only its
name; the reader reads it in one call and deletes it. :class:`HandoffDir` removes the directory,
and whatever is left in it, when the batch work ends, also after an error.

These files are private scratch space of one call, never stored or exchanged: the format is
the fixed layout below, written and read by the same code in the same run.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import shutil
import tempfile
from collections.abc import Collection
from pathlib import Path

import numpy as np

__all__ = ["HandoffDir", "write_texts", "read_texts", "write_arrays", "read_arrays"]

_ALIGN = 64  # byte alignment of every array in a handoff file

#: name, dtype string, shape, byte offset of each array in a handoff file
Layout = list[tuple[str, str, tuple[int, ...], int]]


#: Free bytes /dev/shm must have to be used (containers often give it only 64 MB; a few batches
#: in flight take a few hundred MB). Otherwise the temporary directory is used.
MIN_RAM_FREE = 1 << 30


def _free_bytes(path: str | Path) -> int:
    """Bytes free for this user on the file system of ``path`` (0 when it cannot be asked)."""
    try:
        st = os.statvfs(path)
    except (OSError, AttributeError):
        return 0
    return st.f_bavail * st.f_frsize


def _ram_dir() -> str | None:
    """``/dev/shm`` when it is writable with :data:`MIN_RAM_FREE` free bytes, else ``None``."""
    if _free_bytes("/dev/shm") >= MIN_RAM_FREE and os.access("/dev/shm", os.W_OK):
        return "/dev/shm"
    return None


class HandoffDir:
    """A private scratch directory in RAM for one batch job; removed with its contents on exit."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="dedup-handoff-", dir=_ram_dir()))
        self._n = 0

    def new_file(self) -> Path:
        """A fresh file name in the directory."""
        self._n += 1
        return self.path / f"{self._n:08d}.bin"

    def has_room(self, need: int = MIN_RAM_FREE) -> bool:
        """Whether the file system of the directory has ``need`` bytes free."""
        return _free_bytes(self.path) >= need

    def close(self) -> None:
        """Remove the directory and whatever is left in it."""
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> HandoffDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_texts(path: Path, blobs: list[bytes]) -> list[int]:
    """Write UTF-8 ``blobs`` end to end into ``path``; returns their lengths in bytes."""
    with open(path, "wb") as fh:
        fh.write(b"".join(blobs))
    return [len(b) for b in blobs]


def read_texts(path: Path, lengths: list[int]) -> list[str]:
    """The texts written by :func:`write_texts` (the file is deleted)."""
    try:
        data = Path(path).read_bytes()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    out = []
    pos = 0
    for n in lengths:
        out.append(data[pos : pos + n].decode("utf-8", "surrogatepass"))
        pos += n
    return out


def write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> Layout:
    """Write ``arrays`` into one file (each at a 64-byte aligned offset); returns the layout."""
    layout: Layout = []
    pos = 0
    with open(path, "wb") as fh:
        for name, a in arrays.items():
            a = np.ascontiguousarray(a)
            pad = -pos % _ALIGN
            if pad:
                fh.write(b"\0" * pad)
                pos += pad
            layout.append((name, a.dtype.str, a.shape, pos))
            fh.write(a.data)
            pos += a.nbytes
    return layout


def read_arrays(path: Path, layout: Layout, mapped: Collection[str] = ()) -> dict[str, np.ndarray]:
    """The arrays written by :func:`write_arrays` (the file is deleted).

    Each array is read into its own allocation: a caller may keep some (the index keeps unit
    columns in RAM) and drop others (signatures written to its files) without the kept ones
    pinning one buffer of the whole batch. At a million articles that pinning held every batch,
    ~45 MB each, in RAM.

    The arrays named in ``mapped`` are instead read-only views of a memory map of the file
    (which lives on until they are dropped): for arrays the caller only passes on, such as
    signatures written straight to an index's files, this saves reading them into the process
    (24 s of the parent's CPU at a million articles). They hold their space in the file (on
    ``/dev/shm``) as long as they live, and so does whatever lies before them in it: write them
    first (the file is cut after the last of them), and keep them only while there is room
    (:meth:`HandoffDir.has_room`).
    """
    out = {}
    kept_end = 0  # end of the last mapped array: the file is cut there once the rest is read
    try:
        with open(path, "r+b" if mapped else "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            # One map of the file: an array is copied out of it (about twice as fast as reading
            # it with numpy.fromfile) or, when named in ``mapped``, is a view of it.
            view = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else None
            for name, dtype, shape, offset in layout:
                dt = np.dtype(dtype)
                count = int(np.prod(shape, dtype=np.int64))
                if offset + count * dt.itemsize > size:
                    raise OSError(f"handoff file {path} is truncated at array {name!r}")
                if not count or view is None:
                    out[name] = np.empty(shape, dtype=dt)
                    continue
                a = np.frombuffer(view, dtype=dt, count=count, offset=offset).reshape(shape)
                if name in mapped:
                    out[name] = a
                    kept_end = max(kept_end, offset + count * dt.itemsize)
                else:
                    out[name] = a.copy()
            if kept_end and kept_end < size:
                # the pages past the kept arrays go back to the file system now, not when the
                # kept arrays are dropped (the file is unlinked below; its map outlives it)
                os.ftruncate(fh.fileno(), kept_end)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return out
