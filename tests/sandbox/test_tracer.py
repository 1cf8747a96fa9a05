"""The line tracer: event semantics, loop folding, caps, safety, and settrace == sysmon.

Every behaviour test runs once per implementation; the sys.monitoring ones need Python 3.12+.
Programs run in-process here (the runner's isolation is tested elsewhere).
"""
from __future__ import annotations

import builtins
import contextlib
import io
import logging
import sys

import pytest

from sandbox.render import render_trace
from sandbox.trace_recorder import CAP_NOTE_PREFIX
from sandbox.tracer import TraceCaps, choose_impl, make_tracer
from sandbox.types import Trace

FILENAME = "<candidate>"
HAS_SYSMON = hasattr(sys, "monitoring")
NO_SYSMON = f"sys.monitoring needs Python 3.12+, this is {sys.version.split()[0]}"

IMPLS = ["settrace", pytest.param("sysmon", marks=pytest.mark.skipif(not HAS_SYSMON,
                                                                     reason=NO_SYSMON))]


@pytest.fixture(params=IMPLS)
def impl(request):
    return request.param


def trace_program(src: str, test: str | None = None, *, impl: str = "settrace",
                  caps: TraceCaps | None = None, stdin: str | None = None):
    """Run `src` (and the expression `test`) under the tracer. -> (trace, value or exception)."""
    out = io.StringIO()
    tracer = make_tracer(FILENAME, source=src, impl=impl, caps=caps,
                         stdout_getter=out.getvalue if stdin is not None else None)
    namespace = {"__name__": "__main__"}
    old_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    tracer.start()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(src, FILENAME, "exec"), namespace)
            outcome = eval(compile(test, "<test>", "eval"), namespace) if test else None
    except Exception as exc:  # the program's own error is part of what we test
        outcome = exc
    finally:
        trace = tracer.stop()
        sys.stdin = old_stdin
    return trace, outcome


def kinds(trace: Trace) -> list[str]:
    return [e.kind for e in trace.events]


def lines_of(trace: Trace, func: str | None = None) -> list[int]:
    return [e.lineno for e in trace.events
            if e.kind == "line" and e.repeat == 1 and (func is None or e.func == func)]


ADD = "def add(a, b):\n    s = a + b\n    t = s * 2\n    return t\n"


def test_call_line_return_with_locals_after_each_line(impl):
    trace, value = trace_program(ADD, "add(1, 2)", impl=impl)
    assert value == 6
    events = [e for e in trace.events if e.func == "add"]
    assert [e.kind for e in events] == ["call", "line", "line", "line", "return"]
    call, l2, l3, l4, ret = events
    assert call.locals == {"a": ("int", "1"), "b": ("int", "2")}
    assert call.source == "def add(a, b):"
    assert (l2.lineno, l2.source, l2.locals) == (2, "s = a + b", {"s": ("int", "3")})
    assert (l3.lineno, l3.locals) == (3, {"t": ("int", "6")})   # only what the line changed
    assert (l4.lineno, l4.locals) == (4, {})
    assert (ret.value, ret.lineno) == ("6", 4)
    assert not trace.truncated and trace.elided_events == 0


def test_only_candidate_code_is_recorded(impl):
    src = ("import textwrap, json\n"
           "def f(s):\n"
           "    t = textwrap.dedent(s)\n"
           "    return json.dumps({'t': t})\n")
    trace, value = trace_program(src, "f('  x')", impl=impl)
    assert value == '{"t": "x"}'
    assert {e.func for e in trace.events} <= {"<module>", "f"}
    assert all(e.lineno <= 4 for e in trace.events)


def test_module_level_script_has_lines_but_no_call_event(impl):
    src = "x = 2\ny = x * 21\nprint(y)\n"
    trace, _ = trace_program(src, impl=impl, stdin="")
    assert kinds(trace) == ["line", "line", "line"]
    assert trace.events[1].locals == {"y": ("int", "42")}
    assert trace.events[2].stdout == "42\n"
    assert all(e.func == "<module>" for e in trace.events)


def test_stdout_recorded_only_when_it_changes(impl):
    src = "a = 1\nprint('hi')\nb = 2\nprint('there')\n"
    trace, _ = trace_program(src, impl=impl, stdin="")
    assert [e.stdout for e in trace.events] == [None, "hi\n", None, "hi\nthere\n"]


def test_stdout_keeps_only_the_tail(impl):
    src = "print('x' * 1000)\nprint('end')\n"
    trace, _ = trace_program(src, impl=impl, stdin="", caps=TraceCaps(max_stdout=50))
    last = trace.events[-1].stdout
    assert last.endswith("end\n") and last.startswith("...") and len(last) == 53


def test_loop_folding_keeps_first_iterations_and_the_last(impl):
    src = ("def total(n):\n"
           "    s = 0\n"
           "    for i in range(n):\n"
           "        s += i\n"
           "    return s\n")
    trace, value = trace_program(src, "total(100)", impl=impl)
    assert value == 4950
    markers = [e for e in trace.events if e.repeat > 1]
    assert len(markers) == 1
    marker = markers[0]
    # 3 iterations shown, 96 folded, the last one (i=99) shown, then the exhausted header
    assert (marker.lineno, marker.repeat) == (3, 96)
    shown_i = [e.locals["i"][1] for e in trace.events if "i" in e.locals]
    assert shown_i == ["0", "1", "2", "99"]
    assert [e.locals["s"][1] for e in trace.events if "s" in e.locals][-1] == "4950"
    assert trace.events[-1].kind == "return" and trace.events[-1].value == "4950"
    assert trace.elided_events == 96 * 2
    assert trace.notes == ["loop at line 3 in total: 96 iterations folded (192 events elided)"]
    assert len(trace.events) < 20


def test_one_folded_iteration_is_shown_rather_than_folded(impl):
    src = "def f():\n    s = 0\n    for i in range(5):\n        s += i\n    return s\n"
    trace, _ = trace_program(src, "f()", impl=impl)
    assert all(e.repeat == 1 for e in trace.events)
    assert [e.locals["i"][1] for e in trace.events if "i" in e.locals] == ["0", "1", "2", "3", "4"]


def test_nested_loops_fold_inside_and_outside(impl):
    src = ("def grid(n):\n"
           "    out = 0\n"
           "    for i in range(n):\n"
           "        for j in range(n):\n"
           "            out += i * j\n"
           "    return out\n")
    trace, value = trace_program(src, "grid(20)", impl=impl)
    assert value == sum(i * j for i in range(20) for j in range(20))
    folds = {(e.lineno, e.repeat) for e in trace.events if e.repeat > 1}
    assert (3, 16) in folds            # outer loop: 20 - 3 shown - 1 last
    assert (4, 16) in folds            # inner loop, in each shown outer iteration
    assert trace.events[-1].value == str(value)
    assert len(trace.events) < 100
    assert trace.elided_events > 0 and not trace.truncated


def test_while_loop_and_break_fold_and_keep_final_state(impl):
    src = ("def first_square_over(limit):\n"
           "    k = 0\n"
           "    while True:\n"
           "        k += 1\n"
           "        if k * k > limit:\n"
           "            break\n"
           "    return k\n")
    trace, value = trace_program(src, "first_square_over(500)", impl=impl)
    assert value == 23
    assert any(e.repeat > 1 for e in trace.events)
    last_k = [e.locals["k"][1] for e in trace.events if "k" in e.locals][-1]
    assert last_k == "23"
    assert 6 in lines_of(trace)         # the break itself is visible


def test_multiline_statement_is_one_event_with_joined_source(impl):
    src = "def f(a):\n    total = (a +\n             1)\n    return total\n"
    trace, _ = trace_program(src, "f(1)", impl=impl)
    line_events = [e for e in trace.events if e.kind == "line" and e.func == "f"]
    assert [(e.lineno, e.source) for e in line_events] == [(2, "total = (a + 1)"),
                                                           (4, "return total")]
    assert line_events[0].locals == {"total": ("int", "2")}


def test_comprehension_and_lambda_show_in_their_statement(impl):
    src = ("def f(xs):\n"
           "    sq = [x * x for x in xs]\n"
           "    srt = sorted(xs, key=lambda v: -v)\n"
           "    return sq, srt\n")
    trace, _ = trace_program(src, "f([1, 2, 3])", impl=impl)
    assert {e.func for e in trace.events} == {"<module>", "f"}
    assert [e.lineno for e in trace.events if e.func == "f" and e.kind == "line"] == [2, 3, 4]
    assert trace.events[2].locals == {"sq": ("list", "[1, 4, 9]")}


def test_in_place_mutation_is_seen(impl):
    src = ("def f():\n"
           "    xs = [1]\n"
           "    xs.append(2)\n"
           "    d = {'a': [1]}\n"
           "    d['a'].append(2)\n"
           "    return xs\n")
    trace, _ = trace_program(src, "f()", impl=impl)
    by_line = {e.lineno: e.locals for e in trace.events if e.kind == "line"}
    assert by_line[3] == {"xs": ("list", "[1, 2]")}
    assert by_line[5] == {"d": ("dict", "{'a': [1, 2]}")}


def test_caught_exception_then_recovery(impl):
    src = ("def parse(s):\n"
           "    try:\n"
           "        return int(s)\n"
           "    except ValueError:\n"
           "        return -1\n")
    trace, value = trace_program(src, "parse('x')", impl=impl)
    assert value == -1
    exc = [e for e in trace.events if e.kind == "exception"]
    assert len(exc) == 1
    assert exc[0].lineno == 3
    assert exc[0].value == "ValueError: invalid literal for int() with base 10: 'x'"
    assert trace.events[-1].kind == "return" and trace.events[-1].value == "-1"


def test_uncaught_exception_passes_through_each_frame_without_returns(impl):
    src = ("def inner(d):\n"
           "    return d['missing']\n"
           "\n"
           "def outer():\n"
           "    d = {}\n"
           "    return inner(d)\n")
    trace, outcome = trace_program(src, "outer()", impl=impl)
    assert isinstance(outcome, KeyError)
    assert [(e.kind, e.func) for e in trace.events if e.kind != "line"] == [
        ("call", "outer"), ("call", "inner"), ("exception", "inner"), ("exception", "outer")]
    assert trace.events[-1].value == "KeyError: 'missing'"
    assert trace.events[-1].lineno == 6


def test_generator_yields_are_silent_and_resumes_recorded(impl):
    src = ("def squares(n):\n"
           "    for i in range(n):\n"
           "        yield i * i\n"
           "\n"
           "def total(n):\n"
           "    t = 0\n"
           "    for s in squares(n):\n"
           "        t += s\n"
           "    return t\n")
    trace, value = trace_program(src, "total(3)", impl=impl)
    assert value == 5
    gen = [e for e in trace.events if e.func == "squares"]
    assert [e.kind for e in gen].count("call") == 1
    assert [e.kind for e in gen].count("return") == 1          # the final, exhausted return
    assert [e.locals.get("i") for e in gen if e.lineno == 2 and e.locals] == [
        ("int", "0"), ("int", "1"), ("int", "2")]
    assert trace.events[-1].value == "5"


def test_values_received_at_a_yield_or_await_belong_to_that_line(impl):
    src = ("import asyncio\n"
           "def echo():\n"
           "    got = None\n"
           "    while True:\n"
           "        got = yield got\n"
           "async def two():\n"
           "    await asyncio.sleep(0)\n"
           "    return 2\n"
           "async def main():\n"
           "    a = await two()\n"
           "    return a\n"
           "def f():\n"
           "    e = echo()\n"
           "    next(e)\n"
           "    e.send('x')\n"
           "    return asyncio.run(main())\n")
    trace, value = trace_program(src, "f()", impl=impl)
    assert value == 2
    by_line = {}
    for e in trace.events:
        if e.kind == "line":
            by_line.setdefault(e.lineno, []).append(e.locals)
    assert {"got": ("str", "'x'")} in by_line[5]
    assert by_line[10] == [{"a": ("int", "2")}]


def test_recursion_hits_the_event_cap_but_keeps_the_outcome(impl):
    src = "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n"
    caps = TraceCaps(max_events=50)
    trace, value = trace_program(src, "fib(10)", impl=impl, caps=caps)
    assert value == 55
    assert trace.truncated
    assert len(trace.events) == 51                     # 50 kept + the final return
    assert trace.events[-1].kind == "return" and trace.events[-1].value == "55"
    note = [n for n in trace.notes if n.startswith(CAP_NOTE_PREFIX)]
    assert note and note[0].startswith(f"{CAP_NOTE_PREFIX}50: max_events=50")
    assert trace.elided_events >= 1                    # the rest ran untraced: not counted
    assert note[0].endswith("the rest ran untraced (lines not counted)")


def test_total_chars_cap(impl):
    src = ("def f():\n" + "".join(f"    v{i} = 'abc' * {i + 30}\n" for i in range(40))
           + "    return 1\n")
    caps = TraceCaps(max_total_chars=1500)
    trace, _ = trace_program(src, "f()", impl=impl, caps=caps)
    assert trace.truncated
    assert sum(len(e.source) + sum(len(v[1]) for v in e.locals.values())
               for e in trace.events) < 1500
    assert trace.events[-1].kind == "return"
    assert any("max_total_chars=1500" in n for n in trace.notes)


def test_max_locals_per_event_says_how_many_were_left_out(impl):
    src = "def f():\n    a = b = c = d = e = 1\n    return a\n"
    trace, _ = trace_program(src, "f()", impl=impl, caps=TraceCaps(max_locals=2))
    changed = trace.events[2].locals
    assert list(changed) == ["a", "b", "..."]
    assert changed["..."] == ("", "3 more")


def test_hostile_reprs_do_not_break_tracing(impl):
    src = ("class Bad:\n"
           "    def __repr__(self):\n"
           "        raise RuntimeError('no repr for you')\n"
           "class Huge:\n"
           "    def __repr__(self):\n"
           "        return 'H' * 1000000\n"
           "def f():\n"
           "    b = Bad()\n"
           "    h = Huge()\n"
           "    big = list(range(100000))\n"
           "    loop = [1]\n"
           "    loop.append(loop)\n"
           "    return 'ok'\n")
    trace, value = trace_program(src, "f()", impl=impl)
    assert value == "ok"
    reprs = {name: text for e in trace.events for name, (_, text) in e.locals.items()}
    assert reprs["b"] == "<Bad object; repr raised RuntimeError>"
    assert len(reprs["h"]) <= 80 and reprs["h"].startswith("HHH")
    assert len(reprs["big"]) <= 80 and reprs["big"].endswith("...+99981]")
    assert "[...2 items]" in reprs["loop"] or "..." in reprs["loop"]
    assert all(len(text) <= 80 for text in reprs.values())


def test_traced_code_rebinding_builtins_does_not_break_the_tracer(impl):
    src = ("import builtins\n"
           "def f():\n"
           "    builtins.repr = lambda o: 1 / 0\n"
           "    builtins.len = lambda o: 1 / 0\n"
           "    builtins.type = None\n"
           "    x = [1, 2]\n"
           "    return 3\n")
    saved = builtins.repr, builtins.len, builtins.type
    try:
        trace, value = trace_program(src, "f()", impl=impl)
    finally:
        builtins.repr, builtins.len, builtins.type = saved
    assert value == 3
    assert trace.events[-1].value == "3"
    assert {"x": ("list", "[1, 2]")} in [e.locals for e in trace.events]


def test_no_memory_addresses_so_traces_are_deterministic(impl):
    src = ("class P:\n    pass\n"
           "def f():\n    p = P()\n    g = (i for i in range(3))\n    s = {'b', 'a', 'c'}\n"
           "    return p\n")
    first, _ = trace_program(src, "f()", impl=impl)
    second, _ = trace_program(src, "f()", impl=impl)
    assert first.to_dict() == second.to_dict()
    text = render_trace(first)
    assert "0x" not in text
    assert "s: set = {'a', 'b', 'c'}" in text


def test_tracer_leaves_no_hook_behind(impl):
    before = sys.gettrace()
    trace_program(ADD, "add(1, 1)", impl=impl)
    assert sys.gettrace() is before
    if HAS_SYSMON:
        assert all(sys.monitoring.get_tool(i) != "egcfg-tracer" for i in range(6))


def test_stop_without_start_and_double_start_are_errors(impl):
    tracer = make_tracer(FILENAME, source=ADD, impl=impl)
    with pytest.raises(RuntimeError, match="start"):
        tracer.stop()
    tracer.start()
    try:
        with pytest.raises(RuntimeError, match="already started"):
            tracer.start()
    finally:
        tracer.stop()


def test_finalizers_run_when_they_would_untraced(impl):
    # The tracer must not keep a finished frame (and so its generator) alive.
    src = ("log = []\n"
           "def gen():\n"
           "    try:\n"
           "        yield 1\n"
           "    finally:\n"
           "        log.append('closed')\n"
           "def f():\n"
           "    it = gen()\n"
           "    next(it)\n"
           "    return 1\n"
           "def g():\n"
           "    f()\n"
           "    return list(log)\n")
    _, value = trace_program(src, "g()", impl=impl)
    assert value == ["closed"]


def test_debug_log_switch(impl, monkeypatch, caplog):
    monkeypatch.setenv("EGCFG_TRACE_DEBUG", "1")
    with caplog.at_level(logging.DEBUG, logger="sandbox"):
        trace, _ = trace_program(ADD, "add(1, 2)", impl=impl)
    assert any(impl in r.getMessage() for r in caplog.records)
    monkeypatch.delenv("EGCFG_TRACE_DEBUG")
    assert trace_program(ADD, "add(1, 2)", impl=impl)[0].to_dict() == trace.to_dict()


# ---- the implementation choice --------------------------------------------------------------

def test_choice_default_and_env_override(monkeypatch):
    monkeypatch.delenv("EGCFG_TRACER", raising=False)
    assert choose_impl()[0] == ("sysmon" if HAS_SYSMON else "settrace")
    monkeypatch.setenv("EGCFG_TRACER", "settrace")
    assert choose_impl()[0] == "settrace"
    assert make_tracer(FILENAME).impl == "settrace"
    assert choose_impl("settrace") == ("settrace", "requested by argument")


def test_bad_impl_name_is_an_error_naming_the_value(monkeypatch):
    with pytest.raises(ValueError, match="'ptrace'"):
        choose_impl("ptrace")
    monkeypatch.setenv("EGCFG_TRACER", "fast")
    with pytest.raises(ValueError, match="EGCFG_TRACER"):
        make_tracer(FILENAME)


@pytest.mark.skipif(HAS_SYSMON, reason="the fallback only happens below Python 3.12")
def test_sysmon_request_falls_back_with_a_logged_reason(caplog):
    with caplog.at_level(logging.WARNING, logger="sandbox.tracer"):
        tracer = make_tracer(FILENAME, impl="sysmon")
    assert tracer.impl == "settrace"
    assert "fallback" in tracer.reason and "3.12" in tracer.reason
    assert any("falling back" in r.getMessage() for r in caplog.records)


def test_bad_caps_are_rejected_with_the_value():
    with pytest.raises(ValueError, match="max_events.*0"):
        TraceCaps(max_events=0)
    with pytest.raises(ValueError, match="max_repr"):
        TraceCaps(max_repr=3)
    with pytest.raises(ValueError, match="filename"):
        make_tracer("")


# ---- both implementations give the same trace ------------------------------------------------

SAME_TRACE_PROGRAMS = {
    "loops": ("def grid(n):\n    out = []\n    for i in range(n):\n        row = []\n"
              "        for j in range(n):\n            row.append(i * j)\n"
              "        out.append(row)\n    return out\n", "grid(6)"),
    "while": ("def collatz(n):\n    steps = 0\n    while n != 1:\n        if n % 2 == 0:\n"
              "            n //= 2\n        else:\n            n = 3 * n + 1\n"
              "        steps += 1\n    return steps\n", "collatz(27)"),
    "recursion": ("def fib(n):\n    if n < 2:\n        return n\n"
                  "    return fib(n - 1) + fib(n - 2)\n", "fib(12)"),
    "exceptions": ("def parse(s):\n    try:\n        return int(s)\n    except ValueError as e:\n"
                   "        msg = str(e)\n        return -1\n\ndef top(xs):\n"
                   "    return [parse(x) for x in xs]\n", "top(['1', 'x', '3'])"),
    "uncaught": ("def inner(d):\n    return d['missing']\n\ndef outer():\n    d = {'a': 1}\n"
                 "    return inner(d)\n", "outer()"),
    "finally": ("def g():\n    try:\n        x = 1 / 0\n    finally:\n        y = 2\n\ndef h():\n"
                "    try:\n        g()\n    except ZeroDivisionError:\n        return 'caught'\n",
                "h()"),
    "generators": ("def squares(n):\n    for i in range(n):\n        yield i * i\n\n"
                   "def total(n):\n    t = 0\n    for s in squares(n):\n        t += s\n"
                   "    return t\n", "total(8)"),
    "gen_close": ("def g():\n    try:\n        yield 1\n        yield 2\n    finally:\n"
                  "        z = 0\n\ndef f():\n    it = g()\n    a = next(it)\n    it.close()\n"
                  "    return a\n", "f()"),
    "gen_throw": ("def g():\n    while True:\n        try:\n            yield 1\n"
                  "        except ValueError:\n            w = 'recovered'\n\ndef f():\n"
                  "    it = g()\n    next(it)\n    v = it.throw(ValueError)\n    return v\n",
                  "f()"),
    "for_over_generator_then_implicit_return": (
        "def gen():\n    yield 1\n\ndef f():\n    for v in gen():\n        pass\n", "f()"),
    "next_on_empty": ("def f():\n    it = iter([])\n    return next(it)\n", "f()"),
    "break_continue": ("def first_neg(xs):\n    idx = -1\n    for i, x in enumerate(xs):\n"
                       "        if x > 0:\n            continue\n        idx = i\n        break\n"
                       "    return idx\n", "first_neg([3, 4, 5, 6, 7, 8, -1, 2])"),
    "closure_and_class": ("class Stack:\n    def __init__(self):\n        self.items = []\n"
                          "    def push(self, x):\n        self.items.append(x)\n\n"
                          "def make(k):\n    def add(x):\n        return x + k\n    return add\n\n"
                          "def run():\n    s = Stack()\n    for i in range(5):\n"
                          "        s.push(make(i)(1))\n    return s.items\n", "run()"),
    "one_line_loops": ("def f(xs):\n    t = 0\n    for x in xs: t += x\n"
                       "    while t > 10: t -= 3\n    return t\n", "f(list(range(20)))"),
    "async": ("import asyncio\nasync def sq(x):\n    await asyncio.sleep(0)\n    return x * x\n"
              "async def main():\n    a = await sq(2)\n    b = await sq(3)\n    return a + b\n"
              "def f():\n    return asyncio.run(main())\n", "f()"),
    "decorated": ("import functools\n@functools.lru_cache(maxsize=None)\n"
                  "def c(n):\n    return n if n < 2 else c(n - 1) + c(n - 2)\n", "c(15)"),
}


@pytest.mark.skipif(not HAS_SYSMON, reason=NO_SYSMON)
@pytest.mark.parametrize("name", sorted(SAME_TRACE_PROGRAMS))
def test_settrace_and_sysmon_give_the_same_trace(name):
    src, test = SAME_TRACE_PROGRAMS[name]
    by_settrace, out1 = trace_program(src, test, impl="settrace")
    by_sysmon, out2 = trace_program(src, test, impl="sysmon")
    assert repr(out1) == repr(out2)
    assert by_settrace.events, "the program produced no events at all"
    assert by_settrace.to_dict() == by_sysmon.to_dict()


@pytest.mark.skipif(not HAS_SYSMON, reason=NO_SYSMON)
def test_same_trace_for_a_stdio_script():
    src = ("n = int(input())\nvals = list(map(int, input().split()))\nfor v in vals:\n"
           "    print(v * n)\nprint('done')\n")
    a, _ = trace_program(src, impl="settrace", stdin="3\n1 2 3 4 5 6\n")
    b, _ = trace_program(src, impl="sysmon", stdin="3\n1 2 3 4 5 6\n")
    assert a.to_dict() == b.to_dict()
    assert a.events[-1].stdout.endswith("18\ndone\n")


def test_an_error_inside_the_tracer_stops_tracing_but_not_the_program(impl):
    # A metaclass whose __name__ raises makes the tracer's own type-name lookup fail.
    src = ("class Meta(type):\n"
           "    @property\n"
           "    def __name__(cls):\n"
           "        raise RuntimeError('boom')\n"
           "class Odd(metaclass=Meta):\n"
           "    pass\n"
           "def f():\n"
           "    a = 1\n"
           "    o = Odd()\n"
           "    b = 2\n"
           "    return a + b\n")
    trace, value = trace_program(src, "f()", impl=impl)
    assert value == 3
    assert any(n.startswith("tracer error") and "boom" in n for n in trace.notes)
    assert ("a", ("int", "1")) in [kv for e in trace.events for kv in e.locals.items()]
    assert sys.gettrace() is None


def test_only_the_starting_thread_is_followed(impl):
    src = ("import threading\n"
           "def work(out):\n"
           "    out.append(1)\n"
           "def f():\n"
           "    out = []\n"
           "    t = threading.Thread(target=work, args=(out,))\n"
           "    t.start()\n"
           "    t.join()\n"
           "    return out\n")
    trace, value = trace_program(src, "f()", impl=impl)
    assert value == [1]
    assert "work" not in {e.func for e in trace.events}


def test_closing_a_suspended_generator_frees_its_locals(impl):
    src = ("log = []\n"
           "class Res:\n"
           "    def __del__(self):\n"
           "        log.append('freed')\n"
           "def gen():\n"
           "    r = Res()\n"
           "    yield 1\n"
           "    yield 2\n"
           "def f():\n"
           "    it = gen()\n"
           "    next(it)\n"
           "    it.close()\n"
           "    return list(log)\n")
    _, value = trace_program(src, "f()", impl=impl)
    assert value == ["freed"]


def test_dropping_a_suspended_generator_frees_its_locals(impl):
    src = ("log = []\n"
           "class Res:\n"
           "    def __del__(self):\n"
           "        log.append('freed')\n"
           "def gen():\n"
           "    r = Res()\n"
           "    yield 1\n"
           "    yield 2\n"
           "def f():\n"
           "    it = gen()\n"
           "    next(it)\n"
           "    del it\n"
           "    return list(log)\n")
    _, value = trace_program(src, "f()", impl=impl)
    assert value == ["freed"]


def test_a_generator_value_changed_while_suspended_is_reported_after_resumption(impl):
    src = ("def gen():\n"
           "    x = [1]\n"
           "    y = None\n"
           "    while True:\n"
           "        y = yield x\n"
           "        x = None\n"
           "def f():\n"
           "    it = gen()\n"
           "    next(it)\n"
           "    it.send(5)\n"
           "    return 1\n")
    trace, _ = trace_program(src, "f()", impl=impl)
    changes = [e.locals for e in trace.events if e.func == "gen" and e.locals]
    assert {"x": ("NoneType", "None")} in changes
    assert {"y": ("int", "5")} in changes
