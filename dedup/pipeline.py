"""Small composable batch steps (datatrove style): each step has ``run(records) -> records``.

>>> from dedup import Index
>>> idx = Index()
>>> recs = [{"id": "a", "text": "one two three four five six seven"},
...         {"id": "b", "text": "one two three four five six seven"}]
>>> kept = list(Pipeline([IndexStep(idx)]).run(recs))
>>> [r["id"] for r in dedup_records(kept, idx)]
['a']
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidParameterError
from .index import AddReport, Index
from .io import ErrorLog, read_corpus
from .results import Cluster, DocPair

__all__ = [
    "Step",
    "ReadStep",
    "IndexStep",
    "Pipeline",
    "as_records",
    "find_pairs",
    "DedupPlan",
    "plan_dedup",
    "dedup_records",
    "KEEP_RULES",
    "DEDUP_MIN_SCORE",
]

Record = dict[str, Any]
KEEP_RULES = ("first", "earliest", "longest")


class Step:
    """A pipeline step: ``run`` takes an iterator of records and yields records."""

    def run(self, records: Iterable[Record] | None = None) -> Iterator[Record]:  # pragma: no cover
        raise NotImplementedError


def as_records(data: Any) -> Iterable[Record]:
    """Records from an iterable of dicts, a pandas DataFrame or a pyarrow Table / RecordBatch."""
    if data is None:
        return ()
    mod = type(data).__module__
    if mod.startswith("pandas") and hasattr(data, "to_dict"):
        return data.to_dict("records")
    if mod.startswith("pyarrow") and hasattr(data, "to_batches"):
        return (r for b in data.to_batches() for r in b.to_pylist())
    if mod.startswith("pyarrow") and hasattr(data, "to_pylist"):
        return data.to_pylist()
    return data


class ReadStep(Step):
    """Read a corpus with :func:`dedup.io.read_corpus`; records passed in are yielded first."""

    def __init__(self, path: str | os.PathLike[str], **options: Any) -> None:
        self.path = path
        self.errors: ErrorLog = options.pop("errors", None) or ErrorLog()
        self.options = options

    def run(self, records: Iterable[Record] | None = None) -> Iterator[Record]:
        if records is not None:
            yield from as_records(records)
        yield from read_corpus(self.path, errors=self.errors, **self.options)


class IndexStep(Step):
    """Add records to ``index`` in batches; yields the records the index accepted.

    Records the index rejects (empty text, duplicate id, ...) are counted in ``self.report``
    (an :class:`AddReport`) and not passed on.
    """

    def __init__(
        self, index: Index, *, batch_size: int = 2000, on_error: str = "skip", workers: int = 1
    ) -> None:
        if on_error not in ("skip", "raise"):
            raise InvalidParameterError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
        self.index = index
        self.batch_size = batch_size
        self.on_error = on_error
        self.workers = workers
        self.report = AddReport()
        self._passed: set[str] = set()

    def run(self, records: Iterable[Record] | None = None) -> Iterator[Record]:
        batch: list[Record] = []
        for rec in as_records(records):
            batch.append(rec)
            if len(batch) >= self.batch_size:
                yield from self._flush(batch)
                batch = []
        if batch:
            yield from self._flush(batch)

    def _flush(self, batch: list[Record]) -> Iterator[Record]:
        idx = self.index
        before = {str(r.get("id")) for r in batch if r.get("id") in idx}
        rep = idx.add_many(batch, on_error=self.on_error, workers=self.workers)
        self.report.added += rep.added
        self.report.skipped.extend(rep.skipped)
        for r in batch:
            rid = r.get("id")
            if isinstance(rid, str) and rid in idx and rid not in before and rid not in self._passed:
                self._passed.add(rid)
                yield r


class Pipeline:
    """Chain steps: ``Pipeline([ReadStep(p), IndexStep(idx)]).run()`` streams through all."""

    def __init__(self, steps: Iterable[Step]) -> None:
        self.steps = list(steps)

    def run(self, records: Iterable[Record] | None = None) -> Iterator[Record]:
        stream: Iterable[Record] | None = records
        for step in self.steps:
            stream = step.run(stream)
        return iter(stream if stream is not None else ())

    def consume(self, records: Iterable[Record] | None = None) -> int:
        """Run to the end, discarding the output; returns the number of records out."""
        return sum(1 for _ in self.run(records))


def find_pairs(index: Index, *, threshold: float | None = None, min_score: float = 0.0) -> list[DocPair]:
    """Every reused document pair of ``index`` (see :meth:`Index.pairs`)."""
    return list(index.pairs(threshold=threshold, min_score=min_score))


@dataclass
class DedupPlan:
    """Which documents are dropped: ``dropped[id] = {"dropped_in_favour_of", "cluster", "score"}``.

    ``clusters`` are the reuse clusters the decision was made in (``cluster`` indexes them).
    """

    keep: str
    clusters: list[Cluster]
    dropped: dict[str, dict[str, Any]] = field(default_factory=dict)


#: Default share of the shorter document covered by reuse from which a document counts as a
#: near-duplicate of a kept one (``DocPair.score``).
DEDUP_MIN_SCORE = 0.8


def _priority(index: Index, ids: tuple[str, ...], keep: str) -> list[str]:
    """Members of a cluster, the one to keep first (ties: insertion order)."""
    order = {d: i for i, d in enumerate(ids)}
    if keep == "first":
        return list(ids)
    if keep == "longest":
        return sorted(ids, key=lambda d: (-len(index.text(d)), order[d]))

    # earliest: smallest "date" metadata (ISO strings sort by time); undated documents last
    def key(d: str) -> tuple[int, str, int]:
        date = index.metadata(d).get("date")
        return (0, str(date), order[d]) if date not in (None, "") else (1, "", order[d])

    return sorted(ids, key=key)


def plan_dedup(
    index: Index,
    keep: str = "first",
    *,
    pairs: Iterable[DocPair] | None = None,
    clusters: list[Cluster] | None = None,
    threshold: float | None = None,
    min_score: float = DEDUP_MIN_SCORE,
) -> DedupPlan:
    """Decide which documents to drop as near-duplicates of documents that are kept.

    Inside every reuse cluster, documents are taken in ``keep`` order (``first``: insertion
    order; ``earliest``: by the ``date`` metadata, undated last; ``longest``: most characters
    first). A document is dropped when it shares reuse with an already *kept* document at a pair
    score (share of the shorter document covered) of at least ``min_score`` (default 0.8), in
    favour of the best such kept document; otherwise it is kept. So a chain A~B~C where A and C
    share little keeps C even when B is dropped: clusters link documents transitively, but a
    document is only ever dropped for a direct near-copy that stays in the output.
    """
    if keep not in KEEP_RULES:
        raise InvalidParameterError(f"keep must be one of {', '.join(KEEP_RULES)}, got {keep!r}")
    if not isinstance(min_score, (int, float)) or not 0.0 < min_score <= 1.0:
        raise InvalidParameterError(f"min_score must be in (0, 1], got {min_score!r}")
    if pairs is None:
        pairs = index.pairs(threshold=threshold)
    near: dict[str, dict[str, float]] = {}
    for p in pairs:
        if p.score >= min_score:
            near.setdefault(p.a, {})[p.b] = p.score
            near.setdefault(p.b, {})[p.a] = p.score
    if clusters is None:
        clusters = index.clusters(threshold=threshold)
    plan = DedupPlan(keep, clusters)
    for n, c in enumerate(clusters):
        kept: list[str] = []
        for d in _priority(index, c.doc_ids, keep):
            links = near.get(d, {})
            best = max(((links[k], -i, k) for i, k in enumerate(kept) if k in links), default=None)
            if best is None:
                kept.append(d)
            else:
                plan.dropped[d] = {"dropped_in_favour_of": best[2], "cluster": n, "score": round(float(best[0]), 4)}
    return plan


def dedup_records(
    records: Iterable[Record],
    index: Index,
    keep: str = "first",
    *,
    plan: DedupPlan | None = None,
    on_dropped: Callable[[Record], None] | None = None,
) -> Iterator[Record]:
    """Yield the records to keep; each dropped record goes to ``on_dropped`` with a ``"dedup"`` reason.

    ``records`` are the indexed records (any iterable of dicts with ``"id"``; ids not in the
    index are kept). The reason is ``{"dropped_in_favour_of": id, "cluster": n, "score": s}``.
    """
    if plan is None:
        plan = plan_dedup(index, keep)
    for rec in as_records(records):
        why = plan.dropped.get(str(rec.get("id")))
        if why is None:
            yield rec
        elif on_dropped is not None:
            out = dict(rec)
            out["dedup"] = why
            on_dropped(out)
