"""The report's statistics: the exact sign test, Wilson intervals, never-seen outcomes, pairs,
and unscorable tasks left out (issue 12)."""
from __future__ import annotations

import json
import math

import pytest

from egcfg_plugin.cli.report import render
from egcfg_plugin.cli.report_stats import NEVER_SEEN, compute, outcome, sign_test, wilson


def _binom_two_sided(wins: int, losses: int) -> float:
    """Reference: the two-sided p as the sum of the probabilities of every split no likelier than
    the one seen (for p=1/2 this equals twice the smaller tail)."""
    n = wins + losses
    probs = [math.comb(n, i) / 2 ** n for i in range(n + 1)]
    seen = probs[wins]
    return min(1.0, sum(p for p in probs if p <= seen * (1 + 1e-12)))


@pytest.mark.parametrize("wins, losses", [(13, 3), (3, 13), (0, 5), (5, 0), (1, 1), (7, 2), (20, 9), (0, 1)])
def test_sign_test_is_the_exact_binomial(wins, losses):
    assert sign_test(wins, losses) == pytest.approx(_binom_two_sided(wins, losses), rel=1e-12)


def test_sign_test_known_values():
    assert sign_test(0, 0) == 1.0
    assert sign_test(0, 5) == pytest.approx(2 / 32)
    assert sign_test(13, 3) == pytest.approx(2 * (1 + 16 + 120 + 560) / 2 ** 16)
    with pytest.raises(ValueError, match="counts >= 0"):
        sign_test(-1, 2)


def test_wilson_brackets_the_rate_and_shrinks_with_n():
    lo, hi = wilson(39, 100)
    assert lo < 0.39 < hi and hi - lo > wilson(390, 1000)[1] - wilson(390, 1000)[0]
    assert wilson(0, 0) == (0.0, 0.0)
    # closed form at k = n/2: centre 0.5
    lo, hi = wilson(50, 100)
    assert (lo + hi) / 2 == pytest.approx(0.5)


def _rec(task, method, solved, ns=None, **kw):
    return {"task_id": task, "method": method, "index": int(task), "solved": solved, "solved_never_seen": ns,
            "visible_pass": False, "time_s": 1.0, "tokens": 10, "agents_run": 1, "hidden_passed": int(solved),
            "hidden_total": 1, "config": "baseline", "rule": "most_visible", **kw}


def _write_run(tmp_path, records, **meta):
    (tmp_path / "run.json").write_text(json.dumps({"task": "codecontests", "adapter": "egcfg_codecontests",
                                                   "baseline": "baseline", "egcfg": ["s3t0.7d2k1g1.0"], **meta}))
    (tmp_path / "tasks.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def test_unscorable_tasks_are_left_out_and_counted(tmp_path):
    records = []
    for t, (b, e) in enumerate([(True, True), (False, True), (False, False), (False, False)]):
        why = "special judge: any valid answer is accepted" if t == 3 else None
        records += [_rec(str(t), "baseline", b, unscorable=why), _rec(str(t), "egcfg", e, unscorable=why)]
    _write_run(tmp_path, records)
    md = render(tmp_path, png=False)
    # 3 scorable tasks: before the fix task 3 counted as a failure of both (1/4 and 2/4)
    assert "33.3% (1/3)" in md and "66.7% (2/3)" in md and "(1/4)" not in md
    assert "1 unscorable task(s) left out" in md and "`3` (special judge" in md
    csv_text = (tmp_path / "summary.csv").read_text()
    assert ",3,1,0.3333," in csv_text


def test_records_without_the_unscorable_note_are_looked_up_in_the_adapter(tmp_path, monkeypatch):
    import task_adapters.registry as registry

    class Fake:
        def find(self, doc):
            return {"name": doc["task_id"]}

        def unscorable(self, row):
            return "interactive problem" if row["name"] == "1" else None

    monkeypatch.setattr(registry, "get_adapter", lambda name: Fake())
    _write_run(tmp_path, [_rec("0", "baseline", True), _rec("0", "egcfg", True),
                          _rec("1", "baseline", False), _rec("1", "egcfg", False)])
    md = render(tmp_path, png=False)
    assert "100.0% (1/1)" in md and "`1` (interactive problem)" in md


def test_never_seen_outcomes_and_pairs():
    by = {"baseline": {}, "egcfg": {}, "control": {}}
    plan = [  # (baseline, egcfg, control) on all tests; never-seen None for task 0 (it has none)
        ((True, None), (True, None), (False, None)),
        ((False, False), (True, True), (True, True)),
        ((False, True), (False, True), (False, False)),
        ((True, True), (False, True), (True, True)),
    ]
    for t, arms in enumerate(plan):
        for m, (ok, ns) in zip(("baseline", "egcfg", "control"), arms):
            by[m][str(t)] = _rec(str(t), m, ok, ns)
    stats, tasks, excluded, pairs = compute({"baseline": "baseline", "egcfg": ["a", "b"]}, by)
    assert tasks == ["0", "1", "2", "3"] and excluded == {}
    s = {x.method: x for x in stats}
    assert (s["egcfg"].solved, s["egcfg"].never_seen_tasks, s["egcfg"].never_seen_solved) == (2, 3, 3)
    assert (s["control"].never_seen_tasks, s["control"].never_seen_solved) == (3, 2)
    p = {(x.other, x.metric): x for x in pairs}
    assert (p[("baseline", "all")].egcfg_only, p[("baseline", "all")].other_only) == (1, 1)
    assert (p[("baseline", NEVER_SEEN)].tasks, p[("baseline", NEVER_SEEN)].egcfg_only) == (3, 1)
    assert (p[("control", "all")].egcfg_only, p[("control", "all")].other_only) == (1, 1)
    assert p[("control", NEVER_SEEN)].egcfg_only == 1 and p[("control", NEVER_SEEN)].p_value == 1.0
    assert outcome({"solved": True}, NEVER_SEEN) is None   # a record from before the taxonomy


def test_summary_links_the_plot_only_when_one_is_drawn(tmp_path):
    _write_run(tmp_path, [_rec("0", "baseline", True), _rec("0", "egcfg", False)])
    assert "compare.png" not in render(tmp_path, png=False)
    assert not (tmp_path / "compare.png").exists()
    md = render(tmp_path, png=True)
    assert (tmp_path / "compare.png").exists() == ("[compare.png](compare.png)" in md)
