"""Speed and quality of ``dedup.align`` against the difflib baseline, by document size.

Run::

    python -m benchmarks.align_report            # prints markdown, writes benchmarks/results/align.md
    python -m benchmarks.align_report --pairs 20 # fewer pairs per bucket (quicker)

Pairs come from the seeded reuse generator of ``tests/test_align.py`` (``make_pair``): several
generated pairs are concatenated (offsets shifted) until document ``a`` has the bucket's word
count, so each pair holds several reused passages (reordered within each generated piece, edited
at the band's word rate) amid unrelated sentences. The baseline is ``difflib_passages`` from the
same file: ``difflib.SequenceMatcher(None, a_words, b_words, autojunk=False)`` on the normalized
words with ``get_matching_blocks()`` merged by the same gap/length/similarity rules as ``align``.
Both are timed from the raw text (tokenizing included), each pair once, in the same run; the
ratio is difflib time / align time. PAN measures are micro over all cases of the bucket.

Timing is the same for both systems and models a caller aligning many pairs in a loop: before a
bucket is timed, both run once on its first pair (untimed warm-up: lazy tables, caches, code
paths); then each pair is timed with no ``gc.collect()`` in between (the collector runs when it
would in that loop, for both), and the two systems alternate which runs first on a pair.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import random
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from dedup.align import align
from dedup.evaluation import Case, PanScores, pan_scores
from dedup.text import tokenize

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "align.md"

SIZES = [(300, 600), (600, 1000), (1000, 1500)]
BANDS = [("0-15%", 0.0, 0.15), ("15-30%", 0.15, 0.30)]
LONG = (10_000, 30_000, 100_000)


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_align_tests", ROOT / "tests" / "test_align.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["_align_tests"] = mod
    spec.loader.exec_module(mod)
    return mod


def sized_pair(
    gen: ModuleType, seed: int, lo_words: int, hi_words: int, lo: float, hi: float
) -> tuple[str, str, list[Case]]:
    """Concatenate generated pairs until ``a`` has between ``lo_words`` and ``hi_words`` words."""
    rng = random.Random(seed)
    target = rng.randint(lo_words, hi_words)
    a_parts: list[str] = []
    b_parts: list[str] = []
    truth: list[Case] = []
    a_len = b_len = n_words = 0
    sub = 0
    while n_words < target:
        sub += 1
        piece = gen.make_pair(seed * 1000 + sub, lo, hi)
        w = len(tokenize(piece.a))
        if n_words + w > hi_words and sub < 200:
            continue
        sep_a = "\n\n" if a_parts else ""
        sep_b = "\n\n" if b_parts else ""
        oa, ob = a_len + len(sep_a), b_len + len(sep_b)
        truth += [Case(c.a_start + oa, c.a_end + oa, c.b_start + ob, c.b_end + ob) for c in piece.truth]
        a_parts.append(sep_a + piece.a)
        b_parts.append(sep_b + piece.b)
        a_len, b_len = oa + len(piece.a), ob + len(piece.b)
        n_words += w
    return "".join(a_parts), "".join(b_parts), truth


def _timed(fn: Any, a: str, b: str) -> tuple[list[Any], float]:
    t0 = time.perf_counter()
    out = fn(a, b)
    return out, time.perf_counter() - t0


def bucket(gen: ModuleType, size: tuple[int, int], band: tuple[str, float, float], pairs: int) -> dict[str, Any]:
    lo_w, hi_w = size
    _, lo, hi = band
    truth: list[Case] = []
    dets: dict[str, list[Case]] = {"align": [], "difflib": []}
    secs = {"align": 0.0, "difflib": 0.0}
    words = 0
    systems = [("align", align), ("difflib", gen.difflib_passages)]
    gc.collect()
    for k in range(pairs):
        seed = lo_w * 100_000 + int(lo * 100) * 1000 + k
        a, b, cases = sized_pair(gen, seed, lo_w, hi_w, lo, hi)
        words += len(tokenize(a)) + len(tokenize(b))
        truth += [c._replace(pair=k) for c in cases]
        if k == 0:
            for _, fn in systems:  # warm-up, untimed
                fn(a, b)
        for name, fn in systems if k % 2 == 0 else systems[::-1]:
            found, s = _timed(fn, a, b)
            secs[name] += s
            dets[name] += [Case(p.a_start, p.a_end, p.b_start, p.b_end, k) for p in found]
    scores: dict[str, PanScores] = {m: pan_scores(truth, d) for m, d in dets.items()}
    return {"secs": secs, "scores": scores, "words": words / (2 * pairs)}


def long_docs(gen: ModuleType) -> list[tuple[str, float, str]]:
    """Random text from the seed vocabulary, 200-word passages copied every 5,000 words."""
    rng = random.Random(5)
    words, weights = gen._VOCAB
    rows = []
    for n in LONG:
        aw = rng.choices(words, weights, k=n)
        bw = rng.choices(words, weights, k=n)
        for m in range(n // 5000):
            src = rng.randrange(0, n - 300)
            bw[m * 5000 + 100 : m * 5000 + 300] = aw[src : src + 200]
        a, b = " ".join(aw), " ".join(bw)
        found, s = _timed(align, a, b)
        if n <= 10_000:
            _, sd = _timed(gen.difflib_passages, a, b)
            d = f"{sd:.2f} s"
        else:
            d = "not run (quadratic)"
        rows.append((f"{n:,} words each, {len(found)} passages", s, d))
    war = "war " * 50_000
    _, s = _timed(align, war, war)
    rows.append(('"war " × 50,000 vs itself', s, "—"))
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--pairs", type=int, default=40, help="pairs per bucket (default 40)")
    ap.add_argument("--no-save", action="store_true", help="print only")
    args = ap.parse_args(argv)
    gen = _generator()
    lines = [
        f"`python -m benchmarks.align_report --pairs {args.pairs}`: {args.pairs} pairs per bucket; "
        "time per pair from raw text (tokenizing included), after one untimed warm-up pair, no "
        "gc.collect() between calls, systems alternating; ratio = difflib / align, same run.",
        "",
        "| words (a) | word edits | mean words (a, b) | align ms/pair | difflib ms/pair | speed-up "
        "| align P / R / gran / plagdet | difflib P / R / gran / plagdet |",
        "|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    for size in SIZES:
        for band in BANDS:
            r = bucket(gen, size, band, args.pairs)
            sa, sd = r["secs"]["align"], r["secs"]["difflib"]
            pa, pd = r["scores"]["align"], r["scores"]["difflib"]

            def fmt(s: PanScores) -> str:
                return f"{s.precision:.3f} / {s.recall:.3f} / {s.granularity:.3f} / {s.plagdet:.3f}"

            row = (
                f"| {size[0]:,}–{size[1]:,} | {band[0]} | {r['words']:.0f} | "
                f"{1000 * sa / args.pairs:.2f} | {1000 * sd / args.pairs:.2f} | {sd / sa:.1f}× | "
                f"{fmt(pa)} | {fmt(pd)} |"
            )
            lines.append(row)
            print(row, flush=True)
    long_lines = ["", "| documents | align | difflib |", "|---|---|---|"]
    print("\n".join(long_lines), flush=True)
    for name, s, d in long_docs(gen):
        row = f"| {name} | {s:.3f} s | {d} |"
        long_lines.append(row)
        print(row, flush=True)
    lines += long_lines
    if not args.no_save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text("# align vs difflib\n\n" + "\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
