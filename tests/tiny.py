"""A tiny random-weight model with the real default tokenizer, for fast loop tests.

The tokenizer comes from the converted default model (fetched once, then cached)."""
from __future__ import annotations

import functools


@functools.lru_cache(maxsize=None)
def tiny_model(seed: int = 0):
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from egcfg_plugin.core.models import fetch_default

    tok = AutoTokenizer.from_pretrained(str(fetch_default()))
    config = Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         tie_word_embeddings=True, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).eval()
    return model, tok


@functools.lru_cache(maxsize=None)
def real_model():
    from egcfg_plugin.core.models import load_model

    return load_model("default")
