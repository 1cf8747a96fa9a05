"""`lm_eval --model egcfg`: the stock HF model, with EG-CFG for code-generation requests.

    lm_eval --model egcfg --model_args pretrained=default,gamma=1.0,s=3,t=0.7,d=2 \
        --tasks egcfg_humaneval --confirm_run_unsafe_code
    lm_eval --model egcfg --model_args '{"pretrained": "default", "gamma": [0.0, 1.0], "t": 0.7}' ...

Loglikelihood requests behave as in `HFLM`. A `generate_until` request whose task has a task
adapter (ours, and the stock humaneval/mbpp families) is decoded by the EG-CFG loop, guided by
the doc's visible tests; other requests are generated plainly, with one warning per task.

The answer string follows HFLM's contract exactly: the generated text, cut at the first `until`
string. When the loop stops where HF generate would not (its end-of-code rule, or an end token HF
does not stop on) before any `until` string appeared, plain greedy decoding continues to the
`until` strings, so gamma=0 gives the same strings as `--model hf` (greedy, batch size 1).

List values (JSON form, or `gamma=[0,1.0]`) make a grid of agents; `grid=quick` reads a grid
file. A grid runs through `egcfg_plugin.agents.solve` (the first agent passing the visible tests).
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import inspect
import logging

# the helpers HFLM.generate_until itself uses, so that our answers are cut exactly as its are
from lm_eval.models.huggingface import (HFLM, handle_stop_sequences, normalize_gen_kwargs,
                                        postprocess_generated_text, stop_sequences_criteria)

from egcfg_plugin.core import config
from egcfg_plugin.harness import lm_eval_tasks
from egcfg_plugin.core.config import EGCFGConfig
from egcfg_plugin.harness.lm_eval_hook import EGCFGUsageError

log = logging.getLogger(__name__)

# EG-CFG settings accepted in --model_args, with their allowed values (for the error messages).
SETTINGS = {
    "gamma": "a number in [0, 100]; 0 is plain greedy decoding",
    "s": "an integer in [1, 64] (candidates per refresh)",
    "t": "a number in (0, 10] (candidate temperature)",
    "top_p": "a number in (0, 1]",
    "d": "an integer in [1, 64] (candidate horizon, lines)",
    "k": "an integer in [1, 64] (refresh every k lines)",
    "prompt_style": "full or brief",
    "seed": "an integer >= 0",
    "accept_visible_pass": "true or false",
    "early_stop_repeats": "an integer in [0, 1000]; 0 turns the early stop off",
    "max_signal_chars": "an integer >= 200",
    "plausibility": "a number in [0, 1]; for gamma > 1, the floor on a token's probability relative to the top token (0 = off)",
    "cache": "true or false (default true): reuse generations from the shared cache (~/.cache/egcfg)",
    "grid": "a shipped grid name (quick, paper_grid), a grid YAML path, or compact configs",
}
# from_pretrained keywords HFLM forwards through **kwargs that users commonly pass.
HF_PASSTHROUGH = ("attn_implementation", "low_cpu_mem_usage", "device_map", "torch_dtype", "use_safetensors",
                  "cache_dir", "local_files_only", "token", "quantization_config")
_STOPS_AS_HF = ("eos", "end_of_code")      # loop stops that HF generate may not share
_FROM_TOKENS = ("eos", "end_of_code", "max_new_tokens")   # Result.tokens spell the answer


class EGCFGLM(HFLM):
    """HFLM whose generate_until runs EG-CFG for tasks with an adapter."""

    def __init__(self, pretrained: str = "default", **kwargs) -> None:
        # backend=llamacpp (threads=, n_ctx=): EG-CFG decodes on llama.cpp with the GGUF of the same
        # name; backend=endpoint (base_url=, model_name=, tokenizer=, ...): on a served model. The
        # transformers model (`pretrained`) still serves loglikelihood and plain requests. (HFLM's
        # own `backend` takes causal/seq2seq, so only hf/llamacpp/endpoint are taken here.)
        from egcfg_plugin.core.backend import ENDPOINT_KEYS

        engine = kwargs.pop("backend") if kwargs.get("backend") in ("hf", "llamacpp", "endpoint") else "hf"
        keys = [k for k in ENDPOINT_KEYS if k != "tokenizer"] if engine == "endpoint" else ("threads", "n_ctx")
        engine_args = {k: kwargs.pop(k) for k in keys if k in kwargs}
        if engine == "endpoint":   # HFLM's tokenizer (or pretrained's) is the served model's
            named = kwargs.get("tokenizer") if isinstance(kwargs.get("tokenizer"), str) else pretrained
            engine_args["tokenizer"] = named if isinstance(named, str) else "default"
        self._engine = None
        if engine in ("llamacpp", "endpoint"):
            from egcfg_plugin.core.backend import ModelSpec
            from egcfg_plugin.core.models import load_model

            name = str(pretrained) if engine == "llamacpp" else "endpoint"
            self._engine = load_model(str(ModelSpec.make(name, engine, **engine_args)))
        elif engine_args:
            raise EGCFGUsageError(f"--model_args: {', '.join(engine_args)} need backend=llamacpp")
        settings, hf_args = split_model_args(kwargs)
        self.egcfg_cache = parse_bool("cache", settings.pop("cache", True))
        self.egcfg_configs = configs_from_args(settings)
        if isinstance(pretrained, str):
            from egcfg_plugin.core.models import model_unavailable, resolve_model_path

            why = model_unavailable(pretrained)
            if why:   # at once, instead of waiting on a hub that is out of reach
                raise EGCFGUsageError(f"--model_args pretrained={why}")
            pretrained = resolve_model_path(pretrained)
        super().__init__(pretrained=pretrained, **hf_args)
        if self.backend != "causal":
            raise EGCFGUsageError(f"EG-CFG needs a causal (decoder-only) model; {pretrained!r} is {self.backend}")
        self._warned: set[str] = set()
        self._chat_rendered = False
        self._cache = None          # the shared GenerationCache and this model's identity in it,
        self._model_id = None       # both set on first use when `cache` is on
        log.info("egcfg: %d agent(s): %s", len(self.egcfg_configs), ", ".join(c.compact for c in self.egcfg_configs))

    # -- requests -------------------------------------------------------------------------------
    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        from tqdm import tqdm

        out: list[str | None] = [None] * len(requests)
        plain: list[int] = []
        jobs = []
        for i, req in enumerate(requests):
            job = self._job(req)
            if job is None:
                plain.append(i)
                self._warn_once(req.task_name, f"egcfg: task {req.task_name!r} has no task adapter; "
                                               f"its requests are generated plainly (no EG-CFG)")
            else:
                jobs.append((i, req, job))
        for i, req, (adapter, row) in tqdm(jobs, disable=disable_tqdm or self.rank != 0,
                                           desc="EG-CFG generate_until"):
            out[i] = self._generate_one(req, adapter, row)
        if plain:
            texts = super().generate_until([requests[i] for i in plain], disable_tqdm=disable_tqdm)
            for i, text in zip(plain, texts):
                out[i] = text
        return out  # type: ignore[return-value]

    def _job(self, req):
        """(adapter, row) for a request whose task an adapter knows, else None."""
        doc = req.doc if isinstance(req.doc, dict) else {}
        adapter = lm_eval_tasks.find_adapter(doc.get("benchmark")) or lm_eval_tasks.find_adapter(req.task_name)
        if adapter is None:
            return None
        return adapter, lm_eval_tasks.row_for(adapter, doc)

    def _generate_one(self, req, adapter, row) -> str:
        context, gen_kwargs = req.args
        kwargs = normalize_gen_kwargs(copy.deepcopy(gen_kwargs), self.max_gen_toks)
        eos = self.tok_decode(self.eot_token_id, skip_special_tokens=False)
        until = handle_stop_sequences(kwargs.pop("until", None), eos=eos)
        max_gen_toks = kwargs.pop("max_gen_toks")
        if kwargs.get("do_sample"):
            self._warn_once("do_sample", "egcfg: EG-CFG decodes greedily; do_sample/temperature in gen_kwargs are "
                                         "ignored (the candidates' temperature is the t= model arg)")
        problem = self.problem_for(adapter, row, context, req.doc if isinstance(req.doc, dict) else {})
        configs = [c.replace(max_new_tokens=max_gen_toks) for c in self.egcfg_configs]
        result, selection = self._decode(problem, configs)
        text = self._answer(result, context, until, max_gen_toks)
        self.cache_hook.add_partial("generate_until", (context, gen_kwargs), text)
        # the answer carries its summary to the task's process_results (no state between the two)
        return lm_eval_tasks.with_summary(text, lm_eval_tasks.summarize(result, selection))

    def problem_for(self, adapter, row: dict, context: str, doc: dict):
        """The adapter's Problem (visible tests, entry point) with lm-eval's context as the prompt."""
        try:
            base = adapter.problem(row, style="base")
        except ValueError as e:
            raise EGCFGUsageError(f"{adapter.name}: {e}") from None
        code_prefix = code_prefix_in(context, doc.get("code_prefix", base.code_prefix))
        chat = self._chat_rendered
        if not chat:
            context = strip_bos(context, self.tokenizer)
        return dataclasses.replace(base, prompt=context, code_prefix=code_prefix, chat_rendered=chat,
                                   signal_at=signal_point(context, code_prefix, self.tokenizer))

    def apply_chat_template(self, chat_history, add_generation_prompt: bool = True) -> str:
        # lm-eval calls this only under --apply_chat_template: the contexts are then chat text.
        self._chat_rendered = True
        return super().apply_chat_template(chat_history, add_generation_prompt=add_generation_prompt)

    def _decode(self, problem, configs):
        """Through the agents' selection and the shared generation cache, so a generation that
        `egcfg compare` (or an earlier lm_eval run) made is read back, not made again."""
        from egcfg_plugin.agents.solve import solve

        if self._cache is None and self.egcfg_cache:
            from egcfg_plugin.agents.solve import model_identity
            from egcfg_plugin.agents.cache import GenerationCache

            self._cache = GenerationCache()
            self._model_id = model_identity(self._engine[0] if self._engine else self.model)
        model, tokenizer = self._engine or (self.model, self.tokenizer)
        selection = solve(model, tokenizer, problem, configs, cache=self._cache, model_id=self._model_id)
        return selection.result, (selection if len(configs) > 1 else None)

    def _answer(self, result, context: str, until: list[str], max_gen_toks: int) -> str:
        """The answer as HFLM.generate_until would return it for the same tokens."""
        if result.stop_reason in _FROM_TOKENS:
            raw = self.tok_decode(result.tokens)
            if result.stop_reason in _STOPS_AS_HF and not any(u and u in raw for u in until):
                raw = self._continue_plain(context, result.tokens, until, max_gen_toks)
        else:   # the loop took a whole candidate (early stop, visible pass): its text is the answer
            raw = result.text
        think = self.think_end_token if isinstance(self.think_end_token, str) else None
        return postprocess_generated_text(raw, until, think)

    def _continue_plain(self, context: str, tokens: list[int], until: list[str], max_gen_toks: int) -> str:
        """Greedy HF generate from context + tokens, with HFLM's stop criteria counted from the
        end of the context; returns the decoded continuation including `tokens`.

        The cache is rebuilt as HFLM's own generate built it: the context in one forward, then
        `tokens` one at a time. One forward over context + tokens would round differently (bf16
        on CPU), and greedy would part from HFLM's text a few hundred tokens later."""
        import torch

        from egcfg_plugin.core.backend_hf import HFBackend

        if len(tokens) >= max_gen_toks:
            return self.tok_decode(tokens)
        ctx, _ = self.tok_batch_encode([context], left_truncate_len=self.max_length - max_gen_toks,
                                       truncation=self.truncation)
        ids = torch.cat([ctx, torch.tensor([tokens], dtype=ctx.dtype)], dim=1).to(self.device)
        stopping = stop_sequences_criteria(self.tokenizer, until, ctx.shape[1], 1)
        with torch.no_grad(), torch.autocast(device_type=self.device.type, dtype=self.mixed_precision_dtype,
                                             enabled=self.mixed_precision_dtype is not None):
            cache = {}
            if tokens:
                stream = HFBackend(self.model, self.tokenizer).stream(ctx[0].tolist())
                for t in tokens[:-1]:      # generate() itself runs the last one
                    stream.push(t)
                name = "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"
                cache = {name: stream.cache}   # `cache` in newer transformers
            out = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **cache,
                                      max_length=ctx.shape[1] + max_gen_toks, stopping_criteria=stopping,
                                      pad_token_id=self.tokenizer.pad_token_id, use_cache=True, do_sample=False)
        return self.tok_decode(out[0, ctx.shape[1]:].tolist())

    def _warn_once(self, key, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message)


# -- model_args -------------------------------------------------------------------------------------
def hf_arg_names() -> set[str]:
    params = inspect.signature(HFLM.__init__).parameters
    return {n for n, p in params.items() if n != "self" and p.kind is not p.VAR_KEYWORD} | set(HF_PASSTHROUGH)


def split_model_args(kwargs: dict) -> tuple[dict, dict]:
    """(EG-CFG settings, HFLM arguments). Unknown keys raise EGCFGUsageError naming them."""
    hf_names = hf_arg_names()
    settings, hf_args = {}, {}
    for key, value in kwargs.items():
        if key in SETTINGS:
            settings[key] = value
        elif key in hf_names:
            hf_args[key] = value
        else:
            raise EGCFGUsageError(unknown_key_message(key, hf_names))
    return settings, hf_args


def parse_bool(key: str, value) -> bool:
    try:
        return config.parse_bool(value)
    except ValueError:
        raise EGCFGUsageError(f"--model_args: {key}={value!r} must be true or false") from None


def unknown_key_message(key: str, hf_names: set[str]) -> str:
    close = difflib.get_close_matches(key, list(SETTINGS) + sorted(hf_names), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    if key == "max_new_tokens":
        hint = " The answer length comes from the task; change it with --gen_kwargs max_gen_toks=N."
    if close or key == "max_new_tokens":
        return f"--model_args: unknown key {key!r} for --model egcfg.{hint}"
    return (f"--model_args: unknown key {key!r} for --model egcfg; the EG-CFG settings are listed in "
            f"docs/lm_eval.md, other keys go to HFLM")


def configs_from_args(settings: dict) -> list[EGCFGConfig]:
    """The agents: one config, or a grid when a value is a list or `grid=` names one
    (agents.grid.grid_from_settings, the one owner of grid parsing)."""
    from egcfg_plugin.agents.grid import grid_from_settings

    try:
        return grid_from_settings(settings, source="--model_args")
    except (ValueError, TypeError, FileNotFoundError) as e:
        msg = str(e.args[0] if isinstance(e, FileNotFoundError) and e.args else e)
        raise EGCFGUsageError(msg if msg.startswith("--model_args") else f"--model_args: {msg}") from None


# -- prompt helpers ---------------------------------------------------------------------------------
_SENTINEL = "\x00EGCFG_USER_END\x00"


def chat_user_suffix(tokenizer) -> str | None:
    """What the tokenizer's chat template writes after a user message's text, up to the start of
    the assistant's answer (e.g. "<|im_end|>\\n<|im_start|>assistant\\n"); None without a template."""
    if getattr(tokenizer, "chat_template", None) is None:
        return None
    try:
        text = tokenizer.apply_chat_template([{"role": "user", "content": _SENTINEL}], tokenize=False,
                                             add_generation_prompt=True)
    except Exception:   # templates raise anything (TemplateError, ValueError, ...)
        return None
    if not isinstance(text, str) or _SENTINEL not in text:
        return None
    suffix = text.split(_SENTINEL, 1)[1]
    return suffix or None


def signal_point(context: str, code_prefix: str, tokenizer) -> int:
    """Where the EG-CFG signal goes in lm-eval's context string: at the end of the last user turn
    when the context is chat-rendered; else just before the code the answer starts with; else at
    the end (where the answer's code begins)."""
    suffix = chat_user_suffix(tokenizer)
    if suffix:
        for candidate in (suffix, suffix.rstrip()):   # with a gen_prefix the assistant turn is open
            at = context.rfind(candidate)
            if candidate and at >= 0:
                return at
    if code_prefix and context.endswith(code_prefix):
        return len(context) - len(code_prefix)
    return len(context)


def code_prefix_in(context: str, code_prefix: str) -> str:
    """The tail of `context` that is the answer's starting code: `code_prefix` itself, or the
    same code with different trailing whitespace (chat templates may strip it); "" if absent."""
    if not code_prefix:
        return ""
    if context.endswith(code_prefix):
        return code_prefix
    core = code_prefix.rstrip()
    at = context.rfind(core) if core else -1
    if at >= 0 and not context[at + len(core):].strip():
        return context[at:]
    return ""


def strip_bos(context: str, tokenizer) -> str:
    """HFLM encodes a context that already starts with the BOS text without adding another; the
    EG-CFG loop always lets the tokenizer add its special tokens, so drop the text BOS then."""
    bos = getattr(tokenizer, "bos_token", None)
    if not bos or not context.startswith(bos):
        return context
    with_special = tokenizer("x", add_special_tokens=True).input_ids
    without = tokenizer("x", add_special_tokens=False).input_ids
    adds_bos = len(with_special) > len(without) and with_special[0] == tokenizer.bos_token_id
    return context[len(bos):] if adds_bos else context
