"""The compiled loops (dedup.kernels) against the numpy code they replace, and their guards."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from dataclasses import fields
from typing import Any

import numpy as np
import pytest

import dedup.native as native
from dedup.columns import band_major
from dedup.config import IndexConfig
from dedup.units import featurize

WORDS = ["pskov", "Ukraine", "troops", "refused", "war", "paratroopers", "Kremlin", "said"]


def _texts(rng: random.Random, ascii_only: bool, n: int = 300) -> list[str]:
    def sentence() -> str:
        return " ".join(rng.choice(WORDS) + str(rng.randrange(50)) for _ in range(rng.randrange(4, 16))).capitalize()

    # paragraphs of several sentences: sentence units, and paragraphs made of several segments
    texts = [
        "\n\n".join(". The QUICK Fox ".join(sentence() for _ in range(rng.randrange(1, 5))) + "." for _ in range(4))
        for _ in range(n)
    ]
    if not ascii_only:
        texts = [t.replace("a", "ä", 3).replace("The", "‘ÉTÉ’ The", 1) for t in texts]
    return texts


@pytest.mark.parametrize("ascii_only", [True, False])
def test_featurize_with_kernels_equals_numpy(kernels, monkeypatch, ascii_only):
    """Token hashes, shingle hashes, signatures (rows and band-major): kernels and numpy agree exactly."""
    texts = _texts(random.Random(7), ascii_only)
    cfg = IndexConfig(num_perm=64, seed=5, bands=10, rows=6)  # 4 values past the bands
    monkeypatch.setattr(native, "USE_NATIVE", False)
    assert native.kernels() is None
    ref = featurize(texts, cfg)
    ref_banded = featurize(texts, cfg, banded=True)
    monkeypatch.setattr(native, "USE_NATIVE", True)
    got = featurize(texts, cfg)
    got_banded = featurize(texts, cfg, banded=True)
    for f in fields(ref):
        if f.name != "bands":
            assert np.array_equal(getattr(ref, f.name), getattr(got, f.name)), f.name
            if f.name != "sig":
                assert np.array_equal(getattr(ref, f.name), getattr(got_banded, f.name)), f.name
    assert ref.bands is None and got.bands is None and len(got_banded.sig) == 0
    assert (ref.unit_kind == 1).sum() > 500 and len(np.unique(ref.unit_key)) > 1000
    expect = band_major(ref.sig, cfg.b, cfg.r)
    for banded in (ref_banded.bands, got_banded.bands):
        assert banded is not None
        assert np.array_equal(banded[0], expect[0]) and np.array_equal(banded[1], expect[1])


def test_token_hashes_of_both_widths_and_cases(kernels, monkeypatch):
    """Token hashes from uint8 and uint32 code units, lowered or not: kernel and numpy agree."""
    from dedup.text import _span_hashes

    rng = np.random.default_rng(2)
    for dtype in (np.uint8, np.uint32):
        chars = rng.integers(0, 256 if dtype == np.uint8 else 0x20000, 5000).astype(dtype)
        chars[::7] = ord("Q")  # capitals to lower
        starts = np.sort(rng.choice(4900, 300, replace=False)).astype(np.int64)
        ends = np.minimum(starts + rng.integers(1, 20, 300), np.append(starts[1:], 5000))  # words: not empty
        for lower in (False, True):
            monkeypatch.setattr(native, "USE_NATIVE", True)
            got = _span_hashes(chars, starts, ends, 3, lower_ascii=lower)
            monkeypatch.setattr(native, "USE_NATIVE", False)
            assert np.array_equal(got, _span_hashes(chars, starts, ends, 3, lower_ascii=lower))


def test_kernels_refuse_out_of_range_indexes(kernels):
    t = np.arange(10, dtype=np.uint64)
    with pytest.raises(IndexError):
        kernels.window_hashes(t, np.array([0, 6]), 5)
    with pytest.raises(IndexError):
        kernels.window_hashes(t, np.array([-1]), 2)
    assert np.array_equal(kernels.window_hashes(t, np.array([5]), 5), kernels.window_hashes(t, np.arange(6), 5)[5:])
    with pytest.raises(IndexError):
        kernels.span_poly(np.zeros(4, np.uint8), np.array([0]), np.array([5]), False)
    with pytest.raises(TypeError):
        kernels.span_poly(np.zeros(4, np.int16), np.array([0]), np.array([2]), False)
    one, two = np.ones(3, np.uint32), np.ones(2, np.uint32)
    with pytest.raises(IndexError):
        kernels.sign_sets(one, np.array([0, 4]), two, two, np.empty((2, 2), np.uint32))
    with pytest.raises(ValueError):
        kernels.sign_sets(one, np.array([0]), two, two, np.empty((1, 3), np.uint32))
    with pytest.raises(IndexError):
        kernels.unit_bands(np.ones((2, 4), np.uint32), np.array([0]), np.array([2]), 1, 2)


def test_environment_variable_turns_the_kernels_off(kernels):
    """``DEDUP_NO_NATIVE=1`` computes with numpy: the same signatures."""
    code = (
        "import numpy as np, dedup.native as n, dedup.minhash as m;"
        "h = np.arange(1, 50000, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15);"
        "s = m.signatures(h, np.array([0, 7, 3000]), m.permutations(32, 3));"
        "print(n.kernels() is None, int(s.astype(np.uint64).sum()))"
    )

    def run(flag: str) -> list[str]:
        env = {**os.environ, "DEDUP_NO_NATIVE": flag}
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        return done.stdout.split()

    off, on = run("1"), run("0")
    assert off[0] == "True" and on[0] == "False"  # numpy in one process, the kernels in the other
    assert off[1] == on[1]


def test_without_the_extension_numpy_gives_the_same_index(kernels):
    """Where ``dedup._kernels`` cannot be imported (not built), indexing gives the same pairs."""
    code = (
        "import sys;{block}"
        "import random, dedup.native as n;"
        "from dedup import Index;"
        "rng = random.Random(4);"
        "words = ['pskov', 'Ukraine', 'troops', 'refused', 'War', 'paratroopers', 'ÉTÉ'];"
        "para = lambda: ' '.join(rng.choice(words) + str(rng.randrange(90)) for _ in range(30)) + '.';"
        "text = lambda: '\\n\\n'.join(para() for _ in range(4));"
        "docs = [text() for _ in range(150)];"
        "docs += [d[: len(d) // 2] + ' tail words here.' for d in docs[:40]];"
        "idx = Index(threshold=0.5);"
        "idx.add_many([(str(i), d) for i, d in enumerate(docs)]);"
        "print(n.kernels() is None, sorted((p.a, p.b, round(p.score, 6)) for p in idx.pairs()))"
    )

    def run(block: str) -> str:
        done = subprocess.run([sys.executable, "-c", code.format(block=block)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    built, missing = run(""), run("sys.modules['dedup._kernels'] = None;")  # import then fails
    assert built.startswith("False") and missing.startswith("True")
    assert built.split(" ", 1)[1] == missing.split(" ", 1)[1]
    assert "(" in missing  # pairs were found


@pytest.mark.parametrize("seed", range(3))
def test_set_jaccard_kernel_equals_numpy(kernels, monkeypatch, seed):
    """Exact Jaccard in C (hash table per pair, threads) equals the sorting numpy path bit for bit."""
    import dedup.shingles as shingles

    gen = np.random.default_rng(seed)
    sh = gen.integers(0, 60, 20_000).astype(np.uint32)  # small alphabet: repeats and overlaps
    sh[::5] = gen.integers(0, 2**32, len(sh[::5]), dtype=np.uint64).astype(np.uint32)
    m = 3000
    la, lb = gen.integers(0, 40, m), gen.integers(0, 40, m)
    la[:5] = 0  # empty sets: Jaccard 1 when both are empty
    lb[:3] = 0
    sa, sb = gen.integers(0, len(sh) - 40, m), gen.integers(0, len(sh) - 40, m)
    got = shingles.set_jaccard(sh, sa, la, sh, sb, lb)
    monkeypatch.setattr(shingles, "PARALLEL_MIN_SHINGLES_THREADS", 1)
    threaded = shingles.set_jaccard(sh, sa, la, sh, sb, lb, workers=2)
    monkeypatch.setattr(native, "USE_NATIVE", False)
    ref = shingles.set_jaccard(sh, sa, la, sh, sb, lb)
    assert got.dtype == ref.dtype == np.float32
    assert np.array_equal(got, ref) and np.array_equal(threaded, ref)
    assert got[0] == 1.0 and 0 < (got < 1).sum() < m


def test_set_jaccard_kernel_refuses_bad_ranges(kernels):
    sh = np.arange(10, dtype=np.uint32)
    one = np.array([0])
    with pytest.raises(IndexError):
        kernels.set_jaccard(sh, np.array([8]), np.array([5]), sh, one, one)
    with pytest.raises(IndexError):
        kernels.set_jaccard(sh, one, np.array([-1]), sh, one, one)
    with pytest.raises(ValueError):
        kernels.set_jaccard(sh, one, one, sh, np.array([0, 1]), one)


def test_an_out_of_date_extension_falls_back_to_numpy_with_a_warning(monkeypatch):
    """A _kernels built from an older _kernels.c (a function missing) warns and uses numpy."""
    import ctypes

    real = ctypes.CDLL

    class Stale:
        def __init__(self, path: str) -> None:
            self.lib = real(path)

        def __getattr__(self, name: str) -> object:
            if name == "dd_set_jaccard":
                raise AttributeError(f"undefined symbol: {name}")
            return getattr(self.lib, name)

    monkeypatch.setattr(ctypes, "CDLL", Stale)
    import dedup

    monkeypatch.delitem(sys.modules, "dedup.kernels", raising=False)  # imported again, from the stale library
    monkeypatch.delattr(dedup, "kernels", raising=False)
    monkeypatch.setattr(native, "_tried", False)
    monkeypatch.setattr(native, "_module", None)
    with pytest.warns(RuntimeWarning, match="out of date"):
        assert native.kernels() is None
    assert native.kernels() is None  # asked once


def test_set_jaccard_on_a_memory_map_forks_instead_of_threads(kernels, monkeypatch, tmp_path, fork_calls):
    """Shingles in a file are read by forked workers (their pages then count in the workers,
    not in the caller's process), from a larger batch than threads need; in RAM by threads. Same
    values either way."""
    import dedup.shingles as shingles

    assert shingles.PARALLEL_MIN_SHINGLES_THREADS < shingles.PARALLEL_MIN_SHINGLES_NATIVE
    forks = fork_calls(shingles)
    monkeypatch.setattr(shingles, "PARALLEL_MIN_SHINGLES_THREADS", 1)
    gen = np.random.default_rng(9)
    sh = gen.integers(0, 40, 5000).astype(np.uint32)
    path = tmp_path / "sh.u32"
    sh.tofile(path)
    mapped = np.memmap(path, dtype=np.uint32, mode="r")
    sa, sb = gen.integers(0, 4900, 500), gen.integers(0, 4900, 500)
    la, lb = gen.integers(1, 60, 500), gen.integers(1, 60, 500)
    la, lb = np.minimum(la, 5000 - sa), np.minimum(lb, 5000 - sb)
    in_ram = shingles.set_jaccard(sh, sa, la, sh, sb, lb, workers=2)
    assert not forks
    assert np.array_equal(shingles.set_jaccard(mapped, sa, la, mapped, sb, lb, workers=2), in_ram)
    assert not forks  # below the forks' threshold: in this process
    monkeypatch.setattr(shingles, "PARALLEL_MIN_SHINGLES_NATIVE", 1)
    on_disk = shingles.set_jaccard(mapped, sa, la, mapped, sb, lb, workers=2)
    assert len(forks) == 1 and len(forks[0]) == 2
    assert np.array_equal(in_ram, on_disk)
    assert np.array_equal(in_ram, shingles.set_jaccard(sh, sa, la, sh, sb, lb))


@pytest.mark.parametrize("seed", range(3))
def test_sentence_units_kernel_equals_python(kernels, seed):
    """Random paragraphs and sentence breaks: the kernel cuts the same units as the Python loop."""
    from dedup.units import _sentence_units

    rng = np.random.default_rng(seed)
    n_par = 400
    lengths = rng.integers(1, 60, size=n_par)
    phi = np.cumsum(lengths)
    plo = phi - lengths
    brk = np.sort(rng.choice(int(phi[-1]), size=int(phi[-1]) // 6, replace=False))
    b0 = np.searchsorted(brk, plo, side="right")
    b1 = np.searchsorted(brk, phi, side="left")
    for min_sent in (1, 3, 5, 12):
        cand = np.flatnonzero((phi - plo >= 2 * min_sent) & (b1 > b0))
        want = _sentence_units(cand, plo[cand], phi[cand], b0[cand], b1[cand], brk.tolist(), min_sent)
        got = kernels.sentence_units(cand, plo[cand], phi[cand], b0[cand], b1[cand], brk, min_sent)
        assert len(want[0]) > 20
        for w, g in zip(want, got):
            assert w.tolist() == g.tolist()


def test_sentence_units_kernel_refuses_bad_ranges(kernels):
    one = np.array([0])
    with pytest.raises(IndexError):
        kernels.sentence_units(one, one, one + 10, one, one + 5, np.array([1, 2]), 1)
    with pytest.raises(ValueError):
        kernels.sentence_units(one, one, one, np.array([0, 0]), one, np.array([1]), 1)


def _split(values: np.ndarray, cuts: list[int]) -> list[np.ndarray]:
    """``values`` cut into contiguous chunks at ``cuts`` (empty chunks included)."""
    return [np.ascontiguousarray(c) for c in np.split(values, cuts)]


@pytest.mark.parametrize("rows", [1, 4, 5])
@pytest.mark.parametrize("cuts", [[], [1, 1, 2000, 4999], [700 * k for k in range(1, 8)]])
def test_band_pack_equals_band_key_then_pack(kernels, rows, cuts):
    """The kernel's packed band keys are numpy's band_key at the selected rows, packed by _pack
    (odd and even rows per band, a selection with repeats, gaps and rows out of order), whether
    the band is one array or the chunks it was appended in (empty ones too)."""
    from dedup.lsh import _pack, band_key

    rng = np.random.default_rng(rows)
    values = rng.integers(0, 2**32, size=(5000, rows), dtype=np.uint32)
    values[100:200] = values[0]  # equal rows: equal keys
    sel = np.sort(rng.choice(5000, size=3000, replace=False))
    sel[:50] = 0
    sel[-100:] = sel[-100:][::-1]  # back and forth across chunks
    bits = (len(values) - 1).bit_length()
    chunks = kernels.Chunks(_split(values, cuts), "test")
    for band in (0, 7, 31):
        want = _pack(band_key(values, band)[sel], bits)
        got = kernels.band_pack(chunks, band, sel, bits)
        got.sort()
        assert np.array_equal(got, want)


def test_band_pack_refuses_bad_arguments(kernels):
    values = np.zeros((10, 4), dtype=np.uint32)
    one = kernels.Chunks([values], "test")
    with pytest.raises(IndexError):
        kernels.band_pack(one, 0, np.array([0, 10]), 4)
    with pytest.raises(IndexError):
        kernels.band_pack(one, 0, np.array([-1]), 4)
    with pytest.raises(ValueError):
        kernels.band_pack(one, 0, np.arange(10), 3)  # 10 rows need 4 bits
    with pytest.raises(ValueError):
        kernels.Chunks([values[0]], "test")  # one value per row: not (rows, width)
    with pytest.raises(ValueError):
        kernels.Chunks([values, np.zeros((3, 5), np.uint32)], "test")  # two widths
    with pytest.raises(ValueError):
        kernels.Chunks([values.astype(np.int64)], "test")
    with pytest.raises(ValueError):
        kernels.Chunks([np.zeros((10, 8), np.uint32)[:, ::2]], "test")  # not contiguous
    with pytest.raises(ValueError):
        kernels.Chunks([], "test")  # no array says the width
    empty = kernels.Chunks([values[:0]], "test")  # no rows: nothing to select
    assert len(kernels.band_pack(empty, 0, np.array([], np.int64), 1)) == 0
    with pytest.raises(IndexError):
        kernels.band_pack(empty, 0, np.array([0]), 1)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("width", [1, 4, 7])
def test_equal_counts_kernel_equals_numpy(kernels, dtype, width):
    """Equal values of row pairs, added to what ``out`` holds, are numpy's count, over one array
    or many chunks (pairs in random order, a row with itself, equal rows)."""
    rng = np.random.default_rng(width)
    values = rng.integers(0, 3, size=(3000, width), dtype=np.uint32)  # few distinct values: many equal
    values[50:60] = values[7]
    a = rng.integers(0, 3000, size=20000).astype(dtype)
    b = rng.integers(0, 3000, size=20000).astype(dtype)
    a[:10], b[:10] = 7, np.arange(50, 60)
    a[10:20] = b[10:20]
    want = (values[a] == values[b]).sum(axis=1).astype(np.int32) + 5
    for cuts in ([], [1, 999, 999, 2998]):
        out = np.full(len(a), 5, dtype=np.int32)
        kernels.equal_counts(kernels.Chunks(_split(values, cuts), "test"), a, b, out)
        assert np.array_equal(out, want)
    assert np.array_equal(want[:10], np.full(10, width + 5))


def test_equal_counts_kernel_refuses_bad_arguments(kernels):
    one = kernels.Chunks([np.zeros((10, 4), np.uint32)], "test")
    out = np.zeros(2, dtype=np.int32)
    with pytest.raises(IndexError):
        kernels.equal_counts(one, np.array([0, 10]), np.array([0, 1]), out)
    with pytest.raises(IndexError):
        kernels.equal_counts(one, np.array([0, 1]), np.array([-1, 1]), out)
    with pytest.raises(ValueError):
        kernels.equal_counts(one, np.array([0, 1]), np.array([0]), out)
    with pytest.raises(ValueError):
        kernels.equal_counts(one, np.array([0, 1]), np.array([0, 1]), np.zeros(2, np.int64))


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_components_kernel_equals_scipy(kernels, monkeypatch, dtype):
    """Union-find labels are scipy's: components numbered by their smallest node (random graphs,
    isolated nodes, self-loops, repeated edges, unsorted edges)."""
    from dedup.analysis import components

    rng = np.random.default_rng(9)
    for n, m in [(1, 1), (50, 10), (5000, 3000), (5000, 6000)]:
        pairs = np.sort(rng.integers(0, n, size=(m, 2)), axis=1).astype(dtype)
        pairs[: m // 10, 1] = pairs[: m // 10, 0]  # self-loops
        got = components(n, pairs)
        monkeypatch.setattr(native, "USE_NATIVE", False)
        want = components(n, pairs)
        monkeypatch.setattr(native, "USE_NATIVE", True)
        assert got.dtype == np.int64 and np.array_equal(got, want)
        assert np.array_equal(kernels.components(n, pairs[::-1]), want)  # edge order does not matter
        sel = rng.random(m) < 0.4
        assert np.array_equal(kernels.components(n, pairs, sel), kernels.components(n, pairs[sel]))
    assert len(np.unique(want)) > 100


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_components_over_groups_equal_in_place_union_find(kernels, monkeypatch, dtype):
    """The loose grouping (components of the selected pairs, given groups they already connect):
    union-find over the selected pairs in place gives numpy's contraction of the groups."""
    from dedup.analysis import _components_over, components

    rng = np.random.default_rng(3)
    n, m = 4000, 9000
    pairs = np.sort(rng.integers(0, n, size=(m, 2)), axis=1).astype(dtype)
    tight = rng.random(m) < 0.3
    loose_sel = tight | (rng.random(m) < 0.2)  # every tight edge is a loose one: groups connected
    groups = components(n, pairs[tight])
    got = _components_over(groups, pairs, loose_sel)
    monkeypatch.setattr(native, "USE_NATIVE", False)
    want = _components_over(groups, pairs, loose_sel, chunk=1000)
    assert np.array_equal(want, components(n, pairs[loose_sel]))
    assert np.array_equal(got, want) and len(np.unique(got)) < len(np.unique(groups))


def test_components_kernel_refuses_bad_nodes(kernels):
    with pytest.raises(IndexError):
        kernels.components(5, np.array([[0, 5]]))
    with pytest.raises(IndexError):
        kernels.components(5, np.array([[-1, 2]]))
    with pytest.raises(ValueError):
        kernels.components(5, np.array([0, 1]))
    with pytest.raises(ValueError):
        kernels.components(5, np.array([[0, 1], [1, 2]]), np.array([1, 0]))  # not bool
    with pytest.raises(ValueError):
        kernels.components(5, np.array([[0, 1], [1, 2]]), np.array([True]))


@pytest.mark.parametrize("with_ids", [False, True])
@pytest.mark.parametrize("with_groups", [False, True])
def test_run_pairs_kernel_equals_numpy(kernels, monkeypatch, with_ids, with_groups):
    """The keys of all pairs inside runs (mapped through ids, pairs inside a group dropped):
    the kernel's one pass gives numpy's keys, run after run in the order of triu_indices."""
    from dedup.lsh import run_pairs

    rng = np.random.default_rng(11)
    u = rng.permutation(3000).astype(np.int64)[:2500]
    sizes = rng.choice([0, 1, 2, 2, 3, 5, 9, 40], size=200)
    starts = rng.integers(0, len(u) - sizes.max(), size=200)  # runs may overlap
    ids = rng.permutation(6000)[:3000] if with_ids else None
    groups = rng.integers(0, 50, 6000) if with_groups else None
    got = run_pairs(u, starts, sizes, groups, ids)
    monkeypatch.setattr(native, "USE_NATIVE", False)
    want = run_pairs(u, starts, sizes, groups, ids)
    assert len(got) == 1 and got[0].dtype == np.int64
    assert np.array_equal(np.sort(got[0]), np.sort(np.concatenate(want)))
    # run after run, pairs (i, j) as triu_indices gives them
    x = u if ids is None else ids[u]
    expect = []
    for st, z in zip(starts.tolist(), sizes.tolist()):
        for i, j in zip(*np.triu_indices(z, 1)):
            a, b = int(x[st + i]), int(x[st + j])
            if groups is None or groups[a] != groups[b]:
                expect.append(min(a, b) << 32 | max(a, b))
    assert got[0].tolist() == expect
    assert (len(expect) < int((sizes * (sizes - 1) // 2).sum())) == with_groups
    assert run_pairs(u, starts[:0], sizes[:0], groups, ids) == []


def test_run_pairs_kernel_refuses_bad_arguments(kernels):
    u = np.arange(10)
    with pytest.raises(IndexError):
        kernels.run_pairs(u, np.array([8]), np.array([3]), None, None)  # past the end
    with pytest.raises(IndexError):
        kernels.run_pairs(u, np.array([-1]), np.array([2]), None, None)
    with pytest.raises(ValueError):
        kernels.run_pairs(u, np.array([0]), np.array([-2]), None, None)
    with pytest.raises(ValueError):
        kernels.run_pairs(u, np.array([0, 1]), np.array([2]), None, None)
    with pytest.raises(IndexError):
        kernels.run_pairs(u, np.array([0]), np.array([3]), None, np.arange(5))  # a value past the ids
    with pytest.raises(IndexError):
        kernels.run_pairs(u, np.array([0]), np.array([3]), np.zeros(5, np.int64), None)  # past the groups
    with pytest.raises(ValueError):
        kernels.run_pairs(u + (1 << 31), np.array([0]), np.array([3]), None, None)  # keys do not pack


@pytest.mark.parametrize("with_ids", [False, True])
@pytest.mark.parametrize("with_groups", [False, True])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_twin_run_pairs_kernel_equals_numpy(kernels, with_ids, with_groups, dtype):
    """Every row of a twin group with every row of the later groups of its run (rows mapped
    through ids, pairs inside a group dropped): the kernel gives numpy's keys."""
    from dedup.lsh import _cross_pairs, _run_index_pairs, twin_groups

    rng = np.random.default_rng(5)
    tw = twin_groups(rng.integers(0, 700, 2000).astype(np.uint64), 64)  # 2,000 rows in < 700 groups
    assert tw is not None and int(tw.size.max()) >= 5
    tw = tw._replace(first=tw.first.astype(dtype), rows=tw.rows.astype(dtype))
    n_groups = len(tw.first)
    g = rng.integers(0, n_groups, 3000)
    sizes = rng.choice([0, 2, 2, 3, 4, 7, 12], size=300)
    starts = rng.integers(0, len(g) - sizes.max(), size=300)
    ids = rng.permutation(5000)[:2000].astype(dtype) if with_ids else None
    groups = rng.integers(0, 40, 5000).astype(dtype) if with_groups else None
    table = kernels.TwinRows(tw.first, tw.multi_of, tw.start, tw.size, tw.rows, ids, groups)
    got = table.pairs(g, starts, sizes)
    pairs = _run_index_pairs(g, starts, sizes)
    ga, gb = np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])
    want = _cross_pairs(tw, ga, gb, ids, groups)
    assert got.dtype == np.int64 and len(got) > 1000
    assert np.array_equal(np.sort(got), np.sort(want))
    assert len(table.pairs(g, starts[:0], sizes[:0])) == 0


def test_twin_run_pairs_kernel_refuses_bad_arguments(kernels):
    first, multi_of = np.array([0, 1, 3]), np.array([-1, 0, -1], dtype=np.int32)
    start, size, rows = np.array([0]), np.array([2]), np.array([1, 2])
    table = kernels.TwinRows(first, multi_of, start, size, rows, None, None)
    assert sorted(table.pairs(np.array([0, 1, 2]), np.array([0]), np.array([3])).tolist()) == [
        0 << 32 | 1, 0 << 32 | 2, 0 << 32 | 3, 1 << 32 | 3, 2 << 32 | 3
    ]
    with pytest.raises(IndexError):
        table.pairs(np.array([0, 3]), np.array([0]), np.array([2]))  # no group 3
    with pytest.raises(IndexError):
        table.pairs(np.array([0, 1]), np.array([1]), np.array([2]))  # past the end
    with pytest.raises(IndexError):
        kernels.TwinRows(first, np.array([-1, 1, -1], dtype=np.int32), start, size, rows, None, None)
    with pytest.raises(IndexError):
        kernels.TwinRows(first, multi_of, start, np.array([3]), rows, None, None)  # rows past the end
    with pytest.raises(IndexError):
        kernels.TwinRows(first, multi_of, start, size, rows, np.arange(3), None)  # row 3 has no id
    with pytest.raises(IndexError):
        kernels.TwinRows(first, multi_of, start, size, rows, None, np.zeros(3, np.int64))  # nor a group
    with pytest.raises(ValueError):
        kernels.TwinRows(first, multi_of[:2], start, size, rows, None, None)


def test_union_with_known_values_equals_numpy(kernels, monkeypatch):
    """The sorted union of the expanded and the known pair keys, with the known estimates placed
    (NaN elsewhere): one merge gives numpy's sort, unique and lookup."""
    from dedup.analysis import _union_known

    rng = np.random.default_rng(8)
    pool = np.unique(rng.integers(0, 1 << 40, 60000))
    for n_exp, n_known in [(0, 0), (0, 50), (50, 0), (20000, 15000)]:
        expanded = rng.permutation(rng.choice(pool, n_exp, replace=False))
        known = np.sort(rng.choice(pool, n_known, replace=False))  # overlaps the expanded keys
        known_est = rng.random(n_known).astype(np.float32)
        got = _union_known(expanded.copy(), known, known_est)
        monkeypatch.setattr(native, "USE_NATIVE", False)
        want = _union_known(expanded.copy(), known, known_est)
        monkeypatch.setattr(native, "USE_NATIVE", True)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1], equal_nan=True)
        assert np.array_equal(got[0], np.union1d(expanded, known)) and got[1].dtype == np.float32
        assert int(np.isnan(got[1]).sum()) == len(got[0]) - n_known
    # repeats in either input come out once; a key of both takes b's value
    keys, est = kernels.union_values(np.array([1, 1, 4, 9]), np.array([1, 4, 4, 7]), np.array([0.5, 0.1, 0.2, 0.3]))
    assert keys.tolist() == [1, 4, 7, 9]
    assert np.array_equal(est, np.array([0.5, 0.2, 0.3, np.nan], dtype=np.float32), equal_nan=True)


@pytest.mark.parametrize("n", [5000, 2**31 + 10])
def test_union_pairs_kernel_equals_numpy(kernels, n):
    """The LSH candidates' last step: the sorted union of the workers' (and the twin groups')
    sorted key arrays, without repeats, as (lo, hi) rows: numpy's concatenation, sort, unique
    and key_pairs, int32 rows where the ids fit and int64 where they do not."""
    from dedup.lsh import key_pairs

    rng = np.random.default_rng(12)
    lo = rng.integers(0, min(n, 5000), 30000)
    hi = rng.integers(0, min(n, 5000), 30000) + (n - 5000 if n > 5000 else 0)
    pool = np.unique(lo.astype(np.int64) << 32 | hi)
    parts = [np.sort(rng.choice(pool, size, replace=False)) for size in (12000, 9000, 0, 3000)]
    got = kernels.union_pairs(parts, n)
    want = key_pairs(np.unique(np.concatenate(parts)), n)
    assert got.dtype == want.dtype == (np.int32 if n <= 2**31 else np.int64)
    assert np.array_equal(got, want) and len(got) < sum(len(p) for p in parts)  # repeats dropped once
    assert kernels.union_pairs([parts[0]], n).tolist() == key_pairs(parts[0], n).tolist()
    assert kernels.union_pairs([], n).shape == (0, 2)


def test_union_pairs_kernel_refuses_bad_arguments(kernels):
    good = np.array([1 << 32 | 2, 1 << 32 | 3])
    with pytest.raises(ValueError):
        kernels.union_pairs([good, good[::-1]], 10)  # not sorted
    with pytest.raises(IndexError):
        kernels.union_pairs([good], 3)  # id 3 is not below 3
    with pytest.raises(IndexError):
        kernels.union_pairs([np.array([-1])], 10)
    with pytest.raises(ValueError):
        kernels.union_pairs([good] * 65, 10)


def test_union_values_kernel_refuses_bad_arguments(kernels):
    with pytest.raises(ValueError):
        kernels.union_values(np.array([3, 1]), np.array([1]), np.array([0.5]))  # a not sorted
    with pytest.raises(ValueError):
        kernels.union_values(np.array([1, 3]), np.array([2, 1]), np.array([0.5, 0.5]))  # b not sorted
    with pytest.raises(ValueError):
        kernels.union_values(np.array([1, 3]), np.array([1, 2]), np.array([0.5]))  # a value short


def test_twin_groups_from_the_hash_table_equal_the_sorted_ones(kernels, monkeypatch):
    """Every field of Twins (and its dtypes) is the same from the kernel's hash table as from
    numpy's sort: keys with many repeats, groups above and below max_bucket, all distinct."""
    from dedup.lsh import twin_groups

    rng = np.random.default_rng(12)
    cases = [
        rng.integers(0, 3000, size=20000).astype(np.uint64),  # many groups of two or more
        rng.integers(0, 2**64 - 1, size=5000, dtype=np.uint64),  # (nearly surely) all distinct
        np.full(50, 7, dtype=np.uint64),  # one group
        np.array([5], dtype=np.uint64),
    ]
    for keys in cases:
        monkeypatch.setattr(native, "USE_NATIVE", False)
        want = twin_groups(keys, 8)
        monkeypatch.setattr(native, "USE_NATIVE", True)
        got = twin_groups(keys, 8)
        if want is None:
            assert got is None
            continue
        assert got is not None
        for name, w, g in zip(want._fields, want, got):
            assert w.dtype == g.dtype and np.array_equal(w, g), name
    assert want is None  # the last case: one row
    group, first, count = kernels.key_groups(cases[0])
    distinct, first_row = np.unique(cases[0], return_index=True)
    assert count.sum() == 20000 and np.all(np.diff(first) > 0)  # numbered by first row
    assert np.array_equal(first[group], first_row[np.searchsorted(distinct, cases[0])])


@pytest.mark.parametrize("workers", [1, 2])
def test_analysis_reads_signature_batches_in_place(kernels, monkeypatch, workers):
    """An index in RAM analyzes its signatures where its batches put them (nothing merged), with
    the pair table numpy gives after merging them: small batches, a removed document (the
    analysis then reads a subset of the units), one and two workers."""
    from dedup import Index

    texts = _texts(random.Random(11), True, n=120)
    texts += [t[: len(t) // 2] + " Tail words." for t in texts[:40]]

    def table(use_native: bool) -> tuple[list[Any], Index]:
        monkeypatch.setattr(native, "USE_NATIVE", use_native)
        idx = Index(threshold=0.5, workers=workers)
        idx.add_many([(str(i), t) for i, t in enumerate(texts)], batch_size=13, workers=workers)
        idx.remove("3")
        pt = idx.pair_table()
        cols = ("a", "b", "score", "offsets", "a_index", "b_index", "a_start", "b_end", "similarity", "exact")
        return [getattr(pt, c).tolist() for c in cols], idx

    want, merged = table(False)
    got, in_place = table(True)
    assert got == want and len(want[0]) > 20
    assert all(len(col._chunks) == 1 for col in merged._sigs.parts)
    assert all(len(col._chunks) == -(-len(texts) // 13) for col in in_place._sigs.parts)
