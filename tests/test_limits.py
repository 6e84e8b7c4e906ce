"""Per-memo bounds: a render that runs too long or too big fails that project, not the batch."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from modelmemo.batch import pipeline
from modelmemo.memo.limits import RenderTimeout, limit_worker_memory, time_limit

from .conftest import CATALOG, TEMPLATES, copy_examples


def test_time_limit_interrupts_a_long_block():
    start = time.monotonic()
    with pytest.raises(RenderTimeout):
        with time_limit(0.3):
            while True:
                pass
    assert time.monotonic() - start < 2


def _allocate_too_much() -> str:
    limit_worker_memory(512 * 1024**2)
    try:
        bytearray(1024**3)
    except MemoryError:
        return "memory error"
    return "allocated"


def test_worker_memory_limit_turns_a_runaway_allocation_into_memory_error():
    with ProcessPoolExecutor(1) as pool:
        assert pool.submit(_allocate_too_much).result() == "memory error"


def test_a_render_over_its_time_limit_fails_only_that_project(drop_folder, tmp_path):
    copy_examples(drop_folder, ["research-digest", "ticket-triage"])
    plan = pipeline.plan_batch(drop_folder)
    run_dir = tmp_path / "run"
    jobs = pipeline.make_jobs(plan.projects, run_dir, "r", "2026-11-28T00:00:00+00:00", (CATALOG,), TEMPLATES, "fp")
    slow = dataclasses.replace(jobs[0], time_limit_seconds=0.001)
    outcomes = {o.project_id: o for o in pipeline.render_all([slow, jobs[1]])}
    assert outcomes[slow.project.project_id].status == "failed"
    assert "longer than" in outcomes[slow.project.project_id].error
    assert not (run_dir / f"{slow.project.project_id}.pdf").exists()  # nothing half-written
    assert outcomes[jobs[1].project.project_id].status == "memo"
