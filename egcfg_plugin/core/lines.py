"""Line bookkeeping without decoding the sequence on every token.

`TokenTable` knows, for every token id, how many newlines its text holds; it is built once per
tokenizer. `code_end` decides where the answer's code stops: a closing fence, or (function tasks) a
top-level statement that starts test code once the target function is written. `def_complete`
says when guidance may start. Brackets, strings and comments are read by `task_adapters.scan`.
"""
from __future__ import annotations

import keyword
import re

from task_adapters.scan import header_colon, scan

_TABLES: dict = {}

# top-level test or demo code: asserts, calls (print(...), check_solution(), unittest.main()), the
# main guard, test functions
_TEST_CODE = re.compile(r"^(assert\b|([A-Za-z_][\w.]*)\(|if __name__\b|def (test_|check\b|main\b))")
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

    Ends at a line starting with a fence (at column 0, or indented and outside any string), or,
    once `def entry_point(` has been written, at a top-level statement that starts test or demo
    code: `assert`, a call such as `print(...)` or `check_solution()`, `if __name__`, or
    `def test_*` / `check` / `main` (other than the entry point itself). Comments (`# Test`)
    never end the code, so helpers written after them stay. Lines inside brackets or strings are
    not statements. Scripts (no entry point) end only at a fence. Only complete lines are judged.
    """
    scanned = scan(text)
    starts = set(scanned.logical_line_starts())
    pos = 0
    seen_def = False
    for line in re.findall(r"[^\n]*\n|[^\n]+$", text):
        body = line.rstrip("\n")
        if body.startswith("```") or (body.lstrip().startswith("```") and not scanned.in_string(pos)):
            return pos
        if not line.endswith("\n"):
            break
        if pos in starts:
            if seen_def and _is_test_code(body) and not body.startswith(_DEF.format(name=entry_point)):
                return pos
            if entry_point and body.lstrip().startswith(_DEF.format(name=entry_point)):
                seen_def = True
        pos += len(line)
    return None


def _is_test_code(line: str) -> bool:
    m = _TEST_CODE.match(line)
    return bool(m) and not (m.group(2) and keyword.iskeyword(m.group(2)))   # `if(x):` is no call


def def_complete(code: str, entry_point: str | None) -> bool:
    """True once the target function's `def` line is written up to its colon and newline
    (brackets, colons and quotes inside strings and comments do not count)."""
    if not entry_point:
        return True
    start = code.find(_DEF.format(name=entry_point))
    if start < 0:
        return False
    colon = header_colon(code, start)
    return colon >= 0 and "\n" in code[colon:]
