"""Worker processes that run one task's agents in parallel, each worker with its own model copy.

    with AgentPool("default", workers=2) as pool:
        sel = solve(None, tokenizer, problem, configs, pool=pool, cache=cache)

The parent hands one job (problem, config) to each idle worker, in agent order. When an earlier
agent passes every visible test, the later agents' jobs are dropped if not started, and
cancelled if running: the worker's backend checks a shared flag before every forward pass and
abandons the generation. Workers use `torch.set_num_threads(cores // workers)` by default.

The worker builds its model with `loader`, its backend with `backend` and decodes with `generate`
("module:function" targets), so a model behind an endpoint uses the same scheduler with another
loader/backend.
"""
from __future__ import annotations

import importlib
import logging
import multiprocessing as mp
import os
import queue
import sys
import time
import traceback
from collections import deque

from egcfg_plugin.agents.selection import needed as agent_needed

log = logging.getLogger(__name__)

DEFAULT_LOADER = "egcfg_plugin.core.models:load_model"
DEFAULT_BACKEND = "egcfg_plugin.core.backend:make_backend"     # the backend the loaded model names
DEFAULT_GENERATE = "egcfg_plugin.core.decoding:generate"


class AgentPool:
    def __init__(self, model_spec: str, workers: int, *, loader: str = DEFAULT_LOADER,
                 loader_kwargs: dict | None = None, backend: str = DEFAULT_BACKEND,
                 generate: str = DEFAULT_GENERATE, threads: int | None = None, start_timeout_s: float = 900.0):
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers={workers!r}: need a positive integer (1 runs one worker process)")
        self.workers = workers
        self.threads = threads or max(1, (os.cpu_count() or 1) // workers)
        ctx = mp.get_context("spawn")
        self.cancel = ctx.Array("q", workers, lock=False)     # job id to abandon, per worker
        self.out_q = ctx.Queue()
        self.in_qs = [ctx.Queue() for _ in range(workers)]
        self.procs = [ctx.Process(target=_worker, name=f"egcfg-agent-{w}",
                                  args=(w, model_spec, loader, loader_kwargs or {}, backend, generate, self.threads,
                                        self.in_qs[w], self.out_q, self.cancel))
                      for w in range(workers)]
        self.job_id = 0
        self.model_id = None
        self.jobs_cancelled = 0
        for p in self.procs:
            p.start()
        log.info("started %d agent workers (%d torch threads each); loading %s", workers, self.threads, model_spec)
        ready = 0
        deadline = time.monotonic() + start_timeout_s
        while ready < workers:
            kind, w, _, payload = self._next(deadline)
            if kind == "error":
                self.close()
                raise RuntimeError(f"agent worker {w} could not load {model_spec!r}:\n{payload}")
            ready += 1
            self.model_id = payload

    def run(self, problem, groups: dict, done: dict, store, *, all_agents: bool = False) -> None:
        """Run the configs of `groups` (name -> configs) missing from `done` (compact -> Result);
        `store(config, result)` records each finished one."""
        pending, seen = deque(), set(done)
        for cfgs in groups.values():
            for c in cfgs:
                if c.compact not in seen:
                    seen.add(c.compact)
                    pending.append(c)

        def needed(cfg) -> bool:
            if all_agents:
                return True
            for cfgs in groups.values():
                names = [c.compact for c in cfgs]
                if cfg.compact in names and agent_needed([done.get(n) for n in names], names.index(cfg.compact)):
                    return True
            return False

        running: dict[int, tuple[int, object]] = {}   # worker -> (job id, config)
        while True:
            for w in range(self.workers):
                if w in running:
                    continue
                while pending and not needed(pending[0]):
                    pending.popleft()
                if pending:
                    cfg = pending.popleft()
                    self.job_id += 1
                    running[w] = (self.job_id, cfg)
                    self.in_qs[w].put((self.job_id, problem, cfg))
            if not running:
                return
            for w, (jid, cfg) in running.items():
                if not needed(cfg) and self.cancel[w] != jid:
                    self.cancel[w] = jid
                    self.jobs_cancelled += 1
                    log.debug("%s: cancelling %s on worker %d", problem.task_id, cfg.compact, w)
            kind, w, jid, payload = self._next(None)
            if w not in running or running[w][0] != jid:
                continue
            _, cfg = running.pop(w)
            if kind == "done":
                store(cfg, payload)
            elif kind == "error":
                raise RuntimeError(f"agent worker {w} failed on task {problem.task_id} with {cfg.compact}:\n{payload}")

    def _next(self, deadline: float | None):
        while True:
            try:
                return self.out_q.get(timeout=2.0)
            except queue.Empty:
                dead = [p.name for p in self.procs if not p.is_alive()]
                if dead:
                    self.close()
                    raise RuntimeError(f"agent worker(s) {dead} died (out of memory?); rerun with fewer --workers")
                if deadline is not None and time.monotonic() > deadline:
                    self.close()
                    raise TimeoutError("agent workers did not load the model in time")

    def close(self) -> None:
        for q, p in zip(self.in_qs, self.procs):
            if p.is_alive():
                q.put(None)
        for p in self.procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)

    def __enter__(self) -> "AgentPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Cancelled(Exception):
    pass


def _target(spec: str):
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _worker(w, model_spec, loader, loader_kwargs, backend_spec, generate_spec, threads, in_q, out_q, cancel) -> None:
    try:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)
        from egcfg_plugin.agents.solve import model_identity

        generate = _target(generate_spec)
        model, tokenizer = _target(loader)(model_spec, **loader_kwargs)
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.set_num_threads(threads)
        make_backend = _target(backend_spec)
        out_q.put(("ready", w, 0, model_identity(model)))
    except BaseException:
        out_q.put(("error", w, 0, traceback.format_exc()))
        return
    while True:
        job = in_q.get()
        if job is None:
            return
        jid, problem, cfg = job
        backend = make_backend(model, tokenizer)
        inner = backend.forward

        def forward(*args, _jid=jid, _inner=inner, **kwargs):
            if cancel[w] == _jid:
                raise _Cancelled()
            return _inner(*args, **kwargs)

        backend.forward = forward
        try:
            out_q.put(("done", w, jid, generate(model, tokenizer, problem, cfg, backend=backend)))
        except _Cancelled:
            out_q.put(("cancelled", w, jid, None))
        except Exception:
            out_q.put(("error", w, jid, traceback.format_exc()))
