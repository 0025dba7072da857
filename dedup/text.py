"""The text model: tokens, paragraphs and sentences, all with offsets into the original text.

Matching never looks at the original characters directly. A *token* is a maximal run of word
characters (letters, digits and combining marks; the underscore and all punctuation are
separators). Its *normal form* is Unicode NFKC followed by case folding, so ``“Cowards,”``
and ``"cowards"`` give the same token, and ``Russia’s`` and ``Russia's`` give the same two tokens
``russia`` ``s``. Quote style, dashes, ellipses, punctuation, whitespace and line wrapping never
reach a token, so they never affect matching.

Every token keeps its character span ``[start, end)`` in the original string (Python ``str``
indexes), so a paragraph, a shingle or a matched passage can always be traced back to the exact
characters of the text the user gave.

>>> toks = tokenize("He said: ‘Things are bad.’")
>>> toks.words
['he', 'said', 'things', 'are', 'bad']
>>> [toks.text[s:e] for s, e in zip(toks.starts, toks.ends)][:2]
['He', 'said']
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from . import native
from .errors import EmptyDocumentError, InvalidTextError, InvalidTypeError
from .shingles import fmix64, fmix64_inplace, sorted_unique

__all__ = [
    "Tokens",
    "tokenize",
    "normalize_word",
    "fold_punctuation",
    "paragraph_spans",
    "paragraph_spans_batch",
    "sentence_breaks",
    "token_hashes",
    "batch_tokens",
    "join_texts",
    "joined_tokens",
    "sentence_break_offsets",
    "code_units",
    "coerce_text",
    "MAX_DOCUMENT_CHARS",
]

#: Documents longer than this many characters are refused (``InvalidTextError``). 64 Mi chars
#: keeps every offset inside int32 with room to spare; split longer inputs before indexing.
MAX_DOCUMENT_CHARS = 64 * 1024 * 1024

# A word character: anything str.isalnum() accepts, plus combining marks (so decomposed accents
# stay inside their word). The underscore is punctuation here.
_WORD_RE = re.compile(r"(?:[^\W_]|[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f])+")

# Length-preserving folding of typographic punctuation to ASCII, for display and for callers who
# want a normalized string with the same offsets (tokens do not need it: punctuation never
# reaches a token).
_PUNCT_FOLD = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u02bc": "'",
        "\u00b4": "'",
        "\u0060": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u2026": ".",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u2007": " ",
    }
)


def fold_punctuation(text: str) -> str:
    """Fold curly quotes, primes, dashes, ellipses and odd spaces to ASCII, keeping length.

    The result has exactly the same length as ``text``, so offsets computed on it are offsets
    into ``text``.

    >>> fold_punctuation("‘deNazify’ — “cowards”…")
    '\\'deNazify\\' - "cowards".'
    """
    return text.translate(_PUNCT_FOLD)


def normalize_word(word: str) -> str:
    """Return the matching form of one token: NFKC, then case folding.

    >>> normalize_word("Straße"), normalize_word("ＰＳＫＯＶ"), normalize_word("ﬁne")
    ('strasse', 'pskov', 'fine')
    """
    if word.isascii():
        return word.lower()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", word).casefold())


def coerce_text(text: object, *, what: str = "text") -> str:
    """Validate a document at the boundary and return it as ``str``.

    ``bytes`` are decoded as UTF-8 (``InvalidTextError`` when they are not valid UTF-8); any other
    non-string raises ``InvalidTypeError``; documents longer than :data:`MAX_DOCUMENT_CHARS`
    raise ``InvalidTextError``. Empty documents are returned as they are (the caller decides).
    """
    if isinstance(text, str):
        out = text
    elif isinstance(text, (bytes, bytearray, memoryview)):
        try:
            out = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidTextError(
                f"{what} is not valid UTF-8 (byte {exc.start}: {exc.reason}); decode it yourself "
                "with the right encoding, or with errors='replace'"
            ) from None
    else:
        raise InvalidTypeError(f"{what} must be str (or UTF-8 bytes), not {type(text).__name__}")
    if len(out) > MAX_DOCUMENT_CHARS:
        raise InvalidTextError(
            f"{what} has {len(out):,} characters, over the limit of {MAX_DOCUMENT_CHARS:,}; "
            "split it into smaller documents"
        )
    return out


@dataclass(frozen=True)
class Tokens:
    """Tokens of one text with their spans in the original.

    Attributes:
        text: the original text, unchanged.
        starts: int32 array, character offset where each token starts.
        ends: int32 array, character offset one past each token's last character.
        words: the normal form of each token (NFKC + case folding), same length as ``starts``.
    """

    text: str
    starts: np.ndarray
    ends: np.ndarray
    words: list[str]

    def __len__(self) -> int:
        return len(self.words)

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Character span ``[start, end)`` covering tokens ``first`` .. ``last - 1``."""
        return int(self.starts[first]), int(self.ends[last - 1])


def tokenize(text: str) -> Tokens:
    """Split ``text`` into normalized tokens with character offsets into ``text``.

    >>> t = tokenize("Don’t PANIC—it's fine")
    >>> t.words, t.starts.tolist()
    (['don', 't', 'panic', 'it', 's', 'fine'], [0, 4, 6, 12, 15, 17])
    """
    ascii_text = text.isascii()
    source = text.lower() if ascii_text else text  # ASCII lower() keeps every offset
    raw = _WORD_RE.findall(source)
    starts, ends = _word_bounds(text, ascii_text)
    if len(starts) != len(raw):  # cannot happen when the table mirrors the regex; stay exact
        spans = [m.span() for m in _WORD_RE.finditer(source)]
        starts = np.array([a for a, _ in spans], dtype=np.int64)
        ends = np.array([b for _, b in spans], dtype=np.int64)
    starts, ends = starts.astype(np.int32), ends.astype(np.int32)
    words = raw if ascii_text else [normalize_word(w) for w in raw]
    return Tokens(text, starts, ends, words)


_BMP_WORD: np.ndarray | None = None


def _bmp_word_table() -> np.ndarray:
    global _BMP_WORD
    if _BMP_WORD is None:
        table = np.zeros(0x10000, dtype=bool)
        chars = "".join(chr(c) if not 0xD800 <= c < 0xE000 else " " for c in range(0x10000))
        for m in _WORD_RE.finditer(chars):
            table[m.start() : m.end()] = True
        _BMP_WORD = table
    return _BMP_WORD


def code_units(text: str) -> np.ndarray:
    """One array element per character of ``text``: uint8 for ASCII text, else uint32 code points."""
    return _code_units(text, text.isascii())


def _code_units(text: str, ascii_text: bool) -> np.ndarray:
    if ascii_text:
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _ascii_alnum(low: np.ndarray) -> np.ndarray:
    """Whether each byte is an ASCII letter or digit (comparisons: cheaper than a table lookup)."""
    t = low - np.uint8(ord("0"))
    is_word = t < 10
    np.bitwise_or(low, np.uint8(32), out=t)  # ASCII upper case to lower case
    t -= np.uint8(ord("a"))
    is_word |= t < 26
    return is_word


def _word_bounds(
    text: str, ascii_text: bool, cps: np.ndarray | None = None, wide_at: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of the word-character runs of ``text``, vectorized.

    ASCII characters are classified by comparisons on one byte per character; only the
    non-ASCII ones (``wide_at``, the positions of code points above 127, computed when not
    given) are looked up in the table of word characters.
    """
    if cps is None:
        cps = _code_units(text, ascii_text)
    if cps.dtype == np.uint8:
        is_word = _ascii_alnum(cps)
    else:
        is_word = _ascii_alnum(cps.astype(np.uint8))  # the low byte: right for ASCII only
        if wide_at is None:
            wide_at = np.flatnonzero(cps > 127)
        if len(wide_at):
            c = cps[wide_at]
            w = _bmp_word_table()[np.minimum(c, 0xFFFF)]
            astral = np.flatnonzero(c > 0xFFFF)
            if len(astral):
                w[astral] = [bool(_WORD_RE.fullmatch(chr(int(x)))) for x in c[astral]]
            is_word[wide_at] = w
    n = len(is_word)
    if n == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    starts = np.flatnonzero(is_word[1:] > is_word[:-1]) + 1
    ends = np.flatnonzero(is_word[:-1] > is_word[1:]) + 1
    if is_word[0]:
        starts = np.concatenate([np.zeros(1, np.int64), starts])
    if is_word[-1]:
        ends = np.append(ends, n)
    return starts.astype(np.int64, copy=False), ends.astype(np.int64, copy=False)


# Token hashes: a polynomial over the code points of the normal form, modulo 2**64, then
# MurmurHash3's 64-bit finalizer. The polynomial of every token of a whole batch comes from one
# prefix sum: with H[j] = sum(c[i] * Q**i for i < j), the token [s, e) has
# sum(c[s + k] * Q**k) = (H[e] - H[s]) * Q**-s (Q is odd, so it has an inverse modulo 2**64).
_Q = 0xC2B2AE3D27D4EB4F
_M64 = (1 << 64) - 1
_LEN_MULT = np.uint64(0x9E3779B97F4A7C15)
# Characters per prefix-sum pass: bounds the power tables (2 x 8 bytes per character).
_HASH_CHUNK = 1 << 20


def _inverse64(q: int) -> int:
    x = q
    for _ in range(6):  # Newton's iteration doubles the correct low bits: 3 -> 192
        x = (x * (2 - q * x)) & _M64
    return x


_QINV = _inverse64(_Q)
_POWERS: tuple[np.ndarray, np.ndarray] = (np.ones(1, np.uint64), np.ones(1, np.uint64))


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``Q**i`` and ``Q**-i`` modulo 2**64 for ``i < n`` (a process-wide table grown on demand)."""
    global _POWERS
    if len(_POWERS[0]) < n:
        m = max(n, _HASH_CHUNK + 1)
        tables = []
        for q in (_Q, _QINV):
            p = np.full(m, q, dtype=np.uint64)
            p[0] = 1
            tables.append(np.cumprod(p, dtype=np.uint64))  # wraps modulo 2**64
        _POWERS = (tables[0], tables[1])
    return _POWERS


def _seed_key(seed: int) -> np.uint64:
    return np.uint64(fmix64(np.array([(int(seed) + 0x632BE59BD9B4E019) & _M64], dtype=np.uint64))[0])


def _span_hashes(
    chars: np.ndarray, starts: np.ndarray, ends: np.ndarray, seed: int, lower_ascii: bool = False
) -> np.ndarray:
    """Token hash of every span ``[starts[i], ends[i])`` of ``chars`` (code points of normal forms).

    Spans must be sorted and disjoint. Work is done in passes of about :data:`_HASH_CHUNK`
    characters, each cut between two spans. With ``lower_ascii``, ASCII capitals count as their
    lower case (done per pass, so no lowered copy of the whole text is made).
    """
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    n = len(starts)
    kernels = native.kernels()
    if kernels is not None and chars.dtype in (np.uint8, np.uint32):
        poly = kernels.span_poly(chars, starts, ends, lower_ascii)
        t0 = n  # done: only the finish below
    else:
        poly = np.empty(n, dtype=np.uint64)
        t0 = 0
    while t0 < n:
        base = int(starts[t0])
        t1 = max(int(np.searchsorted(ends, base + _HASH_CHUNK, side="right")), t0 + 1)
        top = int(ends[t1 - 1])
        pw, ipw = _powers(top - base + 1)
        c = chars[base:top]
        v = c.astype(np.uint64)
        if lower_ascii:
            np.add(v, np.uint64(32), out=v, where=(c - c.dtype.type(ord("A"))) < 26)
        v *= pw[: top - base]
        np.cumsum(v, out=v)  # v[i] is now the prefix sum H[i + 1] of the pass
        s = starts[t0:t1] - base  # s[0] == 0, where H is 0
        acc = v[ends[t0:t1] - base - 1]
        acc[1:] -= v[s[1:] - 1]
        acc *= ipw[s]
        poly[t0:t1] = acc
        t0 = t1
    poly += (ends - starts).astype(np.uint64) * _LEN_MULT
    poly ^= _seed_key(seed)
    fmix64_inplace(poly)
    return poly


def token_hashes(words: list[str], seed: int = 0) -> np.ndarray:
    """64-bit hash of each normalized token, as uint64.

    The hash of a word with code points ``c0 .. c(L-1)`` is
    ``fmix64((sum(ci * Q**i) + L * G) ^ key(seed))`` modulo 2**64, with fixed odd constants ``Q``
    and ``G``, MurmurHash3's 64-bit finalizer ``fmix64``, and ``key`` a mix of the seed. It is
    computed for all words at once with numpy, and is stable across processes, machines and
    Python's hash randomization.

    >>> h = token_hashes(["pskov", "ukraine", "pskov"], seed=1)
    >>> h.dtype.name, bool(h[0] == h[2]), bool(h[0] == h[1])
    ('uint64', True, False)
    >>> bool(token_hashes(["pskov"], seed=2)[0] == h[0])
    False
    """
    if not words:
        return np.empty(0, dtype=np.uint64)
    joined = "\n".join(words)
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    starts = np.zeros(len(words), dtype=np.int64)
    np.cumsum(lengths[:-1] + 1, out=starts[1:])
    return _span_hashes(_code_units(joined, joined.isascii()), starts, starts + lengths, seed)


def batch_tokens(texts: list[str], seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tokens of many texts at once, vectorized over the whole batch.

    Returns ``(starts, ends, hashes, doc_tok0)``: int32 character offsets of every token into
    its own text, the token hashes of :func:`token_hashes` (of the normal form), and int64
    ``doc_tok0`` with ``len(texts) + 1`` entries, the first token of each text. The tokens are
    exactly those of :func:`tokenize` on each text.
    """
    joined, bases = join_texts(texts)
    return joined_tokens(joined, bases, seed)


def join_texts(texts: list[str]) -> tuple[str, np.ndarray]:
    """``"\\n".join(texts)`` and the int64 offset of each text in it (plus the total length + 1).

    A newline is no word character, so tokens of the joined text never cross texts.
    """
    bases = np.zeros(len(texts) + 1, dtype=np.int64)
    if texts:
        np.cumsum([len(t) + 1 for t in texts], out=bases[1:])
    return "\n".join(texts), bases


def joined_tokens(
    joined: str, bases: np.ndarray, seed: int, cps: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`batch_tokens` on a text made by :func:`join_texts`.

    Tokens are the word-character runs (a table lookup per character); ASCII tokens are lowered
    and hashed in bulk; only tokens with a non-ASCII character go through
    :func:`normalize_word` one by one (NFKC and case folding can change their length).
    ``cps`` may pass :func:`code_units` of ``joined`` when the caller has them already.
    """
    if cps is None:
        cps = code_units(joined)
    ascii_text = cps.dtype == np.uint8
    wide_at = None if ascii_text else np.flatnonzero(cps > 127)
    starts, ends = _word_bounds(joined, ascii_text, cps, wide_at)
    hashes = _span_hashes(cps, starts, ends, seed, lower_ascii=True)
    if wide_at is not None and len(starts):
        # tokens holding a non-ASCII character: the token (if any) around each such character
        tok = np.searchsorted(starts, wide_at, side="right") - 1
        inside = (tok >= 0) & (wide_at < ends[np.maximum(tok, 0)])
        odd = sorted_unique(tok[inside])
        if len(odd):
            words = [normalize_word(joined[s:e]) for s, e in zip(starts[odd].tolist(), ends[odd].tolist())]
            hashes[odd] = token_hashes(words, seed)
    doc_tok0 = np.searchsorted(starts, bases).astype(np.int64)
    doc_tok0[-1] = len(starts)
    base_of = np.repeat(bases[:-1], np.diff(doc_tok0))
    return (
        (starts - base_of).astype(np.int32),
        (ends - base_of).astype(np.int32),
        hashes,
        doc_tok0,
    )


# ---------------------------------------------------------------------------------------------
# Paragraphs

_BLANK_LINE_RE = re.compile(r"\n[ \t\r\f\v\u00a0]*\n")
_BULLET_RE = re.compile(r"^[ \t]*(?:[•●◦▪▸►‣∙·*\-–—]|\d{1,3}[.)])\s+")
_SENT_END_CHARS = ".!?:;\"'”’)]…"


def _line_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        if nl < 0:
            nl = end
        spans.append((pos, nl))
        pos = nl + 1
    return spans


def _is_wrapped(text: str, lines: list[tuple[int, int]]) -> bool:
    """True when a block of lines looks hard-wrapped (lines end mid-sentence at a width)."""
    body = [(s, e) for s, e in lines[:-1] if text[s:e].strip()]
    if not body:
        return False
    longest = max(e - s for s, e in body)
    if longest > 100:
        return False
    ends_sentence = sum(1 for s, e in body if text[s:e].rstrip()[-1:] in _SENT_END_CHARS)
    return ends_sentence < 0.5 * len(body)


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Character spans ``[start, end)`` of the paragraphs of ``text``, in order.

    Handles the layouts news text comes in:

    * blank-line separated paragraphs;
    * hard-wrapped wire copy where a new paragraph starts with an indented line;
    * one paragraph per line (single newlines between lines that end sentences);
    * bullet lists (each item is a paragraph).

    Spans are trimmed of surrounding whitespace; blocks without any word character are dropped.

    >>> t = "First para\\nwraps here.\\n\\n    Second para\\nwrapped too\\n    Third."
    >>> [t[s:e] for s, e in paragraph_spans(t)]
    ['First para\\nwraps here.', 'Second para\\nwrapped too', 'Third.']
    """
    out: list[tuple[int, int]] = []
    n = len(text)
    block_start = 0
    blocks: list[tuple[int, int]] = []
    for m in _BLANK_LINE_RE.finditer(text):
        blocks.append((block_start, m.start()))
        block_start = m.end() - 1
    blocks.append((block_start, n))
    for bs, be in blocks:
        lo = bs + 1 if text.startswith("\n", bs) else bs
        if text.find("\n", lo, be) < 0:  # a one-line block (the common case): one paragraph
            seg = text[lo:be]
            stripped = seg.strip()
            if stripped and _WORD_RE.search(stripped) is not None:
                lead = len(seg) - len(seg.lstrip())
                out.append((lo + lead, lo + lead + len(stripped)))
            continue
        lines = [(s, e) for s, e in _line_spans(text, bs, be) if text[s:e].strip()]
        if not lines:
            continue
        if len(lines) == 1:
            pieces = [lines[0]]
        elif _is_wrapped(text, lines):
            pieces = []
            cur_s, cur_e = lines[0]
            for s, e in lines[1:]:
                line = text[s:e]
                if line[:1] in (" ", "\t") or _BULLET_RE.match(line):
                    pieces.append((cur_s, cur_e))
                    cur_s = s
                cur_e = e
            pieces.append((cur_s, cur_e))
        else:
            pieces = lines
        for s, e in pieces:
            seg = text[s:e]
            stripped = seg.strip()
            if not stripped or _WORD_RE.search(stripped) is None:
                continue
            lead = len(seg) - len(seg.lstrip())
            out.append((s + lead, s + lead + len(stripped)))
    return out


# Character classes of the paragraph layout and of the sentence-break pattern, as bits of one
# lookup table over the BMP (astral characters are classified one by one: only a few ever sit at
# the positions looked at).
_CC_SPACE = 1  # str.isspace(): what str.strip() removes
_CC_SEP = 2  # [ \t\r\f\v\u00a0]: what a blank separator line (_BLANK_LINE_RE) may hold
_CC_WORD = 4  # a word character (_WORD_RE)
_CC_DIGIT = 8  # \d of _BULLET_RE
_CC_MARK = 16  # a bullet mark of _BULLET_RE
_CC_NUMEND = 32  # [.)] after a bullet number
_CC_RESPACE = 64  # \s of the regular expressions (_BULLET_RE, _SENT_BREAK_RE)
_CC_SENT_END = 128  # one of _SENT_END_CHARS
_CC_CLOSE = 256  # a closing quote or bracket after a sentence end (_SENT_BREAK_RE)
_CC_OPEN = 512  # an opening quote or bracket before a sentence start (_SENT_BREAK_RE)
_CC_CAP = 1024  # what may start a sentence (_SENT_BREAK_RE)
# the same classes as patterns (mirroring _BLANK_LINE_RE, _WORD_RE, _BULLET_RE, _SENT_END_CHARS
# and _SENT_BREAK_RE)
_CC_PATTERNS = (
    (_CC_SEP, r"[ \t\r\f\v\u00a0]"),
    (_CC_DIGIT, r"\d"),
    (_CC_MARK, r"[•●◦▪▸►‣∙·*\-–—]"),
    (_CC_NUMEND, r"[.)]"),
    (_CC_RESPACE, r"\s"),
    (_CC_SENT_END, "[" + re.escape(_SENT_END_CHARS) + "]"),
    (_CC_CLOSE, r"[\"'”’)\]]"),
    (_CC_OPEN, r"[\"'“‘(\[]"),
    (_CC_CAP, r"[A-Z0-9\u00c0-\u024f\u0400-\u04ff]"),
)
_CC_TABLE: np.ndarray | None = None
# Vectorized steps over a run of characters before the fallback for longer runs.
_RUN_STEPS = 8


def _char_classes(ch: str) -> int:
    """Class bits of one character (the definition :func:`_char_class_table` tabulates)."""
    bits = _CC_SPACE if ch.isspace() else 0
    if _WORD_RE.fullmatch(ch):
        bits |= _CC_WORD
    for bit, pattern in _CC_PATTERNS:
        if re.fullmatch(pattern, ch):
            bits |= bit
    return bits


def _char_class_table() -> np.ndarray:
    global _CC_TABLE
    if _CC_TABLE is None:
        table = np.zeros(0x10000, dtype=np.uint16)
        chars = "".join(chr(c) if not 0xD800 <= c < 0xE000 else "_" for c in range(0x10000))
        table[[i for i, ch in enumerate(chars) if ch.isspace()]] |= _CC_SPACE
        table[_bmp_word_table()] |= _CC_WORD
        for bit, pattern in _CC_PATTERNS:
            for m in re.finditer(pattern, chars):
                table[m.start()] |= bit
        _CC_TABLE = table
    return _CC_TABLE


def _classes_at(cps: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Class bits of the characters at ``pos`` (every position inside ``cps``; any shape)."""
    table = _char_class_table()
    c = cps[pos]
    if cps.dtype == np.uint8:
        return table[c]
    out = table[np.minimum(c, 0xFFFF)]
    astral = np.flatnonzero(c > 0xFFFF)
    if len(astral):
        out.reshape(-1)[astral] = [_char_classes(chr(x)) for x in c.reshape(-1)[astral].tolist()]
    return out


def _run_end(cps: np.ndarray, lo: np.ndarray, hi: np.ndarray, bit: int, skip: bool, backward: bool) -> np.ndarray:
    """The end of the run of skipped characters at one side of each range ``[lo[i], hi[i])``.

    A character is skipped when its class has ``bit`` (``skip=True``) or lacks it
    (``skip=False``). Forward: the first position in the range whose character is not skipped,
    or ``hi``. Backward: one past the last character that is not skipped, or ``lo``. Runs are
    short in text: a few vectorized steps at the candidate positions finish nearly always; the
    ranges still open after them are looked at in blocks of characters that grow fourfold, so a
    long run costs about its length and a long range is never read past its run.
    """
    out = (hi if backward else lo).copy()
    live = np.flatnonzero(lo < hi)
    for _ in range(_RUN_STEPS):
        if not len(live):
            return out
        at = out[live] - 1 if backward else out[live]
        live = live[((_classes_at(cps, at) & bit) != 0) == skip]
        if backward:
            out[live] -= 1
            live = live[out[live] > lo[live]]
        else:
            out[live] += 1
            live = live[out[live] < hi[live]]
    width = 16
    while len(live):
        ext = np.arange(width, dtype=np.int64)
        if backward:
            at = out[live, None] - 1 - ext
            inside = at >= lo[live, None]
        else:
            at = out[live, None] + ext
            inside = at < hi[live, None]
        # a range's end stops the run too (and is never looked up)
        stop = (((_classes_at(cps, np.where(inside, at, 0)) & bit) != 0) != skip) | ~inside
        first = stop.argmax(axis=1)
        found = stop[np.arange(len(live)), first]
        step = np.where(found, first, width)
        out[live] += -step if backward else step
        live = live[~found]
        width *= 4
    return out


def _bullet_lines(cps: np.ndarray, ls: np.ndarray, le: np.ndarray) -> np.ndarray:
    """Whether ``_BULLET_RE`` matches each line ``[ls[i], le[i])`` that does not start with a blank.

    Such a line matches when it starts with a bullet mark and whitespace, or with one to three
    digits, ``.`` or ``)``, and whitespace (the whitespace inside the line).
    """
    out = np.zeros(len(ls), dtype=bool)
    if not len(ls):
        return out
    first = _classes_at(cps, ls)
    mark = np.flatnonzero(((first & _CC_MARK) != 0) & (ls + 1 < le))
    out[mark] = (_classes_at(cps, ls[mark] + 1) & _CC_RESPACE) != 0
    # the run of digits at the start of the line, counted up to 4 (4 means: too long)
    run = np.zeros(len(ls), dtype=np.int64)
    live = np.flatnonzero((first & _CC_DIGIT) != 0)
    run[live] = 1
    for _ in range(3):
        live = live[ls[live] + run[live] < le[live]]
        live = live[(_classes_at(cps, ls[live] + run[live]) & _CC_DIGIT) != 0]
        run[live] += 1
    num = np.flatnonzero((run >= 1) & (run <= 3))
    num = num[ls[num] + run[num] + 1 < le[num]]
    at = ls[num] + run[num]
    numend = (_classes_at(cps, at) & _CC_NUMEND) != 0
    ok = numend & ((_classes_at(cps, at + 1) & _CC_RESPACE) != 0)
    out[num[ok]] = True
    return out


def paragraph_spans_batch(
    joined: str, bases: np.ndarray, cps: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`paragraph_spans` of every text of a batch joined by :func:`join_texts`, vectorized.

    Args:
        joined: the texts joined by ``"\\n"``.
        bases: int64 character offset of each text in ``joined``, then ``len(joined) + 1``.
        cps: :func:`code_units` of ``joined`` when the caller has them already.

    Returns:
        ``(spans, doc)``: int64 ``(m, 2)`` paragraph spans ``[start, end)`` in characters,
        offsets into each text's own string, and the int64 index of the text of each span.
        Texts in order, each text's spans in order: exactly ``paragraph_spans(text)`` of every
        text, concatenated (no text is left out of the vectorized path).

    How it matches :func:`paragraph_spans`: its blocks are cut by the blank-line pattern, and a
    match of the pattern is one line of only ``[ \\t\\r\\f\\v\\u00a0]`` between two newlines. In
    any run of such lines the first one is a match (the non-overlapping scan may skip the next),
    and only such lines are matches, so two consecutive *content* lines of a text (lines that
    ``str.strip()`` leaves non-empty) are in one block exactly when no such line lies between
    them (lines of other whitespace, such as ``\\u2003`` or ``\\x1c``, are no separators). The
    lines of a block with one content line, or of a block that is not hard-wrapped, are one
    paragraph each; in a hard-wrapped block (``_is_wrapped``, computed per block from the
    content lines but its last one: their longest length and how many end a sentence) a content
    line starts a new paragraph when it starts with a space or a tab or ``_BULLET_RE`` matches
    it. A paragraph is its span trimmed of whitespace (from its first line's first
    non-whitespace character to one past its last line's last), kept when a line of it holds a
    word character. Only newlines are found over the whole text (one comparison per code
    unit); everything else looks at characters of the lines only, a few at each line's ends.
    """
    bases = np.asarray(bases, dtype=np.int64)
    n_docs = len(bases) - 1
    empty = (np.empty((0, 2), dtype=np.int64), np.empty(0, dtype=np.int64))
    if n_docs <= 0:
        return empty
    if cps is None:
        cps = code_units(joined)
    n = len(cps)
    nl = np.flatnonzero(cps == 10)
    ls = np.concatenate([np.zeros(1, np.int64), nl + 1])  # lines [ls, le) of all texts
    le = np.append(nl, n).astype(np.int64)
    del nl
    a = _run_end(cps, ls, le, _CC_SPACE, True, False)  # past the leading whitespace
    content = np.flatnonzero(a < le)
    if not len(content):
        return empty
    # separator lines: only [ \t\r\f\v\u00a0] (empty lines too); content lines are none
    sep = a == le
    odd = np.flatnonzero(sep & (le > ls))
    if len(odd):
        sep[odd] = _run_end(cps, ls[odd], le[odd], _CC_SEP, True, False) == le[odd]
    sep_before = np.zeros(len(ls) + 1, dtype=np.int64)  # separator lines before each line
    np.cumsum(sep, out=sep_before[1:])
    del sep

    c_ls, c_le, c_a = ls[content], le[content], a[content]
    del ls, le, a
    c_b = _run_end(cps, c_a, c_le, _CC_SPACE, True, True)  # before the trailing whitespace
    c_word = _run_end(cps, c_a, c_b, _CC_WORD, False, False) < c_b
    c_doc = np.searchsorted(bases, c_ls, side="right") - 1
    m = len(content)

    # blocks: runs of content lines of one text with no separator line between them
    new_block = np.ones(m, dtype=bool)
    new_block[1:] = (c_doc[1:] != c_doc[:-1]) | (sep_before[content[1:]] > sep_before[content[:-1] + 1])
    blk0 = np.flatnonzero(new_block)
    blk_len = np.diff(np.append(blk0, m))
    body = np.ones(m, dtype=bool)  # all content lines of a block but its last
    body[blk0[1:] - 1] = False
    body[-1] = False
    longest = np.maximum.reduceat(np.where(body, c_le - c_ls, 0), blk0)
    ends = (_classes_at(cps, c_b - 1) & _CC_SENT_END) != 0
    n_ends = np.add.reduceat((ends & body).astype(np.int64), blk0)
    wrapped = (blk_len >= 2) & (longest <= 100) & (2 * n_ends < blk_len - 1)

    # paragraphs: each content line, but lines of wrapped blocks join the line before unless
    # they are indented or a bullet
    starts_par = new_block | ~np.repeat(wrapped, blk_len)
    inner = np.flatnonzero(~starts_par)
    if len(inner):
        first = cps[c_ls[inner]]
        indented = (first == 32) | (first == 9)
        starts_par[inner] = indented
        rest = inner[~indented]
        starts_par[rest] = _bullet_lines(cps, c_ls[rest], c_le[rest])
    par0 = np.flatnonzero(starts_par)
    par_last = np.append(par0[1:], m) - 1
    keep = np.logical_or.reduceat(c_word, par0)
    par0, par_last = par0[keep], par_last[keep]
    doc = c_doc[par0]
    base = bases[doc]
    spans = np.stack([c_a[par0] - base, c_b[par_last] - base], axis=1)
    return spans, doc.astype(np.int64)


_SENT_BREAK_RE = re.compile(r"[.!?…]+[\"'”’)\]]*\s+(?=[\"'“‘(\[]*[A-Z0-9\u00c0-\u024f\u0400-\u04ff])")


def sentence_breaks(text: str, start: int, end: int) -> list[int]:
    """Character offsets in ``[start, end)`` where a new sentence starts (excluding ``start``).

    A break is sentence-final punctuation, optional closing quotes, whitespace, then a capital
    letter or a digit (optionally after opening quotes). Abbreviations give spurious breaks;
    callers merge short sentences.

    >>> t = "He said: ‘Yes.’ Then he left. ok"
    >>> [t[i:i+4] for i in sentence_breaks(t, 0, len(t))]
    ['Then']
    """
    return [m.end() for m in _SENT_BREAK_RE.finditer(text, start, end) if m.end() < end]


def sentence_break_offsets(text: str, cps: np.ndarray | None = None) -> np.ndarray:
    """All sentence starts of :func:`sentence_breaks` over the whole of ``text`` (int64 offsets).

    The breaks inside a paragraph ``[start, end)`` are those ``start < b < end``. Computed on the
    whole buffer with numpy, with exactly the matches of the pattern :func:`sentence_breaks`
    uses: a break is the end of a whitespace run that is preceded by sentence-final punctuation
    and optional closing quotes, and followed by optional opening quotes and a capital letter or
    digit. Comparisons over the code units find the sentence-final marks; the character classes
    are looked up only at the few positions after them. ``cps`` may pass the code units of
    ``text`` when the caller has them already.
    """
    if cps is None:
        cps = code_units(text)
    n = len(cps)
    if n < 3:
        return np.empty(0, dtype=np.int64)
    # sentence-final marks (comparisons are cheaper than a table lookup over the whole text)
    is_end = cps == ord(".")
    for mark in "!?" if cps.dtype == np.uint8 else "!?…":
        is_end |= cps == ord(mark)
    pos = np.flatnonzero(is_end)
    del is_end
    # the last mark of each run of marks, then step over what must follow it
    pos = pos[np.diff(pos, append=n + 1) != 1] + 1
    pos = _run_end(cps, pos, np.full(len(pos), n), _CC_CLOSE, True, False)
    pos = pos[pos < n]
    pos = pos[(_classes_at(cps, pos) & _CC_RESPACE) != 0]
    end = np.full(len(pos), n)
    pos = _run_end(cps, pos, end, _CC_RESPACE, True, False)  # the break: the end of the whitespace run
    head = _run_end(cps, pos, end, _CC_OPEN, True, False)
    ok = head < n
    ok[ok] = (_classes_at(cps, head[ok]) & _CC_CAP) != 0
    return pos[ok].astype(np.int64)


def check_nonempty(tokens: Tokens, *, what: str = "document") -> None:
    """Raise ``EmptyDocumentError`` when ``tokens`` holds no token."""
    if len(tokens) == 0:
        kind = "empty" if not tokens.text.strip() else "without any word character"
        raise EmptyDocumentError(f"{what} is {kind}; there is nothing to index")
