from __future__ import annotations

import gzip
import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.errors import InvalidTextError, InvalidTypeError
from dedup.text import (
    code_units,
    coerce_text,
    fold_punctuation,
    join_texts,
    paragraph_spans,
    paragraph_spans_batch,
    sentence_break_offsets,
    sentence_breaks,
    token_hashes,
    tokenize,
)


def test_normalization_ignores_quote_style_case_and_wrapping():
    a = tokenize("Some were labeled “cowards,” while ‘others’ — waited…")
    b = tokenize("some were\nLABELED \"cowards,\" while 'others' - waited...")
    assert a.words == b.words


def test_nfkc_and_casefold():
    assert tokenize("ＰＳＫＯＶ Straße ﬁne").words == ["pskov", "strasse", "fine"]


def test_combining_marks_stay_in_word():
    decomposed = "cafe\u0301 au lait"
    t = tokenize(decomposed)
    assert t.words[0] == "café"
    assert decomposed[t.starts[0] : t.ends[0]] == "cafe\u0301"


def test_underscore_is_punctuation():
    assert tokenize("snake_case").words == ["snake", "case"]


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_token_offsets_slice_original(text):
    t = tokenize(text)
    assert len(t.starts) == len(t.ends) == len(t.words)
    assert np.all(t.starts < t.ends)
    assert np.all(t.ends[:-1] <= t.starts[1:])
    for s, e, w in zip(t.starts.tolist(), t.ends.tolist(), t.words):
        piece = text[s:e]
        assert piece and w  # non-empty both ways
        assert tokenize(piece).words == [w]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_paragraph_spans_are_ordered_trimmed_slices(text):
    spans = paragraph_spans(text)
    prev = 0
    for s, e in spans:
        assert prev <= s < e <= len(text)
        assert text[s:e] == text[s:e].strip()
        prev = e


def test_fold_punctuation_keeps_length():
    s = "‘a’ “b” – c — d…"
    assert len(fold_punctuation(s)) == len(s)


def test_blank_line_paragraphs(seeds):
    t = seeds["000"]
    spans = paragraph_spans(t)
    assert len(spans) == 19
    assert t[spans[0][0] : spans[0][1]] == "Defence Minister Sergei Shoigu"


def test_bullets_are_paragraphs(seeds):
    t = seeds["001"]
    texts = [t[s:e] for s, e in paragraph_spans(t)]
    bullets = [x for x in texts if x.startswith("•")]
    assert len(bullets) == 10


def test_single_newline_paragraphs():
    t = "First sentence ends here.\nSecond paragraph is on its own line.\nThird one too."
    assert len(paragraph_spans(t)) == 3


def test_hard_wrapped_wire_copy_with_indented_paragraphs():
    t = (
        "Showers continued throughout the week in\nthe Bahia cocoa zone, alleviating the drought\n"
        "since early January.\n    The dry period means the temporao will\nbe late this year.\n"
        "    Arrivals for the week ended February 22 were\n155,221 bags."
    )
    texts = [t[s:e] for s, e in paragraph_spans(t)]
    assert len(texts) == 3
    assert texts[1].startswith("The dry period") and texts[1].endswith("this year.")


def test_reuters_paragraphs(reuters_path):
    with gzip.open(reuters_path, "rt", encoding="utf-8") as f:
        recs = [json.loads(line) for line in itertools.islice(f, 200)]
    first = recs[0]["text"]
    spans = paragraph_spans(first)
    assert len(spans) > 10  # an indented line starts each paragraph
    assert all("\n    " not in first[s:e] for s, e in spans)


def test_sentence_breaks():
    t = "He said: ‘Yes.’ Then he left. ok"
    assert [t[i : i + 4] for i in sentence_breaks(t, 0, len(t))] == ["Then"]


def _regex_breaks(text: str) -> list[int]:
    """The sentence-break pattern's matches, straight from the regular expression."""
    from dedup.text import _SENT_BREAK_RE

    return [m.end() for m in _SENT_BREAK_RE.finditer(text)]


# every character class of the pattern, plus characters of no class (ASCII, Latin, Cyrillic,
# CJK, an astral emoji, Unicode spaces, a separator that str.isspace() accepts)
_BREAK_ALPHABET = ".!?…\"'”’)]“‘([ \t\n\u00a0\u2003\u3000\x1caZ0Éжx_,\U0001f600漢"


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=_BREAK_ALPHABET, max_size=30))
def test_sentence_break_offsets_match_the_pattern(text):
    """The vectorized scan finds exactly the pattern's matches, on any mix of its classes (also
    with fewer vectorized steps, so that more runs take the fallback for long runs)."""
    from dedup import text as text_mod

    want = _regex_breaks(text)
    saved = text_mod._RUN_STEPS
    try:
        for steps in (saved, 1, 0):
            text_mod._RUN_STEPS = steps
            assert sentence_break_offsets(text).tolist() == want
            assert sentence_break_offsets(text, code_units(text)).tolist() == want
    finally:
        text_mod._RUN_STEPS = saved


def test_sentence_break_offsets_long_runs():
    """Runs longer than the vectorized steps (quotes, spaces) take the exact fallback."""
    text = "It ended." + "’" * 20 + " " * 30 + "“" * 12 + "Then. " + "(" * 9 + "x. Y" + "." * 50 + " Z"
    assert sentence_break_offsets(text).tolist() == _regex_breaks(text)
    assert [text[i] for i in sentence_break_offsets(text)] == ["“", "Y", "Z"]


def test_sentence_break_offsets_on_articles(seeds):
    joined = "\n".join(seeds.values())
    assert sentence_break_offsets(joined).tolist() == _regex_breaks(joined)
    assert len(_regex_breaks(joined)) > 50


PSKOV_SEED1 = 15525447851701222872


def _reference_token_hash(word: str, seed: int) -> int:
    """The documented token hash, in plain Python integers."""
    from dedup import text

    m = (1 << 64) - 1
    poly = sum(ord(c) * pow(text._Q, i, 1 << 64) for i, c in enumerate(word)) & m
    x = ((poly + len(word) * int(text._LEN_MULT)) & m) ^ int(text._seed_key(seed))
    x = ((x ^ (x >> 33)) * 0xFF51AFD7ED558CCD) & m
    x = ((x ^ (x >> 33)) * 0xC4CEB9FE1A85EC53) & m
    return x ^ (x >> 33)


def test_token_hashes_are_seeded_and_stable():
    h1 = token_hashes(["pskov", "pskov", "ukraine"], seed=1)
    h2 = token_hashes(["pskov"], seed=2)
    assert h1.dtype == np.uint64 and h1[0] == h1[1] != h1[2]
    assert h1[0] != h2[0]
    words = ["pskov", "strasse", "i\u0307stanbul", "😀x", "a", "", "ab" * 300]
    assert token_hashes(words, seed=1).tolist() == [_reference_token_hash(w, 1) for w in words]
    # pinned: the same value on every machine and in every release of format 4
    assert int(token_hashes(["pskov"], seed=1)[0]) == PSKOV_SEED1


def test_token_hashes_in_chunks(monkeypatch):
    from dedup import text

    words = [f"w{i % 97}" * (1 + i % 5) for i in range(3000)] + ["x" * 5000, "tail"]
    whole = token_hashes(words, seed=3)
    monkeypatch.setattr(text, "_HASH_CHUNK", 64)  # many passes, and a token longer than a pass
    assert token_hashes(words, seed=3).tolist() == whole.tolist()
    starts, ends, hashes, _ = text.batch_tokens([" ".join(words[:1500]), " ".join(words[1500:])], seed=3)
    assert hashes.tolist() == whole.tolist()


def test_coerce_text_errors():
    assert coerce_text(b"abc") == "abc"
    with pytest.raises(InvalidTextError, match="UTF-8"):
        coerce_text(b"\xff\xfe bad")
    with pytest.raises(InvalidTypeError):
        coerce_text(12)
    with pytest.raises(InvalidTypeError):
        coerce_text(None)


# ASCII letters and their neighbours (@ [ ` {), digits, the underscore, capitals that fold
# differently (ß İ ı ǅ ﬁ Ｐ), a combining mark, CJK, astral letters, an emoji, Unicode spaces
_TOKEN_ALPHABET = "aZz09AM_ -.,\n'’“ÉéßİıǅﬁＰ\u0301\u3000漢\U0001f600\U0001d400ÀÿĀ@[`{"


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=60), st.text(alphabet=_TOKEN_ALPHABET, max_size=40)), max_size=6))
def test_batch_tokens_equal_per_text_tokenize(texts):
    from dedup.text import batch_tokens, token_hashes

    starts, ends, hashes, tok0 = batch_tokens(texts, seed=7)
    assert len(tok0) == len(texts) + 1 and tok0[-1] == len(starts)
    for i, t in enumerate(texts):
        tok = tokenize(t)
        lo, hi = int(tok0[i]), int(tok0[i + 1])
        assert starts[lo:hi].tolist() == tok.starts.tolist()
        assert ends[lo:hi].tolist() == tok.ends.tolist()
        assert hashes[lo:hi].tolist() == token_hashes(tok.words, seed=7).tolist()


def test_batch_tokens_mixed_scripts_and_case():
    from dedup.text import batch_tokens, token_hashes

    texts = ["Straße ‘Quote’ İstanbul", "", "ＰＳＫＯＶ ﬁne", "plain ascii Text", "emoji 😀 x1"]
    starts, ends, hashes, tok0 = batch_tokens(texts, seed=1)
    words = [w for t in texts for w in tokenize(t).words]
    assert hashes.tolist() == token_hashes(words, seed=1).tolist()
    assert [texts[0][s:e] for s, e in zip(starts[: tok0[1]], ends[: tok0[1]])] == ["Straße", "Quote", "İstanbul"]


# ---------------------------------------------------------------------------------------------
# paragraph_spans_batch: exactly the per-text paragraph_spans


def _per_text_spans(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """What featurize computed before paragraph_spans_batch: one paragraph_spans call per text."""
    spans = [paragraph_spans(t) for t in texts]
    flat = np.array([x for sp in spans for x in sp], dtype=np.int64).reshape(-1, 2)
    f_doc = np.repeat(np.arange(len(texts), dtype=np.int64), [len(sp) for sp in spans])
    return flat, f_doc


def _assert_batch_equal(texts: list[str], steps: tuple[int, ...] = (8,)) -> None:
    from dedup import text as text_mod

    want_flat, want_doc = _per_text_spans(texts)
    joined, bases = join_texts(texts)
    saved = text_mod._RUN_STEPS
    try:
        for n in steps:  # fewer vectorized steps: more runs take the exact fallback
            text_mod._RUN_STEPS = n
            for cps in (None, code_units(joined)):
                flat, doc = paragraph_spans_batch(joined, bases, cps)
                assert flat.dtype == np.int64 and doc.dtype == np.int64
                assert flat.shape == want_flat.shape
                assert flat.tolist() == want_flat.tolist()
                assert doc.tolist() == want_doc.tolist()
    finally:
        text_mod._RUN_STEPS = saved


# Pieces of every case of the layout: newlines, separator blanks ([ \t\r\f\v\u00a0]), whitespace
# that str.strip() removes but is no separator (\u2003 \x1c \u2028 \x85), bullets (marks, 1-3
# digits with . or ), too many digits, non-ASCII digits), indentation, sentence ends, words in
# several scripts, an astral emoji and astral word/digit characters, a lone combining mark,
# underscores and punctuation-only runs, long lines (over 100 characters) and long runs of
# whitespace and punctuation (longer than the vectorized steps).
_PARA_PIECES = [
    "\n", "\n", "\n", "\n\n", " ", "\t", "\r", "\r\n", "\u00a0", "\f", "\v", "\u2003", "\x1c",
    "\u2028", "\x85", "\u3000", "• ", "•", "- ", "* ", "— ", "1. ", "12) ", "123.", "1234. ",
    "٣) ", "\U0001d7cf. ", "    ", "\t", " " * 11, ".", "!", "?", "”", "’", '"', ":", ")", "…",
    "a", "Word", "word", "wrapped line of text", "é", "ж", "漢", "\U0001f600", "\U0001d400", "7",
    "\u0301", "_", "_" * 12, "---", ",", "x" * 101, "The quick brown fox jumps over the lazy dog",
]  # fmt: skip
# free text from the pieces, and texts built line by line (blank, odd-blank and content lines
# next to each other are what decides blocks)
_para_line = st.lists(st.sampled_from([p for p in _PARA_PIECES if "\n" not in p]), max_size=6).map("".join)
_para_text = st.one_of(
    st.lists(st.sampled_from(_PARA_PIECES), max_size=40).map("".join),
    st.lists(_para_line, max_size=10).map("\n".join),
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(_para_text, min_size=1, max_size=5))
def test_paragraph_spans_batch_equals_per_text(texts):
    _assert_batch_equal(texts, steps=(8, 1, 0))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80), max_size=4))
def test_paragraph_spans_batch_any_text(texts):
    _assert_batch_equal(texts, steps=(8, 0))


@pytest.mark.parametrize(
    "texts",
    [
        [""],
        ["", ""],
        ["a"],
        ["."],
        [" "],
        ["\n"],
        ["\n\n\n"],
        ["\n" * 7, "\n\n"],
        ["x", "", "\n", "y\n"],
        ["a\n\n\nb", "a\n\n\n\nb", "a\n \n\u00a0\nb", "a\n\u2003\nb", "a\n\u2003\n\nb", "a\n\x1c\n \nb"],
        ["wrapped\nlines\n  indented\n• bullet\n1) number\n1234) no\n"],
        ["A fine sentence.\n" * 3, "no end\n" * 5],
        [" " * 40 + "deep indent" + "\t" * 30, "_" * 50 + "\n" + "-" * 50 + "x"],
    ],
)
def test_paragraph_spans_batch_edge_cases(texts):
    _assert_batch_equal(texts, steps=(8, 1, 0))
    for t in texts:  # a batch of one
        _assert_batch_equal([t], steps=(8, 0))


def test_paragraph_spans_batch_empty_batch():
    flat, doc = paragraph_spans_batch(*join_texts([]))
    assert flat.shape == (0, 2) and doc.shape == (0,)


def test_paragraph_spans_batch_on_articles(seeds):
    texts = list(seeds.values())
    _assert_batch_equal(texts, steps=(8, 0))
    for t in texts:
        _assert_batch_equal([t])


def test_paragraph_spans_batch_on_reuters(reuters_path):
    with gzip.open(reuters_path, "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in itertools.islice(f, 3000)]
    _assert_batch_equal(texts)
    _assert_batch_equal(texts[:300], steps=(0,))


def test_char_class_table():
    """The class table is the per-character definition, over the whole BMP and some astral ones."""
    from dedup.text import _char_class_table, _char_classes, _classes_at

    table = _char_class_table()
    assert table.tolist() == [_char_classes(chr(c)) for c in range(0x10000)]
    astral = np.array([0x1F600, 0x1D400, 0x1D7CF, 0x20000, 0x10FFFF], dtype=np.uint32)
    got = _classes_at(astral, np.arange(len(astral)))
    assert got.tolist() == [_char_classes(chr(int(c))) for c in astral]
    # positions of any shape (the long-run blocks look up a 2-D array of them)
    two_d = _classes_at(astral, np.array([[0, 1], [2, 4]]))
    assert two_d.tolist() == [[got[0], got[1]], [got[2], got[4]]]
    assert got.tolist()[:4] == [0, 4, 12, 4]  # emoji; word; word and digit; word (CJK ext. B)


def test_ascii_word_characters_by_comparison_match_the_pattern():
    from dedup.text import _WORD_RE, _ascii_alnum

    got = _ascii_alnum(np.arange(128, dtype=np.uint8)).tolist()
    assert got == [bool(_WORD_RE.fullmatch(chr(c))) for c in range(128)]
