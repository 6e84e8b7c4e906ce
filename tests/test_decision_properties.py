"""Properties of the decision, each checked on 400 generated schema-valid requirement files.

Inputs are built from tests/helpers.py `requirements()` with values drawn from the requirement
schema's own enums and ranges; each is run against the shipped catalog and the small fixture catalog
of test_decision (so the properties hold for the engine, whatever the shipped data says).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from modelmemo.memo.document import RunContext, build_memo, make_memo
from modelmemo.inputs.requirements import FACTORS, Requirements
from modelmemo.decision import decide
from modelmemo.inputs.validation import REQUIREMENTS_SCHEMA

from .conftest import CATALOG
from .helpers import requirements
from .test_decision import fixture_catalog

SCHEMA = json.loads(REQUIREMENTS_SCHEMA.read_text())
PROPS = SCHEMA["properties"]
TASKS = PROPS["needs"]["properties"]["tasks"]["items"]["enum"]
CUSTOMIZATION = PROPS["needs"]["properties"]["customization"]["enum"]
EXPERTISE = PROPS["support"]["properties"]["ml_expertise"]["enum"]  # none, basic, strong
SENSITIVITY = PROPS["security"]["properties"]["data_sensitivity"]["enum"]
GROWTH = PROPS["long_term"]["properties"]["growth"]["enum"]
LOCK_IN = PROPS["long_term"]["properties"]["lock_in_tolerance"]["enum"]
LANGUAGES = ["en", "es", "fr", "de", "ja", "zh", "ar", "sw"]
EXPERTISE_ORDER = ("none", "basic", "strong")
assert set(EXPERTISE) == set(EXPERTISE_ORDER)

PROPERTY = settings(max_examples=400, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
CTX = RunContext("run-a", "2026-11-29T00:00:00+00:00", "x.yaml", "0" * 64)


@functools.cache
def catalogs():
    from modelmemo.catalog.load import load_catalog

    return (load_catalog([CATALOG]), fixture_catalog(Path(tempfile.mkdtemp(prefix="modelmemo-properties-"))))


weight = st.one_of(st.integers(0, 10).map(float), st.floats(0, 10, allow_nan=False).map(lambda w: round(w, 2)))
weights = st.one_of(st.none(), st.fixed_dictionaries({f: weight for f in FACTORS}).filter(lambda w: any(w.values())))
volume = st.one_of(
    st.none(),
    st.fixed_dictionaries({}, optional={
        "requests_per_month": st.sampled_from([0, 1000, 50_000, 200_000, 2_000_000]),
        "tokens_per_request": st.sampled_from([0, 300, 1200, 5000, 20_000, 200_000]),
        "images_per_month": st.sampled_from([0, 100, 20_000]),
    }),
)


@st.composite
def requirement_data(draw):
    overrides = {
        "needs.tasks": draw(st.lists(st.sampled_from(TASKS), min_size=1, max_size=4, unique=True)),
        "needs.languages": draw(st.lists(st.sampled_from(LANGUAGES), max_size=3, unique=True)),
        "needs.customization": draw(st.sampled_from(CUSTOMIZATION)),
        "budget.monthly_usd": draw(st.sampled_from([0, 20, 300, 1500, 5000, 20_000, 250_000])),
        "budget.volume": draw(volume),
        "support.ml_expertise": draw(st.sampled_from(EXPERTISE)),
        "support.vendor_sla_required": draw(st.booleans()),
        "security.data_sensitivity": draw(st.sampled_from(SENSITIVITY)),
        "security.on_premises_only": draw(st.booleans()),
        "security.transparency_required": draw(st.booleans()),
        "long_term.growth": draw(st.sampled_from(GROWTH)),
        "long_term.lock_in_tolerance": draw(st.sampled_from(LOCK_IN)),
    }
    data = requirements(**overrides)
    if data["budget"]["volume"] is None:
        del data["budget"]["volume"]
    chosen = draw(weights)
    if chosen is not None:
        data["weights"] = chosen
    return data


def check_schema_valid(data):
    from jsonschema import Draft202012Validator

    errors = list(Draft202012Validator(SCHEMA).iter_errors(data))
    assert not errors, [e.message for e in errors]


def candidates(decision):
    return {(s.model_id, s.deployment_id, s.tasks): s for s in decision.candidates}


@PROPERTY
@given(data=requirement_data(), which=st.sampled_from([0, 1]), more=st.sampled_from([1, 50, 500, 5000, 100_000]))
def test_more_budget_never_lowers_any_candidates_total(data, which, more):
    check_schema_valid(data)
    catalog = catalogs()[which]
    req = Requirements.from_data(data)
    before = candidates(decide(req, catalog))
    after = candidates(decide(dataclasses.replace(req, monthly_usd=req.monthly_usd + more), catalog))
    assert set(before) == set(after)
    for key, score in before.items():
        assert after[key].total >= score.total - 1e-9, (key, score.total, after[key].total)
        assert after[key].factors["budget"].score >= score.factors["budget"].score


@PROPERTY
@given(data=requirement_data(), which=st.sampled_from([0, 1]), step=st.sampled_from([1, 2]))
def test_more_ml_expertise_never_lowers_a_self_hosted_candidates_support_score(data, which, step):
    catalog = catalogs()[which]
    req = Requirements.from_data(data)
    level = EXPERTISE_ORDER.index(req.ml_expertise)
    assume(level < len(EXPERTISE_ORDER) - 1)
    higher = EXPERTISE_ORDER[min(level + step, len(EXPERTISE_ORDER) - 1)]
    before = candidates(decide(req, catalog))
    after = candidates(decide(dataclasses.replace(req, ml_expertise=higher), catalog))
    for key, score in before.items():
        if score.deployment.kind != "self-hosted" or key not in after:
            continue
        assert after[key].factors["support"].score >= score.factors["support"].score, key


@PROPERTY
@given(data=requirement_data(), which=st.sampled_from([0, 1]), factor_pick=st.integers(0, 4),
       raise_by=st.sampled_from([0.01, 0.5, 1, 3, 10]))
def test_raising_a_weight_where_the_pick_is_best_never_dethrones_it_nor_creates_a_tie(data, which, factor_pick,
                                                                                     raise_by):
    """"Best" on a factor: the pick's whole interval on it is at or above every other candidate's.
    Raising that weight can only widen the pick's lead in every draw, so a clear pick (one that
    beats every other option head-to-head in at least TIE_PROBABILITY of draws: not tied, and not
    a coin flip among unmeasured options, which are never reported as ties) stays the pick and gains
    no tie."""
    from modelmemo.decision.policy import policy

    catalog = catalogs()[which]
    req = Requirements.from_data(data)
    decision = decide(req, catalog)
    assume(decision.pick is not None and not decision.tied and decision.verdict != "budget-infeasible")
    assume(all(p >= policy("TIE_PROBABILITY") for p in (decision.head_to_head or {}).values()))
    pick = decision.pick
    best_on = [f for f in FACTORS if all(pick.factors[f].interval[0] >= s.factors[f].interval[1]
                                         for s in decision.candidates if s.model_id != pick.model_id)]
    assume(best_on)
    factor = best_on[factor_pick % len(best_on)]
    raised = dataclasses.replace(req, weights={**req.weights, factor: req.weights[factor] + raise_by})
    after = decide(raised, catalog)
    assert after.recommended == pick.model_id, (factor, decision.head_to_head, after.head_to_head)
    assert not after.tied, factor


@PROPERTY
@given(data=requirement_data(), which=st.sampled_from([0, 1]), drop=st.integers(0, 3))
def test_removing_a_task_never_adds_an_exclusion_reason(data, which, drop):
    """Fewer tasks can only lift hard constraints: no model gains a reason it cannot serve the whole
    project, and no model gains a constraint among its reasons (the words of the missing-task reason
    shrink with the tasks). (A model that served only the dropped task in a combination is no longer
    used, which is not a new reason.)"""
    from modelmemo.decision.decide import canonical, exclusions

    catalog = catalogs()[which]
    req = canonical(Requirements.from_data(data))
    assume(len(req.tasks) > 1)
    fewer = dataclasses.replace(req, tasks=tuple(t for i, t in enumerate(req.tasks) if i != drop % len(req.tasks)))
    before, after = exclusions(req, catalog)[0], exclusions(fewer, catalog)[0]
    for model_id, reasons in after.items():
        assert model_id in before, (model_id, reasons)
        assert {r.constraint for r in reasons} <= {r.constraint for r in before[model_id]}, model_id
        kept = {str(r) for r in before[model_id]}
        assert all(str(r) in kept for r in reasons if r.constraint != "needs.tasks"), model_id


@PROPERTY
@given(data=requirement_data(), which=st.sampled_from([0, 1]))
def test_p_best_sums_to_one_and_every_interval_holds_its_total(data, which):
    catalog = catalogs()[which]
    decision = decide(Requirements.from_data(data), catalog)
    if decision.combination:
        return  # one choice per task: each task's ranking sums to 1 on its own
    if not decision.candidates:
        assert decision.verdict == "no-eligible-model"
        return
    assert abs(sum(c.p_best for c in decision.candidates) - 1) < 1e-3
    for c in decision.candidates:
        low, high = c.interval
        assert low - 1e-9 <= c.total <= high + 1e-9
        assert all(0 <= c.factors[f].interval[0] <= c.factors[f].score <= c.factors[f].interval[1] <= 100
                   for f in FACTORS)


def _without(memo, *keys):
    return {k: v for k, v in memo.items() if k not in keys}


@PROPERTY
@given(data=requirement_data(), which=st.sampled_from([0, 1]), seed=st.randoms(use_true_random=False))
def test_tasks_and_languages_order_never_matters(data, which, seed):
    catalog = catalogs()[which]
    shuffled = json.loads(json.dumps(data))
    seed.shuffle(shuffled["needs"]["tasks"])
    seed.shuffle(shuffled["needs"]["languages"])
    first = build_memo(Requirements.from_data(data), decide(Requirements.from_data(data), catalog), catalog, CTX)
    req = Requirements.from_data(shuffled)
    second = make_memo(req, catalog, CTX)[0]
    # The recap repeats the file as written; everything decided or said about the decision is the same.
    assert _without(first, "requirements") == _without(second, "requirements")


@PROPERTY
@given(data=requirement_data(), which=st.sampled_from([0, 1]))
def test_identical_input_gives_an_identical_memo(data, which):
    catalog = catalogs()[which]
    req_a = Requirements.from_data(data)
    req_b = Requirements.from_data(json.loads(json.dumps(data)))
    first = make_memo(req_a, catalog, CTX)[0]
    second = make_memo(req_b, catalog, RunContext("run-b", "2026-12-01T09:30:00+00:00", "x.yaml", "0" * 64))[0]
    assert json.dumps(_without(first, "run_id", "generated_at"), sort_keys=True) == \
        json.dumps(_without(second, "run_id", "generated_at"), sort_keys=True)
    assert "-0.0" not in json.dumps(first)
