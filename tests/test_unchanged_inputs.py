"""A rerun does not parse again what it already knows: a file whose bytes, format and input rules
(schema, loader and validator code, limits, version) match a kept memo is planned from the state
file; everything else (new, edited, rejected, failed, changed rules or rendering) is validated as
ever. Without Prefect, with the fake renderer (these tests are about files and state)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from modelmemo.batch import pipeline, unchanged
from modelmemo.batch.pipeline import BatchSummary, run_batch

from .conftest import CATALOG, TEMPLATES, copy_examples
from .helpers import requirements, write_yaml
from .support_renderer import FAKE_PDF

TWO = ["legal-translation", "marketing-images"]
FILES = ["legal-translation.json", "marketing-images.yaml"]  # one JSON, one YAML


def run(folder: Path, output: Path, catalog: Path = CATALOG, **kwargs) -> BatchSummary:
    return run_batch(folder, output, catalog_files=(catalog,), templates_dir=TEMPLATES, renderer=FAKE_PDF, **kwargs)


@pytest.fixture
def validated(monkeypatch) -> list[str]:
    """The display names of the files planning loads and validates, in order."""
    seen: list[str] = []
    real = pipeline.validate_file

    def counting(path, label=None):
        seen.append(label)
        return real(path, label)

    monkeypatch.setattr(pipeline, "validate_file", counting)
    return seen


def statuses(summary: BatchSummary) -> dict[str, str]:
    return {p.project_id: p.status for p in summary.projects}


def state_entries(output: Path) -> dict:
    return json.loads((output / "state" / "memos.json").read_text())


def test_unchanged_rerun_neither_parses_nor_validates_kept_inputs(drop_folder: Path, tmp_path: Path, validated,
                                                                   monkeypatch):
    copy_examples(drop_folder, TWO)
    output = tmp_path / "out"
    first = run(drop_folder, output)
    assert statuses(first) == {pid: "memo" for pid in TWO} and sorted(validated) == FILES
    entry = state_entries(output)["marketing-images"]
    assert entry["name"] == next(p.name for p in first.projects if p.project_id == "marketing-images")
    assert entry["format"] == "yaml" and entry["validated"] == unchanged.input_rules_fingerprint()
    assert state_entries(output)["legal-translation"]["format"] == "json"

    validated.clear()
    parsed: list[str] = []
    for parser in ("parse_yaml", "parse_json"):  # a tripwire: any parse of an input is recorded, then fails
        monkeypatch.setattr(f"modelmemo.inputs.loading.{parser}", lambda text: parsed.append(text) or 1 / 0)
    second = run(drop_folder, output)
    assert validated == [] and parsed == []
    assert statuses(second) == {pid: "skipped" for pid in TWO}
    assert [(p.file, p.name, p.input_sha256) for p in second.projects] == \
        [(p.file, p.name, p.input_sha256) for p in first.projects]
    assert {d["status"] for d in second.deliveries} == {"already-sent"}
    summary = json.loads((output / second.run_id / "summary.json").read_text())
    assert summary["counts"]["skipped"] == 2 and summary["counts"]["memos"] == 0


def test_new_and_edited_files_are_validated_the_rest_not(drop_folder: Path, tmp_path: Path, validated):
    copy_examples(drop_folder, TWO)
    output = tmp_path / "out"
    run(drop_folder, output)
    edited = drop_folder / "marketing-images.yaml"
    edited.write_text(edited.read_text().replace("monthly_usd: 3000", "monthly_usd: 4500"))
    write_yaml(drop_folder / "new.yaml", requirements())
    validated.clear()
    summary = run(drop_folder, output)
    assert validated == ["marketing-images.yaml", "new.yaml"]
    assert statuses(summary) == {"legal-translation": "skipped", "marketing-images": "memo", "test-project": "memo"}


def test_rejected_file_is_validated_and_reported_with_its_line_on_every_run(drop_folder: Path, tmp_path: Path,
                                                                            validated):
    copy_examples(drop_folder, ["legal-translation"])
    bad = write_yaml(drop_folder / "bad.yaml", requirements(**{"needs.customization": "retrain"}))
    line = next(i for i, text in enumerate(bad.read_text().splitlines(), 1) if "retrain" in text)
    output = tmp_path / "out"
    reports = []
    for _ in range(3):
        validated.clear()
        summary = run(drop_folder, output)
        reports.append([str(problem) for rejection in summary.rejected for problem in rejection.problems])
        problem = summary.rejected[0].problems[0]
        assert problem.path == "needs.customization" and problem.line == line and problem.column
    assert validated == ["bad.yaml"]  # the last run: the kept memo's file is not parsed, the rejected one is
    assert reports[0] == reports[1] == reports[2] and reports[0][0].startswith(f"bad.yaml:{line}:")


def test_a_kept_file_edited_into_an_invalid_one_is_rejected_with_its_line(drop_folder: Path, tmp_path: Path):
    path = write_yaml(drop_folder / "project.yaml", requirements())
    output = tmp_path / "out"
    assert statuses(run(drop_folder, output)) == {"test-project": "memo"}
    write_yaml(path, requirements(**{"budget.monthly_usd": -5}))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "-5" in text)
    summary = run(drop_folder, output)
    assert not summary.projects and [r.file for r in summary.rejected] == ["project.yaml"]
    assert summary.rejected[0].problems[0].line == line


def test_a_copy_of_a_kept_file_rejects_both_as_a_validated_run_does(drop_folder: Path, tmp_path: Path, validated):
    copy_examples(drop_folder, ["legal-translation"])
    output = tmp_path / "out"
    run(drop_folder, output)
    shutil.copy(drop_folder / "legal-translation.json", drop_folder / "copy.json")
    validated.clear()
    known = run(drop_folder, output)
    assert validated == []  # same bytes as a kept memo's input: both planned from the state file
    validated_run = run(drop_folder, output, force=True)  # --force plans nothing from the state file
    assert sorted(validated) == ["copy.json", "legal-translation.json"]
    assert not known.projects and [r.as_dict() for r in known.rejected] == [r.as_dict() for r in validated_run.rejected]
    assert "copy.json" in str(known.rejected[1].problems[0]) and "legal-translation" in str(known.rejected[0].problems[0])


def test_changed_input_rules_validate_every_file_again_then_remember_the_new_rules(
        drop_folder: Path, tmp_path: Path, validated, monkeypatch):
    copy_examples(drop_folder, TWO)
    output = tmp_path / "out"
    run(drop_folder, output)
    monkeypatch.setattr(pipeline, "input_rules_fingerprint", lambda: "a newer schema")
    validated.clear()
    summary = run(drop_folder, output)
    assert sorted(validated) == FILES
    assert statuses(summary) == {pid: "skipped" for pid in TWO}  # the memos themselves are still valid
    assert {e["validated"] for e in state_entries(output).values()} == {"a newer schema"}
    validated.clear()
    run(drop_folder, output)
    assert validated == []


def test_changed_catalog_or_templates_validate_every_file_again(drop_folder: Path, tmp_path: Path, validated):
    copy_examples(drop_folder, TWO)
    catalog = tmp_path / "models.yaml"
    shutil.copy(CATALOG, catalog)
    output = tmp_path / "out"
    run(drop_folder, output, catalog=catalog)
    text = catalog.read_text()
    catalog.write_text(text.replace("roughly half an engineer", "roughly one half of an engineer"))
    validated.clear()
    summary = run(drop_folder, output, catalog=catalog)
    assert sorted(validated) == FILES
    assert statuses(summary) == {pid: "memo" for pid in TWO}


def test_missing_memo_files_mean_the_input_is_validated_and_rendered(drop_folder: Path, tmp_path: Path, validated):
    copy_examples(drop_folder, ["legal-translation"])
    output = tmp_path / "out"
    first = run(drop_folder, output)
    (output / first.run_id / "legal-translation.pdf").unlink()
    validated.clear()
    summary = run(drop_folder, output)
    assert validated == ["legal-translation.json"] and statuses(summary) == {"legal-translation": "memo"}


def test_state_from_before_is_validated_once_then_known(drop_folder: Path, tmp_path: Path, validated):
    """An entry written before entries said what planning needs (name, format, input rules)."""
    copy_examples(drop_folder, TWO)
    output = tmp_path / "out"
    run(drop_folder, output)
    state_file = output / "state" / "memos.json"
    old = {pid: {k: v for k, v in entry.items() if k not in ("name", "format", "validated")}
           for pid, entry in state_entries(output).items()}
    state_file.write_text(json.dumps(old))
    validated.clear()
    assert statuses(run(drop_folder, output)) == {pid: "skipped" for pid in TWO}
    assert sorted(validated) == FILES
    validated.clear()
    assert statuses(run(drop_folder, output)) == {pid: "skipped" for pid in TWO}
    assert validated == []


def test_format_is_part_of_what_is_known(drop_folder: Path, tmp_path: Path, validated):
    """The same bytes named .json are parsed as JSON: a kept YAML file's record says nothing about them."""
    path = drop_folder / "project.yaml"
    path.write_text(json.dumps(requirements()))  # JSON is YAML too
    output = tmp_path / "out"
    run(drop_folder, output)
    path.rename(drop_folder / "project.json")
    validated.clear()
    summary = run(drop_folder, output)
    assert validated == ["project.json"] and statuses(summary) == {"test-project": "skipped"}


def test_input_rules_fingerprint_follows_the_schema_file(tmp_path: Path, monkeypatch):
    import modelmemo.resources

    schema = tmp_path / "requirements.schema.json"
    shutil.copy(modelmemo.resources.schema_file("requirements.schema.json"), schema)
    monkeypatch.setattr(modelmemo.resources, "schema_file", lambda name: schema)
    before = unchanged.input_rules_fingerprint()
    assert unchanged.input_rules_fingerprint() == before
    data = json.loads(schema.read_text())
    data["properties"]["project"]["properties"]["id"]["maxLength"] = 20
    schema.write_text(json.dumps(data))
    assert unchanged.input_rules_fingerprint() not in ("", before)
    schema.unlink()
    assert unchanged.input_rules_fingerprint() == ""  # unreadable rules: nothing is known
