"""A content-addressed store of generations, so the same (model, prompt, config, seed) is never
generated twice, across runs and across `egcfg compare` / `lm_eval` / EvalPlus.

    cache = GenerationCache()                     # ~/.cache/egcfg/generations/generations.sqlite
                                                  # (or $EGCFG_GENERATION_CACHE/generations.sqlite)
    key = cache.key(model_id, tokenizer, problem, config)
    result = cache.get(key) or generate(...)

The key is a sha256 of: the model identity, the rendered prompt (split where the signal goes),
the visible tests, the entry point, the config's compact string, its seed, and a fingerprint of
the source files that decide what a generation is (decoding loop, backend, prompts, signal,
sandbox). Editing any of those files starts a fresh cache instead of serving stale results.
One sqlite file (WAL mode), safe for several processes.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import sqlite3
import time
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
_ROOT = Path(__file__).resolve().parent.parent.parent
# Every file that decides what a generation is: the method (core/), the sandbox, the task type.
_CODE_GLOBS = ("egcfg_plugin/core/**/*.py", "sandbox/**/*.py", "task_adapters/base.py")


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A fingerprint of the code that decides what a generation is: every file of core/ and
    sandbox/ (by glob, so a moved or added file is never silently left out) and the task type."""
    h = hashlib.sha256()
    files = sorted({f for g in _CODE_GLOBS for f in _ROOT.glob(g) if f.is_file()})
    if not any(f.parent.name == "core" for f in files) or not any(f.parent.name == "sandbox" for f in files):
        raise RuntimeError(f"the generation cache found no core/ or sandbox/ sources under {_ROOT} "
                           f"(looked for {', '.join(_CODE_GLOBS)}); is egcfg installed from its source tree?")
    for f in files:
        h.update(str(f.relative_to(_ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def default_cache_dir() -> Path:
    """`EGCFG_GENERATION_CACHE` when set (the test suite points it at a temporary folder), else
    `generations/` under egcfg's cache folder (`EGCFG_CACHE_DIR`, default ~/.cache/egcfg)."""
    own = os.environ.get("EGCFG_GENERATION_CACHE")
    if own:
        return Path(own)
    from task_adapters.data import cache_dir

    return cache_dir() / "generations"


class GenerationCache:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()
        self.path = self.root / "generations.sqlite"
        self._conn = None
        self._pid = None
        self.hits = 0
        self.misses = 0

    def _db(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            self.root.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=60)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY, model TEXT, task_id TEXT,"
                         " config TEXT, seed INTEGER, created REAL, result TEXT)")
            conn.commit()
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    @staticmethod
    def key(model_id: str, tokenizer, problem, config) -> str:
        from egcfg_plugin.core.prompts import split_prompt

        split = split_prompt(problem, tokenizer)
        tests = [dataclasses.asdict(t) for t in problem.visible_tests]
        payload = {"format": CACHE_FORMAT, "code": code_version(), "model": model_id,
                   "prompt": [split.before, split.after, split.chat], "tests": tests, "kind": problem.kind,
                   "entry_point": problem.entry_point, "config": config.compact, "seed": config.seed}
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()

    def get(self, key: str):
        row = self._db().execute("SELECT result FROM generations WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return result_from_dict(json.loads(row[0]))

    def put(self, key: str, result, model_id: str = "") -> None:
        conn = self._db()
        conn.execute("INSERT OR REPLACE INTO generations VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (key, model_id, result.task_id, result.config, result.seed, time.time(),
                      json.dumps(result.to_dict(), ensure_ascii=False, default=str)))
        conn.commit()

    def __len__(self) -> int:
        return self._db().execute("SELECT COUNT(*) FROM generations").fetchone()[0]

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None


def result_from_dict(d: dict):
    from egcfg_plugin.core.decoding import Result

    names = {f.name for f in dataclasses.fields(Result)}
    return Result(**{k: v for k, v in d.items() if k in names})


class MemoryCache(GenerationCache):
    """The same interface, kept in memory for one run (`--no-cache`): a config shared by the
    baseline and the grid still runs once per task, and nothing is written to disk."""

    def __init__(self):
        super().__init__(root=None)
        self.root = self.path = None
        self._store: dict[str, dict] = {}

    def get(self, key: str):
        d = self._store.get(key)
        if d is None:
            self.misses += 1
            return None
        self.hits += 1
        return result_from_dict(json.loads(json.dumps(d)))

    def put(self, key: str, result, model_id: str = "") -> None:
        self._store[key] = json.loads(json.dumps(result.to_dict(), default=str))

    def __len__(self) -> int:
        return len(self._store)

    def close(self) -> None:
        pass
