"""Stand-ins for the model, backend and decoding loop, to test the agent scheduler's logic
(order, early settling, cancellation, caching) without a model. Importable by spawned workers."""
from __future__ import annotations

import time

from egcfg_plugin.core.decoding import Result


def fake_loader(spec, plan=None):
    """`plan`: config compact -> (seconds, visible tests passed, visible total)."""
    return {"spec": spec, "plan": plan or {}}, None


class FakeBackend:
    def __init__(self, model, tokenizer):
        self.model = model
        self.forwards = 0

    def forward(self, *args, **kwargs):
        self.forwards += 1


def fake_generate(model, tokenizer, problem, config, *, backend=None):
    seconds, passed, total = model["plan"].get(config.compact, (0.0, 0, 1))
    end = time.monotonic() + seconds
    while True:
        if backend is not None:
            backend.forward()
        if time.monotonic() >= end:
            break
        time.sleep(0.01)
    return Result(task_id=problem.task_id, code=f"# {config.compact}\n", text="", config=config.compact,
                  seed=config.seed, stop_reason="eos", counters={"wall_s": seconds, "generated_tokens": 1},
                  visible_passed=passed, visible_total=total)
