"""The decision engine against the practitioner's calibration table (tests/calibration_scenarios.py).

Each scenario states a project and the judgement a platform lead would sign, written from the catalog
facts, not from the engine's output. A failure prints the scenario's reasoning next to the engine's
pick, so a reviewer can tell an engine defect from a judgement to revisit.
"""

from __future__ import annotations

from typing import Any

import pytest

from modelmemo.decision import decide
from modelmemo.inputs.requirements import Requirements
from modelmemo.inputs.validation import schema_validator

from .calibration_scenarios import SCENARIOS, VERDICTS, Scenario
from .helpers import requirements

MIN_SCENARIOS = 20


def _picks(decision: Any, scenario: Scenario) -> list[str]:
    """The model ids the engine recommends: every part of a combination, else the single pick."""
    ids = list(getattr(decision, "recommended_ids", None) or [])
    single = getattr(decision, "recommended", None)
    if scenario.verdict == "mixed" or getattr(decision, "verdict", None) == "mixed" or single is None:
        return ids
    return [single]


def _engine_summary(decision: Any) -> str:
    fields = ("verdict", "recommended", "recommended_ids", "runner_up", "tied", "verdict_reason")
    lines = []
    for name in fields:
        try:
            value = getattr(decision, name)
        except AttributeError:
            continue
        if isinstance(value, tuple):
            value = list(value)
        lines.append(f"  engine {name}: {value!r}")
    return "\n".join(lines)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_engine_matches_calibration(scenario: Scenario, catalog) -> None:
    req = Requirements.from_data(requirements(**scenario.overrides))
    decision = decide(req, catalog)
    picks = _picks(decision, scenario)

    problems: list[str] = []
    if scenario.verdict is not None and decision.verdict != scenario.verdict:
        problems.append(f"verdict {decision.verdict!r}, expected {scenario.verdict!r}")
    if scenario.acceptable:
        if not picks:
            problems.append(f"no pick, expected one of {sorted(scenario.acceptable)}")
        for pick in picks:
            if pick not in scenario.acceptable:
                problems.append(f"pick {pick!r} is not among the acceptable {sorted(scenario.acceptable)}")
    for pick in picks:
        if pick in scenario.never:
            problems.append(f"pick {pick!r} must never be the pick here")

    assert not problems, (
        f"calibration scenario {scenario.name!r}: " + "; ".join(problems) + "\n"
        f"  why (practitioner): {scenario.why}\n"
        f"  expected verdict: {scenario.verdict!r}, acceptable: {sorted(scenario.acceptable)}, "
        f"never: {sorted(scenario.never)}\n"
        + _engine_summary(decision)
    )


def test_calibration_table_is_complete_and_points_at_the_catalog(catalog) -> None:
    """Enough scenarios, well formed, and every model id they name exists in the catalog: a renamed or
    removed model must fail here rather than make a scenario silently vacuous."""
    assert len(SCENARIOS) >= MIN_SCENARIOS, f"only {len(SCENARIOS)} calibration scenarios"
    names = [s.name for s in SCENARIOS]
    assert len(names) == len(set(names)), "scenario names must be unique"

    known = set(catalog.models)
    problems = []
    for s in SCENARIOS:
        unknown = sorted((s.acceptable | s.never) - known)
        if unknown:
            problems.append(f"{s.name}: unknown model id(s) {unknown}")
        if s.verdict is not None and s.verdict not in VERDICTS:
            problems.append(f"{s.name}: verdict {s.verdict!r} is not one of {VERDICTS}")
        if s.acceptable & s.never:
            problems.append(f"{s.name}: {sorted(s.acceptable & s.never)} both acceptable and never")
        if s.verdict == "no-eligible-model" and s.acceptable:
            problems.append(f"{s.name}: no eligible model, yet acceptable picks {sorted(s.acceptable)}")
        if s.verdict not in ("no-eligible-model", "budget-infeasible") and not s.acceptable:
            problems.append(f"{s.name}: a verdict with a pick needs acceptable ids")
        if not s.why.strip():
            problems.append(f"{s.name}: no reasoning")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_calibration_inputs_are_valid_requirement_files(scenario: Scenario) -> None:
    """A mistyped dotted path must not turn a scenario into a different project."""
    data = requirements(**scenario.overrides)
    errors = sorted(schema_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    assert not errors, f"{scenario.name}: " + "; ".join(
        f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors)
    Requirements.from_data(data)


def test_across_the_shipped_examples_and_the_scenarios_the_memos_commit(catalog) -> None:
    """Issue 22's bar, on the nine shipped examples and every calibration scenario (cloud, on
    premises, tiny budget, SLA required, EU residency, nothing fits): at most a quarter report a tie;
    no pick costs more than twice its budget without the budget-infeasible verdict; every required
    SLA or residency is met by the pick's route or named as blocking on page 1."""
    from modelmemo.decision.lifecycle import regions_of
    from modelmemo.inputs.loading import load_document
    from modelmemo.memo.digest import decision_digest
    from modelmemo.memo.document import RunContext, make_memo

    from .conftest import example_inputs

    reqs = [Requirements.from_data(load_document(p).data) for p in example_inputs()]
    reqs += [Requirements.from_data(requirements(**s.overrides)) for s in SCENARIOS]
    ties = 0
    for req in reqs:
        memo, decision = make_memo(req, catalog, RunContext("r", "2026-12-07T00:00:00+00:00", "x.yaml", "0" * 64))
        ties += decision.is_tie
        blocking = {f["key"] for f in decision_digest(memo)["flags"] if f["level"] == "blocking"}
        for model_id in decision.recommended_ids:
            pick = decision.scores[model_id]
            if pick.cost.low is not None and pick.cost.low > 2 * req.monthly_usd:
                assert decision.verdict == "budget-infeasible", (req.project_id, model_id, pick.cost.label())
            if req.vendor_sla_required and (not pick.deployment.is_api or pick.deployment.value("sla") != "yes"):
                assert "sla-unmet" in blocking, (req.project_id, model_id)
            if req.data_residency and pick.deployment.is_api:
                assert regions_of(pick.deployment.value("data_residency")) & set(req.data_residency), req.project_id
    assert ties <= len(reqs) / 4, f"{ties} ties in {len(reqs)} memos"
