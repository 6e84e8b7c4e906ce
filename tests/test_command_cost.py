"""What the command costs beyond its work: the garbage collector is kept off the objects that live
as long as the process (Prefect and the flow, once imported; everything at exit), so a nightly
rerun with nothing to do is not spent scanning or tearing down Prefect's modules."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT


def test_the_command_freezes_what_is_alive_before_the_interpreter_exits():
    code = ("import atexit, gc, sys\n"
            "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"  # runs last
            "sys.argv = ['modelmemo', 'catalog', '--json']\n"
            "from modelmemo.cli.main import main\n"
            "print('frozen before:', gc.get_freeze_count() > 0)\n"
            "sys.exit(main())\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "frozen before: False" and lines[-1] == "frozen at exit: True"


def test_an_in_process_caller_is_not_frozen_at_the_end(monkeypatch):
    """main(argv) (tests, watch's callers) goes on after the command: nothing is frozen for it."""
    import types

    import modelmemo.cli.main  # noqa: F401  (the package binds the name `main` to the function)

    main_module = sys.modules["modelmemo.cli.main"]
    frozen = []
    monkeypatch.setattr(main_module, "gc", types.SimpleNamespace(freeze=lambda: frozen.append(1)))
    assert main_module.main(["catalog", "--json"]) == 0
    assert frozen == []


def test_the_flow_s_imports_are_frozen_once_per_process(monkeypatch):
    import types

    from modelmemo.cli import run

    frozen = []
    monkeypatch.setattr(run, "gc", types.SimpleNamespace(freeze=lambda: frozen.append(1)))
    monkeypatch.setattr(run, "_frozen", False)
    run.freeze_imports()
    run.freeze_imports()  # a watch process's second run: what the first left behind is not frozen
    assert frozen == [1]
