"""EvalPlus face: prompt -> task mapping, EvalPlus's prompt, the codegen CLI (layout, resume, bad
input) on a scripted stub model, and EvalPlus's own scorer on the result, offline."""
import inspect
import json
import logging

import pytest

from egcfg_plugin.cli import evalplus as cli_evalplus
from egcfg_plugin.harness import evalplus_decoder as ed
from egcfg_plugin.core.config import EGCFGConfig
from tests.stub_model import StubLM, script_policy

SIZES = {"humaneval": 164, "mbpp": 378}


@pytest.fixture(scope="module")
def tok(tiny):
    return tiny[1]


@pytest.fixture(scope="module")
def all_tasks():
    return {name: ed.load_tasks(name) for name in SIZES}


# -- datasets and the prompt -> task map ----------------------------------------------------------
@pytest.mark.parametrize("dataset", list(SIZES))
def test_every_prompt_maps_to_exactly_one_task(all_tasks, dataset):
    tasks = all_tasks[dataset]
    assert len(tasks) == SIZES[dataset]
    index = ed.PromptIndex(tasks)
    assert len(index) == len(tasks)
    for task_id, task in tasks.items():
        assert index.lookup(ed.evalplus_prompt(task)) == task_id
        assert index.lookup(task["prompt"]) == task_id


def test_a_prompt_from_the_other_dataset_is_refused(all_tasks):
    index = ed.PromptIndex(all_tasks["mbpp"])
    task = next(iter(all_tasks["humaneval"].values()))
    with pytest.raises(KeyError, match="matches no task"):
        index.lookup(ed.evalplus_prompt(task))


class _Recorder(ed.DecoderBase):
    """Records what EvalPlus's codegen() hands a decoder."""

    def __init__(self):
        super().__init__(name="recorder", temperature=0.0)
        self.prompts = []

    def is_direct_completion(self):
        return False

    def codegen(self, prompt, do_sample=True, num_samples=200):
        self.prompts.append(prompt)
        return ["pass\n"]


@pytest.mark.parametrize("dataset", list(SIZES))
def test_the_prompts_evalplus_codegen_hands_a_decoder_all_map_back(all_tasks, dataset, tmp_path, monkeypatch):
    import evalplus.codegen
    import evalplus.data.humaneval
    import evalplus.data.mbpp

    spec = ed.dataset_spec(dataset)
    module = evalplus.data.humaneval if dataset == "humaneval" else evalplus.data.mbpp
    monkeypatch.setattr(module, spec.env, str(ed.dataset_file(dataset)))
    rec = _Recorder()
    evalplus.codegen.codegen(str(tmp_path / "s.jsonl"), rec, dataset, greedy=True)
    index = ed.PromptIndex(all_tasks[dataset])
    mapped = [index.lookup(p) for p in rec.prompts]
    assert sorted(mapped) == sorted(all_tasks[dataset])        # each task exactly once


def test_unknown_dataset_names_the_fix():
    with pytest.raises(ValueError, match="Did you mean 'humaneval'"):
        ed.dataset_spec("humanevl")


def test_override_variable_wins_and_a_missing_file_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("MBPP_OVERRIDE_PATH", str(tmp_path / "nope.jsonl"))
    with pytest.raises(FileNotFoundError, match="MBPP_OVERRIDE_PATH"):
        ed.dataset_file("mbpp")
    monkeypatch.delenv("MBPP_OVERRIDE_PATH")
    from task_adapters import data

    monkeypatch.setattr(data, "data_roots", lambda: [tmp_path])
    with pytest.raises(FileNotFoundError, match="EGCFG_DATA_DIR"):
        ed.dataset_file("mbpp")


def test_the_dataset_is_searched_in_every_data_root_the_adapters_search(monkeypatch, tmp_path):
    """EvalPlus finds what `egcfg compare` finds: a file in the second root, under any of the
    adapters' file names (here the uncompressed one)."""
    from task_adapters import data

    first, second = tmp_path / "a", tmp_path / "b"
    (second / "mbpp_plus").mkdir(parents=True)
    first.mkdir()
    (second / "mbpp_plus" / "MbppPlus-v0.2.0.jsonl").write_text('{"task_id": "Mbpp/2"}\n')
    monkeypatch.delenv("MBPP_OVERRIDE_PATH", raising=False)
    monkeypatch.setattr(data, "data_roots", lambda: [first, second])
    assert ed.dataset_file("mbpp") == second / "mbpp_plus" / "MbppPlus-v0.2.0.jsonl"
    assert ed.dataset_file("mbpp") == data.find_file("mbpp_plus")


def test_prefixes_are_evalplus_own():
    import evalplus.codegen

    source = inspect.getsource(evalplus.codegen.run_codegen)
    assert f'instruction_prefix = "{ed.INSTRUCTION_PREFIX}"' in source
    assert f'response_prefix = "{ed.RESPONSE_PREFIX}"' in source


@pytest.mark.parametrize("dataset", list(SIZES))
def test_chat_prompt_is_exactly_what_evalplus_hf_feeds_the_model(all_tasks, dataset, tok):
    from evalplus.provider.utility import make_raw_chat_prompt

    from egcfg_plugin.core.prompts import split_prompt

    for task in list(all_tasks[dataset].values())[::7]:
        problem = ed.build_problem(task, tok, (), direct=False)
        assert problem.is_chat
        reference = make_raw_chat_prompt(ed.evalplus_prompt(task), ed.INSTRUCTION_PREFIX, ed.RESPONSE_PREFIX, tok)
        split = split_prompt(problem, tok)
        assert split.text == reference
        assert tok(split.text, add_special_tokens=False).input_ids == tok.encode(reference)
        # the signal goes at the end of the user's turn, after the fenced task
        assert split.before.endswith(ed.evalplus_prompt(task).strip() + "\n```\n")


def test_base_prompt_continues_the_task_text(all_tasks, tok):
    he = all_tasks["humaneval"]["HumanEval/0"]
    p = ed.build_problem(he, tok, (), direct=True)
    assert p.prompt == ed.evalplus_prompt(he) and p.code_prefix == p.prompt
    mb = next(iter(all_tasks["mbpp"].values()))
    p = ed.build_problem(mb, tok, (), direct=True)
    assert p.prompt == ed.evalplus_prompt(mb) and p.code_prefix == ""


# -- visible tests: from the prompt only ----------------------------------------------------------
def _flat(value) -> str:
    """Lower case, without whitespace, quotes and escaped newlines (a docstring's "a\\nb" is the
    call's 'a\nb'; prose examples write true for True)."""
    text = "".join(str(value).replace("\\n", "").split())
    return text.replace('"', "").replace("'", "").lower()


def _parts(test) -> list[str]:
    """An MBPP assert as a whole; a HumanEval example's function, arguments and expected value."""
    import ast

    code = test.code.strip()
    if code.startswith("assert"):
        return [code]
    if test.expected is not None and test.name.startswith("visible"):   # an MBPP assert, split
        return [code, test.expected]                                     # (as written in the prompt)
    call = ast.parse(code, mode="eval").body
    parts = [ast.unparse(call.func)] + [ast.unparse(a) for a in call.args] + [ast.unparse(k.value) for k in call.keywords]
    if test.expected is not None:
        parts.append(ast.unparse(ast.parse(test.expected, mode="eval").body))
    return parts


@pytest.mark.parametrize("dataset", list(SIZES))
def test_visible_tests_come_from_the_prompt_without_hidden_fields(all_tasks, dataset, monkeypatch):
    import task_adapters.registry as registry

    real = registry.get_adapter
    seen_rows = []

    class Spy:
        def __init__(self, adapter):
            self.adapter = adapter

        def visible_tests(self, row):
            seen_rows.append(row)
            return self.adapter.visible_tests(row)

    monkeypatch.setattr(registry, "get_adapter", lambda name: Spy(real(name)))
    with_tests = 0
    for task in all_tasks[dataset].values():
        tests = ed.visible_tests(dataset, task)
        with_tests += bool(tests)
        prompt = _flat(task["prompt"])
        for t in tests:     # every visible test is written in the prompt: its arguments and expected value
            for part in _parts(t):
                assert _flat(part) in prompt, (task["task_id"], t, part)
    assert seen_rows and all(not set(ed.HIDDEN_FIELDS) & set(row) for row in seen_rows)
    assert with_tests >= 0.9 * len(all_tasks[dataset])


# -- the codegen CLI on a scripted stub -----------------------------------------------------------
def _stub_writing(tok, script):
    """A stub that writes `script` as its answer, right after EvalPlus's response prefix."""
    return StubLM(len(tok), script_policy(tok, script + "```\n", marker=ed.RESPONSE_PREFIX + "\n```python\n"))


@pytest.fixture
def he2(all_tasks):
    return [all_tasks["humaneval"][t] for t in ("HumanEval/0", "HumanEval/1")]


@pytest.fixture
def canonical_stub(tok, he2, monkeypatch):
    """A model that writes the canonical programs of the first two HumanEval+ tasks."""
    script = "\n\n".join(t["prompt"] + t["canonical_solution"] for t in he2)
    model = _stub_writing(tok, script)
    monkeypatch.setattr("egcfg_plugin.core.models.load_model", lambda name: (model, tok))
    return model


def _count_generations(monkeypatch):
    import egcfg_plugin.core.decoding as decoding

    calls = []
    real = decoding.generate

    def counting(model, tokenizer, problem, config, **kw):
        calls.append(problem.task_id)
        return real(model, tokenizer, problem, config, **kw)

    monkeypatch.setattr(decoding, "generate", counting)
    return calls


def _codegen(root, *extra, dataset="humaneval", config="baseline", limit="2", cache=None):
    """`egcfg evalplus codegen`; without `cache` the generation cache is off, so every call counts."""
    where = ["--cache", str(cache)] if cache else ["--no-cache"]
    argv = ["codegen", "--dataset", dataset, "--config", config, "--limit", limit, "--root", str(root), *where,
            *extra]
    return cli_evalplus.main(argv)


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_codegen_writes_evalplus_layout_and_resumes(canonical_stub, tmp_path, monkeypatch, capsys, he2):
    calls = _count_generations(monkeypatch)
    assert _codegen(tmp_path) == 0
    folder = tmp_path / "humaneval"
    stem = "qwen2.5-coder-0.5b-instruct_egcfg-baseline_temp_0.0-limit2"
    samples, raw = folder / f"{stem}.jsonl", folder / f"{stem}.raw.jsonl"
    subset = folder / "HumanEvalPlus-v0.1.10-limit2.jsonl"
    assert calls == ["HumanEval/0", "HumanEval/1"]
    rows = _lines(samples)
    assert [r["task_id"] for r in rows] == calls and all(set(r) == {"task_id", "solution"} for r in rows)
    for r, task in zip(rows, he2):
        assert f"def {task['entry_point']}(" in r["solution"]
    logs = _lines(raw)
    assert [r["config"] for r in logs] == ["baseline", "baseline"]
    assert all({"solution", "counters", "visible_passed", "visible_total", "visible_tests", "no_code"} <= set(r)
               for r in logs)
    assert all(r["visible_total"] > 0 and r["visible_passed"] == r["visible_total"] for r in logs)
    assert [json.loads(x)["task_id"] for x in subset.read_text().splitlines()] == ["HumanEval/0", "HumanEval/1"]
    out = capsys.readouterr().out
    assert f"HUMANEVAL_OVERRIDE_PATH={subset}" in out and f"--samples {samples}" in out
    # a second run generates nothing and writes nothing new
    before = samples.read_text()
    assert _codegen(tmp_path) == 0
    assert calls == ["HumanEval/0", "HumanEval/1"] and samples.read_text() == before


def test_corrupt_resume_line_is_reported_set_aside_and_redone(canonical_stub, tmp_path, monkeypatch, caplog):
    assert _codegen(tmp_path) == 0
    samples = next((tmp_path / "humaneval").glob("*limit2.jsonl"))
    good = samples.read_text().splitlines()
    samples.write_text(good[0] + "\n" + good[1][: len(good[1]) // 2] + "\n")    # a line cut by a crash
    calls = _count_generations(monkeypatch)
    with caplog.at_level(logging.WARNING):
        assert _codegen(tmp_path) == 0
    assert calls == ["HumanEval/1"]
    assert "corrupt" in caplog.text and "line" in caplog.text
    assert samples.with_name(samples.name + ".corrupt").read_text().endswith(good[1][: len(good[1]) // 2] + "\n")
    assert sorted(r["task_id"] for r in _lines(samples)) == ["HumanEval/0", "HumanEval/1"]


def test_samples_file_of_another_dataset_is_refused(canonical_stub, tmp_path, capsys):
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"task_id": "Mbpp/2", "solution": "def f(): pass"}) + "\n")
    assert _codegen(tmp_path, "--samples", str(path)) == 2
    err = capsys.readouterr().err
    assert "Mbpp/2" in err and "mbpp" in err and "--dataset" in err
    assert cli_evalplus.main(["evaluate", "--dataset", "humaneval", "--samples", str(path), "--dry-run"]) == 2
    assert "another dataset" in capsys.readouterr().err


def test_unknown_dataset_exits_with_the_fix(capsys, tmp_path):
    assert _codegen(tmp_path, dataset="humanevl") == 2
    assert "Did you mean 'humaneval'" in capsys.readouterr().err


def test_model_that_writes_no_code_is_reported(tok, tmp_path, monkeypatch, caplog):
    model = _stub_writing(tok, "I am sorry, I can not help with that request.\n")
    monkeypatch.setattr("egcfg_plugin.core.models.load_model", lambda name: (model, tok))
    with caplog.at_level(logging.WARNING):
        assert _codegen(tmp_path, limit="1") == 0
    raw = next((tmp_path / "humaneval").glob("*.raw.jsonl"))
    assert _lines(raw)[0]["no_code"] is True
    assert "wrote no code defining has_close_elements()" in caplog.text


def test_decoder_works_inside_evalplus_codegen(canonical_stub, tok, tmp_path, monkeypatch, he2):
    import evalplus.codegen
    import evalplus.data.humaneval

    subset = tmp_path / "sub.jsonl"
    cli_evalplus.write_subset(subset, [json.dumps(t) + "\n" for t in he2])
    monkeypatch.setattr(evalplus.data.humaneval, "HUMANEVAL_OVERRIDE_PATH", str(subset))
    tasks = {t["task_id"]: t for t in he2}
    decoder = ed.EGCFGDecoder("stub", "humaneval", tasks, canonical_stub, tok,
                              configs=[EGCFGConfig.parse("baseline")])
    target = tmp_path / "out.jsonl"
    evalplus.codegen.codegen(str(target), decoder, "humaneval", greedy=True)
    rows = _lines(target)
    assert [r["task_id"] for r in rows] == ["HumanEval/0", "HumanEval/1"]
    assert all(f"def {tasks[r['task_id']]['entry_point']}(" in r["solution"] for r in rows)
    with pytest.raises(ValueError, match="num_samples"):
        decoder.codegen(ed.evalplus_prompt(he2[0]), do_sample=True, num_samples=5)


# -- EvalPlus's scorer, offline, on a subset ------------------------------------------------------
def test_evaluate_scores_the_subset_with_evalplus_unchanged(canonical_stub, tmp_path, capfd):
    assert _codegen(tmp_path) == 0
    samples = next((tmp_path / "humaneval").glob("*limit2.jsonl"))
    stale = samples.with_name(samples.name.replace(".jsonl", "_eval_results.json"))
    stale.write_text("{}")
    import os

    os.utime(stale, (1, 1))
    assert cli_evalplus.main(["evaluate", "--dataset", "humaneval", "--samples", str(samples)]) == 0
    out = capfd.readouterr().out
    assert "HUMANEVAL_OVERRIDE_PATH=" in out and "HumanEvalPlus-v0.1.10-limit2.jsonl" in out
    # the canonical programs pass both test sets
    assert "humaneval (base tests)\npass@1:\t1.000" in out
    assert "humaneval+ (base + extra tests)\npass@1:\t1.000" in out
    assert stale.with_name(stale.name + ".stale").is_file()
    assert json.loads(stale.read_text())["eval"].keys() == {"HumanEval/0", "HumanEval/1"}


def test_grid_runs_agents_and_logs_the_selection(canonical_stub, tmp_path, monkeypatch):
    grid = tmp_path / "two.yaml"
    grid.write_text("agents:\n  - baseline\n  - s3t0.7d2k1g1.0\n")
    calls = _count_generations(monkeypatch)
    argv = ["codegen", "--dataset", "humaneval", "--grid", str(grid), "--limit", "1", "--root", str(tmp_path),
            "--no-cache"]
    assert cli_evalplus.main(argv) == 0
    raw = tmp_path / "humaneval" / "qwen2.5-coder-0.5b-instruct_egcfg-grid-two_temp_0.0-limit1.raw.jsonl"
    record = _lines(raw)[0]
    # the greedy agent passes the visible tests, so it settles the task and the EG-CFG agent never runs
    assert calls == ["HumanEval/0"]
    assert record["selection"]["agent"] == 0 and record["selection"]["rule"] == "first_visible_pass"
    assert record["selection"]["configs"] == ["baseline", "s3t0.7d2k1g1.0"] and record["config"] == "baseline"


def test_a_single_config_goes_through_solve_and_the_generation_cache(canonical_stub, tmp_path, monkeypatch):
    """One config takes the road the other faces take (agents.solve, the shared generation cache):
    a second codegen into another folder generates nothing, and the record names the selection."""
    calls = _count_generations(monkeypatch)
    cache = tmp_path / "cache"
    assert _codegen(tmp_path / "a", limit="1", cache=cache) == 0
    assert calls == ["HumanEval/0"] and any(cache.iterdir())
    assert _codegen(tmp_path / "b", limit="1", cache=cache) == 0
    assert calls == ["HumanEval/0"]
    first, second = (_lines(next((tmp_path / d / "humaneval").glob("*.raw.jsonl")))[0] for d in "ab")
    assert first["solution"] == second["solution"]
    assert second["selection"]["configs"] == ["baseline"] and second["selection"]["agents_run"] == 1


def test_missing_grid_file_is_a_clear_error(tmp_path, capsys):
    argv = ["codegen", "--dataset", "humaneval", "--grid", str(tmp_path / "nope.yaml"), "--root", str(tmp_path)]
    assert cli_evalplus.main(argv) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_mbpp_codegen_runs_the_prompt_assert_as_the_visible_test(all_tasks, tok, tmp_path, monkeypatch):
    task = next(iter(all_tasks["mbpp"].values()))
    model = _stub_writing(tok, task["canonical_solution"].strip() + "\n")
    monkeypatch.setattr("egcfg_plugin.core.models.load_model", lambda name: (model, tok))
    assert _codegen(tmp_path, dataset="mbpp", limit="1") == 0
    folder = tmp_path / "mbpp"
    record = _lines(next(folder.glob("*limit1.raw.jsonl")))[0]
    assert record["task_id"] == task["task_id"]
    assert len(record["visible_tests"]) == 1 and record["visible_tests"][0] in task["prompt"]
    assert record["visible_passed"] == record["visible_total"] == 1
    assert (folder / "MbppPlus-v0.2.0-limit1.jsonl").is_file()
