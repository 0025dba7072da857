"""The measuring tools themselves: benchmarks.compare (alternated versions) and benchmarks.idle
(idle core-seconds by call). Quick at the CI size (DEDUP_BENCH_SIZE=300)."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchmarks.compare import Version, compare, parse_version
from benchmarks.idle import _calls, sample_idle
from benchmarks.idle import main as idle_main

REPO = Path(__file__).resolve().parent.parent


def test_versions_are_parsed_with_their_environment_and_bad_ones_refused(tmp_path: Path) -> None:
    v = parse_version(f"after={REPO}:DEDUP_NO_NATIVE=1:OTHER=x=y")
    assert (v.label, v.checkout, v.env) == ("after", REPO, {"DEDUP_NO_NATIVE": "1", "OTHER": "x=y"})
    assert parse_version(f"plain={REPO}").env == {}
    for bad in (str(REPO), f"={REPO}", "label=", f"x={REPO}:NOVALUE", f"x={tmp_path}"):
        with pytest.raises(ValueError):
            parse_version(bad)


def test_compare_alternates_versions_and_checks_they_agree(bench_size: int) -> None:
    # the same checkout twice, the second without the compiled kernels: same pairs, flagged
    versions = [Version("kernels", REPO), Version("numpy", REPO, {"DEDUP_NO_NATIVE": "1"})]
    out = compare(versions, min(bench_size, 300), [1], runs=1)
    assert set(out["runs"]) == {("kernels", 1), ("numpy", 1)}
    assert all(len(rs) == 1 for rs in out["runs"].values())
    assert out["ratio"][("kernels", 1)] == 1.0
    assert out["ratio"][("numpy", 1)] > 0
    assert out["native"]["numpy"] is False
    m = out["medians"][("numpy", 1)]
    assert m["total"] == out["runs"][("numpy", 1)][0]["seconds"]
    assert {"read+add_many", "pairs", "clusters"} <= set(m)
    with pytest.raises(ValueError):
        compare(versions, 300, [1], runs=0)
    with pytest.raises(ValueError):
        compare([versions[0], versions[0]], 300, [1], runs=1)


def _frame(path: str, name: str, line: int, back: object = None) -> SimpleNamespace:
    return SimpleNamespace(f_code=SimpleNamespace(co_filename=path, co_name=name), f_lineno=line, f_back=back)


def test_calls_are_the_innermost_dedup_frames_innermost_first() -> None:
    outer = _frame("/x/dedup/index.py", "pair_table", 10)
    mid = _frame("/usr/lib/python3/threading.py", "wait", 5, outer)  # not dedup's: skipped
    inner = _frame("/x/dedup/analysis.py", "analyze", 42, mid)
    assert _calls(inner, 1, False) == "analysis.py:analyze"
    assert _calls(inner, 2, True) == "analysis.py:analyze:42 < index.py:pair_table"
    assert _calls(inner, 5, False) == "analysis.py:analyze < index.py:pair_table"
    assert _calls(mid, 1, False) == "index.py:pair_table"
    assert _calls(None, 3, False) == "-"


def test_a_waiting_main_thread_counts_as_idle_cores() -> None:
    """0.3 s asleep with two workers: about 0.6 idle core-seconds, charged outside dedup ("-")."""
    seconds, idle, wall = sample_idle(lambda: time.sleep(0.3), workers=2, interval=0.005)
    assert seconds >= 0.3
    assert set(idle) == set(wall) == {"-"}
    assert 0.4 < idle["-"] <= 2 * seconds + 0.05
    assert wall["-"] <= seconds + 0.05


def test_idle_prints_the_pairs_stage_by_call(bench_size: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert idle_main(["--size", str(min(bench_size, 300)), "--workers", "2", "--top", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("pairs stage (") and "idle core-seconds" in out[0]
    assert out[1].split()[:2] == ["idle", "core-s"]
    assert 1 <= len(out) - 2 <= 3
