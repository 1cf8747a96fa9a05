"""Prompt wordings: the standard one each benchmark's literature reports with, and ours.

Two named wordings (run.json records which one a run used; `egcfg compare` never mixes them):

- ``standard`` (the default): the wording the literature reports numbers with, written here from
  its published description.
  - MBPP (full, sanitized, MBPP-ET): the MBPP paper's prompt (Austin et al. 2021, section 2.2) as
    the user turn, "You are an expert Python programmer, and here is your task: {text} Your code
    should pass these tests:" then a blank line and the asserts; the assistant turn is prefilled
    with a python fence.
  - HumanEval, HumanEval+, HumanEval-ET and MBPP+: EvalPlus's instruct flow (EvalPlus, Apache-2.0,
    ``evalplus.codegen`` / ``provider.utility.make_raw_chat_prompt``): the user turn asks for a
    self-contained script and quotes the task prompt in a plain fence; the assistant turn is
    prefilled with EvalPlus's response sentence and a python fence, and the answer is written
    from scratch (no code prefix).
  - CodeContests and DS-1000 have no chat wording of record; both names give the project's.
- ``project``: the wording this project used before (issue 12), kept to reproduce old runs.

Base-style (plain text) prompts: HumanEval and MBPP+ continue the task prompt as EvalPlus's base
flow does under both names; MBPP's standard base prompt is the paper's text followed by a fence.
"""
from __future__ import annotations

STANDARD = "standard"
PROJECT = "project"
WORDINGS = (STANDARD, PROJECT)
DEFAULT_WORDING = STANDARD

MBPP_PAPER = ("You are an expert Python programmer, and here is your task: {text} "
              "Your code should pass these tests:\n\n{tests}")
EVALPLUS_INSTRUCTION = ("Please provide a self-contained Python script that solves the following problem "
                        "in a markdown code block:")
EVALPLUS_RESPONSE = ("Below is a Python script with a self-contained function that solves the problem "
                     "and passes corresponding tests:")


def check_wording(wording: str | None) -> str:
    """The wording name, `DEFAULT_WORDING` for None; ValueError naming the choices otherwise."""
    if wording is None:
        return DEFAULT_WORDING
    if wording not in WORDINGS:
        raise ValueError(f"prompt wording must be one of {WORDINGS}, got {wording!r}")
    return wording


def mbpp_paper(description: str, tests: str) -> str:
    """The MBPP paper's prompt for one task: its description and its asserts, one per line."""
    return MBPP_PAPER.format(text=description.strip(), tests=tests.strip("\n"))


def evalplus_user(task_prompt: str) -> str:
    """EvalPlus's instruct user turn: the instruction, then the task prompt in a plain fence."""
    return f"{EVALPLUS_INSTRUCTION}\n```\n{task_prompt.strip()}\n```\n"


def evalplus_response_prefix() -> str:
    """What EvalPlus's instruct flow prefills the assistant turn with."""
    return f"{EVALPLUS_RESPONSE}\n```python\n"
