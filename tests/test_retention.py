"""Retention: `modelmemo prune` and MODELMEMO_KEEP_RUNS delete old run folders, never a current memo.

Scenario used throughout: one project rendered in the first run, then two nightly runs in which
nothing changed. The memo still lives in the first run's folder, so pruning to one run must keep
that folder as well as the newest one, and delete only the run in between. Folders and state are
what matters here, not what the PDFs look like: the runs use the fake renderer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from modelmemo.cli import main
from modelmemo.cli.exits import EXIT_LOCKED, EXIT_OK
from modelmemo.batch.pipeline import run_batch
from modelmemo.batch.retention import prune_runs
from modelmemo.batch.state import batch_lock

from .conftest import CATALOG, ROOT, TEMPLATES, copy_examples
from .support_renderer import FAKE_PDF

RUNS = ["20261101T020000Z-aaaa", "20261102T020000Z-bbbb", "20261103T020000Z-cccc"]


def three_nightly_runs(drop_folder: Path, output: Path) -> None:
    copy_examples(drop_folder, ["legal-translation"])
    statuses = []
    for run_id in RUNS:
        summary = run_batch(drop_folder, output, catalog_files=(CATALOG,), templates_dir=TEMPLATES, run_id=run_id,
                            deliver=False, renderer=FAKE_PDF)
        statuses.append(summary.projects[0].status)
    assert statuses == ["memo", "skipped", "skipped"]


def run_folders(output: Path) -> list[str]:
    return sorted(p.name for p in output.iterdir() if p.is_dir() and p.name != "state")


def test_prune_keeps_the_newest_runs_and_the_run_holding_a_current_memo(drop_folder: Path, tmp_path: Path):
    output = tmp_path / "output"
    three_nightly_runs(drop_folder, output)
    (output / "notes").mkdir()  # not a run folder: never touched
    report = prune_runs(output, keep=1)
    assert report.removed == (RUNS[1],)
    assert report.kept_for_memos == (RUNS[0],)
    assert run_folders(output) == [RUNS[0], RUNS[2], "notes"]
    # the memo the state points at is intact: the next run still skips it, and nothing else is left over
    summary = run_batch(drop_folder, output, catalog_files=(CATALOG,), templates_dir=TEMPLATES, deliver=False,
                        renderer=FAKE_PDF)
    assert [p.status for p in summary.projects] == ["skipped"]
    assert not list(output.glob(".pruning-*"))


def test_keep_runs_setting_prunes_after_each_run(drop_folder: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODELMEMO_KEEP_RUNS", "1")
    output = tmp_path / "output"
    three_nightly_runs(drop_folder, output)
    assert run_folders(output) == [RUNS[0], RUNS[2]]


def test_prune_command_dry_run_and_lock(drop_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    output = tmp_path / "output"
    three_nightly_runs(drop_folder, output)
    capsys.readouterr()
    assert main(["prune", "--keep", "1", "--dry-run", "--output", str(output)]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"would remove {output / RUNS[1]}" in out and "1 of 3 run folders would be removed" in out
    assert run_folders(output) == RUNS  # a dry run removes nothing
    with batch_lock(output):  # a run in progress: pruning waits for another time
        assert main(["prune", "--keep", "1", "--output", str(output)]) == EXIT_LOCKED
    assert run_folders(output) == RUNS
    assert main(["prune", "--keep", "1", "--output", str(output)]) == EXIT_OK
    assert run_folders(output) == [RUNS[0], RUNS[2]]


def user_folders(output: Path) -> dict[str, str]:
    """Folders a person made in the output folder whose names start like prune's hidden folders: one
    named as an earlier modelmemo named them (`.pruning-<run id>`), one as the current one does."""
    folders = {".pruning-notes": "my notes", f".pruning-{RUNS[1]}": "a copy I made",
               f".pruning-{RUNS[1]}-0badcafe": "mine too"}
    for name, text in folders.items():
        (output / name).mkdir()
        (output / name / "keep.txt").write_text(text)
    return folders


def assert_untouched(output: Path, folders: dict[str, str]) -> None:
    for name, text in folders.items():
        assert (output / name / "keep.txt").read_text() == text, name


def test_prune_never_deletes_a_folder_it_did_not_make(drop_folder: Path, tmp_path: Path):
    """Issue 23: prune deleted every `output/.pruning-*` folder as a leftover of its own. A name
    proves nothing: only the hidden folders prune recorded making are its to delete."""
    output = tmp_path / "output"
    three_nightly_runs(drop_folder, output)
    mine = user_folders(output)
    assert prune_runs(output, keep=1).removed == (RUNS[1],)
    assert prune_runs(output, keep=1).removed == ()  # and again, with nothing left to prune
    assert_untouched(output, mine)
    assert run_folders(output) == sorted([RUNS[0], RUNS[2], *mine])
    assert not (output / "state" / "pruning.json").exists()


def test_prune_killed_midway_is_finished_by_the_next_prune(drop_folder: Path, tmp_path: Path):
    """`modelmemo prune` SIGKILLed after renaming a run folder to its hidden name, before deleting
    it: the next prune deletes that leftover (recorded in state/), and still nothing of the user's."""
    output = tmp_path / "output"
    three_nightly_runs(drop_folder, output)
    mine = user_folders(output)
    killed = subprocess.run([sys.executable, "-m", "modelmemo.cli", "prune", "--keep", "1", "--output", str(output)],
                            env={**os.environ, "MODELMEMO_FAILPOINT": "prune-before-delete"}, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    leftovers = [p.name for p in output.iterdir() if p.name.startswith(f".pruning-{RUNS[1]}-") and p.name not in mine]
    assert len(leftovers) == 1 and (output / leftovers[0] / "index.html").is_file()  # renamed, not yet deleted
    assert json.loads((output / "state" / "pruning.json").read_text())["trash"] == leftovers

    assert main(["prune", "--keep", "1", "--output", str(output)]) == EXIT_OK
    assert not (output / leftovers[0]).exists()
    assert not (output / "state" / "pruning.json").exists()
    assert_untouched(output, mine)
    assert run_folders(output) == sorted([RUNS[0], RUNS[2], *mine])
