"""Turn a Problem into prompt text, split where the signal goes.

The unconditional prompt is `before + after`. The conditional prompt is
`before + signal + after`, so the cached `before` part is shared by both streams.
"""
from __future__ import annotations

from dataclasses import dataclass

from task_adapters.base import Problem

_SENTINEL = "\x00EGCFG_SIGNAL\x00"


@dataclass(frozen=True)
class SplitPrompt:
    before: str
    after: str
    chat: bool

    @property
    def text(self) -> str:
        return self.before + self.after


def split_prompt(problem: Problem, tokenizer) -> SplitPrompt:
    """Render the problem's prompt and find where the signal is inserted."""
    if problem.is_chat:
        messages = [dict(m) for m in problem.prompt]
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=None)
        if last_user is None:
            raise ValueError(f"task {problem.task_id}: chat prompt has no user message")
        messages[last_user]["content"] = messages[last_user]["content"] + _SENTINEL
        if getattr(tokenizer, "chat_template", None) is None:
            raise ValueError(f"task {problem.task_id}: the tokenizer has no chat template; "
                             f"use a base-style (plain text) prompt for this model")
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        text += problem.response_prefix + problem.code_prefix
        before, _, after = text.partition(_SENTINEL)
        return SplitPrompt(before, after, chat=True)
    text = problem.prompt
    at = problem.signal_at
    if at is None:
        at = len(text) - len(problem.code_prefix) if problem.code_prefix and text.endswith(problem.code_prefix) else 0
    if not 0 <= at <= len(text):
        raise ValueError(f"task {problem.task_id}: signal_at={at} is outside the prompt (length {len(text)})")
    return SplitPrompt(text[:at], text[at:], chat=problem.chat_rendered)


def wrap_signal(signal: str, chat: bool) -> str:
    """The signal as inserted: a paragraph in a chat turn, a comment block in a plain code prompt."""
    if chat:
        return "\n\n" + signal.strip("\n")
    body = "\n".join(("# " + line) if line else "#" for line in signal.strip("\n").splitlines())
    return body + "\n\n"
