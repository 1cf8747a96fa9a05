"""llama.cpp's own tokenizer, with the slice of the transformers tokenizer API the loop uses.

The llama.cpp backend tokenizes with the GGUF's vocabulary (so a prompt becomes exactly the
tokens llama.cpp's own completion would see) and renders chat prompts with the GGUF's
`tokenizer.chat_template`, in a sandboxed Jinja environment set up as transformers sets up its own.

    tok = LlamaCppTokenizer(llama_model, name="qwen.gguf")
    tok("def f():", add_special_tokens=False).input_ids
    tok.decode(ids), len(tok), tok.eos_token_id, tok.apply_chat_template(messages, tokenize=False)
"""
from __future__ import annotations

import ctypes
import json
from types import SimpleNamespace

_PIECE_BYTES = 256


class LlamaCppTokenizer:
    def __init__(self, model, name: str = ""):
        import llama_cpp

        self._lib = llama_cpp
        self._model = model                          # llama_cpp._internals.LlamaModel
        self._vocab = model.vocab
        self.name_or_path = name
        self.vocab_size = llama_cpp.llama_vocab_n_tokens(self._vocab)
        self._pieces = [self._piece(t) for t in range(self.vocab_size)]   # bytes per token, rendered special
        self._control = {t for t in range(self.vocab_size) if llama_cpp.llama_vocab_is_control(self._vocab, t)}
        eos = llama_cpp.llama_vocab_eos(self._vocab)
        bos = llama_cpp.llama_vocab_bos(self._vocab)
        self.eos_token_id = eos if eos >= 0 else None
        self.bos_token_id = bos if bos >= 0 else None
        self.eos_token = self._text(self.eos_token_id)
        self.bos_token = self._text(self.bos_token_id)
        self.unk_token_id = None
        self.pad_token_id = self.eos_token_id
        self.add_bos = bool(llama_cpp.llama_vocab_get_add_bos(self._vocab))
        self.eog_ids = frozenset(t for t in range(self.vocab_size) if llama_cpp.llama_vocab_is_eog(self._vocab, t))
        meta = model.metadata()
        self.chat_template = meta.get("tokenizer.chat_template")

    def _piece(self, token: int) -> bytes:
        buf = ctypes.create_string_buffer(_PIECE_BYTES)
        n = self._lib.llama_token_to_piece(self._vocab, token, buf, _PIECE_BYTES, 0, True)
        if n < 0:   # longer than the buffer: -n is the size needed
            buf = ctypes.create_string_buffer(-n)
            n = self._lib.llama_token_to_piece(self._vocab, token, buf, -n, 0, True)
        return bytes(buf.raw[:max(n, 0)])

    def _text(self, token: int | None) -> str | None:
        return None if token is None else self._pieces[token].decode("utf-8", errors="replace")

    # -- the transformers-style surface ------------------------------------------------------------
    def __len__(self) -> int:
        return self.vocab_size

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        """Token ids of `text`; special-token text (e.g. <|im_start|>) becomes the special token, as
        in transformers. `add_special_tokens` adds BOS where the GGUF asks for it."""
        if not text:
            return [self.bos_token_id] if add_special_tokens and self.add_bos and self.bos_token_id is not None else []
        return self._model.tokenize(text.encode("utf-8"), add_special_tokens and self.add_bos, True)

    def __call__(self, text: str, add_special_tokens: bool = True, **_ignored) -> SimpleNamespace:
        return SimpleNamespace(input_ids=self.encode(text, add_special_tokens))

    def decode(self, ids, skip_special_tokens: bool = False, **_ignored) -> str:
        ids = [int(i) for i in ids]
        if skip_special_tokens:
            ids = [i for i in ids if i not in self._control]
        return b"".join(self._pieces[i] for i in ids if 0 <= i < self.vocab_size).decode("utf-8", errors="replace")

    def batch_decode(self, rows, skip_special_tokens: bool = False, **_ignored) -> list[str]:
        return [self.decode(r, skip_special_tokens) for r in rows]

    def convert_tokens_to_ids(self, token: str):
        ids = self._model.tokenize(token.encode("utf-8"), False, True)
        return ids[0] if len(ids) == 1 and self._pieces[ids[0]] == token.encode("utf-8") else None

    def apply_chat_template(self, messages, tokenize: bool = False, add_generation_prompt: bool = False, **kwargs):
        if not self.chat_template:
            raise ValueError(f"{self.name_or_path}: the GGUF has no tokenizer.chat_template; use a plain prompt")
        text = _environment().from_string(self.chat_template).render(
            messages=messages, add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token or "", eos_token=self.eos_token or "", **kwargs)
        return self.encode(text, add_special_tokens=False) if tokenize else text


def _environment():
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise ValueError(f"chat template: {message}")

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env
