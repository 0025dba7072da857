"""Command line interface: ``dedup run``, ``index``, ``pairs``, ``clusters``, ``query``, ``diff``,
``passages``, ``report``, ``synth`` and ``dedup``. See docs/cli.md.

Exit codes: 0 success; 1 a dedup, input or file error (one line on stderr); 2 bad usage.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import DedupError
from .index import AddReport, Index
from .io import BadRecord, ErrorLog, read_corpus, write_records
from .pipeline import DEDUP_MIN_SCORE, IndexStep, plan_dedup
from .results import Boilerplate, Cluster, DocPair

__all__ = ["main", "build_parser"]

PROG = "dedup"


class _Ctx:
    """Per-command state: options, output streams, timing, counters for the summary."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quiet: bool = bool(getattr(args, "quiet", False))
        self.t0 = time.perf_counter()
        self.errors = ErrorLog()
        self.report = AddReport()
        self.input_bytes = 0  # UTF-8 bytes of the texts read

    @property
    def progress(self) -> bool:
        return not self.quiet and sys.stderr.isatty()

    def bar(self, it: Iterable[Any], desc: str, unit: str = "doc") -> Iterable[Any]:
        if not self.progress:
            return it
        try:
            from tqdm import tqdm
        except ImportError:
            return it
        return tqdm(it, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=False)

    def info(self, msg: str) -> None:
        if not self.quiet:
            print(msg, file=sys.stderr)

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0


# ---------------------------------------------------------------------------- helpers


def _sample_path() -> str:
    return str(resources.files("dedup") / "data" / "sample.jsonl.gz")


def _read(ctx: _Ctx, corpus: str) -> Iterator[dict[str, Any]]:
    a = ctx.args
    for rec in read_corpus(
        corpus,
        id_field=a.id_field,
        text_field=a.text_field,
        fmt=a.format,
        on_error=a.on_error,
        errors=ctx.errors,
    ):
        text = rec.get("text")
        if isinstance(text, str):
            ctx.input_bytes += len(text.encode("utf-8", "surrogatepass"))
        yield rec


def _new_index(ctx: _Ctx) -> Index:
    t = ctx.args.threshold
    work = getattr(ctx.args, "work_dir", None)
    return Index(threshold=0.5 if t is None else t, directory=work, workers=ctx.args.workers)


def _build(ctx: _Ctx, corpus: str, index: Index | None = None) -> Index:
    idx = index if index is not None else _new_index(ctx)
    on_error = "raise" if ctx.args.on_error == "fail" else "skip"
    step = IndexStep(idx, on_error=on_error, workers=ctx.args.workers, batch_size=20_000)
    for _ in ctx.bar(step.run(_read(ctx, corpus)), "indexing"):
        pass
    ctx.report = step.report
    return idx


def _load(ctx: _Ctx, path: str) -> Index:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no index at {path} (build one with: dedup index CORPUS --index {path})")
    idx = Index.load(p, verify=not ctx.args.no_verify)
    idx.workers = os.cpu_count() or 1  # as the index commands' default: results are the same for any number
    if not idx.analyzed and len(idx):
        ctx.info(
            f"note: {path} was saved without its corpus analysis; analysing its {len(idx)} documents "
            f"first (build it with 'dedup index --analyze' to skip this step)"
        )
    return idx


def _has_index(path: str) -> bool:
    p = Path(path)
    return p.is_dir() and any(p.iterdir())


def _pair_record(p: DocPair) -> dict[str, Any]:
    return {
        "a": p.a,
        "b": p.b,
        "score": round(p.score, 4),
        "a_coverage": round(p.a_coverage, 4),
        "b_coverage": round(p.b_coverage, 4),
        "paragraphs": [
            {
                "a_index": m.a_index,
                "b_index": m.b_index,
                "a_start": m.a_start,
                "a_end": m.a_end,
                "b_start": m.b_start,
                "b_end": m.b_end,
                "similarity": round(float(m.similarity), 4),
                "exact": m.exact,
                "boilerplate": m.boilerplate,
            }
            for m in p.paragraphs
        ],
    }


def _cluster_record(n: int, c: Cluster) -> dict[str, Any]:
    return {
        "cluster": n,
        "size": len(c.doc_ids),
        "pairs": c.pairs,
        "score": round(c.score, 4),
        "doc_ids": list(c.doc_ids),
    }


def _boiler_record(b: Boilerplate) -> dict[str, Any]:
    return {
        "text": b.text,
        "doc_count": b.doc_count,
        "coverage": round(b.coverage, 4),
        "occurrences": [
            {"doc_id": o.doc_id, "paragraph": o.paragraph, "start": o.start, "end": o.end} for o in b.occurrences
        ],
    }


def _snip(text: str, n: int = 70) -> str:
    s = " ".join(text.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _label(idx: Index, doc_id: str) -> str:
    title = idx.metadata(doc_id).get("title")
    return _snip(str(title) if title else idx.text(doc_id), 60)


def _n_paragraphs(idx: Index) -> int:
    return idx.num_paragraphs


def _summary(ctx: _Ctx, idx: Index, **counts: int) -> str:
    t = ctx.elapsed()
    docs = len(idx)
    parts = [f"documents={docs}", f"paragraphs={_n_paragraphs(idx)}"]
    parts += [f"{k}={v}" for k, v in counts.items()]
    skipped = ctx.errors.count + ctx.report.n_skipped
    mb = ctx.input_bytes / 1e6
    parts += [f"skipped={skipped}", f"time={t:.2f}s", f"docs/s={docs / t if t > 0 else 0:.0f}"]
    if mb:
        parts += [f"input={mb:.1f}MB", f"MB/s={mb / t if t > 0 else 0:.2f}"]
    return "summary: " + " ".join(parts)


def _report_skipped(ctx: _Ctx) -> None:
    if ctx.errors.count:
        ctx.info(f"{ctx.errors.count} bad input records skipped:")
        for line in ctx.errors.summary():
            ctx.info(f"  {line}")
    if ctx.report.n_skipped:
        ctx.info(f"{ctx.report.n_skipped} records not indexed:")
        for doc_id, why in ctx.report.skipped[:5]:
            ctx.info(f"  {doc_id}: {why}")
        if ctx.report.n_skipped > 5:
            ctx.info(f"  ... and {ctx.report.n_skipped - 5} more")


def _write_jsonl(path: str, records: Iterable[dict[str, Any]]) -> int:
    return write_records(path, records)


# ---------------------------------------------------------------------------- commands


def cmd_run(ctx: _Ctx) -> int:
    a = ctx.args
    corpus = a.corpus or _sample_path()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    idx = _build(ctx, corpus)
    pairs = list(ctx.bar(idx.pairs(), "pairs", "pair"))
    clusters = idx.clusters()
    boiler = idx.boilerplate()
    _write_jsonl(str(out / "pairs.jsonl"), (_pair_record(p) for p in pairs))
    _write_jsonl(str(out / "clusters.jsonl"), (_cluster_record(n, c) for n, c in enumerate(clusters)))
    _write_jsonl(str(out / "boilerplate.jsonl"), (_boiler_record(b) for b in boiler))
    idx.save(out / "index")
    report = _write_report(ctx, idx, out / "report.html", pairs, clusters, boiler)
    _report_skipped(ctx)

    print(f"corpus: {corpus}")
    print(_summary(ctx, idx, pairs=len(pairs), clusters=len(clusters), boilerplate=len(boiler)))
    if clusters:
        print(f"top clusters (of {len(clusters)}):")
        for n, c in enumerate(clusters[:5]):
            print(f"  #{n} {len(c.doc_ids)} docs, score {c.score:.2f}: {c.doc_ids[0]} \"{_label(idx, c.doc_ids[0])}\"")
    if pairs:
        top = sorted(pairs, key=lambda p: (-p.score, p.a, p.b))[:5]
        print(f"top pairs (of {len(pairs)}):")
        for p in top:
            m = max(p.paragraphs, key=lambda x: x.a_end - x.a_start) if p.paragraphs else None
            snippet = _snip(idx.text(p.a)[m.a_start : m.a_end]) if m else ""
            print(f"  {p.score:.2f} {p.a} ~ {p.b} ({len(p.paragraphs)} paragraphs): \"{snippet}\"")
    if boiler:
        print(f"top boilerplate (of {len(boiler)}):")
        for b in boiler[:3]:
            print(f"  {b.doc_count} docs: \"{_snip(b.text)}\"")
    written = ["pairs.jsonl", "clusters.jsonl", "boilerplate.jsonl", "index/"] + (["report.html"] if report else [])
    print(f"wrote {out}/{{{','.join(written)}}}")
    return 0


def _write_report(
    ctx: _Ctx, idx: Index, path: Path, pairs: list[DocPair], clusters: list[Cluster], boiler: list[Boilerplate]
) -> bool:
    from .report import write_report

    summary = _summary(ctx, idx, pairs=len(pairs), clusters=len(clusters), boilerplate=len(boiler))
    write_report(idx, path, pairs, clusters, boiler, summary=summary.removeprefix("summary: "))
    return True


def cmd_report(ctx: _Ctx) -> int:
    a = ctx.args
    idx = _load(ctx, a.index)
    pairs = list(ctx.bar(idx.pairs(threshold=a.threshold), "pairs", "pair"))
    clusters = idx.clusters(threshold=a.threshold)
    boiler = idx.boilerplate()
    _write_report(ctx, idx, Path(a.out), pairs, clusters, boiler)
    ctx.info(f"wrote {a.out}: {len(clusters)} clusters, {len(pairs)} pairs, {len(boiler)} boilerplate texts")
    return 0


def cmd_index(ctx: _Ctx) -> int:
    """Index a corpus into DIR, saving a checkpoint every ``--checkpoint-every`` new documents.

    Every save is atomic, so a crash or Ctrl-C leaves the last checkpoint loadable; re-running the
    same command resumes: records whose id is already indexed are skipped (counted as already
    indexed), without featurizing them again.
    """
    a = ctx.args
    if a.checkpoint_every < 1:
        raise DedupError(f"--checkpoint-every must be >= 1, got {a.checkpoint_every}")
    existing = _has_index(a.index)
    idx = Index.load(a.index, mmap=False) if existing else _new_index(ctx)
    idx.workers = a.workers or os.cpu_count() or 1
    before = len(idx)
    already = 0
    saved = len(idx)

    def fresh() -> Iterator[dict[str, Any]]:
        nonlocal already
        for rec in _read(ctx, a.corpus):
            if rec.get("id") in idx:
                already += 1
                continue
            yield rec

    step = IndexStep(
        idx,
        on_error="raise" if a.on_error == "fail" else "skip",
        workers=a.workers,
        batch_size=min(a.checkpoint_every, 20_000),
    )
    # Ctrl-C only sets a flag, checked between batches: a KeyboardInterrupt raised at an arbitrary
    # point (say, inside a fork handler of the worker pool) can be swallowed by Python as an
    # "exception ignored", and one raised mid-batch would leave the in-memory index half-updated.
    stop: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: stop.append(signum))
    try:
        for _ in ctx.bar(step.run(fresh()), "indexing"):
            if stop:
                break
            if len(idx) - saved >= a.checkpoint_every:
                idx.save(a.index)
                saved = len(idx)
        # the last save: with the corpus analysis when asked, so later commands start at once
        idx.save(a.index, analyze=a.analyze and not stop, query_table=a.query_table and not stop)
        saved = len(idx)
    finally:
        signal.signal(signal.SIGINT, previous)
    if stop:
        print(
            f"{PROG}: interrupted; {a.index} holds {saved} documents; run the same command again to resume",
            file=sys.stderr,
        )
        return 130
    ctx.report = step.report
    _report_skipped(ctx)
    verb = "updated" if existing else "created"
    note = f" ({already} already indexed, skipped)" if already else ""
    print(f"{verb} index {a.index}: added {len(idx) - before} documents{note}, {len(idx)} in total")
    print(_summary(ctx, idx))
    return 0


def cmd_pairs(ctx: _Ctx) -> int:
    a = ctx.args
    idx = _load(ctx, a.index)
    n = write_records(a.out or "-", (_pair_record(p) for p in idx.pairs(threshold=a.threshold, min_score=a.min_score)))
    if a.out:
        ctx.info(f"wrote {n} pairs to {a.out}")
    return 0


def cmd_clusters(ctx: _Ctx) -> int:
    a = ctx.args
    idx = _load(ctx, a.index)
    cl = idx.clusters(threshold=a.threshold, min_score=a.min_score)
    n = write_records(a.out or "-", (_cluster_record(i, c) for i, c in enumerate(cl)))
    if a.out:
        ctx.info(f"wrote {n} clusters to {a.out}")
    return 0


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.buffer.read().decode("utf-8")
    return Path(path).read_bytes().decode("utf-8")


def _match_record(m: Any) -> dict[str, Any]:
    return {
        "doc_id": m.doc_id,
        "score": round(m.score, 4),
        "paragraphs": [
            {"a_start": p.a_start, "a_end": p.a_end, "b_start": p.b_start, "b_end": p.b_end,
             "similarity": round(float(p.similarity), 4)}
            for p in m.paragraphs
        ],
    }


def cmd_query(ctx: _Ctx) -> int:
    a = ctx.args
    if (a.textfile is None) == (a.corpus is None):
        raise DedupError("give either TEXTFILE (one text) or --corpus CORPUS (one query per record)")
    if a.limit < 1:
        raise DedupError(f"--limit must be >= 1, got {a.limit}")
    idx = _load(ctx, a.index)
    if a.corpus is not None:
        return _query_corpus(ctx, idx)
    text = _read_text(a.textfile)
    matches = idx.query(text, threshold=a.threshold)[: a.limit]
    if a.json:
        for m in matches:
            print(json.dumps(_match_record(m), ensure_ascii=False))
        return 0
    if not matches:
        print("no reuse found")
    for m in matches:
        p = m.paragraphs[0] if m.paragraphs else None
        snippet = _snip(idx.text(m.doc_id)[p.b_start : p.b_end]) if p else ""
        print(f"{m.score:.2f} {m.doc_id} ({len(m.paragraphs)} paragraphs): \"{snippet}\"")
    return 0


def _query_corpus(ctx: _Ctx, idx: Index) -> int:
    """One record per query document: its id and its matches (offsets into the query text as
    ``a_*``, into the indexed document as ``b_*``). The index is loaded and its lookup table built
    once for all the queries."""
    a = ctx.args
    n_queries = n_found = 0

    def records() -> Iterator[dict[str, Any]]:
        nonlocal n_queries, n_found
        for rec in ctx.bar(_read(ctx, a.corpus), "querying"):
            try:
                matches = idx.query(rec["text"], threshold=a.threshold, limit=a.limit)
            except DedupError as exc:  # a record with no word character, say: counted, reported
                if a.on_error == "fail":
                    raise
                ctx.errors.add(BadRecord(a.corpus, 0, f"record {rec['id']!r}: {exc}"))
                continue
            n_queries += 1
            n_found += bool(matches)
            yield {"query_id": rec["id"], "matches": [_match_record(m) for m in matches]}

    write_records(a.out or "-", records())
    _report_skipped(ctx)
    wrote = f"; wrote {a.out}" if a.out else ""
    ctx.info(f"{n_queries} queries, {n_found} with matches, in {ctx.elapsed():.1f} s{wrote}")
    return 0


def _show_passages(a_text: str, b_text: str, passages: list[Any], color: bool | None) -> None:
    from .render import format_passages

    use_color = sys.stdout.isatty() if color is None else color
    if not passages:
        print("no aligned passages")
        return
    print(format_passages(a_text, b_text, passages, color=use_color))


def cmd_diff(ctx: _Ctx) -> int:
    from .align import align

    a_text, b_text = _read_text(ctx.args.a), _read_text(ctx.args.b)
    _show_passages(a_text, b_text, align(a_text, b_text), ctx.args.color)
    return 0


def cmd_passages(ctx: _Ctx) -> int:
    a = ctx.args
    idx = _load(ctx, a.index)
    ps = idx.passages(a.id_a, a.id_b, include_boilerplate=a.include_boilerplate)
    _show_passages(idx.text(a.id_a), idx.text(a.id_b), ps, a.color)
    return 0


def cmd_synth(ctx: _Ctx) -> int:
    from .synth import SynthConfig, write_corpus

    a = ctx.args
    info = write_corpus(a.out, SynthConfig(n_articles=a.n, seed=a.seed))
    print(f"wrote {a.n} articles to {a.out}")
    if isinstance(info, dict) and not ctx.quiet:
        keys = ", ".join(f"{k}={v}" for k, v in info.items() if isinstance(v, (int, float, str)))
        if keys:
            ctx.info(keys)
    return 0


def cmd_dedup(ctx: _Ctx) -> int:
    a = ctx.args
    idx = _build(ctx, a.corpus)
    plan = plan_dedup(idx, a.keep, threshold=a.threshold, min_score=a.min_score)
    n_in = len(idx)

    def records() -> Iterator[dict[str, Any]]:
        for d in idx:
            rec = idx.metadata(d)
            rec = {"id": d, "text": idx.text(d), **{k: v for k, v in rec.items() if k not in ("id", "text")}}
            yield rec

    dropped: list[dict[str, Any]] = []

    def kept() -> Iterator[dict[str, Any]]:
        for rec in records():
            why = plan.dropped.get(rec["id"])
            if why is None:
                yield rec
            else:
                rec["dedup"] = why
                dropped.append(rec) if a.dropped else dropped.append({"id": rec["id"]})

    n_kept = write_records(a.out, kept())
    if a.dropped:
        write_records(a.dropped, dropped)
    _report_skipped(ctx)
    skipped = ctx.errors.count + ctx.report.n_skipped
    print(
        f"kept {n_kept}, dropped {len(dropped)} in {len(plan.clusters)} clusters "
        f"(indexed {n_in}; skipped {skipped} bad records; kept+dropped={n_kept + len(dropped)})"
    )
    print(_summary(ctx, idx, clusters=len(plan.clusters), kept=n_kept, dropped=len(dropped)))
    return 0


# ---------------------------------------------------------------------------- parser


def _corpus_options(g: Any) -> None:
    """Options that say how to read a corpus (for a parser or an argument group)."""
    g.add_argument("--id-field", default="id", help="record field holding the document id (default: id)")
    g.add_argument("--text-field", default="text", help="record field holding the text (default: text)")
    g.add_argument(
        "--format", choices=["jsonl", "parquet", "csv", "txt"], default=None,
        help="corpus format (default: from the file name; a directory means .txt files)",
    )
    g.add_argument(
        "--on-error", choices=["skip", "fail"], default="skip",
        help="bad records: skip and report them with file:line (default), or fail at the first",
    )


def _loaded_index_args(p: argparse.ArgumentParser) -> None:
    """``--index DIR`` of the commands that read a saved index, and how to load it."""
    p.add_argument("--index", required=True, metavar="DIR", help="index directory")
    p.add_argument(
        "--no-verify", action="store_true",
        help="skip the checksums of the index files (sizes and structure are still checked): "
        "reading a million-article index for them takes about 40 s",
    )


def _common(index_opts: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("common options")
    if index_opts:
        _corpus_options(g)
        g.add_argument(
            "--workers", type=int, default=0,
            help="processes that featurize batches while indexing and share out the LSH bands when "
            "finding pairs (default 0 = one per CPU; results are the same for any number)",
        )
        g.add_argument(
            "--work-dir", default=None, metavar="DIR",
            help="keep signatures, shingle hashes and texts in memory-mapped files under DIR instead of "
            "RAM, for corpora larger than memory (a private subdirectory, removed at exit)",
        )
    g.add_argument(
        "--threshold", type=float, default=None,
        help="paragraph Jaccard similarity threshold (default 0.5, or the index's own)",
    )
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bars or notes on stderr")
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Find, deduplicate and align text reuse in news corpora.",
        epilog="Run 'dedup run' with no arguments to try it on the bundled sample corpus.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"dedup {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _common()
    light = _common(index_opts=False)
    corpus_help = "corpus: .jsonl[.gz|.zst], .parquet, .csv, a directory of .txt files, or - for JSONL on stdin"

    p = sub.add_parser("run", parents=[common], help="index a corpus and write pairs, clusters, boilerplate, report",
                       description="Index CORPUS (default: the bundled 300-article sample) and write pairs.jsonl, "
                       "clusters.jsonl, boilerplate.jsonl, index/ and report.html to --out.")
    p.add_argument("corpus", nargs="?", default=None, metavar="CORPUS", help=corpus_help + " (default: bundled sample)")
    p.add_argument("--out", default="dedup-out", metavar="DIR", help="output directory (default: dedup-out)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("index", parents=[common], help="build an index, or add a corpus to an existing one",
                       description="Index CORPUS into DIR; adds to the index already in DIR if there is one.")
    p.add_argument("corpus", metavar="CORPUS", help=corpus_help)
    p.add_argument("--index", required=True, metavar="DIR", help="index directory")
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=20_000,
        metavar="N",
        help="save the index after every N new documents (default 20000); a killed run resumes from the last save",
    )
    p.add_argument(
        "--analyze",
        action="store_true",
        help="analyse the corpus (verified pairs, boilerplate) before the last save and store the result, "
        "so that pairs, clusters, query, passages and report on this index start at once",
    )
    p.add_argument(
        "--query-table",
        action="store_true",
        help="also store the lookup table of queries (implies --analyze; 8 bytes per unit and band, about "
        "10 GB at a million articles), so that 'dedup query' on this index does not build it first",
    )
    p.set_defaults(func=cmd_index)

    listings = (("pairs", cmd_pairs, "reused document pairs"), ("clusters", cmd_clusters, "reuse clusters"))
    for name, func, what in listings:
        p = sub.add_parser(name, parents=[light], help=f"write the {what} of an index as JSONL",
                           description=f"Write the {what} of an index as JSONL (stdout unless --out).")
        _loaded_index_args(p)
        p.add_argument("--out", default=None, metavar="FILE", help="output .jsonl[.gz] or .parquet (default: stdout)")
        p.add_argument("--min-score", type=float, default=0.0, help="drop pairs with a lower score (default 0)")
        p.set_defaults(func=func)

    p = sub.add_parser("query", parents=[light], help="find indexed documents that reuse a text",
                       description="Find indexed documents that share reused paragraphs with TEXTFILE (- for stdin).")
    _loaded_index_args(p)
    p.add_argument("textfile", nargs="?", default=None, metavar="TEXTFILE", help="UTF-8 text file, or - for stdin")
    p.add_argument(
        "--corpus", default=None, metavar="CORPUS",
        help="query every record of a corpus (formats as for 'index'; the index is loaded once) and write one "
        "JSON record per query: query_id and its matches",
    )
    p.add_argument(
        "--out", default=None, metavar="FILE", help="with --corpus: output .jsonl[.gz] or .parquet (default: stdout)"
    )
    p.add_argument("--limit", type=int, default=20, help="at most this many matches per query (default 20)")
    p.add_argument("--json", action="store_true", help="JSONL output with character offsets")
    _corpus_options(p)
    p.set_defaults(func=cmd_query)

    color = argparse.ArgumentParser(add_help=False)
    cg = color.add_mutually_exclusive_group()
    cg.add_argument("--color", dest="color", action="store_true", default=None, help="force ANSI colour")
    cg.add_argument("--no-color", dest="color", action="store_false", help="no colour (default when not a TTY)")

    p = sub.add_parser("diff", parents=[light, color], help="align two text files and print the reused passages",
                       description="Align two UTF-8 text files and print the reused passages with edits marked.")
    p.add_argument("a", metavar="A", help="first text file (- for stdin)")
    p.add_argument("b", metavar="B", help="second text file")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("passages", parents=[light, color], help="aligned passages between two indexed documents",
                       description="Print the aligned reused passages between two documents of an index.")
    _loaded_index_args(p)
    p.add_argument("id_a", metavar="ID_A")
    p.add_argument("id_b", metavar="ID_B")
    p.add_argument("--include-boilerplate", action="store_true", help="keep passages that are mostly boilerplate")
    p.set_defaults(func=cmd_passages)

    p = sub.add_parser("report", parents=[light], help="write the HTML report of an index",
                       description="Write a self-contained HTML report (clusters, pairs side by side, "
                       "boilerplate) of the index in DIR.")
    _loaded_index_args(p)
    p.add_argument("--out", default="report.html", metavar="FILE", help="report file (default: report.html)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("synth", parents=[light], help="generate a synthetic news corpus with ground truth",
                       description="Write N synthetic articles to OUT (.jsonl or .jsonl.gz), ground truth beside it.")
    p.add_argument("n", type=int, metavar="N", help="number of articles")
    p.add_argument("out", metavar="OUT", help="output file, .jsonl or .jsonl.gz")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("dedup", parents=[common], help="write a deduplicated corpus (one document per cluster)",
                       description="Keep one document per reuse cluster; write the kept records and optionally "
                       "the dropped ones with the reason.")
    p.add_argument("corpus", metavar="CORPUS", help=corpus_help)
    p.add_argument("--out", required=True, metavar="FILE", help="kept records: .jsonl[.gz|.zst] or .parquet")
    p.add_argument("--dropped", default=None, metavar="FILE", help="dropped records with a 'dedup' reason field")
    p.add_argument("--keep", choices=["first", "earliest", "longest"], default="first",
                   help="keep priority inside a cluster: corpus order (default), earliest 'date', longest text")
    p.add_argument("--min-score", type=float, default=DEDUP_MIN_SCORE, metavar="S",
                   help="drop a document when at least this share of it (or of the kept document, if shorter) "
                   f"is reused from a kept document (default {DEDUP_MIN_SCORE})")
    p.set_defaults(func=cmd_dedup)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    ctx = _Ctx(args)
    try:
        return int(args.func(ctx))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    except (DedupError, OSError, UnicodeDecodeError) as exc:
        msg = " ".join(str(exc).split()) or type(exc).__name__
        print(f"{PROG}: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
