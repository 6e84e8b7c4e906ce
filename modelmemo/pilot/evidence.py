"""The pilot results a run decides with (README "Pilot"): for a requirement file with a `pilot:`
section, the sha256 of its examples file as it is now and the results stored for exactly those
bytes (`load_pilot_results`), as the decision's data (decision.pilot.PilotEvidence).

The batch reads them when it plans (modelmemo/batch/pilot_inputs.py), so the decision stays a
pure function and a render worker needs no output folder. `sha256` covers the examples file and
the results that apply: a changed examples file, or new results, changes it, and a project whose
memo was decided with other pilot data is decided again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from modelmemo.batch.layout import state_dir
from modelmemo.decision.pilot import PilotEvidence, PilotReading
from modelmemo.pilot.examples import examples_sha256
from modelmemo.pilot.results import PilotResult, PilotResultsError, load_pilot_results, results_file


@dataclass(frozen=True)
class ProjectPilot:
    evidence: PilotEvidence | None  # None: no results for the examples as they are (public evidence only)
    sha256: str  # what the memo is decided with: the examples file's bytes and the results that apply
    problem: str = ""  # a results file that cannot be read (the memo then rests on public evidence)


def project_pilot(requirement_file: Path, examples: str, output_dir: Path, project_id: str) -> ProjectPilot:
    """The pilot evidence of one project whose requirement file names `examples` (never raises)."""
    file_sha = examples_sha256(requirement_file, examples)
    if file_sha is None:  # missing or unreadable: `modelmemo pilot` says why; the run decides without it
        return ProjectPilot(None, _digest("unreadable", []))
    try:
        results = load_pilot_results(state_dir(output_dir), project_id, file_sha)
    except PilotResultsError as exc:
        return ProjectPilot(None, _digest(file_sha + "|broken", []), str(exc))
    if not results:
        return ProjectPilot(None, _digest(file_sha, []))
    stored = results_file(state_dir(output_dir), project_id).relative_to(output_dir).as_posix()
    return ProjectPilot(as_evidence(results, examples, file_sha, stored), _digest(file_sha, results))


def as_evidence(results: list[PilotResult], examples: str, sha256: str, stored: str = "") -> PilotEvidence:
    """Stored results as the decision reads them: one reading per offer, task and metric."""
    readings = tuple(PilotReading(r.model, r.deployment, m.task, m.metric, m.value, m.ci_low, m.ci_high, m.n,
                                  m.scale_min, r.measured_at, r.endpoint, r.called_as, examples, r.via)
                     for r in results for m in r.metrics if m.better == "higher")
    return PilotEvidence(examples, sha256, max(r.n for r in results), readings, stored)


def _digest(file_sha: str, results: list[PilotResult]) -> str:
    text = json.dumps([file_sha, [r.as_dict() for r in results]], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
