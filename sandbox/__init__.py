"""Run untrusted candidate code in isolated children and record line-level traces.

Pure standard library: no model, no benchmark knowledge.

    from sandbox import run, run_many, TestCase
    result = run("def f(x):\n    return x + 1\n", TestCase.call("f(1)", expected="2"))
    result.status  # Status.PASSED
"""
from sandbox.types import ExecResult, Status, TestCase, Trace, TraceEvent

__all__ = ["ExecResult", "Status", "TestCase", "Trace", "TraceEvent", "run", "run_many",
           "make_executable", "render_trace", "info"]


def __getattr__(name):  # lazy: keep `import sandbox` cheap for worker processes
    if name in ("run", "run_many"):
        from sandbox import runner
        return getattr(runner, name)
    if name == "info":
        from sandbox.runner import server_info
        return server_info
    if name == "make_executable":
        from sandbox.repair import make_executable
        return make_executable
    if name == "render_trace":
        from sandbox.render import render_trace
        return render_trace
    raise AttributeError(f"module 'sandbox' has no attribute {name!r}")
