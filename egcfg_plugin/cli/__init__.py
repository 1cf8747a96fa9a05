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


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        _usage()
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        import difflib

        close = difflib.get_close_matches(name, COMMANDS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        print(f"egcfg: unknown command {name!r}.{hint} Commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    target, _ = COMMANDS[name]
    module, func = target.split(":")
    return int(getattr(importlib.import_module(module), func)(rest) or 0)


def _usage() -> None:
    parser = argparse.ArgumentParser(prog="egcfg", description="EG-CFG for code-LLM evaluation harnesses.")
    parser.print_usage()
    width = max(len(n) for n in COMMANDS)
    lines = [f"  {n.ljust(width)}  {h}" for n, (_, h) in COMMANDS.items()]
    sys.stdout.write("commands:\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
