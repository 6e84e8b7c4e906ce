"""modelmemo touches only what it wrote in the output folder (issue 10, findings 1 and 5)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from modelmemo.batch.atomic import TEMP_SUFFIX, atomic_write_text
from modelmemo.batch.pipeline import clean_up_after_crash, plan_batch, run_batch
from modelmemo.inputs.validation import validate_file

from .conftest import CATALOG, TEMPLATES, copy_examples
from .helpers import requirements, write_yaml
from .support_renderer import FAKE_PDF

FOREIGN_FILES = {
    "docs/thesis.pdf": b"%PDF-1.7 my thesis",
    "docs/homepage.html": b"<html>home</html>",
    "photos/album.pdf": b"%PDF album",
    "docs/sub/.notes.tmp": b"notes in progress",
    ".bashrc.tmp": b"export X=1",
    "20250101T000000Z-notes.txt": b"a file named almost like a run",
    "upload/.draft.yaml.abc123.tmp": b"an upload in progress",
    "summary.json": b"{}",
}


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_finding1_foreign_files_in_output_folder_left_byte_identical(tmp_path: Path):
    drop = tmp_path / "inputs"
    drop.mkdir()
    output = tmp_path / "out"
    for name, data in FOREIGN_FILES.items():
        (output / name).parent.mkdir(parents=True, exist_ok=True)
        (output / name).write_bytes(data)
    before = _tree(output)

    summary = run_batch(drop, output, catalog_files=(CATALOG,), templates_dir=TEMPLATES, renderer=FAKE_PDF)

    after = _tree(output)
    assert {name: after.get(name) for name in before} == before
    assert (output / summary.run_id / "summary.json").is_file()
    assert (output / "LATEST").read_text().strip() == summary.run_id


def test_finding1_crash_clean_up_still_removes_what_modelmemo_left(tmp_path: Path):
    output = tmp_path / "out"
    crashed = output / "20261129T020000Z-ab12"  # a run folder with no summary.json: it never finished
    crashed.mkdir(parents=True)
    (crashed / "proj.pdf").write_bytes(b"%PDF half")  # no proj.json: incomplete memo
    (crashed / "done.pdf").write_bytes(b"%PDF")
    (crashed / "done.json").write_text("{}")
    (crashed / f".done.html.x1y2{TEMP_SUFFIX}").write_text("partial")
    (output / "state").mkdir()
    (output / "state" / f".memos.json.k3j4{TEMP_SUFFIX}").write_text("partial")
    (output / ".notes.tmp").write_text("the user's")  # not ours: no marker
    (output / "mine").mkdir()
    (output / "mine" / "page.html").write_text("the user's")  # not in a run folder
    stopped_early = output / "20261129T030000Z-cd34"  # stopped before its first memo: left empty
    (stopped_early / f".a.pdf.z9{TEMP_SUFFIX}").parent.mkdir()
    (stopped_early / f".a.pdf.z9{TEMP_SUFFIX}").write_text("partial")
    (output / "empty-of-mine").mkdir()  # not a run folder: kept even though empty

    clean_up_after_crash(output)

    assert not stopped_early.exists() and (output / "empty-of-mine").is_dir()
    assert sorted(p.name for p in crashed.iterdir()) == ["done.json", "done.pdf"]
    assert list((output / "state").iterdir()) == []
    assert (output / ".notes.tmp").read_text() == "the user's"
    assert (output / "mine" / "page.html").read_text() == "the user's"


def test_next_run_removes_a_failed_memos_parts_from_a_finished_run_folder(tmp_path: Path):
    """Issue 23: a render worker killed between a memo's PDF and its JSON left the PDF, the HTML and
    the JSON's temporary file in a run folder that then finished, and no later run looked there.
    The next run removes exactly those: temporary files with modelmemo's marker, and the PDF/HTML of
    a project that run's own summary.json lists as failed whose JSON is missing."""
    drop, output = tmp_path / "inputs", tmp_path / "out"
    drop.mkdir()
    copy_examples(drop, ["legal-translation", "research-digest", "ticket-triage"])
    first = run_batch(drop, output, catalog_files=(CATALOG,), templates_dir=TEMPLATES, deliver=False,
                      renderer=FAKE_PDF)
    run_dir = output / first.run_id
    # What a version without the fix left: legal-translation's worker died before the JSON's rename
    # (the run reported it failed and did not record it), ...
    summary = json.loads((run_dir / "summary.json").read_text())
    for project in summary["projects"]:
        if project["project_id"] == "legal-translation":
            project.update(status="failed", error="render process died (BrokenProcessPool)")
    (run_dir / "summary.json").write_text(json.dumps(summary))
    (run_dir / "legal-translation.json").rename(run_dir / f".legal-translation.json.k2j4{TEMP_SUFFIX}")
    state = json.loads((output / "state" / "memos.json").read_text())
    del state["legal-translation"]
    (output / "state" / "memos.json").write_text(json.dumps(state))
    # ... and what is not modelmemo's to remove: someone's files, and a memo listed as written whose
    # JSON someone moved away (not a failed render: its PDF and HTML stay).
    (run_dir / "ticket-triage.json").rename(tmp_path / "ticket-triage.json")
    theirs = {"handout.pdf": "%PDF mine", "handout.html": "<p>mine</p>", ".notes.tmp": "mine",
              f"notes{TEMP_SUFFIX}": "no leading dot: not a name modelmemo writes"}
    for name, text in theirs.items():
        (run_dir / name).write_text(text)

    run_batch(drop, output, catalog_files=(CATALOG,), templates_dir=TEMPLATES, deliver=False, renderer=FAKE_PDF)

    left = sorted(p.name for p in run_dir.iterdir())
    assert not any(name.startswith("legal-translation.") or name.endswith(f"k2j4{TEMP_SUFFIX}") for name in left), left
    assert {"research-digest.json", "research-digest.pdf", "research-digest.html", "ticket-triage.pdf",
            "ticket-triage.html", "summary.json", "index.html"} <= set(left)
    assert {name: (run_dir / name).read_text() for name in theirs} == theirs


def test_atomic_writes_leave_no_marked_temp_file(tmp_path: Path):
    atomic_write_text(tmp_path / "a.txt", "hello")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_finding5_reserved_project_ids_rejected_with_a_clear_message(tmp_path: Path):
    drop = tmp_path / "inputs"
    drop.mkdir()
    for project_id in ("index", "summary"):
        path = write_yaml(drop / f"{project_id}.yaml", requirements(**{"project.id": project_id}))
        _, problems = validate_file(path)
        assert len(problems) == 1
        assert problems[0].path == "project.id" and problems[0].line == 3
        assert "reserved" in problems[0].message and "index.html" in problems[0].allowed
    write_yaml(drop / "ok.yaml", requirements(**{"project.id": "index-2"}))

    plan = plan_batch(drop)

    assert [p.project_id for p in plan.projects] == ["index-2"]
    assert sorted(r.file for r in plan.rejected) == ["index.yaml", "summary.yaml"]


def test_finding1_output_folder_equal_to_or_around_the_drop_folder_is_refused(tmp_path: Path):
    from .test_cli import modelmemo

    drop = tmp_path / "inputs"
    drop.mkdir()
    (drop / "upload.yaml.part").write_text("half a file")  # an upload in progress
    inside_run = tmp_path / "out" / "20261129T020000Z-ab12" / "inputs"
    inside_run.mkdir(parents=True)

    same = modelmemo("run", str(drop), "--output", str(drop), timeout=60)
    nested = modelmemo("run", str(inside_run), "--output", str(tmp_path / "out"), timeout=60)

    assert same.returncode == nested.returncode == 2
    assert len(same.stderr.splitlines()) == 1 and "is the drop folder" in same.stderr
    assert len(nested.stderr.splitlines()) == 1 and "inside" in nested.stderr
    assert sorted(p.name for p in drop.iterdir()) == ["upload.yaml.part"]
