"""Function packages share code through functions/common/ only, never through each other.

A function that imports another function's package couples the two: a change made for one
silently changes the other, and an artifact built for one function (the validation job's
bundle carries functions/common and functions/validate_data only) misses what it reaches for.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FUNCTIONS_DIR = Path(__file__).resolve().parents[1] / "functions"
FUNCTIONS_PACKAGE = "functions"
SHARED_PACKAGE = "common"


def function_packages(functions_dir: Path) -> list[str]:
    return sorted(path.parent.name for path in functions_dir.glob("*/__init__.py"))


def _module_name(path: Path, functions_dir: Path) -> list[str]:
    parts = [FUNCTIONS_PACKAGE, *path.relative_to(functions_dir).with_suffix("").parts]
    return parts[:-1] if parts[-1] == "__init__" else parts


def imported_modules(path: Path, functions_dir: Path) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of every import in the module, relative ones resolved."""
    module = _module_name(path, functions_dir)
    # The package a relative import starts from: the module's own for a plain module, itself for __init__.
    package = module if path.name == "__init__.py" else module[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - (node.level - 1)] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            # "from functions import monitor_drift" imports a package by its alias's name.
            found += [(node.lineno, base if alias.name == "*" else f"{base}.{alias.name}") for alias in node.names]
    return found


def cross_package_imports(functions_dir: Path, package: str) -> list[str]:
    """Imports by modules of `package` of another function package than common."""
    crossings = []
    for path in sorted((functions_dir / package).rglob("*.py")):
        for line, name in imported_modules(path, functions_dir):
            parts = name.split(".")
            if parts[0] != FUNCTIONS_PACKAGE or len(parts) < 2:
                continue
            if parts[1] not in (package, SHARED_PACKAGE):
                crossings.append(f"{path.relative_to(functions_dir.parent)}:{line} imports {name}")
    return crossings


@pytest.mark.parametrize("package", function_packages(FUNCTIONS_DIR))
def test_a_function_package_imports_no_other_function_package(package):
    assert cross_package_imports(FUNCTIONS_DIR, package) == []


def test_every_function_folder_is_checked():
    folders = {path.name for path in FUNCTIONS_DIR.iterdir() if path.is_dir() and path.name != "__pycache__"}
    assert set(function_packages(FUNCTIONS_DIR)) == folders


def test_every_spelling_of_an_import_of_another_package_is_found(tmp_path):
    functions_dir = tmp_path / FUNCTIONS_PACKAGE
    sources = {
        "__init__.py": "",
        "common/__init__.py": "",
        "common/shared.py": "",
        "other/__init__.py": "",
        "other/tools.py": "",
        "mine/__init__.py": "from ..other import tools\n",
        "mine/module.py": (
            "import functions.other.tools\n"
            "from functions.other.tools import helper\n"
            "from functions import other\n"
            "from ..other.tools import *\n"
            "from functions.common.shared import fine\n"
            "from functions.mine import own\n"
            "from . import sibling\n"
            "import json\n"
            "def late():\n"
            "    from functions.other import tools\n"
        ),
    }
    for relative, text in sources.items():
        (functions_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        (functions_dir / relative).write_text(text)

    assert cross_package_imports(functions_dir, "mine") == [
        "functions/mine/__init__.py:1 imports functions.other.tools",
        "functions/mine/module.py:1 imports functions.other.tools",
        "functions/mine/module.py:2 imports functions.other.tools.helper",
        "functions/mine/module.py:3 imports functions.other",
        "functions/mine/module.py:4 imports functions.other.tools",
        "functions/mine/module.py:10 imports functions.other.tools",
    ]
    assert cross_package_imports(functions_dir, "common") == []
