"""What a pilot will do for one requirement file, before anything is called: the file and its
examples checked, the candidates resolved to offers and routes, and every request listed with
whether its answer is cached and what it is expected to cost. `--dry-run` prints this and stops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from modelmemo.catalog.load import Catalog
from modelmemo.inputs.discovery import scan_settled
from modelmemo.inputs.names import display_name
from modelmemo.inputs.validation import Problem, validate_file
from modelmemo.pilot.budget import estimated_cost
from modelmemo.pilot.cache import ResponseCache, cache_key
from modelmemo.pilot.candidates import (Candidate, CandidateSpec, PilotError, latest_memo, memo_candidates,
                                        resolve)
from modelmemo.pilot.endpoints import Route, route_for
from modelmemo.pilot.examples import ExampleSet, PilotSpec, load_examples
from modelmemo.pilot.prompts import Request, answer_request, default_labels, judge_request
from modelmemo.pilot.results import PilotResult
from modelmemo.settings import PILOT_MAX_OUTPUT_TOKENS, Settings


@dataclass(frozen=True)
class PilotOptions:
    output_dir: Path
    max_usd: float | None = None
    dry_run: bool = False
    candidates: tuple[CandidateSpec, ...] = ()  # --candidates: instead of the memo's (and the file's)
    named: bool = True  # the files were named: one without a pilot section is an error, not skipped silently


@dataclass
class CandidatePlan:
    """One offer to pilot: its requests, what is cached, what the rest should cost, and (after the
    run) how it ended."""

    candidate: Candidate
    route: Route | None  # None: it cannot be called (`status` failed, `message` says why)
    requests: list[Request] = field(default_factory=list)
    cached: int = 0
    new_calls: int = 0
    judge_calls: int = 0
    estimate_usd: float = 0.0
    price_known: bool = True
    status: str = "planned"  # planned | measured | failed | stopped
    message: str = ""
    result: PilotResult | None = None  # measured: what is stored
    notes: list[str] = field(default_factory=list)  # what it is not run on, and why

    def describe(self) -> str:
        if self.route is None:
            return self.message  # it names the candidate
        route = self.route
        judged = f" + {self.judge_calls} judge call(s)" if self.judge_calls else ""
        price = f"~${self.estimate_usd:.4f}" if self.price_known else f"~${self.estimate_usd:.4f} (some prices unknown)"
        left_out = f" ({'; '.join(self.notes)})" if self.notes else ""
        return (f"{self.candidate.key} ({self.candidate.role}) as {route.called_as} at {route.endpoint.base_url}: "
                f"{len(self.requests)} examples{left_out}, {self.new_calls} call(s) to make{judged}, {self.cached} "
                f"cached, {price}")


@dataclass
class ProjectPlan:
    file: str  # the requirement file, as messages name it
    path: Path
    project_id: str | None = None
    problems: list[Problem] = field(default_factory=list)  # the file or its examples were rejected
    error: str = ""  # one line: why this project cannot be piloted (no memo, unknown candidate, ...)
    skipped: bool = False  # no pilot section
    examples: ExampleSet | None = None
    judge: Route | None = None
    candidates: list[CandidatePlan] = field(default_factory=list)
    results_path: Path | None = None

    @property
    def ready(self) -> bool:
        return not (self.problems or self.error or self.skipped)

    @property
    def estimate_usd(self) -> float:
        return sum(c.estimate_usd for c in self.candidates if c.route is not None)


def requirement_files(folder: Path, settle_seconds: float = 0.0) -> list[Path]:
    """The drop folder's requirement files when no FILE is named: exactly the files a run reads
    (inputs/discovery.py: regular files, no links, an input suffix, settled, a UTF-8 name)."""
    return [entry.path for entry in scan_settled(folder, settle_seconds) if entry.kind == "input"]


def plan_project(path: Path, catalog: Catalog, settings: Settings, env: Mapping[str, str], options: PilotOptions,
                 cache: ResponseCache) -> ProjectPlan:
    """Everything up to the first call; problems and errors are recorded on the plan, never raised."""
    label = display_name(path.name)
    plan = ProjectPlan(label, path)
    document, problems = validate_file(path, label)
    if document is None or problems:
        plan.problems = problems
        return plan
    data = document.data
    plan.project_id = data["project"]["id"]
    spec = PilotSpec.from_data(data)
    if spec is None:
        plan.skipped = True
        plan.error = "no pilot section; add `pilot: {examples: FILE.jsonl}` to pilot it"
        return plan
    plan.examples, plan.problems = load_examples(path, document, spec, tuple(data["needs"]["tasks"]), label)
    if plan.problems:
        return plan
    try:
        specs = _candidate_specs(plan.project_id, spec, options)
        candidates = [resolve(s, catalog, role) for s, role in specs]
        if spec.judge is not None and any(e.rubric for e in plan.examples.examples):
            plan.judge = route_for(resolve(spec.judge, catalog, "judge"), settings, env)
    except PilotError as exc:
        plan.error = str(exc)
        return plan
    labels = default_labels(plan.examples)
    requests = [answer_request(example, labels) for example in plan.examples.examples]
    for candidate in candidates:
        plan.candidates.append(_plan_candidate(candidate, requests, plan.judge, settings, env, cache))
    return plan


def _candidate_specs(project_id: str, spec: PilotSpec, options: PilotOptions) -> list[tuple[CandidateSpec, str]]:
    if options.candidates:
        return [(s, "named") for s in options.candidates]
    if spec.candidates:
        return [(s, "named") for s in spec.candidates]
    memo = latest_memo(options.output_dir, project_id)
    if memo is None:
        raise PilotError(f"no memo for {project_id} in {options.output_dir} yet: run `modelmemo run` first, or name "
                         "the options with --candidates")
    found = list(memo_candidates(memo))
    if not found:
        raise PilotError(f"the latest memo of {project_id} ({memo.parent.name}) has no pick to pilot; name the "
                         "options with --candidates")
    return found


def _plan_candidate(candidate: Candidate, requests: list[Request], judge: Route | None, settings: Settings,
                    env: Mapping[str, str], cache: ResponseCache) -> CandidatePlan:
    try:
        route = route_for(candidate, settings, env)
    except PilotError as exc:
        return CandidatePlan(candidate, None, status="failed", message=str(exc))
    mine = [r for r in requests if candidate.runs(r.example.task)]
    plan = CandidatePlan(candidate, route, mine)
    left_out = sorted({r.example.task for r in requests} - {r.example.task for r in mine})
    if left_out:
        plan.notes.append(f"not run on {', '.join(left_out)}: " + (f"the memo picks it for {candidate.task} only"
                          if candidate.task else f"the catalog does not list {candidate.model.name} for it"))
    if not mine:
        plan.status, plan.message = "failed", f"candidate {candidate.key}: no example of a task it is piloted on " \
                                              f"({plan.notes[0]})"
        plan.route = None
        return plan
    for request in mine:
        key = cache_key(route.endpoint.base_url, route.called_as, request.kind, request.body)
        record = cache.get(key)
        if record is not None:
            plan.cached += 1
        else:
            plan.new_calls += 1
            plan.estimate_usd += estimated_cost(route, request)
            plan.price_known &= _priced(route, request)
        if judge is not None and request.example.rubric:
            answer = record.get("text") if record else None
            placeholder = request.example.reference or "x" * (PILOT_MAX_OUTPUT_TOKENS * 4)
            judged = judge_request(request.example, answer if isinstance(answer, str) else placeholder)
            if answer is None or not cache.has(cache_key(judge.endpoint.base_url, judge.called_as, "chat", judged.body)):
                plan.judge_calls += 1
                plan.estimate_usd += estimated_cost(judge, judged)
                plan.price_known &= _priced(judge, judged)
    return plan


def _priced(route: Route, request: Request) -> bool:
    from modelmemo.pilot.budget import estimated_usage, request_cost

    return request_cost(route, request.kind, *estimated_usage(request))[1] != "unknown"
