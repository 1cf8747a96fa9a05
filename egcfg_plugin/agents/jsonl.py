"""Resumable JSONL output: one record per line, appended and flushed, so no partial run is lost.

    out = ResumableJSONL("runs/x/tasks.jsonl", key="task_id")
    for row in rows:
        if row["task_id"] in out:      # finished in an earlier run
            continue
        out.append({"task_id": ..., ...})

A corrupt line (say, cut by a crash) is skipped and reported in `bad_lines`, and that task runs again.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class ResumableJSONL:
    def __init__(self, path: str | os.PathLike, key: str | tuple[str, ...] = "task_id"):
        self.path = Path(path)
        self.keys = (key,) if isinstance(key, str) else tuple(key)
        self.records: dict = {}
        self.bad_lines: list[int] = []
        if self.path.exists():
            self._load()

    def _key(self, record: dict):
        try:
            vals = tuple(record[k] for k in self.keys)
        except KeyError as e:
            raise ValueError(f"record has no {e.args[0]!r} field; needed as the resume key {self.keys}") from None
        return vals[0] if len(vals) == 1 else vals

    def _load(self) -> None:
        with open(self.path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    self.records[self._key(record)] = record
                except (json.JSONDecodeError, ValueError, TypeError):
                    self.bad_lines.append(n)
        if self.bad_lines:
            log.warning("%s: skipped %d corrupt line(s) (line numbers %s); those tasks will run again",
                        self.path, len(self.bad_lines), self.bad_lines[:10])

    def __contains__(self, key) -> bool:
        return key in self.records

    def __len__(self) -> int:
        return len(self.records)

    def get(self, key, default=None):
        return self.records.get(key, default)

    def append(self, record: dict) -> None:
        key = self._key(record)
        self.path.parent.mkdir(parents=True, exist_ok=True)
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


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
