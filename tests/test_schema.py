"""The requirement schema: every shipped example passes; each kind of mistake gets a useful message."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from modelmemo.inputs.validation import REQUIREMENTS_SCHEMA, validate_file

from .conftest import example_inputs
from .helpers import DELETE, requirements, write_yaml

EXAMPLES = example_inputs()


def test_schema_is_valid_2020_12_with_descriptions_and_closed_objects():
    schema = json.loads(REQUIREMENTS_SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"].endswith("2020-12/schema")

    def walk(node, path):
        if isinstance(node, dict):
            if node.get("type") == "object":
                assert node.get("additionalProperties") is False, f"{path} is open"
            for name, prop in node.get("properties", {}).items():
                assert "description" in prop, f"{path}.{name} has no description"
            for key, value in node.items():
                if key != "not":  # a constraint ("all weights zero"), not field definitions
                    walk(value, f"{path}.{key}")
    walk(schema, "$")


def test_at_least_eight_examples_ship():
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_is_valid(path):
    document, problems = validate_file(path)
    assert problems == [], [str(p) for p in problems]
    assert document.data["project"]["id"] == path.stem


MISTAKES = [
    # (overrides, expected path, expected words in message or allowed)
    ({"project.owner.email": DELETE}, "project.owner", "missing required field 'email'"),
    ({"project.colour": "red"}, "project.colour", "unknown field 'colour'"),
    ({"needs.tasks": ["chat", "poetry"]}, "needs.tasks[1]", "image-generation"),
    ({"needs.tasks": []}, "needs.tasks", "at least 1"),
    ({"needs.tasks": ["chat", "chat"]}, "needs.tasks", "duplicate entries"),
    ({"budget.monthly_usd": "lots"}, "budget.monthly_usd", "expected a number"),
    ({"budget.monthly_usd": -5}, "budget.monthly_usd", "at least 0"),
    # "allowed" is what the field accepts, not its description ("Requests per month.")
    ({"budget.volume.requests_per_month": -5}, "budget.volume.requests_per_month",
     "must be at least 0 a whole number from 0 to 10,000,000,000"),
    ({"project.owner.email": "not-an-email"}, "project.owner.email", "not a valid email"),
    ({"project.owner.email": "a@b.com\nBcc: x@evil.com"}, "project.owner.email", "not a valid email"),
    ({"project.id": "../../etc/passwd"}, "project.id", "wrong form"),
    ({"project.id": "Has Spaces"}, "project.id", "lowercase letters"),
    ({"schema_version": 2}, "schema_version", "must be 1"),
    ({"weights": {"requirements": 0, "budget": 0, "support": 0, "security": 0, "long_term": 0}},
     "weights", "all weights are 0"),
    ({"weights": {"budget": 11}}, "weights.budget", "at most 10"),
    ({"support.vendor_sla_required": "yes"}, "support.vendor_sla_required", "true or false"),
    ({"security.data_sensitivity": "secret"}, "security.data_sensitivity", "regulated"),
    ({"needs.languages": ["english"]}, "needs.languages[0]", "ISO 639-1"),
    ({"budget.volume.requests_per_month": 1.5}, "budget.volume.requests_per_month", "whole number"),
]


@pytest.mark.parametrize("overrides, path, words", MISTAKES, ids=[m[1] + ":" + m[2][:20] for m in MISTAKES])
def test_each_mistake_is_rejected_with_a_useful_message(tmp_path, overrides, path, words):
    file = write_yaml(tmp_path / "bad.yaml", requirements(**overrides))
    _, problems = validate_file(file)
    assert problems, "mistake was accepted"
    matching = [p for p in problems if p.path == path]
    assert matching, f"no problem at {path}: {[str(p) for p in problems]}"
    text = " ".join(f"{p.message} {p.allowed}" for p in matching)
    assert words in text, text
    assert all(p.file == "bad.yaml" and p.line is not None for p in problems)


def test_error_names_file_line_column_and_allowed_values(tmp_path):
    file = tmp_path / "chatbot.yaml"
    file.write_text(
        "schema_version: 1\nproject:\n  id: x\n  name: X\n  owner: {name: A, email: a@example.com}\n"
        "needs:\n  tasks: [chat]\n  customization: retrain\nbudget: {monthly_usd: 1}\n"
        "support: {ml_expertise: none, vendor_sla_required: false}\n"
        "security: {data_sensitivity: public, on_premises_only: false}\n"
        "long_term: {growth: low, lock_in_tolerance: low}\n"
    )
    _, problems = validate_file(file)
    assert len(problems) == 1
    text = str(problems[0])
    assert text.startswith("chatbot.yaml:8:18: needs.customization: \"retrain\" is not an accepted value")
    assert "prompting, fine-tuning, full-control" in text


def test_unknown_field_points_at_its_own_line(tmp_path):
    file = tmp_path / "x.yaml"
    data = requirements()
    text = write_yaml(file, data).read_text().replace("needs:\n", "needs:\n  colour: red\n")
    file.write_text(text)
    _, problems = validate_file(file)
    line = text.splitlines().index("  colour: red") + 1
    assert [(p.path, p.line) for p in problems] == [("needs.colour", line)]


def test_json_errors_have_lines_too(tmp_path):
    data = requirements(**{"budget.monthly_usd": "x"})
    file = tmp_path / "p.json"
    file.write_text(json.dumps(data, indent=2))
    _, problems = validate_file(file)
    line = file.read_text().splitlines().index('    "monthly_usd": "x",') + 1
    assert [(p.path, p.line) for p in problems] == [("budget.monthly_usd", line)]


def test_positions_point_where_the_fix_is(tmp_path):
    """A wrong value points at the value; an unknown field at its key (not its value); a missing
    field at the key of the mapping that lacks it (not that mapping's first child); in JSON too."""
    file = tmp_path / "p.yaml"
    file.write_text(
        "schema_version: 1\n"
        "project:\n  id: x\n  name: X\n  owner: {name: A, email: a@example.com}\n"
        "needs:\n  tasks: [chat]\n  colour: red\n"  # line 8: unknown key, column 3; its value at 11
        "budget:\n"  # line 9: the mapping that lacks monthly_usd
        "  volume: {requests_per_month: 10, tokens_per_request: 10}\n"  # line 10: its first child
        "support: {ml_expertise: none, vendor_sla_required: false}\n"
        "security: {data_sensitivity: public, on_premises_only: retrain}\n"  # line 12: a wrong value
        "long_term: {growth: low, lock_in_tolerance: low}\n"
    )
    _, problems = validate_file(file)
    at = {p.path: (p.line, p.column) for p in problems}
    assert at["needs.colour"] == (8, 3)
    assert at["budget"] == (9, 1)
    security = file.read_text().splitlines()[11]
    assert at["security.on_premises_only"] == (12, security.index("retrain") + 1)
    assert str(next(p for p in problems if p.path == "budget")).startswith(
        "p.yaml:9:1: budget: missing required field 'monthly_usd'")

    data = requirements(**{"budget.monthly_usd": DELETE, "needs.colour": "red"})
    json_file = tmp_path / "p.json"
    json_file.write_text(json.dumps(data, indent=2))
    lines = json_file.read_text().splitlines()
    _, problems = validate_file(json_file)
    at = {p.path: (p.line, p.column) for p in problems}
    colour_line = next(i for i, l in enumerate(lines, 1) if '"colour"' in l)
    budget_line = next(i for i, l in enumerate(lines, 1) if '"budget"' in l)
    assert at["needs.colour"] == (colour_line, lines[colour_line - 1].index('"colour"') + 1)
    assert at["budget"] == (budget_line, lines[budget_line - 1].index('"budget"') + 1)
