"""Input checks the commands run before any model loads, each failing with one line that names
the value and the fix (a SystemExit with a message: `egcfg` turns it into exit code 2).

    check_model("nosuch/model", "egcfg compare")    # offline and not cached: fails at once
    check_device("cuda", "egcfg compare")            # CPU-only torch: fails at once
"""
from __future__ import annotations


def check_model(name: str, prog: str) -> None:
    """Fail at once for a model that is neither here nor to be had (core.models.model_unavailable)."""
    from egcfg_plugin.core.models import model_unavailable

    why = model_unavailable(name)
    if why:
        raise SystemExit(f"{prog}: --model {why}")


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
