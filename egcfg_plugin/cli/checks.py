"""Input checks the commands run before any model loads, each failing with one line that names
the value and the fix (a SystemExit with a message: `egcfg` turns it into exit code 2).

    check_model("nosuch/model", "egcfg compare")    # offline and not cached: fails at once
    check_device("cuda", "egcfg compare")            # CPU-only torch: fails at once
"""
from __future__ import annotations

import os
import re
from pathlib import Path

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_TRUE = ("1", "true", "yes", "on")


def hub_offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() in _TRUE for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def check_model(name: str, prog: str) -> None:
    """Fail at once for a model that is neither here nor to be had: not 'default' or a pinned
    name, not a local folder or file, not in the hub cache, and the hub offline or out of reach.
    A hub name the hub can serve is left to the loader."""
    from egcfg_plugin.core.backend import BackendError, ModelSpec
    from egcfg_plugin.core.models import DEFAULT_MODELS

    try:
        spec = ModelSpec.parse(name)
        backend = spec.resolved_backend()
    except (ValueError, BackendError) as e:
        raise SystemExit(f"{prog}: --model {name!r}: {e}") from None
    model = spec.name
    if backend == "endpoint" or model in ("default", "") or model in DEFAULT_MODELS:
        return
    if Path(model).expanduser().exists():
        return
    kinds = f"'default', a pinned name ({', '.join(DEFAULT_MODELS)}), a model folder, a .gguf file or a hub name"
    if not _HUB_ID.match(model) or model.endswith(".gguf") or model.startswith((".", "~")):
        raise SystemExit(f"{prog}: --model {model!r}: no such folder or file; give {kinds}")
    if _in_hub_cache(model):
        return
    if hub_offline():
        raise SystemExit(f"{prog}: --model {model!r} is no folder here and not in the hub cache, and HF_HUB_OFFLINE "
                         f"is set; download it first or give a local folder")
    from task_adapters.data import hub_reachable

    if not hub_reachable():
        raise SystemExit(f"{prog}: --model {model!r} is no folder here, not in the hub cache, and the hub is out of "
                         f"reach; give a local folder or 'default'")


def _in_hub_cache(repo: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        return isinstance(try_to_load_from_cache(repo, "config.json"), str)
    except Exception:   # an id the hub library refuses: not cached
        return False


def check_device(device: str | None, prog: str) -> None:
    """A CUDA device on a torch without CUDA (or without a GPU) fails at once."""
    if not device or not str(device).startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        why = "was built without CUDA" if torch.version.cuda is None else "sees no GPU"
        raise SystemExit(f"{prog}: --device {device}: this torch ({torch.__version__}) {why}; use --device cpu")


def one_line_errors(prog: str, run, extra: tuple = ()) -> int:
    """`run()`'s exit code, or 2 with one line on stderr for a usage error: a bad value
    (ValueError, KeyError, a missing file, `extra`) or a check's SystemExit message."""
    import sys

    from egcfg_plugin.cli import USAGE_ERROR

    try:
        return run()
    except (ValueError, FileNotFoundError, KeyError, *extra) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        sys.stderr.write(f"{prog}: {msg}\n")
        return USAGE_ERROR
    except SystemExit as e:      # a one-line check (cli.checks) that already names the command
        if not isinstance(e.code, str):
            raise
        sys.stderr.write(e.code + "\n")
        return USAGE_ERROR
