"""One frozen configuration shared by every stage, recorded in saved indexes."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from .errors import ConfigMismatchError, InvalidParameterError

__all__ = ["IndexConfig", "optimal_bands"]

#: Weight of false negatives when choosing bands and rows from a threshold (false positives get
#: ``1 - FALSE_NEGATIVE_WEIGHT``). Candidates are always verified, so a missed pair costs more
#: than an extra candidate: at threshold 0.5 and 128 permutations this picks 32 bands of 4 rows,
#: which makes a pair with Jaccard 0.6 a candidate with probability 0.988 (datasketch's equal
#: weights pick 25 x 5: 0.868).
FALSE_NEGATIVE_WEIGHT = 0.9


def optimal_bands(
    threshold: float, num_perm: int, false_negative_weight: float = FALSE_NEGATIVE_WEIGHT
) -> tuple[int, int]:
    """Bands and rows that minimise weighted false positive and negative probability mass.

    Uses datasketch's own optimiser, so the choice matches what a datasketch user would get with
    the same weights.

    >>> optimal_bands(0.5, 128)
    (32, 4)
    """
    from datasketch.lsh import _optimal_param

    b, r = _optimal_param(threshold, num_perm, 1.0 - false_negative_weight, false_negative_weight)
    return int(b), int(r)


@dataclass(frozen=True)
class IndexConfig:
    """Everything that decides which paragraphs match. Two indexes can be merged only when equal.

    Attributes:
        threshold: Jaccard similarity (0..1) of word shingle sets above which two paragraphs (or
            sentences within paragraphs) count as reused. Default 0.5.
        num_perm: MinHash permutations per signature. Default 128.
        seed: seed of token hashing and of the permutations. Default 1.
        shingle_size: words per shingle. Default 5. Paragraphs shorter than this are hashed as
            one shingle of all their words, so they still match their copies.
        bands, rows: LSH banding; ``None`` chooses them from ``threshold`` (see
            :func:`optimal_bands`). ``bands * rows`` must not exceed ``num_perm``.
        min_sentence_words: paragraphs are also matched sentence by sentence (so a quote embedded
            in a longer paragraph, or two paragraphs merged into one, still match); sentences
            shorter than this many words are merged with a neighbour. Default 8.
        boilerplate_min_docs: a recurring text must appear in at least this many documents before
            it can be judged boilerplate. Default 5.
        boilerplate_max_coverage: a recurring text is boilerplate when, in the median document
            carrying it, at most this fraction of the words is shared with the other documents
            carrying it: the documents otherwise share nothing. Default 0.3.
    """

    threshold: float = 0.5
    num_perm: int = 128
    seed: int = 1
    shingle_size: int = 5
    bands: int | None = None
    rows: int | None = None
    min_sentence_words: int = 8
    boilerplate_min_docs: int = 5
    boilerplate_max_coverage: float = 0.3

    def __post_init__(self) -> None:
        _check_fraction("threshold", self.threshold, open_low=True)
        _check_int("num_perm", self.num_perm, 2, 1 << 12)
        _check_int("seed", self.seed, 0, (1 << 32) - 1)
        _check_int("shingle_size", self.shingle_size, 1, 64)
        _check_int("min_sentence_words", self.min_sentence_words, 1, 10_000)
        _check_int("boilerplate_min_docs", self.boilerplate_min_docs, 2, 1 << 31)
        _check_fraction("boilerplate_max_coverage", self.boilerplate_max_coverage)
        if (self.bands is None) != (self.rows is None):
            raise InvalidParameterError("give both bands and rows, or neither (then the threshold picks them)")
        if self.bands is None:
            b, r = optimal_bands(self.threshold, self.num_perm)
            object.__setattr__(self, "bands", b)
            object.__setattr__(self, "rows", r)
        else:
            _check_int("bands", self.bands, 1, self.num_perm)
            _check_int("rows", self.rows, 1, self.num_perm)
            assert self.rows is not None
            if self.bands * self.rows > self.num_perm:
                raise InvalidParameterError(
                    f"bands * rows = {self.bands} * {self.rows} = {self.bands * self.rows} must be "
                    f"at most num_perm = {self.num_perm}; did you forget num_perm?"
                )

    @property
    def b(self) -> int:
        """Number of bands (never ``None`` after construction)."""
        assert self.bands is not None
        return self.bands

    @property
    def r(self) -> int:
        """Rows per band (never ``None`` after construction)."""
        assert self.rows is not None
        return self.rows

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise InvalidParameterError(f"unknown configuration keys: {sorted(unknown)}")
        return cls(**data)

    def key(self) -> str:
        """Canonical string form, used to name and compare artifacts."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def require_same(self, other: IndexConfig, what: str = "index") -> None:
        """Raise ``ConfigMismatchError`` naming the differing fields."""
        if self == other:
            return
        diff = {k: (v, other.to_dict()[k]) for k, v in self.to_dict().items() if other.to_dict()[k] != v}
        raise ConfigMismatchError(f"{what} was built with another configuration: {diff} (this, other)")


def _check_int(name: str, value: object, lo: int, hi: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidParameterError(f"{name} must be an int, not {type(value).__name__}")
    if not lo <= value <= hi:
        raise InvalidParameterError(f"{name} must be between {lo} and {hi}, got {value}")


def _check_fraction(name: str, value: object, open_low: bool = False) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise InvalidParameterError(f"{name} must be a number between 0 and 1, not {type(value).__name__}")
    ok = (0.0 < value <= 1.0) if open_low else (0.0 <= value <= 1.0)
    if not ok:
        raise InvalidParameterError(f"{name} must be in {'(0, 1]' if open_low else '[0, 1]'}, got {value}")
