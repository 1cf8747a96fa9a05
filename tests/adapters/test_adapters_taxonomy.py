"""The test taxonomy on real rows (issue 12): every adapter declares, per task, which scored tests
are seen and which are never seen, and a never-seen test is never in the prompt (either wording,
either style) nor among the visible tests handed to the decoding loop, which are all that its
signal and the selection rule (agents.selection, core.visible.visible_score) ever run."""
from __future__ import annotations

import pytest

from task_adapters.base import NEVER_SEEN, SEEN, TEST_KINDS
from task_adapters.common import Adapter, call_key, call_keys
from task_adapters.prompts import WORDINGS


def _load(adapter, n=None):
    from task_adapters import data

    try:
        rows = adapter.load()
    except data.DataNotFound as e:
        pytest.skip(str(e))
    return rows[:n] if n else rows


def _prompts(adapter, row) -> str:
    """Every prompt a generation could be given for `row`: both wordings, both styles."""
    texts = []
    for wording in WORDINGS:
        for style in ("chat", "base"):
            p = adapter.problem(row, style=style, wording=wording)
            texts.append("\n".join(m["content"] for m in p.prompt) if p.is_chat else p.prompt)
            texts.append(p.response_prefix + p.code_prefix)
    return "\n".join(texts)


def _visible_handed_to_decoding(adapter, row) -> list:
    tests = []
    for wording in WORDINGS:
        for style in ("chat", "base"):
            tests += list(adapter.problem(row, style=style, wording=wording).visible_tests)
    assert all(t in adapter.visible_tests(row) for t in tests)
    return tests


def _kinds(adapter, row) -> list[str]:
    kinds = adapter.test_kinds(row)
    assert len(kinds) == len(adapter.hidden_tests(row)) and set(kinds) <= set(TEST_KINDS)
    return kinds


@pytest.mark.parametrize("name", ["egcfg_mbpp", "egcfg_mbpp_sanitized", "egcfg_mbpp_plus", "egcfg_humaneval",
                                  "egcfg_humaneval_plus", "egcfg_codecontests", "egcfg_ds1000",
                                  "egcfg_mbpp_et", "egcfg_humaneval_et"])
def test_every_adapter_declares_its_taxonomy(name):
    from task_adapters.registry import get_adapter, spec_for

    cls = type(get_adapter(name)) if "_et" not in name else None
    if cls is None:
        module, _, cls_name = spec_for(name).target.partition(":")
        import importlib
        cls = getattr(importlib.import_module(module), cls_name)
    assert cls.test_kinds is not Adapter.test_kinds and cls.taxonomy is not Adapter.taxonomy
    assert cls.taxonomy.seen


def test_mbpp_challenge_asserts_are_the_only_never_seen_tests():
    from task_adapters.registry import get_adapter

    adapter = get_adapter("egcfg_mbpp")
    rows = _load(adapter)
    with_challenge = 0
    for row in rows:
        kinds = _kinds(adapter, row)
        asserts = adapter.hidden_asserts(row)
        never = [a for a, k in zip(asserts, kinds) if k == NEVER_SEEN]
        assert never == [a.strip() for a in row.get("challenge_test_list") or []]
        assert [a for a, k in zip(asserts, kinds) if k == SEEN] == adapter.visible_asserts(row)
        if never:
            with_challenge += 1
            shown = _prompts(adapter, row)
            visible = {(t.code, t.expected) for t in _visible_handed_to_decoding(adapter, row)}
            for a in never:
                assert a not in shown and call_key(a) not in {call_key(c) for c, _ in visible}
    assert with_challenge == 11


@pytest.mark.parametrize("name", ["egcfg_mbpp_plus", "egcfg_humaneval_plus"])
def test_plus_never_seen_inputs_are_never_shown(name):
    from task_adapters.plus import input_key, literal_call_args
    from task_adapters.registry import get_adapter

    adapter = get_adapter(name)
    rows = _load(adapter)
    for row in rows:
        parts = adapter.input_parts(row)
        assert [k for _, k, _, _ in parts] == _kinds(adapter, row)
        visible = _visible_handed_to_decoding(adapter, row)
        shown_keys = {input_key(a) for a in (literal_call_args(t.code, row["entry_point"]) for t in visible)
                      if a is not None}
        never = [input_key(inputs[i]) for _, k, inputs, idx in parts if k == NEVER_SEEN for i in idx]
        assert never and not set(never) & shown_keys, adapter.task_id(row)
        # every scored input is in exactly one part
        total = sum(len(idx) for _, _, _, idx in parts)
        base, plus = adapter.inputs(row)
        assert total == len(base) + len(plus)


def test_humaneval_check_is_never_seen_only_when_it_makes_no_visible_call():
    from task_adapters.registry import get_adapter

    adapter = get_adapter("egcfg_humaneval")
    rows = _load(adapter)
    never = 0
    for row in rows:
        (kind,) = _kinds(adapter, row)
        shown = _prompts(adapter, row)
        assert row["test"].strip() not in shown
        visible = {call_key(t.code) for t in _visible_handed_to_decoding(adapter, row)} - {None}
        made = call_keys(row["test"], row["entry_point"])
        assert (kind == NEVER_SEEN) == (not visible & made), adapter.task_id(row)
        never += kind == NEVER_SEEN
    assert 0 < never < len(rows)


def test_codecontests_private_tests_are_not_the_public_examples():
    from task_adapters.registry import get_adapter

    adapter = get_adapter("egcfg_codecontests")
    for row in _load(adapter):
        kinds = _kinds(adapter, row)
        visible = {(t.stdin.strip(), t.expected_stdout.strip()) for t in _visible_handed_to_decoding(adapter, row)}
        for (i, o), k in zip(adapter.hidden_pairs(row), kinds):
            assert ((i.strip(), o.strip()) in visible) == (k == SEEN)


def test_ds1000_has_no_never_seen_figure():
    from task_adapters.registry import get_adapter

    adapter = get_adapter("egcfg_ds1000")
    for row in _load(adapter, 50):
        assert _kinds(adapter, row) == [SEEN]


def test_et_extended_asserts_split_into_seen_and_never_seen(et_samples):
    from task_adapters.et import HumanEvalETAdapter, MBPPETAdapter

    for adapter, field in ((MBPPETAdapter(path=et_samples / "MBPP_ET.sample3.jsonl"), "test_list"),
                           (HumanEvalETAdapter(path=et_samples / "HumanEval_ET.sample3.jsonl"), "test_case_list")):
        for row in _load(adapter):
            kinds = _kinds(adapter, row)
            assert kinds[-1] == NEVER_SEEN
            shown = _prompts(adapter, row)
            visible = {call_key(t.code) for t in _visible_handed_to_decoding(adapter, row)} - {None}
            never = [a for a, k in adapter._parts(row) if k == NEVER_SEEN][0]
            assert len(never) > 50
            for a in never:
                assert a not in shown and call_key(a) not in visible
            if adapter.name == "mbpp_et":
                assert kinds == [SEEN, NEVER_SEEN]
