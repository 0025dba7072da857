"""The optional fast paths of the JSONL readers (isal for gzip, msgspec for JSON) give the same
records, the same bad-record reports and the same exceptions as the standard library alone.

Each test runs with every combination of the two libraries present or absent (absent = the
module-level reference patched to None), both in ``dedup.io`` and in the benchmark harness's
``read_records``; the combinations that need a library not installed here are skipped.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import math
import zlib
from pathlib import Path
from typing import Any

import pytest

import dedup.io as dio
from dedup.errors import InputError
from dedup.io import ErrorLog, read_corpus

ROOT = Path(__file__).resolve().parents[1]

BACKENDS = ["stdlib", "isal", "msgspec", "isal+msgspec"]


def _load_harness() -> Any:
    spec = importlib.util.spec_from_file_location("_bench_corpus", ROOT / "benchmarks" / "corpus.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


HARNESS = _load_harness()


def _use(monkeypatch: pytest.MonkeyPatch, backend: str, module: Any) -> None:
    """Patch ``module``'s optional-library references for ``backend`` (skip if one is needed but absent)."""
    want_isal, want_msgspec = "isal" in backend, "msgspec" in backend
    if want_isal and module._igzip is None:
        pytest.skip("isal is not installed")
    if want_msgspec and module._msgspec_json is None:
        pytest.skip("msgspec is not installed")
    if not want_isal:
        monkeypatch.setattr(module, "_igzip", None)
    if not want_msgspec:
        monkeypatch.setattr(module, "_msgspec_json", None)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    _use(monkeypatch, request.param, dio)
    return str(request.param)


# Lines the standard library accepts but fast parsers reject or (orjson) read differently, bad
# lines of every kind, and the expected outcome of each (a record's fields, or the reason logged).
LINES: list[tuple[bytes, Any]] = [
    (b'{"id": "a", "text": "plain", "n": 1.5, "tags": ["x", null, true]}', {"id": "a", "text": "plain"}),
    (b'{"id": "s", "text": "lone \\ud800 surrogate"}', {"id": "s", "text": "lone \ud800 surrogate"}),
    (b'{"id": "p", "text": "pair \\ud83d\\ude00 and \\u00e9"}', {"id": "p", "text": "pair \U0001f600 and \xe9"}),
    (b'{"id": "nan", "text": "t", "score": NaN, "hi": Infinity, "lo": -Infinity}', {"id": "nan", "text": "t"}),
    (b'{"id": 123456789012345678901234567890, "text": "big int id"}', {"id": "123456789012345678901234567890"}),
    (b'{"id": "e", "text": "t", "x": 1e400, "y": -18446744073709551617}', {"id": "e", "text": "t"}),
    (b'{"id": "d", "text": "first", "text": "last wins"}', {"id": "d", "text": "last wins"}),
    (b'  {"id": "w", "text": "spaces and CR"} \r', {"id": "w", "text": "spaces and CR"}),
    (b"   \x0b\x0c ", None),  # blank: skipped, still counted as a line
    (b"{not json", "invalid JSON: Expecting property name enclosed in double quotes at column 2"),
    (b'{"id": "u", "text": "caf\xe9"}', "undecodable bytes (not UTF-8): invalid continuation byte at byte 24"),
    (b'{"id": "v", "text": "\xed\xa0\x80"}', "undecodable bytes (not UTF-8): invalid continuation byte at byte 21"),
    (b"[1, 2]", "record is a JSON list, not an object"),
    (b'"just a string"', "record is a JSON str, not an object"),
    (b"NaN", "record is a JSON float, not an object"),
    (
        b'\xef\xbb\xbf{"id": "bom", "text": "t"}',
        "invalid JSON: Unexpected UTF-8 BOM (decode using utf-8-sig) at column 1",
    ),
    (b'{"id": "c", "text": "ctl \x01"}', "invalid JSON: Invalid control character at at column 26"),
    (b'{"id": "x", "text": 5}', "'text' is int, not a string"),
    (b'{"id": "", "text": "no id"}', "no usable 'id' field"),
    (b'{"id": "z", "text": "\\u2028 fine"}', {"id": "z", "text": "\u2028 fine"}),
    # the reasons of lines cut short depend on the newline that ends them (the error is on the next line)
    (b'{"id": "cut", "k": ', "invalid JSON: Expecting value at column 1"),
    (b'{"id": "cut", "text": "\xe2', "undecodable bytes (not UTF-8): invalid continuation byte at byte 23"),
    (b'{"id": "trail", "text": "no newline at the end", "k": ', "invalid JSON: Expecting value at column 55"),
]


def _write(path: Path, lines: list[bytes], *, final_newline: bool = False) -> None:
    data = b"\n".join(lines) + (b"\n" if final_newline else b"")
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)


def _expected(name: str) -> tuple[list[dict[str, Any]], list[tuple[str, int, str]]]:
    recs, bad = [], []
    for n, (_, exp) in enumerate(LINES, 1):
        if isinstance(exp, dict):
            recs.append(exp)
        elif isinstance(exp, str):
            bad.append((name, n, exp))
    return recs, bad


def _same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN and the types of numbers checked (1 is not 1.0 here)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return bool(a == b)


@pytest.mark.parametrize("name", ["c.jsonl", "c.jsonl.gz"])
def test_records_and_bad_lines(tmp_path: Path, backend: str, name: str) -> None:
    p = tmp_path / name
    _write(p, [line for line, _ in LINES])  # the last line has no newline
    log = ErrorLog()
    got = list(read_corpus(p, errors=log))
    exp_recs, exp_bad = _expected(str(p))
    assert [(b.file, b.line, b.reason) for b in log.entries] == exp_bad
    assert len(got) == len(exp_recs)
    for rec, exp in zip(got, exp_recs):
        assert {k: rec[k] for k in exp} == exp
    by_id = {r["id"]: r for r in got}
    assert by_id["a"] == {"n": 1.5, "tags": ["x", None, True], "id": "a", "text": "plain"}
    assert math.isnan(by_id["nan"]["score"]) and by_id["nan"]["hi"] == math.inf and by_id["nan"]["lo"] == -math.inf
    assert by_id["e"]["x"] == math.inf and by_id["e"]["y"] == -18446744073709551617
    assert type(by_id["e"]["y"]) is int


def test_all_backends_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole output (records with their field order and number types, the error log) is the same."""
    p = tmp_path / "c.jsonl.gz"
    _write(p, [line for line, _ in LINES] * 3, final_newline=True)
    results = []
    for b in BACKENDS:
        with monkeypatch.context() as m:
            try:
                _use(m, b, dio)
            except pytest.skip.Exception:
                continue
            log = ErrorLog()
            results.append((b, list(read_corpus(p, errors=log)), log.entries))
    ref = results[0]
    assert ref[0] == "stdlib"
    for b, recs, bad in results[1:]:
        assert _same(recs, ref[1]), b
        assert bad == ref[2], b


def test_fail_policy(tmp_path: Path, backend: str) -> None:
    p = tmp_path / "c.jsonl"
    _write(p, [b'{"id": "s", "text": "\\udc00"}', b"", b'{"id": "u", "text": "caf\xe9"}', b"{bad"])
    with pytest.raises(InputError, match=r"c\.jsonl:3: undecodable bytes \(not UTF-8\): invalid continuation byte"):
        list(read_corpus(p, on_error="fail"))
    _write(p, [b'{"id": "n", "text": "t", "v": NaN}', b"[1]"])
    with pytest.raises(InputError, match=r"c\.jsonl:2: record is a JSON list, not an object"):
        list(read_corpus(p, on_error="fail"))


def test_stdin_streams_lines(backend: str) -> None:
    stream = io.BytesIO(b'{"id": "a", "text": "x"}\r\n\n{"id": "b", "text": "\\ud800"}')
    assert [r["text"] for r in read_corpus("-", stdin=stream)] == ["x", "\ud800"]


def test_big_gzip_and_csv(tmp_path: Path, backend: str) -> None:
    """More than one buffer of decompressed data; CSV reads ``.gz`` through the same opener."""
    recs = [{"id": str(i), "text": f"text {i} " + "é" * (i % 300)} for i in range(3000)]
    p = tmp_path / "big.jsonl.gz"
    dio.write_records(p, recs)
    assert list(read_corpus(p)) == recs
    c = tmp_path / "c.csv.gz"
    with gzip.open(c, "wt", encoding="utf-8", newline="") as fh:
        fh.write("id,text\n" + "".join(f"{i},word {i}\n" for i in range(5000)))
    assert [r["text"] for r in read_corpus(c)][-1] == "word 4999"


def _corrupt_variants() -> dict[str, bytes]:
    data = b"".join(b'{"id": "%d", "text": "hello %d"}\n' % (i, i) for i in range(5000))
    g = gzip.compress(data)
    mid = len(g) // 2
    return {
        "truncated": g[:-20],
        "trailing_garbage": g + b"garbage",
        "bad_crc": g[:-8] + bytes([g[-8] ^ 1]) + g[-7:],
        "corrupt_early": g[:100] + bytes([g[100] ^ 0xFF]) + g[101:],
        "corrupt_late": g[:mid] + bytes([g[mid] ^ 0xFF]) + g[mid + 1 :],
        "not_gzip": b'{"id": "a", "text": "plain"}\n',
        "multimember": g + gzip.compress(b'{"id": "last", "text": "t"}\n'),
        "empty": b"",
    }


@pytest.mark.parametrize("case", list(_corrupt_variants()))
def test_damaged_gzip_raises_as_stdlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    """A damaged ``.gz`` raises InputError naming the file, with the standard library's message,
    with isal too."""
    p = tmp_path / f"{case}.jsonl.gz"
    p.write_bytes(_corrupt_variants()[case])

    def outcome() -> tuple[str, str] | tuple[str, int]:
        try:
            return ("ok", len(list(read_corpus(p))))
        except InputError as exc:
            assert str(p) in str(exc) and "damaged or truncated" in str(exc)
            assert isinstance(exc.__cause__, (OSError, EOFError, zlib.error))
            return (type(exc.__cause__).__name__, str(exc))

    with monkeypatch.context() as m:
        m.setattr(dio, "_igzip", None)
        ref = outcome()
    if dio._igzip is None:
        pytest.skip("isal is not installed")
    assert outcome() == ref
    if case in ("multimember", "empty"):
        assert ref == ("ok", 5001 if case == "multimember" else 0)


# ------------------------------------------------------------------ the benchmark harness's reader


@pytest.mark.parametrize("hb", BACKENDS)
@pytest.mark.parametrize("name", ["c.jsonl", "c.jsonl.gz"])
def test_harness_read_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hb: str, name: str) -> None:
    _use(monkeypatch, hb, HARNESS)
    lines = [
        b'{"id": "a", "text": "plain", "n": [1, 2.5, null]}',
        b'{"id": "s", "text": "lone \\ud800"}',
        b'{"id": "n", "text": "t", "score": NaN, "big": 123456789012345678901234567890, "inf": 1e400}',
        b'{"id": "d", "text": "first", "text": "last"}',
    ]
    p = tmp_path / name
    _write(p, lines, final_newline=True)
    got = list(HARNESS.read_records(p))
    want = [json.loads(line.decode("utf-8")) for line in lines]
    assert _same(got, want)
    assert list(HARNESS.read_records(p, limit=2)) == want[:2]
    _write(p, [lines[0], b"{bad", lines[1]])
    it = HARNESS.read_records(p)
    assert next(it)["id"] == "a"
    with pytest.raises(ValueError, match="Expecting property name"):
        next(it)
    _write(p, [b'{"id": "u", "text": "caf\xe9"}'])
    with pytest.raises(UnicodeDecodeError):
        list(HARNESS.read_records(p))
