from __future__ import annotations

import json
import os

import numpy as np
import pytest

from dedup import ConfigMismatchError, CorruptIndexError, FormatVersionError, Index, InvalidParameterError
from dedup.errors import IndexFormatError


def _build(seeds) -> Index:
    idx = Index()
    for k, t in seeds.items():
        idx.add(k, t, outlet=f"outlet-{k}", tags=["a", 1])
    return idx


def _summary(idx: Index, text: str):
    pairs = [(p.a, p.b, p.score, p.paragraphs) for p in idx.pairs()]
    q = [(m.doc_id, m.score, m.paragraphs) for m in idx.query(text)]
    return pairs, q, [c.doc_ids for c in idx.clusters()], idx.boilerplate()


def test_round_trip_identical_results(tmp_path, seeds):
    idx = _build(seeds)
    out = idx.save(tmp_path / "ix")
    loaded = Index.load(out)
    assert len(loaded) == len(idx) and list(loaded) == list(idx)
    assert loaded.config == idx.config
    assert loaded.metadata("000") == {"outlet": "outlet-000", "tags": ["a", 1]}
    assert loaded.text("002") == seeds["002"]
    assert _summary(loaded, seeds["001"]) == _summary(idx, seeds["001"])
    # the loaded index stays usable: add, remove, save again
    loaded.add("new", seeds["000"] + "\n\nA fresh closing paragraph about something else entirely.")
    loaded.remove("003")
    loaded.save(out)
    again = Index.load(out, mmap=False)
    assert "new" in again and "003" not in again and len(again) == 5
    assert sorted(os.listdir(out)) == ["CURRENT", "v-000002"]


def test_removed_documents_are_not_saved(tmp_path, seeds):
    idx = _build(seeds)
    idx.remove("004")
    idx.save(tmp_path / "ix")
    blob = b"".join(p.read_bytes() for p in (tmp_path / "ix").rglob("*") if p.is_file())
    assert b"Centre for Defense Strategies" not in blob
    loaded = Index.load(tmp_path / "ix")
    assert _summary(loaded, seeds["000"]) == _summary(idx, seeds["000"])
    assert list(loaded.pairs()) == list(idx.pairs())


def _current(path):
    return path / (path / "CURRENT").read_text().strip()


def test_truncated_file_is_refused(tmp_path, seeds):
    out = _build(seeds).save(tmp_path / "ix")
    f = _current(out) / "sig-000.npy"
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptIndexError, match="truncated"):
        Index.load(out)


def test_bit_flip_is_refused(tmp_path, seeds):
    out = _build(seeds).save(tmp_path / "ix")
    f = _current(out) / "texts.bin"
    data = bytearray(f.read_bytes())
    data[100] ^= 0x01
    f.write_bytes(bytes(data))
    with pytest.raises(CorruptIndexError, match="checksum"):
        Index.load(out)


def test_other_format_version_is_refused(tmp_path, seeds):
    out = _build(seeds).save(tmp_path / "ix")
    m = _current(out) / "manifest.json"
    manifest = json.loads(m.read_text())
    manifest["format_version"] = 99
    m.write_text(json.dumps(manifest))
    with pytest.raises(FormatVersionError, match="99"):
        Index.load(out)


def test_not_an_index(tmp_path):
    (tmp_path / "junk").mkdir()
    with pytest.raises(CorruptIndexError):
        Index.load(tmp_path / "junk")
    with pytest.raises(IndexFormatError):
        Index.load(tmp_path / "missing")
    (tmp_path / "junk" / "file.txt").write_text("mine")
    with pytest.raises(InvalidParameterError, match="not a dedup index"):
        Index().save(tmp_path / "junk")


def test_crash_during_save_leaves_previous_index(tmp_path, seeds, monkeypatch):
    idx = _build(seeds)
    out = idx.save(tmp_path / "ix")
    before = _summary(Index.load(out), seeds["000"])
    idx.add("extra", seeds["003"] + "\n\nMore words to make it different from the original one.")
    import dedup.storage as storage

    real = storage._write_file

    def boom(path, data):
        if path.name == "manifest.json":
            raise OSError("disk full")
        real(path, data)

    monkeypatch.setattr(storage, "_write_file", boom)
    with pytest.raises(OSError):
        idx.save(out)
    monkeypatch.setattr(storage, "_write_file", real)
    assert _summary(Index.load(out), seeds["000"]) == before
    idx.save(out)  # the next save cleans the stale temporary directory
    assert "extra" in Index.load(out)
    assert not list(out.glob("*.tmp"))


def test_no_pickle_and_mmap(tmp_path, seeds):
    out = _build(seeds).save(tmp_path / "ix")
    for f in _current(out).glob("*.npy"):
        np.load(f, allow_pickle=False)  # raises if anything was pickled
    loaded = Index.load(out)
    assert isinstance(loaded._sigs.parts[0].array(), np.memmap)


def test_merge_requires_same_config(tmp_path, seeds):
    a = _build(seeds)
    b = Index(threshold=0.7)
    b.add("z", seeds["000"])
    with pytest.raises(ConfigMismatchError, match="threshold"):
        a.merge(b)
    c = Index()
    c.add("z", seeds["000"])
    a.merge(Index.load(c.save(tmp_path / "c")))
    assert "z" in a and any({p.a, p.b} == {"000", "z"} for p in a.pairs())


def test_unserializable_metadata(tmp_path):
    idx = Index()
    idx.add("a", "some words in a row here", obj=object())
    with pytest.raises(InvalidParameterError, match="JSON"):
        idx.save(tmp_path / "ix")
