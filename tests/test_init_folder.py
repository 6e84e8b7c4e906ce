"""`modelmemo init` as a function (the command's own tests in test_cli.py are slow: they start the
real command): what it lays out, that it never overwrites, and that the folder is runnable."""

from __future__ import annotations

import pytest

from modelmemo.cli.init_folder import EXAMPLE, InitError, lay_out, shipped_examples
from modelmemo.inputs.validation import validate_file
from modelmemo.settings import default_templates_dir


def test_lays_out_a_valid_example_and_templates_the_settings_pick_up(tmp_path):
    lines = lay_out(tmp_path / "work")
    work = tmp_path / "work"
    assert (work / "inputs" / EXAMPLE).is_file() and (work / "README.md").is_file()
    assert (work / "templates" / "brand.yaml").is_file() and (work / "templates" / "memo.html.j2").is_file()
    _, problems = validate_file(work / "inputs" / EXAMPLE)
    assert problems == []
    assert default_templates_dir(work) == work / "templates"  # `modelmemo run` in DIR rebrands from here
    assert lines[-1].startswith("next: cd ")
    from modelmemo.inputs.discovery import scan_drop_folder

    # `modelmemo init && modelmemo run` at once: the example is ready, not "still being copied".
    assert [e.kind for e in scan_drop_folder(work / "inputs", settle_seconds=5.0)] == ["input"]


def test_never_overwrites_and_examples_adds_every_shipped_one(tmp_path):
    lay_out(tmp_path)
    (tmp_path / "inputs" / EXAMPLE).write_text("mine", encoding="utf-8")
    (tmp_path / "README.md").write_text("my readme", encoding="utf-8")
    lines = lay_out(tmp_path, all_examples=True)
    assert (tmp_path / "inputs" / EXAMPLE).read_text() == "mine"
    assert (tmp_path / "README.md").read_text() == "my readme"
    assert {p.name for p in (tmp_path / "inputs").iterdir()} == {p.name for p in shipped_examples()}
    assert any(line.startswith("kept ") for line in lines)


def test_a_file_where_the_folder_should_be_is_one_clear_error(tmp_path):
    (tmp_path / "inputs").write_text("not a folder", encoding="utf-8")
    with pytest.raises(InitError, match="exists and is not a folder"):
        lay_out(tmp_path)
