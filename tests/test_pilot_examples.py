"""A requirement file's `pilot:` section and its examples file: validated like everything else, with
file, line, field and a fix; a missing, malformed, oversized or escaping file is a rejection."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from modelmemo.inputs.validation import validate_file
from modelmemo.pilot import examples as examples_module
from modelmemo.pilot.examples import PilotSpec, load_examples

from .conftest import example_inputs
from .helpers import requirements, write_yaml
from .pilot_helpers import chat_examples, write_project


def _load(requirement: Path):
    document, problems = validate_file(requirement)
    assert problems == [], problems
    spec = PilotSpec.from_data(document.data)
    return load_examples(requirement, document, spec, tuple(document.data["needs"]["tasks"]), requirement.name)


def _write_lines(folder: Path, lines: list[str]) -> None:
    (folder / "examples.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_valid_file_loads_with_the_sha256_of_its_bytes(tmp_path: Path):
    requirement = write_project(tmp_path, chat_examples(3) + [
        {"task": "classification", "input": "My card was charged twice", "reference": "billing"},
        {"task": "translation", "input": "Good morning", "reference": "Guten Morgen", "target_language": "de"},
        {"task": "embeddings", "input": "reset password", "reference": "To reset your password, open Settings."},
        {"task": "code", "input": "Add two numbers in Python", "test": "assert add(1, 2) == 3"},
        {"task": "summarization", "input": "A long thread.", "rubric": "Names the customer's problem."}],
        pilot={"examples": "examples.jsonl", "judge": "claude-opus"})
    loaded, problems = _load(requirement)
    assert problems == []
    assert len(loaded.examples) == 8 and loaded.examples[3].line == 4 and loaded.examples[3].reference == "billing"
    assert loaded.sha256 == hashlib.sha256((tmp_path / "examples.jsonl").read_bytes()).hexdigest()
    assert loaded.tasks == ("chat", "classification", "translation", "embeddings", "code", "summarization")


@pytest.mark.parametrize("path", ["../outside.jsonl", "/etc/examples.jsonl", "sub/../x.jsonl", ".hidden.jsonl",
                                  "examples.json", "sub/.x/a.jsonl"])
def test_the_examples_path_must_stay_beside_the_requirement_file(tmp_path: Path, path: str):
    requirement = write_yaml(tmp_path / "p.yaml", requirements(pilot={"examples": path}))
    _, problems = validate_file(requirement)
    assert [p.path for p in problems] == ["pilot.examples"] and "wrong form" in problems[0].message
    assert "no '..'" in problems[0].allowed  # the fix is named


def test_a_path_into_a_folder_beside_it_is_fine(tmp_path: Path):
    (tmp_path / "pilot").mkdir()
    (tmp_path / "pilot" / "ex.jsonl").write_text(json.dumps(chat_examples(1)[0]) + "\n", encoding="utf-8")
    requirement = write_yaml(tmp_path / "p.yaml", requirements(pilot={"examples": "pilot/ex.jsonl"}))
    loaded, problems = _load(requirement)
    assert problems == [] and len(loaded.examples) == 1


def test_a_symlinked_folder_cannot_lead_outside(tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "ex.jsonl").write_text(json.dumps(chat_examples(1)[0]) + "\n", encoding="utf-8")
    project = tmp_path / "project"
    project.mkdir()
    os.symlink(outside, project / "pilot")
    requirement = write_yaml(project / "p.yaml", requirements(pilot={"examples": "pilot/ex.jsonl"}))
    loaded, problems = _load(requirement)
    assert loaded is None and "leads outside" in problems[0].message and problems[0].file == "p.yaml"


def test_a_missing_file_is_a_rejection_on_the_line_that_names_it(tmp_path: Path):
    requirement = write_yaml(tmp_path / "p.yaml", requirements(pilot={"examples": "nope.jsonl"}))
    loaded, problems = _load(requirement)
    assert loaded is None and len(problems) == 1
    text = str(problems[0])
    line = next(n for n, t in enumerate(requirement.read_text().splitlines(), 1) if "nope.jsonl" in t)
    assert text.startswith(f"p.yaml:{line}:") and "pilot.examples" in text and "does not exist" in text
    assert "create it" in text


def test_each_bad_line_names_file_line_field_and_fix(tmp_path: Path):
    requirement = write_project(tmp_path, chat_examples(1), tasks=["chat", "classification", "translation", "code"])
    _write_lines(tmp_path, [
        json.dumps(chat_examples(1)[0]),
        '{"task": "chat", "input": "hi", "reference": "hello",}',  # trailing comma
        json.dumps({"task": "classification", "input": "charged twice"}),  # no label
        json.dumps({"task": "translation", "input": "Hi", "reference": "Hallo"}),  # no target language
        json.dumps({"task": "chat", "input": "hi", "referense": "x"}),  # misspelt field
        json.dumps({"task": "code", "input": "add"}),  # neither reference nor test
        json.dumps({"task": "image-generation", "input": "a cat"}),
        "",  # blank lines are fine
    ])
    loaded, problems = _load(requirement)
    assert loaded is None
    lines = [str(p) for p in problems]
    assert lines[0].startswith("examples.jsonl:2:") and "not a JSON object on one line" in lines[0]
    assert "examples.jsonl:3:1: reference: a classification example needs a 'reference'; add it to this line" in lines
    assert "examples.jsonl:4:1: target_language: a translation example needs a 'target_language'; add it to this " \
           "line" in lines
    assert any(t.startswith("examples.jsonl:5:") and "unknown field 'referense'" in t and "reference" in t
               for t in lines)
    assert "examples.jsonl:6:1: reference: a code example needs a 'reference' (or a 'test'); add one to this line" \
        in lines
    assert any(t.startswith("examples.jsonl:7:") and "task" in t and "image-generation" in t for t in lines)


def test_cross_checks_task_ids_judge_and_labels(tmp_path: Path):
    requirement = write_project(tmp_path, chat_examples(1), tasks=["chat", "classification"])
    _write_lines(tmp_path, [
        json.dumps({"id": "a", "task": "summarization", "input": "text", "reference": "sum"}),  # not a project task
        json.dumps({"id": "a", "task": "chat", "input": "x", "reference": "y"}),  # id used twice
        json.dumps({"task": "chat", "input": "x", "rubric": "polite"}),  # rubric but no judge
        json.dumps({"task": "classification", "input": "x", "reference": "refund", "labels": ["billing", "tech"]}),
    ])
    loaded, problems = _load(requirement)
    assert loaded is None
    found = {(p.line, p.path): str(p) for p in problems}
    assert "not one of this project's tasks" in found[(1, "task")] and "needs.tasks" in found[(1, "task")]
    assert "already used on line 1" in found[(2, "id")]
    assert "needs a judge model" in found[(3, "rubric")] and "pilot.judge" in found[(3, "rubric")]
    assert "not one of this example's labels" in found[(4, "reference")] and "billing, tech" in found[(4, "reference")]


def test_limits_on_size_and_examples(tmp_path: Path, monkeypatch):
    requirement = write_project(tmp_path, chat_examples(5))
    monkeypatch.setattr(examples_module, "PILOT_MAX_EXAMPLES", 4)
    loaded, problems = _load(requirement)
    assert loaded is None and "5 examples; the limit is 4" in problems[0].message and problems[0].line == 5
    monkeypatch.setattr(examples_module, "PILOT_MAX_EXAMPLES_BYTES", 100)
    loaded, problems = _load(requirement)
    assert loaded is None and "the limit is 100 bytes" in problems[0].message


@pytest.mark.parametrize("content, message", [(b"", "file is empty"), (b"\xff\xfe{\x00", "UTF-16"),
                                              (b'{"task": "chat", "input": "caf\xe9"}', "not valid UTF-8")])
def test_unreadable_text_is_a_rejection(tmp_path: Path, content: bytes, message: str):
    requirement = write_project(tmp_path, chat_examples(1))
    (tmp_path / "examples.jsonl").write_bytes(content)
    loaded, problems = _load(requirement)
    assert loaded is None and message in problems[0].message


def test_a_symlink_or_a_fifo_is_refused_without_reading(tmp_path: Path):
    requirement = write_project(tmp_path, chat_examples(1))
    real = tmp_path / "real.jsonl"
    (tmp_path / "examples.jsonl").rename(real)
    os.symlink(real, tmp_path / "examples.jsonl")
    loaded, problems = _load(requirement)
    assert loaded is None and "symbolic link" in problems[0].message
    (tmp_path / "examples.jsonl").unlink()
    os.mkfifo(tmp_path / "examples.jsonl")
    loaded, problems = _load(requirement)
    assert loaded is None and "not a regular file" in problems[0].message


def test_shipped_examples_still_validate_and_have_no_pilot_section():
    for path in example_inputs():
        document, problems = validate_file(path)
        assert problems == [] and PilotSpec.from_data(document.data) is None, path.name


def test_the_pilot_example_project_validates():
    from .conftest import ROOT

    requirement = ROOT / "examples" / "pilot" / "support-chatbot.yaml"
    loaded, problems = _load(requirement)
    assert problems == [] and len(loaded.examples) == 30
    assert set(loaded.tasks) == {"chat", "summarization"}
