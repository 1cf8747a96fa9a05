"""The in-child program that checks a function on many EvalPlus inputs in one execution.

`HARNESS` is Python source (standard library; numpy only if present) run as test code after the
candidate program. Two entry points:

- ``_egcfg_plus_compute(namespace, case)``: runs the reference function on every input and prints
  one line ``EGCFG-EXPECTED <base64 zlib pickle>`` holding, per input, ("v", output) or ("r",)
  when the output is too big or cannot be pickled (then the check recomputes it), and the time
  each input took.
- ``_egcfg_plus_check(namespace, case)``: calls the candidate on every input in order and raises
  AssertionError at the first input whose output differs, naming the input. Outputs are compared
  as `evalplus.eval.unsafe_execute` does (evalplus 0.3.1): exact ``==``, then the special oracles
  (MBPP+: are_equivalent, sum_div, surface_Area, digit_distance_nums, set-equal and not-None
  tasks; HumanEval+: find_zero by |poly(x)| <= atol), then, for float outputs or a task atol,
  same type and length and ``numpy.allclose(rtol=1e-7, atol)``. Each input has a CPU-time limit
  (max(1 s, 4 x the reference time), as EvalPlus) enforced with ITIMER_PROF when that timer is free,
  and the whole set a CPU budget (EvalPlus's per-task timeout; see task_adapters.plus), so the
  sandbox's wall-clock limit is only a backstop.

A case is a dict, pickled into the test source: entry_point, dataset ("humaneval" | "mbpp"), name
("base" | "plus"), expected (list of ("v", value) | ("r",)), limits (seconds per input),
budget (CPU seconds for all inputs), atol, reference (the canonical program, for recomputed
outputs), output_not_none (bool). The inputs travel pickled on their own (`_raw_inputs`),
decoded once per check and again only to name a failing input (the candidate may mutate them).
"""
from __future__ import annotations

import base64
import pickle
import zlib

MARKER = "EGCFG-EXPECTED "
COMPUTE_VERSION = 2      # bump when the expected-output format changes (part of the cache key)

HARNESS = r'''
import base64 as _egcfg_b64, copy as _egcfg_copy, math as _egcfg_math, pickle as _egcfg_pickle
import signal as _egcfg_signal, sys as _egcfg_sys, time as _egcfg_time, zlib as _egcfg_zlib

_EGCFG_SET_EQ = ("similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
                 "larg_nnum", "intersection_array", "find_dissimilar", "Diff")
_EGCFG_NOT_NONE = ("check_str", "text_match_three", "text_starta_endb")
_EGCFG_INLINE_MAX = 32768
_EGCFG_TOTAL_MAX = 600000


class _EgcfgInputTimeout(BaseException):
    pass


def _egcfg_decode(text):
    return _egcfg_pickle.loads(_egcfg_zlib.decompress(_egcfg_b64.b64decode(text)))


def _egcfg_short(value, limit=300):
    try:
        text = repr(value)
    except Exception as exc:
        text = "<repr failed: %s>" % type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "...<%d more chars>" % (len(text) - limit)


def _egcfg_is_floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    np = _egcfg_sys.modules.get("numpy")
    if np is not None and isinstance(x, np.ndarray):
        return x.dtype == np.float64 or x.dtype == np.float32
    return False


def _egcfg_close_py(a, b, atol, rtol=1e-07):
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        a = list(a) if isinstance(a, (list, tuple)) else [a] * len(b)
        b = list(b) if isinstance(b, (list, tuple)) else [b] * len(a)
        return len(a) == len(b) and all(_egcfg_close_py(x, y, atol, rtol) for x, y in zip(a, b))
    try:
        a, b = complex(a), complex(b)
    except (TypeError, ValueError):
        return False
    if _egcfg_math.isinf(abs(a)) or _egcfg_math.isinf(abs(b)):
        return a == b
    return abs(a - b) <= atol + rtol * abs(b)


def _egcfg_allclose(out, exp, atol):
    try:
        import numpy as np
    except ImportError:
        return _egcfg_close_py(out, exp, atol)
    try:
        return bool(np.allclose(out, exp, rtol=1e-07, atol=atol))
    except Exception:
        return False


def _egcfg_poly(xs, x):
    return sum([coeff * _egcfg_math.pow(x, i) for i, coeff in enumerate(xs)])


def _egcfg_surface_area(base_edge, height):
    slant_height = _egcfg_math.sqrt((base_edge / 2) ** 2 + height ** 2)
    return round(base_edge ** 2 + 4 * (base_edge * slant_height) / 2)


def _egcfg_digit_distance(num1, num2):
    a, b = str(num1), str(num2)
    n = max(len(a), len(b))
    a, b = a.zfill(n), b.zfill(n)
    return sum(abs(int(x) - int(y)) for x, y in zip(a, b))


def _egcfg_same(case, inp, out, exp, atol):
    """(ok, atol): EvalPlus's comparison; atol may be raised to 1e-6 for float outputs and stays."""
    entry, dataset = case["entry_point"], case["dataset"]
    exact = out == exp
    if not isinstance(exact, bool):
        try:
            exact = bool(exact.all()) if hasattr(exact, "all") else bool(exact)
        except Exception:
            exact = False
    if dataset == "mbpp":
        if entry == "are_equivalent":
            exact = True
        elif entry == "sum_div":
            exact = exact or out == 0
        elif entry == "surface_Area":
            exact = exact or abs(out - _egcfg_surface_area(*inp)) <= atol
        elif entry == "digit_distance_nums":
            exact = exact or out == _egcfg_digit_distance(*inp)
        elif entry in _EGCFG_SET_EQ:
            exact = set(out) == set(exp)
        elif entry in _EGCFG_NOT_NONE:
            exact = out == exp if isinstance(out, bool) else exp == (out is not None)
    if dataset == "humaneval" and entry == "find_zero":
        return abs(_egcfg_poly(*inp, out)) <= atol, atol
    if atol == 0 and _egcfg_is_floats(exp):
        atol = 1e-6
    if not exact and atol != 0:
        if type(out) != type(exp):
            return False, atol
        if isinstance(exp, (list, tuple)) and len(out) != len(exp):
            return False, atol
        return _egcfg_allclose(out, exp, atol), atol
    return bool(exact), atol


def _egcfg_on_prof(signum, frame):
    raise _EgcfgInputTimeout()


def _egcfg_timer_free():
    try:
        return (_egcfg_signal.getsignal(_egcfg_signal.SIGPROF) in (_egcfg_signal.SIG_DFL, None)
                and _egcfg_signal.getitimer(_egcfg_signal.ITIMER_PROF) == (0.0, 0.0))
    except (AttributeError, ValueError, OSError):
        return False


def _egcfg_plus_compute(ns, case):
    fn = ns[case["entry_point"]]
    values, times, total = [], [], 0
    for inp in case["inputs"]:
        inp = _egcfg_copy.deepcopy(inp)
        t0 = _egcfg_time.perf_counter()
        out = fn(*inp)
        times.append(_egcfg_time.perf_counter() - t0)
        if case.get("output_not_none"):
            out = out is not None
        try:
            blob = _egcfg_pickle.dumps(out)
            ok = len(blob) <= _EGCFG_INLINE_MAX and total + len(blob) <= _EGCFG_TOTAL_MAX
        except Exception:
            ok = False
        if ok:
            total += len(blob)
            values.append(("v", out))
        else:
            values.append(("r",))
    blob = _egcfg_b64.b64encode(_egcfg_zlib.compress(_egcfg_pickle.dumps({"values": values, "times": times})))
    _egcfg_sys.stdout.write("\n" + "EGCFG-EXPECTED " + blob.decode("ascii") + "\n")


def _egcfg_plus_check(ns, case):
    name, entry = case["name"], case["entry_point"]
    fn = ns.get(entry)
    if not callable(fn):
        raise AssertionError("the program defines no function %r" % entry)
    ref = None
    if any(e[0] == "r" for e in case["expected"]):
        ref_ns = {"__name__": "__egcfg_reference__"}
        exec(case["reference"], ref_ns)
        ref = ref_ns[entry]
    inputs = _egcfg_decode(case["_raw_inputs"])
    timer = _egcfg_timer_free()
    if timer:
        _egcfg_signal.signal(_egcfg_signal.SIGPROF, _egcfg_on_prof)
    atol = case["atol"]
    budget, spent = case["budget"], 0.0
    try:
        for i, inp in enumerate(inputs):
            exp = case["expected"][i]
            if exp[0] == "r":
                exp = ref(*_egcfg_copy.deepcopy(inp))
                if case.get("output_not_none"):
                    exp = exp is not None
            else:
                exp = exp[1]
            limit = case["limits"][i]
            t0 = _egcfg_time.process_time()
            if spent > budget:
                raise AssertionError("%s: over the task's %.3gs time budget before input #%d"
                                     % (name, budget, i))
            try:
                if timer:
                    _egcfg_signal.setitimer(_egcfg_signal.ITIMER_PROF, limit)
                out = fn(*inp)
            except _EgcfgInputTimeout:
                raise AssertionError("%s input #%d: over its %.2gs time limit; input %s"
                                     % (name, i, limit, _egcfg_short(_egcfg_original(case, i))))
            except MemoryError:
                raise
            except Exception as exc:
                raise AssertionError("%s input #%d raised %s: %s; input %s"
                                     % (name, i, type(exc).__name__, str(exc)[:200],
                                        _egcfg_short(_egcfg_original(case, i))))
            finally:
                if timer:
                    _egcfg_signal.setitimer(_egcfg_signal.ITIMER_PROF, 0)
            took = _egcfg_time.process_time() - t0
            spent += took
            if not timer and took > limit:
                raise AssertionError("%s input #%d: over its %.2gs time limit" % (name, i, limit))
            try:
                ok, atol = _egcfg_same(case, inp, out, exp, atol)
            except Exception as exc:
                ok = False
            if not ok:
                raise AssertionError("%s input #%d: expected %s, got %s; input %s"
                                     % (name, i, _egcfg_short(exp), _egcfg_short(out),
                                        _egcfg_short(_egcfg_original(case, i))))
    finally:
        if timer:
            _egcfg_signal.setitimer(_egcfg_signal.ITIMER_PROF, 0)
            _egcfg_signal.signal(_egcfg_signal.SIGPROF, _egcfg_signal.SIG_DFL)
    return "%s: %d inputs passed" % (name, len(inputs))


def _egcfg_original(case, i):
    return _egcfg_decode(case["_raw_inputs"])[i]
'''


def encode(obj) -> str:
    return base64.b64encode(zlib.compress(pickle.dumps(obj, protocol=4), 6)).decode("ascii")


def decode(text: str):
    return pickle.loads(zlib.decompress(base64.b64decode(text)))


def compute_code(entry_point: str, inputs: list, output_not_none: bool) -> str:
    """Test code that prints the reference outputs for `inputs` (see `parse_computed`)."""
    case = {"entry_point": entry_point, "inputs": inputs, "output_not_none": output_not_none}
    return (HARNESS + f"\n_egcfg_case = _egcfg_decode({encode(case)!r})\n"
            "_egcfg_plus_compute(globals(), _egcfg_case)\n")


def parse_computed(stdout: str) -> dict | None:
    """{"values": [...], "times": [...]} from the compute run's stdout, or None."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            return decode(line[len(MARKER):])
    return None


def check_code(case: dict, inputs: list) -> str:
    """Test code that checks the program's function on every input of `case`."""
    case = {k: v for k, v in case.items() if k != "inputs"}
    case["_raw_inputs"] = encode(inputs)
    return (HARNESS + f"\n_egcfg_case = _egcfg_decode({encode(case)!r})\n"
            "_egcfg_plus_check(globals(), _egcfg_case)\n")
