"""Make `lm_eval --model egcfg` and our task YAMLs work after `pip install`, with no wrapper.

lm-evaluation-harness 0.4.x has no entry-point scan for models. The installed `egcfg_lm_eval.pth`
imports this module at interpreter start-up; `install()` only puts a tiny finder on
`sys.meta_path` (standard library, no lm_eval import). The finder acts when lm-eval's own modules
are imported, right after they have run:

* `lm_eval.api.registry`: import `lm_eval.models` first (it registers the stock models, and only
  does so while the registry is empty), then register "egcfg" as a lazy "module:Class" target;
* `lm_eval.tasks.manager`: every `TaskManager` built with the default tasks also indexes our task
  folder (the same folder `egcfg tasks-path` prints; passing it with --include_path too is fine);
* `lm_eval._cli`: our own usage errors (and lm-eval's unknown-task and unsafe-code errors) print
  as one message instead of a traceback; EGCFG_DEBUG=1 shows the traceback.

Set EGCFG_LM_EVAL_HOOK=0 to turn the hook off.
"""
from __future__ import annotations

import os
import sys

MODEL_NAME = "egcfg"
MODEL_TARGET = "egcfg_plugin.harness.lm_eval_model:EGCFGLM"
_TASKS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tasks")


class EGCFGUsageError(ValueError):
    """Bad input from the user (model_args, data, task rows): printed without a traceback by the
    lm_eval command line when our hook is installed."""


# -- what runs after each watched module ----------------------------------------------------------
def register_model(registry_module=None) -> None:
    """Register "egcfg" lazily, after the stock models (safe to call more than once)."""
    import lm_eval.models  # noqa: F401  (registers the stock models while the registry is empty)

    registry = registry_module or sys.modules["lm_eval.api.registry"]
    if MODEL_NAME not in registry.model_registry:
        registry.model_registry.register(MODEL_NAME, target=MODEL_TARGET)


def tasks_dir() -> str:
    return _TASKS_DIR


def with_our_tasks(include_path):
    """`include_path` plus our task folder, unless it already names it."""
    paths = [] if include_path is None else list(include_path) if isinstance(include_path, (list, tuple)) \
        else [include_path]
    ours = os.path.realpath(_TASKS_DIR)
    if any(os.path.realpath(os.fspath(p)) == ours for p in paths):
        return include_path
    return paths + [_TASKS_DIR]


def patch_task_manager(manager_module) -> None:
    """Make every TaskManager that indexes the default tasks index ours as well."""
    import functools
    import inspect

    cls = manager_module.TaskManager
    original = cls.__init__
    if getattr(original, "_egcfg_wrapped", False):
        return
    signature = inspect.signature(original)

    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError:
            return original(self, *args, **kwargs)
        bound.apply_defaults()
        if bound.arguments.get("include_defaults", True) and "include_path" in bound.arguments:
            bound.arguments["include_path"] = with_our_tasks(bound.arguments["include_path"])
        return original(*bound.args, **bound.kwargs)

    __init__._egcfg_wrapped = True
    cls.__init__ = __init__


def install_excepthook(_cli_module=None) -> None:
    """Print our usage errors, and lm-eval's unknown-task / unsafe-code errors, as one line each."""
    previous = sys.excepthook
    if getattr(previous, "_egcfg", False):
        return

    def hook(exc_type, exc, tb):
        message = short_message(exc)
        if message is None or os.environ.get("EGCFG_DEBUG") == "1":
            return previous(exc_type, exc, tb)
        sys.stderr.write(f"error: {message}\n(set EGCFG_DEBUG=1 for the traceback)\n")

    hook._egcfg = True
    sys.excepthook = hook


def short_message(exc: BaseException) -> str | None:
    """The one-line form of errors that are the user's to fix; None for anything else."""
    if isinstance(exc, EGCFGUsageError):
        return str(exc)
    if type(exc) is ValueError:
        text = str(exc)
        if text.startswith("Tasks not found"):
            return (f"lm-eval: {text}. egcfg's tasks are egcfg_mbpp, egcfg_mbpp_plus, egcfg_humaneval, "
                    f"egcfg_humaneval_plus, egcfg_humaneval_et, egcfg_mbpp_et (folder: {_TASKS_DIR}; "
                    f"`lm_eval ls tasks` lists all).")
        if "marked as unsafe" in text:
            return (f"lm-eval: {text} On the command line: add --confirm_run_unsafe_code (the generated "
                    f"code runs in egcfg's sandbox: a child process with time and memory limits).")
    return None


_HOOKS = {
    "lm_eval.api.registry": register_model,
    "lm_eval.tasks.manager": patch_task_manager,
    "lm_eval._cli": install_excepthook,
}


# -- the finder ------------------------------------------------------------------------------------
class _AfterImport:
    """A meta-path finder that runs a callback right after a watched module has executed."""

    def __init__(self, hooks: dict):
        self.hooks = hooks
        self.busy: set[str] = set()

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.hooks or fullname in self.busy:
            return None
        self.busy.add(fullname)
        try:
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            self.busy.discard(fullname)
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _Loader(spec.loader, self.hooks[fullname])
        return spec


class _Loader:
    """Wraps the real loader: run the module, then the callback. Everything else is delegated."""

    def __init__(self, loader, after):
        self._loader = loader
        self._after = after

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _run(self._after, module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


def _run(callback, module) -> None:
    try:
        callback(module)
    except Exception as e:  # never break lm-eval itself because our hook failed
        import logging

        logging.getLogger(__name__).warning("egcfg: lm-eval hook %s failed: %r", callback.__name__, e)


_FINDER: _AfterImport | None = None


def install() -> bool:
    """Put the finder on sys.meta_path (idempotent); run the callbacks for modules already
    imported. Returns False when turned off with EGCFG_LM_EVAL_HOOK=0."""
    global _FINDER
    if os.environ.get("EGCFG_LM_EVAL_HOOK", "1") == "0":
        return False
    if _FINDER is None:
        _FINDER = _AfterImport(_HOOKS)
        sys.meta_path.insert(0, _FINDER)
        for name, callback in _HOOKS.items():
            if name in sys.modules:
                _run(callback, sys.modules[name])
    return True
