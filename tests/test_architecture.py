"""The layout README's "Architecture" table describes: one package per concern, only the wiring
imports Prefect, every module small enough to read, and the table lists every module."""

from __future__ import annotations

import ast
import re

from .conftest import ROOT

PACKAGE = ROOT / "modelmemo"
CORE = ("inputs", "catalog", "decision", "memo", "delivery", "batch", "process")


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield path
    for path in sorted((ROOT / "flows").glob("*.py")):
        yield path


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_the_core_never_imports_prefect():
    found = {}
    for package in CORE:
        for path in (PACKAGE / package).rglob("*.py"):
            names = [n for n in _imports(path) if n == "prefect" or n.startswith("prefect.")]
            if names:
                found[str(path.relative_to(ROOT))] = names
    assert found == {}, found


def test_the_core_never_imports_the_wiring_or_the_command():
    found = {}
    for package in CORE:
        for path in (PACKAGE / package).rglob("*.py"):
            names = [n for n in _imports(path) if n.startswith(("modelmemo.flows", "modelmemo.cli", "flows"))]
            if names:
                found[str(path.relative_to(ROOT))] = names
    assert found == {}, found


def test_no_module_is_over_about_450_lines():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines()) for p in _modules()}
    assert {p: n for p, n in sizes.items() if n > 470} == {}


def test_readme_architecture_table_names_every_module():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Architecture"):readme.index("## Hardening")]
    for path in _modules():
        if path.name in ("__init__.py", "__main__.py"):
            continue
        assert re.search(rf"`{path.stem}`|{path.name}", table), f"{path.relative_to(ROOT)} is not in README's table"
