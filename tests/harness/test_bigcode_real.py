"""The bigcode-evaluation-harness two-step flow on the real default model (llama.cpp), 2 docs of
HumanEval and 2 of MBPP: `egcfg bigcode generate`, then bigcode's own scorer
(bigcode_eval.main --load_generations_path --allow_code_execution), whose pass/fail must equal
ours on the same tests. Skipped when .venv-bigcode is absent (scripts/setup_bigcode.sh)."""
import importlib.util
import json

import pytest

from egcfg_plugin.cli import bigcode as cli
from egcfg_plugin.harness import bigcode

pytestmark = [
    pytest.mark.real_model,
    pytest.mark.skipif(not bigcode.venv_ready(),
                       reason=f"no bigcode virtualenv at {bigcode.venv_python().parent.parent}; "
                              f"run scripts/setup_bigcode.sh"),
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                       reason="llama-cpp-python is not installed (pip install -e '.[llamacpp]')"),
]

TASKS = ("humaneval", "mbpp")


@pytest.mark.parametrize("config", ["baseline", "s3t0.7d2k1g1.0"])
def test_generate_then_bigcode_scorer_agrees_with_ours(config, tmp_path, capsys):
    out = tmp_path / "gens.json"
    argv = ["generate", "--tasks", ",".join(TASKS), "--model", "default,backend=llamacpp", "--config", config,
            "--limit", "2", "--out", str(out)]
    assert cli.main(argv) == 0
    for name in TASKS:
        task = bigcode.bigcode_task(name)
        path = tmp_path / f"gens_{name}.json"
        gens = json.loads(path.read_text())
        docs = bigcode.bigcode_prompts(task)[:2]
        assert len(gens) == 2 and all(len(g) == 1 and isinstance(g[0], str) for g in gens)
        log = [json.loads(line) for line in path.with_name(f"gens_{name}.egcfg.jsonl").read_text().splitlines()]
        assert [r["task_id"] for r in log] == [tid for tid, _ in docs]
        for (_, prompt), rec, gen in zip(docs, log, gens):
            assert rec["prompt"] == prompt and rec["configs"] == config
            # bigcode's postprocess keeps its prompt and cuts the continuation at its stop words
            assert gen[0].startswith(prompt)
            assert len(gen[0]) <= len(prompt) + len(rec["continuation"])
        capsys.readouterr()
        assert cli.main(["evaluate", "--tasks", name, "--generations", str(path), "--json"]) == 0
        report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert report["docs"] == 2
        assert report["bigcode_passed"] == report["egcfg_passed_same_tests"]
        passed = sum(p for doc in report["bigcode_passed"] for p in doc)
        assert report["bigcode"]["pass@1"] == pytest.approx(passed / 2)
