"""Seeded benchmark corpora, generated once per size into a cache directory and reused."""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

# the optional faster gzip (ISA-L) and JSON that dedup.io uses (None without the ``bench`` / ``io``
# extras: the standard library then); module attributes here, so tests can take either away
from dedup.io import _igzip, _msgspec_json

QUICK_SIZE = 2000
SEED = 0
REUTERS = Path(os.environ.get("DEDUP_BENCH_REUTERS", "/work/shared/corpora/reuters21578.jsonl.gz"))


def cache_dir() -> Path:
    """``DEDUP_BENCH_CACHE`` or ``~/.cache/dedup-bench``."""
    return Path(os.environ.get("DEDUP_BENCH_CACHE", Path.home() / ".cache" / "dedup-bench"))


def default_size() -> int:
    """``DEDUP_BENCH_SIZE`` or the quick size (2,000 articles)."""
    return int(os.environ.get("DEDUP_BENCH_SIZE", QUICK_SIZE))


def corpus_path(size: int, seed: int = SEED) -> Path:
    """Path of the cached synthetic corpus of ``size`` articles; generated (with truth) when absent."""
    from dedup.synth import SynthConfig, truth_paths, write_corpus

    d = cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    p = d / f"synth-{size}-s{seed}.jsonl.gz"
    if not truth_paths(p)["summary"].exists() or not p.exists():
        tmp = d / f"tmp-{os.getpid()}-synth-{size}-s{seed}.jsonl.gz"
        write_corpus(tmp, SynthConfig(n_articles=size, seed=seed))
        # move the corpus and its truth files into place (summary last: it marks completion)
        tp, fp = truth_paths(tmp), truth_paths(p)
        # the summary names the files it describes: give it their final names
        summ = json.loads(tp["summary"].read_text(encoding="utf-8"))
        summ["files"] = {
            k: Path(str(v).replace(tmp.name.split("synth-")[0], "")).name for k, v in summ.get("files", {}).items()
        }
        tp["summary"].write_text(json.dumps(summ, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, p)
        for k in ("clusters", "pairs", "passages", "boilerplate", "summary"):
            os.replace(tp[k], fp[k])
    return p


def summary(path: Path) -> dict[str, Any]:
    from dedup.synth import truth_paths

    with open(truth_paths(path)["summary"], encoding="utf-8") as fh:
        return json.load(fh)


def _open(path: Path, text: bool) -> IO[Any]:
    """``path`` as UTF-8 text or bytes, gunzipped (by isal when installed) if it ends in ``.gz``."""
    mode, encoding = ("rt", "utf-8") if text else ("rb", None)
    if not str(path).endswith(".gz"):
        return open(path, mode, encoding=encoding)  # noqa: SIM115 - closed by the caller
    if _igzip is None:
        return gzip.open(path, mode, encoding=encoding)  # type: ignore[return-value]
    # a larger buffer than isal's own makes line iteration ~10% faster
    fh = io.BufferedReader(_igzip.open(path, "rb"), buffer_size=1 << 17)
    return io.TextIOWrapper(fh, encoding="utf-8") if text else fh


def read_records(path: Path, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Records of a JSONL(.gz) corpus, in order (the first ``limit`` when given).

    With ``isal`` and ``msgspec`` installed (the ``bench`` extra) gzip and JSON are 2-3x faster,
    with the same records: a line msgspec rejects (a lone surrogate escape, NaN, a number out of
    its range, bad JSON) goes to ``json.loads``, which returns what it always did or raises.
    Without msgspec the lines are read as text and parsed by ``json.loads`` as before.
    """
    if _msgspec_json is None:
        with _open(path, text=True) as fh:
            for i, line in enumerate(fh):
                if limit is not None and i >= limit:
                    break
                yield json.loads(line)
        return
    decode = _msgspec_json.Decoder().decode
    with _open(path, text=False) as fh:
        for i, raw in enumerate(fh):
            if limit is not None and i >= limit:
                break
            try:
                obj = decode(raw)
            except ValueError:  # msgspec.DecodeError: json.loads decides
                obj = json.loads(raw.decode("utf-8"))
            yield obj
