"""llama.cpp prefill and decode speed on the default GGUF, with and without llama.cpp's repacked
("extra") weight buffers: why EG-CFG's per-line re-prefill of the conditional prompt dominates on
this backend.

    python benchmarks/bench_llamacpp_prefill.py [--tokens 600] [--threads 2]

Prints one line per measurement: prefill of a --tokens prompt (twice), then greedy decode tokens/s.
"""
from __future__ import annotations

import argparse
import os
import time


def measure(extra_bufts: bool, n_tokens: int, threads: int) -> None:
    import llama_cpp
    import llama_cpp.llama as high

    from egcfg_plugin.core.models import resolve_gguf

    plain = llama_cpp.llama_model_default_params

    def params():
        p = plain()
        p.use_extra_bufts = extra_bufts
        return p

    high.llama_cpp.llama_model_default_params = params
    try:
        path, _ = resolve_gguf("default")
        m = high.Llama(model_path=str(path), n_ctx=2048, n_threads=threads, n_batch=512, verbose=False)
    finally:
        high.llama_cpp.llama_model_default_params = plain
    text = open(__file__.replace("benchmarks/bench_llamacpp_prefill.py", "task_adapters/humaneval.py")).read()
    toks = m.tokenize(text.encode())[:n_tokens]
    for _ in range(2):
        m.reset()
        t = time.perf_counter()
        m.eval(toks)
        dt = time.perf_counter() - t
        print(f"extra_bufts={extra_bufts} prefill {len(toks)} tokens {dt:.2f} s {len(toks) / dt:.1f} tok/s", flush=True)
    t, n = time.perf_counter(), 0
    for _ in m.generate(toks[:50], temp=0.0, top_k=1, reset=True):
        n += 1
        if n >= 40:
            break
    print(f"extra_bufts={extra_bufts} decode {n / (time.perf_counter() - t):.1f} tok/s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=600)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    for extra in (False, True):
        measure(extra, args.tokens, args.threads)


if __name__ == "__main__":
    main()
