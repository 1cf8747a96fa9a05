"""DS-1000 (data-science snippets: pandas, numpy, matplotlib, sklearn, scipy, pytorch, tensorflow).

The answer is a code snippet that DS-1000 inserts at ``[insert]`` in the row's `exec_context`.

Hidden test: the row's own `code_context`, i.e. ``test_execution(solution)`` (every test case,
with its expected result) and ``test_string(solution)`` when the row defines it. To hand the
snippet to them, `program()` turns the candidate code into ``_egcfg_solution = "<code>"``; the
hidden test then runs the context and those calls.

Visible test (our design; DS-1000 gives a user nothing beyond the prompt), from the prompt alone:
the example code the prompt shows before the solution (its `<code>` block before ``BEGIN
SOLUTION``, or the Matplotlib prompt's code before ``# SOLUTION START``) runs as setup, then the
snippet; the test passes when nothing raises, and the value of the answer variable the prompt
names (``result = ... # put solution in this variable``) is recorded for the trace but never
compared. Nothing of `code_context` (the hidden test cases and `exec_context`) is used, so the
trace shows only data the prompt shows. Rows whose prompt loads its data (``load_data()``,
Sklearn and Pytorch mostly) or puts the snippet inside a function have no visible test.

Rows that import a module missing here carry ``meta["unscorable"]`` (on this machine: tensorflow,
seaborn, xgboost, gensim, statsmodels; 106 rows); scoring them would only report the ImportError.
So do rows whose own reference answer fails its hidden test with the library versions installed
here (pandas 3 removed ``DataFrame.append``, numpy 2 ``np.NAN``, ...; 65 of the other 894 rows on
this machine): `check_references` runs each reference once per row and set of library versions
and caches the outcome under the egcfg cache (``ds1000-reference/``).
"""
from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import logging
import os
import re

from task_adapters.base import SEEN, STDIO, Problem, Taxonomy
from sandbox.types import TestCase
from task_adapters import data, prompts
from task_adapters.common import RESPONSE_PREFIX, Adapter, check_style

LIBRARY_MODULES = {"Pandas": "pandas", "Numpy": "numpy", "Matplotlib": "matplotlib", "Sklearn": "sklearn",
                   "Scipy": "scipy", "Pytorch": "torch", "Tensorflow": "tensorflow"}
HEADLESS = "import os as _egcfg_os\n_egcfg_os.environ.setdefault('MPLBACKEND', 'Agg')\n"
# pre-imported by a warm sandbox server for DS-1000 runs (when installed); see sandbox_preload
WARM_MODULES = ("numpy", "pandas", "scipy", "scipy.stats", "scipy.sparse", "scipy.optimize", "scipy.interpolate",
                "scipy.spatial", "sklearn", "sklearn.preprocessing", "sklearn.linear_model", "sklearn.model_selection",
                "sklearn.feature_extraction.text", "sklearn.cluster", "sklearn.svm", "sklearn.metrics",
                "matplotlib", "matplotlib.pyplot", "torch")
WARM_ENV = "EGCFG_SANDBOX_WARM"   # "0": DS-1000 runs go to the plain server and import cold
_IMPORT = re.compile(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", re.M)
_EXEC_CONTEXT = re.compile(r'exec_context\s*=\s*r?("""|\'\'\')(.*?)\1', re.S)


_AVAILABLE: dict[str, bool] = {}
_REFERENCE_CHECKS = data.JsonCache("ds1000-reference")
REFERENCE_CHECK_VERSION = 1
_DISTRIBUTIONS = {"sklearn": "scikit-learn"}
log = logging.getLogger(__name__)


def _version(module: str) -> str:
    try:
        return importlib.metadata.version(_DISTRIBUTIONS.get(module, module))
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _module_available(name: str) -> bool:
    if name not in _AVAILABLE:
        try:
            _AVAILABLE[name] = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            _AVAILABLE[name] = False
    return _AVAILABLE[name]


class DS1000Adapter(Adapter):
    name = "ds1000"
    family = "DS-1000"
    dataset = "ds1000"
    required_fields = ("prompt", "code_context", "metadata")   # the visible test runs the context too
    timeout_s = 60.0

    def task_id(self, row) -> str:
        return f"DS1000/{row['metadata']['problem_id']}"

    def normalize_id(self, task_id) -> str:
        s = str(task_id)
        return s if s.startswith("DS1000/") else f"DS1000/{int(s)}"

    def raw_id(self, doc):
        if "metadata" in doc:
            return doc["metadata"]["problem_id"]
        return super().raw_id(doc)

    def library(self, row) -> str:
        return row["metadata"].get("library", "")

    def needed_modules(self, row) -> list[str]:
        """Top-level modules the row's code context imports, plus its library's."""
        mods = set(_IMPORT.findall(row["code_context"]))
        lib = LIBRARY_MODULES.get(self.library(row))
        if lib:
            mods.add(lib)
        return sorted(mods)

    def unscorable(self, row) -> str | None:
        """Why this row cannot be scored here, or None: a module it imports is missing, or its own
        reference answer fails its hidden test with the installed library versions."""
        missing = [m for m in self.needed_modules(row) if not _module_available(m)]
        if missing:
            return f"needs {', '.join(missing)} (not installed)"
        return self.reference_failure(row)

    # -- the reference check --------------------------------------------------------------------------
    def _reference_key(self, row) -> str:
        versions = {m: _version(m) for m in self.needed_modules(row)}
        return data.content_key("ds1000-reference", REFERENCE_CHECK_VERSION, self.task_id(row), row["code_context"],
                                row["reference_code"], versions)

    def reference_failure(self, row) -> str | None:
        """Why the row's reference answer fails its hidden test here ("reference fails here:
        <error>"), or None; run once per row and library versions (`check_references`)."""
        hit = _REFERENCE_CHECKS.get(self._reference_key(row))
        if hit is None:
            self.check_references([row])
            hit = _REFERENCE_CHECKS.get(self._reference_key(row)) or {}
        return hit.get("failure")

    def check_references(self, rows: list[dict]) -> None:
        """Run the references of `rows` not checked yet (library installed) in one batch and cache
        the outcomes. A deterministic failure (an exception, a wrong value) marks the row; a
        timeout or a killed run is not cached (the next call tries again)."""
        todo = []                 # (row, its cache key), each key computed once
        for r in rows:
            if all(_module_available(m) for m in self.needed_modules(r)):
                key = self._reference_key(r)
                if _REFERENCE_CHECKS.get(key) is None:
                    todo.append((r, key))
        if not todo:
            return
        log.info("DS-1000: checking %d reference answers with the installed libraries (cached)", len(todo))
        for (row, key), score in zip(todo, self.score_many([(r, r["reference_code"]) for r, _ in todo])):
            if score.all_passed:
                _REFERENCE_CHECKS.put(key, {"failure": None})
            elif all(r.status.value in ("passed", "failed", "error") for r in score.results):
                why = " ".join((score.first_failure or "").split())[:200]
                _REFERENCE_CHECKS.put(key, {"failure": f"reference fails here: {why}"})

    prepare = check_references   # lm-eval's load_docs checks every row up front

    def check_hidden(self, row) -> None:
        super().check_hidden(row)
        if "def test_execution" not in row["code_context"]:
            raise data.MalformedRow(f"{self.family} task {self.task_id(row)}: row without tests "
                                    f"(code_context defines no test_execution)")

    def exec_context(self, row) -> str | None:
        m = _EXEC_CONTEXT.search(row["code_context"])
        return m.group(2) if m else None

    # -- tests --------------------------------------------------------------------------------------
    def visible_tests(self, row) -> list[TestCase]:
        """One test built from the prompt alone: its example code runs as setup, then the snippet,
        then the answer variable is read; it passes when nothing raises. None when the prompt's
        data is hidden (`load_data()`), the snippet is a function body, or no code is shown."""
        self.check_row(row)
        setup = self.prompt_setup(row)
        if setup is None:
            return []
        return [TestCase.call(self.answer_variable(row), setup=HEADLESS + setup, name="runs")]

    @staticmethod
    def prompt_setup(row) -> str | None:
        """The code the prompt shows before the solution starts, when it runs on its own: the
        `<code>` block before ``BEGIN SOLUTION``, or (Matplotlib) the code before
        ``# SOLUTION START``. None otherwise."""
        prompt = row["prompt"]
        if "BEGIN SOLUTION" in prompt:
            head = prompt[:prompt.index("BEGIN SOLUTION")]
            blocks = re.findall(r"<code>\n?(.*?)</code>", head, re.S)
            if not blocks:
                return None            # the solution goes inside a shown function (`def f(...):`)
            code = blocks[-1]
        elif "# SOLUTION START" in prompt:
            code = prompt[:prompt.index("# SOLUTION START")]
        else:
            return None
        if re.search(r"\bload_data\s*\(", code):
            return None                # the data is not in the prompt
        try:
            ast.parse(code)
        except SyntaxError:
            return None
        return code if code.endswith("\n") else code + "\n"

    @staticmethod
    def answer_variable(row) -> str:
        """The variable the prompt asks the answer in (``result = ... # put solution in this
        variable``, or "solve this question with example variable `clf`"), else "None" (the
        snippet only has to run)."""
        m = (re.search(r"^(\w+)\s*=\s*\.\.\.", row["prompt"], re.M)
             or re.search(r"example variable `(\w+)`", row["prompt"]))
        return m.group(1) if m else "None"

    def program(self, row, code: str) -> str:
        return f"_egcfg_solution = {code!r}\n"

    def hidden_tests(self, row) -> list[TestCase]:
        self.check_row(row)
        self.check_hidden(row)
        calls = "test_execution(_egcfg_solution)\n"
        if "def test_string" in row["code_context"]:
            calls += "test_string(_egcfg_solution)\n"
        return [TestCase.call(row["code_context"] + "\n" + calls, setup=HEADLESS, name="test_execution")]

    taxonomy = Taxonomy(seen="test_execution: every test case in one run; the first case is the prompt's "
                             "own example data in most rows, so the whole test counts as seen",
                        never_seen="")

    def test_kinds(self, row) -> list[str]:
        return [SEEN]

    def memory_mb(self, row) -> int:
        return 0 if self.library(row) in ("Pytorch", "Tensorflow") else 4096

    def sandbox_preload(self) -> tuple[str, ...]:
        """The installed WARM_MODULES: a warm sandbox server imports them once, and each run (still
        a fresh fork that dies after it) inherits them instead of importing pandas, sklearn or torch
        again (benchmarks/bench_ds1000_warm.py measures the saving). Their pages count against
        `memory_mb` (4096 MB; no cap for Pytorch rows). EGCFG_SANDBOX_WARM=0 turns it off."""
        if os.environ.get(WARM_ENV, "1") == "0":
            return ()
        return tuple(m for m in WARM_MODULES if _module_available(m.split(".")[0]))

    # -- prompt -------------------------------------------------------------------------------------
    def meta(self, row) -> dict:
        m = super().meta(row)
        m["library"] = self.library(row)
        m["answer"] = "snippet inserted into exec_context"
        m["sandbox"] = {"preload": list(self.sandbox_preload()), "memory_mb": self.memory_mb(row)}
        return m

    def problem(self, row, style: str = "chat", wording: str | None = None) -> Problem:
        check_style(style)   # one wording: no chat prompt of record (task_adapters.prompts)
        prompts.check_wording(wording)
        self.check_row(row)
        prompt_text = row["prompt"]
        if style == "chat":
            text = ("Solve the data-science problem below. Write only the Python code that goes where "
                    "the solution starts (after BEGIN SOLUTION); it runs after the given code, with the "
                    "same variables, and must leave the answer where the problem says.\n\n"
                    f"{prompt_text.rstrip()}\n\nAnswer with that code in one ```python code block.")
            prompt: str | tuple = ({"role": "user", "content": text},)
            signal_at = None
        else:
            prompt = prompt_text
            signal_at = len(prompt)
        return Problem(task_id=self.task_id(row), prompt=prompt, visible_tests=tuple(self.visible_tests(row)),
                       entry_point=None, kind=STDIO, code_prefix="", response_prefix=RESPONSE_PREFIX,
                       signal_at=signal_at, meta=self.meta(row))
