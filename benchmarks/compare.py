"""Two or more versions of dedup, end to end, in alternated runs: what a change gains.

    python -m benchmarks.compare before=/tmp/wt-before after=. --size 20000 --workers 1 2 --runs 4
    python -m benchmarks.compare plain=. hinted=.:SOME_SWITCH=1 --runs 6

Each argument names a version as ``LABEL=CHECKOUT`` and may add environment variables as
``:NAME=VALUE`` (several allowed). Every run is :func:`benchmarks.systems.run_dedup` without the
queries, in a fresh interpreter that imports dedup and the benchmarks from that checkout (see
:func:`benchmarks.workers_ratio.run_once`), on the cached synthetic corpus of ``--size``
articles. The versions take turns, ``--runs`` times over, for each number of ``--workers``:
on a shared machine whose speed moves between minutes, alternated runs in one sitting are what
compare, and a single run of each is not. Prints every run, then per version and number of
workers the medians of the end-to-end seconds and of each stage, and each version's median over
the first version's.

A checkout made with ``git worktree add`` has no compiled kernels until
``python setup.py build_ext --inplace`` is run in it; a version that ran without them is
flagged, as its times are not comparable. Every run must find the same number of document pairs
(the versions are meant to give the same results); otherwise this stops with an error. Writes
no file.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .workers_ratio import medians_of, run_once


@dataclass
class Version:
    """One version to compare: a label, a checkout and extra environment variables."""

    label: str
    checkout: Path
    env: dict[str, str] = field(default_factory=dict)


def parse_version(spec: str) -> Version:
    """``LABEL=CHECKOUT[:NAME=VALUE...]`` as a :class:`Version`; raises ValueError when malformed."""
    label, sep, rest = spec.partition("=")
    if not sep or not label or not rest:
        raise ValueError(f"expected LABEL=CHECKOUT[:NAME=VALUE...], got {spec!r}")
    checkout, *assignments = rest.split(":")
    env = {}
    for a in assignments:
        name, sep, value = a.partition("=")
        if not sep or not name:
            raise ValueError(f"expected NAME=VALUE after ':' in {spec!r}, got {a!r}")
        env[name] = value
    path = Path(checkout)
    if not (path / "dedup" / "__init__.py").is_file():
        raise ValueError(f"{checkout!r} is not a dedup checkout (no dedup/__init__.py)")
    return Version(label, path, env)


def compare(versions: list[Version], size: int, workers: list[int], runs: int) -> dict[str, Any]:
    """Alternated runs of every version; per-run figures, medians and ratios to the first version.

    Returns ``{"runs": {(label, w): [run, ...]}, "medians": {(label, w): {stage: s, "total": s}},
    "ratio": {(label, w): first version's median total / this version's}, "native": {label: bool}}``.
    """
    if runs < 1:
        raise ValueError("runs must be at least 1")
    if len({v.label for v in versions}) != len(versions):
        raise ValueError("version labels must differ")
    got: dict[tuple[str, int], list[dict[str, Any]]] = {(v.label, w): [] for v in versions for w in workers}
    for _ in range(runs):
        for w in workers:
            for v in versions:
                r = run_once(size, w, cwd=v.checkout, env=v.env)
                got[(v.label, w)].append(r)
                print(
                    f"{v.label} ({w} worker{'s' if w > 1 else ''}): {r['seconds']:.3f} s ("
                    + ", ".join(f"{k} {s:.3f}" for k, s in r["stages"].items())
                    + f"), peak RSS {r['peak_rss_mb']:.0f} MB, {r['doc_pairs']} document pairs",
                    flush=True,
                )
    if len({r["doc_pairs"] for rs in got.values() for r in rs}) != 1:
        raise RuntimeError("the versions found different numbers of document pairs")
    medians = {key: medians_of(rs) for key, rs in got.items()}
    first = versions[0].label
    ratio = {key: medians[(first, key[1])]["total"] / m["total"] for key, m in medians.items()}
    native = {v.label: all(r["native"] for w in workers for r in got[(v.label, w)]) for v in versions}
    return {"runs": got, "medians": medians, "ratio": ratio, "native": native}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__.splitlines()[0])
    ap.add_argument("versions", nargs="+", help="LABEL=CHECKOUT[:NAME=VALUE...], two or more")
    ap.add_argument("--size", type=int, default=20000, help="articles in the cached corpus (default 20000)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="add_many workers (default 1 2)")
    ap.add_argument("--runs", type=int, default=4, help="alternations (default 4)")
    a = ap.parse_args(argv)
    try:
        versions = [parse_version(s) for s in a.versions]
    except ValueError as exc:
        ap.error(str(exc))
    if len(versions) < 2:
        ap.error("give two or more versions to compare")
    out = compare(versions, a.size, a.workers, a.runs)
    for w in a.workers:
        for v in versions:
            m = out["medians"][(v.label, w)]
            print(
                f"median, {v.label} ({w} worker{'s' if w > 1 else ''}): total {m['total']:.3f} s ("
                + ", ".join(f"{k} {s:.3f}" for k, s in m.items() if k != "total")
                + f"); {versions[0].label} / {v.label}: {out['ratio'][(v.label, w)]:.3f}x"
            )
    for label, ok in out["native"].items():
        if not ok:
            print(f"warning: {label} ran without the compiled kernels (build them in its checkout)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
