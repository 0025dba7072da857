"""Index kept in files (``directory=``) and parallel analysis (``workers=``): same results as in RAM."""

from __future__ import annotations

import os

import numpy as np
import pytest

from dedup import Index, InvalidParameterError
from dedup.columns import Column, SignatureStore, TextStore
from dedup.synth import SynthConfig, generate


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    return [{"id": r["id"], "text": r["text"]} for r in generate(SynthConfig(n_articles=400, seed=3))]


def _results(idx: Index, probe: str) -> tuple:
    return (
        list(idx.pairs()),
        idx.clusters(),
        idx.boilerplate(),
        idx.query(probe),
        idx.query(probe, include_boilerplate=True),
        [idx.text(d) for d in list(idx)[:25]],
        len(idx),
        idx.num_paragraphs,
    )


def test_directory_and_workers_give_identical_results(tmp_path, corpus):
    ram = Index()
    ram.add_many(corpus)
    expected = _results(ram, corpus[7]["text"])
    assert expected[0] and expected[1] and expected[2]  # the corpus has reuse and boilerplate

    with Index(directory=tmp_path / "work", workers=2) as disk:
        disk.add_many(corpus[:150], batch_size=64)  # several batches, appended to the files
        disk.add_many(corpus[150:], workers=2)
        work = disk.directory
        assert work is not None and work.parent == tmp_path / "work"
        assert {p.name for p in work.iterdir()} >= {"texts.bin", "shingles.u32", "sig-000.u32"}
        assert _results(disk, corpus[7]["text"]) == expected
        # batches order units differently; the signatures are the same set
        assert np.array_equal(np.unique(disk._signatures(), axis=0), np.unique(ram._signatures(), axis=0))
        assert isinstance(disk._columns()["shingles"], np.memmap)
    assert not work.exists()  # close() removed the work files


def test_directory_index_remove_replace_save_load(tmp_path, corpus):
    ram, disk = Index(), Index(directory=tmp_path)
    for idx in (ram, disk):
        idx.add_many(corpus[:200])
        idx.remove(corpus[3]["id"])
        idx.add(corpus[5]["id"], corpus[9]["text"], replace=True)
    assert _results(disk, corpus[9]["text"]) == _results(ram, corpus[9]["text"])
    disk.save(tmp_path / "saved")
    loaded = Index.load(tmp_path / "saved")
    assert _results(loaded, corpus[9]["text"]) == _results(ram, corpus[9]["text"])
    disk.close()


def test_parallel_analysis_after_removal(corpus):
    one, two = Index(), Index(workers=2)
    for idx in (one, two):
        idx.add_many(corpus[:250])
        for r in corpus[10:40:3]:
            idx.remove(r["id"])
    assert list(one.pairs()) == list(two.pairs())
    assert one.clusters() == two.clusters()


def test_twin_groups_found_beside_the_column_merge(corpus, monkeypatch):
    """With workers, an index in RAM finds its twin groups in another thread while it merges its
    columns, and takes them once, with the pairs of one worker; with removed documents (the
    keys of live units only) it finds them in the analysis, as one worker does."""
    import threading

    import dedup.index as index_module

    threads = []
    real = index_module.twin_groups

    def spy(*args, **kwargs):
        threads.append(threading.current_thread() is threading.main_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(index_module, "twin_groups", spy)
    one, two = Index(), Index(workers=2)
    for idx in (one, two):
        idx.add_many(corpus[:250], batch_size=40)
    assert list(two.pairs()) == list(one.pairs()) and len(list(one.pairs())) > 10
    assert threads == [False, True]  # two workers (asked first): beside the merge; one: in the analysis
    for idx in (one, two):
        idx.remove(corpus[7]["id"])
    assert list(two.pairs()) == list(one.pairs())
    assert threads[2:] == [True, True]


def test_bad_directory_and_workers(tmp_path):
    f = tmp_path / "a-file"
    f.write_text("x")
    with pytest.raises(InvalidParameterError, match="index directory"):
        Index(directory=f)
    for bad in (-1, 1.5, True):
        with pytest.raises(InvalidParameterError, match="workers"):
            Index(workers=bad)  # type: ignore[arg-type]


def test_column_in_ram_and_on_disk(tmp_path):
    rng = np.random.default_rng(0)
    blocks = [rng.integers(0, 1 << 32, size=(n, 4), dtype=np.uint32) for n in (3, 0, 5, 1)]
    ram, disk = Column(np.uint32, 4), Column(np.uint32, 4, tmp_path / "c.u32")
    for b in blocks:
        ram.append(b)
        disk.append(b)
        assert np.array_equal(ram.array(), disk.array())
    whole = np.concatenate(blocks)
    assert len(disk) == 9 and np.array_equal(disk.read(), whole)
    assert np.array_equal(disk.read(np.array([8, 0])), whole[[8, 0]])
    with pytest.raises(ValueError):
        disk.append(np.zeros((2, 3), np.uint32))
    disk.close()
    assert not (tmp_path / "c.u32").exists()


def test_equal_counts_with_workers(tmp_path, monkeypatch):
    import dedup.columns as columns

    monkeypatch.setattr(columns, "PARALLEL_MIN_PAIRS", 0)
    rng = np.random.default_rng(2)
    sig = rng.integers(0, 4, size=(300, 128), dtype=np.uint32)  # many equal values
    a, b = rng.integers(0, 300, 5000), rng.integers(0, 300, 5000)
    expected = (sig[a] == sig[b]).sum(axis=1)
    for store in (SignatureStore(128, 32, 4), SignatureStore(128, 32, 4, tmp_path)):
        store.append(sig)
        assert np.array_equal(store.equal_counts(a, b, workers=2), expected)
        assert np.array_equal(store.equal_counts(a, b), expected)
        store.close()


def test_equal_counts_share_fewer_pairs_among_threads_than_forks(fork_calls):
    """Threads (an index in RAM) take the bands of a batch of pairs too small to fork for, with
    the same counts; chunked bands (several appends) count the same as one array."""
    import dedup.columns as columns
    from dedup.parallel import prefer_threads

    calls = fork_calls(columns)
    rng = np.random.default_rng(5)
    sig = rng.integers(0, 4, size=(3000, 128), dtype=np.uint32)
    n = columns.PARALLEL_MIN_PAIRS_THREADS
    assert n < columns.PARALLEL_MIN_PAIRS
    a, b = rng.integers(0, 3000, n), rng.integers(0, 3000, n)
    expected = (sig[a] == sig[b]).sum(axis=1)
    store = SignatureStore(128, 32, 4)
    for lo in range(0, 3000, 700):
        store.append(sig[lo : lo + 700])
    assert np.array_equal(store.equal_counts(a, b, workers=2), expected)
    with prefer_threads():
        assert np.array_equal(store.equal_counts(a, b, workers=2), expected)
        assert np.array_equal(store.equal_counts(a[:-1], b[:-1], workers=2), expected[:-1])
    assert [len(jobs) for jobs in calls] == [1, 2, 1]  # forks: one job; threads: one per worker


def test_signature_store_keeps_every_permutation(tmp_path):
    rng = np.random.default_rng(1)
    sig = rng.integers(0, 1 << 32, size=(20, 10), dtype=np.uint32)
    sig[5] = sig[2]
    for store in (SignatureStore(10, 3, 3), SignatureStore(10, 3, 3, tmp_path)):
        store.append(sig[:12])
        store.append(sig[12:])
        assert store.widths == [3, 3, 3, 1]
        assert np.array_equal(store.take(np.arange(20)), sig)
        assert np.array_equal(store.band(1), sig[:, 3:6])
        counts = store.equal_counts(np.array([2, 0]), np.array([5, 1]))
        assert counts.tolist() == [10, int((sig[0] == sig[1]).sum())]
        store.close()


def test_text_store_on_disk(tmp_path):
    texts = ["één".encode(), b"", b"three"]
    disk = TextStore(tmp_path / "t.bin")
    disk.extend(texts[:2])
    disk.extend(texts[2:])
    assert len(disk) == 3 and [disk.get(i) for i in range(3)] == texts
    disk.close()


def test_set_jaccard_with_workers(monkeypatch, fork_calls):
    """The numpy path forks workers with equal shares of the shingles (the compiled one uses
    threads: tests/test_kernels.py)."""
    import dedup.native as native
    import dedup.shingles as shingles

    monkeypatch.setattr(native, "USE_NATIVE", False)
    forks = fork_calls(shingles)
    rng = np.random.default_rng(4)
    sh = rng.integers(0, 50, size=4000, dtype=np.uint32)
    sa, sb = rng.integers(0, 3900, 777), rng.integers(0, 3900, 777)
    la, lb = rng.integers(0, 100, 777), rng.integers(1, 100, 777)
    sa[:50], la[:50] = rng.integers(0, 1000, 50), rng.integers(1000, 3000, 50)  # uneven work
    one = shingles.set_jaccard(sh, sa, la, sh, sb, lb)
    assert not forks
    monkeypatch.setattr(shingles, "PARALLEL_MIN_SHINGLES", 0)
    for workers in (2, 3):
        two = shingles.set_jaccard(sh, sa, la, sh, sb, lb, workers=workers, chunk=500)
        assert np.array_equal(one, two)
        spans = forks[-1]
        assert len(spans) == workers and spans[0][0] == 0 and spans[-1][1] == 777
        assert all(lo < hi for lo, hi in spans) and all(p[1] == q[0] for p, q in zip(spans, spans[1:]))
        assert spans[0][1] < 777 // workers  # shares of the shingles: the first 50 pairs hold most
    assert one.min() < 1.0


def test_band_table_lookup_matches_brute_force(tmp_path):
    from dedup.lsh import ArrayBands, BandTable, band_keys

    rng = np.random.default_rng(5)
    sig = rng.integers(0, 3, size=(500, 16), dtype=np.uint32)  # few values: many shared bands
    ids = np.arange(1000, 1500)
    q = rng.integers(0, 3, size=(7, 16), dtype=np.uint32)
    kq, ks = band_keys(q, 4, 4), band_keys(sig, 4, 4)
    want = sorted((i, int(ids[u])) for i in range(7) for u in range(500) if (kq[i] == ks[u]).any())
    tables = []
    for kw in ({}, {"workers": 2}, {"directory": tmp_path / "1"}, {"directory": tmp_path, "workers": 2}):
        if "directory" in kw:
            kw["directory"].mkdir(exist_ok=True)
        table = BandTable(ArrayBands(sig, 4, 4), ids, **kw)
        rows, units = table.lookup(q)
        assert sorted(set(zip(rows.tolist(), units.tolist()))) == want
        tables.append(table)
    # in RAM, in shared memory written by workers, in a file: the same table and first level
    for t in tables[1:]:
        assert np.array_equal(np.asarray(t.table), tables[0].table) and np.array_equal(t.starts, tables[0].starts)
    assert tables[0].starts[-1] == len(tables[0].table) and (np.diff(tables[0].starts) >= 0).all()
    empty = BandTable(ArrayBands(sig[:0], 4, 4), ids[:0], directory=tmp_path)
    assert [len(x) for x in empty.lookup(q)] == [0, 0]


def test_clusters_same_with_or_without_pairs_first(corpus):
    fresh, after = Index(), Index()
    for idx in (fresh, after):
        idx.add_many(corpus[:200])
    list(after.pairs())
    assert fresh.clusters() == after.clusters()
    assert fresh.clusters(min_score=0.5) == after.clusters(min_score=0.5)
    after.remove(corpus[0]["id"])  # the cached document pairs are dropped with the analysis
    fresh.remove(corpus[0]["id"])
    assert after.clusters() == fresh.clusters()


def test_boilerplate_judged_in_chunks_gives_the_same_result(corpus, monkeypatch):
    import dedup.analysis as analysis

    whole = Index()
    whole.add_many(corpus)
    expected = (whole.boilerplate(), list(whole.pairs()))
    monkeypatch.setattr(analysis, "COVERAGE_CHUNK", 50)  # many small chunks
    chunked = Index()
    chunked.add_many(corpus)
    assert (chunked.boilerplate(), list(chunked.pairs())) == expected
    assert expected[0]
    # chunks shared out among forked workers (at least two chunks each)
    monkeypatch.setattr(analysis, "COVERAGE_CHUNK", 8_000_000)
    shared = Index(workers=2)
    shared.add_many(corpus)
    assert (shared.boilerplate(), list(shared.pairs())) == expected


def test_coverage_chunks_in_workers_match_one_process():
    """_coverage with workers (chunks in forked processes) gives the same figures, also with
    no candidate group at all."""
    from dedup.analysis import _coverage

    rng = np.random.default_rng(8)
    n, n_docs = 3000, 300
    unit_doc = np.sort(rng.integers(0, n_docs, n))
    unit_group = rng.integers(0, 400, n)
    unit_group = np.unique(unit_group, return_inverse=True)[1]  # labels 0..k-1
    unit_kind = (rng.random(n) < 0.3).astype(np.uint8)
    unit_ntok = rng.integers(1, 40, n)
    unit_para_global = np.arange(n)
    para_ntok = unit_ntok.copy()
    doc_ntok = np.bincount(unit_doc, weights=unit_ntok, minlength=n_docs).astype(np.int64)
    args = (unit_group, unit_doc, unit_kind, unit_ntok, unit_para_global, para_ntok, doc_ntok)
    for min_docs in (3, 10_000):
        one = _coverage(*args, min_docs, workers=1)
        two = _coverage(*args, min_docs, workers=2)
        assert all(np.array_equal(x, y) for x, y in zip(one, two))
    assert (one[2] == 1.0).all()  # min_docs above every group: no candidate


def test_pairs_folded_and_yielded_in_blocks_give_the_same_result(corpus, monkeypatch):
    import dedup.index as index_module
    import dedup.results as results_module

    whole = Index()
    whole.add_many(corpus)
    expected = list(whole.pairs()), list(whole.pairs(include_boilerplate=True, min_score=0.3))
    monkeypatch.setattr(index_module, "FOLD_BLOCK", 7)
    monkeypatch.setattr(results_module, "OBJECT_BLOCK", 3)
    blocks = Index()
    blocks.add_many(corpus)
    assert (list(blocks.pairs()), list(blocks.pairs(include_boilerplate=True, min_score=0.3))) == expected
    assert blocks.clusters() == whole.clusters()
    # blocks shared out among two forked workers, above and below the size that forks
    two = Index(workers=2)
    two.add_many(corpus)
    for min_fold in (0, 10**9):
        monkeypatch.setattr(index_module, "PARALLEL_MIN_FOLD", min_fold)
        for block in (7, 2_000_000):
            monkeypatch.setattr(index_module, "FOLD_BLOCK", block)
            assert (list(two.pairs()), list(two.pairs(include_boilerplate=True, min_score=0.3))) == expected


def test_fork_map_keeps_job_order_in_workers_and_in_process():
    from dedup.parallel import fork_map

    data = np.arange(1000)

    def job(shared, k):
        return int(shared[k::7].sum()), k

    want = [job(data, k) for k in range(7)]
    assert list(fork_map(job, data, range(7), 2)) == want
    assert list(fork_map(job, data, range(7), 1)) == want
    assert list(fork_map(job, data, [], 2)) == []


@pytest.mark.parametrize("bad", [0, 1])
def test_fork_map_raises_a_failing_job(bad):
    """A failing job (the first or a later one) raises its exception in the caller."""
    from dedup.parallel import fork_map

    def job(shared, k):
        if k == bad:
            raise ValueError(f"job {k}")
        return k

    with pytest.raises(ValueError, match=f"job {bad}"):
        list(fork_map(job, None, range(4), 2))


def test_fork_map_in_threads_keeps_order_runs_here_and_does_not_nest():
    """Inside prefer_threads the jobs run in threads of this process (same pid, other threads),
    in job order; a fork_map inside a job runs serially in that job's thread; a failing job
    raises in the caller."""
    import os
    import threading

    from dedup.parallel import fork_map, prefer_threads

    data = np.arange(1000)
    seen = []

    def job(shared, k):
        inner = list(fork_map(lambda sh, j: (j, threading.get_ident()), None, range(3), 2))
        seen.append((os.getpid(), threading.get_ident(), {t for _, t in inner}))
        return int(shared[k::7].sum()), k

    want = [(int(data[k::7].sum()), k) for k in range(7)]
    def failing(shared, k):
        if k == 2:
            raise ValueError(f"job {k}")
        return k

    with prefer_threads():
        assert list(fork_map(job, data, range(7), 2)) == want
        with pytest.raises(ValueError, match="job 2"):
            list(fork_map(failing, None, range(4), 2))
    assert {pid for pid, _, _ in seen} == {os.getpid()}
    assert threading.get_ident() not in {t for _, t, _ in seen}
    assert all(inner == {t} for _, t, inner in seen)  # nested: serially, in the job's thread
    with prefer_threads(False):
        assert list(fork_map(job, data, range(7), 2)) == want  # forked workers again


def test_analysis_of_an_index_in_ram_prefers_threads_and_of_a_mapped_one_forks(tmp_path, monkeypatch, corpus):
    import dedup.index as index_module
    from dedup import Index

    asked = []
    real = index_module.prefer_threads

    def spy(on=True):
        asked.append(on)
        return real(on)

    monkeypatch.setattr(index_module, "prefer_threads", spy)
    ram = Index(workers=2)
    ram.add_many(corpus[:40])
    want = list(ram.pairs())
    assert asked and all(asked)  # the analysis and the fold, in threads
    asked.clear()
    loaded = Index.load(ram.save(tmp_path / "ix"))
    loaded.workers = 2
    assert list(loaded.pairs()) == want
    assert asked and not any(asked)  # memory-mapped signatures: forked workers
    with Index(directory=tmp_path / "disk", workers=2) as disk:
        disk.add_many(corpus[:40])
        asked.clear()
        assert list(disk.pairs()) == want
        assert asked and not any(asked)


def _reference_bucket_pairs(sig, bands, rows, ids, groups, max_bucket):
    """Every pair of units sharing a band (buckets above max_bucket give a star from their
    lowest row), ids mapped, pairs inside one group (by id) dropped, (lo, hi) sorted."""
    from itertools import combinations

    want = set()
    for j in range(bands):
        buckets: dict[tuple[int, ...], list[int]] = {}
        for u in range(len(sig)):
            buckets.setdefault(tuple(sig[u, j * rows : (j + 1) * rows].tolist()), []).append(u)
        for members in buckets.values():
            if len(members) > max_bucket:
                pairs = [(members[0], v) for v in members[1:]]
            else:
                pairs = list(combinations(members, 2))
            for u, v in pairs:
                a, b = int(ids[u]), int(ids[v])
                if groups[a] != groups[b]:
                    want.add((min(a, b), max(a, b)))
    return sorted(want)


def _check_bucket_pairs(rng, sig, bands, rows, max_bucket):
    from dedup.lsh import ArrayBands, bucket_pairs

    n = len(sig)
    ids = rng.permutation(3 * n)[:n]
    groups = rng.integers(0, max(1, n // 4), 3 * n)  # indexed by id
    want = _reference_bucket_pairs(sig, bands, rows, ids, groups, max_bucket)
    # twins: equal keys only for equal signatures, but not every pair of equal signatures
    _, same_sig = np.unique(sig, axis=0, return_inverse=True)
    same_sig = same_sig.astype(np.uint64).ravel()
    split = same_sig * np.uint64(2) + rng.integers(0, 2, n).astype(np.uint64)
    for workers in (1, 2):
        for twins in (None, split, same_sig):
            bands_ = ArrayBands(sig, bands, rows)
            got = bucket_pairs(bands_, ids, max_bucket, groups=groups, workers=workers, twins=twins)
            assert [tuple(p) for p in got.tolist()] == want


@pytest.mark.parametrize("seed", range(12))
def test_bucket_pairs_match_a_brute_force_reference(seed):
    """Random signatures over a few values: many shared buckets, and many equal signatures."""
    rng = np.random.default_rng(seed)
    n, bands, rows = int(rng.integers(2, 400)), 4, 2
    sig = rng.integers(0, int(rng.integers(2, 12)), (n, bands * rows)).astype(np.uint32)
    _check_bucket_pairs(rng, sig, bands, rows, int(rng.choice([2, 5, 1000])))


@pytest.mark.parametrize("seed", range(8))
def test_bucket_pairs_with_many_copies_match_the_reference(seed):
    """Copies of a few signatures, in groups of up to 12 (above and below max_bucket); a group
    is alone in its bucket in some bands and shares buckets, small or large, in others."""
    rng = np.random.default_rng(100 + seed)
    bands, rows = 6, 2
    protos = rng.integers(0, 1 << 30, (int(rng.integers(3, 40)), bands * rows)).astype(np.uint32)
    shared_bands = rng.choice(bands, 3, replace=False)
    for j in shared_bands:  # few distinct values in these bands: buckets shared between groups
        protos[:, j * rows : (j + 1) * rows] = rng.integers(0, int(rng.integers(1, 4)), (len(protos), 1))
    copies = rng.integers(1, 13, len(protos))
    sig = np.repeat(protos, copies, axis=0)[rng.permutation(int(copies.sum()))]
    _check_bucket_pairs(rng, sig, bands, rows, int(rng.choice([3, 6, 20])))


def test_twin_groups_number_groups_by_their_first_row():
    from dedup.lsh import twin_groups

    keys = np.array([5, 3, 5, 9, 3, 5, 7], dtype=np.uint64)
    tw = twin_groups(keys, max_bucket=2)
    assert tw is not None
    assert tw.first.tolist() == [0, 1, 3, 6]
    assert tw.multi.tolist() == [0, 1] and tw.size.tolist() == [3, 2]
    members = [tw.rows[a : a + z].tolist() for a, z in zip(tw.start.tolist(), tw.size.tolist())]
    assert members == [[0, 2, 5], [1, 4]]
    assert tw.small.tolist() == [False, True] and tw.multi_of.tolist() == [0, 1, -1, -1]
    assert twin_groups(np.arange(5, dtype=np.uint64), 2) is None


def test_fmix64_in_place_matches_murmurhash3_reference():
    from dedup.shingles import fmix64, fmix64_inplace

    def ref(k: int) -> int:
        m = (1 << 64) - 1
        k ^= k >> 33
        k = (k * 0xFF51AFD7ED558CCD) & m
        k ^= k >> 33
        k = (k * 0xC4CEB9FE1A85EC53) & m
        return k ^ (k >> 33)

    x = np.random.default_rng(1).integers(0, 2**63, 1000, dtype=np.int64).astype(np.uint64) * np.uint64(3)
    want = [ref(int(v)) for v in x.tolist()]
    assert fmix64(x).tolist() == want
    y = x.copy()
    fmix64_inplace(y)
    assert y.tolist() == want



def test_prefetch_asks_for_mapped_arrays_only(tmp_path, monkeypatch):
    import threading

    from dedup.columns import prefetch

    a = np.arange(1000, dtype=np.int64)
    np.save(tmp_path / "a.npy", a)
    mapped = np.load(tmp_path / "a.npy", mmap_mode="r")
    advised = []
    monkeypatch.setattr(os, "posix_fadvise", lambda fd, off, n, adv: advised.append((off, n, adv)), raising=False)
    assert prefetch([a]) == 0 and prefetch([]) == 0  # in RAM: nothing to read
    assert prefetch([mapped, a]) == 8000
    for t in threading.enumerate():
        if t.name == "dedup-prefetch":
            t.join()
    assert advised == [(mapped.offset, 8000, os.POSIX_FADV_WILLNEED)]
    assert prefetch([mapped], max_fraction=0.0) == 0  # more than the share of RAM allowed


def test_first_query_of_a_loaded_index_prefetches_its_columns(tmp_path, monkeypatch, corpus):
    import dedup.index
    from dedup import Index

    idx = Index()
    idx.add_many(corpus[:60])
    loaded = Index.load(idx.save(tmp_path / "ix", analyze=True))
    text = loaded.text(list(loaded)[5])
    want = idx.query(text)
    seen = []
    monkeypatch.setattr(dedup.index, "prefetch", lambda arrays: seen.append(list(arrays)) or 0)
    assert loaded.query(text) == want and loaded.query(text) == want
    assert len(seen) == 1  # once, with the lookup table
    assert all(isinstance(x, np.memmap) for x in seen[0]) and len(seen[0]) == 10


def test_set_keys_are_keys_of_multisets():
    from dedup.shingles import set_keys

    rng = np.random.default_rng(4)
    sh = rng.integers(0, 50, 5000).astype(np.uint32)  # few values: many equal multisets
    starts = rng.integers(0, 4990, 3000)
    lengths = rng.integers(1, 8, 3000)
    keys = set_keys(sh, starts, lengths)
    assert np.array_equal(set_keys(sh, starts, lengths, window=5), keys)  # passes of a few shingles
    sets = [tuple(sorted(sh[s : s + n].tolist())) for s, n in zip(starts.tolist(), lengths.tolist())]
    for i in range(0, 3000, 7):
        same = keys == keys[i]
        assert all(sets[j] == sets[i] for j in np.flatnonzero(same))
        assert same.sum() == sum(1 for t in sets if t == sets[i])
    shuffled = sh.copy()
    shuffled[:7] = shuffled[:7][::-1]  # order inside a multiset does not matter
    assert set_keys(shuffled, np.array([0]), np.array([7]))[0] == set_keys(sh, np.array([0]), np.array([7]))[0]


def test_units_with_equal_keys_have_equal_signatures():
    from dedup.config import IndexConfig
    from dedup.synth import SynthConfig, generate
    from dedup.units import featurize

    texts = [r["text"] for r in generate(SynthConfig(n_articles=120, seed=11))]
    f = featurize(texts, IndexConfig())
    order = np.argsort(f.unit_key, kind="stable")
    k = f.unit_key[order]
    twin = np.flatnonzero(k[1:] == k[:-1])
    assert len(twin) > 50  # copies of paragraphs and sentences across articles
    a, b = order[twin], order[twin + 1]
    assert np.array_equal(f.sig[a], f.sig[b])
    assert np.array_equal(f.unit_nsh[a], f.unit_nsh[b])


def test_analysis_without_unit_keys_gives_the_same_results(corpus, monkeypatch):
    """Unit keys only save work (twins bucketed once, their estimates known): same results."""
    import dedup.index as index_module
    from dedup.analysis import analyze

    probe = corpus[5]["text"]
    want = _results(_built(corpus), probe)

    def without_keys(**kw):
        kw["twins"] = None
        return analyze(**kw)

    monkeypatch.setattr(index_module, "analyze", without_keys)
    assert _results(_built(corpus), probe) == want


def _built(corpus):
    idx = Index()
    idx.add_many((r["id"], r["text"]) for r in corpus)
    return idx


@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_similarities_are_computed_once_per_pair_of_twin_groups(chunk):
    """A similarity of units with twins is computed on the groups' first units, once per pair of
    groups (per chunk of pairs), and is 1 inside a group without computing anything."""
    from dedup.analysis import _by_twins
    from dedup.lsh import twin_groups, twin_rows

    rng = np.random.default_rng(9)
    keys = rng.integers(0, 30, 200).astype(np.uint64)  # 200 units in at most 30 groups
    rep = twin_rows(twin_groups(keys, 64), len(keys))
    assert all(keys[rep[u]] == keys[u] and rep[u] == np.flatnonzero(keys == keys[u])[0] for u in range(200))
    asked: list[tuple[int, int]] = []

    calls: list[int] = []

    def sim(a, b):  # a similarity that depends on the groups only
        calls.append(len(a))
        asked.extend(zip(a.tolist(), b.tolist()))
        return (keys[a] * 7 + keys[b] * 3 % 11).astype(np.float32) / 1000

    a, b = rng.integers(0, 200, 500), rng.integers(0, 200, 500)
    got = _by_twins(sim, rep, chunk=chunk)(a, b)
    lo, hi = np.minimum(rep[a], rep[b]), np.maximum(rep[a], rep[b])
    want = np.where(keys[a] == keys[b], 1.0, (keys[lo] * 7 + keys[hi] * 3 % 11) / 1000).astype(np.float32)
    assert np.array_equal(got, want)
    assert all(x < y and x == rep[x] and y == rep[y] for x, y in asked)  # first units, lo < hi
    assert calls == [len(asked)]  # one call for all the chunks
    if chunk > 500:
        assert len(asked) == len(set(asked)) == len({(x, y) for x, y in zip(lo.tolist(), hi.tolist()) if x != y})
    assert _by_twins(sim, rep, chunk=chunk)(a[:0], b[:0]).shape == (0,)


def test_twin_similarities_are_shared_out_among_threads_with_the_same_results(monkeypatch):
    """With workers, in threads (an index in RAM), the reduction to pairs of twin groups is cut
    into a chunk per worker from PARALLEL_MIN_ESTIMATES_THREADS pairs; the similarity is still
    asked once, on the groups' first units, and the results are those of one worker."""
    import threading

    import dedup.analysis as analysis
    from dedup.analysis import _by_twins
    from dedup.lsh import twin_groups, twin_rows
    from dedup.parallel import prefer_threads

    rng = np.random.default_rng(4)
    keys = rng.integers(0, 40, 300).astype(np.uint64)
    rep = twin_rows(twin_groups(keys, 64), len(keys))
    a, b = rng.integers(0, 300, 2000), rng.integers(0, 300, 2000)
    calls: list[int] = []
    spans: list[tuple[int, int, str]] = []
    reduce = analysis._distinct_group_pairs

    def spy(shared, span):
        spans.append((*span, threading.current_thread().name))
        return reduce(shared, span)

    def sim(x, y):
        calls.append(len(x))
        return ((keys[x] * 13 + keys[y]) % 29).astype(np.float32) / 29

    want = _by_twins(sim, rep)(a, b)
    monkeypatch.setattr(analysis, "_distinct_group_pairs", spy)
    monkeypatch.setattr(analysis, "PARALLEL_MIN_ESTIMATES_THREADS", 1000)
    calls.clear()
    with prefer_threads():
        assert np.array_equal(_by_twins(sim, rep, workers=2)(a, b), want)
        assert calls == [calls[0]] and sorted(spans)[0][:2] == (0, 1000) and len(spans) == 2
        assert all(name != threading.current_thread().name for *_, name in spans)
        spans.clear()
        _by_twins(sim, rep, workers=2)(a[:999], b[:999])  # below the threshold: one chunk
        assert [s[:2] for s in spans] == [(0, 999)]
    spans.clear()
    _by_twins(sim, rep, workers=2)(a, b)  # forks are worth it only from PARALLEL_MIN_ESTIMATES
    assert [s[:2] for s in spans] == [(0, 2000)]


@pytest.mark.parametrize("workers", [1, 2])
def test_candidate_estimates_are_computed_once_per_pair_of_twin_groups_in_one_call(workers, monkeypatch):
    """Pairs inside a twin group get 1 without an estimate; the others are estimated on their
    groups' first units, each pair of groups once per chunk, in a single call (a call reads
    every band of the signatures)."""
    import dedup.analysis as analysis
    from dedup.analysis import _estimates

    monkeypatch.setattr(analysis, "PARALLEL_MIN_ESTIMATES", 0)  # 500 pairs: shared out all the same
    rng = np.random.default_rng(3)
    rep = np.repeat(np.arange(0, 60, 3), 3).astype(np.int32)  # groups of three units
    pairs = np.sort(rng.integers(0, 60, (500, 2)), axis=1).astype(np.int32)
    asked: list[list[tuple[int, int]]] = []

    def est(a, b):  # depends on the groups only, as twins' signatures are equal
        asked.append(list(zip(a.tolist(), b.tolist())))
        return ((rep[a] * 31 + rep[b]) % 97).astype(np.float32) / 97

    lo, hi = rep[pairs[:, 0]], rep[pairs[:, 1]]
    want = np.where(lo == hi, 1.0, (lo * 31 + hi) % 97 / 97).astype(np.float32)
    group_pairs = {(x, y) for x, y in zip(lo.tolist(), hi.tolist()) if x != y}
    for chunk in (7, 1 << 20):
        asked.clear()
        assert np.array_equal(_estimates(est, rep, pairs, workers=workers, chunk=chunk), want)
        assert len(asked) == 1
        assert set(asked[0]) == group_pairs and all(x < y for x, y in asked[0])
        if chunk > len(pairs) and workers == 1:
            assert len(asked[0]) == len(group_pairs)
        else:
            assert len(group_pairs) <= len(asked[0]) < int((lo != hi).sum())
    assert np.array_equal(_estimates(est, None, pairs), est(pairs[:, 0], pairs[:, 1]))
    assert _estimates(est, rep, pairs[:0], workers=workers).shape == (0,)


def test_removing_documents_gives_the_results_of_never_adding_them(corpus):
    """The analysis over the live units (numbered apart from the index's units) gives the same
    pairs, clusters and boilerplate as an index that never held the removed documents."""
    gone = {r["id"] for r in corpus[7:240:9]}
    after, fresh = Index(workers=2), Index()
    after.add_many(corpus[:240])
    for doc_id in sorted(gone):
        after.remove(doc_id)
    fresh.add_many(r for r in corpus[:240] if r["id"] not in gone)
    assert list(after.pairs()) == list(fresh.pairs())
    assert after.clusters() == fresh.clusters()
    assert after.boilerplate() == fresh.boilerplate()
    assert len(list(after.pairs())) > 10


def test_consolidate_with_threads_gives_the_same_columns():
    """Merging the batches' chunks in threads gives the arrays a serial merge gives."""
    from dedup.columns import SignatureStore

    gen = np.random.default_rng(3)
    stores = [SignatureStore(16, 3, 4) for _ in range(2)]
    for _ in range(5):
        sig = gen.integers(0, 2**32, (int(gen.integers(1, 50)), 16), dtype=np.uint32)
        for st in stores:
            st.append(sig)
    stores[0].consolidate()
    stores[1].consolidate(workers=2)
    for a, b in zip(stores[0].parts, stores[1].parts):
        assert len(a._chunks) == len(b._chunks) == 1
        assert np.array_equal(a.array(), b.array())
    assert len(stores[1].parts) == 4  # 3 bands and the values past them
