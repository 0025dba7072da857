"""The same corpus through the peers, as their users must drive them.

Every peer gets the same paragraphs (``dedup.text.paragraph_spans``) and word 5-shingles of the
normalized tokens (``dedup.text.tokenize``), built in Python, one MinHash per paragraph with 128
permutations, an LSH index at threshold 0.5, then every paragraph queried for candidates.  The
candidates (pairs of paragraphs of two different documents) are what the peer found: none of them
verifies candidates or clusters documents. The peer's time ends when its query results are in
hand; turning them into our pair keys for scoring (``_candidates``, a few seconds of numpy on
millions of raw candidates) is not charged to it.

* ``datasketch``: as commonly used — ``MinHash(num_perm=128)``, ``update(shingle.encode())`` per
  shingle, ``MinHashLSH(threshold=0.5, num_perm=128)``, ``insert``, ``query``.
* ``datasketch-tuned``: xxhash (xxh32) shingle hashes via ``MinHash.bulk(hashfunc=...)``,
  ``LeanMinHash``, ``MinHashLSH.insertion_session``.
* ``rensa``: ``RMinHash.from_token_sets`` + ``RMinHashLSH(threshold=0.5, num_perm=128,
  num_bands=32)`` (32 bands of 4 rows: rensa needs bands dividing 128; datasketch's optimum for
  0.5 is 25 x 5), ``insert_many``, ``query_all``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from dedup.shingles import sorted_unique

from .corpus import read_records
from .measure import Stages, peak_rss_bytes
from .quality import ParagraphTable, pair_keys

NUM_PERM = 128
THRESHOLD = 0.5
K = 5
PEERS = ("datasketch", "datasketch-tuned", "rensa")


def shingle_corpus(
    path: Path, limit: int | None
) -> tuple[list[str], list[list[tuple[int, int]]], list[list[str]], int]:
    """Doc ids, paragraph spans per doc, word 5-shingles per paragraph (corpus order), text bytes."""
    from dedup.text import paragraph_spans, tokenize

    ids: list[str] = []
    spans: list[list[tuple[int, int]]] = []
    shingles: list[list[str]] = []
    nbytes = 0
    for r in read_records(path, limit):
        text = r["text"]
        nbytes += len(text.encode("utf-8"))
        ids.append(r["id"])
        sp = paragraph_spans(text)
        spans.append(sp)
        tok = tokenize(text)
        los = np.searchsorted(tok.starts, [s for s, _ in sp]).tolist()
        his = np.searchsorted(tok.starts, [e for _, e in sp]).tolist()
        for lo, hi in zip(los, his):
            w = tok.words[lo:hi]
            if len(w) >= K:
                shingles.append([" ".join(w[i : i + K]) for i in range(len(w) - K + 1)])
            else:
                shingles.append([" ".join(w)])
    return ids, spans, shingles, nbytes


def _candidates(results: list[Any]) -> np.ndarray:
    lengths = np.fromiter((len(r) for r in results), dtype=np.int64, count=len(results))
    flat = np.fromiter(chain.from_iterable(results), dtype=np.int64, count=int(lengths.sum()))
    q = np.repeat(np.arange(len(results), dtype=np.int64), lengths)
    keep = q != flat
    return sorted_unique(pair_keys(q[keep], flat[keep]))


def _datasketch(shingles: list[list[str]], st: Stages) -> list[Any]:
    from datasketch import MinHash, MinHashLSH

    with st.stage("sign"):
        mhs = []
        for sh in shingles:
            m = MinHash(num_perm=NUM_PERM)
            for s in sh:
                m.update(s.encode("utf8"))
            mhs.append(m)
    with st.stage("lsh_insert"):
        lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
        for i, m in enumerate(mhs):
            lsh.insert(i, m)
    with st.stage("query_all"):
        return [lsh.query(m) for m in mhs]


def _datasketch_tuned(shingles: list[list[str]], st: Stages) -> list[Any]:
    import xxhash
    from datasketch import LeanMinHash, MinHash, MinHashLSH

    with st.stage("sign"):
        enc = [[s.encode("utf8") for s in sh] for sh in shingles]
        mhs = [LeanMinHash(m) for m in MinHash.bulk(enc, num_perm=NUM_PERM, hashfunc=xxhash.xxh32_intdigest)]
        del enc
    with st.stage("lsh_insert"):
        lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
        with lsh.insertion_session(buffer_size=100000) as session:
            for i, m in enumerate(mhs):
                session.insert(i, m, check_duplication=False)
    with st.stage("query_all"):
        return [lsh.query(m) for m in mhs]


def _rensa(shingles: list[list[str]], st: Stages) -> list[Any]:
    from rensa import RMinHash, RMinHashLSH

    with st.stage("sign"):
        mhs = RMinHash.from_token_sets(shingles, NUM_PERM, 42)
    with st.stage("lsh_insert"):
        lsh = RMinHashLSH(THRESHOLD, NUM_PERM, 32)
        lsh.insert_many(mhs, start_key=0)
    with st.stage("query_all"):
        return list(lsh.query_all(mhs))


_RUNNERS: dict[str, Callable[[list[list[str]], Stages], list[Any]]] = {
    "datasketch": _datasketch,
    "datasketch-tuned": _datasketch_tuned,
    "rensa": _rensa,
}


def run_peer(name: str, path: Path, limit: int | None = None) -> dict[str, Any]:
    """Run one peer end to end (read + shingle + sign + LSH + query all); same fields as ``run_dedup``."""
    st = Stages()
    t0 = time.perf_counter()
    with st.stage("read+shingle"):
        ids, spans, shingles, nbytes = shingle_corpus(path, limit)
    results = _RUNNERS[name](shingles, st)
    total = time.perf_counter() - t0
    peak = peak_rss_bytes()
    keys = _candidates(results)
    del results
    table = ParagraphTable(ids, spans)
    return {
        "system": name,
        "n_docs": len(ids),
        "n_paragraphs": table.n_paragraphs,
        "text_mb": nbytes / 1e6,
        "seconds": total,
        "stages": st.seconds,
        "peak_rss_mb": peak / 1e6,
        "keys": keys,
        "clusters": None,
        "table": table,
    }
