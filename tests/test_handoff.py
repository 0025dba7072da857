"""Batches handed to and from worker processes through files in RAM (dedup.handoff)."""

from __future__ import annotations

import glob
import os
import random
import tempfile
from pathlib import Path

import numpy as np
import pytest

from dedup import EmptyDocumentError, Index
from dedup.handoff import HandoffDir, read_arrays, read_texts, write_arrays, write_texts


def _scratch_dirs() -> set[str]:
    return {p for base in ("/dev/shm", tempfile.gettempdir()) for p in glob.glob(os.path.join(base, "dedup-handoff-*"))}


def _root(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def test_arrays_round_trip_with_their_dtypes_and_shapes_and_the_file_is_deleted(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arrays = {
        "u8": rng.integers(0, 255, 7, dtype=np.uint8),
        "i64": rng.integers(-(2**40), 2**40, 13, dtype=np.int64),
        "u32_2d": rng.integers(0, 2**32, (5, 3), dtype=np.uint32),
        "f32": rng.random(3, dtype=np.float32),
        "empty": np.empty((0, 128), dtype=np.uint32),
        "bands": rng.integers(0, 2**32, (4, 6, 2), dtype=np.uint32),
        "strided": np.arange(20, dtype=np.int32)[::3],
    }
    path = tmp_path / "a.bin"
    layout = write_arrays(path, arrays)
    assert all(offset % 64 == 0 for _, _, _, offset in layout)
    back = read_arrays(path, layout)
    assert not path.exists()
    assert list(back) == list(arrays)
    for name, a in arrays.items():
        assert back[name].dtype == a.dtype and back[name].shape == a.shape
        assert np.array_equal(back[name], a)
    # every array has its own memory: keeping one does not keep the others alive
    roots = [_root(a) for a in back.values()]
    assert len({id(r) for r in roots}) == len(roots)
    assert all(r.nbytes == a.nbytes for r, a in zip(roots, back.values()))


def test_texts_round_trip_including_non_ascii_and_lone_surrogates(tmp_path: Path) -> None:
    texts = ["plain", "", "‘quoted’ — Ünïcödé 文字 😀", "lone \ud800 surrogate"]
    blobs = [t.encode("utf-8", "surrogatepass") for t in texts]
    path = tmp_path / "t.bin"
    lengths = write_texts(path, blobs)
    assert lengths == [len(b) for b in blobs]
    assert read_texts(path, lengths) == texts
    assert not path.exists()


def test_scratch_directory_is_removed_with_its_files_even_after_an_error() -> None:
    with pytest.raises(RuntimeError), HandoffDir() as scratch:
        f = scratch.new_file()
        write_texts(f, [b"left behind"])
        assert scratch.new_file() != f
        raise RuntimeError("boom")
    assert not scratch.path.exists()


def make_text(rng: random.Random, paragraphs: int = 4, words: int = 30) -> str:
    return "\n\n".join(
        " ".join(f"w{rng.randrange(3000)}" for _ in range(words)).capitalize() + "." for _ in range(paragraphs)
    )


def test_scratch_falls_back_to_the_temporary_directory_when_dev_shm_is_small(monkeypatch) -> None:
    import dedup.handoff as handoff

    monkeypatch.setattr(handoff, "MIN_RAM_FREE", 1 << 62)
    with HandoffDir() as scratch:
        assert scratch.path.parent == Path(tempfile.gettempdir()).resolve() or scratch.path.parent == Path(
            tempfile.gettempdir()
        )
    assert not scratch.path.exists()


def test_add_many_with_workers_leaves_no_scratch_and_keeps_texts() -> None:
    rng = random.Random(3)
    before = _scratch_dirs()
    texts = [make_text(rng) + " ‘Ünïcödé’ \ud800 end" for _ in range(9)]
    one, two = Index(), Index()
    one.add_many([(f"d{i}", t) for i, t in enumerate(texts)], batch_size=2)
    two.add_many([(f"d{i}", t) for i, t in enumerate(texts)], batch_size=2, workers=2)
    assert [two.text(f"d{i}") for i in range(9)] == texts
    assert np.array_equal(one._signatures(), two._signatures())
    assert list(one.pairs(threshold=0.3)) == list(two.pairs(threshold=0.3))
    with pytest.raises(EmptyDocumentError):
        two.add_many([("x", make_text(rng)), ("y", make_text(rng)), ("z", " ")], batch_size=1, workers=2)
    assert "x" in two and "y" in two and "z" not in two
    assert _scratch_dirs() == before


def test_columns_kept_in_ram_do_not_pin_the_batch_they_came_with(tmp_path: Path) -> None:
    """With the index on disk, signatures go to files; the unit columns kept in RAM must not
    hold the whole handed-off batch (signatures included) alive."""
    rng = random.Random(4)
    with Index(directory=tmp_path) as idx:
        idx.add_many([(f"d{i}", make_text(rng)) for i in range(12)], batch_size=3, workers=2)
        for chunks in idx._chunks.values():
            for c in chunks:
                assert _root(c).nbytes == c.nbytes


def test_mapped_arrays_are_views_of_the_deleted_file_and_the_others_are_copies(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    arrays = {
        "sig_bands": rng.integers(0, 2**32, (4, 6, 2), dtype=np.uint32),
        "sig_rest": np.empty((6, 0), dtype=np.uint32),
        "unit_doc": rng.integers(0, 9, 6, dtype=np.int32),
    }
    path = tmp_path / "m.bin"
    layout = write_arrays(path, arrays)
    back = read_arrays(path, layout, mapped=("sig_bands", "sig_rest"))
    assert not path.exists()
    for name, a in arrays.items():
        assert back[name].dtype == a.dtype and back[name].shape == a.shape
        assert np.array_equal(back[name], a)
    assert not back["sig_bands"].flags.writeable  # a view of the (read-only) mapping
    assert back["unit_doc"].flags.writeable and _root(back["unit_doc"]).nbytes == back["unit_doc"].nbytes
    # a truncated file is an error, for mapped arrays too
    layout = write_arrays(path, arrays)
    with open(path, "r+b") as fh:
        fh.truncate(64)
    with pytest.raises(OSError, match="truncated"):
        read_arrays(path, layout, mapped=("sig_bands",))


def test_the_file_is_cut_after_the_mapped_arrays_and_they_stay_intact(tmp_path: Path) -> None:
    """Arrays mapped from a handoff file keep only their own part of the file alive: the file is
    cut after the last of them (written first), and what follows was copied out before."""
    rng = np.random.default_rng(2)
    arrays = {
        "sig_bands": rng.integers(0, 2**32, (4, 3000, 2), dtype=np.uint32),
        "unit_doc": rng.integers(0, 9, 50_000, dtype=np.int32),
    }
    path = tmp_path / "cut.bin"
    layout = write_arrays(path, arrays)
    sizes = []
    real_truncate = os.ftruncate

    def spy(fd: int, length: int) -> None:
        sizes.append(length)
        real_truncate(fd, length)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "ftruncate", spy)
        back = read_arrays(path, layout, mapped=("sig_bands",))
        assert sizes == [arrays["sig_bands"].nbytes]
        copied = read_arrays(path_copy := tmp_path / "c.bin", write_arrays(path_copy, arrays))
        assert sizes == [arrays["sig_bands"].nbytes]  # nothing mapped: nothing cut
    for name, a in arrays.items():
        assert np.array_equal(back[name], a) and np.array_equal(copied[name], a)


def test_an_index_in_ram_keeps_mapped_signatures_only_while_there_is_room(monkeypatch) -> None:
    """With workers, an index in RAM maps each batch's signatures from the handoff file while
    the directory has room, and reads them in otherwise: the same signatures either way, and
    merged into one writable array in RAM when used."""
    from dedup.handoff import HandoffDir

    rng = random.Random(6)
    recs = [(f"d{i}", make_text(rng)) for i in range(15)]
    one = Index()
    one.add_many(recs, batch_size=4)
    for room in (True, False):
        monkeypatch.setattr(HandoffDir, "has_room", lambda self, need=0, room=room: room)
        two = Index()
        two.add_many(recs, batch_size=4, workers=2)
        chunks = two._sigs.parts[0]._chunks
        assert len(chunks) == 4 and all(c.flags.writeable != room for c in chunks)
        assert np.array_equal(one._signatures(), two._signatures())
        merged = two._sigs.parts[0].array()
        assert merged.flags.writeable and len(two._sigs.parts[0]._chunks) == 1


def test_on_disk_index_with_workers_stores_the_same_signatures(tmp_path: Path) -> None:
    """Signatures mapped from the handoff files reach the index's band files intact."""
    rng = random.Random(5)
    before = _scratch_dirs()
    recs = [(f"d{i}", make_text(rng)) for i in range(15)]
    ram = Index()
    ram.add_many(recs, batch_size=4)
    with Index(directory=tmp_path) as disk:
        disk.add_many(recs, batch_size=4, workers=2)
        assert np.array_equal(ram._signatures(), disk._signatures())
        assert list(ram.pairs(threshold=0.3)) == list(disk.pairs(threshold=0.3))
    assert _scratch_dirs() == before


def test_scratch_space_checks_free_bytes(tmp_path: Path, monkeypatch) -> None:
    """/dev/shm is used only with MIN_RAM_FREE bytes free; a directory whose file system cannot
    be asked has no room (signatures are then read in, not kept mapped)."""
    import dedup.handoff as handoff

    assert handoff._free_bytes(tmp_path / "missing") == 0
    scratch = handoff.HandoffDir()
    try:
        assert scratch.has_room(0)
        assert not scratch.has_room(1 << 62)
        scratch.close()
        assert not scratch.has_room(1)  # removed: cannot be asked, so no room
    finally:
        scratch.close()
    monkeypatch.setattr(handoff, "_free_bytes", lambda path: handoff.MIN_RAM_FREE - 1)
    assert handoff._ram_dir() is None
    monkeypatch.setattr(handoff, "_free_bytes", lambda path: handoff.MIN_RAM_FREE)
    assert handoff._ram_dir() == ("/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
