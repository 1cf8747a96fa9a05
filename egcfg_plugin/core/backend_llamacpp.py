"""The llama.cpp backend: streams are sequences in one llama.cpp context.

    model, tok = load_llamacpp(ModelSpec.parse("default,backend=llamacpp,threads=2"))
    backend = LlamaCppBackend(model, tok)

One context holds every stream of a generation in one unified KV buffer: the unconditional
stream, the conditional one and the s candidates share the model and the buffer. `fork` copies a
sequence's cells (`llama_memory_seq_cp`, no recompute, the cells are shared), cut back to a
prefix; a dropped stream's positions are removed. `push_all` advances the two guided streams in
one batch; candidates decode as one batch. Logits cover the full vocabulary (exact guidance).
"""
from __future__ import annotations

import ctypes
import logging
import time

from egcfg_plugin.core.backend import BackendError, ModelSpec, available_cores, sample_tokens

log = logging.getLogger(__name__)

DEFAULT_N_CTX = 8192
N_BATCH = 512
MAX_SEQUENCES = 128
# llama.cpp's "extra buffer types" repack weights for AMX / AVX kernels. On this project's CPU
# (a virtualized Xeon reporting AMX) llama-cpp-python 0.3.36 built with -march=native crashes in
# ggml_backend_amx_mul_mat on the first decode, so they stay off: plain CPU buffers.
EXTRA_BUFFER_TYPES = False


class LlamaCppModel:
    """A loaded GGUF: the llama.cpp model, one context, and what the run records about it."""

    egcfg_backend = "llamacpp"

    def __init__(self, path: str, sha256: str, threads: int, n_ctx: int):
        import llama_cpp
        from llama_cpp import _internals, _logger

        _logger.set_verbose(log.isEnabledFor(logging.DEBUG))    # llama.cpp's own log: errors only
        self.path, self.sha256, self.threads = path, sha256, threads
        self.version = llama_cpp.__version__
        params = llama_cpp.llama_model_default_params()
        params.use_extra_bufts = EXTRA_BUFFER_TYPES
        try:
            self.model = _internals.LlamaModel(path_model=path, params=params, verbose=False)
        except (ValueError, RuntimeError) as e:
            raise BackendError(f"llama.cpp could not load {path} ({e}); is it a GGUF model that "
                               f"llama-cpp-python {self.version} supports? re-download or re-convert it") from None
        n_train = self.model.n_ctx_train()
        self.n_ctx = min(n_ctx, n_train) if n_train > 0 else n_ctx
        cp = llama_cpp.llama_context_default_params()
        cp.n_ctx = self.n_ctx
        cp.n_batch = cp.n_ubatch = N_BATCH
        cp.n_seq_max = min(MAX_SEQUENCES, llama_cpp.llama_max_parallel_sequences())
        cp.kv_unified = True
        cp.n_threads = cp.n_threads_batch = threads
        cp.no_perf = True
        try:
            self.context = _internals.LlamaContext(model=self.model, params=cp, verbose=False)
        except ValueError as e:
            raise BackendError(f"llama.cpp could not make a context of n_ctx={self.n_ctx} for {path} ({e}); "
                               f"try a smaller n_ctx in the model arguments") from None
        self.n_seq_max = cp.n_seq_max
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.model.vocab)
        self.batch = llama_cpp.llama_batch_init(max(N_BATCH, self.n_seq_max), 0, 1)
        self.epoch = 0          # bumped by each new backend: streams of an older one free nothing

    def __del__(self):
        try:
            import llama_cpp

            llama_cpp.llama_batch_free(self.batch)
        except Exception:   # interpreter shutdown, or a failed __init__
            pass

    def info(self) -> dict:
        return {"backend": self.egcfg_backend, "version": f"llama-cpp-python-{self.version}",
                "threads": self.threads, "n_ctx": self.n_ctx, "weights_sha256": self.sha256, "path": self.path}

    def egcfg_identity(self) -> str:
        """The model's name in run.json and in the generation cache key."""
        from pathlib import Path

        return (f"{Path(self.path).name}:llamacpp:{self.version}:threads{self.threads}:"
                f"n_ctx{self.n_ctx}:{self.sha256[:16]}")


def load_llamacpp(spec: ModelSpec) -> tuple[LlamaCppModel, object]:
    """(model, tokenizer) for a GGUF: the pinned default (verified by sha256) or a .gguf path."""
    import os

    # llama.cpp's OpenMP threads spin between ops by default; on a shared CPU a spinning thread
    # waits for a core someone else holds (measured here, 2 threads, load ~4: 1.7 tokens/s
    # spinning, 12.4 passive). Read once, when llama.cpp's libgomp starts; a user's setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        raise BackendError("backend=llamacpp needs llama-cpp-python: pip install -e '.[llamacpp]' "
                           "(it compiles llama.cpp, several minutes the first time)") from None
    device = spec.options.get("device")
    if device not in (None, "", "cpu"):
        raise BackendError(f"device={device!r}: the llama.cpp backend runs on the CPU here; "
                           f"use backend=hf for a torch device")
    from egcfg_plugin.core.models import resolve_gguf
    from egcfg_plugin.core.llamacpp_tokenizer import LlamaCppTokenizer

    path, sha = resolve_gguf(spec.name)
    threads = spec.threads or available_cores()
    model = LlamaCppModel(str(path), sha, threads, spec.n_ctx or DEFAULT_N_CTX)
    log.info("llama.cpp %s: %s, %d threads, n_ctx %d", model.version, path, threads, model.n_ctx)
    return model, LlamaCppTokenizer(model.model, name=str(path))


class LlamaCppBackend:
    """The `Backend` contract on one llama.cpp context. One generation at a time per model: a new
    backend clears the context."""

    name = "llamacpp"
    device = "cpu"

    def __init__(self, model: LlamaCppModel, tokenizer):
        import llama_cpp

        self.lib = llama_cpp
        self.model = model
        self.tokenizer = tokenizer
        self.mem = model.context.memory
        llama_cpp.llama_memory_clear(self.mem, True)
        model.epoch += 1
        self.epoch = model.epoch
        self.free = list(range(model.n_seq_max - 1, -1, -1))
        self.counters: dict[str, float] = {"forward_calls": 0, "model_s": 0.0}

    def info(self) -> dict:
        return self.model.info()

    def count(self, key: str, n: float) -> None:
        self.counters[key] = self.counters.get(key, 0) + n

    # -- sequences ---------------------------------------------------------------------------------
    def _take(self) -> int:
        if not self.free:
            raise BackendError(f"llama.cpp context holds {self.model.n_seq_max} sequences at once and all are in use; "
                               f"use fewer candidates (s) per refresh")
        return self.free.pop()

    def _release(self, seq: int) -> None:
        # Only while the context lives and was not handed to a newer backend: a stream collected
        # after its model (in one garbage-collected cycle) must not touch freed llama.cpp memory.
        if self.epoch == self.model.epoch and getattr(self.model.context, "ctx", None) is not None:
            self.lib.llama_memory_seq_rm(self.mem, seq, -1, -1)
            self.free.append(seq)

    def stream(self, ids: list[int], role: str = "uncond") -> "Stream":
        s = Stream(self, self._take(), [], None, role)
        s.extend(ids)
        return s

    # -- compute -----------------------------------------------------------------------------------
    def forward(self, entries: list[tuple[int, int, int, bool]]):
        """Decode one batch of (token, position, sequence, wants_logits); return the logits of the
        entries that want them, in order, as a (k, vocab) float32 tensor."""
        import numpy as np
        import torch

        t0 = time.perf_counter()
        b = self.model.batch
        for i, (tok, pos, seq, want) in enumerate(entries):
            b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = tok, pos, 1, want
            b.seq_id[i][0] = seq
        b.n_tokens = len(entries)
        rc = self.lib.llama_decode(self.model.context.ctx, b)
        if rc != 0:
            raise self._decode_error(rc, len(entries))
        rows = [i for i, e in enumerate(entries) if e[3]]
        out = np.empty((len(rows), self.model.n_vocab), dtype=np.float32)
        for k, i in enumerate(rows):
            ptr = self.lib.llama_get_logits_ith(self.model.context.ctx, i)
            out[k] = np.ctypeslib.as_array(ptr, shape=(self.model.n_vocab,))
        self.counters["forward_calls"] += 1
        self.counters["model_s"] += time.perf_counter() - t0
        return torch.from_numpy(out)

    def _decode_error(self, rc: int, n: int) -> BackendError:
        held = sum(self.lib.llama_memory_seq_pos_max(self.mem, s) + 1 for s in range(self.model.n_seq_max)
                   if s not in self.free)
        if rc == 1:
            return BackendError(f"llama.cpp context n_ctx={self.model.n_ctx} is full: the live streams hold "
                                f"{held} positions and this step adds {n}; pass a larger n_ctx in the model "
                                f"arguments (e.g. n_ctx={2 * self.model.n_ctx})")
        return BackendError(f"llama_decode returned {rc} on a batch of {n} tokens (n_ctx={self.model.n_ctx})")

    def push_all(self, streams: list["Stream"], token: int) -> None:
        """Advance every stream by `token`, all in one batch."""
        logits = self.forward([(token, len(s.ids), s.seq, True) for s in streams])
        for i, s in enumerate(streams):
            s.ids = s.ids + [token]
            s.logits = logits[i]
            self.count(f"{s.role}_decode_tokens", 1)

    def sample(self, stream: "Stream", n: int, *, temperature: float, top_p: float, max_tokens: int,
               done, generator) -> list[list[int]]:
        """`n` continuations of `stream`, one batch per step: each row is a sequence copied from the
        stream's cells. Finished rows stop decoding. The stream is unchanged."""
        forks = [stream.fork(role="candidate") for _ in range(n)]
        logits = stream.logits.unsqueeze(0).expand(n, -1)
        rows: list[list[int]] = [[] for _ in range(n)]
        finished = [False] * n
        past = len(stream.ids)
        for _ in range(max_tokens):
            tokens = sample_tokens(logits, temperature, top_p, generator).tolist()
            for i, tok in enumerate(tokens):
                if not finished[i]:
                    rows[i].append(tok)
                    finished[i] = done(rows[i])
            live = [i for i in range(n) if not finished[i]]
            if not live:
                break
            fresh = self.forward([(tokens[i], past, forks[i].seq, True) for i in live])
            logits = logits.clone()
            logits[live] = fresh
            past += 1
        for f in forks:
            f.close()
        self.count("candidate_tokens", sum(len(r) for r in rows))
        return rows


class Stream:
    """One sequence of the shared context: `ids`, its sequence id, the next token's logits."""

    def __init__(self, backend: LlamaCppBackend, seq: int, ids: list[int], logits, role: str):
        self.backend, self.seq, self.ids, self.logits, self.role = backend, seq, ids, logits, role

    def extend(self, new_ids: list[int], kind: str = "prefill") -> None:
        if not new_ids:
            return
        b = self.backend
        if len(self.ids) + len(new_ids) > b.model.n_ctx:
            raise BackendError(f"llama.cpp context n_ctx={b.model.n_ctx} is too small for a stream of "
                               f"{len(self.ids) + len(new_ids)} tokens; pass n_ctx={2 * b.model.n_ctx} "
                               f"(or more) in the model arguments")
        start = len(self.ids)
        for at in range(0, len(new_ids), N_BATCH):
            chunk = new_ids[at:at + N_BATCH]
            last = at + len(chunk) == len(new_ids)
            entries = [(t, start + at + j, self.seq, last and j == len(chunk) - 1) for j, t in enumerate(chunk)]
            out = b.forward(entries)
        self.logits = out[0]
        self.ids = self.ids + list(new_ids)
        b.count(f"{self.role}_{kind}_tokens", len(new_ids))

    def push(self, token: int) -> None:
        self.backend.push_all([self], token)

    def logprobs(self):
        import torch

        return torch.log_softmax(self.logits, dim=-1)

    def fork(self, keep: int | None = None, role: str | None = None) -> "Stream":
        """An independent copy sharing the cells of the first `keep` tokens (all by default); cut
        back, its logits are None until the next extend."""
        b = self.backend
        seq = b._take()
        keep = len(self.ids) if keep is None or keep >= len(self.ids) else keep
        b.lib.llama_memory_seq_cp(b.mem, self.seq, seq, 0, keep)
        logits = self.logits if keep == len(self.ids) else None
        return Stream(b, seq, self.ids[:keep], logits, role or self.role)

    def close(self) -> None:
        if self.seq is not None:
            seq, self.seq = self.seq, None
            self.backend._release(seq)

    def __del__(self):
        try:
            self.close()
        except Exception:   # interpreter shutdown
            pass
