"""The dedup command line, run in-process through main() (plus one real console-script run)."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dedup.cli import build_parser, main

COMMANDS = ["run", "index", "pairs", "clusters", "query", "diff", "passages", "report", "synth", "dedup"]
BODY = " ".join(f"word{i}" for i in range(80))


def _jsonl(path: Path, recs: list[dict], extra: list[bytes] = ()) -> Path:  # type: ignore[assignment]
    lines = [json.dumps(r).encode() for r in recs] + list(extra)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("run") / "out"
    cap = io.StringIO()
    old = sys.stdout
    sys.stdout = cap
    try:
        assert main(["run", "--out", str(out), "--quiet"]) == 0
    finally:
        sys.stdout = old
    return out, cap.getvalue()


def test_run_on_bundled_sample(sample_run: tuple[Path, str]) -> None:
    out, text = sample_run
    assert "summary: documents=300" in text and "top clusters" in text
    summary = next(line for line in text.splitlines() if line.startswith("summary:"))
    for field in ("paragraphs=", "pairs=", "clusters=", "boilerplate=", "skipped=0", "time=", "docs/s=", "MB/s="):
        assert field in summary, field
    clusters = [json.loads(x) for x in (out / "clusters.jsonl").read_text().splitlines()]
    pairs = [json.loads(x) for x in (out / "pairs.jsonl").read_text().splitlines()]
    boiler = [json.loads(x) for x in (out / "boilerplate.jsonl").read_text().splitlines()]
    assert clusters and pairs and boiler
    assert clusters[0]["size"] >= 2 and clusters[0]["doc_ids"]
    para = pairs[0]["paragraphs"][0]
    assert {"a_start", "a_end", "b_start", "b_end", "similarity"} <= set(para)
    assert boiler[0]["occurrences"][0]["end"] > boiler[0]["occurrences"][0]["start"]
    assert (out / "index").is_dir()
    if (out / "report.html").exists():
        assert "<!DOCTYPE html>" in (out / "report.html").read_text()


def test_index_commands(sample_run: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ix = sample_run[0] / "index"
    assert main(["pairs", "--index", str(ix), "--out", str(tmp_path / "p.jsonl"), "-q"]) == 0
    assert (tmp_path / "p.jsonl").read_text() == (sample_run[0] / "pairs.jsonl").read_text()
    assert main(["clusters", "--index", str(ix)]) == 0
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    q = tmp_path / "q.txt"
    from dedup import Index

    q.write_text(Index.load(ix).text(first["doc_ids"][0]), encoding="utf-8")
    assert main(["query", "--index", str(ix), str(q)]) == 0
    assert first["doc_ids"][0] in capsys.readouterr().out
    assert main(["pairs", "--index", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("dedup: error:") and "\n" not in err


def test_query_a_corpus(sample_run: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dedup import Index

    ix = sample_run[0] / "index"
    idx = Index.load(ix)
    ids = list(idx)
    recs = [
        {"id": "q1", "text": idx.text(ids[3])},
        {"id": "q2", "text": "Nothing here was ever printed by anyone, said nobody at all today."},
        {"id": "q3", "text": " ... "},  # no word character: reported, not a crash
        {"id": "q4", "text": idx.text(ids[40])[:2000]},
    ]
    corpus = _jsonl(tmp_path / "queries.jsonl", recs)
    out = tmp_path / "matches.jsonl"
    assert main(["query", "--index", str(ix), "--corpus", str(corpus), "--out", str(out), "--limit", "3"]) == 0
    err = capsys.readouterr().err
    assert "1 bad input records skipped" in err and "'q3'" in err and "3 queries, 2 with matches" in err
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["query_id"] for g in got] == ["q1", "q2", "q4"]
    for g, rec in zip(got, [recs[0], recs[1], recs[3]]):
        want = idx.query(rec["text"], limit=3)
        assert [m["doc_id"] for m in g["matches"]] == [m.doc_id for m in want]
        assert [m["score"] for m in g["matches"]] == [round(m.score, 4) for m in want]
        for m, w in zip(g["matches"], want):
            assert [(p["a_start"], p["a_end"], p["b_start"], p["b_end"]) for p in m["paragraphs"]] == [
                (p.a_start, p.a_end, p.b_start, p.b_end) for p in w.paragraphs
            ]
    assert got[0]["matches"][0]["doc_id"] == ids[3] and got[1]["matches"] == []
    # to stdout, failing at the first bad record when asked
    assert main(["query", "--index", str(ix), "--corpus", str(corpus), "--on-error", "fail", "-q"]) == 1
    assert "no word character" in capsys.readouterr().err
    # exactly one of TEXTFILE and --corpus
    assert main(["query", "--index", str(ix)]) == 1
    assert main(["query", "--index", str(ix), str(corpus), "--corpus", str(corpus)]) == 1
    assert "either TEXTFILE" in capsys.readouterr().err


def test_index_adds_to_existing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _jsonl(tmp_path / "a.jsonl", [{"id": "a", "text": BODY}])
    b = _jsonl(tmp_path / "b.jsonl", [{"id": "b", "text": BODY + " more"}])
    ix = str(tmp_path / "ix")
    assert main(["index", str(a), "--index", ix, "-q"]) == 0
    assert main(["index", str(b), "--index", ix, "-q"]) == 0
    assert "2 in total" in capsys.readouterr().out
    assert main(["pairs", "--index", ix]) == 0
    pair = json.loads(capsys.readouterr().out)
    assert (pair["a"], pair["b"]) == ("a", "b")


def test_index_analyze_saves_the_analysis(
    synth_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dedup import Index

    plain, analysed = str(tmp_path / "plain"), str(tmp_path / "analysed")
    assert main(["index", str(synth_corpus), "--index", plain, "-q"]) == 0
    assert main(["index", str(synth_corpus), "--index", analysed, "--analyze", "-q"]) == 0
    assert not Index.load(plain).analyzed and Index.load(analysed).analyzed
    capsys.readouterr()
    assert main(["pairs", "--index", plain]) == 0
    out_plain = capsys.readouterr()
    assert "saved without its corpus analysis" in out_plain.err and "--analyze" in out_plain.err
    assert main(["pairs", "--index", analysed]) == 0
    out_analysed = capsys.readouterr()
    assert "corpus analysis" not in out_analysed.err
    assert out_analysed.out == out_plain.out and out_plain.out.strip()
    # re-running with nothing new keeps the analysis; adding documents drops the stale one
    assert main(["index", str(synth_corpus), "--index", analysed, "-q"]) == 0
    assert Index.load(analysed).analyzed
    extra = _jsonl(tmp_path / "extra.jsonl", [{"id": "extra", "text": BODY}])
    assert main(["index", str(extra), "--index", analysed, "-q"]) == 0
    assert not Index.load(analysed).analyzed


def test_index_query_table_and_no_verify(
    synth_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dedup import Index

    ix = tmp_path / "ix"
    assert main(["index", str(synth_corpus), "--index", str(ix), "--query-table", "-q"]) == 0
    loaded = Index.load(ix)
    vdir = ix / (ix / "CURRENT").read_text().strip()
    manifest = json.loads((vdir / "manifest.json").read_text())
    assert loaded.analyzed and "query_table" in manifest  # --query-table implies --analyze
    q = tmp_path / "q.txt"
    q.write_text(loaded.text(list(loaded)[9]), encoding="utf-8")
    capsys.readouterr()
    assert main(["query", "--index", str(ix), str(q), "--json"]) == 0
    want = capsys.readouterr().out
    assert list(loaded)[9] in want
    # a flipped byte in the texts: refused by default, read as is with --no-verify
    data = bytearray((vdir / "texts.bin").read_bytes())
    data[-2] ^= 0x01
    (vdir / "texts.bin").write_bytes(bytes(data))
    assert main(["query", "--index", str(ix), str(q), "--json"]) == 1
    assert "checksum" in capsys.readouterr().err
    assert main(["query", "--index", str(ix), str(q), "--json", "--no-verify"]) == 0
    assert capsys.readouterr().out == want


def test_dedup_counts_add_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recs = [
        {"id": "a", "text": BODY, "date": "2021"},
        {"id": "b", "text": BODY + " tail", "date": "2020"},
        {"id": "c", "text": "other story with nothing in common at all here"},
        {"id": "e", "text": "  "},
    ]
    corpus = _jsonl(tmp_path / "c.jsonl", recs, [b"{bad json"])
    kept, dropped = tmp_path / "k.jsonl.gz", tmp_path / "d.jsonl.gz"
    args = ["dedup", str(corpus), "--out", str(kept), "--dropped", str(dropped), "--keep", "earliest", "-q"]
    assert main(args) == 0
    out = capsys.readouterr().out
    k = [json.loads(x) for x in gzip.decompress(kept.read_bytes()).splitlines()]
    d = [json.loads(x) for x in gzip.decompress(dropped.read_bytes()).splitlines()]
    assert len(k) + len(d) == len(recs) + 1 - 2  # minus the bad line and the empty text
    assert [r["id"] for r in d] == ["a"] and d[0]["dedup"]["dropped_in_favour_of"] == "b"
    assert "skipped 2 bad records" in out


def test_bad_lines_reported_and_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _jsonl(tmp_path / "c.jsonl", [{"id": "a", "text": BODY}], [b'{"id": "x"}', b"nope"])
    assert main(["run", str(corpus), "--out", str(tmp_path / "o")]) == 0
    cap = capsys.readouterr()
    assert f"{corpus}:2: no 'text' field" in cap.err and f"{corpus}:3: invalid JSON" in cap.err
    assert "skipped=2" in cap.out
    assert main(["run", str(corpus), "--out", str(tmp_path / "o2"), "--on-error", "fail"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"dedup: error: {corpus}:2: no 'text' field"


def test_fields_and_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    data = "\n".join(json.dumps({"key": k, "body": BODY + k}) for k in ("x", "y")) + "\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.encode())))
    args = ["run", "-", "--id-field", "key", "--text-field", "body", "--out", str(tmp_path / "o"), "-q"]
    assert main(args) == 0
    assert "documents=2" in capsys.readouterr().out
    pair = json.loads((tmp_path / "o" / "pairs.jsonl").read_text())
    assert (pair["a"], pair["b"]) == ("x", "y")


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help(cmd: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main([cmd, "--help"])
    assert e.value.code == 0
    assert "usage: dedup " + cmd in capsys.readouterr().out


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "run" in capsys.readouterr().out
    assert set(COMMANDS) <= set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]


def test_synth_then_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.jsonl.gz"
    assert main(["synth", "12", str(out), "--seed", "3", "-q"]) == 0
    assert len(gzip.decompress(out.read_bytes()).splitlines()) == 12
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(BODY, encoding="utf-8")
    b.write_text(BODY.replace("word40", "changed"), encoding="utf-8")
    try:
        rc = main(["diff", str(a), str(b), "--no-color"])
    except ImportError:
        pytest.skip("dedup.align/render not importable yet")
    assert rc == 0
    assert "passage" in capsys.readouterr().out


def test_console_script(tmp_path: Path) -> None:
    exe = shutil.which("dedup", path=os.path.dirname(sys.executable)) or shutil.which("dedup")
    cmd = [exe] if exe else [sys.executable, "-m", "dedup.cli"]
    r = subprocess.run(
        [*cmd, "run", "--out", str(tmp_path / "o"), "-q"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert "summary: documents=300" in r.stdout
    assert r.stderr == ""
    r = subprocess.run([sys.executable, "-m", "dedup.cli", "pairs", "--index", str(tmp_path / "x")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stderr.count("\n") == 1


@pytest.fixture(scope="module")
def synth_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dedup.synth import SynthConfig, write_corpus

    path = tmp_path_factory.mktemp("synth") / "c.jsonl.gz"
    write_corpus(path, SynthConfig(n_articles=1000, seed=4))
    return path


def _index_cmd(corpus: Path, ix: Path) -> list[str]:
    cmd = [sys.executable, "-m", "dedup.cli", "index", str(corpus), "--index", str(ix)]
    return cmd + ["--checkpoint-every", "100", "-q"]


def _start_and_signal(corpus: Path, ix: Path, sig: int) -> subprocess.Popen[bytes]:
    """Start `dedup index`, and send ``sig`` as soon as its first checkpoint is on disk."""
    import signal as _signal
    import time

    def default_sigint() -> None:
        # a shell running us in the background may have set SIGINT to "ignore", which the child
        # would inherit: give it the default disposition so Python turns SIGINT into Ctrl-C
        _signal.signal(_signal.SIGINT, _signal.SIG_DFL)

    proc = subprocess.Popen(
        _index_cmd(corpus, ix), stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=default_sigint
    )
    deadline = time.monotonic() + 120
    while not (ix / "CURRENT").exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(_signal.Signals(sig))
    proc.wait(timeout=120)
    return proc


def _pairs_output(ix: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "dedup.cli", "pairs", "--index", str(ix)], capture_output=True, check=True, text=True
    )
    return out.stdout


def test_killed_index_resumes_to_the_same_result(synth_corpus: Path, tmp_path: Path) -> None:
    import signal

    from dedup import Index

    full = tmp_path / "full"
    subprocess.run(_index_cmd(synth_corpus, full), check=True, capture_output=True)
    killed = tmp_path / "killed"
    proc = _start_and_signal(synth_corpus, killed, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    partial = len(Index.load(killed))
    assert 0 < partial < 1000  # killed mid-run, and what was saved loads
    res = subprocess.run(_index_cmd(synth_corpus, killed), capture_output=True, text=True, check=True)
    assert f"{partial} already indexed" in res.stdout
    assert len(Index.load(killed)) == 1000
    assert _pairs_output(killed) == _pairs_output(full)


def test_interrupted_index_exits_130_and_keeps_a_loadable_checkpoint(synth_corpus: Path, tmp_path: Path) -> None:
    import signal

    from dedup import Index

    ix = tmp_path / "ix"
    proc = _start_and_signal(synth_corpus, ix, signal.SIGINT)
    assert proc.returncode == 130
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    assert "resume" in err
    n = len(Index.load(ix))
    assert 0 < n <= 1000 and f"holds {n} documents" in err  # the work done up to Ctrl-C is saved


def test_checkpoint_every_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _jsonl(tmp_path / "a.jsonl", [{"id": "a", "text": BODY}])
    assert main(["index", str(a), "--index", str(tmp_path / "ix"), "--checkpoint-every", "0", "-q"]) == 1
    assert "checkpoint-every" in capsys.readouterr().err


def test_report_command_writes_the_report_of_an_index(sample_run: tuple[Path, str], tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert main(["report", "--index", str(sample_run[0] / "index"), "--out", str(out), "-q"]) == 0
    page = out.read_text(encoding="utf-8")
    clusters = (sample_run[0] / "clusters.jsonl").read_text().splitlines()
    assert page.count('<details class="cluster"') == len(clusters) > 0
    assert main(["report", "--index", str(tmp_path / "nope"), "--out", str(out), "-q"]) == 1


def test_run_with_work_dir_gives_the_same_output(sample_run: tuple[Path, str], tmp_path: Path) -> None:
    work = tmp_path / "scratch"
    out = tmp_path / "out"
    assert main(["run", "--out", str(out), "--work-dir", str(work), "--workers", "2", "--quiet"]) == 0
    for name in ("pairs.jsonl", "clusters.jsonl", "boilerplate.jsonl"):
        assert (out / name).read_text() == (sample_run[0] / name).read_text(), name
    assert work.is_dir() and not any(work.iterdir())  # the private work files are gone


def test_damaged_gzip_corpus_is_an_error_message(tmp_path, capsys):
    """A truncated or corrupt .gz corpus ends the command with a message, not a traceback."""
    import gzip

    data = gzip.compress(b"".join(b'{"id": "%d", "text": "word %d here"}\n' % (i, i) for i in range(3000)))
    flipped = data[:60] + bytes([data[60] ^ 0xFF]) + data[61:]
    for name, blob in (("cut.jsonl.gz", data[:-20]), ("flip.jsonl.gz", flipped)):
        p = tmp_path / name
        p.write_bytes(blob)
        assert main(["index", str(p), "--index", str(tmp_path / f"ix-{name}"), "-q"]) == 1
        err = capsys.readouterr().err
        assert "error:" in err and name in err and "damaged or truncated" in err and "Traceback" not in err
