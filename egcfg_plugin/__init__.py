"""EG-CFG: execution-guided classifier-free guidance for code LLMs, as a harness plugin.

Importing this package is cheap: torch and transformers load only when a model is used.
"""
__version__ = "0.1.0"

__all__ = ["EGCFGConfig", "Problem", "generate", "load_model"]


def __getattr__(name):
    if name == "EGCFGConfig":
        from egcfg_plugin.core.config import EGCFGConfig
        return EGCFGConfig
    if name == "Problem":
        from task_adapters.base import Problem
        return Problem
    if name == "generate":
        from egcfg_plugin.core.decoding import generate
        return generate
    if name == "load_model":
        from egcfg_plugin.core.models import load_model
        return load_model
    raise AttributeError(f"module 'egcfg_plugin' has no attribute {name!r}")
