"""The task registry: names (ours and lm-eval's stock code tasks), lazy targets, row lookup."""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from task_adapters import registry
from task_adapters.registry import UnknownTask, adapter_for_task, get_adapter, has_adapter

OURS = ["egcfg_mbpp", "egcfg_mbpp_plus", "egcfg_humaneval", "egcfg_humaneval_plus", "egcfg_humaneval_et",
        "egcfg_mbpp_et", "mbpp_sanitized", "codecontests", "ds1000"]


def stock_code_tasks() -> list[str]:
    """Task names declared by the installed lm-eval's mbpp and humaneval task folders."""
    spec = importlib.util.find_spec("lm_eval")
    if spec is None:
        pytest.skip("lm-eval is not installed")
    root = Path(spec.origin).parent / "tasks"
    names = []
    for folder in ("mbpp", "humaneval"):
        for yaml in sorted((root / folder).glob("*.yaml")):
            m = re.search(r"^task:\s*(\S+)", yaml.read_text(), re.M)
            if m:
                names.append(m.group(1))
    return names


def test_every_stock_lm_eval_code_task_has_an_adapter():
    names = stock_code_tasks()
    assert {"mbpp", "humaneval", "mbpp_plus", "humaneval_plus", "mbpp_instruct", "humaneval_instruct"} <= set(names)
    missing = [n for n in names if not has_adapter(n)]
    assert missing == []


@pytest.mark.parametrize("name", OURS)
def test_our_task_names_have_adapters(name):
    assert has_adapter(name)
    assert get_adapter(name).default_style == "chat"


def test_stock_base_tasks_default_to_base_prompts_and_instruct_to_chat():
    for name in stock_code_tasks():
        style = get_adapter(name).default_style
        assert style == ("chat" if "instruct" in name else "base"), name


def test_unknown_name_suggests_the_close_ones():
    with pytest.raises(UnknownTask) as info:
        get_adapter("egcfg_mbp")
    msg = str(info.value)
    assert "unknown task 'egcfg_mbp'" in msg and "Did you mean 'egcfg_mbpp'" in msg
    assert isinstance(info.value, KeyError)
    with pytest.raises(UnknownTask, match="Known tasks: .*codecontests"):
        get_adapter("zzzz")


def test_importing_the_registry_imports_no_adapter_module():
    code = ("import sys, task_adapters.registry as r; "
            "print(sorted(m for m in sys.modules if m.startswith('task_adapters.') and m != 'task_adapters.registry'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout
    assert out.strip() == "[]"


def test_same_instance_per_name_unless_arguments_are_given(tmp_path):
    assert get_adapter("egcfg_mbpp") is get_adapter("egcfg_mbpp")
    other = get_adapter("egcfg_mbpp", split="validation")
    assert other is not get_adapter("egcfg_mbpp") and other.split == "validation"


def test_every_target_resolves_to_a_class_with_the_protocol():
    for name, spec in registry.TASKS.items():
        cls = registry._load_target(spec.target)
        for method in ("load", "task_id", "problem", "visible_tests", "hidden_tests", "score"):
            assert callable(getattr(cls, method, None)), (name, method)


def _local(adapter_name):
    from task_adapters.data import DataNotFound

    adapter = get_adapter(adapter_name)
    try:
        adapter.all_rows()
    except DataNotFound as e:
        pytest.skip(str(e))
    return adapter


def test_adapter_for_task_maps_hub_rows_to_local_rows():
    _local("mbpp")
    adapter, row = adapter_for_task("mbpp_instruct", {"task_id": 11, "text": "hub copy", "test_list": []})
    assert adapter.name == "mbpp" and row["task_id"] == 11 and row["text"] != "hub copy"
    _local("mbpp_plus")
    _, row = adapter_for_task("mbpp_plus", {"task_id": 2, "prompt": "hub copy"})   # hub ids are ints
    assert row["task_id"] == "Mbpp/2" and "base_input" in row
    _, row = adapter_for_task("egcfg_humaneval", {"task_id": "HumanEval/3"})
    assert row["task_id"] == "HumanEval/3" and "canonical_solution" in row


def test_adapter_for_task_returns_an_unknown_doc_itself():
    doc = {"task_id": "HumanEval/9999", "prompt": "def f():\n    pass\n", "entry_point": "f", "test": ""}
    _, row = adapter_for_task("humaneval", doc)
    assert row is doc
