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
    for verify in (True, False):  # sizes are checked either way
        with pytest.raises(CorruptIndexError, match="truncated"):
            Index.load(out, verify=verify)


def test_bit_flip_is_refused(tmp_path, seeds):
    out = _build(seeds).save(tmp_path / "ix")
    f = _current(out) / "texts.bin"
    data = bytearray(f.read_bytes())
    data[100] ^= 0x01
    f.write_bytes(bytes(data))
    with pytest.raises(CorruptIndexError, match="checksum"):
        Index.load(out)
    # verify=False trusts the contents (sizes and structure are still checked): the flip shows
    loaded = Index.load(out, verify=False)
    assert loaded.text("000") != seeds["000"] and len(loaded) == len(seeds)
    with pytest.raises(InvalidParameterError):
        Index.load(out, verify="no")  # type: ignore[arg-type]


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


# ---------------------------------------------------------------- the saved analysis


def _synth_index(n: int = 200, seed: int = 7) -> Index:
    from dedup.synth import SynthConfig, generate

    idx = Index()
    idx.add_many((r["id"], r["text"]) for r in generate(SynthConfig(n_articles=n, seed=seed)))
    return idx


def _everything(idx: Index, text: str):
    t = idx.pair_table(include_boilerplate=True)
    # documents by id: a saved index drops removed documents, so its positions differ
    cols = {c: [t.doc_ids[i] for i in getattr(t, c).tolist()] for c in ("a", "b")}
    cols |= {c: getattr(t, c).tolist() for c in ("score", "a_start", "b_end", "similarity", "boilerplate")}
    return cols, list(idx.pairs()), _summary(idx, text), idx.boilerplate_spans(list(idx)[3])


def _no_analysis(monkeypatch):
    import dedup.index

    def refuse(**kw):
        raise AssertionError("the corpus was analysed again")

    monkeypatch.setattr(dedup.index, "analyze", refuse)


def test_analysis_is_saved_and_reused(tmp_path, monkeypatch):
    idx = _synth_index()
    idx.remove(list(idx)[10])  # compaction renumbers units and documents: the analysis must follow
    idx.remove(list(idx)[50])
    probe = idx.text(list(idx)[20])
    want = _everything(idx, probe)
    assert want[0]["a"] and any(want[0]["boilerplate"]) and idx.boilerplate()
    out = idx.save(tmp_path / "ix")
    manifest = json.loads((_current(out) / "manifest.json").read_text())
    assert manifest["analysis"]["threshold"] == idx.config.threshold
    assert "analysis.pairs.npy" in manifest["files"]
    _no_analysis(monkeypatch)
    for mmap in (True, False):
        loaded = Index.load(out, mmap=mmap)
        assert _everything(loaded, probe) == want
    # a change invalidates the loaded analysis: the next call analyses again
    loaded.remove(list(loaded)[0])
    with pytest.raises(AssertionError, match="analysed again"):
        loaded.pair_table()


def test_analysis_not_saved_unless_computed(tmp_path, monkeypatch, seeds):
    idx = _build(seeds)
    out = idx.save(tmp_path / "ix")
    manifest = json.loads((_current(out) / "manifest.json").read_text())
    assert "analysis" not in manifest and not any(f.startswith("analysis.") for f in manifest["files"])
    want = _summary(idx, seeds["001"])
    assert _summary(Index.load(out), seeds["001"]) == want  # analysed after loading
    # analyze=True computes it before saving
    fresh = _build(seeds)
    out2 = fresh.save(tmp_path / "ix2", analyze=True)
    assert "analysis" in json.loads((_current(out2) / "manifest.json").read_text())
    _no_analysis(monkeypatch)
    assert _summary(Index.load(out2), seeds["001"]) == want
    with pytest.raises(InvalidParameterError):
        fresh.save(tmp_path / "ix3", analyze="yes")  # type: ignore[arg-type]


def test_empty_index_with_analysis(tmp_path):
    idx = Index()
    out = idx.save(tmp_path / "ix", analyze=True)
    loaded = Index.load(out)
    assert list(loaded.pairs()) == [] and loaded.clusters() == [] and len(loaded.pair_table()) == 0


def _rewrite_manifest(out, change):
    fn = _current(out) / "manifest.json"
    m = json.loads(fn.read_text())
    change(m)
    fn.write_text(json.dumps(m))


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m["analysis"].update(threshold=0.9),
        lambda m: m["analysis"].update(unit_pairs=m["analysis"]["unit_pairs"] + 1),
        lambda m: m.update(analysis=[1, 2]),
        lambda m: m["files"].pop("analysis.unit_group.npy"),
    ],
)
def test_mismatched_analysis_is_refused(tmp_path, change):
    idx = _synth_index(60, seed=3)
    out = idx.save(tmp_path / "ix", analyze=True)
    assert Index.load(out).pair_table() is not None
    _rewrite_manifest(out, change)
    with pytest.raises(CorruptIndexError):
        Index.load(out)


@pytest.mark.parametrize(
    "field, make",
    [
        ("unit_boilerplate", lambda a: np.zeros(5, dtype=bool)),  # wrong length
        ("unit_boilerplate", lambda a: a.astype(np.int8)),  # a mask saved as numbers
        ("pairs", lambda a: a.ravel()),  # not (m, 2)
        ("sims", lambda a: np.float32(0.5)),  # 0-d
        ("pairs", lambda a: a + 10**6),  # units beyond the index
    ],
)
def test_analysis_with_wrong_arrays_is_refused(tmp_path, field, make):
    idx = _synth_index(60, seed=3)
    out = idx.save(tmp_path / "ix", analyze=True)
    vdir = _current(out)
    fn = vdir / f"analysis.{field}.npy"
    np.save(fn, make(np.load(fn)))
    from dedup.storage import _checksum

    def fix(m):  # a consistent manifest around an array that does not fit the index
        m["files"][fn.name] = {"bytes": fn.stat().st_size, "xxh3_128": _checksum(fn)}

    _rewrite_manifest(out, fix)
    with pytest.raises(CorruptIndexError, match="analysis"):
        Index.load(out)


@pytest.mark.parametrize("mmap", [True, False])
def test_texts_of_a_loaded_index(tmp_path, seeds, mmap):
    idx = _build(seeds)
    out = idx.save(tmp_path / "ix")
    loaded = Index.load(out, mmap=mmap)  # memory-mapped texts are read when asked for
    assert [loaded.text(d) for d in loaded] == [seeds[d] for d in sorted(seeds)]
    loaded.remove("001")
    loaded.add("new", "Ünïcode text, two paragraphs.\n\nAnd “quotes” too, in a second one.")
    assert loaded.text("new").startswith("Ünïcode") and loaded.text("002") == seeds["002"]
    again = Index.load(loaded.save(out), mmap=mmap)
    assert list(again) == ["000", "002", "003", "004", "new"]
    assert [again.text(d) for d in again] == [loaded.text(d) for d in loaded]


@pytest.mark.parametrize(
    "make", [lambda o: o[::-1].copy(), lambda o: o + 1, lambda o: o[:-1].copy(), lambda o: o.reshape(1, -1)]
)
def test_bad_text_offsets_are_refused(tmp_path, seeds, make):
    out = _build(seeds).save(tmp_path / "ix")
    fn = _current(out) / "text_offsets.npy"
    np.save(fn, make(np.load(fn)))
    from dedup.storage import _checksum

    def fix(m):
        m["files"][fn.name] = {"bytes": fn.stat().st_size, "xxh3_128": _checksum(fn)}

    _rewrite_manifest(out, fix)
    with pytest.raises(CorruptIndexError):
        Index.load(out)


# ---------------------------------------------------------------- the saved query table


def test_query_table_is_saved_and_used(tmp_path, monkeypatch):
    import dedup.lsh

    idx = _synth_index()
    idx.remove(list(idx)[7])  # compaction: the table's rows must still name the right units
    probes = [idx.text(d) for d in list(idx)[::37]]
    want = [idx.query(p) for p in probes]
    want_all = [idx.query(p, include_boilerplate=True) for p in probes]
    out = idx.save(tmp_path / "ix", query_table=True)  # implies the analysis
    manifest = json.loads((_current(out) / "manifest.json").read_text())
    assert "analysis" in manifest and manifest["query_table"]["units"] > 0
    built = []
    real_init = dedup.lsh.BandTable.__init__

    def counting_init(self, *a, **kw):
        built.append(kw.get("prefix"))
        real_init(self, *a, **kw)

    monkeypatch.setattr(dedup.lsh.BandTable, "__init__", counting_init)
    for mmap in (True, False):
        loaded = Index.load(out, mmap=mmap)
        assert [loaded.query(p) for p in probes] == want
        assert built == []  # the saved table answered
        assert [loaded.query(p, include_boilerplate=True) for p in probes] == want_all
        assert built == ["lsh-all-"]  # the table with boilerplate is built when asked for
        built.clear()
    with pytest.raises(InvalidParameterError):
        idx.save(tmp_path / "ix2", query_table=1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m["query_table"].update(units=m["query_table"]["units"] - 1),
        lambda m: m.pop("analysis"),
        lambda m: m["files"].pop("query_table_starts.npy"),
    ],
)
def test_mismatched_query_table_is_refused(tmp_path, change):
    out = _synth_index(60, seed=3).save(tmp_path / "ix", query_table=True)
    _rewrite_manifest(out, change)
    with pytest.raises(CorruptIndexError):
        Index.load(out)


@pytest.mark.parametrize(
    "name, make",
    [
        ("query_table_starts", lambda a: a[::-1].copy()),  # not a first-level index of the table
        ("query_table_starts", lambda a: a[:-1].copy()),
        ("query_table", lambda a: a[:-1].copy()),  # not bands x units entries
        ("query_table", lambda a: a.astype(np.int64)),
    ],
)
def test_damaged_query_table_is_refused(tmp_path, name, make):
    out = _synth_index(60, seed=3).save(tmp_path / "ix", query_table=True)
    fn = _current(out) / f"{name}.npy"
    np.save(fn, make(np.load(fn)))
    from dedup.storage import _checksum

    def fix(m):
        m["files"][fn.name] = {"bytes": fn.stat().st_size, "xxh3_128": _checksum(fn)}

    _rewrite_manifest(out, fix)
    with pytest.raises(CorruptIndexError, match="query table"):
        Index.load(out)


def test_format_version_4_loads_with_unit_keys_computed(tmp_path):
    """Version 4 indexes had no unit_key.npy: the keys are computed from the saved shingles."""
    idx = _synth_index(80, seed=5)
    want = _everything(idx, idx.text(list(idx)[7]))
    out = idx.save(tmp_path / "ix", query_table=True)
    keys = np.load(_current(out) / "unit_key.npy")
    assert keys.dtype == np.uint64 and len(np.unique(keys)) < len(keys)  # the synthetic corpus has copies
    (_current(out) / "unit_key.npy").unlink()

    def as_v4(m):
        m["format_version"] = 4
        m["files"].pop("unit_key.npy")

    _rewrite_manifest(out, as_v4)
    loaded = Index.load(out)
    assert not loaded._tables  # its band keys came from an earlier band hash
    assert np.array_equal(loaded._columns()["unit_key"], keys)
    assert _everything(loaded, idx.text(list(idx)[7])) == want
    # saving it again writes the current version, with the keys
    again = loaded.save(tmp_path / "ix2")
    assert json.loads((_current(again) / "manifest.json").read_text())["format_version"] == 5
    assert np.array_equal(np.load(_current(again) / "unit_key.npy"), keys)


@pytest.mark.parametrize("make", [lambda k: k.astype(np.int64), lambda k: k[:-1].copy(), lambda k: k.reshape(1, -1)])
def test_bad_unit_keys_are_refused(tmp_path, seeds, make):
    out = _build(seeds).save(tmp_path / "ix")
    fn = _current(out) / "unit_key.npy"
    np.save(fn, make(np.load(fn)))
    from dedup.storage import _checksum

    entry = {"bytes": fn.stat().st_size, "xxh3_128": _checksum(fn)}
    _rewrite_manifest(out, lambda m: m["files"].update({fn.name: entry}))
    with pytest.raises(CorruptIndexError, match="unit_key"):
        Index.load(out)


@pytest.mark.parametrize("seed", range(5))
def test_runs_are_gathered_in_blocks_as_in_one_gather(seed):
    """Saving gathers the live paragraphs' shingles block by block (bounded temporaries); the
    result is the one-shot gather, and the source itself when the runs are all of it in order."""
    from dedup.shingles import ramp
    from dedup.storage import _gather_runs

    rng = np.random.default_rng(seed)
    lens = rng.integers(0, 9, int(rng.integers(1, 300)))
    starts = np.cumsum(lens) - lens
    src = rng.integers(0, 2**32, int(lens.sum()) + 5, dtype=np.uint32)[: int(lens.sum())]
    assert _gather_runs(src, starts, lens) is src  # nothing removed: no copy
    keep = rng.random(len(lens)) < 0.6
    keep[0] = False  # the first run removed: not the source in order
    want = src[np.repeat(starts[keep], lens[keep]) + ramp(lens[keep])]
    for chunk in (1, 7, 1 << 24):
        got = _gather_runs(src, starts[keep], lens[keep], chunk=chunk)
        assert got.dtype == src.dtype and np.array_equal(got, want)
    assert len(_gather_runs(src, starts[:0], lens[:0])) == 0
