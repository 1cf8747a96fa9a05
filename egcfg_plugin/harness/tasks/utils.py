"""Hooks for the egcfg_* task YAMLs; the code lives in egcfg_plugin.harness.lm_eval_tasks."""
from egcfg_plugin.harness.lm_eval_tasks import count, guided_share, load_docs, mean_defined, process_results

__all__ = ["count", "guided_share", "load_docs", "mean_defined", "process_results"]
