"""Sensitivity analysis: how far one weight must move before the pick or the verdict changes.

The thresholds are exact (unrounded totals). `scoring.decide` ranks totals rounded to 0.1 and
breaks ties by model id, so near an exact threshold the memo's pick can switch a little early or
late. Where these tests re-run `decide`, they first check that the exact gap between the two
models at the probe is more than 0.1, which rounding cannot hide.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmemo import scoring
from modelmemo.requirements import FACTORS, Requirements
from modelmemo.sensitivity import analyse
from modelmemo.validation import validate_file

from .conftest import CATALOG, INPUTS
from .helpers import requirements

# A tight budget for a busy chatbot (200,000 requests of 1,200 tokens, $300/month) prices out the
# premium APIs: Cohere Command ($63/month) leads Mistral 7B ($60/month). Cohere covers the chat task
# fully (requirements 100 vs 85), Mistral scores better on security (82 vs 75); all else is equal.
CHAT_TIGHT_BUDGET = {"needs.tasks": ["chat"], "budget.monthly_usd": 300,
                     "budget.volume": {"requests_per_month": 200000, "tokens_per_request": 1200}}
# A closed model leads, an open one (Mistral) is the best of the other side.
CHAT_LOW_LOCK_IN = {"needs.tasks": ["chat"], "long_term.lock_in_tolerance": "low"}
# A busy text service (1.5M requests of 1,000 tokens) run by a strong team: per-token API prices
# ($6,000/month for ChatGPT) exceed the $5,000 budget, self-hosting does not. An open model leads,
# closed models follow.
TEXT_STRONG_TEAM = {"needs.tasks": ["text-generation"], "support.ml_expertise": "strong",
                    "security.data_sensitivity": "confidential", "budget.monthly_usd": 5000,
                    "budget.volume": {"requests_per_month": 1500000, "tokens_per_request": 1000},
                    "long_term.lock_in_tolerance": "low"}


def req_for(weights=None, **overrides) -> Requirements:
    data = requirements(**overrides)
    if weights is not None:
        data["weights"] = weights
    return Requirements.from_data(data)


def with_weight(req: Requirements, factor: str, value: float) -> Requirements:
    # Requirements.from_data does not validate, so any weight (above 10, fractional) is fine here.
    return dataclasses.replace(req, weights={**req.weights, factor: value})


def scores_of(model_score) -> dict[str, float]:
    return {f: model_score.factors[f].score for f in FACTORS}


def exact_totals(req: Requirements, catalog, decision, weights: dict[str, float]) -> dict[str, float]:
    """Test oracle: each model's best unrounded weighted mean over its eligible deployments."""
    totals: dict[str, float] = {}
    for model_id in decision.scores:
        model = catalog.models[model_id]
        for dep in model.deployments:
            if scoring.deployment_exclusions(dep, model, req):
                continue
            s = scores_of(scoring.score_deployment(model, dep, req, catalog, req.tasks))
            # Compared to 1e-10 like the module: equal totals must not differ by float noise.
            total = round(sum(weights[f] * s[f] for f in FACTORS) / sum(weights.values()), 10)
            totals[model_id] = max(totals.get(model_id, float("-inf")), total)
    return totals


def exact_ranking(req, catalog, decision, weights) -> list[str]:
    totals = exact_totals(req, catalog, decision, weights)
    return sorted(totals, key=lambda m: (-totals[m], m))


# --- thresholds computed by hand -------------------------------------------------------------


def test_top_pick_threshold_matches_the_closed_form_and_flips_decide(catalog):
    """Cohere vs Mistral on a tight budget; the requirements weight decides between them.

    Other weights are 0.3 so that 0.01 of requirements weight moves the totals by more than the 0.1
    the memo rounds to (checked below), and `decide` can confirm the exact threshold.
    """
    weights = {"requirements": 1.0, "budget": 0.3, "support": 0.3, "security": 0.3, "long_term": 0.3}
    req = req_for(weights, **CHAT_TIGHT_BUDGET)
    decision = scoring.decide(req, catalog)
    winner, challenger = decision.recommended, decision.runner_up
    assert (winner, challenger) == ("cohere", "mistral")
    s_i, s_j = scores_of(decision.scores[winner]), scores_of(decision.scores[challenger])

    f = "requirements"
    # A_k = sum over the other factors g of w_g * s_kg; totals are (A_k + x s_kf) / (B + x).
    a_i = 0.3 * s_i["budget"] + 0.3 * s_i["support"] + 0.3 * s_i["security"] + 0.3 * s_i["long_term"]
    a_j = 0.3 * s_j["budget"] + 0.3 * s_j["support"] + 0.3 * s_j["security"] + 0.3 * s_j["long_term"]
    assert s_j[f] != s_i[f]
    x_star = (a_i - a_j) / (s_j[f] - s_i[f])
    assert 0 <= x_star < weights[f]  # Cohere's fuller task coverage is what keeps it first: lowering flips

    report = analyse(req, catalog, decision)
    t = report.top_pick.for_factor(f)
    assert t.threshold == pytest.approx(x_star, abs=1e-6)
    assert t.direction == "less" and t.new_leader == challenger
    assert t.multiplier == pytest.approx(x_star / weights[f])

    b = 0.3 * 4
    for x in (x_star - 0.01, x_star + 0.01):  # rounding to 0.1 cannot hide the gap at these probes
        gap = abs((a_i + x * s_i[f]) - (a_j + x * s_j[f])) / (b + x)
        assert gap > 0.1
    assert scoring.decide(with_weight(req, f, x_star - 0.01), catalog).recommended == challenger
    assert scoring.decide(with_weight(req, f, x_star + 0.01), catalog).recommended == winner
    # Budget scores are equal for the pair (both well within budget), but at these weights caring less
    # about the budget lets a premium API that the budget priced out take the lead: a smaller move.
    budget = report.top_pick.for_factor("budget")
    assert budget.direction == "less" and not catalog.models[budget.new_leader].is_open
    assert budget.distance < t.distance and report.top_pick.smallest.factor == "budget"


def test_default_weights_tight_budget_thresholds_by_hand(catalog):
    """Same pair at the default weights (all 1). Requirements: x* = (330 - 337) / (85 - 100) = 7/15;
    security: x* = (355 - 340) / (82 - 75) = 15/7, i.e. about 2.1x the current weight."""
    req = req_for(**CHAT_TIGHT_BUDGET)
    decision = scoring.decide(req, catalog)
    s_i, s_j = scores_of(decision.scores["cohere"]), scores_of(decision.scores["mistral"])
    assert (s_i["requirements"], s_j["requirements"], s_i["security"], s_j["security"]) == (100, 85, 75, 82)
    report = analyse(req, catalog, decision)
    requirements_fit = report.top_pick.for_factor("requirements")
    assert (requirements_fit.threshold, requirements_fit.direction, requirements_fit.new_leader) == (
        pytest.approx(7 / 15), "less", "mistral")
    security = report.top_pick.for_factor("security")
    assert (security.threshold, security.direction, security.new_leader) == (pytest.approx(15 / 7), "more", "mistral")
    assert report.top_pick.sentence == ("Cohere Command stays first unless the Requirements fit weight falls below "
                                        "0.5 (from 1), when Mistral 7B would lead.")


def test_verdict_threshold_matches_the_closed_form_and_flips_the_verdict(catalog):
    """Closed-source leads; raising the long-term weight (lock-in matters) lets Mistral take over."""
    req = req_for(**CHAT_LOW_LOCK_IN)
    decision = scoring.decide(req, catalog)
    assert not catalog.models[decision.recommended].is_open
    closed, opened = decision.best_closed, decision.best_open
    s_i, s_j = scores_of(decision.scores[closed]), scores_of(decision.scores[opened])
    f = "long_term"
    others = [g for g in FACTORS if g != f]  # all weights are 1
    x_star = (sum(s_i[g] for g in others) - sum(s_j[g] for g in others)) / (s_j[f] - s_i[f])
    assert x_star > 1

    report = analyse(req, catalog, decision)
    t = report.verdict.for_factor(f)
    assert t.threshold == pytest.approx(x_star, abs=1e-6)
    assert t.direction == "more" and catalog.models[t.new_leader].is_open

    for x in (x_star - 0.1, x_star + 0.1):
        gap = abs(sum(s_i[g] - s_j[g] for g in others) + x * (s_i[f] - s_j[f])) / (len(others) + x)
        assert gap > 0.1
    before = scoring.decide(with_weight(req, f, x_star - 0.1), catalog)
    after = scoring.decide(with_weight(req, f, x_star + 0.1), catalog)
    assert not catalog.models[before.recommended].is_open
    assert catalog.models[after.recommended].is_open and after.recommended == t.new_leader
    assert report.verdict.smallest is not None
    assert report.verdict.sentence.startswith("The closed-source side stays ahead unless")


def test_verdict_for_an_open_winner(catalog):
    req = req_for(**TEXT_STRONG_TEAM)
    decision = scoring.decide(req, catalog)
    report = analyse(req, catalog, decision)
    assert catalog.models[decision.recommended].is_open
    smallest = report.verdict.smallest
    assert smallest is not None and not catalog.models[smallest.new_leader].is_open
    assert report.verdict.sentence.startswith("The open-source side stays ahead unless")


# --- no threshold, not applicable ------------------------------------------------------------


@pytest.mark.parametrize("overrides", [CHAT_TIGHT_BUDGET, CHAT_LOW_LOCK_IN, TEXT_STRONG_TEAM])
def test_no_threshold_means_no_weight_changes_the_pick(catalog, overrides):
    req = req_for(**overrides)
    decision = scoring.decide(req, catalog)
    report = analyse(req, catalog, decision)
    leader = decision.recommended
    for part, same in ((report.top_pick, lambda m: m == leader),
                       (report.verdict, lambda m: catalog.models[m].is_open == catalog.models[leader].is_open)):
        for t in part.by_factor:
            if t.threshold is not None:
                continue
            for x in (0.0, t.current * 0.001, t.current * 0.5, t.current * 2, t.current * 100, 1e6):
                weights = {**req.weights, t.factor: x}
                assert same(exact_ranking(req, catalog, decision, weights)[0]), (t.factor, x)
                if x in (t.current * 0.001, t.current * 100):
                    assert same(scoring.decide(with_weight(req, t.factor, x), catalog).recommended)


def test_a_dominant_winner_has_no_single_weight_change(catalog):
    """Three self-hosted models with identical scores: the order is by id whatever the weights."""
    req = req_for(**{"needs.tasks": ["text-generation"], "security.on_premises_only": True,
                     "security.data_sensitivity": "regulated", "support.ml_expertise": "strong"})
    report = analyse(req, catalog, scoring.decide(req, catalog))
    assert report.applicable
    assert all(t.threshold is None for t in report.top_pick.by_factor)
    assert report.top_pick.smallest is None
    assert report.top_pick.sentence.endswith("No single weight change makes another model first.")
    assert report.verdict is None  # only open-source models are eligible
    assert report.as_dict()["verdict"] is None


def test_combination_is_not_applicable(catalog):
    req = req_for(**{"needs.tasks": ["text-generation", "image-generation"],
                     "budget.volume": {"requests_per_month": 1000, "tokens_per_request": 1000,
                                       "images_per_month": 100}})
    decision = scoring.decide(req, catalog)
    assert decision.combination
    out = analyse(req, catalog, decision).as_dict()
    assert out["applicable"] is False and "combination" in out["reason_not_applicable"]
    assert out["top_pick"] is None and out["verdict"] is None


def test_single_eligible_model_is_not_applicable(catalog):
    req = req_for(**{"needs.tasks": ["image-generation"], "budget.volume": {"images_per_month": 1000},
                     "budget.monthly_usd": 5000})
    decision = scoring.decide(req, catalog)
    assert list(decision.scores) == ["stable-diffusion"]
    out = analyse(req, catalog, decision).as_dict()
    assert out["applicable"] is False and out["reason_not_applicable"].startswith("Only one model")


def test_near_tie_is_called_out(catalog):
    req = req_for(**{"needs.tasks": ["chat", "summarization"], "support.ml_expertise": "none",
                     "support.vendor_sla_required": True, "security.data_sensitivity": "confidential"})
    decision = scoring.decide(req, catalog)
    ranked = list(decision.scores.values())
    assert ranked[0].total - ranked[1].total <= scoring.TIE_MARGIN
    report = analyse(req, catalog, decision)
    assert report.near_tie and "a near-tie" in report.top_pick.sentence
    assert "any change of weights may reorder them" in report.top_pick.sentence
    clear_lead = req_for(**CHAT_TIGHT_BUDGET)  # 86.0 vs 84.4
    assert not analyse(clear_lead, catalog, scoring.decide(clear_lead, catalog)).near_tie


# --- the shipped inputs: shape, determinism, speed -------------------------------------------


def shipped():
    for path in sorted(INPUTS.iterdir()):
        if path.suffix in (".yaml", ".yml", ".json"):
            document, problems = validate_file(path)
            assert not problems, problems
            yield path.name, Requirements.from_data(document.data)


def test_shipped_inputs_are_deterministic_fast_and_serialisable(catalog):
    for name, req in shipped():
        decision = scoring.decide(req, catalog)
        first = analyse(req, catalog, decision).as_dict()
        assert analyse(req, catalog, decision).as_dict() == first, name
        assert json.loads(json.dumps(first)) == first
        assert set(first) == {"top_pick", "verdict", "near_tie", "applicable", "reason_not_applicable"}
        if first["applicable"]:
            assert [t["factor"] for t in first["top_pick"]["by_factor"]] == list(FACTORS)
            assert first["top_pick"]["sentence"].endswith(".")
        else:
            assert first["reason_not_applicable"].endswith(".")
        best = min(_timed(lambda: analyse(req, catalog, decision)) for _ in range(3))
        assert best < 0.05, (name, best)


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def test_support_chatbot_example(catalog):
    req = dict(shipped())["support-chatbot.yaml"]
    decision = scoring.decide(req, catalog)
    out = analyse(req, catalog, decision).as_dict()
    smallest = out["top_pick"]["smallest"]
    assert out["applicable"] and smallest is not None
    assert smallest["current"] == req.weights[smallest["factor"]]
    assert smallest["new_leader"] in decision.scores and smallest["new_leader"] != decision.recommended


# --- property: every reported threshold is where the pick changes ----------------------------

SCENARIOS = [CHAT_TIGHT_BUDGET, CHAT_LOW_LOCK_IN, TEXT_STRONG_TEAM]


@functools.cache
def _catalog():
    from modelmemo.catalog import load_catalog

    return load_catalog([CATALOG])


@settings(max_examples=30, deadline=None)
@given(scenario=st.sampled_from(range(len(SCENARIOS))),
       weights=st.fixed_dictionaries({f: st.floats(0.1, 10) for f in FACTORS}))
def test_every_threshold_verifies(scenario, weights):
    catalog = _catalog()  # not the fixture: hypothesis would print the whole catalog on failure
    req = req_for(weights, **SCENARIOS[scenario])
    decision = scoring.decide(req, catalog)
    report = analyse(req, catalog, decision)
    leader = exact_ranking(req, catalog, decision, req.weights)[0]
    openness = lambda m: catalog.models[m].is_open  # noqa: E731
    parts = [(report.top_pick, lambda m: m)]
    if report.verdict is not None:
        parts.append((report.verdict, openness))
    for part, label in parts:
        for t in part.by_factor:
            if t.threshold is None:
                continue
            sign = 1 if t.direction == "more" else -1
            assert t.current == req.weights[t.factor]
            assert sign * (t.threshold - t.current) >= 0
            beyond = max(0.0, t.threshold + sign * 1e-6)
            before = t.threshold - sign * 1e-6
            top_beyond = exact_ranking(req, catalog, decision, {**req.weights, t.factor: beyond})[0]
            assert label(top_beyond) != label(leader), t
            assert top_beyond == t.new_leader
            if abs(t.threshold - t.current) > 1e-6:
                assert label(exact_ranking(req, catalog, decision, {**req.weights, t.factor: before})[0]) \
                    == label(leader), t
                # And nothing changes anywhere between the current weight and the threshold.
                for k in range(1, 10):
                    x = t.current + (t.threshold - t.current) * k / 10
                    ranked = exact_ranking(req, catalog, decision, {**req.weights, t.factor: x})
                    assert label(ranked[0]) == label(leader), (t, x)
        smallest = part.smallest
        found = [t for t in part.by_factor if t.threshold is not None]
        if found:
            assert abs(smallest.threshold - smallest.current) == min(abs(t.threshold - t.current) for t in found)
        else:
            assert smallest is None


def test_a_weight_dropped_to_zero_that_only_ties_is_called_a_tie(catalog):
    """clinical-notes-onprem (on-premises, regulated): Llama 2 and GPT-J score the same on every factor
    but the budget, so with the budget weight at 0 they tie exactly and `decide` puts GPT-J first on
    the model-id tie-break. The memo must say that, not "no weight change" and not a plain "would lead"."""
    document, problems = validate_file(INPUTS / "clinical-notes-onprem.yaml")
    assert not problems
    req = Requirements.from_data(document.data)
    decision = scoring.decide(req, catalog)
    assert decision.recommended == "llama-2"
    report = analyse(req, catalog, decision)
    smallest = report.top_pick.smallest
    assert (smallest.factor, smallest.threshold, smallest.new_leader) == ("budget", 0.0, "gpt-j")
    at_zero = with_weight(req, "budget", 0.0)
    totals = exact_totals(at_zero, catalog, decision, at_zero.weights)
    assert totals["llama-2"] == totals["gpt-j"]
    assert scoring.decide(at_zero, catalog).recommended == "gpt-j"
    assert report.top_pick.sentence == ("Llama 2 stays first unless the Budget fit weight drops to 0 (from 1), when "
                                        "GPT-J-6B would tie with it and come first only by the alphabetical "
                                        "tie-break.")
