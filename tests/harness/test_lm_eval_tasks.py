"""egcfg's lm-eval tasks: the YAMLs, the offline dataset loader, scoring through our sandbox, the
per-sample EG-CFG summary, and the errors for missing data and rows without tests."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")

from egcfg_plugin.harness import lm_eval_tasks  # noqa: E402
from egcfg_plugin.harness.lm_eval_hook import EGCFGUsageError, tasks_dir  # noqa: E402
from task_adapters import registry  # noqa: E402

OUR_TASKS = ["egcfg_mbpp", "egcfg_mbpp_plus", "egcfg_humaneval", "egcfg_humaneval_plus", "egcfg_humaneval_et",
             "egcfg_mbpp_et", "egcfg_codecontests", "egcfg_ds1000"]
WITH_UNSCORABLE = {"egcfg_codecontests", "egcfg_ds1000"}   # their YAMLs count unscorable rows


def test_tasks_path_prints_the_yaml_folder(capsys):
    assert lm_eval_tasks.print_path([]) == 0
    folder = Path(capsys.readouterr().out.strip())
    assert folder == Path(tasks_dir())
    assert sorted(p.stem for p in folder.glob("egcfg_*.yaml")) == sorted(OUR_TASKS)


@pytest.mark.parametrize("task", OUR_TASKS)
def test_yaml_is_unsafe_scores_with_our_sandbox_and_names_an_adapter(task):
    from lm_eval.tasks._yaml_loader import load_yaml

    cfg = load_yaml(str(Path(tasks_dir()) / f"{task}.yaml"), resolve_func=True)
    assert cfg["task"] == task and cfg["unsafe_code"] is True
    assert cfg["process_results"] is lm_eval_tasks.process_results
    assert cfg["custom_dataset"] is lm_eval_tasks.load_docs
    extra = {"unscorable"} if task in WITH_UNSCORABLE else set()
    assert {m["metric"] for m in cfg["metric_list"]} == {"pass@1", "pass@1_never_seen", "visible_pass@1", "egcfg"} | extra
    assert registry.get_adapter(cfg["dataset_kwargs"]["benchmark"]) is not None


def test_mbpp_docs_hold_the_prompt_and_never_the_hidden_tests():
    rows = {r["task_id"]: r for r in registry.get_adapter("egcfg_mbpp").load()}
    docs = lm_eval_tasks.load_docs("egcfg_mbpp", pretrained="ignored", version=1.0)["test"]
    assert len(docs) == len(rows) == 500
    with_challenge = [d for d in docs if rows[int(d["task_id"])].get("challenge_test_list")]
    assert with_challenge, "MBPP's test split has tasks with challenge asserts"
    for doc in with_challenge:
        row = rows[int(doc["task_id"])]
        for visible in row["test_list"]:
            assert visible.strip() in doc["user_text"]
        for hidden in row["challenge_test_list"]:
            assert hidden.strip() not in json.dumps(doc) and hidden.strip() not in doc["user_text"]
    assert docs[0]["gen_prefix"] == "```python\n" and docs[0]["code_prefix"] == ""


def test_humaneval_docs_follow_evalplus_instruct_flow():
    """The standard wording (task_adapters.prompts): the prompt code is quoted in the user turn and
    the answer, prefilled with EvalPlus's response sentence and a fence, is written from scratch."""
    from task_adapters.prompts import evalplus_response_prefix

    docs = lm_eval_tasks.load_docs("egcfg_humaneval")["test"]
    rows = registry.get_adapter("egcfg_humaneval").load()
    assert len(docs) == 164
    for doc, row in zip(docs, rows):
        assert row["prompt"].strip() in doc["user_text"]
        assert doc["gen_prefix"] == evalplus_response_prefix() and doc["code_prefix"] == ""
        assert "def check(" not in doc["user_text"] + doc["gen_prefix"]


def _doc(name: str, index: int = 0) -> tuple[dict, dict]:
    adapter = registry.get_adapter(name)
    row = adapter.load()[index]
    return lm_eval_tasks.make_doc(name, adapter, row), row


def test_process_results_scores_hidden_and_visible_tests():
    doc, row = _doc("egcfg_mbpp")
    good = lm_eval_tasks.process_results(doc, [row["code"] + "\n```\nextra text"])
    assert good == {"pass@1": 1.0, "pass@1_never_seen": 1.0, "visible_pass@1": 1.0}   # task 11: challenge asserts
    bad = lm_eval_tasks.process_results(doc, ["def nothing():\n    return None\n"])
    assert bad == {"pass@1": 0.0, "pass@1_never_seen": 0.0, "visible_pass@1": 0.0}


def test_process_results_humaneval_canonical_solution_passes():
    doc, row = _doc("egcfg_humaneval", 2)
    # the standard (EvalPlus) prompt has the answer written from scratch: the whole function
    out = lm_eval_tasks.process_results(doc, [doc["code_prefix"] or row["prompt"] + row["canonical_solution"]])
    # check() of HumanEval/2 calls truncate_number(3.5), the docstring's example: no never-seen test
    assert out == {"pass@1": 1.0, "pass@1_never_seen": None, "visible_pass@1": 1.0}


def test_the_summary_travels_with_the_answer():
    """The model's answer carries its summary to process_results; a plain answer (another
    model, or a response lm-eval cached) gets none, and no state is kept between calls."""
    import pickle

    doc, row = _doc("egcfg_mbpp")
    answer = lm_eval_tasks.with_summary(row["code"], {"guided_lines": 2, "lines": 4})
    assert answer == row["code"] and pickle.loads(pickle.dumps(answer)).egcfg_summary == {"guided_lines": 2, "lines": 4}
    first = lm_eval_tasks.process_results(doc, [answer])
    assert first["egcfg"] == {"guided_lines": 2, "lines": 4}
    assert "egcfg" not in lm_eval_tasks.process_results(doc, [row["code"]])
    assert lm_eval_tasks.with_summary("x", None) == "x" and type(lm_eval_tasks.with_summary("x", None)) is str
    assert lm_eval_tasks.guided_share([first["egcfg"], {"guided_lines": 0, "lines": 2}]) == 0.25


def test_summarize_a_result():
    from egcfg_plugin.core.decoding import Result

    lines = [{"n": 0, "text": "def f(x):", "guided": False},
             {"n": 1, "text": "    return x", "guided": True, "refresh": 1, "signal_chars": 50,
              "candidates": [{"runs": [{"status": "passed"}]}, {"runs": [{"status": "failed"}]}]}]
    result = Result(task_id="t", code="", text="", config="s2t0.7d2k1g1.0", seed=0, stop_reason="eos",
                    lines=lines, counters={"refreshes": 1, "wall_s": 1.23456}, visible_passed=1, visible_total=1)
    s = lm_eval_tasks.summarize(result)
    assert (s["guided_lines"], s["lines"], s["counters"]["wall_s"]) == (1, 2, 1.235)
    assert s["per_line"][1] == {"n": 1, "text": "    return x", "guided": True, "refresh": 1, "candidates": 2,
                                "candidates_passing": 1, "signal_chars": 50}
    json.dumps(s)


# -- bad input ------------------------------------------------------------------------------------
@pytest.fixture
def fresh_adapters(monkeypatch):
    monkeypatch.setattr(registry, "_instances", {})
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def test_missing_data_file_names_the_file_and_the_fix(fresh_adapters, tmp_path, monkeypatch):
    from task_adapters import data

    monkeypatch.setattr(data, "data_roots", lambda: [tmp_path])
    with pytest.raises(EGCFGUsageError) as info:
        lm_eval_tasks.load_docs("egcfg_mbpp_et")
    text = str(info.value)
    assert "egcfg_mbpp_et" in text and "MBPP_ET.jsonl" in text and "EGCFG_DATA_DIR" in text


def test_row_without_tests_is_named(fresh_adapters, tmp_path, monkeypatch):
    (tmp_path / "mbpp").mkdir()
    row = {"task_id": 11, "text": "Write a function.", "code": "def f():\n    pass", "test_list": [],
           "test_setup_code": "", "challenge_test_list": []}
    (tmp_path / "mbpp" / "mbpp.jsonl").write_text(json.dumps(row) + "\n")
    monkeypatch.setenv("EGCFG_DATA_DIR", str(tmp_path))
    with pytest.raises(EGCFGUsageError, match=r"egcfg_mbpp: .*task 11: row without tests"):
        lm_eval_tasks.load_docs("egcfg_mbpp")


def test_unknown_benchmark_suggests_a_name():
    with pytest.raises(EGCFGUsageError, match="egcfg_humaneval"):
        lm_eval_tasks.load_docs("egcfg_humanevl")


# -- where the answer's code ends (issue 12, 6b) --------------------------------------------------
def _until(task: str) -> list[str]:
    from lm_eval.tasks._yaml_loader import load_yaml

    return load_yaml(str(Path(tasks_dir()) / f"{task}.yaml"), resolve_func=True)["generation_kwargs"]["until"]


@pytest.mark.parametrize("task, task_id", [
    ("egcfg_mbpp", 19), ("egcfg_mbpp", 46), ("egcfg_mbpp", 56), ("egcfg_mbpp", 349),
    ("egcfg_mbpp_plus", "Mbpp/19"), ("egcfg_mbpp_plus", "Mbpp/56"), ("egcfg_mbpp_plus", "Mbpp/801"),
])
def test_until_keeps_entry_functions_named_check_or_test(task, task_id):
    """lm-eval cuts the answer at the YAML's `until` strings (as HFLM does); an entry function
    named `check` or `test_*` after an import must survive, and the test code after it is left
    out of the scored program by code_end."""
    from lm_eval.models.huggingface import postprocess_generated_text

    adapter = registry.get_adapter(task)
    row = next(r for r in adapter.load() if str(r["task_id"]) == str(task_id))
    doc = lm_eval_tasks.make_doc(task, adapter, row)
    solution = (row.get("code") or row["canonical_solution"]).strip().replace("\r\n", "\n")
    raw = f"import math\n\n{solution}\n\n# Test\nassert False, 'the model wrote a wrong test'\n```\nIt works."
    answer = postprocess_generated_text(raw, _until(task), None)
    assert f"def {doc['entry_point']}(" in answer
    program = lm_eval_tasks.program_of(doc, answer)
    assert "assert False" not in program and program.startswith("import math\n\n")
    assert lm_eval_tasks.process_results(doc, [answer])["pass@1"] == 1.0


def test_scored_program_keeps_helpers_after_a_test_comment_and_stops_at_demo_code():
    doc, row = _doc("egcfg_mbpp")
    name = doc["entry_point"]
    body = row["code"].replace("\r\n", "\n").strip()
    renamed = body.replace(f"def {name}(", f"def _{name}_impl(", 1)
    raw = (f"def {name}(*args):\n    return _{name}_impl(*args)\n\n# Example helper\n{renamed}\n\n"
           f"print({name}(1, 2))\n    ```\n")
    program = lm_eval_tasks.program_of(doc, raw)
    assert f"def _{name}_impl(" in program and "print(" not in program and "```" not in program
    assert lm_eval_tasks.process_results(doc, [raw])["pass@1"] == 1.0
