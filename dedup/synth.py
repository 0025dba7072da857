"""Deterministic synthetic news corpus with ground truth for text-reuse detection.

The generator models how news text travels: outlets with recurring boilerplate, wire stories
reprinted (with drops, reorders, splits, merges, word edits, quote restyling and new headlines)
by several outlets, reprint chains, partial reuse (quoted paragraphs embedded in new articles),
exact re-sends, and a majority of unrelated fresh articles.  Words are drawn from a Zipf-like
frequency table (``dedup/data/vocab.tsv.gz``) built once from Reuters-21578; the generator reads
only files bundled in ``dedup/data`` at run time.

>>> from dedup.synth import SynthConfig, generate
>>> recs = list(generate(SynthConfig(n_articles=5, seed=1)))
>>> [r["id"] for r in recs]
['syn-0000001', 'syn-0000002', 'syn-0000003', 'syn-0000004', 'syn-0000005']

See ``docs/synth.md`` for the model, the ground-truth file formats and the measured speed.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import numpy as np

from dedup.errors import InputError, InvalidParameterError, InvalidTypeError

__all__ = [
    "SynthConfig",
    "GroundTruth",
    "generate",
    "write_corpus",
    "load_truth",
    "truth_paths",
]

_DATA_DIR = Path(__file__).resolve().parent / "data"
_TRUTH_KINDS = ("clusters", "pairs", "passages", "boilerplate")

# Tags of the seed-sequence streams; changing any of them changes every corpus.
_S_OUTLETS, _S_PLAN, _S_ARTICLE, _S_STORY, _S_CHUNK = 1, 2, 3, 4, 5


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthConfig:
    """Parameters of a synthetic corpus (immutable; validated on construction).

    Parameters
    ----------
    n_articles : int, default 20000
        Number of articles (records) to generate.
    seed : int, default 0
        Non-negative seed; the same ``(config, seed)`` gives byte-identical output everywhere.
    n_outlets : int, default 50
        Number of news outlets (names are generated).
    fresh_fraction : float, default 0.6
        Expected fraction of unrelated fresh articles (in no reuse cluster).
    resend_fraction : float, default 0.02
        Expected fraction of articles that are exact re-sends; each re-send also turns one
        otherwise fresh article into its original, so re-send clusters hold about twice this.
    embed_fraction : float, default 0.04
        Expected fraction of new articles that quote one to three paragraphs of a wire story.
        The rest, ``1 - fresh - 2 * resend - embed``, are wire-story reprints.
    chain_prob : float, default 0.15
        Probability that a reprint copies an earlier reprint instead of the wire original.
    max_cluster_size : int, default 50
        Largest number of reprints of one wire story (2 <= size <= this).
    cluster_size_exponent : float, default 2.0
        Reprint counts follow ``P(size = k) ~ k ** -exponent`` on ``2..max_cluster_size``.
    max_edit_rate : float, default 0.3
        Upper bound of the per-paragraph word edit rate (fraction of words substituted,
        inserted or deleted) applied by one reprint.
    mean_body_paragraphs : float, default 11.0
        Mean number of non-boilerplate paragraphs of a fresh article or wire story; outlets
        add about two boilerplate paragraphs on average.
    mean_sentence_words : float, default 23.0
        Mean words per sentence (before names, numbers and attributions are added).
    block_size : int, default 2000
        Articles per planning block.  Reuse clusters never span blocks; article ``i`` depends
        only on ``seed``, the block plan and ``i``, so a corpus is a prefix of any larger one
        with the same parameters, and blocks can be generated independently.
    start_date : str, default "2024-01-01"
        ISO date of the first article.
    articles_per_day : int, default 250
        Articles published per day (dates advance with the article number).
    """

    n_articles: int = 20000
    seed: int = 0
    n_outlets: int = 50
    fresh_fraction: float = 0.6
    resend_fraction: float = 0.02
    embed_fraction: float = 0.04
    chain_prob: float = 0.15
    max_cluster_size: int = 50
    cluster_size_exponent: float = 2.0
    max_edit_rate: float = 0.3
    mean_body_paragraphs: float = 11.0
    mean_sentence_words: float = 23.0
    block_size: int = 2000
    start_date: str = "2024-01-01"
    articles_per_day: int = 250

    def __post_init__(self) -> None:
        def _int(name: str, lo: int, hi: int | None = None) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise InvalidParameterError(f"{name} must be an int, got {v!r}")
            if v < lo or (hi is not None and v > hi):
                rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
                raise InvalidParameterError(f"{name} must be {rng}, got {v}")

        def _float(name: str, lo: float, hi: float) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
                raise InvalidParameterError(f"{name} must be a number, got {v!r}")
            if not (math.isfinite(float(v)) and lo <= float(v) <= hi):
                raise InvalidParameterError(f"{name} must be in [{lo}, {hi}], got {v}")

        _int("n_articles", 0)
        _int("seed", 0, 2**63 - 1)
        _int("n_outlets", 2, 10000)
        _float("fresh_fraction", 0.0, 1.0)
        _float("resend_fraction", 0.0, 0.5)
        _float("embed_fraction", 0.0, 1.0)
        _float("chain_prob", 0.0, 1.0)
        _int("max_cluster_size", 2, 100000)
        _float("cluster_size_exponent", 0.0, 10.0)
        _float("max_edit_rate", 0.0, 1.0)
        _float("mean_body_paragraphs", 1.0, 200.0)
        _float("mean_sentence_words", 3.0, 100.0)
        _int("block_size", 10, 10_000_000)
        _int("articles_per_day", 1)
        used = self.fresh_fraction + 2 * self.resend_fraction + self.embed_fraction
        if used > 1.0 + 1e-9:
            raise InvalidParameterError(
                f"fresh_fraction + 2 * resend_fraction + embed_fraction must be <= 1, got {used:.3f}; lower one of them"
            )
        if self.embed_fraction > 0 and used > 0.999:
            raise InvalidParameterError(
                "embed_fraction > 0 needs some wire-story reprints to quote; "
                "lower fresh_fraction, resend_fraction or embed_fraction"
            )
        if not isinstance(self.start_date, str):
            raise InvalidParameterError(f"start_date must be an ISO date string, got {self.start_date!r}")
        try:
            _dt.date.fromisoformat(self.start_date)
        except ValueError as exc:
            raise InvalidParameterError(
                f"start_date must be an ISO date like '2024-01-01', got {self.start_date!r}"
            ) from exc


# --------------------------------------------------------------------------------------------
# Lexicon (bundled word lists)
# --------------------------------------------------------------------------------------------


_TABLE_SIZE = 1 << 16


class _Lexicon:
    """Vocabulary with a Zipf sampling table plus name lists (loaded once per process)."""

    def __init__(self) -> None:
        words: list[str] = []
        counts: list[int] = []
        with gzip.open(_DATA_DIR / "vocab.tsv.gz", "rt", encoding="utf-8") as fh:
            header = fh.readline()
            if not header.startswith("word\t"):
                raise InputError("dedup/data/vocab.tsv.gz: bad header")
            for line in fh:
                w, c, cap = line.rstrip("\n").split("\t")
                # Words mostly capitalised mid-sentence (Japan, March, Reagan) stay capitalised.
                words.append(w.capitalize() if float(cap) >= 0.6 else w)
                counts.append(int(c))
        self.words = words
        self.w_plain = np.asarray(words, dtype=object)
        self.w_cap = np.asarray([w[:1].upper() + w[1:] for w in words], dtype=object)
        self.w_stop = np.asarray([w + "." for w in words], dtype=object)
        self.w_comma = np.asarray([w + "," for w in words], dtype=object)
        self.w_forms = np.stack([self.w_plain, self.w_comma, self.w_cap, self.w_stop])
        p = np.asarray(counts, dtype=np.float64)
        self.cdf = np.cumsum(p / p.sum())
        self.cdf[-1] = 1.0
        grid = np.arange(_TABLE_SIZE + 1, dtype=np.float64) / _TABLE_SIZE
        self.table = np.searchsorted(self.cdf, grid, side="right").astype(np.int32)
        # plain lower-case words for insertions/substitutions in edits
        self.lists = _read_lists(_DATA_DIR / "names.txt")

    def ids(self, u: np.ndarray) -> np.ndarray:
        """Word ids for uniforms ``u`` (inverse CDF; a bucket table answers most lookups)."""
        b = (u * _TABLE_SIZE).astype(np.intp)
        ids = self.table[b].astype(np.intp)
        amb = np.flatnonzero(ids != self.table[b + 1])
        if len(amb):
            ids[amb] = np.searchsorted(self.cdf, u[amb], side="right")
        return ids

    def sample(self, rng: np.random.Generator, n: int) -> list[str]:
        out: list[str] = self.w_plain[self.ids(rng.random(n))].tolist()
        return out


def _read_lists(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    cur: list[str] | None = None
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("[") and line.endswith("]"):
                cur = out.setdefault(line[1:-1], [])
            elif cur is not None:
                cur.append(line)
    return out


@lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    return _Lexicon()


_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# sentences per paragraph: P(1..5) = 0.2, 0.3, 0.26, 0.15, 0.09
_PAR_CDF = np.cumsum([0.2, 0.3, 0.26, 0.15, 0.09])[:-1]
_SPEAKERS = ("he", "she", "officials", "the company", "analysts", "the report", "police")


_POOL_SEED = 20240517
# special tokens: person, surname, place, organisation, number
_SPECIAL_CDF = np.cumsum([0.175, 0.175, 0.175, 0.175, 0.3])[:-1]


def _pools(lists: list[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate string lists into one object array with per-list offsets and sizes."""
    sizes = np.asarray([len(x) for x in lists], dtype=np.int64)
    offs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    arr = np.asarray([w for x in lists for w in x], dtype=object)
    return arr, offs, sizes


class _Text:
    """Vectorised sentence and paragraph writer over one random generator."""

    def __init__(self, cfg: SynthConfig) -> None:
        self.lex = _lexicon()
        L = self.lex.lists
        self.first, self.last, self.place = L["first"], L["last"], L["place"]
        self.org_head, self.org_tail, self.role = L["org_head"], L["org_tail"], L["role"]
        self.mean_words = cfg.mean_sentence_words
        self.mean_pars = cfg.mean_body_paragraphs
        self.special, self.sp_off, self.sp_size = self._special_pool()
        self.suffix, self.sf_off, self.sf_size = self._suffix_pool()

    def _special_pool(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pools of persons, surnames, places, organisations and numbers (fixed, seed-free)."""
        prng = np.random.Generator(np.random.PCG64(_POOL_SEED))
        persons = [f"{f} {la}" for f in self.first for la in self.last]
        orgs = [f"{h} {t}" for h in self.org_head for t in self.org_tail]
        numbers = [self._number(int(r)) for r in prng.integers(0, 2**31, 4096)]
        return _pools([persons, list(self.last), list(self.place), orgs, numbers])

    def _suffix_pool(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sentence endings for quotes, reported speech and named sources with a role."""
        prng = np.random.Generator(np.random.PCG64(_POOL_SEED + 1))
        r = prng.integers(0, 2**31, size=(3, 4096)).tolist()
        quote = [f'," {w} said.' for w in ("he", "she")] * 300 + [f'," {self._name(x >> 2, x & 1)} said.' for x in r[0]]
        reported = [f", {w} said." for w in _SPEAKERS] * 200 + [f", {self._name(x >> 2, x & 3)} said." for x in r[1]]
        role = [
            f", said {self._name(x >> 2, 0)}, {self.role[(x >> 9) % len(self.role)]} at {self._name(x >> 12, 3)}."
            for x in r[2]
        ]
        return _pools([quote, reported, role])

    # -- small pieces ---------------------------------------------------------------------
    def _name(self, r: int, k: int) -> str:
        """Proper name from integer ``r`` (kind by ``k``): person, surname, place or org."""
        if k == 0:
            return f"{self.first[r % len(self.first)]} {self.last[(r >> 8) % len(self.last)]}"
        if k == 1:
            return self.last[r % len(self.last)]
        if k == 2:
            return self.place[r % len(self.place)]
        head = self.org_head[r % len(self.org_head)]
        return f"{head} {self.org_tail[(r >> 8) % len(self.org_tail)]}"

    @staticmethod
    def _number(r: int) -> str:
        k = r % 9
        v = r >> 4
        if k == 0:
            return f"{(v % 99) + 1}.{(v >> 7) % 10} billion"
        if k == 1:
            return f"{(v % 900) + 10} million"
        if k == 2:
            return f"{_MONTHS[v % 12]} {(v >> 4) % 28 + 1}"
        if k == 3:
            return f"{(v % 30) + 1}.{(v >> 5) % 10} percent"
        if k == 4:
            return f"${(v % 500) + 1} million"
        if k == 5:
            return f"{(v % 9) + 1},{(v >> 4) % 1000:03d}"
        if k == 6:
            return str(1950 + v % 75)
        return str((v % 97) + 2)

    # -- sentences --------------------------------------------------------------------------
    def _tokens(self, rng: np.random.Generator, lens: np.ndarray) -> list[str]:
        """Flat token list for sentences of ``lens`` words: capitalised starts, full stops,
        commas, names, numbers and attributions already applied (vectorised where possible)."""
        lex = self.lex
        n = len(lens)
        total = int(lens.sum())
        ids = lex.ids(rng.random(total))
        ends = np.cumsum(lens)
        starts = ends - lens
        last = ends - 1
        u = rng.random(total)
        u[last] = 1.0  # never a comma/name/number on the final token
        form = (u < 0.05).astype(np.intp)  # 0 plain, 1 comma, 2 capitalised, 3 full stop
        form[starts] = 2
        form[last] = 3
        toks = lex.w_forms[form, ids]
        special = np.flatnonzero((u >= 0.05) & (u < 0.1))
        if len(special):
            cat = np.searchsorted(_SPECIAL_CDF, (u[special] - 0.05) / 0.05, side="right")
            r = rng.integers(0, 2**31, size=len(special))
            toks[special] = self.special[self.sp_off[cat] + r % self.sp_size[cat]]
        # sentence shapes: direct quotes, reported speech, named source with role
        shape = rng.random(n)
        sel = np.flatnonzero(shape < 0.29)
        if len(sel):
            sh = shape[sel]
            cat = (sh >= 0.11).astype(np.int64) + (sh >= 0.25)  # quote, reported, role
            r = rng.integers(0, 2**31, size=len(sel))
            ls = last[sel]
            toks[ls] = lex.w_plain[ids[ls]] + self.suffix[self.sf_off[cat] + r % self.sf_size[cat]]
            fs = starts[sel[cat == 0]]
            toks[fs] = '"' + toks[fs]
        out: list[str] = toks.tolist()
        return out

    def sentences(self, rng: np.random.Generator, n: int) -> list[str]:
        """``n`` sentences (each ending in a full stop), drawn in bulk."""
        if n <= 0:
            return []
        lens = self._lens(rng, n)
        toks = self._tokens(rng, lens)
        ends = np.cumsum(lens).tolist()
        out: list[str] = []
        s = 0
        for e in ends:
            out.append(" ".join(toks[s:e]))
            s = e
        return out

    def _lens(self, rng: np.random.Generator, n: int) -> np.ndarray:
        g = rng.gamma(4.0, self.mean_words / 4.0, n)
        return np.maximum(3, np.rint(g)).astype(np.int64)

    def paragraphs(self, rng: np.random.Generator, n_par: int) -> tuple[list[str], list[int]]:
        """``n_par`` paragraphs of 1-5 sentences; returns (texts, sentence counts)."""
        counts = np.searchsorted(_PAR_CDF, rng.random(n_par), side="right") + 1
        n = int(counts.sum())
        lens = self._lens(rng, n)
        toks = self._tokens(rng, lens)
        ends = np.cumsum(lens)[np.cumsum(counts) - 1].tolist()
        out: list[str] = []
        s = 0
        for e in ends:
            out.append(" ".join(toks[s:e]))
            s = e
        return out, counts.tolist()

    def titles(self, rng: np.random.Generator, n: int) -> list[str]:
        """``n`` headlines: 5-11 words, capitalised start, one proper name or number."""
        if n <= 0:
            return []
        lex = self.lex
        lens = rng.integers(5, 12, size=n)
        ends = np.cumsum(lens)
        starts = ends - lens
        ids = lex.ids(rng.random(int(ends[-1])))
        toks = lex.w_plain[ids]
        toks[starts] = lex.w_cap[ids[starts]]
        r = rng.integers(0, 2**31, size=n)
        cat = (r >> 4) % 5
        toks[starts + r % lens] = self.special[self.sp_off[cat] + (r >> 7) % self.sp_size[cat]]
        words: list[str] = toks.tolist()
        out: list[str] = []
        s0 = 0
        for e in ends.tolist():
            out.append(" ".join(words[s0:e]))
            s0 = e
        return out


# --------------------------------------------------------------------------------------------
# Outlets and boilerplate
# --------------------------------------------------------------------------------------------


@dataclass
class _Boiler:
    kind: str
    position: str  # "start" | "end"
    prob: float
    variants: list[str]


@dataclass
class _Outlet:
    name: str
    curly: bool
    weight: float
    boiler: list[_Boiler]
    links: list[str]


_DAYS = ("morning", "evening", "weekday", "Friday", "Sunday", "week")


def _make_outlets(cfg: SynthConfig, tx: _Text) -> list[_Outlet]:
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([cfg.seed, _S_OUTLETS])))
    L = tx.lex.lists
    heads, tails = L["outlet_head"], L["outlet_tail"]
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < cfg.n_outlets:
        h = heads[int(rng.integers(len(heads)))]
        t = tails[int(rng.integers(len(tails)))]
        name = f"The {h} {t}"
        if name in seen:
            place = tx.place[int(rng.integers(len(tx.place)))]
            name = f"The {place} {t}"
            if name in seen:
                name = f"{name} {len(names) + 1}"
        seen.add(name)
        names.append(name)
    weights = 1.0 / np.arange(1, cfg.n_outlets + 1) ** 0.8
    weights = rng.permutation(weights / weights.sum())
    outlets: list[_Outlet] = []
    for i, name in enumerate(names):
        short = name[4:]
        kinds = ["newsletter", "donation", "read_more", "most_read", "copyright", "follow"]
        k = int(rng.integers(2, 5))
        chosen = [kinds[j] for j in sorted(rng.choice(len(kinds), size=k, replace=False).tolist())]
        boiler: list[_Boiler] = []
        for kind in chosen:
            day = _DAYS[int(rng.integers(len(_DAYS)))]
            extra = " ".join(tx.lex.sample(rng, 4))
            if kind == "newsletter":
                base = (
                    f"Sign up for the {short} newsletter to get the top stories on {extra} "
                    f"delivered to your inbox every {day}."
                )
                variants = [
                    base,
                    base.replace("top stories", "latest news"),
                    base.replace(f"every {day}", "every day"),
                ]
                pos = "end" if rng.random() < 0.7 else "start"
            elif kind == "donation":
                amount = int(rng.integers(3, 30))
                base = (
                    f"{name} is an independent newsroom. Our reporting on {extra} is free to "
                    f"read, but it is not free to produce. Please consider a donation of "
                    f"${amount} a month to support our journalism."
                )
                variants = [
                    base,
                    base.replace(f"${amount}", f"${amount + 2}"),
                    base.replace("Please consider", "Consider"),
                ]
                pos = "end"
            elif kind == "copyright":
                base = (
                    f"Copyright {name}. All rights reserved. This material may not be "
                    "published, broadcast, rewritten or redistributed."
                )
                variants = [base, base.replace("Copyright", "(c)")]
                pos = "end"
            elif kind == "follow":
                where = tx.place[int(rng.integers(len(tx.place)))]
                base = f"Follow {short} on social media for breaking news from {where} and beyond."
                variants = [base, base.replace("breaking news", "the latest updates")]
                pos = "end" if rng.random() < 0.5 else "start"
            else:
                variants = []  # link lists are built per article from the outlet's link pool
                pos = "end" if kind == "read_more" else ("start" if rng.random() < 0.5 else "end")
            boiler.append(_Boiler(kind, pos, float(rng.uniform(0.6, 0.95)), variants))
        links = tx.titles(rng, 12)
        outlets.append(_Outlet(name, bool(rng.random() < 0.45), float(weights[i]), boiler, links))
    return outlets


# --------------------------------------------------------------------------------------------
# Document model
# --------------------------------------------------------------------------------------------

Atom = tuple[Any, ...]


class _Piece:
    """A run of text inside a paragraph that derives from one reusable unit (an *atom*)."""

    __slots__ = ("text", "atom", "s0", "s1", "hist", "embed")

    def __init__(
        self,
        text: str,
        atom: Atom | None,
        s0: int,
        s1: int,
        hist: tuple[tuple[int, float], ...] = (),
        embed: bool = False,
    ) -> None:
        self.text = text
        self.atom = atom
        self.s0 = s0  # sentence range of the atom this piece carries
        self.s1 = s1
        self.hist = hist  # (edit event id, word edit rate) applied since the atom's origin
        self.embed = embed


@dataclass
class _Doc:
    index: int
    kind: str  # fresh | original | reprint | embed | resend | resend_source
    outlet: int
    title: str
    paras: list[list[_Piece]]
    head: list[tuple[str, int, str]] = field(default_factory=list)  # (kind, variant, text)
    tail: list[tuple[str, int, str]] = field(default_factory=list)
    cluster: int = -1  # plan-local cluster id or -1
    # filled by _render
    text: str = ""
    pieces: list[_Piece] = field(default_factory=list)
    piece_span: list[tuple[int, int]] = field(default_factory=list)
    piece_para: list[int] = field(default_factory=list)
    para_span: list[tuple[int, int]] = field(default_factory=list)
    bp_span: list[tuple[int, int, str, int]] = field(default_factory=list)


_SENT_BOUNDARY = re.compile(r'(?<=[.!?]) (?=["$0-9A-Z])')


def _curly(text: str) -> str:
    """Straight to typographic quotes (same length): opening quotes follow a space/newline."""
    text = text.replace(' "', " \u201c").replace('\n"', "\n\u201c")
    if text.startswith('"'):
        text = "\u201c" + text[1:]
    return text.replace('"', "\u201d").replace("'", "\u2019")


def _render(doc: _Doc, curly: bool) -> None:
    parts: list[str] = []
    pos = 0
    for kind, var, text in doc.head:
        doc.bp_span.append((pos, pos + len(text), kind, var))
        parts.append(text)
        pos += len(text) + 2
    for pi, para in enumerate(doc.paras):
        start = pos
        for j, pc in enumerate(para):
            if j:
                pos += 1
            doc.pieces.append(pc)
            doc.piece_span.append((pos, pos + len(pc.text)))
            doc.piece_para.append(pi)
            pos += len(pc.text)
        doc.para_span.append((start, pos))
        parts.append(" ".join(pc.text for pc in para))
        pos += 2
    for kind, var, text in doc.tail:
        doc.bp_span.append((pos, pos + len(text), kind, var))
        parts.append(text)
        pos += len(text) + 2
    text = "\n\n".join(parts)
    doc.text = _curly(text) if curly else text  # both maps keep string length


# --------------------------------------------------------------------------------------------
# Plan: roles of the articles of one block
# --------------------------------------------------------------------------------------------


@dataclass
class _Role:
    kind: str  # fresh | member | embed | resend | resend_source
    story: int = -1
    parent: int = -1  # member: -1 = wire source; else slot of the parent reprint
    original: bool = False
    outlet: int = -1
    ref: int = -1  # resend: slot of the original
    js: tuple[int, ...] = ()
    inline: bool = False
    slot: int = -1


@dataclass
class _Plan:
    roles: list[_Role]  # in slot order (role.slot == position)
    story_pars: list[int]
    story_outlet: list[int]
    clusters: list[tuple[str, list[int]]]  # (kind, slots) per plan cluster


def _size_pmf(cfg: SynthConfig) -> np.ndarray:
    k = np.arange(2, cfg.max_cluster_size + 1, dtype=np.float64)
    p = k ** (-cfg.cluster_size_exponent)
    return p / p.sum()


def _make_plan(cfg: SynthConfig, block: int, weights: np.ndarray) -> _Plan:
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([cfg.seed, _S_PLAN, block])))
    B = cfg.block_size
    n_out = cfg.n_outlets
    n_res = int(round(B * cfg.resend_fraction))
    n_emb = int(round(B * cfg.embed_fraction))
    n_mem = B - int(round(B * cfg.fresh_fraction)) - 2 * n_res - n_emb
    pmf = _size_pmf(cfg)
    roles: list[_Role] = []
    times: list[float] = []
    story_pars: list[int] = []
    story_outlet: list[int] = []
    story_center: list[float] = []
    members: list[list[int]] = []
    left = n_mem
    while left >= 2:
        size = int(rng.choice(len(pmf), p=pmf)) + 2
        size = min(size, left)
        if left - size == 1:
            size += 1
        left -= size
        k = len(story_pars)
        story_pars.append(max(3, int(round(rng.gamma(6.0, cfg.mean_body_paragraphs / 6.0)))))
        center = float(rng.uniform(0, B))
        story_center.append(center)
        if size <= n_out:
            outs = rng.choice(n_out, size=size, replace=False, p=weights).tolist()
        else:
            outs = rng.choice(n_out, size=size, replace=True, p=weights).tolist()
        original = bool(rng.random() < 0.5)
        story_outlet.append(int(outs[0]) if original else int(rng.choice(n_out, p=weights)))
        offs = np.sort(np.abs(rng.normal(0.0, 20.0 + 4.0 * size, size)))
        idx: list[int] = []
        for m in range(size):
            parent = -1
            if m > 0 and rng.random() < cfg.chain_prob:
                parent = idx[int(rng.integers(0, m))]
            idx.append(len(roles))
            roles.append(
                _Role(
                    "member",
                    story=k,
                    parent=parent,
                    original=(m == 0 and original),
                    outlet=int(outs[m]),
                )
            )
            times.append(center + float(offs[m]))
        members.append(idx)
    n_stories = len(story_pars)
    embeds_of: list[list[int]] = [[] for _ in range(n_stories)]
    for _ in range(n_emb if n_stories else 0):
        k = int(rng.integers(n_stories))
        inline = bool(rng.random() < 0.4)
        m = story_pars[k]
        cnt = 1 if inline else int(rng.integers(1, 4))
        j0 = int(rng.integers(0, max(1, m - cnt + 1)))
        js = tuple(range(j0, min(m, j0 + cnt)))
        embeds_of[k].append(len(roles))
        roles.append(_Role("embed", story=k, js=js, inline=inline, outlet=int(rng.choice(n_out, p=weights))))
        times.append(story_center[k] + float(rng.uniform(5.0, 300.0)))
    resend_pairs: list[tuple[int, int]] = []
    for _ in range(n_res):
        t = float(rng.uniform(0, B))
        a = len(roles)
        roles.append(_Role("resend_source", outlet=int(rng.choice(n_out, p=weights))))
        times.append(t)
        roles.append(_Role("resend", ref=a))
        times.append(t + float(rng.uniform(0.5, 30.0)))
        resend_pairs.append((a, a + 1))
    while len(roles) < B:
        roles.append(_Role("fresh", outlet=int(rng.choice(n_out, p=weights))))
        times.append(float(rng.uniform(0, B)))
    order = np.lexsort((np.arange(len(roles)), np.asarray(times)))
    slot_of = np.empty(len(roles), dtype=np.int64)
    slot_of[order] = np.arange(len(roles))
    for i, r in enumerate(roles):
        r.slot = int(slot_of[i])
        if r.parent >= 0:
            r.parent = int(slot_of[r.parent])
        if r.ref >= 0:
            r.ref = int(slot_of[r.ref])
    clusters: list[tuple[str, list[int]]] = []
    for k in range(n_stories):
        clusters.append(("story", sorted(int(slot_of[i]) for i in members[k] + embeds_of[k])))
    for a, b in resend_pairs:
        clusters.append(("resend", [int(slot_of[a]), int(slot_of[b])]))
    return _Plan([roles[i] for i in order.tolist()], story_pars, story_outlet, clusters)


# --------------------------------------------------------------------------------------------
# Block generation
# --------------------------------------------------------------------------------------------


# own paragraphs added by a reprint: P(0..3) = 0.4, 0.3, 0.2, 0.1
_OWN_CDF = np.cumsum([0.4, 0.3, 0.2, 0.1])[:-1]


class _Stream:
    """Buffered uniforms and Zipf words from one generator (cheap many small draws)."""

    def __init__(self, rng: np.random.Generator, lex: _Lexicon) -> None:
        self.rng = rng
        self.lex = lex
        self.u = rng.random(2048)
        self.ui = 0
        self.w = lex.sample(rng, 128)
        self.wi = 0

    def uniforms(self, n: int) -> np.ndarray:
        if self.ui + n > len(self.u):
            self.u = self.rng.random(max(2048, n))
            self.ui = 0
        out = self.u[self.ui : self.ui + n]
        self.ui += n
        return out

    def words(self, n: int) -> list[str]:
        if self.wi + n > len(self.w):
            self.w = self.lex.sample(self.rng, max(128, n))
            self.wi = 0
        out = self.w[self.wi : self.wi + n]
        self.wi += n
        return out


_CHUNK = 64  # slots whose own text is generated in one batch


@dataclass
class _Chunk:
    first: int
    paras: list[list[tuple[str, int]]]  # own paragraphs (text, sentences) per slot
    titles: list[str]
    bu: np.ndarray  # (slots, 20) uniforms for boilerplate choices


class _Generator:
    def __init__(self, cfg: SynthConfig) -> None:
        self.cfg = cfg
        self.tx = _Text(cfg)
        self.outlets = _make_outlets(cfg, self.tx)
        w = np.asarray([o.weight for o in self.outlets])
        self.weights = w / w.sum()
        self.start = _dt.date.fromisoformat(cfg.start_date).toordinal()
        self.id_width = max(7, len(str(cfg.n_articles)))

    def doc_id(self, index: int) -> str:
        return f"syn-{index + 1:0{self.id_width}d}"

    def date(self, index: int) -> str:
        return _dt.date.fromordinal(self.start + index // self.cfg.articles_per_day).isoformat()

    def _rng(self, index: int) -> np.random.Generator:
        """Stream of article ``index`` (edits and layout of reprints and quoting articles)."""
        seq = np.random.SeedSequence([self.cfg.seed, _S_ARTICLE, index])
        return np.random.Generator(np.random.PCG64(seq))

    # -- pieces -----------------------------------------------------------------------------
    @staticmethod
    def _own(index: int, texts: list[tuple[str, int]], base: int = 0) -> list[list[_Piece]]:
        return [[_Piece(t, ("o", index, base + k), 0, c)] for k, (t, c) in enumerate(texts)]

    def _chunk(self, block: int, c: int, plan: _Plan) -> _Chunk:
        """Own text, headlines and boilerplate draws of slots ``[c*_CHUNK, (c+1)*_CHUNK)``,
        generated in bulk from one stream keyed by (seed, block, chunk)."""
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.cfg.seed, _S_CHUNK, block, c])))
        lo, hi = c * _CHUNK, min((c + 1) * _CHUNK, self.cfg.block_size)
        n = hi - lo
        body = np.maximum(2, np.rint(rng.gamma(6.0, self.cfg.mean_body_paragraphs / 6.0, n)))
        own = np.searchsorted(_OWN_CDF, rng.random(n), side="right")
        counts: list[int] = []
        for i, s in enumerate(range(lo, hi)):
            r = plan.roles[s]
            if r.kind in ("fresh", "resend_source"):
                counts.append(int(body[i]))
            elif r.kind == "embed":
                counts.append(int(body[i]) + (2 if r.inline else 0))
            elif r.kind == "member" and not r.original:
                counts.append(int(own[i]))
            else:
                counts.append(0)
        texts, nsent = self.tx.paragraphs(rng, sum(counts))
        pairs = list(zip(texts, nsent, strict=True))
        paras: list[list[tuple[str, int]]] = []
        pos = 0
        for k in counts:
            paras.append(pairs[pos : pos + k])
            pos += k
        titles = self.tx.titles(rng, n)
        return _Chunk(lo, paras, titles, rng.random((n, 20)))

    def _story(self, block: int, k: int, plan: _Plan) -> tuple[str, list[_Piece]]:
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.cfg.seed, _S_STORY, block, k])))
        title = self.tx.titles(rng, 1)[0]
        texts, counts = self.tx.paragraphs(rng, plan.story_pars[k])
        pcs = [_Piece(t, ("s", block, k, j), 0, c) for j, (t, c) in enumerate(zip(texts, counts, strict=True))]
        return title, pcs

    def _edit(self, st: _Stream, pc: _Piece, rate: float, event: int) -> _Piece:
        """Word-level edits at ``rate`` (each word edited with that probability): substitution
        (50%), insertion after it (25%) or deletion (25%); punctuation is kept."""
        if rate <= 0.0:
            return pc
        toks = pc.text.split(" ")
        n = len(toks)
        u = st.uniforms(n)
        hit = np.flatnonzero(u < rate)
        k = len(hit)
        if k == 0:
            return pc
        pos = hit[::-1].tolist()
        ops = (u[hit[::-1]] / rate).tolist()  # uniform in [0, 1) given an edit
        new = st.words(k)
        for p, op, w in zip(pos, ops, new, strict=True):
            tok = toks[p]
            core = tok.lstrip('"$(').rstrip('.,")')
            lead = tok[: len(tok) - len(tok.lstrip('"$('))]
            trail = tok[len(lead) + len(core) :]
            prev_end = p == 0 or toks[p - 1][-1:] in ".!?"
            if op < 0.25 and p > 0 and not lead and not trail and not prev_end and not core[:1].isupper():
                del toks[p]
            elif op < 0.5 and not trail.startswith("."):
                ins = w[:1].upper() + w[1:] if tok[-1:] in ".!?" else w
                toks.insert(p + 1, ins)
            else:
                if core[:1].isupper() or prev_end:
                    w = w[:1].upper() + w[1:]
                toks[p] = lead + w + trail
        return _Piece(" ".join(toks), pc.atom, pc.s0, pc.s1, pc.hist + ((event, k / n),), pc.embed)

    @staticmethod
    def _split(rng: np.random.Generator, pc: _Piece) -> tuple[_Piece, _Piece] | None:
        cuts = [m.start() for m in _SENT_BOUNDARY.finditer(pc.text)]
        if len(cuts) != pc.s1 - pc.s0 - 1 or not cuts:
            return None
        c = int(rng.integers(len(cuts)))
        at = cuts[c]
        mid = pc.s0 + c + 1
        return (
            _Piece(pc.text[:at], pc.atom, pc.s0, mid, pc.hist, pc.embed),
            _Piece(pc.text[at + 1 :], pc.atom, mid, pc.s1, pc.hist, pc.embed),
        )

    @staticmethod
    def _boiler(u: list[float], outlet: _Outlet, doc: _Doc) -> None:
        """Add the outlet's boilerplate; ``u`` holds 20 uniforms (8 choices, 12 link ranks)."""
        for i, bp in enumerate(outlet.boiler):
            if u[2 * i] >= bp.prob:
                continue
            v = u[2 * i + 1]
            if bp.variants:
                var = 0 if v < 0.8 else 1 + int((v - 0.8) / 0.2 * (len(bp.variants) - 1))
                text = bp.variants[var]
            else:
                ranks = sorted(range(12), key=u[8:].__getitem__)
                picks = ranks[:3] if bp.kind == "read_more" else ranks[-3:]
                label = "Read more" if bp.kind == "read_more" else "Most read"
                text = f"{label}: " + " | ".join(outlet.links[j] for j in picks)
                var = 0
            (doc.head if bp.position == "start" else doc.tail).append((bp.kind, var, text))

    # -- articles ---------------------------------------------------------------------------
    def _derive(
        self,
        rng: np.random.Generator,
        index: int,
        paras: list[list[_Piece]],
        title: str,
        own_texts: list[tuple[str, int]],
        new_title: str,
    ) -> tuple[list[list[_Piece]], str]:
        """Reprint: drop, reorder, merge, split, edit, add own paragraphs, rewrite headline."""
        cfg = self.cfg
        st = _Stream(rng, self.tx.lex)
        p_drop, p_swap, intensity = st.uniforms(3).tolist()
        p_drop *= 0.3
        intensity = 0.05 + 0.95 * intensity
        ud = st.uniforms(len(paras)).tolist()
        keep = [paras[0]] + [p for p, x in zip(paras[1:], ud[1:], strict=True) if x >= p_drop]
        if len(keep) < 2 and len(paras) >= 2:
            keep = paras[:2]
        keep = list(keep)
        if p_swap < 0.3 and len(keep) > 3:
            for _ in range(int(rng.integers(1, 3))):
                i = int(rng.integers(1, len(keep) - 1))
                keep[i], keep[i + 1] = keep[i + 1], keep[i]
        top = cfg.max_edit_rate * intensity
        out: list[list[_Piece]] = []
        i = 0
        while i < len(keep):
            para = keep[i]
            u, r0, r1 = st.uniforms(3).tolist()
            rate = 0.0 if r0 < 0.35 else r1 * top
            if u < 0.04 and i + 1 < len(keep) and len(para) == 1 and len(keep[i + 1]) == 1:
                merged = [self._edit(st, pc, rate, index) for pc in para + keep[i + 1]]
                out.append(merged)
                i += 2
                continue
            edited = [self._edit(st, pc, rate, index) for pc in para]
            if u > 0.96 and len(edited) == 1 and edited[0].s1 - edited[0].s0 >= 2:
                halves = self._split(rng, edited[0])
                if halves is not None:
                    out.append([halves[0]])
                    out.append([halves[1]])
                    i += 1
                    continue
            out.append(edited)
            i += 1
        for para in self._own(index, own_texts):
            out.insert(int(rng.integers(1, len(out) + 1)), para)
        rewrite = st.uniforms(1)[0] < 0.5  # new headline, else 35% word edits of the old one
        edited_title = self._edit(st, _Piece(title, None, 0, 1), 0.35, index).text
        title = new_title if rewrite else edited_title
        return out, title

    def _article(
        self,
        index: int,
        role: _Role,
        block: int,
        plan: _Plan,
        docs: dict[int, _Doc],
        stories: dict[int, tuple[str, list[_Piece]]],
        chunk: _Chunk,
    ) -> _Doc:
        ci = role.slot - chunk.first
        if role.kind == "resend":
            orig = docs[role.ref]
            doc = _Doc(
                index,
                "resend",
                orig.outlet,
                orig.title,
                orig.paras,
                list(orig.head),
                list(orig.tail),
            )
            _render(doc, self.outlets[doc.outlet].curly)
            return doc
        outlet = role.outlet
        own_texts = chunk.paras[ci]
        if role.kind in ("fresh", "resend_source"):
            paras = self._own(index, own_texts)
            title = chunk.titles[ci]
        elif role.kind == "embed":
            rng = self._rng(index)
            paras = self._own(index, own_texts[:-2] if role.inline else own_texts)
            title = chunk.titles[ci]
            if role.story not in stories:
                stories[role.story] = self._story(block, role.story, plan)
            src = stories[role.story][1]
            rate = 0.0 if rng.random() < 0.5 else float(rng.uniform(0.0, 0.1))
            st = _Stream(rng, self.tx.lex)
            quoted = [
                self._edit(
                    st,
                    _Piece(src[j].text, src[j].atom, src[j].s0, src[j].s1, (), True),
                    rate,
                    index,
                )
                for j in role.js
                if j < len(src)
            ]
            at = int(rng.integers(1, len(paras) + 1))
            if role.inline:
                (pre, npre), (post, npost) = own_texts[-2:]
                host = [_Piece(pre, ("o", index, 1000), 0, npre), *quoted]
                host.append(_Piece(post, ("o", index, 1001), 0, npost))
                paras.insert(at, host)
            else:
                for q in reversed(quoted):
                    paras.insert(at, [q])
        else:  # member of a story cluster
            if role.story not in stories:
                stories[role.story] = self._story(block, role.story, plan)
            stitle, spcs = stories[role.story]
            if role.parent >= 0:
                parent = docs[role.parent]
                base, ptitle = parent.paras, parent.title
            else:
                base, ptitle = [[p] for p in spcs], stitle
            if role.original:
                paras, title = base, ptitle
            else:
                paras, title = self._derive(self._rng(index), index, base, ptitle, own_texts, chunk.titles[ci])
        kind = {"member": "original" if role.original else "reprint"}.get(role.kind, role.kind)
        doc = _Doc(index, kind, outlet, title, paras)
        self._boiler(chunk.bu[ci].tolist(), self.outlets[outlet], doc)
        _render(doc, self.outlets[outlet].curly)
        return doc

    def block(self, block: int, lo: int, hi: int) -> tuple[_Plan, list[_Doc]]:
        """Generate the articles ``lo <= index < hi`` of ``block`` (in order)."""
        B = self.cfg.block_size
        plan = _make_plan(self.cfg, block, self.weights)
        start = block * B
        first = start  # articles before ``lo`` in the block are needed as parents
        need = _needed(plan, lo - start, hi - start)
        docs: dict[int, _Doc] = {}
        stories: dict[int, tuple[str, list[_Piece]]] = {}
        chunks: dict[int, _Chunk] = {}
        out: list[_Doc] = []
        for s in range(0, hi - start):
            if s not in need and s < lo - start:
                continue
            role = plan.roles[s]
            c = s // _CHUNK
            chunk = chunks.get(c)
            if chunk is None:
                chunk = chunks[c] = self._chunk(block, c, plan)
            doc = self._article(first + s, role, block, plan, docs, stories, chunk)
            docs[s] = doc
            if s >= lo - start:
                out.append(doc)
        return plan, out


def _needed(plan: _Plan, lo: int, hi: int) -> set[int]:
    """Slots below ``lo`` that articles in ``[lo, hi)`` derive from (parents, resend sources)."""
    need: set[int] = set()
    stack = [plan.roles[s] for s in range(max(lo, 0), hi)]
    while stack:
        r = stack.pop()
        for ref in (r.parent, r.ref):
            if 0 <= ref < lo and ref not in need:
                need.add(ref)
                stack.append(plan.roles[ref])
    return need


# --------------------------------------------------------------------------------------------
# Ground truth
# --------------------------------------------------------------------------------------------


def _atom_index(doc: _Doc) -> dict[Atom, list[int]]:
    idx: dict[Atom, list[int]] = {}
    for i, pc in enumerate(doc.pieces):
        if pc.atom is not None:
            idx.setdefault(pc.atom, []).append(i)
    return idx


def _rate(pa: _Piece, pb: _Piece) -> float:
    if pa.hist == pb.hist:
        return 0.0
    ea, eb = dict(pa.hist), dict(pb.hist)
    r = sum(v for k, v in ea.items() if k not in eb) + sum(v for k, v in eb.items() if k not in ea)
    return min(1.0, r)


class _TruthBuilder:
    """Turns the documents of one block into ground-truth records (JSON-ready dicts)."""

    def __init__(self, gen: _Generator) -> None:
        self.gen = gen

    def block(
        self, plan: _Plan, docs: list[_Doc], block_start: int
    ) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]], list[tuple[Any, ...]], list[dict[str, Any]]]:
        """(clusters, pairs, passages, boilerplate) of one block; pairs and passages are
        tuples in the field order of ``_PAIR_FMT`` / ``_PASSAGE_FMT``."""
        gen = self.gen
        by_slot = {d.index - block_start: d for d in docs}
        clusters: list[dict[str, Any]] = []
        pairs: list[tuple[Any, ...]] = []
        passages: list[tuple[Any, ...]] = []
        found = []
        for kind, slots in plan.clusters:
            members = [by_slot[s] for s in slots if s in by_slot]
            if len(members) >= 2:
                found.append((members[0].index, kind, members))
        found.sort(key=lambda t: t[0])
        for first, kind, members in found:
            cid = first + 1
            rec: dict[str, Any] = {
                "cluster": cid,
                "kind": kind,
                "doc_ids": [gen.doc_id(d.index) for d in members],
                "roles": [d.kind for d in members],
            }
            if kind == "story":
                par = []
                for d in members:
                    role = plan.roles[d.index - block_start]
                    par.append(gen.doc_id(block_start + role.parent) if role.parent >= 0 else None)
                rec["parents"] = par
            clusters.append(rec)
            atoms = [_atom_index(d) for d in members]
            for x in range(len(members)):
                for y in range(x + 1, len(members)):
                    self._pair(members[x], members[y], atoms[x], atoms[y], kind, cid, pairs, passages)
        bps: list[dict[str, Any]] = []
        for d in docs:
            name = gen.outlets[d.outlet].name
            for s, e, k, v in d.bp_span:
                bps.append(
                    {
                        "doc": gen.doc_id(d.index),
                        "outlet": name,
                        "kind": k,
                        "variant": v,
                        "start": s,
                        "end": e,
                    }
                )
        return clusters, pairs, passages, bps

    def _pair(
        self,
        A: _Doc,
        B: _Doc,
        ia_: dict[Atom, list[int]],
        ib_: dict[Atom, list[int]],
        kind: str,
        cid: int,
        pairs: list[tuple[Any, ...]],
        passages: list[tuple[Any, ...]],
    ) -> None:
        Ap, Bp = A.pieces, B.pieces
        matches: list[tuple[int, int, float]] = []
        for atom, ias in ia_.items():
            ibs = ib_.get(atom)
            if ibs is None:
                continue
            for ia in ias:
                pa = Ap[ia]
                for ib in ibs:
                    pb = Bp[ib]
                    if pa.s0 < pb.s1 and pb.s0 < pa.s1:
                        r = 0.0 if pa.hist == pb.hist else _rate(pa, pb)
                        matches.append((ia, ib, r))
        if not matches:
            return
        matches.sort()
        a_id, b_id = self.gen.doc_id(A.index), self.gen.doc_id(B.index)
        resend = kind == "resend"
        # paragraph pairs: one per (paragraph of A, paragraph of B) sharing reused text
        groups: dict[tuple[int, int], list[tuple[int, int, float]]] = {}
        for m in matches:
            key = (A.piece_para[m[0]], B.piece_para[m[1]])
            g = groups.get(key)
            if g is None:
                groups[key] = [m]
            else:
                g.append(m)
        for (qa, qb), ms in sorted(groups.items()):
            a_s, a_e = A.para_span[qa]
            b_s, b_e = B.para_span[qb]
            if len(ms) == 1:
                ia, ib, rate = ms[0]
                pa, pb = Ap[ia], Bp[ib]
                embed_a, embed_b = pa.embed, pb.embed
                partial = pa.s0 != pb.s0 or pa.s1 != pb.s1
            else:
                tot = sum(len(Ap[m[0]].text) for m in ms)
                rate = sum(m[2] * len(Ap[m[0]].text) for m in ms) / max(1, tot)
                embed_a = any(Ap[m[0]].embed for m in ms)
                embed_b = any(Bp[m[1]].embed for m in ms)
                partial = any(Ap[m[0]].s0 != Bp[m[1]].s0 or Ap[m[0]].s1 != Bp[m[1]].s1 for m in ms)
            if resend:
                op = "resend"
            elif embed_a or embed_b:
                op = "embed"
                if embed_a:
                    a_s = min(A.piece_span[m[0]][0] for m in ms)
                    a_e = max(A.piece_span[m[0]][1] for m in ms)
                if embed_b:
                    b_s = min(B.piece_span[m[1]][0] for m in ms)
                    b_e = max(B.piece_span[m[1]][1] for m in ms)
            elif len(A.paras[qa]) > 1 or len(B.paras[qb]) > 1:
                op = "merge"
            elif partial:
                op = "split"
            elif A.text[a_s:a_e] == B.text[b_s:b_e]:
                op = "copy"
            elif rate == 0.0:
                op = "restyle"
            else:
                op = "edit"
            pairs.append((a_id, b_id, a_s, a_e, b_s, b_e, op, round(rate, 4), cid))
        # passages: maximal chains of matches adjacent in both documents
        if resend:
            passages.append((a_id, b_id, 0, len(A.text), 0, len(B.text), 0.0, kind, cid))
            return
        open_: dict[tuple[int, int], list[Any]] = {}
        runs: list[list[Any]] = []
        for ia, ib, r in matches:
            run = None
            for key in ((ia - 1, ib - 1), (ia, ib - 1), (ia - 1, ib)):
                run = open_.pop(key, None)
                if run is not None:
                    break
            wa = len(Ap[ia].text)
            if run is None:
                run = [ia, ib, ia, ib, 0.0, 0]
                runs.append(run)
            else:
                run[2], run[3] = max(run[2], ia), max(run[3], ib)
            run[4] += r * wa
            run[5] += wa
            open_[(ia, ib)] = run
        for a0, b0, a1, b1, rw, ww in runs:
            passages.append(
                (
                    a_id,
                    b_id,
                    A.piece_span[a0][0],
                    A.piece_span[a1][1],
                    B.piece_span[b0][0],
                    B.piece_span[b1][1],
                    round(rw / max(1, ww), 4),
                    kind,
                    cid,
                )
            )


_PAIR_FMT = (
    '{{"a": "{}", "b": "{}", "a_start": {}, "a_end": {}, "b_start": {}, "b_end": {}, '
    '"op": "{}", "edit_rate": {}, "cluster": {}}}\n'
)
_PASSAGE_FMT = (
    '{{"a": "{}", "b": "{}", "a_start": {}, "a_end": {}, "b_start": {}, "b_end": {}, '
    '"edit_rate": {}, "kind": "{}", "cluster": {}}}\n'
)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _record(gen: _Generator, doc: _Doc) -> dict[str, Any]:
    return {
        "id": gen.doc_id(doc.index),
        "outlet": gen.outlets[doc.outlet].name,
        "date": gen.date(doc.index),
        "title": doc.title,
        "text": doc.text,
    }


def _check_cfg(cfg: object) -> SynthConfig:
    if not isinstance(cfg, SynthConfig):
        raise InvalidTypeError(f"cfg must be a SynthConfig, got {type(cfg).__name__}")
    return cfg


def generate(cfg: SynthConfig | None = None, start: int = 0, stop: int | None = None) -> Iterator[dict[str, Any]]:
    """Yield the corpus records in order, one dict per article.

    Parameters
    ----------
    cfg : SynthConfig, optional
        Corpus parameters (default ``SynthConfig()``: 20,000 articles, seed 0).
    start, stop : int, optional
        Yield only articles ``start <= i < stop`` (0-based; default all).  Records are identical
        to those of a full run, so independent processes can split the work, e.g. by blocks of
        ``cfg.block_size``; a range that starts inside a block costs up to one block of extra
        work (earlier articles it derives from are regenerated, not yielded).

    Yields
    ------
    dict
        ``{"id": "syn-0000001", "outlet": str, "date": "YYYY-MM-DD", "title": str,
        "text": str}``; paragraphs in ``text`` are separated by one blank line (``"\\n\\n"``).
    """
    cfg = _check_cfg(cfg if cfg is not None else SynthConfig())
    stop = cfg.n_articles if stop is None else stop
    for name, v in (("start", start), ("stop", stop)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise InvalidParameterError(f"{name} must be a non-negative int, got {v!r}")
    if start > stop or stop > cfg.n_articles:
        raise InvalidParameterError(f"need 0 <= start <= stop <= n_articles ({cfg.n_articles}), got {start}, {stop}")
    return _generate(cfg, int(start), int(stop))


def _generate(cfg: SynthConfig, start: int, stop: int) -> Iterator[dict[str, Any]]:
    if start >= stop:
        return
    gen = _Generator(cfg)
    B = cfg.block_size
    for b in range(start // B, (stop - 1) // B + 1):
        lo, hi = max(start, b * B), min(stop, (b + 1) * B)
        _, docs = gen.block(b, lo, hi)
        for d in docs:
            yield _record(gen, d)


def truth_paths(corpus_path: str | os.PathLike[str]) -> dict[str, Path]:
    """Paths of the ground-truth files that belong to ``corpus_path``.

    ``corpus.jsonl.gz`` gives ``corpus.clusters.jsonl.gz``, ``corpus.pairs.jsonl.gz``,
    ``corpus.passages.jsonl.gz``, ``corpus.boilerplate.jsonl.gz`` and ``corpus.summary.json``
    (plain JSON); ``corpus.jsonl`` gives the same names without ``.gz``.
    """
    p = Path(corpus_path)
    name = p.name
    if name.endswith(".jsonl.gz"):
        stem, ext = name[: -len(".jsonl.gz")], ".jsonl.gz"
    elif name.endswith(".jsonl"):
        stem, ext = name[: -len(".jsonl")], ".jsonl"
    else:
        raise InvalidParameterError(f"corpus path must end with .jsonl or .jsonl.gz, got {str(corpus_path)!r}")
    if not stem:
        raise InvalidParameterError(f"corpus file name has an empty stem: {str(corpus_path)!r}")
    out = {k: p.with_name(f"{stem}.{k}{ext}") for k in _TRUTH_KINDS}
    out["summary"] = p.with_name(f"{stem}.summary.json")
    return out


class _Sink:
    """Byte sink for a .jsonl or deterministic (mtime 0, no file name) .jsonl.gz file."""

    def __init__(self, path: Path, gz: bool, level: int) -> None:
        self.raw: IO[bytes] = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.fh: IO[bytes] = self.raw
        if gz:
            self.fh = gzip.GzipFile(  # type: ignore[assignment]
                filename="", mode="wb", fileobj=self.raw, mtime=0, compresslevel=level
            )
        self.bytes = 0

    def write_lines(self, recs: list[dict[str, Any]]) -> None:
        if recs:
            self.write("\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\n")

    def write_fmt(self, fmt: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self.write("".join([fmt.format(*r) for r in rows]))

    def write(self, text: str) -> None:
        data = text.encode("utf-8")
        self.bytes += len(data)
        self.fh.write(data)

    def close(self) -> None:
        if self.fh is not self.raw:
            self.fh.close()
        self.raw.close()


def write_corpus(
    path: str | os.PathLike[str], cfg: SynthConfig | None = None, *, compresslevel: int = 6
) -> dict[str, Any]:
    """Stream the corpus to ``path`` and write its ground truth beside it.

    Memory stays bounded by one planning block (``cfg.block_size`` articles) whatever the
    corpus size.

    Parameters
    ----------
    path : str or os.PathLike
        Output file, ``*.jsonl`` (plain) or ``*.jsonl.gz`` (gzip; truth files gzipped too).
        Existing files are overwritten.
    cfg : SynthConfig, optional
        Corpus parameters (default ``SynthConfig()``).
    compresslevel : int, default 6
        gzip level 1-9 (ignored for plain ``.jsonl``).  Output bytes are deterministic.

    Returns
    -------
    dict
        Summary: ``n_articles``, ``n_paragraphs``, ``text_chars`` (characters of all texts),
        ``corpus_bytes`` (uncompressed JSONL bytes), ``n_clusters``, ``n_clustered_docs``,
        ``n_pairs``, ``n_passages``, ``n_boilerplate``, ``pair_ops`` (count per op),
        ``cluster_kinds`` (count per kind), ``config``, ``files`` (file names) and ``paths``
        (full paths).  The same summary, without ``paths``, is saved as
        ``<stem>.summary.json``.
    """
    cfg = _check_cfg(cfg if cfg is not None else SynthConfig())
    if isinstance(compresslevel, bool) or not isinstance(compresslevel, int) or not 0 <= compresslevel <= 9:
        raise InvalidParameterError(f"compresslevel must be an int in [0, 9], got {compresslevel!r}")
    p = Path(path)
    paths = truth_paths(p)
    gz = p.name.endswith(".gz")
    gen = _Generator(cfg)
    tb = _TruthBuilder(gen)
    sinks: dict[str, _Sink] = {}
    summary: dict[str, Any] = {
        "n_articles": 0,
        "n_paragraphs": 0,
        "text_chars": 0,
        "corpus_bytes": 0,
        "n_clusters": 0,
        "n_clustered_docs": 0,
        "n_pairs": 0,
        "n_passages": 0,
        "n_boilerplate": 0,
        "pair_ops": {},
        "cluster_kinds": {},
    }
    try:
        sinks["corpus"] = _Sink(p, gz, compresslevel)
        for k in _TRUTH_KINDS:
            sinks[k] = _Sink(paths[k], gz, compresslevel)
        B = cfg.block_size
        n = cfg.n_articles
        for b in range((n + B - 1) // B):
            lo, hi = b * B, min(n, (b + 1) * B)
            plan, docs = gen.block(b, lo, hi)
            recs = [_record(gen, d) for d in docs]
            sinks["corpus"].write_lines(recs)
            clusters, pairs, passages, bps = tb.block(plan, docs, lo)
            sinks["clusters"].write_lines(clusters)
            sinks["pairs"].write_fmt(_PAIR_FMT, pairs)
            sinks["passages"].write_fmt(_PASSAGE_FMT, passages)
            sinks["boilerplate"].write_lines(bps)
            summary["n_articles"] += len(docs)
            summary["n_paragraphs"] += sum(len(d.paras) + len(d.head) + len(d.tail) for d in docs)
            summary["text_chars"] += sum(len(d.text) for d in docs)
            summary["n_clusters"] += len(clusters)
            summary["n_clustered_docs"] += sum(len(c["doc_ids"]) for c in clusters)
            summary["n_pairs"] += len(pairs)
            summary["n_passages"] += len(passages)
            summary["n_boilerplate"] += len(bps)
            for c in clusters:
                summary["cluster_kinds"][c["kind"]] = summary["cluster_kinds"].get(c["kind"], 0) + 1
            for pr in pairs:
                summary["pair_ops"][pr[6]] = summary["pair_ops"].get(pr[6], 0) + 1
    finally:
        for s in sinks.values():
            s.close()
    summary["corpus_bytes"] = sinks["corpus"].bytes
    summary["config"] = asdict(cfg)
    summary["files"] = {"corpus": p.name, **{k: v.name for k, v in paths.items()}}
    with open(paths["summary"], "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=1, sort_keys=True)
        fh.write("\n")
    summary["paths"] = {"corpus": str(p), **{k: str(v) for k, v in paths.items()}}
    return summary


@dataclass
class GroundTruth:
    """Ground truth of a synthetic corpus, as read by :func:`load_truth`.

    Attributes
    ----------
    clusters : list of dict
        ``{"cluster", "kind", "doc_ids", "roles", ["parents"]}``; only clusters of >= 2
        documents are listed, fresh unrelated articles appear in none.
    pairs : list of dict
        Reused paragraph pairs ``{"a", "b", "a_start", "a_end", "b_start", "b_end", "op",
        "edit_rate", "cluster"}`` (character offsets into each document's ``text``).
    passages : list of dict
        Maximal reused passages ``{"a", "b", "a_start", "a_end", "b_start", "b_end",
        "edit_rate", "kind", "cluster"}``.
    boilerplate : list of dict
        Boilerplate paragraph spans ``{"doc", "outlet", "kind", "variant", "start", "end"}``.
    """

    clusters: list[dict[str, Any]]
    pairs: list[dict[str, Any]]
    passages: list[dict[str, Any]]
    boilerplate: list[dict[str, Any]]

    def doc_cluster(self) -> dict[str, int]:
        """Map each clustered document id to its cluster number."""
        return {d: c["cluster"] for c in self.clusters for d in c["doc_ids"]}

    def columns(self, name: str) -> dict[str, np.ndarray]:
        """Column arrays of ``"pairs"``, ``"passages"`` or ``"boilerplate"`` (numpy-friendly)."""
        if name not in ("pairs", "passages", "boilerplate"):
            raise InvalidParameterError(f"name must be pairs, passages or boilerplate, got {name!r}")
        rows: list[dict[str, Any]] = getattr(self, name)
        keys = list(rows[0]) if rows else []
        return {k: np.asarray([r[k] for r in rows]) for k in keys}


def load_truth(corpus_path: str | os.PathLike[str]) -> GroundTruth:
    """Read the ground-truth files written beside ``corpus_path`` by :func:`write_corpus`.

    Raises
    ------
    InputError
        A truth file is missing or holds a line that is not a JSON object.
    """
    paths = truth_paths(corpus_path)
    out: dict[str, list[dict[str, Any]]] = {}
    for k in _TRUTH_KINDS:
        fp = paths[k]
        if not fp.exists():
            raise InputError(f"{fp}: ground-truth file not found (write it with write_corpus)")
        rows: list[dict[str, Any]] = []
        opener = gzip.open if fp.name.endswith(".gz") else open
        with opener(fp, "rt", encoding="utf-8") as fh:
            for ln, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{fp}:{ln}: bad JSON: {exc}") from exc
                if not isinstance(rec, dict):
                    raise InputError(f"{fp}:{ln}: expected a JSON object")
                rows.append(rec)
        out[k] = rows
    return GroundTruth(out["clusters"], out["pairs"], out["passages"], out["boilerplate"])
