"""Tests of dedup.align: generated reuse scored with PAN measures, the seed articles, properties.

Run this file as a script to print the quality/speed comparison with difflib reported in
docs/align.md::

    /work/venv/bin/python tests/test_align.py
"""

from __future__ import annotations

import collections
import difflib
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedup.align import _STOPWORDS, EditOp, Passage, PreparedText, align, prepare
from dedup.errors import InvalidParameterError, InvalidTypeError
from dedup.evaluation import Case, PanScores, pan_scores
from dedup.text import tokenize

FIXTURES = Path(__file__).parent / "fixtures"


def _fixture_texts() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*.txt"))]


# ---------------------------------------------------------------------------------------------
# A small seeded generator of reuse cases (independent of dedup.synth)


def _vocabulary() -> tuple[list[str], list[int]]:
    """Words of the seed articles with their frequencies (a realistic Zipf-like distribution)."""
    counts = collections.Counter(w for t in _fixture_texts() for w in re.findall(r"[A-Za-z]+", t))
    words = sorted(counts)
    return words, [counts[w] for w in words]


_VOCAB = _vocabulary()

_QUOTES = [("‘", "’"), ('"', '"'), ("“", "”"), ("", ""), ("", "")]


@dataclass
class Pair:
    a: str
    b: str
    truth: list[Case]


def _sentence(rng: random.Random, lo: int = 8, hi: int = 25) -> list[str]:
    words, weights = _VOCAB
    return rng.choices(words, weights, k=rng.randint(lo, hi))


def _edit(rng: random.Random, sentences: list[list[str]], rate: float) -> list[list[str]]:
    """Substitute, insert and delete words at ``rate`` (per word); sometimes drop a sentence."""
    words, weights = _VOCAB
    out = []
    for sent in sentences:
        new: list[str] = []
        for w in sent:
            if rng.random() < rate:
                op = rng.random()
                if op < 0.5:
                    new.append(rng.choices(words, weights)[0])
                elif op < 0.75:
                    new.extend([w, rng.choices(words, weights)[0]])
                # else: deleted
            else:
                new.append(w.upper() if rng.random() < 0.05 else w)
        out.append(new or [sent[0]])
    if len(out) >= 4 and rng.random() < rate:
        del out[rng.randrange(1, len(out) - 1)]  # a sentence dropped from the middle
    return out


def _render(
    rng: random.Random, segments: list[tuple[int | None, list[list[str]]]]
) -> tuple[str, dict[int, tuple[int, int]]]:
    """Join segments of sentences into text with random quotes, paragraphs and line wraps.

    Returns the text and, for each passage id, the character span from its first word's first
    character to its last word's last character.
    """
    parts: list[str] = []
    pos = 0
    spans: dict[int, tuple[int, int]] = {}
    line = 0

    def put(s: str) -> None:
        nonlocal pos, line
        parts.append(s)
        pos += len(s)
        line = 0 if "\n" in s else line + len(s)

    for seg_id, sentences in segments:
        open_q, close_q = rng.choice(_QUOTES)
        first_word_start = None
        for si, sent in enumerate(sentences):
            if parts:
                r = rng.random()
                put("\n\n" if r < 0.25 else "\n" if line > 70 else " ")
            if si == 0 and open_q:
                put(open_q)
            for wi, w in enumerate(sent):
                if wi:
                    put("\n" if line > 75 else " ")
                token = w.capitalize() if wi == 0 else w
                if first_word_start is None:
                    first_word_start = pos
                put(token)
            last_word_end = pos
            put(rng.choice([".", ".", ",", ";", "!"]))
        if close_q:
            put(close_q)
        if seg_id is not None and first_word_start is not None:
            spans[seg_id] = (first_word_start, last_word_end)
    return "".join(parts), spans


def make_pair(seed: int, lo: float, hi: float, *, n_passages: int | None = None) -> Pair:
    """Two documents sharing 1-3 passages (edited at a word rate in [lo, hi]) amid unrelated text.

    The passages of ``b`` come in a shuffled order; quotes, case, paragraph breaks and line
    wrapping differ between the two sides.
    """
    rng = random.Random(seed)
    k = n_passages or rng.randint(1, 3)
    sources = [[_sentence(rng) for _ in range(rng.randint(1, 7))] for _ in range(k)]

    def filler() -> list[list[str]]:
        return [_sentence(rng) for _ in range(rng.randint(2, 5))]

    seg_a: list[tuple[int | None, list[list[str]]]] = []
    for i, src in enumerate(sources):
        seg_a += [(None, filler()), (i, src)]
    seg_a.append((None, filler()))
    order = list(range(k))
    rng.shuffle(order)
    seg_b: list[tuple[int | None, list[list[str]]]] = []
    for i in order:
        seg_b += [(None, filler()), (i, _edit(rng, sources[i], rng.uniform(lo, hi)))]
    seg_b.append((None, filler()))
    a, spans_a = _render(rng, seg_a)
    b, spans_b = _render(rng, seg_b)
    truth = [Case(*spans_a[i], *spans_b[i]) for i in range(k)]
    return Pair(a, b, truth)


def difflib_passages(
    a: str, b: str, *, max_gap: int = 30, min_words: int = 8, min_similarity: float = 0.5
) -> list[Passage]:
    """Baseline: difflib.SequenceMatcher on the normalized words, matching blocks merged into
    passages with the same gap, length and similarity rules as :func:`align`."""
    ta, tb = tokenize(a), tokenize(b)
    sm = difflib.SequenceMatcher(None, ta.words, tb.words, autojunk=False)
    groups: list[list[tuple[int, int, int]]] = []
    for blk in sm.get_matching_blocks():
        if blk.size == 0:
            continue
        if groups:
            pa, pb, ps = groups[-1][-1]
            if blk.a - (pa + ps) <= max_gap and blk.b - (pb + ps) <= max_gap:
                groups[-1].append((blk.a, blk.b, blk.size))
                continue
        groups.append([(blk.a, blk.b, blk.size)])
    out = []
    for g in groups:
        a0, b0 = g[0][0], g[0][1]
        a1, b1 = g[-1][0] + g[-1][2], g[-1][1] + g[-1][2]
        matched = sum(s for _, _, s in g)
        sim = 2 * matched / ((a1 - a0) + (b1 - b0))
        if min(a1 - a0, b1 - b0) >= min_words and sim >= min_similarity:
            out.append(
                Passage(
                    int(ta.starts[a0]),
                    int(ta.ends[a1 - 1]),
                    int(tb.starts[b0]),
                    int(tb.ends[b1 - 1]),
                    sim,
                    (),
                    a1 - a0,
                    b1 - b0,
                    matched,
                )
            )
    return out


def score_band(seeds: range, lo: float, hi: float, method=align) -> tuple[PanScores, float]:
    truth: list[Case] = []
    dets: list[Case] = []
    elapsed = 0.0
    for seed in seeds:
        pair = make_pair(seed, lo, hi)
        t0 = time.perf_counter()
        found = method(pair.a, pair.b)
        elapsed += time.perf_counter() - t0
        truth += [c._replace(pair=seed) for c in pair.truth]
        dets += [Case(p.a_start, p.a_end, p.b_start, p.b_end, seed) for p in found]
    return pan_scores(truth, dets), elapsed


# ---------------------------------------------------------------------------------------------
# Quality on generated reuse


def test_generator_truth_slices_words():
    pair = make_pair(1, 0.1, 0.2, n_passages=3)
    assert len(pair.truth) == 3
    for c in pair.truth:
        assert pair.a[c.a_start].isalnum() and pair.a[c.a_end - 1].isalnum()
        assert pair.b[c.b_start].isalnum() and pair.b[c.b_end - 1].isalnum()


def test_plagdet_low_edit_band():
    scores, _ = score_band(range(40), 0.0, 0.15)
    assert scores.plagdet >= 0.95, scores
    assert scores.granularity <= 1.05, scores


def test_plagdet_high_edit_band():
    scores, _ = score_band(range(100, 140), 0.15, 0.30)
    assert scores.plagdet >= 0.85, scores
    assert scores.granularity <= 1.05, scores


def test_identical_passage_exact_offsets():
    pair = make_pair(7, 0.0, 0.0, n_passages=2)
    found = align(pair.a, pair.b)
    got = sorted((p.a_start, p.a_end, p.b_start, p.b_end) for p in found)
    want = sorted(tuple(c[:4]) for c in pair.truth)
    assert got == want


# ---------------------------------------------------------------------------------------------
# Differences that are not edits; edits; structure


def test_not_edits_are_ignored():
    a = "He said: ‘Things are bad with food, we are constantly saving it,’ he said.\n\nEnd."
    b = 'HE SAID:\n"things are bad with food. We are\nconstantly saving it," he said. Over.'
    [p] = align(a, b)
    assert p.similarity == 1.0
    assert a[p.a_start : p.a_end].startswith("He said")
    assert b[p.b_start : p.b_end].endswith("he said")
    assert [o.kind for o in p.ops] == ["equal"]


def test_passage_crosses_paragraphs_on_one_side_only():
    s1 = "The refusenik troops had been sent to Belarus as part of the invasion force."
    s2 = "Some have been fired and labeled cowards while others face a court martial."
    a = f"Intro line here.\n\n{s1}\n\n{s2}\n\nUnrelated ending words about weather."
    b = f"Other start.\n\n{s1} {s2}\n\nCompletely different tail."
    [p] = align(a, b)
    assert a[p.a_start : p.a_end] == f"{s1}\n\n{s2}"[:-1]
    assert b[p.b_start : p.b_end] == f"{s1} {s2}"[:-1]


def test_edit_script_kinds():
    a = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen"
    b = "one two three four FIVE six seven eight extra nine ten eleven thirteen fourteen fifteen"
    [p] = align(a, b, min_words=5)
    kinds = [o.kind for o in p.ops]
    assert kinds == ["equal", "insert", "equal", "delete", "equal"], kinds
    ins = p.ops[1]
    assert ins.a_start == ins.a_end and b[ins.b_start : ins.b_end].strip() == "extra"
    dele = p.ops[3]
    assert dele.b_start == dele.b_end and a[dele.a_start : dele.a_end].strip() == "twelve"


def test_replace_op():
    a = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu"
    b = "alpha beta gamma delta epsilon ZED ETA2 theta iota kappa lambda mu"
    [p] = align(a, b, min_words=5)
    assert [o.kind for o in p.ops] == ["equal", "replace", "equal"]
    r = p.ops[1]
    assert a[r.a_start : r.a_end] == "zeta eta " and b[r.b_start : r.b_end] == "ZED ETA2 "
    assert p.matched_words == 10 and p.a_words == p.b_words == 12


def _words(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"w{rng.randrange(10**6)}" for _ in range(n)]


def test_dropped_sentence_short_keeps_one_passage_long_splits():
    head, mid, tail = _words(40, 1), _words(20, 2), _words(40, 3)
    a = " ".join(head + mid + tail)
    b = " ".join(head + tail)
    assert len(align(a, b, max_gap=30)) == 1
    assert len(align(a, b, max_gap=10)) == 2


def test_reordered_passages_and_repeats():
    p1, p2, p3 = _words(30, 4), _words(25, 5), _words(12, 6)
    fa, fb = _words(80, 7), _words(80, 8)  # unrelated text, longer than max_gap
    a = " ".join(p1 + fa[:40] + p2 + fa[40:] + p3)
    b = " ".join(p2 + fb[:40] + p3 + fb[40:] + p1 + fb[:35] + p3)  # p3 reused twice in b
    found = align(a, b)
    pairs = [(a[p.a_start : p.a_end], b[p.b_start : p.b_end]) for p in found]
    for piece in (p1, p2):
        assert (" ".join(piece), " ".join(piece)) in pairs
    assert sum(1 for x, y in pairs if x == y == " ".join(p3)) == 2
    assert len(found) == 4


def test_sentence_repeated_in_a():
    s = _words(12, 9)
    a = " ".join(s + _words(40, 10) + s)
    b = " ".join(_words(30, 11) + s + _words(30, 12))
    found = align(a, b)
    assert len(found) == 2
    assert all(a[p.a_start : p.a_end] == " ".join(s) for p in found)


def test_short_quote_of_ten_words_is_a_passage():
    quote = "‘Very often we have a situation that a ration is shared.’"
    a = "Intro. " + " ".join(_words(60, 13)) + " " + quote
    b = "“very often we have a situation that a ration is shared,” he said. " + " ".join(_words(60, 14))
    [p] = align(a, b)
    assert b[p.b_start : p.b_end] == "very often we have a situation that a ration is shared"


def test_common_phrases_do_not_pair_unrelated_text():
    a = (
        "According to the ministry, the weather will be cold in the north of the country, "
        "one of the coldest winters on record, as well as in the south."
    )
    b = (
        "According to the police, the suspect fled in the direction of the river, one of the "
        "largest in the region, as well as two accomplices in the south."
    )
    assert align(a, b) == []


def test_fixture_pairs_do_not_pair_unrelated_texts():
    texts = _fixture_texts()
    a = texts[0]
    unrelated = "\n\n".join(texts[i] for i in (2,)).split("Help those fleeing")[1]
    assert align(a, unrelated) == []


# ---------------------------------------------------------------------------------------------
# The seed articles

_COPIED = {
    "About 60 servicemen from Pskov refused to go to war on Ukrainian territory": (0, 1, 2),
    "Things are bad with food": (0, 1, 2, 4),
    "Our sources tell that commanders now won’t accept any resignation reports": (3, 4),
    "After the first days of the war, they were first brought to the Republic of Belarus": (
        0,
        1,
        2,
        4,
    ),
    "I felt awfully sorry for them, it was scary to find them": (0, 1, 2),
}


def _locate(text: str, phrase: str) -> tuple[int, int]:
    folded = text.replace("’", "'").replace("‘", "'")
    i = folded.find(phrase.replace("’", "'"))
    assert i >= 0, phrase
    return i, i + len(phrase)


@pytest.mark.parametrize("phrase", sorted(_COPIED))
def test_copied_sentences_are_covered(phrase):
    texts = _fixture_texts()
    docs = _COPIED[phrase]
    for x in docs:
        for y in docs:
            if x >= y:
                continue
            found = align(texts[x], texts[y])
            sa, ea = _locate(texts[x], phrase)
            sb, eb = _locate(texts[y], phrase)
            assert any(p.a_start <= sa and ea <= p.a_end and p.b_start <= sb and eb <= p.b_end for p in found), (
                x,
                y,
                phrase,
            )


def _donation_spans(text: str, marker: str) -> tuple[int, int]:
    i = text.index(marker)
    return i, len(text)


@pytest.mark.parametrize("doc,marker", [(2, "Help those fleeing conflict"), (3, "A Message from The Moscow Times")])
def test_donation_appeals_align_with_nothing(doc, marker):
    texts = _fixture_texts()
    lo, hi = _donation_spans(texts[doc], marker)
    for other in range(5):
        if other == doc:
            continue
        for p in align(texts[doc], texts[other]):
            assert p.a_end <= lo or p.a_start >= hi, (doc, other, texts[doc][p.a_start : p.a_end])
        for p in align(texts[other], texts[doc]):
            assert p.b_end <= lo or p.b_start >= hi, (other, doc)


def test_fixture_passages_pair_related_text():
    """Every passage found between two seed articles has real word overlap."""
    texts = _fixture_texts()
    for x in range(5):
        for y in range(x + 1, 5):
            for p in align(texts[x], texts[y]):
                assert p.similarity >= 0.5 and p.matched_words >= 5


def test_symmetry_on_fixtures():
    texts = _fixture_texts()
    fwd = align(texts[0], texts[2])
    back = align(texts[2], texts[0])
    assert sorted((p.a_start, p.a_end, p.b_start, p.b_end) for p in fwd) == sorted(
        (p.b_start, p.b_end, p.a_start, p.a_end) for p in back
    )


# ---------------------------------------------------------------------------------------------
# Invariants (Hypothesis)


def _check_invariants(a: str, b: str, passages: list[Passage]) -> None:
    ta, tb = tokenize(a), tokenize(b)
    assert [p.a_start for p in passages] == sorted(p.a_start for p in passages)
    for p in passages:
        assert 0 <= p.a_start < p.a_end <= len(a)
        assert 0 <= p.b_start < p.b_end <= len(b)
        assert 0.0 <= p.similarity <= 1.0
        assert p.ops and p.ops[0].kind == "equal" and p.ops[-1].kind == "equal"
        assert p.ops[0].a_start == p.a_start and p.ops[0].b_start == p.b_start
        assert p.ops[-1].a_end == p.a_end and p.ops[-1].b_end == p.b_end
        for prev, op in zip(p.ops, p.ops[1:], strict=False):
            assert prev.a_end == op.a_start and prev.b_end == op.b_start
        n_a = n_b = matched = 0
        for op in p.ops:
            assert isinstance(op, EditOp)
            wa = tokenize(a[op.a_start : op.a_end]).words
            wb = tokenize(b[op.b_start : op.b_end]).words
            n_a += len(wa)
            n_b += len(wb)
            if op.kind == "equal":
                assert wa == wb and wa
                matched += len(wa)
            elif op.kind == "insert":
                assert op.a_start == op.a_end and wb
            elif op.kind == "delete":
                assert op.b_start == op.b_end and wa
            else:
                assert wa and wb
        assert (n_a, n_b, matched) == (p.a_words, p.b_words, p.matched_words)
        assert p.similarity == pytest.approx(2 * matched / (n_a + n_b))
    del ta, tb


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
_wordy = st.lists(
    st.sampled_from(["the", "Ünïcode", "ß", "war", "Pskov", "ﬁne", "‘quote’", "e\u0301", "60", "x"]),
    max_size=80,
).map(" ".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=st.one_of(_text, _wordy), b=st.one_of(_text, _wordy))
def test_invariants_arbitrary_text(a, b):
    passages = align(a, b, min_words=2, shingle_size=2)
    _check_invariants(a, b, passages)
    _check_invariants(a, b, align(a, b))


@settings(max_examples=100, deadline=None)
@given(a=st.one_of(_text, _wordy))
def test_self_alignment_covers_everything(a):
    toks = tokenize(a)
    n = len(toks)
    content = sum(w not in _STOPWORDS for w in toks.words)
    passages = align(a, a)
    _check_invariants(a, a, passages)
    # the documented evidence rule: at least max(4, 20%) matched words that are not function words
    if n >= 8 and content >= max(4, 0.2 * n):
        assert len(passages) == 1
        p = passages[0]
        toks = tokenize(a)
        assert (p.a_start, p.a_end) == (int(toks.starts[0]), int(toks.ends[-1]))
        assert (p.b_start, p.b_end) == (p.a_start, p.a_end) and p.similarity == 1.0


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), rate=st.floats(0.0, 0.3))
def test_invariants_generated(seed, rate):
    pair = make_pair(seed, rate, rate)
    _check_invariants(pair.a, pair.b, align(pair.a, pair.b))


@pytest.mark.parametrize("text", ["", " \n\t ", "word", "...!?", "one two", "a b c d e f g"])
def test_degenerate_inputs(text):
    assert align(text, text) == [] or len(tokenize(text)) >= 3
    assert align(text, "some other words entirely here") == []
    assert align("", text) == []


def test_accepts_tokens_and_bytes():
    texts = _fixture_texts()
    ref = align(texts[0], texts[1])
    assert align(tokenize(texts[0]), tokenize(texts[1])) == ref
    assert align(texts[0].encode("utf-8"), texts[1]) == ref


@pytest.mark.parametrize(
    "kwargs",
    [
        {"shingle_size": 0},
        {"shingle_size": 2.5},
        {"min_words": 0},
        {"max_gap": -1},
        {"min_similarity": 1.5},
        {"min_similarity": "high"},
        {"max_repeats": 0},
        {"shingle_size": True},
    ],
)
def test_bad_parameters(kwargs):
    with pytest.raises(InvalidParameterError):
        align("a b c", "a b c", **kwargs)


@pytest.mark.parametrize("bad", [None, 3, ["a"], object()])
def test_bad_types(bad):
    with pytest.raises(InvalidTypeError):
        align(bad, "text")
    with pytest.raises(InvalidTypeError):
        align("text", bad)


def test_passages_build_ops_lazily_and_behave_as_passages():
    """align's passages build their EditOps when first read; otherwise they are Passages."""
    import copy
    import dataclasses
    import pickle
    import sys

    mod = sys.modules["dedup.align"]
    texts = _fixture_texts()
    found = align(texts[0], texts[1])
    assert found
    for p in found:
        assert isinstance(p, Passage) and dataclasses.is_dataclass(p)
        assert p._script is not None  # not built yet
        want = mod._script_ops(*p._script)
        ops = p.ops
        assert ops == want and p.ops is ops and p._script is None  # built once, then kept
        plain = Passage(*(getattr(p, f.name) for f in dataclasses.fields(Passage)))
        assert p == plain and plain == p and hash(p) == hash(plain) and repr(p) == repr(plain)
        assert p != dataclasses.replace(plain, a_start=p.a_start + 1)
        assert dataclasses.replace(p, a_end=p.a_end) == plain
        assert dataclasses.asdict(p) == dataclasses.asdict(plain)
        for clone in (pickle.loads(pickle.dumps(p)), copy.copy(p), copy.deepcopy(p)):
            assert type(clone) is Passage and clone == p
        with pytest.raises(AttributeError):
            p.ops = ()  # type: ignore[misc]
    # Equal and hashing alike before their ops are built, too.
    again = align(texts[0], texts[1])
    assert again == found and {hash(p) for p in again} == {hash(p) for p in found}


def test_passage_is_frozen():
    [p] = align("a b c d e f g h i j", "a b c d e f g h i j")
    with pytest.raises(AttributeError):
        p.a_start = 3  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# The fast path (folded ASCII words, numpy word hashes) gives exactly what the exact path gives


def _key(passages: list[Passage]) -> list[tuple]:
    return [
        (p.a_start, p.a_end, p.b_start, p.b_end, p.similarity, p.a_words, p.b_words, p.matched_words, p.ops)
        for p in passages
    ]


@settings(max_examples=100, deadline=None)
@given(a=st.one_of(_text, _wordy), b=st.one_of(_text, _wordy))
def test_fast_path_tokens_equal_tokenize(a, b):
    import sys

    mod = sys.modules["dedup.align"]
    for text in (a, b, a + " " + b):
        folded = mod._fold(text)
        if folded is None:
            assert any(not c.isascii() and tokenize(c).words for c in text)
            continue
        da, db, _ = mod._folded_pair(folded, folded)
        toks = tokenize(text)
        assert list(da.starts) == toks.starts.tolist() and list(da.ends) == toks.ends.tolist()
        assert [w.decode("ascii") for w in da.all_words()] == toks.words
        assert list(db.starts) == toks.starts.tolist()


def _fold_reference(text: str) -> bytes | None:
    """Folding by definition: None when a non-ASCII character is a word character of
    tokenize, else each character's ASCII normal form (non-word characters as spaces)."""
    out = bytearray()
    for ch in text:
        words = tokenize(ch).words
        if not ch.isascii():
            if words:
                return None
            out += b" "
        else:
            out += words[0].encode("ascii") if words else b" "
    return bytes(out)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(_text, _wordy, st.text(max_size=50)))
def test_fold_equals_definition(text):
    """The folding paths (ASCII, one UTF-16 unit per character, astral characters) agree with
    the definition, lone surrogates included."""
    import sys

    mod = sys.modules["dedup.align"]
    assert mod._fold(text) == _fold_reference(text)
    for extra in ("\U0001d400", "\ud800", "\u2019", "\u00e9"):  # astral word, lone surrogate, quote, é
        assert mod._fold(text + extra) == _fold_reference(text + extra)


@settings(max_examples=100, deadline=None)
@given(a=st.one_of(_text, _wordy), b=st.one_of(_text, _wordy))
def test_pair_folded_in_one_go(a, b):
    """align folds both texts in one call; folding is per character, so that is both folds."""
    import sys

    mod = sys.modules["dedup.align"]
    fa, fb = mod._fold(a), mod._fold(b)
    both = mod._fold(mod._PAD_STR + a + " " + b + mod._PAD_STR)
    if fa is None or fb is None:
        assert both is None
    else:
        assert both == mod._PAD + fa + b" " + fb + mod._PAD
        da, db, keys = mod._folded_padded(both, len(a))
        da2, db2, keys2 = mod._folded_pair(fa, fb)
        assert (da.folded, db.folded, list(da.starts), list(db.ends)) == (fa, fb, list(da2.starts), list(db2.ends))
        assert keys.tolist() == keys2.tolist()


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), rate=st.floats(0.0, 0.3), k=st.integers(1, 4))
def test_fast_path_equals_tokens_path(seed, rate, k):
    pair = make_pair(seed, rate, rate)
    fast = align(pair.a, pair.b, shingle_size=k, min_words=4)
    exact = align(tokenize(pair.a), tokenize(pair.b), shingle_size=k, min_words=4)
    assert _key(fast) == _key(exact)


def test_fast_path_equals_tokens_path_repetitive():
    a = "war and peace " * 300 + " ".join(_words(200, 20))
    b = " ".join(_words(100, 21)) + " war and peace" * 250
    for kwargs in ({}, {"max_repeats": 2}, {"shingle_size": 2, "max_repeats": 1}):
        assert _key(align(a, b, **kwargs)) == _key(align(tokenize(a), tokenize(b), **kwargs))


def test_hash_collisions_fall_back_to_exact_path(monkeypatch):
    import sys

    import numpy as np

    import dedup.native as native

    mod = sys.modules["dedup.align"]
    monkeypatch.setattr(native, "USE_NATIVE", False)  # the Python path (the kernel: below)
    texts = _fixture_texts()
    want = _key(align(tokenize(texts[0]), tokenize(texts[1])))
    # Word hashes from the lengths only: words of equal length collide, blocks fail the word check.
    monkeypatch.setattr(mod, "_KEY_C1", np.uint64(0))
    monkeypatch.setattr(mod, "_KEY_C2", np.uint64(0))
    assert mod._blocks_hashed(*mod._folded_pair(mod._fold(texts[0]), mod._fold(texts[1])), 3, 16) is None
    assert _key(align(texts[0], texts[1])) == want


@settings(max_examples=300, deadline=None)
@given(
    xa=st.lists(st.integers(0, 5), max_size=14),
    xb=st.lists(st.integers(0, 5), max_size=14),
)
def test_small_gap_opcodes_equal_difflib(xa, xb):
    import sys

    mod = sys.modules["dedup.align"]
    want = difflib.SequenceMatcher(None, xa, xb, autojunk=False).get_opcodes()
    assert mod._small_opcodes(xa, xb) == [tuple(op) for op in want]
    if xa and xb:  # gaps are never empty
        assert list(mod._gap_opcodes(xa, xb)) == [tuple(op) for op in want]


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(
        st.text(alphabet="abcxyz019", min_size=1, max_size=20),
        min_size=1,
        max_size=60,
    ),
    seps=st.lists(st.sampled_from([" ", "  ", ", ", "\n", " -- "]), min_size=60, max_size=60),
)
def test_word_keys_equal_for_equal_words(words, seps):
    """Word keys read 8-byte groups at any offset: equal words hash alike wherever they are
    (text start and end, words longer than 16 bytes), and words of at most 16 bytes that differ
    hash apart (for these inputs)."""
    import sys

    mod = sys.modules["dedup.align"]
    text = "".join(w + sep for w, sep in zip(words, seps))
    fa = mod._fold(text)
    da, db, keys = mod._folded_pair(fa, fa)
    assert len(keys) == 2 * len(words)
    by_word: dict[bytes, int] = {}
    for w, h in zip(da.all_words() + db.all_words(), keys.tolist()):
        assert by_word.setdefault(w, h) == h
    short = {w: h for w, h in by_word.items() if len(w) <= 16}
    assert len(set(short.values())) == len(short)


_STOP_PIECES = sorted(_STOPWORDS) + ["yourselfs", "themselvesx", "ourselve", "thee", "abouts", "x", "war"]


@settings(max_examples=200, deadline=None)
@given(words=st.lists(st.sampled_from(_STOP_PIECES), max_size=60), suffix=st.sampled_from(["", "s", "x1"]))
def test_stop_flags_equal_stopword_set(words, suffix):
    """The numpy function-word flags of a folded document are exactly set membership."""
    import sys

    mod = sys.modules["dedup.align"]
    text = " ".join(w + suffix if i % 3 == 0 else w.upper() for i, w in enumerate(words))
    da, _, _ = mod._folded_pair(mod._fold(text), mod._fold("other words"))
    want = bytes(w in mod._STOPWORDS_BYTES for w in da.all_words())
    assert da.stop_flags() == want  # Python for short documents
    assert da._stop_flags_numpy() == want  # numpy for longer ones


@settings(max_examples=300, deadline=None)
@given(
    xa=st.lists(st.integers(0, 40), min_size=1, max_size=8, unique=True),
    xb=st.lists(st.integers(0, 40), min_size=1, max_size=8, unique=True),
)
def test_gap_opcodes_one_common_word_equal_difflib(xa, xb):
    """Gaps sharing few words (the shortcut for exactly one common word) match difflib."""
    import sys

    mod = sys.modules["dedup.align"]
    want = difflib.SequenceMatcher(None, xa, xb, autojunk=False).get_opcodes()
    assert list(mod._gap_opcodes(xa, xb)) == [tuple(op) for op in want]


@settings(max_examples=200, deadline=None)
@given(
    pairs=st.dictionaries(st.integers(0, 60), st.integers(0, 60), max_size=50),
    k=st.integers(1, 4),
)
def test_runs_unique_equals_runs_python(pairs, k):
    """Blocks from anchors with one anchor per a position: numpy runs == the set-based runs."""
    import sys

    import numpy as np

    mod = sys.modules["dedup.align"]
    na, m = 61, 62
    i = np.array(list(pairs), dtype=np.int64)
    j = np.array(list(pairs.values()), dtype=np.int64)
    want = mod._runs_python({x * m + y for x, y in pairs.items()}, m, k) if pairs else []
    assert (mod._runs_unique(i, j, na, k) if pairs else []) == want
    if pairs:
        assert mod._runs_numpy(i, j, na + k - 1, m - 1, k) == want


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(st.sampled_from(["a", "b", "ab", "ba", "abc", "c", "bc", "abcdefghijk", "abcdefghij"]), max_size=12),
    seps=st.lists(st.sampled_from([" ", "  ", ", ", ". ", "\n\n", " -- "]), min_size=24, max_size=24),
    cut=st.integers(0, 12),
    data=st.data(),
)
def test_same_words_equals_split(words, seps, cut, data):
    """The block check (spans without spaces, plus word lengths) says exactly whether the words
    of the two spans are the same, whatever the spacing between them."""
    import sys

    mod = sys.modules["dedup.align"]
    other = data.draw(st.lists(st.sampled_from(["a", "b", "ab", "ba", "abc", "c", "bc"]), max_size=12))
    text_a = "".join(w + sep for w, sep in zip(words, seps))
    text_b = "".join(w + sep for w, sep in zip(words[:cut] + other, seps[12:] + seps[:12]))
    da, db, _ = mod._folded_pair(mod._fold(text_a), mod._fold(text_b))
    for a0 in range(len(da)):
        for b0 in range(len(db)):
            for n in range(1, min(len(da) - a0, len(db) - b0) + 1):
                want = da.slice(a0, a0 + n) == db.slice(b0, b0 + n)
                assert mod._same_words(da, db, [(a0, a0 + n, b0, b0 + n)]) == want


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_shingles_straddling_the_two_texts(k):
    """The fast path hashes both texts in one array; the shingles across their boundary (the
    last words of a with the first words of b) are never anchors, even when they equal a shingle
    of a or b: same passages as the tokens path, without falling back to it."""
    import sys

    mod = sys.modules["dedup.align"]
    phrase = "alpha beta gamma delta epsilon"
    words = phrase.split()
    filler_a = " ".join(_words(40, 41))
    filler_b = " ".join(_words(40, 42))
    for cut in range(1, len(words)):
        a = f"{phrase} {filler_a}, {' '.join(words[:cut])}"
        b = f"{' '.join(words[cut:])}. {filler_b} {phrase} {filler_a}"
        assert mod._blocks_hashed(*mod._folded_pair(mod._fold(a), mod._fold(b)), k, 16) is not None
        for kwargs in ({"min_words": 2}, {"min_words": 2, "max_repeats": 1}):
            got = align(a, b, shingle_size=k, **kwargs)
            assert _key(got) == _key(align(tokenize(a), tokenize(b), shingle_size=k, **kwargs))
            assert _key(align(b, a, shingle_size=k, **kwargs)) == _key(
                align(tokenize(b), tokenize(a), shingle_size=k, **kwargs)
            )


def _all_ways(a: str, b: str, **kwargs: object) -> list[list[tuple]]:
    """align of (a, b) with each side as text and as a PreparedText (fresh and reused)."""
    pa, pb = prepare(a), prepare(b)
    out = []
    for x, y in ((a, b), (pa, b), (a, pb), (pa, pb), (pa, pb)):
        out.append(_key(align(x, y, **kwargs)))
    return out


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), rate=st.floats(0.0, 0.3), k=st.integers(1, 4))
def test_prepared_text_equals_text(seed, rate, k):
    """A PreparedText on either side gives exactly what its text gives."""
    pair = make_pair(seed, rate, rate)
    got = _all_ways(pair.a, pair.b, shingle_size=k, min_words=4)
    assert all(x == got[0] for x in got)


@settings(max_examples=100, deadline=None)
@given(a=st.one_of(_text, _wordy), b=st.one_of(_text, _wordy))
def test_prepared_text_equals_text_arbitrary(a, b):
    """Also for arbitrary text: non-ASCII words (exact path), no words, one side only fast."""
    got = _all_ways(a, b, min_words=2, shingle_size=2)
    assert all(x == got[0] for x in got)


def test_prepared_text_against_many():
    """One prepared story against many texts: reused, the same results as the plain text."""
    texts = _fixture_texts()
    story = prepare(texts[0])
    assert isinstance(story, PreparedText) and story.text == texts[0] and len(story) == len(tokenize(texts[0]))
    for other in texts + [texts[0].upper(), "", "Café Zürich " * 50, "war " * 20_000]:
        assert _key(align(story, other)) == _key(align(texts[0], other))
        assert _key(align(other, story)) == _key(align(other, texts[0]))
    # bytes and Tokens are accepted too; long texts (exact path) as well
    assert prepare(texts[1].encode("utf-8")).text == texts[1]
    assert _key(align(prepare(tokenize(texts[1])), story)) == _key(align(texts[1], texts[0]))
    long_a = " ".join(_words(15_000, 30))
    long_b = " ".join(_words(500, 31)) + " " + long_a[:20_000]
    assert _key(align(prepare(long_a), prepare(long_b))) == _key(align(long_a, long_b))
    with pytest.raises(InvalidTypeError):
        prepare(None)  # type: ignore[arg-type]


def test_non_ascii_words_take_the_exact_path():
    a = "Café Zürich: the minister said the budget would be cut by half next year, he said."
    b = "In Zürich the minister said the budget would be cut by half next year at the café."
    [p] = align(a, b)
    assert a[p.a_start : p.a_end] == "Zürich: the minister said the budget would be cut by half next year"
    assert p.similarity == 1.0 and _key([p]) == _key(align(tokenize(a), tokenize(b)))


# ---------------------------------------------------------------------------------------------
# Pathological inputs: these must finish quickly (no timing asserts; a hang would show)


def test_one_word_repeated_vs_itself():
    a = "war " * 50_000
    [p] = align(a, a)
    assert (p.a_start, p.a_end) == (0, len(a) - 1) and p.similarity == 1.0


def test_one_word_repeated_vs_normal_text():
    a = "war " * 50_000
    texts = _fixture_texts()
    assert align(a, texts[4]) == []
    assert align(texts[4], a) == []


def test_two_long_documents_with_shared_passages():
    rng = random.Random(5)
    words, weights = _VOCAB
    a_words = rng.choices(words, weights, k=100_000)
    b_words = rng.choices(words, weights, k=100_000)
    spans = []
    for n in range(20):
        src = rng.randrange(0, 99_000)
        dst = n * 5000 + 100
        b_words[dst : dst + 200] = a_words[src : src + 200]
        spans.append((src, dst))
    found = align(" ".join(a_words), " ".join(b_words))
    assert len(found) >= 20
    big = [p for p in found if p.a_words >= 150]
    assert len(big) == 20


# ---------------------------------------------------------------------------------------------
# The comparison reported in docs/align.md


def _report() -> None:
    head = ("band", "method", "plagdet", "prec", "rec", "gran", "sec")
    print("{:>10} {:>8} {:>8} {:>6} {:>6} {:>6} {:>7}".format(*head))
    for name, seeds, lo, hi in [
        ("0-15%", range(200), 0.0, 0.15),
        ("15-30%", range(1000, 1200), 0.15, 0.30),
    ]:
        for mname, method in [("align", align), ("difflib", difflib_passages)]:
            s, sec = score_band(seeds, lo, hi, method)
            print(
                f"{name:>10} {mname:>8} {s.plagdet:8.3f} {s.precision:6.3f} {s.recall:6.3f} "
                f"{s.granularity:6.3f} {sec:7.2f}"
            )
    rng = random.Random(5)
    words, weights = _VOCAB
    for n in (10_000, 30_000, 100_000):
        aw = rng.choices(words, weights, k=n)
        bw = rng.choices(words, weights, k=n)
        for m in range(n // 5000):
            src = rng.randrange(0, n - 300)
            bw[m * 5000 + 100 : m * 5000 + 300] = aw[src : src + 200]
        a, b = " ".join(aw), " ".join(bw)
        t0 = time.perf_counter()
        align(a, b)
        t_align = time.perf_counter() - t0
        if n <= 30_000:
            t0 = time.perf_counter()
            difflib_passages(a, b)
            t_diff = f"{time.perf_counter() - t0:.2f}"
        else:
            t_diff = "skipped"
        print(f"{n:>7} words: align {t_align:.2f} s, difflib {t_diff} s")
    t0 = time.perf_counter()
    align("war " * 50_000, "war " * 50_000)
    print(f"'war' x 50,000 vs itself: align {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    _report()


# ---------------------------------------------------------------------------------------------
# The compiled path (dedup.kernels.align_found) against the Python code it replaces


def _passage_rows(passages: list[Passage]) -> list[tuple]:
    return [
        (p.a_start, p.a_end, p.b_start, p.b_end, p.similarity, p.a_words, p.b_words, p.matched_words, p.ops)
        for p in passages
    ]


def _both_paths(monkeypatch, a, b, **options) -> tuple[list[tuple], list[tuple]]:
    import dedup.native as native

    monkeypatch.setattr(native, "USE_NATIVE", False)
    ref = _passage_rows(align(a, b, **options))
    monkeypatch.setattr(native, "USE_NATIVE", True)
    return ref, _passage_rows(align(a, b, **options))


_NATIVE_OPTIONS = [
    {},
    {"shingle_size": 1},
    {"shingle_size": 5, "min_words": 3},
    {"max_gap": 0},
    {"max_gap": 200, "max_repeats": 1},
    {"min_similarity": 0.0, "min_words": 1},
]


@pytest.mark.parametrize("options", _NATIVE_OPTIONS)
def test_compiled_align_equals_python(kernels, monkeypatch, options):
    """Generated reuse (quotes, case, edits, reordering), repetitive small-vocabulary text and a
    word repeated thousands of times: the kernel gives exactly the passages and edit scripts of
    the Python code, for every option set."""
    rng = random.Random(11)
    vocab = [
        "war",
        "peace",
        "the",
        "a",
        "of",
        "and",
        "to",
        "in",
        "news",
        "said",
        "themselves",
        "yourselves",
        "between",
        "minister",
    ]
    pairs = [(p.a, p.b) for p in (make_pair(s, 0.0, 0.3) for s in range(25))]
    pairs += [
        (" ".join(rng.choices(vocab, k=rng.randint(0, 90))), " ".join(rng.choices(vocab, k=rng.randint(0, 90))))
        for _ in range(60)
    ]
    pairs += [("war " * 3000, "war " * 2000), ("", "war and peace"), ("a b", "")]
    n_passages = 0
    for a, b in pairs:
        ref, got = _both_paths(monkeypatch, a, b, **options)
        assert got == ref, (a[:80], b[:80])
        n_passages += len(got)
    assert n_passages > 30


def test_compiled_align_with_prepared_texts(kernels, monkeypatch):
    """A PreparedText on either side goes through the kernel too, with the same result."""
    pair = make_pair(3, 0.1, 0.2)
    pa, pb = prepare(pair.a), prepare(pair.b)
    ref, got = _both_paths(monkeypatch, pa, pb)
    assert got == ref and got
    assert _both_paths(monkeypatch, pa, pair.b)[1] == ref


def test_compiled_align_finds_hash_collisions(kernels, monkeypatch):
    """Words longer than 16 bytes are hashed by their first and last 8 bytes and their length,
    so two such words that differ in the middle share a hash: the kernel must notice (a shingle
    group or a block whose words differ) and leave the pair to the exact Python path."""
    from dedup.align import _PAD, _fold, _stop_table

    shared = "the committee published its findings on the ceasefire talks in geneva today"
    a = f"Intro words here. {shared} counterintelligence officials said more. {shared}."
    b = f"Other words there. {shared} counteriXtelligence officials said more. {shared}."
    assert len("counterintelligence") > 16
    padded = _fold(_PAD.decode() + a + " " + b + _PAD.decode())
    assert padded is not None
    options, costs = (3, 16, 8, 30, 128, 4), (0.05, 0.2, 0.25, 0.5, 0.2)
    assert kernels.align_found(padded, len(a), options, costs, _stop_table(kernels)) is None
    ref, got = _both_paths(monkeypatch, a, b)
    assert got == ref and len(got) >= 1


def test_compiled_align_refuses_bad_arguments(kernels):
    from dedup.align import _stop_table

    stops = _stop_table(kernels)
    options, costs = (3, 16, 8, 30, 128, 4), (0.05, 0.2, 0.25, 0.5, 0.2)
    good = b" " * 8 + b"war and peace again war and peace" + b" " * 8
    assert kernels.align_found(good, 13, options, costs, stops) is not None
    with pytest.raises(TypeError):
        kernels.align_found(bytearray(good), 13, options, costs, stops)
    for padded, len_a in [(good[1:], 13), (good, 40), (good, -1), (good, 12), (b" " * 16, 0)]:
        with pytest.raises(ValueError):
            kernels.align_found(padded, len_a, options, costs, stops)
    for bad in [(0, 16, 8, 30, 128, 4), (3, 0, 8, 30, 128, 4), (3, 16, 8, -1, 128, 4)]:
        with pytest.raises(ValueError):
            kernels.align_found(good, 13, bad, costs, stops)
    with pytest.raises(ValueError):
        kernels.align_found(good, 13, options, costs[:4], stops)
    table = np.zeros(16, dtype=np.int16)
    with pytest.raises(ValueError):
        kernels.StopTable(table, 5, 1, b"ab", np.array([0, 2]))  # 16 slots, not 32
    with pytest.raises(ValueError):
        kernels.StopTable(table, 4, 1, b"ab", np.array([0, 3]))  # past the blob
    with pytest.raises(IndexError):
        kernels.StopTable(table + 2, 4, 1, b"ab", np.array([0, 2]))  # word 2 of 1


def test_function_word_hashes_are_those_of_the_word_keys():
    """The function-word table of the kernel is keyed by the hash _word_keys gives each word."""
    from dedup.align import _PAD, _STOPWORDS_BYTES, _word_hash, _word_keys

    words = sorted(_STOPWORDS_BYTES) + [b"counterintelligence", b"x" * 40]
    text = b" ".join(words)
    starts = np.cumsum([0] + [len(w) + 1 for w in words[:-1]])
    ends = starts + np.array([len(w) for w in words])
    hashes, _, _ = _word_keys(_PAD + text + _PAD, starts, ends)
    assert hashes.tolist() == [_word_hash(w) for w in words]
