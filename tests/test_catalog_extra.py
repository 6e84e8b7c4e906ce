"""`run --catalog-extra FILE`: the extension reaches the flow as a parameter (the memo scores its
models), and nothing is written into the process environment on the way (issue 13)."""

from __future__ import annotations

import json
import os

from modelmemo.cli import main

from .conftest import ROOT, copy_examples


def test_catalog_extra_reaches_the_flow_as_a_parameter_not_through_the_environment(tmp_path, prefect_api, monkeypatch):
    monkeypatch.delenv("MODELMEMO_CATALOG_EXTRA", raising=False)
    monkeypatch.setenv("MODELMEMO_SETTLE_SECONDS", "0")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    copy_examples(inputs, ["clinical-notes-onprem"])
    environment_before = dict(os.environ)
    code = main(["run", str(inputs), "--output", str(tmp_path / "out"), "--no-email", "--workers", "1",
                 "--catalog-extra", str(ROOT / "examples" / "catalog-extension.yaml")])
    assert code == 0
    assert dict(os.environ) == environment_before  # the flow got the file as a parameter
    run_dir = next(p for p in (tmp_path / "out").iterdir() if (p / "summary.json").exists())
    memo = json.loads((run_dir / "clinical-notes-onprem.json").read_text())
    assert "llama-3" in memo["model_names"]  # the extension's model was scored (or excluded with reasons)
