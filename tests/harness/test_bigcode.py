"""The bigcode-evaluation-harness flow without a model: task names, bigcode's prompts and
postprocessing read in its venv, and its scorer against ours on reference and wrong programs.
Tests that need bigcode_eval are skipped when .venv-bigcode is absent (scripts/setup_bigcode.sh)."""
import json

import pytest

from egcfg_plugin.cli import bigcode as cli
from egcfg_plugin.harness import bigcode

needs_venv = pytest.mark.skipif(
    not bigcode.venv_ready(),
    reason=f"no bigcode virtualenv at {bigcode.venv_python().parent.parent}; run scripts/setup_bigcode.sh")


@pytest.mark.parametrize("argv", [
    ["generate", "--tasks", "humaneval,apps", "--out", "g.json"],
    ["evaluate", "--tasks", "apps", "--generations", "g.json"],
])
def test_unsupported_task_is_a_one_line_error(argv, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "'apps'" in err and "supported: humaneval, mbpp" in err


def test_generations_file_is_named_as_bigcode_saves_them(tmp_path):
    assert cli.output_path(str(tmp_path / "gens.json"), "mbpp") == tmp_path / "gens_mbpp.json"
    with pytest.raises(ValueError, match="must end in .json"):
        cli.output_path("gens.jsonl", "mbpp")


def test_missing_venv_names_the_setup_script(tmp_path, monkeypatch):
    monkeypatch.setenv("EGCFG_BIGCODE_VENV", str(tmp_path / "nowhere"))
    with pytest.raises(bigcode.BigcodeError, match="scripts/setup_bigcode.sh"):
        bigcode.bigcode_prompts(bigcode.bigcode_task("mbpp"))


def test_malformed_generations_file_is_refused(tmp_path, capsys):
    path = tmp_path / "g.json"
    path.write_text(json.dumps(["not a list of lists"]))
    assert cli.main(["evaluate", "--tasks", "mbpp", "--generations", str(path)]) == 2
    assert "list of lists of strings" in capsys.readouterr().err


@needs_venv
@pytest.mark.parametrize("name,count", [("humaneval", 164), ("mbpp", 500)])
def test_prompts_are_bigcodes_in_its_order_and_problems_keep_them(name, count):
    from task_adapters.registry import get_adapter

    task = bigcode.bigcode_task(name)
    docs = bigcode.bigcode_prompts(task)
    rows = bigcode.rows(task)
    assert len(docs) == len(rows) == count
    assert [tid for tid, _ in docs] == [r["task_id"] for r in rows]
    adapter = get_adapter(task.adapter)
    for (task_id, prompt), row in list(zip(docs, rows))[:5]:
        if name == "mbpp":     # InCoder-style: the description and the first assert in a docstring
            assert prompt == f'"""\n{row["text"]}\n{row["test_list"][0]}\n"""\n'
        else:                  # the stripped HumanEval prompt
            assert prompt == row["prompt"].strip()
        problem, found = bigcode.problem_for(task, task_id, prompt)
        assert found["task_id"] == row["task_id"]
        assert problem.prompt == prompt and not problem.is_chat
        # only what bigcode's prompt shows: MBPP's first assert, HumanEval's docstring examples
        shown = adapter.visible_tests(row)[:1] if name == "mbpp" else adapter.visible_tests(row)
        assert problem.visible_tests == tuple(shown) and problem.visible_tests
        assert problem.code_prefix == (prompt if name == "humaneval" else "")


@needs_venv
def test_postprocess_is_bigcodes_stop_words():
    task = bigcode.bigcode_task("humaneval")
    (_, prompt), = bigcode.bigcode_prompts(task)[:1]
    body = "\n    return True\n"
    out = bigcode.postprocess(task, [[prompt + body + "\nprint(has_close_elements([], 0.1))\n"]])
    assert out == [[prompt + body]]


def _programs(task, rows):
    """Doc 0: the reference solution; doc 1: a program that defines the function wrongly."""
    if task.name == "humaneval":
        good = rows[0]["prompt"] + rows[0]["canonical_solution"]
        bad = rows[1]["prompt"] + "    return None\n"
    else:
        good = rows[0]["code"]
        bad = f"def {rows[1]['test_list'][0].split('assert ')[1].split('(')[0].strip()}(*args):\n    return None\n"
    return [[good], [bad]]


@needs_venv
@pytest.mark.parametrize("name", ["humaneval", "mbpp"])
def test_bigcode_scorer_and_ours_agree_on_reference_and_wrong_programs(name, tmp_path, capsys):
    task = bigcode.bigcode_task(name)
    gens = _programs(task, bigcode.rows(task))
    path = tmp_path / f"gens_{name}.json"
    path.write_text(json.dumps(gens))
    assert cli.main(["evaluate", "--tasks", name, "--generations", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["bigcode_passed"] == [[True], [False]]
    assert report["egcfg_passed_same_tests"] == [[True], [False]]
    assert report["agree"] is True
    assert report["bigcode"]["pass@1"] == pytest.approx(0.5)
