"""lm-eval's egcfg_* metrics carry both figures (issue 12): pass@1 on all scored tests and
pass@1_never_seen on the never-seen tests only, aggregated over the tasks that have any."""
from __future__ import annotations

import math

import pytest

from egcfg_plugin.harness import lm_eval_tasks as tasks


def _docs(benchmark, ids):
    adapter = tasks.get_adapter(benchmark)
    try:
        rows = {adapter.task_id(r): r for r in adapter.load()}
    except OSError as e:
        pytest.skip(str(e))
    return adapter, [(tasks.make_doc(benchmark, adapter, rows[i]), rows[i]) for i in ids]


def test_mbpp_metrics_split_by_the_taxonomy():
    pytest.importorskip("sandbox.runner")
    adapter, docs = _docs("egcfg_mbpp", ["11", "12"])   # task 11 has challenge asserts, 12 none
    (d11, r11), (d12, r12) = docs
    out = tasks.process_results(d11, [r11["code"]])
    assert out["pass@1"] == 1.0 and out["pass@1_never_seen"] == 1.0
    # s.replace(ch, "") passes the 3 shown asserts but fails the challenge ones (issue 12)
    wrong = "def remove_Occ(s, ch):\n    return s.replace(ch, '')\n"
    out = tasks.process_results(d11, [wrong])
    assert out["visible_pass@1"] == 1.0 and out["pass@1"] == 0.0 and out["pass@1_never_seen"] == 0.0
    out = tasks.process_results(d12, [r12["code"]])
    assert out["pass@1"] == 1.0 and out["pass@1_never_seen"] is None


def test_mean_defined_skips_tasks_without_never_seen_tests():
    assert tasks.mean_defined([1.0, None, 0.0, 1.0]) == pytest.approx(2 / 3)
    assert math.isnan(tasks.mean_defined([None, None]))
