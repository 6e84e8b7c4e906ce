"""The layout README's "Architecture" table describes: one package per concern, only the wiring
imports Prefect, every module small enough to read, and the table lists every module."""

from __future__ import annotations

import ast
import re

from .conftest import ROOT

PACKAGE = ROOT / "modelmemo"
CORE = ("inputs", "catalog", "decision", "memo", "delivery", "batch", "process", "pilot")


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


_ENVIRON_WRITERS = {"pop", "popitem", "update", "setdefault", "clear", "__setitem__", "__delitem__"}


def _environ_writes(source: str) -> list[str]:
    """Every write to os.environ in `source`: item assignment or deletion, a mutating method,
    rebinding it, os.putenv/os.unsetenv; through `import os as o`, `from os import environ` and a
    name bound to os.environ itself (`env = os.environ if env is None else env`), not a copy."""
    tree = ast.parse(source)
    os_names, environ_names, env_functions = {"os"}, set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names |= {alias.asname or "os" for alias in node.names if alias.name == "os"}
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            environ_names |= {alias.asname or alias.name for alias in node.names if alias.name == "environ"}
            env_functions |= {alias.asname or alias.name for alias in node.names if alias.name in ("putenv", "unsetenv")}

    def is_environ(node) -> bool:
        if isinstance(node, ast.Attribute) and node.attr == "environ":
            return isinstance(node.value, ast.Name) and node.value.id in os_names
        if isinstance(node, ast.Name):
            return node.id in environ_names
        if isinstance(node, ast.IfExp):  # `os.environ if env is None else env` is os.environ itself
            return is_environ(node.body) or is_environ(node.orelse)
        if isinstance(node, ast.BoolOp):
            return any(is_environ(value) for value in node.values)
        return False

    for _ in range(2):  # names bound to os.environ, then names bound to those
        for node in ast.walk(tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and is_environ(node.value):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                environ_names |= {t.id for t in targets if isinstance(t, ast.Name)}
    found = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
        for target in targets:
            if (isinstance(target, ast.Subscript) and is_environ(target.value)) or \
                    (isinstance(target, ast.Attribute) and target.attr == "environ" and is_environ(target)):
                found.append(f"line {node.lineno}: {ast.unparse(node).splitlines()[0]}")
        if isinstance(node, ast.Call):
            function = node.func
            if (isinstance(function, ast.Attribute) and function.attr in _ENVIRON_WRITERS and is_environ(function.value)) \
                    or (isinstance(function, ast.Attribute) and function.attr in ("putenv", "unsetenv")
                        and isinstance(function.value, ast.Name) and function.value.id in os_names) \
                    or (isinstance(function, ast.Name) and function.id in env_functions) \
                    or (isinstance(function, ast.Name) and function.id == "setattr" and node.args
                        and isinstance(node.args[0], ast.Name) and node.args[0].id in os_names):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_nothing_in_the_package_writes_os_environ():
    """Settings are built once at the entry point and passed down (modelmemo/settings.py); Prefect's
    are given through its settings API (cli/prefect_setup.py); a child process that needs a
    variable gets it with env=. The process environment is the user's, read-only."""
    found = {str(path.relative_to(ROOT)): writes for path in _modules()
             if (writes := _environ_writes(path.read_text(encoding="utf-8")))}
    assert found == {}, found


def test_the_environ_check_sees_every_form_of_write():
    forms = ['os.environ["A"] = "1"', 'os.environ["A"] += "1"', 'del os.environ["A"]', 'os.environ.pop("A")',
             'os.environ.update(A="1")', 'os.environ.setdefault("A", "1")', 'os.environ.clear()',
             'os.environ.popitem()', 'os.putenv("A", "1")', 'os.unsetenv("A")', 'os.environ = {}',
             'setattr(os, "environ", {})', 'env = os.environ if env is None else env\nenv["A"] = "1"',
             'import os as o\no.environ["A"] = "1"', 'from os import environ\nenviron.pop("A")',
             'from os import putenv\nputenv("A", "1")']
    assert [form for form in forms if not _environ_writes("import os\n" + form)] == []
    reads = ['os.environ.get("A")', 'x = dict(os.environ)\nx["A"] = "1"', 'env = {**os.environ}\nenv.pop("A")',
             'subprocess.run(["x"], env={**os.environ, "A": "1"})', '"A" in os.environ']
    assert [read for read in reads if _environ_writes("import os\n" + read)] == []
