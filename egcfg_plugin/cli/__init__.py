"""The `egcfg` command. Subcommands live in their own modules and load only when called,
so `egcfg --help` imports no torch."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMMANDS = {
    # name: ("module:function taking argv", one-line help)
    "compare": ("egcfg_plugin.cli.compare:main", "side-by-side baseline vs EG-CFG run with tables and plots"),
    "report": ("egcfg_plugin.cli.compare:report_main", "re-render a compare summary from its JSONL"),
    "evalplus": ("egcfg_plugin.cli.evalplus:main", "EvalPlus codegen with EG-CFG (leaderboard-format samples)"),
    "bigcode": ("egcfg_plugin.cli.bigcode:main", "bigcode-evaluation-harness generations with EG-CFG, and its scorer"),
    "tasks-path": ("egcfg_plugin.harness.lm_eval_tasks:print_path", "print the folder of egcfg's lm-eval task YAMLs"),
    "fetch-model": ("egcfg_plugin.cli.generate:fetch_main", "download, verify and convert a pinned default model"),
}


USAGE_ERROR = 2   # every command's exit code for a bad input (argparse's own)

ABOUT = """\
lm-eval:  lm_eval --model egcfg --model_args pretrained=default,gamma=1.0 --tasks egcfg_mbpp \\
              --include_path "$(egcfg tasks-path)" --apply_chat_template --confirm_run_unsafe_code

environment:
  EGCFG_DATA_DIR          folder of benchmark files (searched first; default ../shared/data)
  EGCFG_CACHE_DIR         egcfg's cache: models, generations (default ~/.cache/egcfg)
  EGCFG_GENERATION_CACHE  the generation cache folder alone
  EGCFG_TRACER            settrace or sysmon (the sandbox's line tracer)
  EGCFG_DEBUG=1           full tracebacks from the lm-eval face
  EGCFG_API_KEY           the key for backend=endpoint

docs: README.md and docs/ (compare.md, lm_eval.md, evalplus.md, bigcode.md, backends.md)
"""


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("egcfg")
    except PackageNotFoundError:
        return "unknown (not installed; pip install -e .)"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        _usage()
        return 0
    if argv[0] in ("-V", "--version"):
        print(f"egcfg {version()}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        import difflib

        close = difflib.get_close_matches(name, COMMANDS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        print(f"egcfg: unknown command {name!r}.{hint} Commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return USAGE_ERROR
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    target, _ = COMMANDS[name]
    module, func = target.split(":")
    try:
        return int(getattr(importlib.import_module(module), func)(rest) or 0)
    except SystemExit as e:   # a command's one-line error (SystemExit("egcfg x: ...")): exit code 2
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
            return USAGE_ERROR
        return 0 if e.code is None else int(e.code)


def _usage() -> None:
    parser = argparse.ArgumentParser(prog="egcfg", description="EG-CFG for code-LLM evaluation harnesses.")
    sys.stdout.write("usage: egcfg [-h] [--version] COMMAND [ARGS]  (egcfg COMMAND --help for each)\n\n")
    sys.stdout.write(parser.description + "\n\n")
    width = max(len(n) for n in COMMANDS)
    lines = [f"  {n.ljust(width)}  {h}" for n, (_, h) in COMMANDS.items()]
    sys.stdout.write("commands:\n" + "\n".join(lines) + "\n\n" + ABOUT)


if __name__ == "__main__":
    sys.exit(main())
