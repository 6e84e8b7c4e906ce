"""A requirement file's pilot examples in the drop folder (README "Pilot"): the examples file a
`pilot:` section names belongs to that requirement file. It is not reported as "not processed",
and the project is planned with the pilot results stored for the file as it is now
(modelmemo/pilot/evidence.py): a changed examples file, or new results, changes the project's
`pilot_sha256`, so the unchanged-input skip decides it again (batch/unchanged.py).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any, Iterable

from modelmemo.batch.work_unit import PlannedProject
from modelmemo.pilot.evidence import project_pilot


def pilot_examples_of(data: dict[str, Any]) -> str:
    """The examples file a valid requirement file's pilot section names ("" without one)."""
    section = data.get("pilot")
    return str(section.get("examples", "")) if isinstance(section, dict) else ""


def owned_entries(projects: Iterable[PlannedProject]) -> set[str]:
    """Drop-folder names the requirement files own: each pilot file, or the folder beside the
    requirement file that holds it (pilot.examples may name `pilot/support.jsonl`)."""
    return {PurePosixPath(p.pilot_examples).parts[0] for p in projects if p.pilot_examples}


def with_pilot(projects: Iterable[PlannedProject], output_dir: Path) -> tuple[list[PlannedProject],
                                                                              list[tuple[str, str]]]:
    """Each project with its pilot evidence and `pilot_sha256`, and (file, note) for a results
    file that cannot be read (that memo is decided on public evidence, and says so nowhere else)."""
    planned, notes = [], []
    for project in projects:
        if not project.pilot_examples:
            planned.append(project)
            continue
        found = project_pilot(Path(project.path), project.pilot_examples, output_dir, project.project_id)
        if found.problem:
            notes.append((project.file, f"pilot results not used: {found.problem}"))
        planned.append(replace(project, pilot=found.evidence, pilot_sha256=found.sha256))
    return planned, notes
