"""Matching units: paragraphs and the sentences inside them, with MinHash signatures.

Reuse between news articles is rarely whole-paragraph: outlets split, merge, trim and extend
paragraphs, and embed a quoted sentence in a longer paragraph of their own. So every paragraph is
one *unit*, and a paragraph of several sentences also contributes one unit per sentence (sentences
shorter than ``min_sentence_words`` are merged with a neighbour). A paragraph that was merged into
a longer one, or a quote embedded in one, then still matches at the sentence level.

Signatures cost one pass over the paragraph shingles: shingles are cut into segments (the
shingles inside each sentence, and the few that straddle two sentences), each segment gets a
MinHash in one vectorized call, a sentence's signature is its segment's, and a paragraph's is the
elementwise minimum over its segments (MinHash of a union is the minimum of the MinHashes).

:func:`featurize` turns a batch of texts into flat numpy arrays; nothing here runs Python code per
shingle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import native
from .columns import band_major
from .config import IndexConfig
from .minhash import permutations, signatures
from .shingles import finish_keys, set_sums, sorted_unique, window_hashes
from .text import (
    Tokens,
    code_units,
    join_texts,
    joined_tokens,
    paragraph_spans_batch,
    sentence_break_offsets,
    token_hashes,
    tokenize,
)

__all__ = ["Features", "featurize", "PARAGRAPH", "SENTENCE", "unit_shingles"]

PARAGRAPH = 0
SENTENCE = 1


@dataclass(frozen=True)
class Features:
    """Units of a batch of documents (document indexes are local to the batch).

    Paragraph arrays (one entry per paragraph, documents in order):
        para_doc, para_start, para_end (character span in the document), para_ntok (tokens).
    Unit arrays (one entry per unit):
        unit_doc, unit_para (paragraph index within its document), unit_kind (PARAGRAPH or
        SENTENCE), unit_start, unit_end (character span), unit_ntok (tokens), unit_nsh
        (shingles), sig (uint32, shape (units, num_perm)).
    Document arrays: doc_ntok (tokens), doc_npara (paragraphs).
    Shingles: ``shingles`` (uint32, the low half of every paragraph shingle hash, paragraph after
        paragraph), ``para_sh0`` (int64, each paragraph's first shingle) and ``unit_sh0`` (int64,
        each unit's first shingle; a unit has ``unit_nsh`` consecutive shingles), for exact
        Jaccard verification. ``unit_key`` (uint64): :func:`dedup.shingles.set_keys` of each
        unit's shingles; units with equal keys have equal shingle sets and signatures.
    """

    doc_ntok: np.ndarray
    doc_npara: np.ndarray
    para_doc: np.ndarray
    para_start: np.ndarray
    para_end: np.ndarray
    para_ntok: np.ndarray
    unit_doc: np.ndarray
    unit_para: np.ndarray
    unit_kind: np.ndarray
    unit_start: np.ndarray
    unit_end: np.ndarray
    unit_ntok: np.ndarray
    unit_nsh: np.ndarray
    sig: np.ndarray
    shingles: np.ndarray
    para_sh0: np.ndarray
    unit_sh0: np.ndarray
    unit_key: np.ndarray
    #: With ``featurize(..., banded=True)``: the signatures as :func:`dedup.columns.band_major`
    #: gives them (``sig`` is then empty).
    bands: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def n_units(self) -> int:
        return len(self.unit_doc)


_PERM_CACHE: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _perms(config: IndexConfig) -> tuple[np.ndarray, np.ndarray]:
    key = (config.num_perm, config.seed)
    p = _PERM_CACHE.get(key)
    if p is None:
        p = _PERM_CACHE[key] = permutations(config.num_perm, config.seed)
    return p


def _sentence_units(
    cand: np.ndarray, plo: np.ndarray, phi: np.ndarray, b0: np.ndarray, b1: np.ndarray, brk: list[int], min_sent: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sentence units of the paragraphs ``cand`` (:func:`dedup.kernels.sentence_units`, which
    computes the same where the extension is built, takes the same arguments): paragraph
    ``cand[c]`` has tokens ``plo[c] .. phi[c]`` and sentence breaks ``brk[b0[c] : b1[c]]``; a break
    becomes a unit boundary when at least ``min_sent`` tokens lie between it and the previous
    boundary and between it and the paragraph end. Returns the units' paragraphs, first tokens
    and past-last tokens."""
    s_para: list[int] = []
    s_lo: list[int] = []
    s_hi: list[int] = []
    rows = zip(cand.tolist(), plo.tolist(), phi.tolist(), b0.tolist(), b1.tolist())
    for p, a, b, i0, i1 in rows:
        bounds = [a]
        for t in brk[i0:i1]:
            if t - bounds[-1] >= min_sent and b - t >= min_sent:
                bounds.append(t)
        if len(bounds) > 1:
            bounds.append(b)
            s_para.extend([p] * (len(bounds) - 1))
            s_lo.extend(bounds[:-1])
            s_hi.extend(bounds[1:])
    return np.array(s_para, dtype=np.int64), np.array(s_lo, dtype=np.int64), np.array(s_hi, dtype=np.int64)


def featurize(
    texts: Sequence[str], config: IndexConfig, tokens: Sequence[Tokens] | None = None, *, banded: bool = False
) -> Features:
    """Segment, shingle and sign a batch of non-empty texts.

    Args:
        texts: documents (already validated: ``str``, at least one token each).
        config: the index configuration.
        tokens: optional pre-computed :func:`dedup.text.tokenize` results, one per text.
        banded: give the signatures in ``bands``, band-major (as an index stores them), instead
            of as rows in ``sig``.

    Returns:
        :class:`Features` of the batch.
    """
    k = config.shingle_size
    min_sent = max(config.min_sentence_words, k)
    texts = list(texts)
    n_docs = len(texts)
    joined, bases = join_texts(texts)
    cps = code_units(joined)
    if tokens is None:
        all_starts, all_ends, th, doc_tok0 = joined_tokens(joined, bases, config.seed, cps)
    else:
        all_starts = np.concatenate([t.starts for t in tokens]) if tokens else np.empty(0, np.int32)
        all_ends = np.concatenate([t.ends for t in tokens]) if tokens else np.empty(0, np.int32)
        th = token_hashes([w for t in tokens for w in t.words], config.seed)
        doc_tok0 = np.zeros(len(tokens) + 1, dtype=np.int64)
        np.cumsum([len(t) for t in tokens], out=doc_tok0[1:])
    doc_ntok = np.diff(doc_tok0).astype(np.int32)
    # token starts as offsets into the joined text
    g_tok = all_starts.astype(np.int64) + np.repeat(bases[:-1], np.diff(doc_tok0))

    # paragraphs: spans of the whole batch, token ranges for all at once; token-less ones dropped
    flat, f_doc = paragraph_spans_batch(joined, bases, cps)
    g_ps = flat[:, 0] + bases[:-1][f_doc]
    g_pe = flat[:, 1] + bases[:-1][f_doc]
    f_lo = np.searchsorted(g_tok, g_ps)
    f_hi = np.searchsorted(g_tok, g_pe)
    keep = f_hi > f_lo
    p_doc = f_doc[keep]
    p_start, p_end = flat[keep, 0], flat[keep, 1]
    plo, phi = f_lo[keep].astype(np.int64), f_hi[keep].astype(np.int64)
    g_ps, g_pe = g_ps[keep], g_pe[keep]
    doc_npara = np.bincount(p_doc, minlength=n_docs).astype(np.int32)

    # sentence units: breaks of the whole batch, merged greedily per paragraph so that every
    # sentence has at least min_sent tokens
    brk = sentence_break_offsets(joined, cps)
    del cps
    brk_tok = np.searchsorted(g_tok, brk)
    b0 = np.searchsorted(brk, g_ps, side="right")
    b1 = np.searchsorted(brk, g_pe, side="left")
    cand = np.flatnonzero((phi - plo >= 2 * min_sent) & (b1 > b0))
    kernels = native.kernels()
    paras = (cand, plo[cand], phi[cand], b0[cand], b1[cand])
    if kernels is not None:
        spara, slo, shi = kernels.sentence_units(*paras, brk_tok, min_sent)
    else:
        spara, slo, shi = _sentence_units(*paras, brk_tok.tolist(), min_sent)
    s_start = all_starts[slo]
    s_end = all_ends[shi - 1]

    pn = phi - plo
    n_par = len(plo)
    # shingles of each paragraph, paragraph after paragraph
    cnt = np.maximum(pn - k + 1, 1)
    sh_lo = np.zeros(n_par, dtype=np.int64)
    if n_par:
        np.cumsum(cnt[:-1], out=sh_lo[1:])
    total = int(cnt.sum())
    pos = np.repeat(plo - sh_lo, cnt) + np.arange(total, dtype=np.int64)
    hashes = np.empty(total, dtype=np.uint64)
    full = np.repeat(pn >= k, cnt)
    hashes[full] = window_hashes(th, k, pos[full])
    short = np.flatnonzero(pn < k)
    if len(short):
        for w in sorted_unique(pn[short]).tolist():
            sel = short[pn[short] == w]
            hashes[sh_lo[sel]] = window_hashes(th, int(w), plo[sel])

    # segments: paragraph starts, and for sentence units their first and past-internal shingle
    seg_a = sh_lo[spara] + (slo - plo[spara]) if len(spara) else np.empty(0, np.int64)
    seg_b = sh_lo[spara] + (shi - k + 1 - plo[spara]) if len(spara) else np.empty(0, np.int64)
    # three sorted runs, merged by a stable sort (np.unique hashes: ~50x slower here)
    seg_starts = np.concatenate([sh_lo, seg_a, seg_b[seg_b < total]])
    seg_starts.sort(kind="stable")
    seg_starts = sorted_unique(seg_starts, presorted=True)
    para_seg0 = np.searchsorted(seg_starts, sh_lo)  # each paragraph's first segment
    sent_seg = np.searchsorted(seg_starts, seg_a)  # each sentence unit's segment
    # keys of the shingle multisets (set_keys): of the segments, from one pass over the shingles;
    # a paragraph's sum is its segments' (they partition it), a sentence unit's is its segment's
    shingles = (hashes & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    seg_len = np.diff(seg_starts, append=total)
    seg_sum = set_sums(shingles, seg_starts, seg_len)
    seg_key = finish_keys(seg_sum, seg_len)
    para_key = finish_keys(np.add.reduceat(seg_sum, para_seg0), cnt) if n_par else np.empty(0, np.uint64)
    del seg_sum
    bands = None
    if banded and kernels is not None and n_par:
        # paragraph unions, sentence rows and the band-major layout in one pass
        seg_sig = signatures(hashes, seg_starts, _perms(config))
        bands = kernels.unit_bands(seg_sig, para_seg0, sent_seg, config.b, config.r)
        sig = np.empty((0, config.num_perm), dtype=np.uint32)
        del seg_sig
    else:
        if n_par:
            seg_sig, para_sig = signatures(hashes, seg_starts, _perms(config), unions=para_seg0)
        else:
            seg_sig = para_sig = np.empty((0, config.num_perm), dtype=np.uint32)
        sig = np.concatenate([para_sig, seg_sig[sent_seg]]) if len(sent_seg) else para_sig
        del seg_sig, para_sig
        if banded:
            bands = band_major(sig, config.b, config.r)
            sig = np.empty((0, config.num_perm), dtype=np.uint32)

    para_doc = np.array(p_doc, dtype=np.int32)
    para_start = np.array(p_start, dtype=np.int32)
    para_end = np.array(p_end, dtype=np.int32)
    # paragraph index within its document
    first_para = np.zeros(len(texts), dtype=np.int64)
    if len(texts):
        np.cumsum(doc_npara[:-1], out=first_para[1:])
    para_local = (np.arange(n_par) - first_para[para_doc]).astype(np.int32)
    n_sent = len(spara)
    unit_sh0 = np.concatenate([sh_lo, seg_a]).astype(np.int64)
    unit_nsh = np.concatenate([cnt, shi - slo - k + 1]).astype(np.int32)
    return Features(
        doc_ntok=doc_ntok,
        doc_npara=doc_npara,
        para_doc=para_doc,
        para_start=para_start,
        para_end=para_end,
        para_ntok=pn.astype(np.int32),
        unit_doc=np.concatenate([para_doc, para_doc[spara]]).astype(np.int32),
        unit_para=np.concatenate([para_local, para_local[spara]]).astype(np.int32),
        unit_kind=np.concatenate([np.zeros(n_par, np.uint8), np.ones(n_sent, np.uint8)]),
        unit_start=np.concatenate([para_start, np.array(s_start, dtype=np.int32)]).astype(np.int32),
        unit_end=np.concatenate([para_end, np.array(s_end, dtype=np.int32)]).astype(np.int32),
        unit_ntok=np.concatenate([pn, shi - slo]).astype(np.int32),
        unit_nsh=unit_nsh,
        sig=sig,
        shingles=shingles,
        para_sh0=sh_lo,
        unit_sh0=unit_sh0,
        unit_key=np.concatenate([para_key, seg_key[sent_seg]]),
        bands=bands,
    )


def unit_shingles(text: str, start: int, end: int, config: IndexConfig) -> np.ndarray:
    """Sorted unique shingle hashes of the text span ``[start, end)`` (for exact Jaccard).

    Span ends must fall on token boundaries (as unit spans do), so the tokens of the slice are
    the unit's tokens.
    """
    tok = tokenize(text[start:end])
    th = token_hashes(tok.words, config.seed)
    n = len(th)
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    width = min(config.shingle_size, n)
    return sorted_unique(window_hashes(th, width))
