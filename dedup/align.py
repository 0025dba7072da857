"""Align reused passages between two texts, with a word-level edit script.

:func:`align` finds the passages of text ``a`` that are reused in text ``b`` (and vice versa),
tolerating real edits (words substituted, inserted, deleted, sentences dropped) and ignoring
differences that are not edits (case, quote style, punctuation, whitespace, line wrapping and
paragraph breaks: all of these vanish in :func:`dedup.text.tokenize`). Every offset is a character
offset into the ORIGINAL text, so ``a_text[p.a_start:p.a_end]`` is the passage as the user wrote it.

How it works, in four stages (all linear or near-linear in the document lengths):

1. **Anchors.** Both documents are tokenized as a whole (not paragraph by paragraph, so a passage
   may cross paragraph boundaries on one side only). Every run of ``shingle_size`` consecutive
   normalized words is hashed with numpy; shingles present in both documents are anchors. A
   shingle that occurs more than ``max_repeats`` times in either document (boilerplate, lists,
   a word repeated 50,000 times) does not pair every occurrence with every other one: its i-th
   occurrence in ``a`` is paired with its i-th occurrence in ``b`` only, which keeps the anchor
   count linear and still aligns a repetitive document with itself.
2. **Blocks.** Anchors on the same diagonal (``b position - a position``) at consecutive
   positions are merged into exact blocks: maximal runs of identical words.
3. **Chains.** Blocks are chained in increasing order in both documents (a local chaining DP,
   like minimap2's) with a penalty for the unmatched words between them; two blocks are never
   chained across more than ``max_gap`` unmatched words on either side. Chains are extracted
   best first, each block in one chain at most, so reordered passages, several passages per pair
   and a sentence reused twice all become separate chains.
4. **Passages.** The short gaps between consecutive blocks of a chain are aligned word by word
   with :class:`difflib.SequenceMatcher` (only the gap, never the whole document), giving the
   edit script. The ends are trimmed to the best-scoring stretch (an unmatched word costs half a
   matched word), and a passage is kept only when both sides have at least ``min_words`` words
   and its word similarity is at least ``min_similarity``, so a common phrase such as "according
   to the" never pairs two unrelated sentences.

Where the C extension is built, pairs whose words are ASCII (folded text, below) run stages 1 to
4 up to the candidate passages in one compiled call (:func:`dedup.kernels.align_found`), with
the same results; other text, and every pair when ``DEDUP_NO_NATIVE=1``, runs the Python code.

To align one text against many (an agency story against its reprints), :func:`prepare` it once
and pass the :class:`PreparedText` instead of the text: the per-text work is then done once.
The passages' edit scripts (``Passage.ops``) are built when first read, so a caller that only
needs the spans does not pay for them.

>>> a = "He said: ‘Things are bad with food, we are constantly saving it.’ Then he left."
>>> b = 'Earlier: "things are bad with FOOD. We are constantly saving it," said the POW.'
>>> [p] = align(a, b)
>>> a[p.a_start:p.a_end]
'Things are bad with food, we are constantly saving it'
>>> b[p.b_start:p.b_end], p.similarity
('things are bad with FOOD. We are constantly saving it', 1.0)
"""

from __future__ import annotations

import difflib
from array import array
from bisect import bisect_right
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, fields
from itertools import accumulate, islice, repeat
from typing import Any, Literal

import numpy as np

from . import native
from .errors import InvalidParameterError, InvalidTypeError
from .text import Tokens, _bmp_word_table, coerce_text, token_hashes, tokenize

__all__ = ["align", "prepare", "PreparedText", "Passage", "EditOp", "DEFAULT_SHINGLE_SIZE"]

#: Default anchor size in words. Smaller than the index's 5: alignment runs on a pair already known
#: to share text, so it can afford more anchors, and with 30% word edits a run of 3 unedited words
#: is far more frequent (about 0.34 per word) than a run of 5 (0.17), so 3-word anchors keep heavily
#: edited passages in one piece. Spurious 3-word anchors are filtered by ``min_words`` and
#: ``min_similarity``.
DEFAULT_SHINGLE_SIZE = 3

EditKind = Literal["equal", "replace", "insert", "delete"]

# Chaining costs, in matched words: each unmatched word between two blocks costs _GAP_COST
# (averaged over both sides) and each word of difference between the two gaps (a shift of diagonal)
# costs _SHIFT_COST.
_GAP_COST = 0.1
_SHIFT_COST = 0.2
# At most this many earlier blocks are examined as predecessors of a block.
_MAX_PREDECESSORS = 128
# End trimming: an unmatched word (averaged over both sides) costs this many matched words.
_TRIM_COST = 0.5
# Evidence: a passage needs at least this many matched content words (words that are not English
# function words), and at least this share of its length (in words, shorter side).
_MIN_CONTENT_WORDS = 4
_MIN_CONTENT_SHARE = 0.2

# fmt: off
_STOPWORDS = frozenset(
    [
        "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and",
        "any", "are", "as", "at", "be", "because", "been", "before", "being", "below",
        "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down",
        "during", "each", "few", "for", "from", "further", "had", "has", "have", "having",
        "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if",
        "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my",
        "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other",
        "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so",
        "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then",
        "there", "these", "they", "this", "those", "through", "to", "too", "under", "until",
        "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who",
        "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself",
        "yourselves", "s", "t", "d", "ll", "m", "re", "ve", "said", "says", "one", "two",
        "well", "like", "may", "might", "must", "shall", "upon", "via", "per"
    ]
)
# fmt: on


@dataclass(frozen=True, slots=True)
class EditOp:
    """One step of the word-level edit script of a passage.

    Attributes
    ----------
    kind : {"equal", "replace", "insert", "delete"}
        ``"equal"``: the words are the same after normalization (case, quotes and punctuation
        may differ); ``"replace"``: words of ``a`` replaced by words of ``b``; ``"insert"``:
        words only in ``b`` (the ``a`` span is empty); ``"delete"``: words only in ``a``.
    a_start, a_end : int
        Character span ``[a_start, a_end)`` in the original text ``a``. The span runs from the
        first character of the op's first word to the first character of the next op's first word
        (so it includes the punctuation and space after its last word); the last op of a passage
        ends at the passage end. An empty span marks the position where the words of ``b``
        would go.
    b_start, b_end : int
        The same in the original text ``b``.

    The ops of a passage tile it: the first starts at the passage start, each starts where the
    previous one ended, and the last ends at the passage end (on both sides).
    """

    kind: EditKind
    a_start: int
    a_end: int
    b_start: int
    b_end: int


@dataclass(frozen=True, slots=True)
class Passage:
    """A passage of text ``a`` reused (possibly with edits) in text ``b``.

    Attributes
    ----------
    a_start, a_end : int
        Character span ``[a_start, a_end)`` of the passage in the original text ``a``; it starts at
        the first character of its first word and ends after the last character of its last word.
    b_start, b_end : int
        The same in the original text ``b``.
    similarity : float
        Word-level similarity of the two spans, ``2 * matched_words / (a_words + b_words)``,
        0..1 (1.0 when the normalized words are identical).
    ops : tuple of EditOp
        Word-level edit script turning the ``a`` span into the ``b`` span; starts and ends with
        an ``"equal"`` op.
    a_words, b_words : int
        Number of words (tokens) in each span.
    matched_words : int
        Number of words in ``"equal"`` ops (the same on both sides).
    """

    a_start: int
    a_end: int
    b_start: int
    b_end: int
    similarity: float
    ops: tuple[EditOp, ...]
    a_words: int
    b_words: int
    matched_words: int


# ---------------------------------------------------------------------------------------------
# Parameter checking


def _check_int(name: str, value: object, lo: int, hi: int) -> int:
    if type(value) is int and lo <= value <= hi:
        return value
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise InvalidParameterError(f"{name} must be an int, not {type(value).__name__}")
    if not lo <= int(value) <= hi:
        raise InvalidParameterError(f"{name} must be between {lo} and {hi}, got {value}")
    return int(value)


def _check_fraction(name: str, value: object) -> float:
    if type(value) is float and 0.0 <= value <= 1.0:
        return value
    if not isinstance(value, (int, float, np.floating)) or isinstance(value, bool):
        raise InvalidParameterError(f"{name} must be a number between 0 and 1, not {type(value).__name__}")
    if not 0.0 <= float(value) <= 1.0:
        raise InvalidParameterError(f"{name} must be in [0, 1], got {value}")
    return float(value)


# ---------------------------------------------------------------------------------------------
# Documents: normalized words and their character offsets
#
# Words are only ever compared for equality, so they come either from :func:`dedup.text.tokenize`
# (``str``) or from the fast path below (``bytes``), which gives exactly the same tokens for text
# whose word characters are all ASCII (English news with typographic quotes and dashes): there a
# token is a run of ASCII word characters and its normal form is its lower case. Both tables are
# derived from :func:`dedup.text.tokenize` itself, so the fast path follows the tokenizer's
# definition of a word character instead of restating it. The two sides of one alignment always
# use the same kind of words.

# bytes.translate table: ASCII word character -> its normal form, anything else -> space.
_FOLD: bytes | None = None
# False when some ASCII character does not normalize to one ASCII character (fast path off).
_FOLD_OK = True
# _fold_table() extended to every BMP code point (see _fold16_table).
_FOLD16: np.ndarray | None = None
# Non-ASCII code point -> is it a word character (filled on demand, bounded).
_NON_ASCII_WORD: dict[int, bool] = {}
_NON_ASCII_MAX = 100_000
_STOPWORDS_BYTES = frozenset(w.encode("ascii") for w in _STOPWORDS)


def _first8(word: bytes) -> int:
    """The first 8 bytes of ``word`` as a little-endian integer (zero-padded)."""
    return int.from_bytes(word[:8], "little")


def _stop_tables(bits: int = 12) -> tuple[np.uint64, np.uint64, np.ndarray, np.ndarray]:
    """Direct-mapped tables of the function words, by their first 8 bytes.

    Slot ``(first8 * mul) >> (64 - bits)`` of the first table holds the first 8 bytes of the
    function word of at most 7 bytes that maps there (0 if none), the second those of the longer
    function words (their first 8 bytes). ``mul`` is the first odd multiplier of a fixed seeded
    sequence that gives every key of a table its own slot (deterministic).
    """
    short = sorted({_first8(w) for w in _STOPWORDS_BYTES if len(w) <= 7})
    long = sorted({_first8(w) for w in _STOPWORDS_BYTES if len(w) >= 8})
    shift = 64 - bits
    for mul in np.random.default_rng(0x57095).integers(1, 2**63, size=1000, dtype=np.uint64).tolist():
        mul |= 1
        s_slots = [((k * mul) % 2**64) >> shift for k in short]
        l_slots = [((k * mul) % 2**64) >> shift for k in long]
        if len(set(s_slots)) == len(short) and len(set(l_slots)) == len(long):
            break
    else:  # pragma: no cover - 1,000 tries at a few percent each
        raise RuntimeError("no collision-free multiplier for the function-word tables")
    t_short = np.zeros(1 << bits, dtype=np.uint64)
    t_short[s_slots] = short
    t_long = np.zeros(1 << bits, dtype=np.uint64)
    t_long[l_slots] = long
    return np.uint64(mul), np.uint64(shift), t_short, t_long


# A word of at most 7 bytes is exactly its first 8 bytes, zero-padded (no word has a zero byte),
# whose top byte is 0; a longer word's top byte is not. So the first 8 bytes alone tell a function
# word of at most 7 bytes (no length check); the longer ones (few) are found by their first 8
# bytes and checked as bytes. Looked up in numpy with a direct-mapped table (a binary search costs
# more: its branches are unpredictable).
_STOP_MUL, _STOP_SHIFT, _STOP_SHORT, _STOP_LONG = _stop_tables()
# Documents of at most this many words get their function-word flags in Python.
_PY_STOP_WORDS = 96
# Every function word of 8 bytes or more contains this (checked at import).
_STOP_LONG_HINT = b"sel"
assert all(_STOP_LONG_HINT in w for w in _STOPWORDS_BYTES if len(w) >= 8)
_ASCII_BYTES = bytes(range(128))


def _fold_table() -> bytes:
    global _FOLD, _FOLD_OK
    if _FOLD is None:
        table = bytearray(b" " * 256)
        for c in range(128):
            words = tokenize(chr(c)).words
            if not words:
                continue
            form = words[0]
            if len(words) != 1 or len(form) != 1 or not form.isascii() or not form.isalnum():
                _FOLD_OK = False
            else:
                table[c] = ord(form)
        _FOLD = bytes(table)
    return _FOLD


def _is_word_char(cp: int) -> bool:
    hit = _NON_ASCII_WORD.get(cp)
    if hit is None:
        if len(_NON_ASCII_WORD) >= _NON_ASCII_MAX:
            _NON_ASCII_WORD.clear()
        hit = _NON_ASCII_WORD[cp] = bool(tokenize(chr(cp)).words)
    return hit


def _fold(text: str) -> bytes | None:
    """``text`` with ASCII word characters in normal form and every other character a space.

    ``None`` when ``text`` has a non-ASCII word character (then use :func:`tokenize`). Each
    character becomes one byte, so offsets into the result are offsets into ``text``.
    """
    table = _fold_table()
    if not _FOLD_OK:
        return None
    if text.isascii():
        return text.encode("ascii").translate(table)
    units = text.encode("utf-16-le", "surrogatepass")
    if len(units) == 2 * len(text):
        # One UTF-16 unit per character (no astral character): one table lookup per character.
        folded = _fold16_table().take(np.frombuffer(units, dtype="<u2")).tobytes()
        return None if 0 in folded else folded  # 0: a non-ASCII word character
    # The non-ASCII characters alone: UTF-8 without its ASCII bytes, decoded again.
    rest = text.encode("utf-8", "surrogatepass").translate(None, _ASCII_BYTES)
    for ch in set(rest.decode("utf-8", "surrogatepass")):
        if _is_word_char(ord(ch)):
            return None
    return text.encode("ascii", "replace").translate(table)  # one "?" per non-ASCII character


def _fold16_table() -> np.ndarray:
    """:func:`_fold_table` for every BMP code point (uint8): an ASCII character as there, a
    non-ASCII word character 0 (not foldable), any other non-ASCII character a space.

    Word characters are those of :func:`dedup.text.tokenize` (its own table of BMP word
    characters); built on first use.
    """
    global _FOLD16
    if _FOLD16 is None:
        t = np.where(_bmp_word_table(), 0, 32).astype(np.uint8)
        t[:128] = np.frombuffer(_fold_table()[:128], dtype=np.uint8)
        _FOLD16 = t
    return _FOLD16


class _Doc:
    """One side of an alignment: word offsets (lists) and access to the normalized words."""

    __slots__ = ("starts", "ends", "words", "folded", "stop", "first8", "lens", "_stop_flags")

    def __init__(
        self,
        starts: Sequence[int],
        ends: Sequence[int],
        words: list[str] | None,
        folded: bytes | None,
    ) -> None:
        self.starts = starts
        self.ends = ends
        self.words = words
        self.folded = folded
        self.stop: frozenset[str] | frozenset[bytes] = _STOPWORDS if words is not None else _STOPWORDS_BYTES
        # Folded documents only: the first 8 bytes of each word (zero-padded; function-word
        # flags) and its length in bytes (the block check of _same_words).
        self.first8: np.ndarray | None = None
        self.lens: np.ndarray | None = None
        self._stop_flags: bytes | None = None

    def __len__(self) -> int:
        return len(self.starts)

    def slice(self, lo: int, hi: int) -> list[Any]:
        """The normalized words ``lo .. hi - 1``."""
        if self.words is not None:
            return self.words[lo:hi]
        if hi <= lo:
            return []
        assert self.folded is not None
        return self.folded[self.starts[lo] : self.ends[hi - 1]].split()

    def all_words(self) -> list[Any]:
        if self.words is not None:
            return self.words
        assert self.folded is not None
        return self.folded.split()

    def stop_flags(self) -> bytes | None:
        """One byte per word, 1 for a function word (:data:`_STOPWORDS`), 0 for any other.

        Computed once, for folded documents only (``None`` otherwise: then test the words
        themselves): with numpy from :attr:`first8`, or for a short document
        (where numpy's fixed cost dominates) from its words. Both give the same flags.
        """
        if self._stop_flags is None and self.folded is not None:
            if len(self.starts) <= _PY_STOP_WORDS:
                self._stop_flags = bytes(map(_STOPWORDS_BYTES.__contains__, self.folded.split()))
            else:
                self._stop_flags = self._stop_flags_numpy()
        return self._stop_flags

    def _stop_flags_numpy(self) -> bytes:
        """:meth:`stop_flags` with numpy: a direct-mapped table lookup of each word's first 8
        bytes (a function word of 8+ bytes is checked as bytes)."""
        f8, folded = self.first8, self.folded
        assert f8 is not None and folded is not None
        slot = f8 * _STOP_MUL
        slot >>= _STOP_SHIFT
        # No word's first 8 bytes are all 0, and those of a word of 8+ bytes never equal a short
        # function word's (top byte): equal first 8 bytes are the same word.
        hit = _STOP_SHORT.take(slot) == f8
        if _STOP_LONG_HINT in folded:  # "themselves", but also "itself", "sell"
            # Maybe a long function word (only words of 8+ bytes can match this table).
            long = _STOP_LONG.take(slot) == f8
            for t in long.nonzero()[0].tolist():
                hit[t] = folded[self.starts[t] : self.ends[t]] in _STOPWORDS_BYTES
        return hit.view(np.uint8).tobytes()


def _folded_pair(fa: bytes, fb: bytes) -> tuple[_Doc, _Doc, np.ndarray]:
    """Both documents from their folded texts (see :func:`_folded_padded`)."""
    return _folded_padded(_PAD + fa + b" " + fb + _PAD, len(fa))


def _folded_padded(padded: bytes, len_a: int) -> tuple[_Doc, _Doc, np.ndarray]:
    """Both documents from ``padded``: ``_PAD + fa + " " + fb + _PAD`` with ``len(fa) == len_a``.

    One numpy pass over both texts. Returns the two documents and the word hashes of both
    (those of ``a`` first), see :func:`_word_keys`. Few numpy calls on purpose: on
    article-sized text their fixed cost, not the work, is what counts.
    """
    fa = padded[_PAD_LEN : _PAD_LEN + len_a]
    fb = padded[_PAD_LEN + len_a + 1 : -_PAD_LEN]
    # is_word[q]: character q - 1 of fa + " " + fb is a word character (q = 0 is padding).
    is_word = np.frombuffer(padded, dtype=np.uint8)[_PAD_LEN - 1 :] != 32
    # Word edges in the coordinates of fa + " " + fb: starts and ends (exclusive), alternating.
    edges = (is_word[1:] != is_word[:-1]).nonzero()[0]
    flat = array("q")
    flat.frombytes(edges.tobytes())
    e_a = bisect_right(flat, len_a)  # edges of a: those up to len(fa)
    flat_b = array("q")
    flat_b.frombytes((edges[e_a:] - (len_a + 1)).tobytes())
    # Starts and ends as memoryviews of the edges (no copies; these documents are not kept).
    view, view_b = memoryview(flat), memoryview(flat_b)
    da = _Doc(view[0:e_a:2], view[1:e_a:2], None, fa)
    db = _Doc(view_b[0::2], view_b[1::2], None, fb)
    hashes, first8, lens = _word_keys(padded, edges[0::2], edges[1::2])
    da.first8, da.lens = first8[: e_a // 2], lens[: e_a // 2]
    db.lens = lens[e_a // 2 :]
    return da, db, hashes


def _folded_one(padded: bytes) -> tuple[_Doc, np.ndarray]:
    """One document from ``padded`` (``_PAD + folded + _PAD``) and its word hashes.

    The same documents and hashes as :func:`_folded_padded` gives for it as either side of a
    pair (a word's hash depends on its bytes only).
    """
    folded = padded[_PAD_LEN:-_PAD_LEN]
    is_word = np.frombuffer(padded, dtype=np.uint8)[_PAD_LEN - 1 : len(padded) - _PAD_LEN + 1] != 32
    edges = (is_word[1:] != is_word[:-1]).nonzero()[0]
    flat = array("q")
    flat.frombytes(edges.tobytes())
    doc = _Doc(flat[0::2], flat[1::2], None, folded)
    hashes, doc.first8, doc.lens = _word_keys(padded, edges[0::2], edges[1::2])
    return doc, hashes


def _tokens_doc(tok: Tokens) -> _Doc:
    return _Doc(tok.starts.tolist(), tok.ends.tolist(), tok.words, None)


def _text_of(text: object, what: str) -> str | Tokens:
    if isinstance(text, Tokens):
        return text
    if text is None:
        raise InvalidTypeError(f"{what} must be str, UTF-8 bytes or Tokens, not None")
    return coerce_text(text, what=what)


def _str_doc(text: str | Tokens) -> _Doc:
    return _tokens_doc(text if isinstance(text, Tokens) else tokenize(text))


# ---------------------------------------------------------------------------------------------
# Stage 1-2: anchors and exact blocks
#
# Two implementations with identical results: pure Python (sets and dicts of word tuples) for
# article-sized pairs, where numpy's per-call overhead exceeds the work, and vectorised numpy for
# long documents. A block is ``(a_start, a_end, b_start, b_end)`` in words; blocks are sorted by
# ``a_start`` then ``b_start``.

# Pairs with at most this many words (both sides together) take the pure-Python path.
_SMALL_PAIR_WORDS = 6000
# Texts longer than this many characters skip the fast path (it would be abandoned on words).
_SMALL_PAIR_CHARS = 60_000

_Block = tuple[int, int, int, int]


def _positions(shingles: list[object], common: set[object]) -> dict[object, list[int]]:
    """Positions of each shingle of ``common`` in ``shingles``, in increasing order."""
    pos: dict[object, list[int]] = {}
    for i in [i for i, s in enumerate(shingles) if s in common]:
        s = shingles[i]
        lst = pos.get(s)
        if lst is None:
            pos[s] = [i]
        else:
            lst.append(i)
    return pos


def _blocks_small(wa: list[str], wb: list[str], k: int, max_repeats: int) -> list[_Block]:
    """Anchors and blocks with Python sets and dicts (same result as the numpy path)."""
    if k == 1:
        sha: list[object] = list(wa)
        shb: list[object] = list(wb)
    else:
        sha = list(zip(*[wa[t:] for t in range(k)]))
        shb = list(zip(*[wb[t:] for t in range(k)]))
    common = set(sha).intersection(shb)
    if not common:
        return []
    pos_a = _positions(sha, common)
    pos_b = _positions(shb, common)
    # An anchor (i, j) is coded i * m + j; the next anchor on its diagonal is code + m + 1.
    m = len(wb) + 1
    anchors: set[int] = set()
    add = anchors.add
    for s, la in pos_a.items():
        lb = pos_b[s]
        if len(la) == 1 and len(lb) == 1:
            add(la[0] * m + lb[0])
        elif len(la) > max_repeats or len(lb) > max_repeats:
            anchors.update(i * m + j for i, j in zip(la, lb))
        else:
            anchors.update(i * m + j for i in la for j in lb)
    return _runs_python(anchors, m, k)


_MIX = np.uint64(0x9E3779B97F4A7C15)

# Word hashes of folded text without a Python loop and without a pass over every character: a
# word of at most 16 bytes is exactly its length, its first 8 bytes and its last 8 bytes (which
# overlap when it is shorter), and numpy reads those 8-byte groups at any offset from one
# unaligned uint64 view of the text. The hash is first8 * C1 + last8 * C2 + length (wrapping); the
# shingle keys multiply it further, and only their top bits are compared. A longer word is hashed
# by those 16 bytes and its length only. Collisions are possible, so every block found with these hashes
# is checked word by word (and a failed check sends the pair to the exact path).
_PAD_LEN = 8
_PAD = b" " * _PAD_LEN
_PAD_STR = " " * _PAD_LEN
# _LOW[m]: the low m bytes of a uint64; _HIGH[m]: the high m bytes (m = 0..8; looked up with
# mode="clip", so a longer word gets 8).
_LOW = np.array([(1 << (8 * m)) - 1 for m in range(9)], dtype=np.uint64)
_HIGH = np.array([(1 << 64) - (1 << (8 * (8 - m))) for m in range(9)], dtype=np.uint64)
_KEY_C1 = np.uint64(0x9E3779B97F4A7C15)
_KEY_C2 = np.uint64(0xC2B2AE3D27D4EB4F)


def _word_keys(padded: bytes, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint64 hashes of the words ``[starts[t], ends[t])`` of ``padded[_PAD_LEN:-_PAD_LEN]``,
    their first 8 bytes (zero-padded, as little-endian uint64) and their lengths.

    ``padded`` has at least ``_PAD_LEN`` bytes before and after the text, so the 8 bytes from a
    word's start and the 8 bytes up to its end are always inside it. The 8-byte groups at every
    offset are copied once into an aligned array (taking from the unaligned view would copy it
    for each take); the masks are looked up by length, clipped to 8.
    """
    # win[q]: bytes q .. q + 7 of padded, so win[s + _PAD_LEN] starts the word at text offset s
    # and win[e] ends the word that ends at text offset e.
    win = np.ndarray((len(padded) - 7,), dtype="<u8", buffer=padded, offset=0, strides=(1,)).copy()
    lens = ends - starts
    first8 = win[_PAD_LEN:].take(starts)
    first8 &= _LOW.take(lens, mode="clip")
    h = first8 * _KEY_C1
    last = win.take(ends)
    last &= _HIGH.take(lens, mode="clip")
    last *= _KEY_C2
    h += last
    h += lens.view(np.uint64)
    return h, first8, lens


def _shingle_keys(hashes: np.ndarray, k: int) -> np.ndarray:
    """Hash of every window of ``k`` word hashes: ``sum(h[i + t] * C**(k - 1 - t))``, wrapping.

    A plain polynomial (the word hashes are already mixed); 2 (k - 1) numpy calls.
    """
    n = len(hashes) - k + 1
    if k == 1:
        return hashes
    acc = hashes[:n] * _MIX
    for t in range(1, k):
        acc += hashes[t : t + n]
        if t < k - 1:
            acc *= _MIX
    return acc


# Up to this many anchors, blocks are built from them in Python (_runs_python): cheaper than the
# fixed cost of numpy's calls (_runs_unique, _runs_numpy) for a few dozen anchors.
_PY_ANCHORS = 48


def _runs_python(codes: set[int], m: int, k: int) -> list[_Block]:
    """Blocks from anchors coded ``i * m + j`` (``m`` > every ``j``), sorted by a then b start."""
    step = m + 1
    runs = []
    for c in codes:
        if c - step in codes:
            continue
        e = c + step
        while e in codes:
            e += step
        runs.append((c, e))
    runs.sort()
    out = []
    for c, e in runs:
        i, j = divmod(c, m)
        n = (e - c) // step + k - 1
        out.append((i, i + n, j, j + n))
    return out


def _runs_numpy(i: np.ndarray, j: np.ndarray, wa: int, wb: int, k: int) -> list[_Block]:
    """The same as :func:`_runs_python` from anchor arrays (``j`` in ``b``'s word positions)."""
    na = wa - k + 1
    # Exact blocks: runs of anchors on one diagonal at consecutive positions (sorted codes
    # diagonal * (na + 1) + position, a run is a stretch of codes increasing by one).
    w = na + 1
    code = (j - i + na) * w + i
    code.sort()
    run = np.empty(len(code) + 1, dtype=bool)  # run[t]: anchor t starts a run (run[-1]: sentinel)
    run[0] = run[-1] = True
    np.not_equal(code[1:], code[:-1] + 1, out=run[1:-1])
    first = np.flatnonzero(run[:-1])
    last = np.flatnonzero(run[1:])
    diag, a0 = np.divmod(code.take(first), w)
    length = last - first + k
    # Blocks by a start, then b start (a0 * wb + b0 is unique; the length rides in the low part).
    wb1 = wb + 1
    ml = wa + 1
    order = (a0 * wb1 + (a0 + diag - na)) * ml + length
    order.sort()
    ab, length = np.divmod(order, ml)
    a0, b0 = np.divmod(ab, wb1)
    return [(x, x + m, y, y + m) for x, y, m in zip(a0.tolist(), b0.tolist(), length.tolist())]


def _runs_unique(i: np.ndarray, j: np.ndarray, na: int, k: int) -> list[_Block]:
    """The same as :func:`_runs_numpy` when every ``a`` position has at most one anchor.

    With one anchor per position, ``b_of[p + 1]`` (the ``b`` position of the anchor at ``a``
    position ``p``) describes them all: a run continues at ``p`` when ``b_of[p + 1] ==
    b_of[p] + 1``. A position without an anchor holds ``p + 1 - (na + 3)`` instead (negative,
    and one more than its left neighbour's when that has no anchor either), so the places where
    ``b_of`` does not step by one are exactly the edges of the runs of anchors and of the runs of
    positions without one: one ``nonzero`` finds both, and Python keeps the runs of anchors (a
    few dozen edges). Blocks come out sorted by ``a`` start.
    """
    b_of = np.arange(-(na + 3), -1, dtype=np.int64)  # na + 2 values: positions -1 .. na
    b_of[i + 1] = j
    # edge[q]: b_of[q + 1] is not b_of[q] + 1, so a run starts at index q + 1 (position q).
    edge = ((b_of[1:] - b_of[:-1]) != 1).nonzero()[0]
    firsts = edge.tolist()
    b0s = b_of[1:].take(edge).tolist()  # b_of at each run's first index
    k1 = k - 1
    # A run from position p to the position before the next run's start q: (q - p) anchors.
    return [(p, q + k1, b, b + (q + k1 - p)) for p, q, b in zip(firsts, firsts[1:], b0s) if b >= 0]


def _blocks_hashed(da: _Doc, db: _Doc, hashes: np.ndarray, k: int, max_repeats: int) -> list[_Block] | None:
    """Anchors and blocks from word hashes (numpy); ``None`` when a hash collision is found.

    ``hashes`` holds the word hashes of ``a`` then ``b``. Same blocks as :func:`_blocks_small`:
    one stable sort of the shingle hashes of both documents puts equal shingles next to each
    other, ``a`` first. A shingle occurring once in each document (nearly all) is an anchor
    directly; the rare groups of three or more follow the ``max_repeats`` rule in Python. Every
    block is then compared word by word.
    """
    wa = len(da)
    na, nb = wa - k + 1, len(db) - k + 1
    if na <= 0 or nb <= 0:
        return []
    keys = _shingle_keys(hashes, k)
    # Positions: those of a are 0 .. na - 1, those of b wa .. wa + nb - 1; the k - 1 shingles
    # between them straddle the two documents and are never an anchor (a group holding one is
    # a group of two that is not an a-b pair, or a group of three or more, where they are left
    # out).
    # Sort (hash, position) pairs packed in one uint64: the top bits of the hash, then the
    # position (so equal hashes come in position order, those of a first). Cheaper than argsort.
    n = len(keys)
    bits = n.bit_length()
    low = np.uint64((1 << bits) - 1)
    packed = keys & np.uint64(((1 << 64) - 1) ^ ((1 << bits) - 1))
    packed |= np.arange(n, dtype=np.uint64)
    packed.sort()
    pos = (packed & low).view(np.int64)
    # eq[t + 1]: sorted keys t and t + 1 are equal (eq[0] and eq[-1] are sentinels).
    eq = np.zeros(n + 1, dtype=bool)
    np.less_equal(packed[1:] ^ packed[:-1], low, out=eq[1:-1])
    inner = eq[1:-1]
    t2 = (inner > (eq[:-2] | eq[2:])).nonzero()[0]  # groups of exactly two
    i = pos.take(t2)
    j = pos[1:].take(t2)
    xi: list[int] = []
    xj: list[int] = []
    if np.count_nonzero(inner) != len(t2):
        # Groups of three or more: the exact rule, and a check that the group is one shingle.
        firsts = np.flatnonzero(~eq[:-1])
        sizes = np.diff(np.append(firsts, n))
        for g0, size in zip(firsts[sizes >= 3].tolist(), sizes[sizes >= 3].tolist()):
            members = pos[g0 : g0 + size].tolist()
            pa = [x for x in members if x < na]
            pb = [x - wa for x in members if x >= wa]
            if not pa or not pb:
                continue
            ref = da.slice(pa[0], pa[0] + k)
            if any(da.slice(x, x + k) != ref for x in pa) or any(db.slice(y, y + k) != ref for y in pb):
                return None
            if len(pa) > max_repeats or len(pb) > max_repeats:
                xi += pa[: len(pb)]
                xj += pb[: len(pa)]
            else:
                xi += [x for x in pa for _ in pb]
                xj += pb * len(pa)
    cross = (i < na) & (j >= wa)  # a group of two is an anchor when it is an a-b pair
    i = i[cross]
    j = j[cross] - wa
    if len(i) + len(xi) <= _PY_ANCHORS:
        # Few anchors: the set-based runs cost less than numpy's per-call overhead.
        m = len(db) + 1
        codes = {x * m + y for x, y in zip(i.tolist() + xi, j.tolist() + xj)}
        blocks = _runs_python(codes, m, k) if codes else []
    elif xi:
        i = np.concatenate((i, np.array(xi, dtype=np.int64)))
        j = np.concatenate((j, np.array(xj, dtype=np.int64)))
        blocks = _runs_numpy(i, j, wa, len(db), k)
    else:
        blocks = _runs_unique(i, j, na, k)
    return blocks if _same_words(da, db, blocks) else None


def _same_words(da: _Doc, db: _Doc, blocks: list[_Block]) -> bool:
    """Whether every block has the same words on both sides (folded documents with ``lens``).

    A block whose two spans of folded text are equal has. Otherwise (other punctuation or
    spacing between the words) folded text being words and spaces, the words are the same when
    the spans without their spaces are equal and so are the word lengths: no bytes object per
    word, as ``split()`` would make.
    """
    fa, fb = da.folded, db.folded
    assert fa is not None and fb is not None
    sa, ea, sb, eb = da.starts, da.ends, db.starts, db.ends
    lens_a = lens_b = b""
    w = 0
    for a0, a1, b0, b1 in blocks:
        xa = fa[sa[a0] : ea[a1 - 1]]
        xb = fb[sb[b0] : eb[b1 - 1]]
        if xa != xb:
            if not lens_a:
                assert da.lens is not None and db.lens is not None
                lens_a, lens_b, w = da.lens.tobytes(), db.lens.tobytes(), da.lens.itemsize
            if (
                xa.translate(None, b" ") != xb.translate(None, b" ")
                or lens_a[w * a0 : w * a1] != lens_b[w * b0 : w * b1]
            ):
                return False
    return True


def _word_ids(wa: list[str], wb: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Dense int64 ids of the normalized words of both documents (equal words, equal ids)."""
    ha = token_hashes(wa, seed=0)
    hb = token_hashes(wb, seed=0)
    _, inv = np.unique(np.concatenate([ha, hb]), return_inverse=True)
    inv = inv.astype(np.int64).ravel()
    return inv[: len(ha)], inv[len(ha) :]


def _shingles(ids: np.ndarray, k: int) -> np.ndarray:
    """Hash of every window of ``k`` word ids (uint64, wrapping arithmetic).

    Integer array arithmetic wraps silently in numpy (no ``errstate`` needed; it costs more
    than the arithmetic on article-sized arrays).
    """
    n = len(ids) - k + 1
    if n <= 0:
        return np.empty(0, dtype=np.uint64)
    h = ids.astype(np.uint64) + np.uint64(1)
    acc = h[:n].copy()
    for j in range(1, k):
        acc *= _MIX
        acc ^= acc >> np.uint64(29)
        acc += h[j : j + n]
    acc *= _MIX
    acc ^= acc >> np.uint64(32)
    return acc


def _group(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unique keys, positions sorted by key (stable), first index of each group, group sizes."""
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    if len(sk) == 0:
        e = np.empty(0, dtype=np.int64)
        return sk, order, e, e
    first = np.flatnonzero(np.concatenate([[True], sk[1:] != sk[:-1]]))
    counts = np.diff(np.append(first, len(sk)))
    return sk[first], order, first, counts


def _anchors(ids_a: np.ndarray, ids_b: np.ndarray, k: int, max_repeats: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(i, j)`` of shingles shared by both documents (word indexes of their starts)."""
    sa, sb = _shingles(ids_a, k), _shingles(ids_b, k)
    ua, order_a, first_a, cnt_a = _group(sa)
    ub, order_b, first_b, cnt_b = _group(sb)
    _, ia, ib = np.intersect1d(ua, ub, assume_unique=True, return_indices=True)
    if len(ia) == 0:
        e = np.empty(0, dtype=np.int64)
        return e, e
    ca, cb = cnt_a[ia], cnt_b[ib]
    fa, fb = first_a[ia], first_b[ib]
    small = (ca <= max_repeats) & (cb <= max_repeats)
    # Rare shingles: every occurrence in a with every occurrence in b.
    m, n = ca[small], cb[small]
    tot = m * n
    g = np.repeat(np.arange(len(tot)), tot)
    off = np.arange(int(tot.sum()), dtype=np.int64) - np.repeat(np.cumsum(tot) - tot, tot)
    nn = n[g]
    pa1 = order_a[fa[small][g] + off // nn]
    pb1 = order_b[fb[small][g] + off % nn]
    # Frequent shingles: the i-th occurrence in a with the i-th occurrence in b.
    mm = np.minimum(ca[~small], cb[~small])
    g2 = np.repeat(np.arange(len(mm)), mm)
    off2 = np.arange(int(mm.sum()), dtype=np.int64) - np.repeat(np.cumsum(mm) - mm, mm)
    pa2 = order_a[fa[~small][g2] + off2]
    pb2 = order_b[fb[~small][g2] + off2]
    i = np.concatenate([pa1, pa2]).astype(np.int64)
    j = np.concatenate([pb1, pb2]).astype(np.int64)
    # Verify the words (guards against the astronomically rare hash collision).
    ok = np.ones(len(i), dtype=bool)
    for t in range(k):
        ok &= ids_a[i + t] == ids_b[j + t]
    return i[ok], j[ok]


def _blocks(i: np.ndarray, j: np.ndarray, k: int) -> np.ndarray:
    """Merge anchors into exact blocks; rows ``(a_start, a_end, b_start, b_end)`` in words."""
    if len(i) == 0:
        return np.empty((0, 4), dtype=np.int64)
    d = j - i
    order = np.lexsort((i, d))
    i, d = i[order], d[order]
    brk = np.ones(len(i), dtype=bool)
    brk[1:] = (d[1:] != d[:-1]) | (i[1:] != i[:-1] + 1)
    starts = np.flatnonzero(brk)
    ends = np.append(starts[1:], len(i)) - 1
    a0 = i[starts]
    a1 = i[ends] + k
    dd = d[starts]
    out = np.stack([a0, a1, a0 + dd, a1 + dd], axis=1)
    return out[np.lexsort((out[:, 2], out[:, 0]))]


def _blocks_numpy(wa: list[str], wb: list[str], k: int, max_repeats: int) -> list[_Block]:
    """Anchors and blocks, vectorised (for long documents)."""
    ids_a, ids_b = _word_ids(wa, wb)
    i, j = _anchors(ids_a, ids_b, k, max_repeats)
    return [(a0, a1, b0, b1) for a0, a1, b0, b1 in _blocks(i, j, k).tolist()]


# ---------------------------------------------------------------------------------------------
# Stage 3: chaining


def _chains(blocks: list[_Block], max_gap: int) -> list[list[_Block]]:
    """Chain blocks (sorted by a start); chains best first, blocks trimmed not to overlap.

    A chaining DP: the score of block ``k`` is its length plus the best score of a predecessor
    ``p`` (a block starting earlier on both sides, at most ``max_gap`` words before it on each
    side), less the costs of the gap and the diagonal shift between them. A predecessor whose
    score plus the block's length cannot beat the best found so far is skipped before its gaps
    are computed (every cost is >= 0, so this never changes the result).
    """
    nb = len(blocks)
    if nb == 0:
        return []
    a0s, a1s, b0s, b1s = zip(*blocks)
    # reach[p]: the largest a end among blocks 0..p. Once it is more than max_gap words before
    # a block's start, no earlier block can precede that block (the scan stops there).
    reach = list(accumulate(a1s, max))
    score = [0.0] * nb
    pred = [-1] * nb
    trim = [0] * nb
    gap_cost = _GAP_COST * 0.5
    shift_cost = _SHIFT_COST
    max_pred = _MAX_PREDECESSORS
    for k, (ak0, ak1, bk0, _) in enumerate(blocks):
        length = ak1 - ak0
        best, best_p, best_t = float(length), -1, 0
        lo = k - 1 - max_pred if k > max_pred else -1
        horizon = ak0 - max_gap
        for p in range(k - 1, lo, -1):
            if reach[p] < horizon:
                break
            sp = score[p]
            if sp + length <= best:
                continue  # s below is at most sp + length
            if a0s[p] >= ak0 or b0s[p] >= bk0:
                continue
            ga = ak0 - a1s[p]
            gb = bk0 - b1s[p]
            if ga > max_gap or gb > max_gap:
                continue
            # t = max(0, -ga, -gb), without the calls
            t = ga if ga < gb else gb
            t = -t if t < 0 else 0
            if t >= length:
                continue
            ga += t
            gb += t
            shift = ga - gb if ga >= gb else gb - ga
            s = sp + (length - t) - gap_cost * (ga + gb) - shift_cost * shift
            if s > best:
                best, best_p, best_t = s, p, t
        score[k] = best
        pred[k] = best_p
        trim[k] = best_t
    used = [False] * nb
    chains: list[list[_Block]] = []
    # Best first; equal scores in block order (sorted() with reverse=True stays stable).
    for k in sorted(range(nb), key=score.__getitem__, reverse=True):
        if used[k]:
            continue
        chain = []
        cur = k
        while cur >= 0 and not used[cur]:
            used[cur] = True
            chain.append(cur)
            cur = pred[cur]
        # The first block keeps its full length; the others are trimmed not to overlap their
        # predecessor. If the chain was cut at a used block, the next block may overlap that
        # one's region only, never another block of this chain.
        out = [blocks[chain.pop()]]
        for c in reversed(chain):
            t = trim[c]
            out.append((a0s[c] + t, a1s[c], b0s[c] + t, b1s[c]) if t else blocks[c])
        chains.append(out)
    return chains


# ---------------------------------------------------------------------------------------------
# Stage 4: gap filling, trimming, passages

# A word-level op: (kind, a_first, a_last, b_first, b_last), word index ranges.
_WOp = tuple[str, int, int, int, int]


# Gaps with at most this many word pairs (len(xa) * len(xb)) are matched by _small_opcodes.
_SMALL_GAP_CELLS = 1024


def _small_opcodes(xa: list[Any], xb: list[Any]) -> list[tuple[str, int, int, int, int]]:
    """``difflib.SequenceMatcher(None, xa, xb, autojunk=False).get_opcodes()`` for short lists.

    The same algorithm without the matcher's set-up: the longest matching block (the earliest in
    ``xa``, then in ``xb``, among the longest), recursively on both sides of it; adjacent blocks
    merged. With ``autojunk=False`` and no junk, difflib's ``find_longest_match`` returns exactly
    that block, so the opcodes are identical (checked against difflib in the tests).
    """
    la, lb = len(xa), len(xb)
    found: list[tuple[int, int, int]] = []
    queue = [(0, la, 0, lb)]
    # Positions of each word in xb, increasing: the cells where xb[j] == xa[i], in the order a
    # scan of every cell (i, then j) would meet them.
    b2j: dict[Any, list[int]] = {}
    for j, x in enumerate(xb):
        b2j.setdefault(x, []).append(j)
    while queue:
        alo, ahi, blo, bhi = queue.pop()
        besti = bestj = bestk = 0
        for i in range(alo, ahi):
            if i >= ahi - bestk:
                break  # a block from here on would be no longer than the best
            js = b2j.get(xa[i])
            if js is None:
                continue
            end = bhi - bestk
            for j in js:
                if j < blo:
                    continue
                if j >= end:
                    break
                k = 1
                while i + k < ahi and j + k < bhi and xa[i + k] == xb[j + k]:
                    k += 1
                if k > bestk:
                    besti, bestj, bestk = i, j, k
        if bestk:
            found.append((besti, bestj, bestk))
            if alo < besti and blo < bestj:
                queue.append((alo, besti, blo, bestj))
            if besti + bestk < ahi and bestj + bestk < bhi:
                queue.append((besti + bestk, ahi, bestj + bestk, bhi))
    found.sort()
    ops: list[tuple[str, int, int, int, int]] = []
    i = j = 0
    # Adjacent blocks are merged (as in get_matching_blocks), then opcodes as in get_opcodes.
    merged: list[tuple[int, int, int]] = []
    for bi, bj, bk in found:
        if merged and merged[-1][0] + merged[-1][2] == bi and merged[-1][1] + merged[-1][2] == bj:
            mi, mj, mk = merged[-1]
            merged[-1] = (mi, mj, mk + bk)
        else:
            merged.append((bi, bj, bk))
    merged.append((la, lb, 0))
    for ai, bj, size in merged:
        if i < ai and j < bj:
            ops.append(("replace", i, ai, j, bj))
        elif i < ai:
            ops.append(("delete", i, ai, j, bj))
        elif j < bj:
            ops.append(("insert", i, ai, j, bj))
        i, j = ai + size, bj + size
        if size:
            ops.append(("equal", ai, i, bj, j))
    return ops


def _gap_opcodes(xa: list[Any], xb: list[Any]) -> Sequence[tuple[str, int, int, int, int]]:
    """``difflib.SequenceMatcher(None, xa, xb, autojunk=False).get_opcodes()``, cheaper.

    Two gaps without a common word (most gaps: one word replaced by another) are one
    ``"replace"``, as difflib says too, without building a matcher. When the two share exactly
    one word, found once on each side, that word is the only matching block difflib can find
    (a longer one would need two common words), so the opcodes follow directly. Other short
    gaps go to :func:`_small_opcodes` (the same algorithm without the matcher's set-up).
    """
    common = set(xa).intersection(xb)
    la, lb = len(xa), len(xb)
    if not common:
        return [("replace", 0, la, 0, lb)]
    if len(common) == 1:
        (w,) = common
        if xa.count(w) == 1 and xb.count(w) == 1:
            i, j = xa.index(w), xb.index(w)
            ops = []
            if i or j:
                ops.append(("replace" if i and j else "delete" if i else "insert", 0, i, 0, j))
            ops.append(("equal", i, i + 1, j, j + 1))
            if i + 1 < la or j + 1 < lb:
                kind = "replace" if i + 1 < la and j + 1 < lb else "delete" if i + 1 < la else "insert"
                ops.append((kind, i + 1, la, j + 1, lb))
            return ops
    if la * lb <= _SMALL_GAP_CELLS:
        return _small_opcodes(xa, xb)
    return difflib.SequenceMatcher(None, xa, xb, autojunk=False).get_opcodes()


def _word_ops(chain: list[_Block], da: _Doc, db: _Doc) -> list[_WOp]:
    """The word-level ops of a chain: its blocks (``"equal"``) and the gaps between them.

    An empty op is dropped and an op of the same kind as the previous one extends it. The
    current ``"equal"`` op is kept pending (its start in ``eq_a``, ``eq_b``) until a gap ends it;
    the common gaps (words only deleted, only inserted, or replaced by words they do not share)
    are one op each, and only a gap whose two sides share a word is matched word by word.
    """
    eq_a, pa1, eq_b, pb1 = chain[0]
    if len(chain) == 1:
        return [("equal", eq_a, pa1, eq_b, pb1)]
    ops: list[_WOp] = []
    append = ops.append
    starts_a, ends_a, fa = da.starts, da.ends, da.folded
    starts_b, ends_b, fb = db.starts, db.ends, db.folded
    for a0, a1, b0, b1 in islice(chain, 1, None):
        if a0 > pa1:
            if b0 > pb1:
                if (
                    a0 == pa1 + 1
                    and b0 == pb1 + 1
                    and fa is not None
                    and fb is not None
                    and fa[starts_a[pa1] : ends_a[pa1]] != fb[starts_b[pb1] : ends_b[pb1]]
                ):
                    gap = None  # one word replaced by another
                else:
                    gap = _gap_opcodes(da.slice(pa1, a0), db.slice(pb1, b0))
                    if len(gap) == 1 and gap[0][0] == "replace":
                        gap = None  # no common word: one "replace"
                if gap is None:
                    append(("equal", eq_a, pa1, eq_b, pb1))
                    append(("replace", pa1, a0, pb1, b0))
                else:
                    # A gap sharing words: its ops merge with the ops around them.
                    append(("equal", eq_a, pa1, eq_b, pb1))
                    for kind, i1, i2, j1, j2 in gap:
                        if i1 == i2 and j1 == j2:
                            continue
                        if ops[-1][0] == kind:
                            last = ops[-1]
                            ops[-1] = (kind, last[1], pa1 + i2, last[3], pb1 + j2)
                        else:
                            append((kind, pa1 + i1, pa1 + i2, pb1 + j1, pb1 + j2))
                    if ops[-1][0] == "equal":
                        _, eq_a, _, eq_b, _ = ops.pop()
                        pa1, pb1 = a1, b1
                        continue
            else:
                append(("equal", eq_a, pa1, eq_b, pb1))
                append(("delete", pa1, a0, pb1, pb1))
        elif b0 > pb1:
            append(("equal", eq_a, pa1, eq_b, pb1))
            append(("insert", pa1, pa1, pb1, b0))
        else:
            pa1, pb1 = a1, b1  # no gap: the block extends the pending "equal"
            continue
        eq_a, eq_b = a0, b0
        pa1, pb1 = a1, b1
    append(("equal", eq_a, pa1, eq_b, pb1))
    return ops


def _trim(ops: list[_WOp]) -> tuple[int, int]:
    """Best-scoring contiguous run ``ops[lo:hi]`` (maximum subarray), so weak ends are cut off.

    A matched word scores 1 and an unmatched word ``-_TRIM_COST`` (averaged over both sides).
    """
    best, best_lo, best_hi = 0.0, 0, 0
    cur: float = 0.0
    lo = 0
    cost = _TRIM_COST * 0.5
    for idx, (kind, a0, a1, b0, b1) in enumerate(ops, 1):
        v = a1 - a0 if kind == "equal" else -cost * (a1 - a0 + b1 - b0)
        if cur <= 0:
            cur, lo = v, idx - 1
        else:
            cur += v
        if cur > best:
            best, best_lo, best_hi = cur, lo, idx
    return best_lo, best_hi


def _pieces(ops: list[_WOp]) -> list[list[_WOp]]:
    """Split an op list into its best-scoring run and, recursively, the runs of what is left.

    What trimming cuts off a chain (a block chained across a gap to an unrelated block) is not
    lost: it may be a passage of its own.
    """
    lo, hi = _trim(ops)
    if lo == 0 and hi == len(ops):
        return [ops]  # the usual case: the whole chain
    out: list[list[_WOp]] = []
    todo = [ops]
    while todo:
        cur = todo.pop()
        lo, hi = _trim(cur)
        if hi <= lo:
            continue
        out.append(cur[lo:hi])
        todo.extend(x for x in (cur[:lo], cur[hi:]) if x)
    return out


# EditOps are built field by field with C-level maps (no per-op Python frame): object.__new__ and
# the slot descriptors' setters, which is what the frozen dataclass's __init__ does.
_new_object = object.__new__
_SET_KIND = EditOp.__dict__["kind"].__set__
_SET_A_START = EditOp.__dict__["a_start"].__set__
_SET_A_END = EditOp.__dict__["a_end"].__set__
_SET_B_START = EditOp.__dict__["b_start"].__set__
_SET_B_END = EditOp.__dict__["b_end"].__set__


def _edit_ops(
    kinds: Sequence[str], a_from: list[int], a_to: list[int], b_from: list[int], b_to: list[int]
) -> tuple[EditOp, ...]:
    """EditOps ``(kinds[t], a_from[t], a_to[t], b_from[t], b_to[t])``."""
    n = len(kinds)
    out = tuple(map(_new_object, repeat(EditOp, n)))
    deque(map(_SET_KIND, out, kinds), 0)
    deque(map(_SET_A_START, out, a_from), 0)
    deque(map(_SET_A_END, out, a_to), 0)
    deque(map(_SET_B_START, out, b_from), 0)
    deque(map(_SET_B_END, out, b_to), 0)
    return out


def _script_ops(ops: list[_WOp], sa: Sequence[int], sb: Sequence[int], a_end: int, b_end: int) -> tuple[EditOp, ...]:
    """The EditOps of word-level ops, in characters: op ``t`` spans cut ``t .. t + 1``.

    An op ends where the next op's first word starts; the last op ends at the passage end.
    """
    kinds, a0s, _, b0s, _ = zip(*ops)
    a_from = list(map(sa.__getitem__, a0s))
    a_to = a_from[1:]
    a_to.append(a_end)
    b_from = list(map(sb.__getitem__, b0s))
    b_to = b_from[1:]
    b_to.append(b_end)
    return _edit_ops(kinds, a_from, a_to, b_from, b_to)


_PASSAGE_FIELDS = tuple(f.name for f in fields(Passage))
_GET_OPS = Passage.__dict__["ops"].__get__
_SET_OPS = Passage.__dict__["ops"].__set__


class _LazyPassage(Passage):
    """A :class:`Passage` made by :func:`align`, whose ``ops`` are built on first access.

    The edit script of a passage (one EditOp object per op, in character offsets) is a
    noticeable share of align's time; a caller that only needs the spans never pays it, and one
    that reads ``ops`` pays it then, once (the same EditOps as before). In every other
    respect this is a Passage: the same fields, equal to (and hashing like) a Passage with the
    same values, the same repr, and it pickles and copies as a plain Passage.
    """

    __slots__ = ("_script",)
    # (word ops, starts of a, starts of b, a_end, b_end) until the EditOps are built, then None.
    _script: tuple[list[_WOp], Sequence[int], Sequence[int], int, int] | None

    def _get_ops(self) -> tuple[EditOp, ...]:
        script = self._script
        if script is not None:
            ops = _script_ops(*script)
            _SET_OPS(self, ops)  # before the script is dropped: a reader seeing None finds ops
            _SET_SCRIPT(self, None)
            return ops
        return _GET_OPS(self)

    def _set_ops(self, value: tuple[EditOp, ...]) -> None:
        # Only reachable through object.__setattr__ (the frozen Passage refuses assignment):
        # the dataclass __init__, as called by dataclasses.replace().
        _SET_OPS(self, value)
        _SET_SCRIPT(self, None)

    ops = property(_get_ops, _set_ops, doc="Word-level edit script (tuple of EditOp), built when first read.")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Passage):
            return _passage_tuple(self) == _passage_tuple(other)
        return NotImplemented

    __hash__ = Passage.__hash__

    def __repr__(self) -> str:
        return "Passage(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in _PASSAGE_FIELDS) + ")"

    def __reduce__(self) -> tuple[type[Passage], tuple[Any, ...]]:
        return Passage, _passage_tuple(self)


_SET_SCRIPT = _LazyPassage.__dict__["_script"].__set__
# Passage fields are set with the slot descriptors' setters (no frozen-dataclass __init__).
_PASSAGE_SETTERS = tuple(Passage.__dict__[n].__set__ for n in _PASSAGE_FIELDS if n != "ops")


def _passage_tuple(p: Passage) -> tuple[Any, ...]:
    return tuple(getattr(p, n) for n in _PASSAGE_FIELDS)


def _passages(found: list[tuple[int, list[_WOp]]], da: _Doc, db: _Doc) -> list[Passage]:
    """The passages of the candidates ``(matched words, ops)`` that do not repeat a better one.

    A candidate that mostly repeats a better one on both sides (shifted self-matches in
    repetitive text) is dropped; a sentence reused twice overlaps on one side only and is kept.
    Only the kept candidates become passages (:class:`_LazyPassage`: their EditOps are built
    when first read).
    """
    sa, ea = da.starts, da.ends
    sb, eb = db.starts, db.ends
    # (matched, a_start, a_end, b_start, b_end, ops), better first (ties keep their order).
    spans = [
        (matched, sa[ops[0][1]], ea[ops[-1][2] - 1], sb[ops[0][3]], eb[ops[-1][4] - 1], ops) for matched, ops in found
    ]
    spans.sort(key=lambda c: (-c[0], c[1], c[3]))
    kept: list[tuple[int, int, int, int, int, list[_WOp]]] = []
    for c in spans:
        _, p0, p1, q0, q1, _ = c
        for _, x0, x1, y0, y1, _ in kept:
            # More than half of c's span overlaps on both sides: a repeat.
            if (min(p1, x1) - max(p0, x0)) * 2 > p1 - p0 and (min(q1, y1) - max(q0, y0)) * 2 > q1 - q0:
                break
        else:
            kept.append(c)
    kept.sort(key=lambda c: (c[1], c[3]))
    out: list[Passage] = []
    set_a_start, set_a_end, set_b_start, set_b_end, set_sim, set_wa, set_wb, set_matched = _PASSAGE_SETTERS
    for matched, a_start, a_end, b_start, b_end, ops in kept:
        wa, wb = ops[-1][2] - ops[0][1], ops[-1][4] - ops[0][3]
        p = _new_object(_LazyPassage)
        set_a_start(p, a_start)
        set_a_end(p, a_end)
        set_b_start(p, b_start)
        set_b_end(p, b_end)
        set_sim(p, 2.0 * matched / (wa + wb))
        set_wa(p, wa)
        set_wb(p, wb)
        set_matched(p, matched)
        _SET_SCRIPT(p, (ops, sa, sb, a_end, b_end))
        out.append(p)
    return out


# ---------------------------------------------------------------------------------------------
# Compiled path: folded pairs (ASCII words) go through dedup.kernels.align_found, which computes
# everything above up to the candidate passages, with the same results.

_KIND_NAMES: tuple[str, ...] = ("equal", "replace", "delete", "insert")  # the kernel's op kinds
_STOP_TABLE: Any = None


def _word_hash(word: bytes) -> int:
    """The hash :func:`_word_keys` gives ``word`` (folded, without spaces)."""
    n = len(word)
    first8 = int.from_bytes(word[:8], "little")
    last8 = int.from_bytes(word[-8:], "little") << (8 * (8 - min(n, 8)))
    return (first8 * int(_KEY_C1) + last8 * int(_KEY_C2) + n) % 2**64


def _stop_table(kernels: Any) -> Any:
    """The function words for the kernel (a ``dedup.kernels.StopTable``), built once: a
    direct-mapped table by word hash with the first multiplier of a seeded sequence that gives
    every function word its own slot."""
    global _STOP_TABLE
    if _STOP_TABLE is None:
        words = sorted(_STOPWORDS_BYTES)
        hashes = [_word_hash(w) for w in words]
        bits = 12
        for mul in np.random.default_rng(0x57095).integers(1, 2**63, size=1000, dtype=np.uint64).tolist():
            mul |= 1
            slots = [((h * mul) % 2**64) >> (64 - bits) for h in hashes]
            if len(set(slots)) == len(words):
                break
        else:  # pragma: no cover - 1,000 tries at a few percent each
            raise RuntimeError("no collision-free multiplier for the function-word table")
        table = np.zeros(1 << bits, dtype=np.int16)
        table[slots] = np.arange(1, len(words) + 1)
        off = np.cumsum([0] + [len(w) for w in words])
        _STOP_TABLE = kernels.StopTable(table, bits, mul, b"".join(words), off)
    return _STOP_TABLE


def _padded_pair(xa: str | Tokens | PreparedText, xb: str | Tokens | PreparedText) -> tuple[bytes, int] | None:
    """``_PAD + fa + " " + fb + _PAD`` and ``len(fa)`` for two texts whose words fold (ASCII
    words), else None (tokens, or a non-ASCII word character)."""
    if isinstance(xa, PreparedText) or isinstance(xb, PreparedText):
        fa, fb = _prepared(xa)._doc.folded, _prepared(xb)._doc.folded
        if fa is None or fb is None:
            return None
        return _PAD + fa + b" " + fb + _PAD, len(fa)
    if isinstance(xa, str) and isinstance(xb, str):
        padded = _fold(_PAD_STR + xa + " " + xb + _PAD_STR)
        return None if padded is None else (padded, len(xa))
    return None


def _native_passages(
    words: np.ndarray, counts: list[int], found: list[list[int]], op_cols: list[list[int]]
) -> list[Passage]:
    """The passages of the kernel's candidates (see :func:`dedup.kernels.align_found`)."""
    if not found:
        return []
    w_a, w = counts
    starts, ends = memoryview(words[0]), memoryview(words[1])
    da = _Doc(starts[:w_a], ends[:w_a], None, None)
    db = _Doc(starts[w_a:w], ends[w_a:w], None, None)
    kinds, a0, a1, b0, b1 = op_cols
    ops = list(zip(map(_KIND_NAMES.__getitem__, kinds), a0, a1, b0, b1))
    return _passages([(matched, ops[first : first + count]) for matched, first, count in found], da, db)


class PreparedText:
    """A text prepared once for many alignments: :func:`align` accepts it for ``a`` or ``b``.

    Made by :func:`prepare`. Aligning one text against many others (an agency story against
    its reprints) repeats the per-text work for that text on every call: folding, word
    boundaries, word hashes, function-word flags. A PreparedText does it once and keeps the
    result; ``align(prepared, other)`` gives exactly what ``align(prepared.text, other)`` gives.
    It holds a few arrays of a few bytes per word besides the text, is read-only, and may be
    shared between threads.

    Attributes
    ----------
    text : str
        The text, as given (bytes decoded as UTF-8; the text of Tokens). Passage offsets on
        this side are offsets into it.
    """

    __slots__ = ("text", "_doc", "_hashes")

    def __init__(self, text: str, doc: _Doc, hashes: np.ndarray | None) -> None:
        self.text = text
        self._doc = doc
        self._hashes = hashes  # word hashes (fast path) or None (exact path)

    def __len__(self) -> int:
        """Number of words (tokens)."""
        return len(self._doc)

    def __repr__(self) -> str:
        return f"PreparedText({len(self._doc)} words, {len(self.text)} characters)"


def prepare(text: str | bytes | Tokens) -> PreparedText:
    """Prepare ``text`` once for many calls of :func:`align` (see :class:`PreparedText`).

    >>> story = prepare("Pskov. About 60 servicemen from Pskov refused to go to war on Ukrainian territory.")
    >>> reprints = ["It said: “about 60 SERVICEMEN from Pskov refused to fight on Ukrainian territory”.",
    ...             "Weather: sunny."]
    >>> [[story.text[p.a_start:p.a_end] for p in align(story, r)] for r in reprints]
    [['About 60 servicemen from Pskov refused to go to war on Ukrainian territory'], []]

    Raises
    ------
    InvalidTypeError
        When ``text`` is not text, bytes or Tokens.
    """
    return _prepared(_text_of(text, "text"))


def _prepared(x: str | Tokens | PreparedText) -> PreparedText:
    if isinstance(x, PreparedText):
        return x
    if isinstance(x, str) and len(x) <= _SMALL_PAIR_CHARS:
        padded = _fold(_PAD_STR + x + _PAD_STR)
        if padded is not None:
            doc, hashes = _folded_one(padded)
            return PreparedText(x, doc, hashes)
    return PreparedText(x.text if isinstance(x, Tokens) else x, _str_doc(x), None)


def _exact_doc(doc: _Doc) -> _Doc:
    """``doc`` with str words (the exact path), from its folded text when it has one."""
    if doc.words is not None or doc.folded is None:
        return doc
    return _Doc(doc.starts, doc.ends, doc.folded.decode("ascii").split(), None)


def _prepare(
    xa: str | Tokens | PreparedText, xb: str | Tokens | PreparedText, k: int, max_repeats: int
) -> tuple[_Doc | None, _Doc | None, list[_Block]]:
    """Both documents and their exact blocks (``None`` documents when one has too few words).

    Article-sized pairs of text with ASCII words take the fast path (folded bytes, numpy word
    hashes, checked blocks); everything else tokenizes with :func:`tokenize` and finds blocks
    from the words (pure Python for article sizes, numpy for long documents). Two texts are
    prepared together (one buffer); a :class:`PreparedText` brings its own preparation.
    """
    if isinstance(xa, PreparedText) or isinstance(xb, PreparedText):
        pa, pb = _prepared(xa), _prepared(xb)
        da, db = pa._doc, pb._doc
        if len(da) < k or len(db) < k:
            return None, None, []
        if pa._hashes is not None and pb._hashes is not None and len(da) + len(db) <= _SMALL_PAIR_WORDS:
            blocks = _blocks_hashed(da, db, np.concatenate((pa._hashes, pb._hashes)), k, max_repeats)
            if blocks is not None:
                return da, db, blocks
        da, db = _exact_doc(da), _exact_doc(db)
    else:
        padded = None
        if (
            isinstance(xa, str)
            and isinstance(xb, str)
            and len(xa) <= _SMALL_PAIR_CHARS
            and len(xb) <= _SMALL_PAIR_CHARS
        ):
            # Both texts folded in one go (folding is per character): _PAD + fa + " " + fb + _PAD.
            padded = _fold(_PAD_STR + xa + " " + xb + _PAD_STR)
        if padded is not None:
            da, db, hashes = _folded_padded(padded, len(xa))
            if len(da) < k or len(db) < k:
                return None, None, []
            if len(da) + len(db) <= _SMALL_PAIR_WORDS:
                blocks = _blocks_hashed(da, db, hashes, k, max_repeats)
                if blocks is not None:
                    return da, db, blocks
            # Long pair or hash collision: the same documents with str words, exact path.
            da, db = _exact_doc(da), _exact_doc(db)
        else:
            da, db = _str_doc(xa), _str_doc(xb)
            if len(da) < k or len(db) < k:
                return None, None, []
    wa, wb = da.all_words(), db.all_words()
    if len(wa) + len(wb) <= _SMALL_PAIR_WORDS:
        return da, db, _blocks_small(wa, wb, k, max_repeats)
    return da, db, _blocks_numpy(wa, wb, k, max_repeats)


def align(
    a: str | bytes | Tokens | PreparedText,
    b: str | bytes | Tokens | PreparedText,
    *,
    shingle_size: int = DEFAULT_SHINGLE_SIZE,
    min_words: int = 8,
    max_gap: int = 30,
    min_similarity: float = 0.5,
    max_repeats: int = 16,
) -> list[Passage]:
    """Find the passages of ``a`` reused in ``b``, with word-level edit scripts.

    Parameters
    ----------
    a, b : str, bytes, Tokens or PreparedText
        The two documents: text (``bytes`` are decoded as UTF-8), the output of
        :func:`dedup.text.tokenize` (for example tokens an index has cached), or a text
        prepared once with :func:`prepare` for aligning it against many others (same result
        as its ``.text``). Empty texts and texts without words give no passage.
    shingle_size : int, default 3
        Anchor size in words (1..16): two documents must share a run of this many identical
        normalized words for a passage to start. The index uses 5-word shingles to find
        candidate pairs; alignment uses 3 by default because a pair is already known to share
        text, and with 30% word edits 3-word runs of unedited text are twice as frequent as
        5-word runs, so heavily edited passages stay in one piece.
    min_words : int, default 8
        Minimum passage length in words, on both sides (1..10**9). The default lets a single
        reused sentence of ten words count even with an edit or two.
    max_gap : int, default 30
        Maximum number of consecutive unmatched words (on either side) bridged inside one
        passage (0..10**6). A sentence of up to about this many words dropped from, or added
        to, the middle of a reused passage keeps it in one piece; a longer one splits it in two.
    min_similarity : float, default 0.5
        Minimum word similarity (``2 * matched / (a_words + b_words)``, 0..1) of a passage.
        Guards against pairing unrelated text that shares a few common phrases. A reused passage
        with a third of its words edited has a similarity of about 0.7.
    max_repeats : int, default 16
        A shingle that occurs more than this many times in either document (1..10**6) is not
        paired all-against-all; its i-th occurrence in ``a`` is paired with its i-th occurrence
        in ``b`` only. Keeps the work linear on repetitive text.

    Returns
    -------
    list of Passage
        Ordered by ``a_start`` (then ``b_start``). Offsets are character offsets into the
        original texts, end exclusive.

    Raises
    ------
    InvalidTypeError
        When ``a`` or ``b`` is not text, bytes or Tokens.
    InvalidParameterError
        When a tuning option is out of range.

    Examples
    --------
    >>> a = "Pskov. About 60 servicemen from Pskov refused to go to war on Ukrainian territory."
    >>> b = "It said: “about 60 SERVICEMEN from Pskov refused to fight on Ukrainian territory”."
    >>> [p] = align(a, b)
    >>> b[p.b_start:p.b_end]
    'about 60 SERVICEMEN from Pskov refused to fight on Ukrainian territory'
    >>> [(o.kind, a[o.a_start:o.a_end], b[o.b_start:o.b_end]) for o in p.ops]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('equal', 'About 60 servicemen from Pskov refused to ',
               'about 60 SERVICEMEN from Pskov refused to '),
     ('replace', 'go to war ', 'fight '),
     ('equal', 'on Ukrainian territory', 'on Ukrainian territory')]
    """
    shingle_size = _check_int("shingle_size", shingle_size, 1, 16)
    min_words = _check_int("min_words", min_words, 1, 10**9)
    max_gap = _check_int("max_gap", max_gap, 0, 10**6)
    min_similarity = _check_fraction("min_similarity", min_similarity)
    max_repeats = _check_int("max_repeats", max_repeats, 1, 10**6)
    xa = a if isinstance(a, PreparedText) else _text_of(a, "a")
    xb = b if isinstance(b, PreparedText) else _text_of(b, "b")
    kernels = native.kernels()
    if kernels is not None:
        padded = _padded_pair(xa, xb)
        if padded is not None:
            options = (shingle_size, max_repeats, min_words, max_gap, _MAX_PREDECESSORS, _MIN_CONTENT_WORDS)
            costs = (_GAP_COST * 0.5, _SHIFT_COST, _TRIM_COST * 0.5, min_similarity, _MIN_CONTENT_SHARE)
            got = kernels.align_found(padded[0], padded[1], options, costs, _stop_table(kernels))
            if got is not None:  # else two different shingles share a hash: the code below
                return _native_passages(*got)
    da, db, blocks = _prepare(xa, xb, shingle_size, max_repeats)
    if da is None or db is None:
        return []
    found: list[tuple[int, list[_WOp]]] = []
    is_stop = da.stop.__contains__
    for chain in _chains(blocks, max_gap):
        if chain[-1][1] - chain[0][0] < min_words or chain[-1][3] - chain[0][2] < min_words:
            continue  # every passage of the chain lies within its span
        chain_ops = _word_ops(chain, da, db)
        for ops in _pieces(chain_ops) if len(chain_ops) > 1 else (chain_ops,):
            first, last = ops[0], ops[-1]
            base = first[1]
            n_a, n_b = last[2] - base, last[4] - first[3]
            if n_a < min_words or n_b < min_words:
                continue
            matched = 0
            for kind, a0, a1, _, _ in ops:
                if kind == "equal":
                    matched += a1 - a0
            if 2.0 * matched / (n_a + n_b) < min_similarity:
                continue
            # Evidence: matched content words (not function words), relative to the length.
            stop = da.stop_flags()  # 1 per function word
            if stop is None:
                stop = bytes(map(is_stop, da.slice(base, last[2])))
            else:
                base = 0
            content = matched
            for kind, a0, a1, _, _ in ops:
                if kind == "equal":
                    content -= stop.count(1, a0 - base, a1 - base)
            if content < max(_MIN_CONTENT_WORDS, _MIN_CONTENT_SHARE * min(n_a, n_b)):
                continue
            found.append((matched, ops))
    return _passages(found, da, db)
