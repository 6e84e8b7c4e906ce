"""Shared fixtures. Prefect runs against a real (temporary) API; its home is a temp folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Must be set before Prefect is imported anywhere in the test session.
_prefect_home = tempfile.mkdtemp(prefix="modelmemo-prefect-")
os.environ["PREFECT_HOME"] = _prefect_home
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.pop("PREFECT_API_URL", None)
# modelmemo's own state folder (Prefect logging configs, a temporary server's home): the commands the
# tests start write there, never into the real ~/.local/state/modelmemo.
_state_home = tempfile.mkdtemp(prefix="modelmemo-state-")
os.environ["XDG_STATE_HOME"] = _state_home
# Test files are written just before each run; the drop-folder settle delay is tested on its own.
os.environ["MODELMEMO_SETTLE_SECONDS"] = "0"

# The `slow` marker: tests that start their own servers or clusters, send signals to or kill real
# processes, sleep through watch debounces, or run the benchmark. `pytest -m "not slow"` is the
# inner loop (under 3 minutes on 2 cores, every module still exercised); CI and README's test
# command run everything. Whole files here; single tests by name below.
SLOW_FILES = {"test_bench.py", "test_signals.py", "test_prefect_unavailable.py", "test_faults.py",
              "test_deployment.py", "test_scaleout.py", "test_serve_stop.py", "test_dask.py", "test_cli.py",
              "test_pilot_flow.py", "test_pilot_end_to_end.py", "test_kill_delivery.py"}
SLOW_TESTS = {"test_watch_folder_runs_once_per_settled_change", "test_watch_folder_retries_a_failed_run_without_a_new_change",
              "test_watch_folder_retries_the_catch_up_run", "test_finding6_watch_ignores_its_output_folder",
              "test_watch_is_not_stalled_by_a_file_dated_ten_years_ahead",
              "test_watch_survives_its_drop_folder_being_deleted_and_recreated",
              "test_watch_survives_a_file_name_that_is_not_utf8"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in SLOW_FILES or item.originalname in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


ROOT = Path(__file__).resolve().parent.parent
INPUTS = ROOT / "inputs"
# The shipped examples by name: inputs/ is also where a user drops files of their own (README), and
# a file of theirs must not change what the tests check.
EXAMPLE_NAMES = ("clinical-notes-onprem.yaml", "code-review-assistant.yaml", "legal-translation.json",
                 "marketing-images.yaml", "product-launch-kit.yaml", "research-digest.yaml", "sales-email-drafts.yaml",
                 "support-chatbot.yaml", "ticket-triage.yaml")


def example_inputs() -> list[Path]:
    """The shipped example files in inputs/, whatever else the folder holds."""
    return [INPUTS / name for name in EXAMPLE_NAMES]
TEMPLATES = ROOT / "templates"
CATALOG = ROOT / "catalog" / "models.yaml"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def catalog():
    from modelmemo.catalog.load import load_catalog

    return load_catalog([CATALOG])


@pytest.fixture(scope="session")
def prefect_api():
    """A real Prefect API for the whole session (the test harness starts a temporary server)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def drop_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "inputs"
    folder.mkdir()
    return folder


def copy_examples(folder: Path, names: list[str] | None = None) -> list[Path]:
    copied = []
    for path in example_inputs():
        if names is None or path.stem in names:
            copied.append(Path(shutil.copy(path, folder / path.name)))
    return copied


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_prefect_home, ignore_errors=True)
    shutil.rmtree(_state_home, ignore_errors=True)
