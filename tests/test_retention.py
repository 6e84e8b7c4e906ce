"""Retention: `modelmemo prune` and MODELMEMO_KEEP_RUNS delete old run folders, never a current memo.

Scenario used throughout: one project rendered in the first run, then two nightly runs in which
nothing changed. The memo still lives in the first run's folder, so pruning to one run must keep
that folder as well as the newest one, and delete only the run in between. Folders and state are
what matters here, not what the PDFs look like: the runs use the fake renderer."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelmemo.cli import main
from modelmemo.cli.exits import EXIT_LOCKED, EXIT_OK
from modelmemo.batch.pipeline import run_batch
from modelmemo.batch.retention import prune_runs
from modelmemo.batch.state import batch_lock

from .conftest import CATALOG, TEMPLATES, copy_examples
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
