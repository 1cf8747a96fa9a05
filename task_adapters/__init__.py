"""Benchmark adapters: dataset rows to Problems (visible tests) and hidden tests for scoring.

    from task_adapters.registry import get_adapter
    adapter = get_adapter("egcfg_humaneval")      # or a stock lm-eval name such as "mbpp_instruct"
    rows = adapter.load(limit=5)                   # local files first: see task_adapters.data
    problem = adapter.problem(rows[0], style="chat")   # Problem with the visible tests only
    score = adapter.score(rows[0], program)        # hidden tests, in the sandbox, no tracing

One module per benchmark family: `mbpp` (full, sanitized), `humaneval`, `plus` (HumanEval+,
MBPP+), `et` (HumanEval-ET, MBPP-ET), `codecontests`, `ds1000`; `examples` extracts HumanEval
docstring examples, `plus_harness` checks EvalPlus inputs in one child, `common` holds the shared
adapter base, `registry` maps task names to adapters. Each module's docstring says what is visible
and what is hidden for its benchmark.
"""
