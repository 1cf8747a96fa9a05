"""Import shim, kept for one release: this module moved to `egcfg_plugin.harness.lm_eval_model`
(the same module object is returned, so patching either name patches both)."""
import sys

from egcfg_plugin.harness import lm_eval_model as _moved

sys.modules[__name__] = _moved
