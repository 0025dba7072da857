"""Corpus readers and writers: JSONL (plain, ``.gz``, ``.zst``), Parquet, CSV, a directory of ``.txt``.

Every reader streams (one line, CSV row or Parquet batch at a time) and yields records as dicts
with ``"id"`` and ``"text"`` (taken from ``id_field`` / ``text_field``) plus the record's other
fields. Bad records (invalid JSON, a missing or non-string text, undecodable bytes) are never
dropped silently: with ``on_error="skip"`` they are counted in an :class:`ErrorLog` with file and
line; with ``on_error="fail"`` the first one raises :class:`dedup.errors.InputError` naming
``file:line``.

Two optional packages (``pip install 'dedup[io]'``) make JSONL faster to read, with the same records
and the same bad-record reports as without them: ``isal`` decompresses ``.gz`` (ISA-L, several times
faster than zlib) and ``msgspec`` parses the lines. A line msgspec rejects (lone surrogate escapes,
NaN, numbers out of its range, invalid JSON or UTF-8) goes through the standard library as before,
and if ``isal`` fails on a damaged file the standard ``gzip`` module reads it from the same point,
so a damaged file raises what it always raised.

>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> p = os.path.join(d, "c.jsonl")
>>> _ = open(p, "w").write('{"id": "a", "text": "hello"}\\nnot json\\n')
>>> log = ErrorLog()
>>> [r["id"] for r in read_corpus(p, errors=log)]
['a']
>>> log.count, log.entries[0].line
(1, 2)
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import os
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .errors import InputError, InvalidParameterError, MissingDependencyError

# optional accelerators (``dedup[io]``); None when absent, and the standard library does the work.
# msgspec rather than orjson: orjson reads integers beyond 64 bits as floats (json: ints) instead of
# rejecting them, so a fall-back on rejection could not keep records the same.
_igzip: Any
_msgspec_json: Any
try:
    from isal import igzip as _igzip
except ImportError:
    _igzip = None
try:
    import msgspec.json as _msgspec_json
except ImportError:
    _msgspec_json = None

__all__ = ["BadRecord", "ErrorLog", "read_corpus", "write_records", "detect_format", "FORMATS"]

FORMATS = ("jsonl", "parquet", "csv", "txt")
_PARQUET_BATCH = 1024
_SPACE = frozenset(b" \t\n\r\x0b\x0c")  # what bytes.strip() strips
_GZ_BUFFER = 1 << 17  # bytes of decompressed ``.gz`` buffered for line iteration (64-256 KiB read fastest)


@dataclass(frozen=True)
class BadRecord:
    """One record that could not be read: file, 1-based line (row for Parquet/CSV; 0 for a whole file)."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.reason}"


@dataclass
class ErrorLog:
    """Counts bad records; keeps the first ``max_entries`` of them (file, line, reason)."""

    max_entries: int = 1000
    count: int = 0
    entries: list[BadRecord] = field(default_factory=list)

    def add(self, bad: BadRecord) -> None:
        self.count += 1
        if len(self.entries) < self.max_entries:
            self.entries.append(bad)

    def __len__(self) -> int:
        return self.count

    def summary(self, limit: int = 5) -> list[str]:
        """Up to ``limit`` lines ``file:line: reason``, plus a line saying how many more."""
        lines = [str(b) for b in self.entries[:limit]]
        if self.count > limit:
            lines.append(f"... and {self.count - limit} more bad records")
        return lines


def _require(module: str, extra: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise MissingDependencyError(
            f"reading or writing {extra} needs the optional package {module.split('.')[0]!r}: "
            f"pip install {module.split('.')[0]}  (or pip install 'dedup[io]')"
        ) from None


def detect_format(path: str | os.PathLike[str]) -> str:
    """``"jsonl"``, ``"parquet"``, ``"csv"`` or ``"txt"`` (a directory) from the path."""
    s = os.fspath(path)
    if s == "-":
        return "jsonl"
    if os.path.isdir(s):
        return "txt"
    name = s.lower()
    for comp in (".gz", ".zst", ".zstd"):
        if name.endswith(comp):
            name = name[: -len(comp)]
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    raise InvalidParameterError(
        f"cannot tell the format of {s!r} from its name; use .jsonl[.gz|.zst], .parquet, .csv, "
        "a directory of .txt files, or pass fmt= (--format)"
    )


class _IsalGzipRaw(io.RawIOBase):
    """A ``.gz`` file decompressed by isal; should isal fail (a damaged file), the standard ``gzip``
    module takes over at the same uncompressed offset, so the error raised (or the data) is the
    standard library's. (How many records come before the error depends on buffer sizes, as it
    does between Python versions.)"""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path
        self._fh: Any = _igzip.open(path, "rb")
        self._pos = 0
        self._stdlib = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        try:
            n = int(self._fh.readinto(b))
        except Exception:
            if self._stdlib:
                raise
            self._fh.close()
            self._stdlib = True
            self._fh = gzip.open(self._path, "rb")  # noqa: SIM115 - closed by close()
            self._fh.seek(self._pos)
            n = int(self._fh.readinto(b))
        self._pos += n
        return n

    def close(self) -> None:
        if not self.closed:
            self._fh.close()
        super().close()


def _open_binary(path: str) -> IO[bytes]:
    low = path.lower()
    if low.endswith(".gz"):
        if _igzip is not None:
            return io.BufferedReader(_IsalGzipRaw(path), buffer_size=_GZ_BUFFER)
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if low.endswith((".zst", ".zstd")):
        zstd = _require("zstandard", ".zst files")
        fh = open(path, "rb")  # noqa: SIM115 - closed by the wrapper
        return io.BufferedReader(zstd.ZstdDecompressor().stream_reader(fh, closefd=True))
    return open(path, "rb")  # noqa: SIM115


class _Reader:
    def __init__(self, id_field: str, text_field: str, on_error: str, errors: ErrorLog) -> None:
        self.id_field = id_field
        self.text_field = text_field
        self.on_error = on_error
        self.errors = errors

    def bad(self, file: str, line: int, reason: str) -> None:
        b = BadRecord(file, line, reason)
        if self.on_error == "fail":
            raise InputError(str(b))
        self.errors.add(b)

    def record(self, obj: Any, file: str, line: int) -> dict[str, Any] | None:
        if not isinstance(obj, dict):
            self.bad(file, line, f"record is a JSON {type(obj).__name__}, not an object")
            return None
        text = obj.get(self.text_field)
        if text is None:
            self.bad(file, line, f"no {self.text_field!r} field")
            return None
        if not isinstance(text, str):
            self.bad(file, line, f"{self.text_field!r} is {type(text).__name__}, not a string")
            return None
        doc_id = obj.get(self.id_field)
        if doc_id is None or doc_id == "" or isinstance(doc_id, (dict, list, bool)):
            self.bad(file, line, f"no usable {self.id_field!r} field")
            return None
        rec = {k: v for k, v in obj.items() if k not in (self.id_field, self.text_field, "id", "text")}
        rec["id"] = doc_id if isinstance(doc_id, str) else str(doc_id)
        rec["text"] = text
        return rec

    # -------------------------------------------------------------- formats

    def jsonl(self, stream: IO[bytes], name: str) -> Iterator[dict[str, Any]]:
        fast = _msgspec_json.Decoder().decode if _msgspec_json is not None else None
        for n, raw in enumerate(stream, 1):
            if not raw or (raw[0] in _SPACE and not raw.strip()):  # blank (strip() alone copies every line)
                continue
            if fast is not None:
                try:
                    obj = fast(raw)
                except Exception:  # rejected: the standard library below reports the line, or accepts it
                    pass
                else:
                    rec = self.record(obj, name, n)
                    if rec is not None:
                        yield rec
                    continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.bad(name, n, f"undecodable bytes (not UTF-8): {exc.reason} at byte {exc.start}")
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                self.bad(name, n, f"invalid JSON: {exc.msg} at column {exc.colno}")
                continue
            rec = self.record(obj, name, n)
            if rec is not None:
                yield rec

    def csv(self, path: str) -> Iterator[dict[str, Any]]:
        csv.field_size_limit(2**31 - 1)
        delim = "\t" if ".tsv" in os.path.basename(path).lower() else ","
        with _open_binary(path) as fb:
            text = io.TextIOWrapper(fb, encoding="utf-8", newline="")
            reader = csv.DictReader(text, delimiter=delim)
            line = 1
            try:
                for row in reader:
                    start, line = line + 1, reader.line_num
                    if None in row:  # more cells than header columns
                        row.pop(None)
                    rec = self.record(row, path, start)
                    if rec is not None:
                        yield rec
            except UnicodeDecodeError as exc:
                self.bad(path, line + 1, f"undecodable bytes (not UTF-8): {exc.reason}; rest of file skipped")
            except csv.Error as exc:
                self.bad(path, line + 1, f"invalid CSV: {exc}; rest of file skipped")

    def parquet(self, path: str) -> Iterator[dict[str, Any]]:
        pq = _require("pyarrow.parquet", "Parquet files")
        pf = pq.ParquetFile(path)
        row = 0
        for batch in pf.iter_batches(batch_size=_PARQUET_BATCH):
            for obj in batch.to_pylist():
                row += 1
                rec = self.record(obj, path, row)
                if rec is not None:
                    yield rec

    def txt_dir(self, root: str) -> Iterator[dict[str, Any]]:
        base = Path(root)
        files = sorted(p for p in base.rglob("*.txt") if p.is_file())
        for p in files:
            rel = p.relative_to(base).as_posix()
            try:
                text = p.read_bytes().decode("utf-8")
            except UnicodeDecodeError as exc:
                self.bad(str(p), 0, f"undecodable bytes (not UTF-8): {exc.reason} at byte {exc.start}")
                continue
            yield {"id": rel, "text": text}


def read_corpus(
    path: str | os.PathLike[str],
    *,
    id_field: str = "id",
    text_field: str = "text",
    fmt: str | None = None,
    on_error: str = "skip",
    errors: ErrorLog | None = None,
    stdin: IO[bytes] | None = None,
) -> Iterator[dict[str, Any]]:
    """Stream the records of a corpus as dicts with ``"id"``, ``"text"`` and the other fields.

    Args:
        path: a ``.jsonl`` / ``.jsonl.gz`` / ``.jsonl.zst`` file, a ``.parquet`` file, a ``.csv``
            file (header row names the fields), a directory of ``.txt`` files (id = path
            relative to the directory), or ``"-"`` for JSONL on standard input.
        id_field, text_field: field names holding the id and the text (non-string ids are
            converted with ``str``).
        fmt: force the format (``"jsonl"``, ``"parquet"``, ``"csv"``, ``"txt"``).
        on_error: ``"skip"`` counts bad records in ``errors``; ``"fail"`` raises
            :class:`InputError` at the first one, naming ``file:line``.
        errors: an :class:`ErrorLog` that collects bad records (a fresh one when omitted).
        stdin: the byte stream read for ``"-"`` (default ``sys.stdin.buffer``).

    Raises:
        InputError: a bad record and ``on_error="fail"``.
        MissingDependencyError: Parquet without pyarrow, ``.zst`` without zstandard.
        OSError: the file cannot be opened.
    """
    if on_error not in ("skip", "fail"):
        raise InvalidParameterError(f"on_error must be 'skip' or 'fail', got {on_error!r}")
    s = os.fspath(path)
    fmt = fmt or detect_format(s)
    if fmt not in FORMATS:
        raise InvalidParameterError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    reader = _Reader(id_field, text_field, on_error, errors if errors is not None else ErrorLog())
    return _read(reader, s, fmt, stdin)


def _read(reader: _Reader, s: str, fmt: str, stdin: IO[bytes] | None) -> Iterator[dict[str, Any]]:
    """The records of one source; damaged compressed data raises :class:`InputError`."""
    damaged: tuple[type[BaseException], ...] = (EOFError, zlib.error, gzip.BadGzipFile, *_zstd_errors())
    try:
        yield from _read_source(reader, s, fmt, stdin)
    except damaged as exc:
        what = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"{s}: the compressed data is damaged or truncated ({what})") from exc


def _zstd_errors() -> tuple[type[BaseException], ...]:
    try:
        import zstandard
    except ImportError:
        return ()
    return (zstandard.ZstdError,)


def _read_source(reader: _Reader, s: str, fmt: str, stdin: IO[bytes] | None) -> Iterator[dict[str, Any]]:
    if s == "-":
        yield from reader.jsonl(stdin if stdin is not None else sys.stdin.buffer, "<stdin>")
        return
    if fmt != "txt" and not os.path.isfile(s):
        raise FileNotFoundError(f"no such corpus file: {s}")
    if fmt == "jsonl":
        with _open_binary(s) as fh:
            yield from reader.jsonl(fh, s)
    elif fmt == "csv":
        yield from reader.csv(s)
    elif fmt == "parquet":
        yield from reader.parquet(s)
    else:
        if not os.path.isdir(s):
            raise NotADirectoryError(f"not a directory of .txt files: {s}")
        yield from reader.txt_dir(s)


def _json_default(o: Any) -> Any:
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def write_records(path: str | os.PathLike[str], records: Iterable[dict[str, Any]]) -> int:
    """Write records to ``path`` atomically (temp file + rename); returns how many were written.

    ``.parquet`` writes Parquet (schema from the first 1024 records; later fields not in it are
    dropped, missing ones are null); anything else writes JSONL, gzip-compressed for ``.gz`` and
    zstd-compressed for ``.zst``. ``"-"`` writes JSONL to standard output.
    """
    s = os.fspath(path)
    if s == "-":
        n = 0
        for rec in records:
            sys.stdout.write(json.dumps(rec, ensure_ascii=False, default=_json_default) + "\n")
            n += 1
        sys.stdout.flush()
        return n
    target = Path(s)
    target.parent.mkdir(parents=True, exist_ok=True)
    low = s.lower()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        is_parquet = low.endswith((".parquet", ".pq"))
        n = _write_parquet(tmp, records) if is_parquet else _write_jsonl(tmp, low, records)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return n


def _write_jsonl(tmp: str, low: str, records: Iterable[dict[str, Any]]) -> int:
    n = 0
    raw: IO[bytes]
    if low.endswith(".gz"):
        raw = gzip.open(tmp, "wb", compresslevel=6)  # type: ignore[assignment]  # noqa: SIM115
    elif low.endswith((".zst", ".zstd")):
        zstd = _require("zstandard", ".zst files")
        raw = zstd.ZstdCompressor(level=6).stream_writer(open(tmp, "wb"), closefd=True)  # noqa: SIM115
    else:
        raw = open(tmp, "wb")  # noqa: SIM115
    with raw:
        buf: list[str] = []
        for rec in records:
            buf.append(json.dumps(rec, ensure_ascii=False, default=_json_default))
            n += 1
            if len(buf) >= 1000:
                raw.write(("\n".join(buf) + "\n").encode("utf-8"))
                buf = []
        if buf:
            raw.write(("\n".join(buf) + "\n").encode("utf-8"))
    return n


def _write_parquet(tmp: str, records: Iterable[dict[str, Any]]) -> int:
    pa = _require("pyarrow", "Parquet files")
    pq = _require("pyarrow.parquet", "Parquet files")
    writer = None
    schema = None
    n = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal writer, schema
        if schema is None:
            table = pa.Table.from_pylist(batch)
            schema = table.schema
            writer = pq.ParquetWriter(tmp, schema)
        else:
            table = pa.Table.from_pylist(batch, schema=schema)
        writer.write_table(table)

    try:
        for rec in records:
            batch.append(rec)
            n += 1
            if len(batch) >= _PARQUET_BATCH:
                flush()
                batch = []
        if batch or writer is None:
            if not batch:
                batch = []
                schema = pa.schema([("id", pa.string()), ("text", pa.string())])
                writer = pq.ParquetWriter(tmp, schema)
            else:
                flush()
    finally:
        if writer is not None:
            writer.close()
    return n
