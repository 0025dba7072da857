"""Corpus readers and writers: every format round-trips; bad records are counted with file:line."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

from dedup import Index
from dedup.errors import DedupError, InputError, InvalidParameterError
from dedup.io import ErrorLog, detect_format, read_corpus, write_records
from dedup.pipeline import IndexStep, Pipeline, ReadStep, dedup_records, plan_dedup

RECS = [
    {"id": "a", "text": "Alpha beta gamma delta.\n\nSecond paragraph here.", "date": "2020-01-02"},
    {"id": "b", "text": "Ünïcode — text “quoted”.", "date": "2020-01-01"},
    {"id": "c", "text": "third", "date": "2020-01-03"},
]


@pytest.mark.parametrize("name", ["c.jsonl", "c.jsonl.gz", "c.jsonl.zst", "c.parquet"])
def test_round_trip(tmp_path: Path, name: str) -> None:
    if name.endswith(".zst"):
        pytest.importorskip("zstandard")
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    p = tmp_path / name
    assert write_records(p, RECS) == 3
    assert list(read_corpus(p)) == RECS
    assert not list(tmp_path.glob(".*tmp"))  # atomic write leaves no temp file


def test_csv(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    p.write_text('doc,body,date\n1,"multi\nline text",2020\n2,plain,2021\n', encoding="utf-8")
    got = list(read_corpus(p, id_field="doc", text_field="body"))
    assert got == [
        {"date": "2020", "id": "1", "text": "multi\nline text"},
        {"date": "2021", "id": "2", "text": "plain"},
    ]


def test_txt_dir(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "x.txt").write_text("one", encoding="utf-8")
    (tmp_path / "sub" / "y.txt").write_text("two", encoding="utf-8")
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe bad")
    (tmp_path / "ignored.md").write_text("no", encoding="utf-8")
    log = ErrorLog()
    got = list(read_corpus(tmp_path, errors=log))
    assert got == [{"id": "sub/y.txt", "text": "two"}, {"id": "x.txt", "text": "one"}]
    assert log.count == 1 and "bad.txt" in str(log.entries[0])


def test_bad_jsonl_lines_counted(tmp_path: Path) -> None:
    p = tmp_path / "c.jsonl.gz"
    lines = [
        b'{"id": "a", "text": "ok"}',
        b"{not json",
        b'{"id": "b"}',
        b'{"id": "c", "text": 5}',
        b"",
        b'{"id": "d", "text": "caf\xe9"}',
        b"[1, 2]",
        b'{"id": 7, "text": "int id"}',
    ]
    with gzip.open(p, "wb") as fh:
        fh.write(b"\n".join(lines) + b"\n")
    log = ErrorLog()
    got = list(read_corpus(p, errors=log))
    assert [r["id"] for r in got] == ["a", "7"]
    assert [b.line for b in log.entries] == [2, 3, 4, 6, 7]
    assert all(str(b).startswith(f"{p}:") for b in log.entries)
    with pytest.raises(InputError, match=r"c\.jsonl\.gz:2: invalid JSON"):
        list(read_corpus(p, on_error="fail"))


def test_stdin_and_errors(tmp_path: Path) -> None:
    stream = io.BytesIO(b'{"id": "a", "text": "x"}\n{"id": "b", "text": "y"}\n')
    assert [r["id"] for r in read_corpus("-", stdin=stream)] == ["a", "b"]
    with pytest.raises(DedupError):
        detect_format(tmp_path / "corpus.xyz")
    with pytest.raises(FileNotFoundError):
        list(read_corpus(tmp_path / "missing.jsonl"))


def test_streams_lazily(tmp_path: Path) -> None:
    p = tmp_path / "c.jsonl"
    p.write_text("\n".join(json.dumps({"id": str(i), "text": f"t {i}"}) for i in range(5000)), encoding="utf-8")
    it = read_corpus(p)
    assert next(it)["id"] == "0"


def test_pipeline_dedup_counts(tmp_path: Path) -> None:
    from dedup import Index

    body = " ".join(f"word{i}" for i in range(60))
    recs = [
        {"id": "a", "text": body, "date": "2020-02-01"},
        {"id": "b", "text": body + " extra words at the end", "date": "2020-01-01"},
        {"id": "c", "text": "something else entirely different from the rest of them all"},
        {"id": "d", "text": "   "},  # empty: skipped by the index
        {"id": "a", "text": "duplicate id"},  # duplicate: skipped
    ]
    p = tmp_path / "c.jsonl"
    write_records(p, recs)
    idx = Index()
    step = IndexStep(idx)
    passed = list(Pipeline([ReadStep(p), step]).run())
    assert [r["id"] for r in passed] == ["a", "b", "c"]
    assert step.report.n_skipped == 2
    for keep, winner in (("first", "a"), ("earliest", "b"), ("longest", "b")):
        dropped: list[dict] = []
        kept = list(dedup_records(passed, idx, keep, on_dropped=dropped.append))
        assert len(kept) + len(dropped) == 3
        assert winner in {r["id"] for r in kept}
        assert dropped[0]["dedup"]["dropped_in_favour_of"] == winner
    assert plan_dedup(idx).dropped["b"]["cluster"] == 0


def _para(tag: str, n: int = 40) -> str:
    return " ".join(f"{tag}{i}" for i in range(n)) + "."


def test_dedup_drops_only_near_copies_of_kept_documents():
    """A chain A~B~C with A and C unrelated: B goes (it copies A), C stays (its copy, B, is gone)."""
    p1, p2, p3, p4 = _para("alpha"), _para("beta"), _para("gamma"), _para("delta")
    idx = Index()
    idx.add_many([("A", f"{p1}\n\n{p2}"), ("B", f"{p1}\n\n{p2}\n\n{p3}\n\n{p4}"), ("C", f"{p3}\n\n{p4}")])
    assert [c.doc_ids for c in idx.clusters()] == [("A", "B", "C")]
    plan = plan_dedup(idx, "first")
    assert set(plan.dropped) == {"B"}
    assert plan.dropped["B"]["dropped_in_favour_of"] == "A" and plan.dropped["B"]["score"] == 1.0
    # keep the longest: B is kept, and both A and C are its near-copies
    plan = plan_dedup(idx, "longest")
    assert set(plan.dropped) == {"A", "C"}
    assert {v["dropped_in_favour_of"] for v in plan.dropped.values()} == {"B"}
    # a document that shares only part of itself with a kept one stays
    idx.add("D", f"{p1}\n\n" + "\n\n".join(_para(f"own{k}x") for k in range(4)))
    assert "D" not in plan_dedup(idx, "first").dropped
    with pytest.raises(InvalidParameterError):
        plan_dedup(idx, "first", min_score=0.0)
