"""Task name -> adapter, with lazy ``"module:Class"`` targets (importing this imports no adapter).

Recognised names: ours (``egcfg_mbpp``, ``egcfg_mbpp_plus``, ``egcfg_humaneval``,
``egcfg_humaneval_plus``, ``egcfg_humaneval_et``, ``egcfg_mbpp_et``, and ``mbpp_sanitized``,
``codecontests``, ``ds1000`` with or without the ``egcfg_`` prefix), and the stock lm-eval 0.4.x
code tasks (``mbpp``, ``mbpp_instruct``, ``mbpp_plus``, ``mbpp_plus_instruct``, ``humaneval``,
``humaneval_instruct``, ``humaneval_64``, ``humaneval_64_instruct``, ``humaneval_plus``).
The stock base variants default to the "base" prompt style, the instruct ones to "chat".

    from task_adapters.registry import get_adapter, adapter_for_task
    adapter = get_adapter("egcfg_mbpp")
    adapter, row = adapter_for_task("mbpp_instruct", doc)   # doc: an lm-eval Instance.doc
"""
from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TaskSpec:
    name: str
    target: str                   # "module:Class"
    style: str = "chat"           # default prompt style
    kwargs: dict = field(default_factory=dict)
    stock: bool = False           # a stock lm-eval task name


_M = "task_adapters."
TASKS: dict[str, TaskSpec] = {t.name: t for t in (
    # ours
    TaskSpec("egcfg_mbpp", _M + "mbpp:MBPPAdapter"),
    TaskSpec("egcfg_mbpp_plus", _M + "plus:MBPPPlusAdapter"),
    TaskSpec("egcfg_humaneval", _M + "humaneval:HumanEvalAdapter"),
    TaskSpec("egcfg_humaneval_plus", _M + "plus:HumanEvalPlusAdapter"),
    TaskSpec("egcfg_humaneval_et", _M + "et:HumanEvalETAdapter"),
    TaskSpec("egcfg_mbpp_et", _M + "et:MBPPETAdapter"),
    TaskSpec("egcfg_mbpp_sanitized", _M + "mbpp:MBPPSanitizedAdapter"),
    TaskSpec("egcfg_codecontests", _M + "codecontests:CodeContestsAdapter"),
    TaskSpec("egcfg_ds1000", _M + "ds1000:DS1000Adapter"),
    TaskSpec("mbpp_sanitized", _M + "mbpp:MBPPSanitizedAdapter"),
    TaskSpec("humaneval_et", _M + "et:HumanEvalETAdapter"),
    TaskSpec("mbpp_et", _M + "et:MBPPETAdapter"),
    TaskSpec("codecontests", _M + "codecontests:CodeContestsAdapter"),
    TaskSpec("ds1000", _M + "ds1000:DS1000Adapter"),
    # stock lm-eval 0.4.13 (lm_eval/tasks/mbpp, lm_eval/tasks/humaneval)
    TaskSpec("mbpp", _M + "mbpp:MBPPAdapter", style="base", stock=True),
    TaskSpec("mbpp_instruct", _M + "mbpp:MBPPAdapter", stock=True),
    TaskSpec("mbpp_plus", _M + "plus:MBPPPlusAdapter", style="base", stock=True),
    TaskSpec("mbpp_plus_instruct", _M + "plus:MBPPPlusAdapter", stock=True),
    TaskSpec("humaneval", _M + "humaneval:HumanEvalAdapter", style="base", stock=True),
    TaskSpec("humaneval_instruct", _M + "humaneval:HumanEvalAdapter", stock=True),
    TaskSpec("humaneval_64", _M + "humaneval:HumanEvalAdapter", style="base", stock=True),
    TaskSpec("humaneval_64_instruct", _M + "humaneval:HumanEvalAdapter", stock=True),
    TaskSpec("humaneval_plus", _M + "plus:HumanEvalPlusAdapter", style="base", stock=True),
)}

_instances: dict[str, object] = {}


class UnknownTask(KeyError):
    """A task name with no adapter."""

    def __str__(self) -> str:   # KeyError would print the repr of the message
        return self.args[0] if self.args else ""


def task_names() -> list[str]:
    return sorted(TASKS)


def spec_for(name: str) -> TaskSpec:
    if name in TASKS:
        return TASKS[name]
    close = difflib.get_close_matches(name, TASKS, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownTask(f"unknown task {name!r}.{hint} Known tasks: {', '.join(task_names())}")


def _load_target(target: str):
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


def get_adapter(name: str, **kwargs):
    """The adapter for task `name`; one shared instance per name unless `kwargs` are given
    (e.g. ``path=`` for a data file, ``split=`` for MBPP)."""
    spec = spec_for(name)
    if not kwargs and name in _instances:
        return _instances[name]
    adapter = _load_target(spec.target)(**{**spec.kwargs, **kwargs})
    adapter.default_style = spec.style
    adapter.task_name = name
    if not kwargs:
        _instances[name] = adapter
    return adapter


def has_adapter(task_name: str) -> bool:
    return task_name in TASKS


def adapter_for_task(task_name: str, doc: dict):
    """(adapter, row) for an lm-eval request: the adapter of `task_name`, and the dataset row that
    `doc` stands for, matched by task id (a hub row such as ``{"task_id": 11, ...}`` maps to the
    local MBPP row 11; ``"Mbpp/2"`` and ``2`` both reach MBPP+ task 2). When the local data has no
    such row, `doc` itself is returned and must carry the adapter's fields."""
    adapter = get_adapter(task_name)
    return adapter, adapter.find(doc)
