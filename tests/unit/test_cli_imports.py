"""The CLI imports most of what it runs inside its commands (start-up stays fast): every such import names
something that exists, so a command no test runs (the image build, a benchmark) cannot break unnoticed."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = {"benchmarks", "contracts", "infra", "qcp", "services"}


def project_imports(folder: str) -> list[tuple[str, int, str, str]]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                    and node.module.split(".")[0] in PROJECT_PACKAGES:
                found += [(str(path.relative_to(ROOT)), node.lineno, node.module, alias.name) for alias in node.names]
    return found


@pytest.mark.parametrize("folder", ["qcp", "benchmarks"])
def test_every_import_of_the_project_names_something_that_exists(folder: str) -> None:
    missing = []
    for where, line, module, name in project_imports(folder):
        imported = importlib.import_module(module)
        if not hasattr(imported, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ModuleNotFoundError:
                missing.append(f"{where}:{line}: from {module} import {name}")
    assert not missing, missing
