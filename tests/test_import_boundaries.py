"""The package boundaries, checked on the import graph (issue 16).

Every import of every module is read with `ast`, lazy imports inside functions included:

- egcfg_plugin/core imports nothing from agents, harness or cli;
- egcfg_plugin/agents nothing from harness or cli;
- egcfg_plugin/harness nothing from cli;
- task_adapters nothing from egcfg_plugin;
- sandbox nothing from egcfg_plugin or task_adapters;
- the modules of egcfg_plugin/cli import each other without a cycle.

The one-release shims (egcfg_plugin.problem, .lm_eval_model, .lm_eval_hook) re-export moved
modules and sit outside the wings, so no rule names them.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("egcfg_plugin", "task_adapters", "sandbox")

# (importer prefix, forbidden imported prefixes)
RULES = (
    ("egcfg_plugin.core", ("egcfg_plugin.agents", "egcfg_plugin.harness", "egcfg_plugin.cli")),
    ("egcfg_plugin.agents", ("egcfg_plugin.harness", "egcfg_plugin.cli")),
    ("egcfg_plugin.harness", ("egcfg_plugin.cli",)),
    ("task_adapters", ("egcfg_plugin",)),
    ("sandbox", ("egcfg_plugin", "task_adapters")),
)


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def imports_of(path: Path, known: set[str], root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, at any depth. `from a import b`
    counts as importing a.b when a.b is one of our modules, else a."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.append((node.lineno, full if full in known else base))
    return found


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def graph() -> dict[str, list[tuple[int, str]]]:
    modules = all_modules()
    known = set(modules)
    return {name: imports_of(path, known) for name, path in modules.items()}


def violations(edges: dict[str, list[tuple[int, str]]]) -> list[str]:
    bad = []
    for importer, imported in edges.items():
        for prefix, forbidden in RULES:
            if not _within(importer, prefix):
                continue
            for line, target in imported:
                if any(_within(target, f) for f in forbidden):
                    bad.append(f"{importer.replace('.', '/')}.py:{line} imports {target} ({prefix} must not)")
    return bad


def cycles(edges: dict[str, list[tuple[int, str]]], prefix: str) -> list[list[str]]:
    """Import cycles among the modules under `prefix` (a depth-first search for back edges)."""
    inside = {m: sorted({t for _, t in edges[m] if _within(t, prefix) and t in edges and t != m})
              for m in edges if _within(m, prefix)}
    found, state, stack = [], {}, []

    def visit(m: str) -> None:
        state[m] = "open"
        stack.append(m)
        for t in inside.get(m, []):
            if state.get(t) == "open":
                found.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = "done"

    for m in sorted(inside):
        if m not in state:
            visit(m)
    return found


def test_graph_sees_lazy_and_relative_imports(tmp_path):
    """The parser finds imports inside functions and resolves relative ones."""
    pkg = tmp_path / "egcfg_plugin" / "core"
    pkg.mkdir(parents=True)
    (pkg / "x.py").write_text("def f():\n    from ..agents import solve\n    import egcfg_plugin.cli.compare\n")
    known = {"egcfg_plugin.agents.solve", "egcfg_plugin.cli.compare"}
    found = imports_of(pkg / "x.py", known, root=tmp_path)
    assert [t for _, t in found] == ["egcfg_plugin.agents.solve", "egcfg_plugin.cli.compare"]
    edges = {"egcfg_plugin.core.x": found}
    assert len(violations(edges)) == 2


def test_cycle_finder_finds_a_two_module_cycle():
    edges = {"egcfg_plugin.cli.a": [(1, "egcfg_plugin.cli.b")], "egcfg_plugin.cli.b": [(3, "egcfg_plugin.cli.a")]}
    assert cycles(edges, "egcfg_plugin.cli") == [["egcfg_plugin.cli.a", "egcfg_plugin.cli.b", "egcfg_plugin.cli.a"]]


def test_the_tree_has_modules_in_every_wing():
    names = set(all_modules())
    for wing in ("egcfg_plugin.core", "egcfg_plugin.agents", "egcfg_plugin.harness", "egcfg_plugin.cli",
                 "task_adapters", "sandbox"):
        assert any(_within(n, wing) for n in names), f"no modules under {wing}: the check would pass vacuously"


def test_no_boundary_is_crossed():
    bad = violations(graph())
    assert not bad, "imports across the package boundaries (issue 16):\n" + "\n".join(bad)


@pytest.mark.parametrize("prefix", ["egcfg_plugin.cli", "egcfg_plugin.agents", "egcfg_plugin.core",
                                    "egcfg_plugin.harness"])
def test_no_import_cycle_inside_a_wing(prefix):
    found = cycles(graph(), prefix)
    assert not found, f"import cycles in {prefix}:\n" + "\n".join(" -> ".join(c) for c in found)
