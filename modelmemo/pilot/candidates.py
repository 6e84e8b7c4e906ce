"""Which options a pilot runs: the latest memo's pick and challengers, or the ones named.

A candidate is written `MODEL[/DEPLOYMENT][=NAME]`: a catalog model id, optionally the deployment
(offer) to call, optionally the name the endpoint knows the model by when the catalog's listing
ids do not give it (endpoints.py). Without a deployment the model's first hosted offer is taken.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from modelmemo.batch import layout
from modelmemo.batch.retention import RUN_ID_PATTERN
from modelmemo.catalog.load import Catalog, Deployment, Model

_SPEC = re.compile(r"^([a-z0-9][a-z0-9-]{0,62})(?:/([a-z0-9][a-z0-9-]{0,62}))?(?:=([!-~]{1,200}))?$")


class PilotError(Exception):
    """A pilot cannot run for one project (or at all); the message is one line naming what and how to fix it."""


@dataclass(frozen=True)
class CandidateSpec:
    model_id: str
    deployment_id: str | None = None
    called_as: str | None = None  # the endpoint's name for it, when given
    task: str | None = None  # a memo's per-task pick (a combination): only that task's examples

    def __str__(self) -> str:
        text = self.model_id + (f"/{self.deployment_id}" if self.deployment_id else "")
        return text + (f"={self.called_as}" if self.called_as else "")


@dataclass(frozen=True)
class Candidate:
    model: Model
    deployment: Deployment
    role: str  # "pick" | "challenger" | "named" | "judge"
    called_as: str | None = None
    task: str | None = None  # see CandidateSpec.task

    def runs(self, task: str) -> bool:
        """Whether this candidate is piloted on a task's examples: a task its model does (the catalog's
        `tasks`) and, for a per-task pick, its own task."""
        return task in self.model.tasks and (self.task is None or self.task == task)

    @property
    def key(self) -> str:
        """How messages and results name it: model/deployment."""
        return f"{self.model.id}/{self.deployment.id}"


def parse_candidate(text: str) -> CandidateSpec:
    """`MODEL[/DEPLOYMENT][=NAME]` -> CandidateSpec; ValueError with what is allowed."""
    found = _SPEC.match(text.strip())
    if not found:
        raise ValueError(f"{text!r} is not MODEL[/DEPLOYMENT][=NAME] (a catalog model id such as claude, optionally "
                         "/deployment-id, optionally =the endpoint's name for it)")
    return CandidateSpec(found.group(1), found.group(2), found.group(3))


def parse_candidate_list(text: str) -> tuple[CandidateSpec, ...]:
    """`--candidates a,b/c,d=x` -> specs (ValueError on the first bad one)."""
    return tuple(parse_candidate(part) for part in text.split(",") if part.strip())


def latest_memo(output_dir: Path, project_id: str) -> Path | None:
    """The newest run folder's memo JSON of this project: an unchanged memo stays in the run that
    made it, so the newest run folder that has one, not just LATEST's."""
    if not output_dir.is_dir():
        return None
    runs = sorted((p for p in output_dir.iterdir() if RUN_ID_PATTERN.match(p.name) and p.is_dir()),
                  key=lambda p: p.name, reverse=True)
    for run in runs:
        memo = layout.memo_file(run, project_id, "json")
        if memo.is_file():
            return memo
    return None


def memo_candidates(memo_path: Path) -> tuple[tuple[CandidateSpec, str], ...]:
    """(spec, role) of the memo's picks, then its challengers, each offer once."""
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
        picks = [(p, "pick") for p in memo["recommended"]] + [(c, "challenger") for c in memo["challengers"]]
        found = [(CandidateSpec(str(p["model"]), str(p["deployment"]), task=p.get("task")), role) for p, role in picks]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PilotError(f"{memo_path}: not a readable memo ({type(exc).__name__}: {exc}); run `modelmemo run` "
                         "again, or name the options with --candidates") from None
    unique: dict[CandidateSpec, str] = {}
    for spec, role in found:
        unique.setdefault(spec, role)
    return tuple(unique.items())


def resolve(spec: CandidateSpec, catalog: Catalog, role: str) -> Candidate:
    """The catalog's model and offer for a spec; PilotError naming the choices otherwise."""
    model = catalog.models.get(spec.model_id)
    if model is None:
        close = sorted(m for m in catalog.models if m.startswith(spec.model_id[:3]))[:5]
        hint = f" (close: {', '.join(close)})" if close else " (`modelmemo catalog` lists them)"
        raise PilotError(f"candidate {spec}: no model '{spec.model_id}' in the catalog{hint}")
    if not model.deployments:
        raise PilotError(f"candidate {spec}: {model.name} has no offer in the catalog to call")
    if spec.deployment_id is None:
        hosted = [d for d in model.deployments if d.is_api]
        return Candidate(model, (hosted or list(model.deployments))[0], role, spec.called_as, spec.task)
    for deployment in model.deployments:
        if deployment.id == spec.deployment_id:
            return Candidate(model, deployment, role, spec.called_as, spec.task)
    offers = ", ".join(d.id for d in model.deployments)
    raise PilotError(f"candidate {spec}: {model.id} has no deployment '{spec.deployment_id}' (offers: {offers})")
