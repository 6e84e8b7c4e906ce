"""Scoring scenarios a reviewer can judge: each states a project and the decision it must get."""

from __future__ import annotations

import pytest

from modelmemo.requirements import Requirements
from modelmemo.scoring import decide

from .helpers import requirements

CLOSED_API_MODELS = ("chatgpt", "claude", "gemini", "cohere")


def decision_for(catalog, **overrides):
    return decide(Requirements.from_data(requirements(**overrides)), catalog)


def test_on_premises_regulated_strong_team_gets_an_open_model(catalog):
    """On-premises, regulated data, strong ML team -> open-source model; API-only models excluded."""
    d = decision_for(catalog, **{
        "needs.tasks": ["text-generation"], "security.on_premises_only": True,
        "security.data_sensitivity": "regulated", "support.ml_expertise": "strong",
    })
    assert d.verdict == "open-source"
    assert catalog.models[d.recommended].is_open
    assert d.scores[d.recommended].deployment.kind == "self-hosted"
    for model_id in CLOSED_API_MODELS:
        assert model_id not in d.scores
        assert any("on-premises only" in reason for reason in d.excluded[model_id]), d.excluded[model_id]


def test_on_premises_excludes_api_only_models_even_when_they_would_win(catalog):
    """Same chat project: without the constraint a closed API wins; with it, no API model is eligible."""
    free = decision_for(catalog, **{"support.ml_expertise": "none", "support.vendor_sla_required": True})
    assert free.verdict == "closed-source"
    locked = decision_for(catalog, **{"support.ml_expertise": "none", "support.vendor_sla_required": True,
                                      "security.on_premises_only": True})
    assert free.recommended not in locked.scores
    assert all(s.deployment.kind == "self-hosted" for s in locked.scores.values())


def test_bard_is_never_recommended_and_the_memo_says_why(catalog):
    """A plain chat project, the one task Bard covers: Bard is excluded as retired, Gemini is named."""
    d = decision_for(catalog, **{"needs.tasks": ["chat"], "support.ml_expertise": "none"})
    assert "bard" not in d.scores and "bard" not in d.recommended_ids
    assert any("retired" in r and "gemini" in r for r in d.excluded["bard"])
    assert any("Bard" in note and "Gemini" in note for note in d.notes)


@pytest.mark.parametrize("weights", [
    {"requirements": 10, "budget": 0, "support": 0, "security": 0, "long_term": 0},
    {"requirements": 0, "budget": 10, "support": 0, "security": 0, "long_term": 0},
    {"requirements": 0, "budget": 0, "support": 10, "security": 0, "long_term": 0},
    {"requirements": 0, "budget": 0, "support": 0, "security": 10, "long_term": 0},
    {"requirements": 0, "budget": 0, "support": 0, "security": 0, "long_term": 10},
])
def test_bard_is_never_recommended_whatever_the_weights(catalog, weights):
    d = decision_for(catalog, **{"needs.tasks": ["chat"], "weights": weights})
    assert "bard" not in d.recommended_ids and "bard" not in d.scores


def test_image_generation_only_gets_stable_diffusion(catalog):
    """Marketing images: only Stable Diffusion generates images; text models are excluded for the task."""
    d = decision_for(catalog, **{"needs.tasks": ["image-generation"],
                                 "budget.volume": {"images_per_month": 1000}, "budget.monthly_usd": 5000})
    assert d.recommended == "stable-diffusion"
    assert d.verdict == "open-source"
    assert any("image-generation" in r for r in d.excluded["claude"])


def test_translation_with_full_control_and_strong_team_gets_opennmt(catalog):
    """Domain translation, full control of weights, on-premises, strong team -> OpenNMT (a toolkit you train)."""
    d = decision_for(catalog, **{"needs.tasks": ["translation"], "needs.customization": "full-control",
                                 "support.ml_expertise": "strong", "security.on_premises_only": True,
                                 "budget.monthly_usd": 10000})
    assert d.recommended == "opennmt" and d.verdict == "open-source"


def test_translation_without_ml_team_excludes_the_opennmt_toolkit(catalog):
    """No ML expertise: a toolkit you must train is excluded, a managed API translates instead."""
    d = decision_for(catalog, **{"needs.tasks": ["translation"], "support.ml_expertise": "none"})
    assert any("toolkit" in r for r in d.excluded["opennmt"])
    assert d.verdict == "closed-source" and d.recommended in CLOSED_API_MODELS


def test_support_bot_without_ml_team_needing_sla_goes_closed(catalog):
    """Tier-1 support chat: prompting, no ML team, SLA required, confidential data -> a closed API."""
    d = decision_for(catalog, **{"needs.tasks": ["chat", "summarization"], "support.ml_expertise": "none",
                                 "support.vendor_sla_required": True, "security.data_sensitivity": "confidential"})
    assert d.verdict == "closed-source"
    assert not catalog.models[d.recommended].is_open


@pytest.mark.parametrize("constraint", [
    {"security.transparency_required": True},
    {"needs.customization": "full-control"},
])
def test_transparency_or_full_control_exclude_every_closed_model(catalog, constraint):
    d = decision_for(catalog, **{"needs.tasks": ["chat"], **constraint})
    assert d.verdict == "open-source"
    for model_id in CLOSED_API_MODELS:
        assert model_id in d.excluded


def test_text_and_images_get_a_combination_with_stable_diffusion_for_images(catalog):
    """No single model writes copy and draws images: one model per task, and the memo says so."""
    d = decision_for(catalog, **{"needs.tasks": ["text-generation", "image-generation"],
                                 "budget.volume": {"requests_per_month": 1000, "tokens_per_request": 1000,
                                                   "images_per_month": 100}})
    assert d.recommended is None
    picks = {p.task: p.model_id for p in d.combination}
    assert picks["image-generation"] == "stable-diffusion"
    assert picks["text-generation"] != "stable-diffusion"
    assert set(d.recommended_ids) == set(picks.values())


def test_tiny_budget_flags_every_option_over_budget(catalog):
    """$20 a month for 600k long requests: everything is over budget, and the scores say so."""
    d = decision_for(catalog, **{"needs.tasks": ["text-generation"], "budget.monthly_usd": 20,
                                 "budget.volume": {"requests_per_month": 600000, "tokens_per_request": 1500}})
    assert d.scores and all(s.over_budget for s in d.scores.values())
    assert all(s.factors["budget"].score < 70 for s in d.scores.values())
    assert "over budget" in d.scores[d.recommended].factors["budget"].reason


def test_budget_weight_moves_the_pick_to_the_cheaper_model(catalog):
    """Heavily weighting budget never picks a model that costs more than the balanced pick."""
    base = {"needs.tasks": ["chat"], "budget.monthly_usd": 500,
            "budget.volume": {"requests_per_month": 100000, "tokens_per_request": 2000}}
    balanced = decision_for(catalog, **base)
    frugal = decision_for(catalog, **base, weights={"requirements": 0, "budget": 10, "support": 0,
                                                     "security": 0, "long_term": 0})
    cost = lambda d: d.scores[d.recommended].cost.planning_figure
    assert cost(frugal) <= cost(balanced)
    assert frugal.scores[frugal.recommended].factors["budget"].score == max(
        s.factors["budget"].score for s in frugal.scores.values())


def test_fine_tuning_needs_weights_or_a_vendor_offer(catalog):
    d = decision_for(catalog, **{"needs.tasks": ["chat"], "needs.customization": "fine-tuning"})
    for model_id, reasons in d.excluded.items():
        model = catalog.models[model_id]
        if any("fine-tuning" in r for r in reasons):
            assert not model.has_open_weights
            assert not any(dep.value("vendor_fine_tuning", "no") == "yes" for dep in model.deployments)
    for score in d.scores.values():
        assert score.model.has_open_weights or any(
            dep.value("vendor_fine_tuning", "no") == "yes" for dep in score.model.deployments)


def test_without_volume_api_cost_is_unknown_and_self_hosting_is_a_floor(catalog):
    d = decision_for(catalog, **{"needs.tasks": ["chat"], "budget.volume": None})
    for score in d.scores.values():
        if score.deployment.kind == "api":
            assert score.cost.low is None and score.cost.label() == "unknown"
        else:
            assert score.cost.low is not None and score.cost.high is None
            assert score.cost.label().startswith("at least")


def test_no_eligible_model_gives_an_empty_recommendation_not_a_crash(catalog):
    """On-premises embeddings: no open model documents embeddings, so nothing is recommended."""
    d = decision_for(catalog, **{"needs.tasks": ["embeddings"], "security.on_premises_only": True})
    assert d.recommended_ids == []
    assert set(d.excluded) == set(catalog.models)


def test_scoring_is_deterministic(catalog):
    data = requirements(**{"needs.tasks": ["chat", "code"]})
    first = decide(Requirements.from_data(data), catalog)
    second = decide(Requirements.from_data(data), catalog)
    assert [(m, s.total) for m, s in first.scores.items()] == [(m, s.total) for m, s in second.scores.items()]


def test_every_factor_reason_is_a_sentence_naming_its_facts(catalog):
    d = decision_for(catalog, **{"needs.tasks": ["chat"], "security.data_sensitivity": "confidential"})
    for score in d.scores.values():
        for factor, value in score.factors.items():
            assert 0 <= value.score <= 100
            assert value.reason.endswith(".") and len(value.reason) > 20, (factor, value.reason)
        assert score.model.vendor in score.factors["long_term"].reason or score.model.has_open_weights
