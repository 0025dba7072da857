"""Saving and loading an :class:`~dedup.index.Index`: a directory of numpy arrays and JSON, no pickle.

Layout of ``path/``::

    CURRENT              name of the live version directory (replaced atomically)
    v-000001/
        manifest.json    format name and version, full configuration, counts, and for every
                         other file its size in bytes and xxh3-128 checksum
        *.npy            arrays (memory-mappable with ``np.load(mmap_mode="r")``); the
                         signatures as one ``sig-NNN.npy`` of ``(units, rows)`` per LSH band
        texts.bin        document texts, UTF-8, one after another; ``text_offsets.npy`` has
                         their byte offsets
        docs.jsonl       one line per document: id and metadata
        query_table*.npy optional: the LSH lookup table of queries (8 bytes per unit per band,
                         about 10 GB at a million articles) and its first-level index, written
                         by ``save(query_table=True)``; a loaded index then answers its first
                         query without building it (about a minute at a million articles).
        analysis.*.npy   optional: the corpus analysis at the index's threshold (verified unit
                         pairs, groups, boilerplate flags; one file per field of
                         :class:`~dedup.analysis.Analysis`), written when the index had computed
                         it (any of ``pairs``, ``pair_table``, ``clusters``, ``boilerplate``,
                         ``query``, or ``save(analyze=True)``). A loaded index then answers those
                         calls without analysing the corpus again; without these files the first
                         such call analyses it (minutes at a million articles).

A save writes a new version directory, syncs it, then atomically replaces ``CURRENT``; only then
are older versions deleted. A crash at any point leaves the previous index loadable. ``load``
checks every file's size and checksum and refuses a truncated or altered file, another format
version, or a directory that is not a dedup index.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xxhash

from .analysis import Analysis
from .columns import Column, SignatureStore, TextStore
from .config import IndexConfig
from .errors import CorruptIndexError, FormatVersionError, IndexFormatError, InvalidParameterError
from .lsh import BandTable
from .shingles import ramp, set_keys

if TYPE_CHECKING:
    from .index import Index

__all__ = ["save_index", "load_index", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "dedup-index"
FORMAT_VERSION = 5
#: Older versions this release still reads. Version 4 has no ``unit_key`` array: the keys are
#: computed from the saved shingles on load (a pass over them; save again to store them); its
#: query table, if saved, holds band keys of an earlier band hash and is not loaded (the first
#: query builds it again).
READABLE_VERSIONS = (4, FORMAT_VERSION)
# fields of the analysis indexed by document (the others by unit, unit pair or group)
_PER_DOCUMENT = ("doc_coverage",)
# numpy dtype kind of every field of a saved analysis ("i" integer, "f" float, "b" bool)
_ANALYSIS_KINDS = {
    "pairs": "i",
    "sims": "f",
    "exact": "b",
    "unit_group": "i",
    "unit_boilerplate": "b",
    "boilerplate_groups": "i",
    "group_docs": "i",
    "group_coverage": "f",
    "doc_coverage": "f",
    "boilerplate_pairs": "i",
}
_ARRAYS = (
    "unit_doc",
    "unit_para",
    "unit_kind",
    "unit_start",
    "unit_end",
    "unit_ntok",
    "unit_nsh",
    "unit_key",
    "para_start",
    "para_end",
    "para_ntok",
    "para_doc",
    "para_sh0",
    "unit_sh0",
    "shingles",
)


def _checksum(path: Path) -> str:
    h = xxhash.xxh3_128()
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 22)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _write_array(fn: Path, arr: np.ndarray) -> None:
    with open(fn, "wb") as f:
        np.save(f, np.ascontiguousarray(arr), allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())


def _gather_runs(src: np.ndarray, starts: np.ndarray, lens: np.ndarray, chunk: int = 1 << 24) -> np.ndarray:
    """``src[starts[i] : starts[i] + lens[i]]`` for every ``i``, concatenated.

    Gathered about ``chunk`` values at a time into the result: an index per value for all of
    them at once took three int64 arrays the size of the shingles, about 17 GB at a million
    articles, and the saving process peaked at 24 GB. When the runs are ``src`` itself in order
    (no document was removed), ``src`` is returned without a copy.
    """
    starts = np.asarray(starts, dtype=np.int64)
    lens = np.asarray(lens, dtype=np.int64)
    total = int(lens.sum())
    ends = np.cumsum(lens)
    if total == len(src) and (not len(starts) or (starts[0] == 0 and np.array_equal(starts[1:], (starts + lens)[:-1]))):
        return src
    out = np.empty(total, dtype=src.dtype)
    i = pos = 0
    while i < len(starts):
        j = max(i + 1, int(np.searchsorted(ends, pos + chunk, side="right")))
        n = lens[i:j]
        take = np.repeat(starts[i:j], n) + ramp(n)
        out[pos : pos + len(take)] = src[take]
        pos += len(take)
        i = j
    return out


def _compact(index: Index) -> tuple[dict[str, np.ndarray], list[int]]:
    """Arrays restricted to live documents, with document and paragraph indexes renumbered."""
    cols = index._columns()
    alive = np.array(index._alive, dtype=bool)
    docs = np.flatnonzero(alive)
    new_doc = np.full(len(alive), -1, dtype=np.int64)
    new_doc[docs] = np.arange(len(docs))
    units = np.flatnonzero(alive[cols["unit_doc"]]) if len(alive) else np.empty(0, np.int64)
    paras = np.flatnonzero(alive[cols["para_doc"]]) if len(alive) else np.empty(0, np.int64)
    every = len(units) == len(cols["unit_doc"])  # nothing removed: the columns as they are

    def live_units(a: np.ndarray) -> np.ndarray:
        return a if every else np.ascontiguousarray(a[units])

    out = {name: live_units(cols[name]) for name in _ARRAYS if name.startswith("unit_")}
    out["unit_doc"] = new_doc[cols["unit_doc"][units]].astype(np.int32)
    for name in ("para_start", "para_end", "para_ntok"):
        out[name] = np.ascontiguousarray(cols[name][paras])
    out["para_doc"] = new_doc[cols["para_doc"][paras]].astype(np.int32)
    # shingles of live paragraphs only, offsets rebased
    para_nsh = np.maximum(cols["para_ntok"][paras].astype(np.int64) - index.config.shingle_size + 1, 1)
    old_sh0 = cols["para_sh0"][paras]
    new_sh0 = np.cumsum(para_nsh) - para_nsh
    out["shingles"] = _gather_runs(cols["shingles"], old_sh0, para_nsh)
    out["para_sh0"] = new_sh0
    if every and len(paras) == len(cols["para_doc"]) and out["shingles"] is cols["shingles"]:
        out["unit_sh0"] = cols["unit_sh0"]  # nothing moved (four int64 arrays per unit saved)
    else:
        para0 = np.asarray(index._doc_para0, dtype=np.int64)
        unit_para = para0[cols["unit_doc"][units]] + cols["unit_para"][units]
        new_para = np.full(len(cols["para_doc"]), -1, dtype=np.int64)
        new_para[paras] = np.arange(len(paras))
        shift = new_sh0[new_para[unit_para]] - cols["para_sh0"][unit_para]
        out["unit_sh0"] = live_units(cols["unit_sh0"]) + shift
    out["units"] = units
    return out, docs.tolist()


def save_index(index: Index, path: Path, query_table: bool = False) -> Path:
    """Write ``index`` to the directory ``path`` atomically (see the module docstring)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InvalidParameterError(f"{path} exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not (path / "CURRENT").exists():
        raise InvalidParameterError(
            f"{path} is a non-empty directory that is not a dedup index; refusing to write into it"
        )
    path.mkdir(parents=True, exist_ok=True)
    versions = sorted(p.name for p in path.glob("v-*") if p.is_dir() and not p.name.endswith(".tmp"))
    number = int(versions[-1][2:]) + 1 if versions else 1
    name = f"v-{number:06d}"
    tmp = path / f"{name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()

    arrays, docs = _compact(index)
    units = arrays.pop("units")
    ids = [index._ids[d] for d in docs]
    metas = [index._meta[d] for d in docs]
    arrays["doc_ntok"] = np.array([index._doc_ntok[d] for d in docs], dtype=np.int32)
    npara = np.bincount(arrays["para_doc"], minlength=len(docs)) if len(docs) else np.zeros(0, np.int64)
    para0 = np.zeros(len(docs), dtype=np.int64)
    if len(docs):
        np.cumsum(npara[:-1], out=para0[1:])
    arrays["doc_para0"] = para0
    # texts are stored as UTF-8 already; written one by one (a million texts need not fit twice in RAM)
    offsets = np.zeros(len(docs) + 1, dtype=np.int64)
    with open(tmp / "texts.bin", "wb") as f:
        for i, d in enumerate(docs):
            t = index._texts.get(d)
            f.write(t)
            offsets[i + 1] = offsets[i] + len(t)
        f.flush()
        os.fsync(f.fileno())
    arrays["text_offsets"] = offsets
    every = len(units) == len(index._sigs)
    for j in range(len(index._sigs.widths)):
        # one band at a time: signatures are read, compacted and written band by band
        _write_array(tmp / f"sig-{j:03d}.npy", index._sigs.band(j, None if every else units))

    files: dict[str, dict[str, Any]] = {}
    for key, arr in arrays.items():
        _write_array(tmp / f"{key}.npy", arr)
    analysis = index._analysis.get(float(index.config.threshold))
    if analysis is not None:
        # computed over the live units, numbered as the compacted unit arrays above
        for field in fields(Analysis):
            value = getattr(analysis, field.name)
            if field.name in _PER_DOCUMENT:
                value = value[np.asarray(docs, dtype=np.int64)]
            _write_array(tmp / f"analysis.{field.name}.npy", value)
    table = index._query_table() if query_table else None
    if table is not None:
        # rows of the table are positions among the non-boilerplate live units: the same in the
        # compacted numbering, where load finds those units again from the analysis
        _write_array(tmp / "query_table.npy", table.table)
        _write_array(tmp / "query_table_starts.npy", table.starts)
    lines = []
    for doc_id, meta in zip(ids, metas):
        try:
            lines.append(json.dumps({"id": doc_id, "meta": meta}, ensure_ascii=False, sort_keys=True))
        except (TypeError, ValueError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise InvalidParameterError(
                f"metadata of document {doc_id!r} cannot be saved as JSON ({exc}); store plain "
                "strings, numbers, lists and dicts"
            ) from None
    _write_file(tmp / "docs.jsonl", ("\n".join(lines) + "\n" if lines else "").encode("utf-8", "surrogatepass"))
    for fn in sorted(tmp.iterdir()):
        files[fn.name] = {"bytes": fn.stat().st_size, "xxh3_128": _checksum(fn)}
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "config": index.config.to_dict(),
        "counts": {
            "documents": len(ids),
            "paragraphs": int(len(arrays["para_doc"])),
            "units": int(len(arrays["unit_doc"])),
        },
        "files": files,
        "created_unix": int(time.time()),
    }
    if analysis is not None:
        manifest["analysis"] = {"threshold": float(index.config.threshold), "unit_pairs": int(len(analysis.pairs))}
    if table is not None:
        manifest["query_table"] = {"units": table.size}
    _write_file(tmp / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True).encode())
    _fsync_dir(tmp)
    final = path / name
    os.replace(tmp, final)
    _fsync_dir(path)
    cur_tmp = path / "CURRENT.tmp"
    _write_file(cur_tmp, (name + "\n").encode())
    os.replace(cur_tmp, path / "CURRENT")
    _fsync_dir(path)
    for old in versions:
        shutil.rmtree(path / old, ignore_errors=True)
    for stale in path.glob("v-*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    return path


def _read_manifest(path: Path) -> tuple[Path, dict[str, Any]]:
    cur = path / "CURRENT"
    if not path.is_dir():
        raise IndexFormatError(f"{path} is not a directory holding a dedup index")
    if not cur.exists():
        raise CorruptIndexError(f"{path} is not a dedup index (no CURRENT file)")
    name = cur.read_text(encoding="utf-8", errors="replace").strip()
    vdir = path / name
    if not name.startswith("v-") or "/" in name or not vdir.is_dir():
        raise CorruptIndexError(f"{path}/CURRENT names {name!r}, which is not a version directory")
    try:
        manifest = json.loads((vdir / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorruptIndexError(f"{vdir} has no manifest.json") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptIndexError(f"{vdir}/manifest.json is damaged: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise CorruptIndexError(f"{vdir}/manifest.json is not a dedup index manifest")
    if manifest.get("format_version") not in READABLE_VERSIONS:
        readable = ", ".join(str(v) for v in READABLE_VERSIONS)
        raise FormatVersionError(
            f"{path} was written in format version {manifest.get('format_version')!r}; this "
            f"release reads versions {readable}. Rebuild the index with this release."
        )
    return vdir, manifest


def load_index(cls: type[Index], path: Path, *, mmap: bool = True, verify: bool = True) -> Index:
    """Read an index written by :func:`save_index` (see the module docstring)."""
    vdir, manifest = _read_manifest(Path(path))
    files = manifest.get("files", {})
    for fname, info in files.items():
        fn = vdir / fname
        if not fn.exists():
            raise CorruptIndexError(f"{fn} is missing")
        size = fn.stat().st_size
        if size != info.get("bytes"):
            raise CorruptIndexError(
                f"{fn} has {size} bytes, the manifest says {info.get('bytes')}: truncated or altered"
            )
        if verify and _checksum(fn) != info.get("xxh3_128"):
            raise CorruptIndexError(f"{fn} does not match its checksum: the file is damaged")
    try:
        config = IndexConfig.from_dict(manifest["config"])
    except Exception as exc:
        raise CorruptIndexError(f"{vdir}/manifest.json has an invalid configuration: {exc}") from None

    def arr(key: str) -> np.ndarray:
        fn = vdir / f"{key}.npy"
        if fn.name not in files:
            raise CorruptIndexError(f"{fn.name} is not listed in the manifest")
        try:
            return np.load(fn, mmap_mode="r" if mmap else None, allow_pickle=False)
        except ValueError as exc:
            raise CorruptIndexError(f"{fn} is not a valid numpy array file: {exc}") from None

    index = cls(config=config)
    offsets = arr("text_offsets")
    text_bytes = files.get("texts.bin", {}).get("bytes")
    delimits = offsets.ndim == 1 and len(offsets) and offsets[0] == 0 and offsets[-1] == text_bytes
    if not delimits or (np.diff(offsets) < 0).any():
        raise CorruptIndexError(f"{vdir}/text_offsets.npy does not delimit the texts in texts.bin")
    try:
        docs = [json.loads(line) for line in (vdir / "docs.jsonl").read_text(encoding="utf-8").splitlines() if line]
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptIndexError(f"{vdir} holds damaged documents: {exc}") from None
    n = manifest["counts"]["documents"]
    if len(offsets) - 1 != n or len(docs) != n:
        raise CorruptIndexError(f"{vdir} holds {len(docs)} documents, the manifest says {n}")
    old_format = manifest.get("format_version") == 4 and "unit_key.npy" not in files
    cols = {key: arr(key) for key in _ARRAYS if not (old_format and key == "unit_key")}
    if old_format:
        cols["unit_key"] = set_keys(cols["shingles"], cols["unit_sh0"], cols["unit_nsh"])
    n_bands = len(index._sigs.widths)
    try:
        sigs = SignatureStore.wrap(config.num_perm, config.b, config.r, [arr(f"sig-{j:03d}") for j in range(n_bands)])
    except ValueError as exc:
        raise CorruptIndexError(f"{vdir} signatures do not match the configuration: {exc}") from None
    n_units = manifest["counts"]["units"]
    if len(cols["unit_doc"]) != n_units or any(len(p) != n_units for p in sigs.parts):
        raise CorruptIndexError(f"{vdir} arrays do not match the manifest")
    if cols["unit_key"].dtype != np.uint64 or cols["unit_key"].shape != (n_units,):
        raise CorruptIndexError(f"{vdir}/unit_key.npy does not hold one uint64 key per unit")
    index._ids = [d["id"] for d in docs]
    if mmap:  # read only when asked for (a million articles hold ~5 GB of text)
        index._texts = TextStore.mapped(vdir / "texts.bin", offsets)
    else:
        blob = (vdir / "texts.bin").read_bytes()
        index._texts = TextStore.wrap([blob[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())])
    index._sigs = sigs
    index._shingles = Column.wrap(cols.pop("shingles"))
    index._unit_keys = Column.wrap(cols.pop("unit_key"))
    index._meta = [d.get("meta", {}) for d in docs]
    index._alive = [True] * n
    index._pos = {d: i for i, d in enumerate(index._ids)}
    if len(index._pos) != n:
        raise CorruptIndexError(f"{vdir} holds duplicate document ids")
    index._doc_ntok = arr("doc_ntok").tolist()
    index._doc_para0 = arr("doc_para0").tolist()
    index._n_para = len(cols["para_doc"])
    index._chunks = {key: [cols[key]] for key in cols}
    index._invalidate()
    if "analysis" in manifest:
        index._analysis[config.threshold] = _load_analysis(arr, manifest["analysis"], config, n_units, n, vdir)
    # a version 4 table holds band keys of an earlier band hash: built again on the first query
    if "query_table" in manifest and manifest.get("format_version") == FORMAT_VERSION:
        index._tables[False] = _load_query_table(arr, manifest, index, vdir)
    return index


def _load_query_table(
    arr: Callable[[str], np.ndarray], manifest: dict[str, Any], index: Index, vdir: Path
) -> BandTable:
    """The saved lookup table of queries, over the non-boilerplate units of the saved analysis."""
    analysis = index._analysis.get(index.config.threshold)
    info = manifest["query_table"]
    if analysis is None:
        raise CorruptIndexError(f"{vdir} holds a query table without the analysis it was built from")
    units = np.flatnonzero(~np.asarray(analysis.unit_boilerplate))
    if not isinstance(info, dict) or info.get("units") != len(units):
        raise CorruptIndexError(f"{vdir}/manifest.json describes a query table that does not match the analysis")
    try:
        return BandTable.wrap(arr("query_table"), arr("query_table_starts"), units, index.config.b, index.config.r)
    except ValueError as exc:
        raise CorruptIndexError(f"{vdir} holds a damaged query table: {exc}") from None


def _load_analysis(
    arr: Callable[[str], np.ndarray], info: Any, config: IndexConfig, n_units: int, n_docs: int, vdir: Path
) -> Analysis:
    """The saved analysis, checked against the index it belongs to."""
    if not isinstance(info, dict) or info.get("threshold") != config.threshold:
        raise CorruptIndexError(f"{vdir}/manifest.json describes an analysis that does not match the index threshold")
    a = Analysis(**{f.name: arr(f"analysis.{f.name}") for f in fields(Analysis)})
    shapes_ok = all(
        getattr(a, name).ndim == (2 if name.endswith("pairs") else 1)
        and getattr(a, name).dtype.kind == _ANALYSIS_KINDS[name]
        for name in _ANALYSIS_KINDS
    )
    m = len(a.pairs) if shapes_ok else -1
    n_groups = len(a.group_docs) if shapes_ok else -1
    ok = (
        shapes_ok and a.pairs.shape[1] == 2 and a.boilerplate_pairs.shape[1] == 2
        and m == info.get("unit_pairs") and len(a.sims) == m and len(a.exact) == m
        and len(a.unit_group) == n_units and len(a.unit_boilerplate) == n_units
        and len(a.doc_coverage) == n_docs and len(a.group_coverage) == n_groups
        and (m == 0 or int(a.pairs.max()) < n_units) and (n_units == 0 or int(a.unit_group.max()) < n_groups)
    )
    if not ok:
        raise CorruptIndexError(f"{vdir} holds an analysis whose arrays do not match the index")
    return a
