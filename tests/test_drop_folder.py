"""The drop folder end to end without Prefect: discovery, skip-unchanged, rejections, locking,
`modelmemo validate` and watch mode. These tests are about files, state and emails, not about
what a PDF looks like, so batches render with the fake renderer (tests/support_renderer.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from modelmemo.inputs.discovery import scan_drop_folder
from modelmemo.batch.pipeline import BatchSummary, run_batch
from modelmemo.batch.state import BatchLocked, batch_lock

from .conftest import CATALOG, INPUTS, ROOT, TEMPLATES, copy_examples
from .helpers import requirements, write_yaml
from .support_renderer import FAKE_PDF

TWO = ["legal-translation", "marketing-images"]  # the quickest examples to render


def run(folder: Path, output: Path, catalog: Path = CATALOG, templates: Path = TEMPLATES, **kwargs) -> BatchSummary:
    return run_batch(folder, output, catalog_files=(catalog,), templates_dir=templates, renderer=FAKE_PDF, **kwargs)


def statuses(summary: BatchSummary) -> dict[str, str]:
    return {p.project_id: p.status for p in summary.projects}


def emails(output: Path, project_id: str) -> list[Path]:
    return sorted(output.glob(f"*/outbox/{project_id}-*.eml"))


# --- discovery -------------------------------------------------------------------------------


def test_discovery_classifies_temporary_hidden_and_foreign_entries(drop_folder: Path, tmp_path: Path):
    for name in (".x.yaml", "x.yaml.part", "~x.yaml", "y.yaml.tmp", "z.json.crdownload", "w.yml.partial"):
        (drop_folder / name).write_text("schema_version: 1\n")
    (drop_folder / "notes.txt").write_text("hello")
    (drop_folder / "sub.yaml").mkdir()
    outside = tmp_path / "outside.yaml"
    shutil.copy(INPUTS / "support-chatbot.yaml", outside)
    (drop_folder / "link.yaml").symlink_to(outside)
    (drop_folder / "README.md").write_text("drop files here")
    (drop_folder / "rejected").mkdir()

    kinds = {e.name: (e.kind, e.reason) for e in scan_drop_folder(drop_folder)}
    for name in (".x.yaml", "x.yaml.part", "~x.yaml", "y.yaml.tmp", "z.json.crdownload", "w.yml.partial"):
        assert kinds[name][0] == "in-progress", name
    assert kinds["notes.txt"][0] == "ignored" and ".txt" in kinds["notes.txt"][1]
    assert kinds["sub.yaml"][0] == "ignored" and "folder" in kinds["sub.yaml"][1]
    assert kinds["link.yaml"][0] == "ignored" and "symbolic link" in kinds["link.yaml"][1]
    assert "README.md" not in kinds and "rejected" not in kinds


def test_discovery_settle_delay_uses_mtime(drop_folder: Path):
    fresh = drop_folder / "fresh.yaml"
    fresh.write_text("schema_version: 1\n")
    old = drop_folder / "old.yaml"
    old.write_text("schema_version: 1\n")
    past = time.time() - 60
    os.utime(old, (past, past))
    kinds = {e.name: e.kind for e in scan_drop_folder(drop_folder, settle_seconds=10)}
    assert kinds == {"fresh.yaml": "in-progress", "old.yaml": "input"}
    assert {e.kind for e in scan_drop_folder(drop_folder, settle_seconds=0)} == {"input"}


TEN_YEARS = 10 * 365 * 24 * 3600


def _in_the_future(path: Path, seconds: float = TEN_YEARS) -> Path:
    """What `cp -p`, `rsync -t` or `tar x` leave when the sending machine's clock is ahead."""
    ahead = time.time() + seconds
    os.utime(path, (ahead, ahead))
    return path


def test_discovery_settles_a_future_mtime_by_watching_it_not_by_its_age(drop_folder: Path):
    """A file whose modification time is ahead of the clock can never be "5 s old": it is read
    once its size and time stayed unchanged across the settle window (one wait, only when such a
    file is there), with a note that is not "not processed"; one that changed meanwhile waits."""
    from modelmemo.inputs.discovery import scan_settled

    steady = _in_the_future(write_yaml(drop_folder / "steady.yaml", requirements()))
    growing = drop_folder / "growing.yaml"
    growing.write_text("schema_version: 1\n")
    _in_the_future(growing, 3 * 3600)
    old = write_yaml(drop_folder / "old.yaml", requirements(**{"project.id": "old"}))
    os.utime(old, (time.time() - 60, time.time() - 60))
    waits: list[float] = []

    def wait(seconds: float) -> None:  # the settle window, while a copy goes on
        waits.append(seconds)
        with growing.open("a") as handle:
            handle.write("project: {}\n")
        _in_the_future(growing, 3 * 3600)

    entries = {e.name: e for e in scan_settled(drop_folder, 5, wait=wait)}
    assert waits == [5]
    assert entries["steady.yaml"].kind == "input"
    assert entries["steady.yaml"].note.startswith("its modification time is 10 years ahead of this machine's clock")
    assert "unchanged for 5 s" in entries["steady.yaml"].note
    assert entries["growing.yaml"].kind == "in-progress" and "3 h ahead" in entries["growing.yaml"].reason
    assert (entries["old.yaml"].kind, entries["old.yaml"].note) == ("input", "")

    growing.unlink()
    steady.unlink()
    assert [e.kind for e in scan_settled(drop_folder, 5, wait=waits.append)] == ["input"] and waits == [5]  # no wait


def test_every_entry_ends_in_exactly_one_place(drop_folder: Path, tmp_path: Path):
    copy_examples(drop_folder, ["marketing-images"])
    (drop_folder / "empty.yaml").write_text("")
    (drop_folder / "broken.yaml").write_text("schema_version: 1\nproject: [unclosed\n")
    (drop_folder / "x.yaml.part").write_text("half")
    (drop_folder / ".hidden.yaml").write_text("x")
    (drop_folder / "notes.txt").write_text("x")
    (drop_folder / "sub.yaml").mkdir()
    outside = tmp_path / "elsewhere" / "linked.yaml"
    outside.parent.mkdir()
    write_yaml(outside, requirements(**{"project.id": "linked-target"}))
    (drop_folder / "link.yaml").symlink_to(outside)
    (drop_folder / "README.md").write_text("drop files here")
    (drop_folder / "rejected").mkdir()
    output = tmp_path / "out"

    summary = run(drop_folder, output)

    places = [p.file for p in summary.projects] + [r.file for r in summary.rejected] + [n.file for n in summary.notices]
    expected = sorted(p.name for p in drop_folder.iterdir() if p.name not in ("README.md", "rejected"))
    assert sorted(places) == expected  # each exactly once
    assert statuses(summary) == {"marketing-images": "memo"}
    empty = next(r for r in summary.rejected if r.file == "empty.yaml")
    assert "empty" in str(empty.problems[0])
    # the symlink was not followed: its target never became a memo
    assert not list(output.rglob("linked-target*"))
    saved = json.loads((output / summary.run_id / "summary.json").read_text())
    assert {n["file"] for n in saved["not_processed"]} == {"x.yaml.part", ".hidden.yaml", "notes.txt", "sub.yaml",
                                                            "link.yaml"}


# --- skipping what has not changed -----------------------------------------------------------


def test_rerun_skips_unchanged(drop_folder: Path, tmp_path: Path):
    copy_examples(drop_folder, TWO)
    output = tmp_path / "out"
    first = run(drop_folder, output)
    assert statuses(first) == {pid: "memo" for pid in TWO}
    assert len(emails(output, "marketing-images")) == 1

    second = run(drop_folder, output)
    assert statuses(second) == {pid: "skipped" for pid in TWO}
    run_dir = output / second.run_id
    assert not list(run_dir.glob("*.pdf")) and [j.name for j in run_dir.glob("*.json")] == ["summary.json"]
    for outcome in second.projects:
        assert outcome.pdf == f"../{first.run_id}/{outcome.project_id}.pdf"
        assert (run_dir / outcome.pdf).is_file()
    assert {d["status"] for d in second.deliveries} == {"already-sent"}
    assert len(emails(output, "marketing-images")) == 1  # the ledger kept it from going out twice
    assert (output / "LATEST").read_text().strip() == second.run_id


def test_editing_one_input_rerenders_only_it_and_emails_it_once(drop_folder: Path, tmp_path: Path):
    copy_examples(drop_folder, TWO)
    output = tmp_path / "out"
    run(drop_folder, output)
    edited = drop_folder / "marketing-images.yaml"
    edited.write_text(edited.read_text().replace("monthly_usd: 3000", "monthly_usd: 4500"))

    summary = run(drop_folder, output)
    assert statuses(summary) == {"marketing-images": "memo", "legal-translation": "skipped"}
    assert sorted(p.name for p in (output / summary.run_id).glob("*.pdf")) == ["marketing-images.pdf"]
    assert len(emails(output, "marketing-images")) == 2
    assert len(emails(output, "legal-translation")) == 1

    again = run(drop_folder, output)  # nothing changed since: no third email
    assert statuses(again) == {"marketing-images": "skipped", "legal-translation": "skipped"}
    assert len(emails(output, "marketing-images")) == 2


def _copy_templates(tmp_path: Path) -> Path:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    return templates


def _copy_catalog(tmp_path: Path) -> Path:
    catalog = tmp_path / "catalog" / "models.yaml"
    catalog.parent.mkdir()
    shutil.copy(CATALOG, catalog)
    return catalog


def _edit_note(catalog: Path) -> None:
    text = catalog.read_text()
    old = "roughly half an engineer"
    assert old in text
    catalog.write_text(text.replace(old, "roughly one half of an engineer"))


def test_changed_templates_or_catalog_or_force_rerender_everything(drop_folder: Path, tmp_path: Path):
    copy_examples(drop_folder, TWO)
    templates = _copy_templates(tmp_path)
    catalog = _copy_catalog(tmp_path)
    output = tmp_path / "out"
    everything = {pid: "memo" for pid in TWO}
    assert statuses(run(drop_folder, output, catalog, templates)) == everything
    assert statuses(run(drop_folder, output, catalog, templates)) == {pid: "skipped" for pid in TWO}

    with (templates / "memo.css").open("a") as css:
        css.write("\n/* rebranded */\n")
    assert statuses(run(drop_folder, output, catalog, templates)) == everything

    _edit_note(catalog)
    assert statuses(run(drop_folder, output, catalog, templates)) == everything

    summary = run(drop_folder, output, catalog, templates, force=True)
    assert statuses(summary) == everything
    assert all((output / summary.run_id / f"{pid}.pdf").is_file() for pid in TWO)


def test_catalog_edited_in_place_is_used_by_the_same_process(drop_folder: Path, tmp_path: Path):
    """A long-lived process (watch mode, one worker) renders with the edited catalog, not a cached one."""
    from modelmemo.catalog.load import load_catalog

    copy_examples(drop_folder, ["marketing-images"])
    catalog = _copy_catalog(tmp_path)
    output = tmp_path / "out"
    run(drop_folder, output, catalog=catalog)
    _edit_note(catalog)
    summary = run(drop_folder, output, catalog=catalog)
    memo = json.loads((output / summary.run_id / "marketing-images.json").read_text())
    assert memo["catalog_sha256"] == load_catalog([catalog]).sha256


def test_brand_edited_in_place_is_used_by_the_same_process(drop_folder: Path, tmp_path: Path):
    """brand.yaml edited in place shows up in the next memo of the same process."""
    copy_examples(drop_folder, ["marketing-images"])
    templates = _copy_templates(tmp_path)
    output = tmp_path / "out"
    run(drop_folder, output, templates=templates)
    brand = templates / "brand.yaml"
    brand.write_text(brand.read_text().replace("Northwind Analytics", "Southwind Research"))
    summary = run(drop_folder, output, templates=templates)
    assert statuses(summary) == {"marketing-images": "memo"}
    assert "Southwind Research" in (output / summary.run_id / "marketing-images.html").read_text()


# --- rejections ------------------------------------------------------------------------------


def test_rejected_file_stays_reported_until_fixed(drop_folder: Path, tmp_path: Path):
    bad = write_yaml(drop_folder / "bad.yaml", requirements(**{"needs.customization": "retrain"}))
    line = next(i for i, text in enumerate(bad.read_text().splitlines(), 1) if "retrain" in text)
    output = tmp_path / "out"
    for _ in range(2):
        summary = run(drop_folder, output)
        assert [r.file for r in summary.rejected] == ["bad.yaml"] and not summary.projects
        problem = summary.rejected[0].problems[0]
        assert problem.path == "needs.customization" and problem.line == line and problem.column
        assert str(problem).startswith(f"bad.yaml:{line}:{problem.column}: ")
        assert bad.exists()  # left in place, visible, until fixed
    write_yaml(bad, requirements())
    summary = run(drop_folder, output)
    assert not summary.rejected and statuses(summary) == {"test-project": "memo"}


def test_duplicate_project_ids_reject_both_naming_each_other(drop_folder: Path, tmp_path: Path):
    write_yaml(drop_folder / "a.yaml", requirements())
    write_yaml(drop_folder / "b.yaml", requirements(**{"project.name": "Other"}))
    summary = run(drop_folder, tmp_path / "out")
    assert not summary.projects
    messages = {r.file: " ".join(str(p) for p in r.problems) for r in summary.rejected}
    assert set(messages) == {"a.yaml", "b.yaml"}
    assert "b.yaml" in messages["a.yaml"] and "a.yaml" in messages["b.yaml"]
    assert "test-project" in messages["a.yaml"]


# --- two runs at once ------------------------------------------------------------------------


def test_concurrent_run_in_process_is_refused_and_writes_nothing(drop_folder: Path, tmp_path: Path):
    copy_examples(drop_folder, ["support-chatbot"])
    output = tmp_path / "out"
    with batch_lock(output):
        before = sorted(p.name for p in output.iterdir())
        with pytest.raises(BatchLocked, match="another modelmemo run"):
            run(drop_folder, output)
        assert sorted(p.name for p in output.iterdir()) == before == ["state"]
    assert not (output / "state" / "memos.json").exists()


HOLDER = """
import sys
from pathlib import Path
from modelmemo.batch.state import batch_lock
with batch_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.readline()
"""

RUNNER = """
import sys
from pathlib import Path
from modelmemo.batch.pipeline import run_batch
from modelmemo.batch.state import BatchLocked
try:
    run_batch(Path(sys.argv[1]), Path(sys.argv[2]), catalog_files=(Path(sys.argv[3]),),
              templates_dir=Path(sys.argv[4]))
except BatchLocked as exc:
    print("LOCKED:", exc, file=sys.stderr)
    sys.exit(3)
"""


def test_two_processes_one_lock(drop_folder: Path, tmp_path: Path):
    copy_examples(drop_folder, TWO)
    output = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(output)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "locked"  # the first process now holds the lock
        runner = subprocess.run([sys.executable, "-c", RUNNER, str(drop_folder), str(output), str(CATALOG),
                                 str(TEMPLATES)], capture_output=True, text=True, env=env, timeout=120)
        assert runner.returncode == 3, runner.stderr
        assert "LOCKED: another modelmemo run" in runner.stderr and f"pid {holder.pid}" in runner.stderr
        assert sorted(p.name for p in output.iterdir()) == ["state"]  # nothing written
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert holder.returncode == 0

    summary = run(drop_folder, output)  # the lock is free again
    assert statuses(summary) == {pid: "memo" for pid in TWO}
    state = json.loads((output / "state" / "memos.json").read_text())
    assert sorted(state) == sorted(TWO) and {e["run_id"] for e in state.values()} == {summary.run_id}


# --- the command line ------------------------------------------------------------------------


def test_cli_validate_reports_each_problem_with_position(tmp_path: Path):
    bad = write_yaml(tmp_path / "bad.yaml", requirements(**{"needs.customization": "retrain",
                                                            "support.ml_expertise": "lots"}))
    cli = ROOT / ".venv" / "bin" / "modelmemo"
    result = subprocess.run([str(cli), "validate", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2, lines
    assert all(re.match(rf"{re.escape(str(bad))}:\d+:\d+: ", line) for line in lines), lines
    assert any("needs.customization" in line for line in lines)
    assert any("support.ml_expertise" in line for line in lines)

    good = subprocess.run([str(cli), "validate", str(INPUTS / "support-chatbot.yaml")], capture_output=True,
                          text=True, timeout=60)
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.strip().endswith(": valid")


def test_run_processes_a_file_dated_ten_years_ahead_with_a_note(drop_folder: Path, tmp_path: Path, prefect_api,
                                                                 monkeypatch, capsys):
    """`run` with a file whose time is 10 years ahead (it used to say "may still be copying" on every
    run, for ever, and exit 0): the file is looked at twice across the settle window, processed
    with a note that is not "not processed", and the run exits 0."""
    from modelmemo.cli import main

    monkeypatch.setenv("MODELMEMO_SETTLE_SECONDS", "1")
    copy_examples(drop_folder, ["marketing-images"])
    os.utime(drop_folder / "marketing-images.yaml", (time.time() - 60, time.time() - 60))
    _in_the_future(shutil.copy(INPUTS / "legal-translation.json", drop_folder / "legal-translation.json"))
    output = tmp_path / "out"
    code = main(["run", str(drop_folder), "--output", str(output), "--no-email", "--workers", "1"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "not processed legal-translation.json" not in printed
    assert re.search(r"^note legal-translation\.json: its modification time is 10 years ahead of this machine's "
                     r"clock \(clock skew\?\); processed once its size and time stayed unchanged for 1 s", printed, re.M), printed
    run_dir = next(p for p in output.iterdir() if (p / "summary.json").exists())
    saved = json.loads((run_dir / "summary.json").read_text())
    assert {p["project_id"]: p["status"] for p in saved["projects"]} == {"legal-translation": "memo",
                                                                         "marketing-images": "memo"}
    assert saved["not_processed"] == [] and [n["file"] for n in saved["notes"]] == ["legal-translation.json"]
    assert "10 years ahead" in (run_dir / "index.html").read_text()


# --- watch mode ------------------------------------------------------------------------------


def test_watch_folder_runs_once_per_settled_change(drop_folder: Path):
    from modelmemo.inputs.watch import watch_folder

    calls: list[tuple[list[str], dict[str, str]]] = []
    boom = {"armed": True}

    def on_change(names: list[str]) -> None:
        calls.append((names, {n: (drop_folder / n).read_text() for n in names if (drop_folder / n).exists()}))
        if "boom.yaml" in names and boom["armed"]:
            boom["armed"] = False
            raise RuntimeError("a failing run must not stop the watcher")

    def wait_for(predicate, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()

    stop = threading.Event()
    thread = threading.Thread(target=watch_folder, args=(drop_folder, on_change),
                              kwargs={"debounce_seconds": 0.3, "settle_seconds": 0.5, "stop_event": stop},
                              daemon=True)
    thread.start()
    try:
        # the watcher is ready once a probe is seen (no fixed sleep that could race its start-up)
        probe = drop_folder / "probe.txt"
        for attempt in range(20):
            probe.write_text(str(attempt))
            if wait_for(lambda: calls, timeout=1.5):
                break
        assert calls and calls[0][0] == ["probe.txt"]
        calls.clear()

        part = drop_folder / "a.yaml.part"
        part.write_text("schema_version: 1\n")
        time.sleep(1.0)
        assert calls == []  # a .part file alone is still being written

        part.rename(drop_folder / "a.yaml")
        assert wait_for(lambda: calls)
        time.sleep(1.0)
        assert [names for names, _ in calls] == [["a.yaml"]]
        calls.clear()

        with (drop_folder / "b.yaml").open("w") as handle:  # a slow copy: two chunks 0.2 s apart
            handle.write("schema_version: 1\n")
            handle.flush()
            time.sleep(0.2)
            handle.write("project: {}\n")
        assert wait_for(lambda: calls)
        time.sleep(1.0)  # buffered events of the second chunk must not cause a second run
        assert [names for names, _ in calls] == [["b.yaml"]]
        assert calls[0][1]["b.yaml"] == "schema_version: 1\nproject: {}\n"  # read whole, not half-written
        calls.clear()

        (drop_folder / "a.yaml").unlink()
        time.sleep(1.0)
        assert calls == []  # deletions alone do not trigger a run

        (drop_folder / "boom.yaml").write_text("x: 1\n")
        assert wait_for(lambda: calls)
        (drop_folder / "after.yaml").write_text("x: 2\n")
        assert wait_for(lambda: len(calls) == 2)
        assert [names for names, _ in calls] == [["boom.yaml"], ["after.yaml"]]
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_watch_folder_retries_a_failed_run_without_a_new_change(drop_folder: Path):
    """A run that fails (the nightly run holds the lock, say) is retried with backoff until it succeeds,
    though the file that triggered it never changes again; a success stops the retries."""
    from modelmemo.inputs.watch import watch_folder

    calls: list[tuple[float, list[str]]] = []

    def on_change(names: list[str]) -> None:
        calls.append((time.monotonic(), names))
        if len(calls) <= 2:
            raise RuntimeError("output folder locked by another run")

    stop = threading.Event()
    thread = threading.Thread(target=watch_folder, args=(drop_folder, on_change),
                              kwargs={"debounce_seconds": 0.2, "settle_seconds": 0.2, "stop_event": stop,
                                      "retry_seconds": 0.5},
                              daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        attempt = 0
        while not calls and time.monotonic() < deadline:  # until the watcher is up and sees the file
            (drop_folder / "late.yaml").write_text(f"x: {attempt}\n")
            attempt += 1
            time.sleep(1.0)
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2.5)  # after a success, nothing more runs
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert [names for _, names in calls] == [["late.yaml"]] * 3
    first_gap, second_gap = calls[1][0] - calls[0][0], calls[2][0] - calls[1][0]
    assert first_gap >= 0.5 and second_gap >= 1.0  # 0.5 s, then twice as long


def test_watch_folder_retries_the_catch_up_run(drop_folder: Path):
    """The run at start (initial_run: whatever arrived while nobody watched) is retried like any
    failed run when it cannot process the folder (locked by the nightly run, say)."""
    from modelmemo.inputs.watch import watch_folder

    calls: list[tuple[float, list[str]]] = []

    def on_change(names: list[str]) -> None:
        calls.append((time.monotonic(), names))
        if len(calls) <= 2:
            raise RuntimeError("output folder locked by another run")

    stop = threading.Event()
    thread = threading.Thread(target=watch_folder, args=(drop_folder, on_change),
                              kwargs={"debounce_seconds": 0.2, "settle_seconds": 0.2, "stop_event": stop,
                                      "retry_seconds": 0.5, "initial_run": True},
                              daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2.0)  # after a success, nothing more runs
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert [names for _, names in calls] == [[]] * 3  # no file changed: the catch-up run, twice retried
    first_gap, second_gap = calls[1][0] - calls[0][0], calls[2][0] - calls[1][0]
    assert first_gap >= 0.5 and second_gap >= 1.0


def test_finding6_watch_ignores_its_output_folder(drop_folder: Path):
    """What runs write to an output folder inside the drop folder never starts another run; with
    output folder == drop folder (refused by `modelmemo watch`), its run folders, state/ and LATEST
    do not either."""
    from modelmemo.inputs.watch import is_watched, watch_folder

    folder = drop_folder.resolve()
    assert not is_watched(folder, str(folder / "out"), output_dir=folder / "out")
    for own in ("20261129T122814Z-61b8", "state", "LATEST", ".pruning-20261129T122814Z-61b8-0a1b2c3d"):
        assert not is_watched(folder, str(folder / own), output_dir=folder), own
    assert is_watched(folder, str(folder / "a.yaml"), output_dir=folder)
    assert is_watched(folder, str(folder / "a.yaml"), output_dir=folder / "out")

    calls: list[list[str]] = []
    stop = threading.Event()
    output = drop_folder / "out"
    thread = threading.Thread(target=watch_folder, args=(drop_folder, calls.append),
                              kwargs={"debounce_seconds": 0.2, "settle_seconds": 0.2, "stop_event": stop,
                                      "output_dir": output},
                              daemon=True)
    thread.start()
    try:
        probe = drop_folder / "probe.txt"
        for attempt in range(20):  # until the watcher is up
            probe.write_text(str(attempt))
            time.sleep(1.0)
            if calls:
                break
        assert calls and calls[0] == ["probe.txt"]
        calls.clear()
        (output / "20261129T122814Z-61b8").mkdir(parents=True)  # what a run writes
        (output / "20261129T122814Z-61b8" / "x.pdf").write_bytes(b"%PDF")
        (output / "LATEST").write_text("20261129T122814Z-61b8\n")
        time.sleep(2.0)
        assert calls == []
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def _wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _start_watcher(drop_folder: Path, **kwargs) -> tuple[threading.Thread, threading.Event, list[tuple[list[str], list[str]]]]:
    """watch_folder in a thread, recording each call's names and what the folder held then; returns
    once the watcher is seen to be up (a probe file made it call)."""
    from modelmemo.inputs.watch import watch_folder

    calls: list[tuple[list[str], list[str]]] = []
    outcome: dict = {}

    def on_change(names: list[str]) -> None:
        calls.append((names, sorted(os.listdir(drop_folder)) if drop_folder.is_dir() else []))

    def target() -> None:
        try:
            watch_folder(drop_folder, on_change, stop_event=stop, **{"debounce_seconds": 0.2, "settle_seconds": 0.5,
                                                                       **kwargs})
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            outcome["error"] = exc

    stop = threading.Event()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    probe = drop_folder / "probe.txt"
    for attempt in range(20):
        probe.write_text(str(attempt))
        if _wait_for(lambda: calls, timeout=1.5):
            break
    assert calls and calls[0][0] == ["probe.txt"], outcome
    probe.unlink()
    time.sleep(1.0)
    calls.clear()
    thread.outcome = outcome  # type: ignore[attr-defined]
    return thread, stop, calls


def _stop(thread: threading.Thread, stop: threading.Event) -> None:
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_watch_is_not_stalled_by_a_file_dated_ten_years_ahead(drop_folder: Path):
    """The settle wait is per file: a file whose time is ahead of the clock (it used to hold up every
    other file, silently, until the clock caught up) is handed on once its size and time stayed
    unchanged for the settle time, and a file dropped after it is processed in its own settle time."""
    thread, stop, calls = _start_watcher(drop_folder)
    try:
        _in_the_future(write_yaml(drop_folder / "future.yaml", requirements()))
        time.sleep(0.1)
        write_yaml(drop_folder / "normal.yaml", requirements(**{"project.id": "normal"}))
        assert _wait_for(lambda: any("normal.yaml" in names for names, _ in calls)), (calls, thread.outcome)
        assert _wait_for(lambda: any("future.yaml" in names for names, _ in calls)), (calls, thread.outcome)
        time.sleep(1.0)
        handed = [name for names, _ in calls for name in names]
        assert sorted(handed) == ["future.yaml", "normal.yaml"]  # each once
    finally:
        _stop(thread, stop)


def test_watch_survives_its_drop_folder_being_deleted_and_recreated(drop_folder: Path):
    """The watcher used to go on watching the deleted folder and see nothing, for ever, silently: it
    says so in one line, waits for the folder, and watches it again (with a catch-up run)."""
    said: list[str] = []
    thread, stop, calls = _start_watcher(drop_folder, report=said.append)
    try:
        shutil.rmtree(drop_folder)
        assert _wait_for(lambda: any("deleted or replaced" in line for line in said)), said
        time.sleep(0.5)
        drop_folder.mkdir()
        write_yaml(drop_folder / "after.yaml", requirements())
        assert _wait_for(lambda: any("after.yaml" in listing for _, listing in calls)), (calls, thread.outcome)
        gone = [line for line in said if "deleted or replaced" in line]
        assert len(gone) == 1 and str(drop_folder.resolve()) in gone[0], said
        calls.clear()
        write_yaml(drop_folder / "later.yaml", requirements(**{"project.id": "later"}))  # watched again
        assert _wait_for(lambda: any("later.yaml" in names for names, _ in calls)), (calls, thread.outcome)
    finally:
        _stop(thread, stop)


def test_watch_survives_a_file_name_that_is_not_utf8(drop_folder: Path):
    """watchfiles raises on a name that is not UTF-8 ("Unable to decode path"), which ended `watch`:
    the watcher starts again and runs over the whole folder, so the file is reported (rejected:
    rename it) and later files are still processed."""
    thread, stop, calls = _start_watcher(drop_folder)
    try:
        with open(os.path.join(os.fsencode(drop_folder), b"caf\xe9.yaml"), "wb") as handle:
            handle.write(b"schema_version: 1\n")
        assert _wait_for(lambda: any(names == [] for names, _ in calls)), (calls, thread.outcome)  # a catch-up run
        assert thread.is_alive(), thread.outcome
        write_yaml(drop_folder / "later.yaml", requirements())
        assert _wait_for(lambda: any("later.yaml" in names for names, _ in calls)), (calls, thread.outcome)
    finally:
        _stop(thread, stop)


def test_check_folders_refuses_overlapping_drop_and_output_folders(tmp_path: Path):
    from modelmemo.batch.ownership import check_folders

    drop, output = tmp_path / "in", tmp_path / "out"
    drop.mkdir()
    (tmp_path / "link").symlink_to(drop)
    assert "is the drop folder" in check_folders(drop, drop)
    assert "is the drop folder" in check_folders(drop, tmp_path / "link")  # the same folder by another name
    assert "is the drop folder" in check_folders(str(drop) + "/", drop / "." / "x" / "..")
    for inside in ("20261129T122814Z-61b8", "20261129T122814Z-61b8/sub", "state", ".pruning-20261129T122814Z-61b8-0a1b2c3d"):
        problem = check_folders(output / inside, output)
        assert problem and f"{output / inside.split('/')[0]}, which modelmemo writes" in problem \
            and "\n" not in problem, inside
    assert check_folders(output / "inbox", output) is None  # not a folder modelmemo writes
    assert check_folders(drop, drop / "out") is None  # the output folder may live in the drop folder
    assert check_folders(drop, output) is None


def test_finding6_watch_output_inside_input_refused(tmp_path: Path):
    """`modelmemo watch IN --output IN` used to start a run every 2 s for ever (each run's folder
    triggered the next); a drop folder inside a run folder would be cleaned up by the runs. Both are
    refused at once, in one line, exit code 2, before anything is written."""
    import signal

    from .test_signals import session_processes

    drop = tmp_path / "in"
    drop.mkdir()
    copy_examples(drop, ["marketing-images"])
    run_folder = tmp_path / "out" / "20261129T122814Z-61b8"
    run_folder.mkdir(parents=True)
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home")}
    env.pop("PREFECT_API_URL", None)
    cli = ROOT / ".venv" / "bin" / "modelmemo"
    for folder, output in ((drop, drop), (run_folder, tmp_path / "out")):
        before = sorted(p.name for p in folder.iterdir())
        watcher = subprocess.Popen([str(cli), "watch", str(folder), "--output", str(output), "--no-email"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                   start_new_session=True)
        try:
            out, err = watcher.communicate(timeout=30)
        finally:
            for pid in session_processes(watcher.pid):
                os.kill(pid, signal.SIGKILL)
        assert watcher.returncode == 2, out + err
        assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
        assert sorted(p.name for p in folder.iterdir()) == before
