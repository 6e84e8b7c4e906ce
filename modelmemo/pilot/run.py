"""`modelmemo pilot`, the plain function the command and the flow call: plan every file, check the
estimate against --max-usd, then call every candidate on every example (httpx async, a concurrency
limit per provider), measure, and store the results of the candidates that answered everything.

A candidate's requests stop at its first failure (a 429 storm that outlasts the retries, a timeout,
a malformed answer, the budget): its remaining examples are not sent, its answers so far stay in
the cache for a rerun, and no result is stored for it. Every line said goes through `redact`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping

import httpx

from modelmemo.batch.layout import state_dir
from modelmemo.catalog.load import Catalog
from modelmemo.inputs.names import display_name
from modelmemo.pilot.budget import Budget, BudgetExceeded, estimated_cost, request_cost
from modelmemo.pilot.cache import ResponseCache, cache_key
from modelmemo.pilot.client import Answer, CallFailed, call, redact
from modelmemo.pilot.endpoints import Route
from modelmemo.pilot.measure import measure
from modelmemo.pilot.metrics import percentile
from modelmemo.pilot.plan import CandidatePlan, PilotOptions, ProjectPlan, plan_project
from modelmemo.pilot.prompts import Request, judge_request, judge_score
from modelmemo.pilot.results import PilotResult, store_results
from modelmemo.settings import Settings

Say = Callable[[str], None]


@dataclass
class PilotReport:
    projects: list[ProjectPlan]
    dry_run: bool
    max_usd: float | None
    estimate_usd: float
    spent_usd: float = 0.0
    refused: str = ""  # the estimate was over --max-usd: nothing was called
    named: bool = True  # see PilotOptions.named
    lines: list[str] = field(default_factory=list)  # what was said, in order

    @property
    def ok(self) -> bool:
        """Every file with a pilot section was piloted and every candidate measured (or, dry run, could be)."""
        if self.refused:
            return False
        for project in self.projects:
            if project.problems or (project.error and not (project.skipped and not self.named)):
                return False
            if any(c.status not in ("measured", "planned") for c in project.candidates):
                return False
        return True


def run_pilot(files: list[Path], catalog: Catalog, settings: Settings, options: PilotOptions,
              env: Mapping[str, str], say: Say = print) -> PilotReport:
    cache = ResponseCache(options.output_dir)
    projects = [plan_project(path, catalog, settings, env, options, cache) for path in files]
    keys = [settings.pilot_gateway_key, *(c.route.endpoint.key for p in projects for c in p.candidates if c.route),
            *(p.judge.endpoint.key for p in projects if p.judge)]
    estimate = sum(p.estimate_usd for p in projects if p.ready)
    report = PilotReport(projects, options.dry_run, options.max_usd, estimate, named=options.named)

    def tell(line: str) -> None:  # no key, and no terminal escape or bidi control from a file's text
        line = display_name(redact(line, *keys))
        report.lines.append(line)
        say(line)

    for project in projects:
        if options.named or not project.skipped:  # a folder's files without a pilot section are not news
            _describe_plan(project, tell)
    calls = sum(c.new_calls + c.judge_calls for p in projects if p.ready for c in p.candidates if c.route)
    if options.max_usd is not None and estimate > options.max_usd:
        report.refused = (f"the estimate, ~${estimate:.4f} for {calls} call(s), is over --max-usd {options.max_usd:g}; "
                          "nothing was called (pilot fewer examples or candidates, or raise --max-usd)")
        tell(f"stopped: {report.refused}")
        return report
    if options.dry_run:
        tell(f"dry run: {calls} call(s) to make, ~${estimate:.4f} estimated (tokens ~ characters / 4); nothing was "
             "called")
        return report
    budget = Budget(options.max_usd)
    _run_async(_execute([p for p in projects if p.ready], settings, cache, budget, tell))
    report.spent_usd = budget.spent
    for project in projects:
        if project.ready:
            _store(project, options.output_dir, tell)
    tell(f"spent ~${budget.spent:.4f} on {calls} call(s) planned")
    return report


def _run_async(work) -> None:
    """asyncio.run, or in a thread of its own when this thread already runs an event loop (a flow
    run may): the calls never share a loop they did not start."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(work)
        return
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, work).result()


def _describe_plan(project: ProjectPlan, tell: Say) -> None:
    if project.problems:
        tell(f"rejected {project.file}:")
        for problem in project.problems:
            tell(f"  {problem}")
    elif project.error:
        tell(f"{project.file}: {project.error}")
    else:
        examples = project.examples
        assert examples is not None
        tell(f"{project.file}: {project.project_id}: {len(examples.examples)} examples in {examples.label} "
             f"(sha256 {examples.sha256[:12]})")
        for candidate in project.candidates:
            tell(f"  {candidate.describe()}")


class _Calls:
    """The shared machinery of one execution: the client, one semaphore per provider, the cache, the budget."""

    def __init__(self, client: httpx.AsyncClient, settings: Settings, cache: ResponseCache, budget: Budget):
        self.client, self.settings, self.cache, self.budget = client, settings, cache, budget
        self.slots: dict[str, asyncio.Semaphore] = {}
        self.measured: dict[tuple[str, str], tuple[float, int]] = {}  # (endpoint, model) -> (spent, answers)

    def expected_cost(self, route: Route, request: Request) -> float:
        """What to reserve for a call: its estimate, or what this offer's answers have cost on average
        when that is more (token estimates can be far off: a long system prompt, a verbose model)."""
        spent, count = self.measured.get((route.endpoint.base_url, route.called_as), (0.0, 0))
        return max(estimated_cost(route, request), spent / count if count else 0.0)

    def record_cost(self, route: Route, cost: float | None) -> None:
        if cost is not None:
            spent, count = self.measured.get((route.endpoint.base_url, route.called_as), (0.0, 0))
            self.measured[(route.endpoint.base_url, route.called_as)] = (spent + cost, count + 1)

    async def answer(self, route: Route, request: Request, stopped: Callable[[], bool]) -> Answer | None:
        """The cached answer, or a new one (None when the candidate stopped while this waited)."""
        key = cache_key(route.endpoint.base_url, route.called_as, request.kind, request.body)
        record = self.cache.get(key)
        if record is not None:
            return Answer.from_record(record)
        slot = self.slots.setdefault(route.provider, asyncio.Semaphore(self.settings.pilot_concurrency))
        async with slot:
            if stopped():
                return None
            estimate = self.expected_cost(route, request)
            self.budget.reserve(estimate)
            try:
                answer = await call(self.client, route, request, timeout=self.settings.pilot_timeout_seconds,
                                    retries=self.settings.pilot_retries, backoff=self.settings.pilot_backoff_seconds)
            except CallFailed as exc:
                if exc.maybe_billed:  # a timeout or a malformed answer: count the estimate
                    self.budget.settle(estimate, None)
                else:  # refused, rate limited or unreachable: nothing to pay
                    self.budget.release(estimate)
                raise
            cost, _ = request_cost(route, request.kind, answer.input_tokens, answer.output_tokens)
            self.budget.settle(estimate, cost)
            self.record_cost(route, cost)
        # after the provider's slot is free, in a thread: writing a file must not hold up the calls
        record = {**answer.record(), "endpoint": route.endpoint.base_url, "model": route.called_as, "kind": request.kind}
        await asyncio.to_thread(self.cache.put, key, record)
        return answer


async def _execute(projects: list[ProjectPlan], settings: Settings, cache: ResponseCache, budget: Budget,
                   tell: Say) -> None:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(settings.pilot_timeout_seconds)) as client:
        calls = _Calls(client, settings, cache, budget)
        runs = [_run_candidate(project, plan, calls, tell) for project in projects for plan in project.candidates
                if plan.route is not None]
        await asyncio.gather(*runs)


async def _run_candidate(project: ProjectPlan, plan: CandidatePlan, calls: _Calls, tell: Say) -> None:
    route, judge = plan.route, project.judge
    assert route is not None and project.examples is not None
    answers: dict[int, Answer] = {}
    judged: dict[int, int] = {}
    failures: list[tuple[int, str, bool]] = []  # (line, cause, budget)

    async def one(request: Request) -> None:
        line = request.example.line
        try:
            answer = await calls.answer(route, request, lambda: bool(failures))
            if answer is None:
                return
            answers[line] = answer
            if judge is not None and request.example.rubric:
                rating = await calls.answer(judge, judge_request(request.example, answer.text or ""),
                                            lambda: bool(failures))
                if rating is None:
                    return
                score = judge_score(rating.text or "")
                if score is None:
                    raise CallFailed(f"the judge {judge.called_as} answered {len(rating.text or '')} characters, "
                                     "not a rating from 1 to 5")
                judged[line] = score
        except CallFailed as exc:
            failures.append((line, str(exc), False))
        except BudgetExceeded as exc:
            failures.append((line, str(exc), True))

    await asyncio.gather(*(one(r) for r in plan.requests))
    total = len(plan.requests)
    where = f"{plan.candidate.key} as {route.called_as} at {route.endpoint.host}"
    if failures:
        lines = sorted(line for line, _, _ in failures)
        shown = ", ".join(map(str, lines[:5])) + (f" and {len(lines) - 5} more" if len(lines) > 5 else "")
        first = min(failures)
        plan.status = "stopped" if first[2] else "failed"
        plan.message = (f"{where}: {first[1]} (line {shown} of {project.examples.label}); {len(answers)} of "
                        f"{total} examples answered; nothing stored for it")
        tell(f"{'stopped' if first[2] else 'failed'}: {plan.message}")
        return
    # in a thread: a thousand bootstrap resamples per metric must not stall the calls still in flight
    ran = replace(project.examples, examples=tuple(r.example for r in plan.requests))
    metrics, notes = await asyncio.to_thread(measure, ran, answers, judged,
                                             f"{judge.candidate.key}={judge.called_as}" if judge else None)
    plan.result = _result(project, plan, route, answers, metrics, plan.notes + notes)
    plan.status = "measured"
    summary = ", ".join(f"{m.task} {m.metric} {m.value:.3g} [{m.ci_low:.3g}, {m.ci_high:.3g}]" for m in metrics)
    tell(f"measured: {where}: {summary}; latency p50 {plan.result.latency_p50_s:.2f} s")


def _result(project: ProjectPlan, plan: CandidatePlan, route: Route, answers: dict[int, Answer], metrics,
            notes: list[str]) -> PilotResult:
    latencies = [a.latency_s for a in answers.values()]
    costs = [request_cost(route, r.kind, answers[r.example.line].input_tokens, answers[r.example.line].output_tokens)
             for r in plan.requests]
    known = [c for c, _ in costs if c is not None]
    per_request = sum(known) / len(known) if known and len(known) == len(costs) else None
    source = costs[0][1] if per_request is not None else "unknown"
    if per_request is None and route.candidate.deployment.is_api:
        notes = notes + ["cost per request unknown: the endpoint returned no token counts, or the offer has no price"]
    examples = project.examples
    assert examples is not None and project.project_id is not None
    return PilotResult(
        measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        model=route.candidate.model.id, deployment=route.candidate.deployment.id,
        route=route.candidate.deployment.route or ("api" if route.candidate.deployment.is_api else "self-hosted"),
        provider=route.provider, role=plan.candidate.role, endpoint=route.endpoint.base_url, via=route.endpoint.via,
        called_as=route.called_as, examples_file=examples.label, examples_sha256=examples.sha256, n=len(answers),
        metrics=tuple(metrics), latency_p50_s=percentile(latencies, 50), latency_p95_s=percentile(latencies, 95),
        cost_per_request_usd=per_request, cost_source=source, notes=tuple(notes))


def _store(project: ProjectPlan, output_dir: Path, tell: Say) -> None:
    measured = [c.result for c in project.candidates if c.status == "measured" and c.result is not None]
    if not measured or project.examples is None or project.project_id is None:
        return
    project.results_path = store_results(state_dir(output_dir), project.project_id, project.examples.label,
                                         project.examples.sha256, measured)
    tell(f"{project.project_id}: {len(measured)} result(s) stored in {project.results_path}")
