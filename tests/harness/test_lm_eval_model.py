"""`--model egcfg` (EGCFGLM) on the tiny random model: model_args checking, the prompt helpers on
the real tokenizer, and the answer strings matching HFLM's (same tokens, same `until` cut)."""
from __future__ import annotations

import logging

import pytest
import torch

pytest.importorskip("lm_eval")

from lm_eval.api.instance import Instance  # noqa: E402
from lm_eval.models.huggingface import HFLM  # noqa: E402

from egcfg_plugin.harness import lm_eval_tasks  # noqa: E402
from egcfg_plugin.core.decoding import Result  # noqa: E402
from egcfg_plugin.harness.lm_eval_hook import EGCFGUsageError  # noqa: E402
from egcfg_plugin.harness.lm_eval_model import (EGCFGLM, SETTINGS, code_prefix_in, configs_from_args,  # noqa: E402
                                        signal_point, split_model_args, strip_bos)
from egcfg_plugin.core.config import EGCFGConfig  # noqa: E402


# -- model_args -------------------------------------------------------------------------------------
def test_every_config_field_is_a_documented_setting():
    import dataclasses

    fields = {f.name for f in dataclasses.fields(EGCFGConfig)} - {"max_new_tokens"}
    assert fields <= set(SETTINGS)


@pytest.mark.parametrize("args, must_name", [
    ({"gama": 1.0}, ["'gama'", "Did you mean 'gamma'"]),
    ({"zzz_unheard_of": 1}, ["'zzz_unheard_of'", "docs/lm_eval.md"]),
    ({"max_new_tokens": 10}, ["'max_new_tokens'", "--gen_kwargs max_gen_toks"]),
    ({"s": 0}, ["s=0", "[1, 64]"]),
    ({"gamma": -1}, ["gamma=-1", "[0.0, 100.0]"]),
    ({"t": 0}, ["t=0", "(0.0, 10.0]"]),
    ({"prompt_style": "long"}, ["prompt_style", "'long'"]),
    ({"gamma": [0.0, -1.0]}, ["gamma=-1.0"]),
    ({"gamma": []}, ["gamma is an empty list"]),
])
def test_bad_model_args_name_the_key_and_the_range(args, must_name):
    with pytest.raises(EGCFGUsageError) as info:
        settings, _ = split_model_args(args)
        configs_from_args(settings)
    for text in must_name:
        assert text in str(info.value)
    assert len(str(info.value)) < 200, str(info.value)


def test_model_args_split_between_egcfg_and_hf():
    settings, hf = split_model_args({"gamma": 1.0, "s": 3, "dtype": "float32", "device": "cpu", "batch_size": 1,
                                     "attn_implementation": "eager"})
    assert settings == {"gamma": 1.0, "s": 3}
    assert hf == {"dtype": "float32", "device": "cpu", "batch_size": 1, "attn_implementation": "eager"}


def test_single_config_from_key_value_args():
    (cfg,) = configs_from_args({"gamma": 1.0, "s": 3, "t": 0.7, "d": 2})
    assert cfg == EGCFGConfig(gamma=1.0, s=3, t=0.7, d=2)


def test_lists_make_a_grid_in_agent_order():
    configs = configs_from_args({"gamma": [0.0, 1.0, 3.0], "t": [0.7, 1.2], "s": 2})
    # gamma=0 is plain greedy whatever t is: its duplicates collapse to one agent
    assert [c.compact for c in configs] == ["baseline", "s2t0.7d2k1g1.0", "s2t1.2d2k1g1.0",
                                            "s2t0.7d2k1g3.0", "s2t1.2d2k1g3.0"]


def test_named_grid_with_overrides():
    configs = configs_from_args({"grid": "quick", "seed": 5})
    assert len(configs) > 1 and all(c.seed == 5 for c in configs)
    with pytest.raises(EGCFGUsageError, match="either grid= or list values"):
        configs_from_args({"grid": "quick", "gamma": [0.0, 1.0]})
    with pytest.raises(EGCFGUsageError, match="no_such_grid"):
        configs_from_args({"grid": "no_such_grid"})


def test_create_from_arg_string_fails_before_loading_a_model():
    with pytest.raises(EGCFGUsageError, match="s=0"):
        EGCFGLM.create_from_arg_string("pretrained=/nonexistent/model,s=0")


def test_a_model_that_is_nowhere_fails_at_once(monkeypatch, tmp_path):
    import time

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(EGCFGUsageError, match="pretrained='nosuch/model' is no folder here.*HF_HUB_OFFLINE"):
        EGCFGLM.create_from_arg_string("pretrained=nosuch/model,gamma=1.0")
    with pytest.raises(EGCFGUsageError, match="no such folder or file"):
        EGCFGLM.create_from_arg_string(f"pretrained={tmp_path / 'nope'}")
    assert time.perf_counter() - t0 < 10


# -- prompt helpers -----------------------------------------------------------------------------------
CODE = 'def f(x):\n    """Add one.\n    >>> f(1)\n    2\n    """\n'


@pytest.fixture(scope="module")
def tok(tiny):
    return tiny[1]


def test_signal_goes_at_the_end_of_the_user_turn_in_a_chat_rendered_context(tok):
    user = "Complete f.\n"
    context = tok.apply_chat_template([{"role": "user", "content": user}, {"role": "assistant", "content": "```python\n" + CODE}],
                                      tokenize=False, continue_final_message=True)
    cp = code_prefix_in(context, CODE)
    assert cp and context.endswith(cp)
    at = signal_point(context, cp, tok)
    assert context[:at].endswith(user) and context[at:].startswith("<|im_end|>")
    plain = tok.apply_chat_template([{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True)
    at = signal_point(plain, "", tok)
    assert plain[:at].endswith(user) and plain[at:] == "<|im_end|>\n<|im_start|>assistant\n"


def test_signal_in_a_completion_context_goes_before_the_starting_code(tok):
    context = "Complete f.\n```python\n" + CODE
    assert signal_point(context, CODE, tok) == len(context) - len(CODE)
    assert signal_point("Write g.\n```python\n", "", tok) == len("Write g.\n```python\n")


def test_code_prefix_in_tolerates_stripped_trailing_whitespace():
    assert code_prefix_in("x\n" + CODE, CODE) == CODE
    assert code_prefix_in("x\n" + CODE.rstrip(), CODE) == CODE.rstrip()
    assert code_prefix_in("x\n" + CODE + "\n", CODE) == CODE + "\n"
    assert code_prefix_in("unrelated", CODE) == ""
    assert code_prefix_in("anything", "") == ""


def test_strip_bos_only_when_the_tokenizer_adds_it_back(tok):
    # Qwen's tokenizer adds no BOS: a context is left as it is
    text = (tok.bos_token or "") + "hello"
    assert strip_bos(text, tok) == text

    class AddsBos:
        bos_token, bos_token_id = "<s>", 1

        def __call__(self, text, add_special_tokens=True):
            ids = [ord(c) for c in text]
            return type("E", (), {"input_ids": ([1] if add_special_tokens else []) + ids})()

    assert strip_bos("<s>hello", AddsBos()) == "hello"
    assert strip_bos("hello", AddsBos()) == "hello"


# -- answers match HFLM --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lms(tiny):
    model, tok = tiny
    hf = HFLM(pretrained=model, tokenizer=tok, device="cpu", batch_size=1)
    eg = EGCFGLM(pretrained=model, tokenizer=tok, device="cpu", batch_size=1, gamma=0.0)
    return eg, hf


def request(context, task="no_such_task", doc=None, until=("\nzzz",), max_gen_toks=12, **extra):
    gen = {"until": list(until), "max_gen_toks": max_gen_toks, "do_sample": False, **extra}
    return Instance("generate_until", doc or {}, (context, gen), 0, (task, 0, 1))


def test_continuation_after_an_early_loop_stop_reproduces_hf_greedy(lms, tiny):
    eg, hf = lms
    model, tok = tiny
    context = "Once upon a time"          # the tiny model's greedy text changes token after 8 steps
    ids = tok(context, return_tensors="pt").input_ids
    greedy = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, do_sample=False,
                            pad_token_id=tok.pad_token_id)[0, ids.shape[1]:].tolist()
    until = [tok.decode(greedy[7:9])]        # a stop string HF meets after 9 tokens
    assert until[0] not in tok.decode(greedy[:3]) and len(set(greedy)) > 1
    (expected,) = hf.generate_until([request(context, until=until)])
    early = Result(task_id="t", code="", text="", config="baseline", seed=0, stop_reason="end_of_code",
                   tokens=greedy[:3])
    assert eg._answer(early, context, until + ["<|im_end|>"], 12) == expected
    # a loop that already wrote past the stop string is cut exactly like HF
    late = Result(task_id="t", code="", text="", config="baseline", seed=0, stop_reason="max_new_tokens",
                  tokens=greedy)
    assert eg._answer(late, context, until + ["<|im_end|>"], 12) == expected


def test_gamma0_on_an_adapter_task_equals_hf(lms):
    eg, hf = lms
    docs = lm_eval_tasks.load_docs("egcfg_mbpp")["test"]
    reqs = []
    for i in range(2):
        doc = docs[i]
        reqs.append(request(doc["user_text"] + doc["gen_prefix"], task="egcfg_mbpp", doc=doc, until=["```", "\nassert"]))
    ours = eg.generate_until(reqs)
    theirs = hf.generate_until(reqs)
    assert ours == theirs
    summary = ours[0].egcfg_summary        # the answer carries its summary to process_results
    assert summary["config"].startswith("baseline") and summary["lines"] == len(summary["per_line"])
    assert not hasattr(lm_eval_tasks, "_SUMMARIES")


def test_requests_without_an_adapter_are_generated_plainly_with_one_warning(lms, caplog):
    eg, hf = lms
    reqs = [request("Once upon a time"), request("The answer is")]
    with caplog.at_level(logging.WARNING, logger="egcfg_plugin.harness.lm_eval_model"):
        ours = eg.generate_until(reqs)
    assert ours == hf.generate_until(reqs)
    warnings = [r for r in caplog.records if "no task adapter" in r.getMessage()]
    assert len(warnings) == 1 and "no_such_task" in warnings[0].getMessage()


def test_loglikelihood_is_the_stock_one(lms):
    eg, hf = lms
    reqs = [Instance("loglikelihood", {}, ("def f(x):", " return x"), 0, ("t", 0, 1))]
    assert eg.loglikelihood(reqs) == hf.loglikelihood(reqs)


def test_list_model_args_run_a_grid_of_agents(tiny):
    model, tok = tiny
    eg = EGCFGLM(pretrained=model, tokenizer=tok, device="cpu", batch_size=1, gamma=[0.0, 1.0], s=2)
    assert [c.compact for c in eg.egcfg_configs] == ["baseline", "s2t0.7d2k1g1.0"]
    doc = lm_eval_tasks.load_docs("egcfg_mbpp")["test"][0]
    (text,) = eg.generate_until([request(doc["user_text"] + doc["gen_prefix"], task="egcfg_mbpp", doc=doc,
                                         until=["```"], max_gen_toks=8)])
    assert isinstance(text, str)
    summary = text.egcfg_summary
    assert summary["agent_configs"][0].startswith("baseline") and summary["agents_run"] == 2
    assert summary["rule"] in ("first_visible_pass", "most_visible", "no_visible_tests")


@pytest.mark.parametrize("benchmark", ["egcfg_mbpp", "egcfg_humaneval"])
def test_chat_rendered_context_gives_the_same_split_prompt_as_compare(tok, benchmark):
    """Under --apply_chat_template the lm-eval Problem must split and wrap exactly like the adapter's
    chat Problem that `egcfg compare` uses, so both paths generate (and cache) the same thing."""
    import types

    from egcfg_plugin.core.prompts import split_prompt
    from task_adapters.registry import get_adapter

    adapter = get_adapter(benchmark)
    row = adapter.load(limit=1)[0]
    doc = lm_eval_tasks.make_doc(benchmark, adapter, row)
    # what lm-eval renders for doc_to_text + gen_prefix with the chat template
    context = tok.apply_chat_template([{"role": "user", "content": doc["user_text"]},
                                       {"role": "assistant", "content": doc["gen_prefix"]}],
                                      tokenize=False, continue_final_message=True)
    fake = types.SimpleNamespace(_chat_rendered=True, tokenizer=tok)
    ours = split_prompt(EGCFGLM.problem_for(fake, adapter, row, context, doc), tok)
    theirs = split_prompt(adapter.problem(row, style="chat"), tok)
    assert (ours.before, ours.after, ours.chat) == (theirs.before, theirs.after, True)
    fake._chat_rendered = False     # a completion-style context: the signal is a comment block
    assert split_prompt(EGCFGLM.problem_for(fake, adapter, row, context, doc), tok).chat is False
