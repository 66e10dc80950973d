"""How the `mlops` package holds together: no import circles, every command runs a handler, and
building the parser imports none of the heavy libraries a command needs only when it runs."""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from pathlib import Path

import mlops
from mlops.cli import build_parser

PACKAGE_ROOT = Path(mlops.__file__).resolve().parent
# Libraries that cost seconds to import (or pull in the pipeline's functions): a command imports
# them when it runs, never to parse its arguments.
HEAVY_PACKAGES = (
    "aws_cdk", "aws_lambda_powertools", "boto3", "botocore", "functions", "moto", "numpy", "pandas", "pydantic", "sklearn",
)
COMMAND_LINES = (
    ["init", "--data", "data.csv", "--target", "label"],
    ["local", "run", "data.csv"],
    ["local", "up"],
    ["local", "down"],
    ["local", "invoke", "data.csv"],
    ["local", "monitor"],
    ["demo"],
    ["versions", "--json"],
    ["lineage", "1"],
    ["approve", "1"],
    ["reject", "1", "--reason", "mislabelled"],
    ["rollback", "--to", "1"],
    ["batch", "data.csv", "--version", "1"],
    ["audit", "--since", "2"],
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, importer: str, known: set[str]) -> set[str]:
    """The modules of `known` that the file imports anywhere: at the top, in functions, under TYPE_CHECKING."""
    is_package = path.name == "__init__.py"
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = importer.split(".")[: len(importer.split(".")) - node.level + (1 if is_package else 0)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            candidates = [f"{module}.{alias.name}" for alias in node.names] + [module]
        else:
            continue
        for candidate in candidates:
            # A candidate is a module, or a name in one: the nearest module is what gets imported.
            while candidate and candidate not in known:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != importer:
                imported.add(candidate)
    return imported


def import_graph() -> dict[str, set[str]]:
    files = {module_name(path): path for path in PACKAGE_ROOT.rglob("*.py")}
    return {name: imported_modules(path, name, set(files)) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as the list of modules around it, or None when the graph has none."""
    finished: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        if module in path:
            return [*path[path.index(module):], module]
        if module in finished:
            return None
        path.append(module)
        for imported in sorted(graph[module]):
            cycle = visit(imported)
            if cycle:
                return cycle
        path.pop()
        finished.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module)
        if cycle:
            return cycle
    return None


def test_the_mlops_package_has_no_import_circle():
    graph = import_graph()
    cycle = find_cycle(graph)

    assert {"mlops.cli_support", "mlops.commands.audit", "mlops.commands.registry"} <= graph["mlops.cli"]
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_circle_through_a_lazy_import():
    graph = {"mlops.cli": {"mlops.commands.audit"}, "mlops.commands.audit": {"mlops.cli_support", "mlops.cli"},
             "mlops.cli_support": set()}

    assert find_cycle(graph) == ["mlops.cli", "mlops.commands.audit", "mlops.cli"]


def test_the_graph_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "command.py"
    module.write_text("def run():\n    from mlops.cli import main\n    return main\n")

    assert imported_modules(module, "mlops.commands.command", {"mlops.cli", "mlops.commands.command"}) == {"mlops.cli"}


def leaf_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    subparsers = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if not subparsers:
        return {parser.prog: parser}
    return {prog: leaf for child in subparsers[0].choices.values() for prog, leaf in leaf_parsers(child).items()}


def test_every_command_runs_a_handler():
    leaves = leaf_parsers(build_parser())

    assert set(leaves) == {f"mlops {' '.join(line[:2] if line[0] == 'local' else line[:1])}" for line in COMMAND_LINES}
    assert all(callable(leaf.get_default("handler")) for leaf in leaves.values())


def test_parsing_any_command_imports_no_heavy_library():
    script = (
        "import json, sys\n"
        "from mlops.cli import build_parser\n"
        f"for line in {json.dumps(COMMAND_LINES)}:\n"
        "    build_parser().parse_args(line)\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )

    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)

    loaded = set(json.loads(completed.stdout))
    assert "mlops" in loaded
    assert loaded.isdisjoint(HEAVY_PACKAGES), sorted(loaded.intersection(HEAVY_PACKAGES))
