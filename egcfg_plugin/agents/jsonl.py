"""JSONL files: one reader with one error policy, and the resumable writer built on it.

    rows = read_jsonl("runs/x/tasks.jsonl")          # [Row(line, record, text), ...]
    out = ResumableJSONL("runs/x/tasks.jsonl", key="task_id")
    for row in rows:
        if row["task_id"] in out:      # finished in an earlier run
            continue
        out.append({"task_id": ..., ...})

The policy, for every JSONL file egcfg reads (compare runs, reports, EvalPlus samples and datasets):
- a last line that is cut short (a run interrupted mid-write) is skipped with a warning, and its
  task runs again; with `cut_last="error"` (datasets, which no run of ours writes) it is an error;
- any other unreadable line (not JSON, not an object) is an error naming the file and the line;
- `.gz` files are read too; a truncated or damaged `.gz` is a one-line error naming the file.
All errors are `JSONLError` (a ValueError).
"""
from __future__ import annotations

import gzip
import json
import logging
import os
import zlib
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger(__name__)


class JSONLError(ValueError):
    """A JSONL file that cannot be read as it is; the message names the file (and line) and the fix."""


class Row(NamedTuple):
    line: int        # 1-based line number in the (decompressed) file
    record: dict
    text: str        # the line as written, with its newline


def read_jsonl(path: str | os.PathLike, *, cut_last: str = "skip") -> list[Row]:
    """Every record of a .jsonl or .jsonl.gz file, in file order (blank lines ignored).
    `cut_last`: "skip" (warn and skip an unreadable last line) or "error"."""
    path = Path(path)
    if cut_last not in ("skip", "error"):
        raise ValueError(f"cut_last={cut_last!r}: use 'skip' or 'error'")
    data = _read_bytes(path)
    lines = [(n, raw) for n, raw in enumerate(data.splitlines(keepends=True), 1) if raw.strip()]
    rows = []
    for i, (n, raw) in enumerate(lines):
        try:
            text = raw.decode("utf-8")
            record = json.loads(text)
            if not isinstance(record, dict):
                raise ValueError(f"a JSON {type(record).__name__}, not an object")
        except (UnicodeDecodeError, ValueError) as e:
            why = e.msg if isinstance(e, json.JSONDecodeError) else str(e).split("\n")[0][:120]
            if i == len(lines) - 1 and cut_last == "skip":
                log.warning("%s: line %d is cut short or unreadable (%s), likely a run interrupted mid-write; "
                            "skipped, its task runs again", path, n, why)
                break
            raise JSONLError(f"{path}, line {n}: not a JSON object ({why}); fix or delete that line") from None
        rows.append(Row(n, record, text if text.endswith("\n") else text + "\n"))
    return rows


def read_records(path: str | os.PathLike, **kw) -> list[dict]:
    """The records of `read_jsonl`, without line numbers."""
    return [row.record for row in read_jsonl(path, **kw)]


def _read_bytes(path: Path) -> bytes:
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise JSONLError(f"{path}: the .gz file is truncated or damaged ({str(e).rstrip('.')}); "
                         f"download it again") from None


class ResumableJSONL:
    """A JSONL file of records keyed by `key`, appended and flushed one record at a time, so no
    partial run is lost. Reading follows `read_jsonl`'s policy: a cut last line is skipped (and
    its task runs again; the cut text is dropped before the next record is appended), any other
    bad line is a JSONLError. A later record with the same key replaces an earlier one."""

    def __init__(self, path: str | os.PathLike, key: str | tuple[str, ...] = "task_id"):
        self.path = Path(path)
        self.keys = (key,) if isinstance(key, str) else tuple(key)
        self.records: dict = {}
        self.bad_lines: list[int] = []      # the cut last line, when there was one
        self.lines = 0                      # non-blank lines read, the cut one included
        self._good_bytes: int | None = None   # where the cut line starts: truncated there on append
        if self.path.exists():
            self._load()

    def _key(self, record: dict, where: str = "record"):
        try:
            vals = tuple(record[k] for k in self.keys)
        except KeyError as e:
            raise JSONLError(f"{where} has no {e.args[0]!r} field; needed as the resume key {self.keys}") from None
        except TypeError:
            raise JSONLError(f"{where}: a key field is not hashable ({self.keys})") from None
        return vals[0] if len(vals) == 1 else vals

    def _load(self) -> None:
        rows = read_jsonl(self.path)
        for row in rows:
            self.records[self._key(row.record, f"{self.path}, line {row.line}")] = row.record
        raw = self.path.read_bytes()
        self.lines = sum(1 for line in raw.splitlines() if line.strip())
        if self.lines > len(rows):             # read_jsonl skipped the cut last line
            lines = raw.splitlines(keepends=True)
            numbered = [n for n, line in enumerate(lines, 1) if line.strip()]
            self.bad_lines = [numbered[-1]]
            self._good_bytes = sum(len(line) for line in lines[: numbered[-1] - 1])

    def __contains__(self, key) -> bool:
        return key in self.records

    def __len__(self) -> int:
        return len(self.records)

    def get(self, key, default=None):
        return self.records.get(key, default)

    def append(self, record: dict) -> None:
        key = self._key(record)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._good_bytes is not None:       # drop the cut line, so it never ends up mid-file
            with open(self.path, "r+b") as f:
                f.truncate(self._good_bytes)
            self._good_bytes = None
        needs_newline = self.path.exists() and self.path.stat().st_size > 0 and not _ends_with_newline(self.path)
        with open(self.path, "a", encoding="utf-8") as f:
            if needs_newline:
                f.write("\n")
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.records[key] = record

    def values(self) -> list[dict]:
        return list(self.records.values())

    def rewrite(self) -> None:
        """Write the file anew from the records held (one line each, the cut line gone)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            for rec in self.records.values():
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        tmp.replace(self.path)
        self.bad_lines, self.lines, self._good_bytes = [], len(self.records), None


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
