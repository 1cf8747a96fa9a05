"""Line bookkeeping without decoding the sequence on every token.

`TokenTable` knows, for every token id, how many newlines its text holds; it is built once per
tokenizer. `CodeEnd` decides where the answer's code stops: a closing fence, or (function tasks) a
top-level line that starts test code once the target function is written.
"""
from __future__ import annotations

import re

_TABLES: dict = {}

_TEST_CODE = re.compile(r"^(assert\b|print\(|if __name__\b|# ?(Test|Example|Check)|def (test_|check\b|main\b))")
_DEF = "def {name}("


class TokenTable:
    """Per-token facts, from one batched decode of the vocabulary."""

    def __init__(self, tokenizer):
        size = len(tokenizer)
        texts = tokenizer.batch_decode([[i] for i in range(size)])
        self.newlines = [t.count("\n") for t in texts]
        self.size = size
        eos = tokenizer.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos]) - {None}
        for name in ("<|im_end|>", "<|endoftext|>", "<|EOT|>", "<|eot_id|>", "<|end|>"):
            tid = tokenizer.convert_tokens_to_ids(name)
            if isinstance(tid, int) and tid != tokenizer.unk_token_id and 0 <= tid < size:
                ids.add(tid)
        self.stop_ids = frozenset(ids)

    @classmethod
    def for_tokenizer(cls, tokenizer) -> "TokenTable":
        key = (getattr(tokenizer, "name_or_path", ""), len(tokenizer), type(tokenizer).__name__)
        if key not in _TABLES:
            _TABLES[key] = cls(tokenizer)
        return _TABLES[key]

    def count_newlines(self, token: int) -> int:
        return self.newlines[token] if 0 <= token < self.size else 0


def code_end(text: str, entry_point: str | None) -> int | None:
    """Index in `text` where the answer's code ends, or None if it has not ended.

    Ends at a line starting with a fence, or, once `def entry_point(` has been written, at a
    top-level line that starts test or demo code. Scripts (no entry point) end only at a fence.
    Only complete lines are judged.
    """
    pos = 0
    seen_def = False
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            if line.startswith("```"):
                return pos
            break
        stripped = line.rstrip("\n")
        if stripped.startswith("```"):
            return pos
        if seen_def and stripped and not stripped[0].isspace() and _TEST_CODE.match(stripped):
            return pos
        if entry_point and stripped.lstrip().startswith(_DEF.format(name=entry_point)):
            seen_def = True
        pos += len(line)
    return None


def def_complete(code: str, entry_point: str | None) -> bool:
    """True once the target function's `def` line is written up to its colon and newline."""
    if not entry_point:
        return True
    start = code.find(_DEF.format(name=entry_point))
    if start < 0:
        return False
    depth = 0
    for i in range(start, len(code)):
        ch = code[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == ":" and depth == 0:
            return "\n" in code[i:]
    return False
