"""MinHash signatures for many shingle sets at once, vectorized with numpy.

A signature has ``num_perm`` uint32 values computed exactly as datasketch 2's ``"affine32"``
scheme: the 32-bit input hash ``x`` (the low half of the 64-bit shingle hash) is pre-mixed once
with the MurmurHash3 32-bit finalizer, then permutation ``i`` maps it to ``a_i * x + b_i mod 2**32``
with ``a_i`` odd, and ``a``, ``b`` drawn like datasketch does from ``RandomState(seed)``. So a
signature here is bit-for-bit the one ``datasketch.MinHash(num_perm, seed, scheme="affine32")``
gives for the same shingle hashes, on every machine. Values are computed for thousands of sets per
numpy call in a (permutations, shingles) layout and reduced per set with ``np.minimum.reduceat``.

Any signature converts to a :class:`datasketch.LeanMinHash` (:func:`to_lean_minhash`); the Jaccard
estimate (fraction of equal values) is the same number datasketch computes.
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np

from .errors import InvalidParameterError

__all__ = ["premix", "permutations", "signatures", "jaccard_estimate", "to_lean_minhash", "CHUNK_SHINGLES"]

#: Shingles per numpy call when signing: bounds the temporary (num_perm x chunk) uint32 block
#: (128 x 8,192 x 4 bytes = 4 MiB, which stays in cache: measured 2.9x faster than 32 MiB blocks).
CHUNK_SHINGLES = 8_192


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` uint32 parameters of ``num_perm`` permutations, as datasketch draws them."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def premix(hashes: np.ndarray) -> np.ndarray:
    """Low 32 bits of each hash, through the MurmurHash3 32-bit finalizer (datasketch's fmix)."""
    h = (np.asarray(hashes, dtype=np.uint64) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


@overload
def signatures(
    hashes: np.ndarray,
    set_starts: np.ndarray,
    perms: tuple[np.ndarray, np.ndarray],
    *,
    chunk: int = ...,
    unions: None = ...,
) -> np.ndarray: ...


@overload
def signatures(
    hashes: np.ndarray,
    set_starts: np.ndarray,
    perms: tuple[np.ndarray, np.ndarray],
    *,
    chunk: int = ...,
    unions: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]: ...


def signatures(
    hashes: np.ndarray,
    set_starts: np.ndarray,
    perms: tuple[np.ndarray, np.ndarray],
    *,
    chunk: int = CHUNK_SHINGLES,
    unions: np.ndarray | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """MinHash signatures of consecutive shingle sets (and, optionally, of unions of them).

    Args:
        hashes: shingle hashes of all sets, set after set (uint64; the low 32 bits are used).
        set_starts: int64 index in ``hashes`` where each set begins; strictly increasing, first
            element 0 (every set non-empty).
        perms: ``(a, b)`` from :func:`permutations`.
        chunk: shingles per numpy call (memory bound of the temporary block).
        unions: optional int64 indexes into ``set_starts``, strictly increasing from 0: union
            ``u`` is the sets ``unions[u] .. unions[u + 1] - 1``. Its signature is the
            elementwise minimum of theirs (the MinHash of the union), reduced while the sets'
            values are still in cache.

    Returns:
        uint32 array of shape ``(len(set_starts), num_perm)``; with ``unions``, a pair of that
        array and the ``(len(unions), num_perm)`` union signatures.

    >>> perms = permutations(16, seed=1)
    >>> h = np.array([5, 6, 7, 5, 6, 7, 9], dtype=np.uint64)
    >>> sig = signatures(h, np.array([0, 3]), perms)
    >>> sig.shape, bool((sig[0] == signatures(h[:3], np.array([0]), perms)[0]).all())
    ((2, 16), True)
    >>> sig, union = signatures(h, np.array([0, 3, 5]), perms, unions=np.array([0]))
    >>> bool((union[0] == signatures(h, np.array([0]), perms)[0]).all())
    True
    """
    hashes = premix(hashes)
    set_starts = np.asarray(set_starts, dtype=np.int64)
    a, b = perms
    num_perm = len(a)
    n_sets = len(set_starts)
    out = np.empty((n_sets, num_perm), dtype=np.uint32)
    groups = np.arange(n_sets, dtype=np.int64) if unions is None else np.asarray(unions, dtype=np.int64)
    union_out = np.empty((len(groups), num_perm), dtype=np.uint32)
    if n_sets == 0:
        return out if unions is None else (out, union_out)
    if set_starts[0] != 0 or (n_sets > 1 and np.any(np.diff(set_starts) <= 0)) or set_starts[-1] >= len(hashes):
        raise InvalidParameterError("set_starts must start at 0 and increase strictly (no empty set)")
    if len(groups) == 0 or groups[0] != 0 or np.any(np.diff(groups) <= 0) or groups[-1] >= n_sets:
        raise InvalidParameterError("unions must start at 0 and increase strictly, below the number of sets")
    a_col = a[:, None]
    b_col = b[:, None]
    set_ends = np.append(set_starts[1:], len(hashes))
    group_end_set = np.append(groups[1:], n_sets)
    group_ends = set_ends[group_end_set - 1]
    first = 0
    n_groups = len(groups)
    while first < n_groups:
        # take whole unions until the chunk is full (at least one, however large)
        s0 = int(groups[first])
        last = max(int(np.searchsorted(group_ends, set_starts[s0] + chunk, side="right")), first + 1)
        s1 = int(group_end_set[last - 1])
        lo, hi = int(set_starts[s0]), int(group_ends[last - 1])
        block = np.multiply(a_col, hashes[None, lo:hi])
        block += b_col
        mins = np.minimum.reduceat(block, set_starts[s0:s1] - lo, axis=1)
        out[s0:s1] = mins.T
        if unions is not None:
            union_out[first:last] = np.minimum.reduceat(mins, groups[first:last] - s0, axis=1).T
        first = last
    return out if unions is None else (out, union_out)


def jaccard_estimate(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray | float:
    """Fraction of equal signature values (rows of 2-D inputs are compared pairwise)."""
    eq = np.asarray(sig_a) == np.asarray(sig_b)
    if eq.ndim == 1:
        return float(eq.mean())
    return np.asarray(eq.mean(axis=1))


def to_lean_minhash(signature: np.ndarray, seed: int) -> Any:
    """Wrap one signature as a :class:`datasketch.LeanMinHash` (for interoperability).

    The datasketch object carries the same values, so ``jaccard`` between two such objects
    equals :func:`jaccard_estimate` of the two signatures.
    """
    from datasketch import LeanMinHash

    values = np.asarray(signature, dtype=np.uint32)
    return LeanMinHash(seed=seed, hashvalues=values, scheme="affine32")
