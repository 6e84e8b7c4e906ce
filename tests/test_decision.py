"""Scoring scenarios a reviewer can judge: each states a project and the decision it must get.

Scenarios run twice where the shipped catalog matters: on a small fixture catalog written to
tmp_path (the engine's behaviour, whatever the shipped data says), and on the shipped catalog
(docstrings say "shipped data"): those follow catalog/models.yaml and change when it does.
"""

from __future__ import annotations

import copy
import math

import pytest

from modelmemo.memo.document import RunContext, build_memo, make_memo
from modelmemo.inputs.requirements import Requirements
from modelmemo.decision import decide
from modelmemo.decision.quality import task_quality

from .helpers import requirements

CLOSED_API_MODELS = ("chatgpt", "claude", "gemini", "cohere")
CTX = RunContext("test-run", "2026-11-29T00:00:00+00:00", "x.yaml", "0" * 64)


def decision_for(catalog, **overrides):
    return decide(Requirements.from_data(requirements(**overrides)), catalog)


def memo_for(catalog, **overrides):
    req = Requirements.from_data(requirements(**overrides))
    return make_memo(req, catalog, CTX)[0]


# --- a small, fully controlled catalog (engine behaviour independent of the shipped data) ------

SRC = "fixture"


def _f(value, note=""):
    fact = {"value": value, "source": SRC}
    if note:
        fact["note"] = note
    return fact


def _model(name, vendor, openness, tasks, deployments, *, languages=("en",), context=8192, max_output=None,
           open_weights=None, lifecycle="active", quality=None, toolkit=False):
    facts = {
        "openness": _f(openness), "license": _f("Fixture licence"), "commercial_use": _f("Allowed."),
        "open_weights": _f(open_weights or ("yes" if openness == "open-source" else "no")),
        "tasks": _f(list(tasks)), "languages": _f(languages if languages == "any" else list(languages)),
        "context_tokens": _f(context), "parameters": _f("unknown"), "lifecycle": _f(lifecycle),
    }
    if max_output is not None:
        facts["max_output_tokens"] = _f(max_output)
    if toolkit:
        facts["is_toolkit"] = _f("yes")
    model = {"name": name, "vendor": vendor, "summary": f"{name} (test fixture).", "facts": facts,
             "deployments": deployments}
    if quality:
        model["quality"] = {task: dict(q, source=SRC) for task, q in quality.items()}
    return model


def _self_hosted(dep_id, gpu_hour, tps="unknown", images_per_hour=None):
    dep = {"id": dep_id, "kind": "self-hosted", "provider": "your infrastructure",
           "gpu_class": _f("fixture GPU"), "gpu_hour_usd": _f(gpu_hour), "tokens_per_second": _f(tps)}
    if images_per_hour is not None:
        dep["images_per_hour"] = _f(images_per_hour)
    return dep


def _api(dep_id, provider, *, inp=2.0, out=10.0, embedding=None, image=None):
    dep = {"id": dep_id, "kind": "api", "provider": provider, "input_usd_per_1m": _f(inp),
           "output_usd_per_1m": _f(out), "vendor_fine_tuning": _f("no"), "data_residency": _f(["United States"]),
           "trains_on_prompts": _f("no"), "retention": _f("30 days."), "soc2": _f("yes"), "hipaa_baa": _f("yes"),
           "sla": _f("yes"), "vendor_support": _f("yes")}
    if embedding is not None:
        dep["embedding_usd_per_1m"] = _f(embedding)
    if image is not None:
        dep["usd_per_image"] = _f(image)
    return dep


TEXT = ["chat", "text-generation", "summarization", "classification", "code"]
ARENA = lambda v, ci: {"value": v, "scale": "arena-text", "ci": ci}  # noqa: E731


def fixture_catalog_data() -> dict:
    """Two closed APIs that only a pilot can separate, open LLMs with short and long context and two
    self-hosted sizes, a translation toolkit, and an open image model."""
    return {
        "catalog_version": 1,
        "sources": {SRC: {"url": "https://example.org/fixture", "title": "Test fixture", "as_of": "2026-11-28"}},
        "quality_scales": {
            "arena-text": {"kind": "elo", "title": "Arena text", "source": SRC},
            "bench": {"kind": "percent", "title": "Bench", "source": SRC},
        },
        "assumptions": {
            "input_token_share": _f(0.75), "hours_per_month": _f(730),
            "ops_usd_per_month": {"strong": _f(1500), "basic": _f(4000), "none": _f(8000)},
        },
        "models": {
            "alpha-api": _model("Alpha", "Alpha Inc.", "closed-source", TEXT + ["embeddings", "image-generation"],
                                [_api("alpha-api", "Alpha", embedding=0.10, image=0.04)], context=1_000_000,
                                max_output=128_000, quality={t: ARENA(1402, 8) for t in TEXT}),
            "beta-api": _model("Beta", "Beta Inc.", "closed-source", TEXT,
                               [_api("beta-api", "Beta")], context=1_000_000, max_output=128_000,
                               quality={t: ARENA(1385, 10) for t in TEXT}),
            "open-llm": _model("Open LLM", "Open Lab", "open-source", TEXT,
                               # ids chosen so that id order would favour the expensive option
                               [_self_hosted("a-large-8x", 8.0), _self_hosted("b-small-1x", 1.0)],
                               context=32_768, quality={t: ARENA(1300, 8) for t in TEXT}),
            "short-llm": _model("Short LLM", "Old Lab", "open-source", ["chat", "text-generation", "summarization"],
                                [_self_hosted("one-gpu", 1.0)], context=4096, lifecycle="legacy",
                                quality={t: ARENA(1100, 9) for t in ("chat", "text-generation", "summarization")}),
            "mystery-llm": _model("Mystery LLM", "Unknown Lab", "open-source", ["chat", "text-generation"],
                                  [_self_hosted("one-gpu", 1.0)], context="unknown"),
            "toolkit": _model("NMT Toolkit", "NMT Project", "open-source", ["translation", "summarization"],
                              [_self_hosted("one-gpu", 1.0)], languages="any", context="unknown", toolkit=True),
            "image-open": _model("Open Diffusion", "Image Lab", "open-source", ["image-generation"],
                                 [_self_hosted("one-gpu", 1.5, images_per_hour="unknown")], context="unknown"),
        },
    }


def fixture_catalog(tmp_path, data=None):
    from modelmemo.catalog.load import load_catalog

    from .helpers import write_yaml

    return load_catalog([write_yaml(tmp_path / "fixture-catalog.yaml", data or fixture_catalog_data())])


@pytest.fixture
def fx(tmp_path):
    return fixture_catalog(tmp_path)


def test_on_premises_regulated_strong_team_gets_an_open_model(catalog):
    """On-premises, regulated data, strong ML team -> open-source model; API-only models excluded."""
    d = decision_for(catalog, **{
        "needs.tasks": ["text-generation"], "security.on_premises_only": True,
        "security.data_sensitivity": "regulated", "support.ml_expertise": "strong", "budget.monthly_usd": 6000,
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
    assert any(r.startswith("retired") and r.endswith(f"its successor is {d.scores['gemini'].model.name}")
               for r in d.excluded["bard"]), d.excluded["bard"]  # by name, not by catalog id
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


IMAGE_PROJECT = {"needs.tasks": ["image-generation"], "support.ml_expertise": "none",
                 "budget.volume": {"images_per_month": 1000}, "budget.monthly_usd": 5000}


def test_image_project_without_ml_team_has_closed_candidates_when_apis_allowed(fx):
    """Images, no ML team, APIs allowed: the vendor's image API is a candidate, priced per image."""
    d = decision_for(fx, **IMAGE_PROJECT)
    assert "alpha-api" in d.scores and "image-open" in d.scores
    assert d.recommended == "alpha-api"
    cost = d.scores["alpha-api"].cost
    assert cost.low == cost.high == pytest.approx(1000 * 0.04)
    assert any("per image" not in line and "images" in line for line in cost.lines)


def test_image_project_without_ml_team_has_closed_candidates_when_apis_allowed_shipped(catalog):
    """Shipped data: at least one closed vendor sells an image API, and it is a candidate."""
    d = decision_for(catalog, **IMAGE_PROJECT)
    closed = [m for m, s in d.scores.items() if not s.model.is_open]
    assert closed, d.excluded
    assert all(d.scores[m].deployment.is_api and d.scores[m].cost.known for m in closed)
    assert not catalog.models[d.recommended].is_open  # a team without ML skills gets a managed API


def test_translation_with_full_control_and_strong_team_gets_a_self_hosted_open_model(catalog):
    """Domain translation, full control of weights, on-premises, strong team -> an open model you
    host; OpenNMT (a toolkit you train) is a candidate, but multilingual open LLMs translate too."""
    d = decision_for(catalog, **{"needs.tasks": ["translation"], "needs.customization": "full-control",
                                 "support.ml_expertise": "strong", "security.on_premises_only": True,
                                 "budget.monthly_usd": 10000})
    assert d.verdict == "open-source" and "opennmt" in d.scores
    assert catalog.models[d.recommended].is_open and not d.scores[d.recommended].deployment.is_api


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
    d = decision_for(catalog, **{"needs.tasks": ["chat"], "budget.monthly_usd": 6000, **constraint})
    assert d.verdict == "open-source"
    for model_id in CLOSED_API_MODELS:
        assert model_id in d.excluded


def test_text_and_images_get_a_combination_when_no_single_model_covers_both(fx):
    """On premises, no self-hosted model writes copy and draws images: one model per task."""
    d = decision_for(fx, **{"needs.tasks": ["text-generation", "image-generation"], "security.on_premises_only": True,
                            "support.ml_expertise": "strong",
                            "budget.volume": {"requests_per_month": 1000, "tokens_per_request": 1000,
                                              "images_per_month": 100}})
    assert d.recommended is None
    picks = {p.task: p.model_id for p in d.combination}
    assert picks == {"text-generation": "open-llm", "image-generation": "image-open"}
    assert set(d.recommended_ids) == set(picks.values())
    assert {p.task: p.deployment_id for p in d.combination}["text-generation"] == "b-small-1x"


def test_text_and_images_on_premises_get_a_combination_shipped(catalog):
    """Shipped data: on premises, text and images come from two open models."""
    d = decision_for(catalog, **{"needs.tasks": ["text-generation", "image-generation"],
                                 "security.on_premises_only": True, "support.ml_expertise": "strong",
                                 "budget.volume": {"requests_per_month": 1000, "tokens_per_request": 1000,
                                                   "images_per_month": 100}})
    picks = {p.task: p.model_id for p in d.combination}
    assert set(picks) == {"text-generation", "image-generation"}
    assert picks["image-generation"] != picks["text-generation"]
    assert all(catalog.models[m].is_open for m in picks.values())


def test_tiny_budget_flags_every_option_over_budget(catalog):
    """$20 a month for 600k long requests: everything is over budget, and the scores say so."""
    d = decision_for(catalog, **{"needs.tasks": ["text-generation"], "budget.monthly_usd": 20,
                                 "budget.volume": {"requests_per_month": 600000, "tokens_per_request": 1500}})
    known = [s for s in d.scores.values() if s.cost.known]
    assert known and all(s.over_budget for s in known)
    # An offer whose price is unpublished (GPT-6.2 Sol on Azure) is never called within budget.
    assert all(s.over_budget is None and s.factors["budget"].reason.startswith("Cost unknown")
               for s in d.scores.values() if not s.cost.known)
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
            # no route to fine-tune: no vendor offer, and no open weights to self-host (a hosted
            # route cannot serve weights you fine-tuned yourself)
            assert not any(dep.value("vendor_fine_tuning", "no") == "yes" for dep in model.deployments)
            assert not model.has_open_weights or all(dep.is_api for dep in model.deployments)
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


def test_no_eligible_model_gives_an_empty_recommendation_not_a_crash(fx):
    """On-premises embeddings: no open model documents embeddings, so nothing is recommended."""
    catalog = fx
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


# --- issue 11: context, candidates, quality, ties ----------------------------------------------

LONG_REQUESTS = {"needs.tasks": ["chat"], "budget.monthly_usd": 5000,
                 "budget.volume": {"requests_per_month": 1000, "tokens_per_request": 20000}}


def test_long_requests_exclude_short_context_models(fx):
    """20,000-token requests do not fit a 4,096-token context: excluded with the numbers; a model whose
    context is unknown stays a candidate, with the risk stated."""
    d = decision_for(fx, **LONG_REQUESTS)
    assert d.excluded["short-llm"] == ["context 4,096 tokens < 20,000 tokens per request"]
    assert "open-llm" in d.scores  # 32,768 tokens fit
    mystery = d.scores["mystery-llm"]
    assert any("context window of Mystery LLM is not documented" in r for r in mystery.risks)
    short = decision_for(fx, **{**LONG_REQUESTS, "budget.volume": {"requests_per_month": 1000,
                                                                    "tokens_per_request": 4000}})
    assert "short-llm" in short.scores


def test_output_limit_excludes_when_the_output_share_does_not_fit(fx, tmp_path):
    data = fixture_catalog_data()
    data["models"]["beta-api"]["facts"]["max_output_tokens"] = {"value": 4096, "source": "fixture"}
    catalog = fixture_catalog(tmp_path, data)
    d = decision_for(catalog, **{**LONG_REQUESTS, "budget.volume": {"requests_per_month": 1000,
                                                                     "tokens_per_request": 40000}})
    assert d.excluded["beta-api"] == ["max output 4,096 tokens < 10,000 output tokens per request "
                                      "(the output share of 40,000)"]


def test_long_requests_exclude_short_context_models_shipped(catalog):
    """Shipped data: every model whose sourced context is below 20,000 tokens is excluded, saying so;
    every candidate's known context holds the request."""
    d = decision_for(catalog, **LONG_REQUESTS)
    for model in catalog.models.values():
        context = model.value("context_tokens")
        if isinstance(context, int) and context < 20000 and "chat" in model.tasks:
            assert f"context {context:,} tokens < 20,000 tokens per request" in d.excluded[model.id]
    for score in d.candidates:
        context = score.model.value("context_tokens")
        assert context == "unknown" or context >= 20000


def test_a_hosts_smaller_context_excludes_that_option_not_the_model_shipped(catalog):
    """200,000-token requests: Groq serves Llama 4 Scout with 131,072 tokens, so that option is out
    (its reason names the figure); Maverick on 8x H100 (~430K) stays a candidate; Scout INT4 on one
    H100 has no sourced context: a candidate with a stated risk, never the family's 1M."""
    from modelmemo.decision.candidates import model_candidates

    req = Requirements.from_data(requirements(**{"needs.tasks": ["chat"], "support.ml_expertise": "strong",
                                                 "budget.volume": {"requests_per_month": 1000,
                                                                   "tokens_per_request": 200000}}))
    model = catalog.models["llama-2"]
    candidates, reasons = model_candidates(model, req, catalog, ("chat",))
    options = {c.deployment_id: c for c in candidates}
    assert "groq-api-scout" not in options
    assert "context 131,072 tokens < 200,000 tokens per request" in reasons
    assert "self-hosted-maverick-8x-h100" in options and not options["self-hosted-maverick-8x-h100"].risks
    single = options["self-hosted-scout-1x-h100"]
    # The build's window is unknown: the risk says so beside the model's published window, never as if
    # the model had none.
    assert single.risks and single.risks[0].startswith("Llama 4 has a published context of")
    assert "this build (self-hosted on 1x NVIDIA H100 80GB" in single.risks[0]


def test_onprem_summarization_recommends_an_open_llm_not_a_translation_toolkit(fx):
    """On premises, summarization, strong team, prompting only: a toolkit you must train is no
    candidate at all; with fine-tuning it is eligible, but an open LLM still wins."""
    onprem = {"needs.tasks": ["summarization"], "security.on_premises_only": True,
              "support.ml_expertise": "strong", "budget.monthly_usd": 10000}
    d = decision_for(fx, **onprem)
    assert d.recommended == "open-llm" and "toolkit" not in d.scores
    assert any("prompting only" in reason for reason in d.excluded["toolkit"])
    tuned = decision_for(fx, **onprem, **{"needs.customization": "fine-tuning"})
    assert "toolkit" in tuned.scores and tuned.recommended == "open-llm"
    assert tuned.scores["open-llm"].total > tuned.scores["toolkit"].total


def test_onprem_summarization_recommends_an_open_llm_not_a_translation_toolkit_shipped(catalog):
    """Shipped data: on-premises summarization goes to a general open LLM, not OpenNMT."""
    d = decision_for(catalog, **{"needs.tasks": ["summarization"], "security.on_premises_only": True,
                                 "support.ml_expertise": "strong", "budget.monthly_usd": 10000})
    assert d.recommended != "opennmt" and "opennmt" not in d.tied
    assert catalog.models[d.recommended].is_open and not catalog.models[d.recommended].is_toolkit


def test_quality_normalisation_by_hand(fx):
    """Elo: 100 x 2 / (1 + 10^((top - v) / 400)); top = the highest upper end of a published
    interval, Alpha's 1402 + 8 for chat. Alpha: 97.7; Open LLM at 1300: 100 x 2 / (1 + 10^(110/400))
    = 69.4. Unknown evidence: 40, conservative, said in the reason."""
    assert task_quality(fx.models["alpha-api"], "chat", fx)[0] == round(200 / (1 + 10 ** (8 / 400)), 1) == 97.7
    score, text = task_quality(fx.models["open-llm"], "chat", fx)
    assert score == pytest.approx(round(200 / (1 + 10 ** (110 / 400)), 1)) == 69.4
    assert text == "chat: Arena text 1300 ±8, 3rd of 4 eligible (69.4)"
    score, text = task_quality(fx.models["mystery-llm"], "chat", fx)
    # Its interval runs from the conservative point (below every peer) to the best peer's 100.
    # Its interval runs from the lowest rated peer (Short LLM, 1100) to the top of the scale.
    assert (score, text) == (40, "no public quality evidence for chat: 40, conservative (could be 29-100)")


def test_quality_is_normalised_among_eligible_candidates_only(fx):
    """On premises, Alpha (the best rated, an API) is excluded: Open LLM is then the best eligible
    model on the scale and scores 100; an excluded model never reorders the eligible ones."""
    d = decision_for(fx, **{"needs.tasks": ["chat"], "security.on_premises_only": True,
                            "budget.monthly_usd": 100000})
    assert "alpha-api" in d.excluded
    quality = d.scores["open-llm"].evidence[0]
    assert quality.kind == "measured" and quality.score == round(200 / (1 + 10 ** (8 / 400)), 1)  # top of its own ±8


def test_quality_percent_scale_by_hand(tmp_path):
    data = fixture_catalog_data()
    for model_id, value in (("alpha-api", 80.0), ("beta-api", 60.0)):
        data["models"][model_id]["quality"]["code"] = {"value": value, "scale": "bench", "source": "fixture"}
    catalog = fixture_catalog(tmp_path, data)
    assert task_quality(catalog.models["beta-api"], "code", catalog)[0] == 75.0  # 100 x 60 / 80


def test_requirements_factor_is_fit_and_quality_by_the_policy_share(fx):
    from modelmemo.decision.policy import policy

    share = policy("QUALITY_SHARE")
    d = decision_for(fx, **{"needs.tasks": ["chat"]})
    reason = d.scores["open-llm"].factors["requirements"]
    assert reason.score == pytest.approx(round((1 - share) * 100 + share * 69.4, 1), abs=0.05)
    assert "Arena text 1300 ±8, 3rd of 4" in reason.reason
    assert f"{1 - share:.0%} fit + {share:.0%} quality" in reason.reason


def test_every_deployment_is_a_candidate_and_ties_go_to_the_cheaper_option(fx):
    """Both self-hosted sizes are candidates; at equal totals the cheaper one ranks first, even though
    its id sorts after the expensive one's."""
    d = decision_for(fx, **{"needs.tasks": ["chat"], "security.on_premises_only": True,
                            "weights": {"requirements": 1, "budget": 0, "support": 1, "security": 1, "long_term": 1}})
    options = [s for s in d.candidates if s.model_id == "open-llm"]
    assert [s.deployment_id for s in options] == ["b-small-1x", "a-large-8x"]
    assert options[0].total == options[1].total
    assert d.scores["open-llm"].deployment_id == "b-small-1x"


def twin_catalog(tmp_path):
    """Beta rated and priced exactly as Alpha: the evidence cannot separate them."""
    data = fixture_catalog_data()
    data["models"]["beta-api"]["quality"] = {t: dict(ARENA(1402, 8), source=SRC) for t in TEXT}
    return fixture_catalog(tmp_path, data)


def test_genuine_tie_is_shown_as_a_tie_on_page_1_and_in_json(tmp_path):
    """Alpha and Beta are rated and priced alike: a tie in `tied`, and on page 1 of the PDF, which
    says neither evidence nor cost prefers one (never an id-order winner)."""
    from modelmemo.memo.render import render_memo_html, render_pdf

    from .conftest import TEMPLATES
    from .helpers import pdf_text

    memo = memo_for(twin_catalog(tmp_path), **{"needs.tasks": ["chat"]})
    assert {memo["recommended"][0]["model"], *memo["tied"]} == {"alpha-api", "beta-api"}
    assert memo["tie_separation"]
    first = memo["recommended"][0]["model"]
    assert abs(memo["p_best"]["alpha-api"] - memo["p_best"]["beta-api"]) < 0.1
    pdf = tmp_path / "memo.pdf"
    pdf.write_bytes(render_pdf(render_memo_html(memo, TEMPLATES), TEMPLATES))
    page_1 = " ".join(pdf_text(pdf).split("\f")[0].split())
    other = "Beta" if first == "alpha-api" else "Alpha"
    name = "Alpha" if first == "alpha-api" else "Beta"
    assert f"Pilot both: {name} and {other} are level on evidence and cost" in page_1
    assert "Tie: " in page_1 and "Start with whichever your team can reach soonest" in " ".join(memo["notes"])
    from modelmemo.delivery.message import build_memo_email

    email = build_memo_email(memo, b"%PDF-1.4", "memo@example.com", ["a@example.com"], TEMPLATES)
    assert email["Subject"] == f"Test Project: Closed source — tie: {name} / {other}"
    body = email.get_body(("plain",)).get_content()
    assert "/100" not in body  # no single score for a tie


def test_a_clear_rating_gap_is_a_lead_not_a_tie(tmp_path):
    """Alpha 1402 ±8 vs Beta 1385 ±10 on the arena scale: their published intervals barely touch, so
    Alpha beats Beta in nearly every draw: a lead with Beta as the challenger. With intervals of ±60
    the evidence cannot separate them when the ratings are close too (1402 vs 1400): a tie."""
    weights = {"requirements": 3, "budget": 1, "support": 1, "security": 1, "long_term": 1}
    d = decision_for(fixture_catalog(tmp_path), **{"needs.tasks": ["chat"], "weights": weights})
    assert d.recommended == "alpha-api" and d.tied == () and d.runner_up == "beta-api"
    assert d.head_to_head["beta-api"] > 0.9
    data = fixture_catalog_data()
    for model_id, value in (("alpha-api", 1402), ("beta-api", 1400)):
        for evidence in data["models"][model_id]["quality"].values():
            evidence["ci"], evidence["value"] = 60, value
    wide = decision_for(fixture_catalog(tmp_path, data), **{"needs.tasks": ["chat"], "weights": weights})
    assert wide.recommended in ("alpha-api", "beta-api") and set(wide.tied) == {"alpha-api", "beta-api"} - {wide.recommended}
    assert 0.5 <= wide.head_to_head[wide.tied[0]] < 0.55


def test_at_most_two_challengers_and_a_second_needs_a_real_chance(tmp_path):
    """Two identical rated models behind a clear leader: the first is the challenger; the second is
    named only with P(best) of at least CHALLENGER_MIN_P."""
    from modelmemo.decision.policy import policy

    data = fixture_catalog_data()
    data["models"]["mystery-llm"]["quality"] = {"chat": dict(ARENA(1150, 9), source=SRC)}
    data["models"]["mystery-twin"] = copy.deepcopy(dict(data["models"]["mystery-llm"], name="Mystery Twin"))
    catalog = fixture_catalog(tmp_path, data)
    d = decision_for(catalog, **{"needs.tasks": ["chat"], "security.on_premises_only": True,
                                 "budget.monthly_usd": 100000})
    assert d.recommended == "open-llm" and not d.tied
    assert 1 <= len(d.challengers) <= 2
    assert all(d.model_p_best(m) >= policy("CHALLENGER_MIN_P") for m in d.challengers[1:])
    memo = build_memo(Requirements.from_data(requirements(**{"needs.tasks": ["chat"], "security.on_premises_only": True,
                                                             "budget.monthly_usd": 100000})), d, catalog, CTX)
    assert [c["model"] for c in memo["challengers"]] == list(d.challengers)
    assert set(memo["challengers"][0]) == {"task", "model", "deployment", "provider", "route"}


def test_floor_cost_is_never_within_budget(fx):
    """A self-hosted floor below the budget: over_budget None, never 'within budget'. Far below it,
    the reason says that even twice the floor stays under the budget; closer, that it may exceed it."""
    for budget, says in ((100000, "even twice it stays under the budget"), (6000, "may exceed the budget")):
        d = decision_for(fx, **{"needs.tasks": ["chat"], "budget.monthly_usd": budget,
                                "security.on_premises_only": True})
        score = next(c for c in d.candidates if c.model_id == "open-llm" and c.cost_is_floor)
        assert score.cost_is_floor and score.over_budget is None
        reason = score.factors["budget"].reason
        assert reason.startswith("At least $") and says in reason and "within budget" not in reason, (budget, reason)


def test_no_negative_zero_anywhere_in_a_memo(fx):
    memo = memo_for(fx, **{"needs.tasks": ["chat"], "budget.monthly_usd": 0,
                           "weights": {"requirements": 0, "budget": 0, "support": 1, "security": 0, "long_term": 0}})

    def walk(node):
        if isinstance(node, float):
            assert not (node == 0 and math.copysign(1, node) < 0)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(memo)
    import json
    assert "-0.0" not in json.dumps(memo) and "$-0" not in json.dumps(memo)


def test_memo_json_v3_shape(fx):
    memo = memo_for(fx, **{"needs.tasks": ["chat"], "budget.volume": {"requests_per_month": 1000,
                                                                      "tokens_per_request": 20000}})
    assert memo["memo_version"] == 3
    top = memo["recommended"][0]["model"]
    assert memo["recommended"] == [{"task": None, "model": top, "deployment": top,
                                    "provider": memo["scores"][top]["provider"], "route": "api"}]
    first = memo["ranking"][0]
    assert set(first) == {"model", "deployment", "total", "interval", "p_best", "factors", "factor_intervals",
                          "monthly_cost_usd", "cost_is_floor", "provider", "route", "lifecycle", "sla",
                          "data_residency", "evidence", "synced_from", "listed_as"}
    assert first["lifecycle"] == {"status": "active", "date": None, "successor": None}
    assert first["interval"][0] <= first["total"] <= first["interval"][1]
    assert sum(c["p_best"] for c in memo["ranking"]) == pytest.approx(1.0, abs=1e-3)
    assert {e["kind"] for c in memo["ranking"] for e in c["evidence"]} <= {"measured", "proxy", "prior", "pilot",
                                                                           "unknown"}
    assert [(c["model"], c["deployment"]) for c in memo["ranking"]].count(("open-llm", "a-large-8x")) == 1
    assert memo["excluded"]["short-llm"] == ["context 4,096 tokens < 20,000 tokens per request"]
    floor = next(c for c in memo["ranking"] if c["model"] == "open-llm")
    assert floor["cost_is_floor"] is True and floor["monthly_cost_usd"] > 0
    assert memo["verdict"] in ("open-source", "closed-source", "mixed", "budget-infeasible", "no-eligible-model")
    assert memo["budget_needed_usd"] is None and memo["relax"] == []


def test_memos_match_the_memo_schema_v3(catalog, fx, tmp_path):
    """Every shipped example (shipped data) and a tie on the fixture catalog validate against
    schemas/memo.schema.json, which downstream tools read."""
    import json

    from jsonschema import Draft202012Validator

    from modelmemo.inputs.validation import validate_file

    from .conftest import ROOT, example_inputs

    validator = Draft202012Validator(json.loads((ROOT / "schemas" / "memo.schema.json").read_text()))
    memos = [memo_for(fx, **{"needs.tasks": ["chat"]}), memo_for(twin_catalog(tmp_path), **{"needs.tasks": ["chat"]}),
             memo_for(fx, **{"needs.tasks": ["embeddings"], "security.on_premises_only": True}),
             memo_for(fx, **{"needs.tasks": ["chat"], "budget.monthly_usd": 1})]
    assert {m["verdict"] for m in memos[2:]} == {"no-eligible-model", "budget-infeasible"}
    for path in example_inputs():
        if path.suffix in (".yaml", ".yml", ".json"):
            document, _ = validate_file(path)
            req = Requirements.from_data(document.data)
            memos.append(make_memo(req, catalog, CTX)[0])
    for memo in memos:
        errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(json.loads(json.dumps(memo)))]
        assert not errors, (memo["project"]["id"], errors[:5])


# --- missing evidence never decides a pick ---------------------------------------------------


def newcomer_catalog(tmp_path, inp=2.0, out=10.0):
    data = fixture_catalog_data()
    data["models"]["new-api"] = _model("Newcomer", "New Inc.", "closed-source", TEXT,
                                       [_api("new-api", "New", inp=inp, out=out)], context=1_000_000,
                                       max_output=128_000)
    return fixture_catalog(tmp_path, data)


def test_missing_quality_evidence_is_a_risk_and_a_challenger_never_a_co_pick(tmp_path):
    """A new closed model with no published quality score, otherwise identical to a rated one. Its
    quality could be anywhere up to the best peer's, so it has a real chance of being best: it is
    named as a challenger with a note (what a pilot settles), never tied with the rated pick."""
    d = decision_for(newcomer_catalog(tmp_path, inp=1.0, out=5.0), **{"needs.tasks": ["chat"], "budget.monthly_usd": 60})
    assert d.recommended in ("alpha-api", "beta-api") and d.scores[d.recommended].measured
    assert "new-api" not in d.tied
    assert "new-api" in d.challengers and "new-api" in d.unmeasured_rivals
    new = d.scores["new-api"]
    assert new.unknown_quality == ("chat",) and new.interval[1] > d.scores[d.recommended].total
    note = next(n for n in d.notes if n.startswith("Unmeasured quality could change the pick:"))
    assert "Newcomer has no published quality score for chat" in note
    assert f"beats it in {d.head_to_head['new-api']:.0%} of draws" in note


def test_a_pick_without_quality_evidence_says_so_and_names_the_best_measured_option(tmp_path):
    """When the unrated model leads anyway (far cheaper), it is the pick, and page 1 says its quality
    is unmeasured and which measured option to pilot it against."""
    d = decision_for(newcomer_catalog(tmp_path, inp=0.01, out=0.02),
                     **{"needs.tasks": ["chat"], "budget.monthly_usd": 5, "weights": {"budget": 10}})
    assert d.recommended == "new-api"
    note = next(n for n in d.notes if n.startswith("Pick without quality evidence:"))
    measured = next(s for s in d.scores.values() if not s.unknown_quality)
    assert f"Pilot it against {measured.model.name}" in note


def test_a_lead_beyond_the_best_case_of_missing_evidence_stays_a_lead(tmp_path):
    """The same newcomer with a far higher price: even at the best quality score it stays behind, so
    the rated model is recommended, and the newcomer is neither tied nor a risk note."""
    d = decision_for(newcomer_catalog(tmp_path, inp=400.0, out=2000.0),
                     **{"needs.tasks": ["chat"], "budget.monthly_usd": 500})
    new = d.scores["new-api"]
    assert new.interval[1] < d.scores[d.recommended].interval[0]
    assert "new-api" not in d.tied and "new-api" not in d.unmeasured_rivals
    assert d.model_p_best("new-api") == 0


def test_an_unrated_model_of_the_other_side_is_a_risk_not_a_tie(tmp_path):
    """An unrated open model trailing a rated closed one only on the missing score: the verdict names
    the measured side, and the unrated model is a risk to pilot, not a tie."""
    data = fixture_catalog_data()
    data["models"] = {k: v for k, v in data["models"].items() if k in ("alpha-api", "mystery-llm")}
    d = decision_for(fixture_catalog(tmp_path, data),
                     **{"needs.tasks": ["chat"], "support.ml_expertise": "strong", "weights": {"budget": 0},
                        "budget.monthly_usd": 100000})
    assert d.recommended == "alpha-api" and d.tied == ()
    assert d.verdict == "closed-source"
    assert d.challengers == ("mystery-llm",) and not d.scores["mystery-llm"].measured


def test_unknown_vendor_facts_that_could_overturn_the_pick_are_named_with_who_settles_them(tmp_path):
    """Confidential data, SLA required: Beta has not published SOC 2, residency or SLA, which costs it
    the lead. The unknown that would change the ranking most is named, with how far it moves Beta's
    total and that the vendor's written answer settles it; the pick is not a tie."""
    data = fixture_catalog_data()
    for fact in ("soc2", "data_residency", "sla"):
        data["models"]["beta-api"]["deployments"][0][fact] = _f("unknown")
    data["models"]["beta-api"]["quality"] = {t: dict(ARENA(1402, 8), source=SRC) for t in TEXT}
    req = {"needs.tasks": ["chat"], "security.data_sensitivity": "confidential",
           "support.vendor_sla_required": True, "weights": {"security": 5}}
    d = decision_for(fixture_catalog(tmp_path, data), **req)
    assert d.recommended == "alpha-api" and "beta-api" not in d.tied and d.runner_up == "beta-api"
    beta = d.scores["beta-api"]
    assert {u.label for u in beta.unknowns if u.kind == "fact"} == {"SLA", "SOC 2", "data residency"}
    assert d.separator is not None and d.separator.model == "beta-api" and d.separator.kind == "fact"
    biggest = max(beta.unknowns, key=lambda u: beta.swing(u, beta_weights(req)))
    assert d.separator.label == biggest.label and "the vendor's written answer settles it" in d.separation
    note = next(n for n in d.notes if n.startswith("Unconfirmed facts could change the pick"))
    assert "Beta has not published its SLA, SOC 2 and data residency for this offer" in note
    assert "would score up to" in note and f"(now {beta.total:.1f}) against Alpha's" in note and "Ask Beta" in note
    # Once Beta publishes them, there is nothing left to confirm.
    for fact, value in (("soc2", "yes"), ("data_residency", ["United States"]), ("sla", "yes")):
        data["models"]["beta-api"]["deployments"][0][fact] = _f(value)
    confirmed = decision_for(fixture_catalog(tmp_path, data), **req)
    assert not any(n.startswith("Unconfirmed facts") for n in confirmed.notes)


def beta_weights(overrides):
    return Requirements.from_data(requirements(**overrides)).weights


def test_text_and_images_from_one_closed_model_still_name_the_open_combination(fx):
    """Only Alpha (closed) covers text and images in one model; Open LLM + Open Image together also
    meet the hard constraints. The verdict must not claim only closed models do, and a note names
    the open combination with each part's cost."""
    d = decision_for(fx, **{"needs.tasks": ["text-generation", "image-generation"],
                            "budget.volume.images_per_month": 1000, "support.ml_expertise": "strong"})
    assert not d.combination and d.recommended == "alpha-api"
    assert "meet the hard constraints" not in d.verdict_reason
    note = next(n for n in d.notes if "open-source combination does" in n)
    assert "for text generation" in note and "for image generation" in note and "/month" in note


@pytest.mark.parametrize("example, says", [
    # Nothing fits the budget: the reason says which constraint keeps the option that would fit out.
    ("marketing-images.yaml", "Relaxing customization (`needs.customization`) to prompting would allow Stable "
                              "Diffusion 3.5 Medium via Stability AI (Developer Platform API) at $700/month (it trains "
                              "on prompts by default)."),
    ("clinical-notes-onprem.yaml", "All 11 closed-source models covering text generation are excluded: transparency "
                                   "required, but the weights are not published; fine-tuning required"),
    ("ticket-triage.yaml", "No open-source model covers embeddings."),
])
def test_when_only_one_side_qualifies_the_reason_names_the_constraint(example, says):
    """Page 1's "Why" for a one-sided verdict: a manager learns which hard constraint rules out the
    other side (fine-tuning an image model, transparency, a task nobody there covers), not only
    that it is ruled out."""
    from modelmemo.catalog.load import load_catalog
    from modelmemo.inputs.loading import load_document

    from .conftest import CATALOG, INPUTS

    d = decide(Requirements.from_data(load_document(INPUTS / example).data), load_catalog([CATALOG]))
    assert says in d.verdict_reason, d.verdict_reason


def test_a_memo_lists_the_prices_its_cost_uses_and_the_stale_flag_names_the_oldest_one():
    """A chat project's memo does not list ChatGPT's image price (2025-05-20): it played no part,
    and it used to raise "Stale facts" on every memo. A project that generates images does list
    it, and its stale flag says which fact is old, so the reader can judge whether it matters."""
    from modelmemo.catalog.load import load_catalog
    from modelmemo.inputs.loading import load_document
    from modelmemo.memo.digest import decision_digest

    from .conftest import CATALOG, INPUTS

    catalog = load_catalog([CATALOG])

    def memo_for(example: str) -> dict:
        req = Requirements.from_data(load_document(INPUTS / example).data)
        return make_memo(req, catalog, RunContext("r", "2026-12-06T02:00:00+00:00", example, "0" * 64))[0]

    chat, kit = memo_for("support-chatbot.yaml"), memo_for("product-launch-kit.yaml")
    assert "image-generation" not in chat["requirements"]["tasks"]
    assert not [f for f in chat["facts"] if f["fact"] in ("usd_per_image", "images_per_hour", "embedding_usd_per_1m")]
    assert [f for f in chat["facts"] if f["fact"] == "input_usd_per_1m"]  # the prices it does use stay
    # Every price the kit lists is one an offer the memo names was priced with.
    named = {(p["model"], p["deployment"]) for p in kit["recommended"] + kit["challengers"]}
    prices = [f for f in kit["facts"] if f["fact"].endswith(("_per_1m", "_per_image"))]
    assert prices and all((f["model"], f["deployment"]) in named for f in prices)
    from datetime import date

    from modelmemo.settings import STALE_AFTER_DAYS

    for memo in (chat, kit):
        picked = {p["model"] for p in memo["recommended"]} | {""}
        oldest = min((f for f in memo["facts"] if f["model"] in picked), key=lambda f: f["as_of"])
        age = (date(2026, 12, 6) - date.fromisoformat(oldest["as_of"])).days
        stale = [f for f in decision_digest(memo)["flags"] if f["key"] == "stale"]
        assert bool(stale) == (age > STALE_AFTER_DAYS), (memo["project"]["id"], oldest)
        if stale:
            label = oldest["label"] if oldest["label"][:2].isupper() else oldest["label"][:1].lower() + oldest["label"][1:]
            assert stale[0]["detail"].startswith(f"oldest fact used, {label}")
            assert f"was checked {oldest['as_of']}" in stale[0]["detail"] and stale[0]["level"] == "caution"


def test_no_catalog_id_reaches_the_prose_of_a_shipped_memo():
    """Risks, notes, the verdict's reason and exclusions name options in words ("Llama 4
    self-hosted on 1x NVIDIA H100 80GB"), never by catalog id ("self-hosted-scout-1x-h100")."""
    from modelmemo.catalog.load import load_catalog
    from modelmemo.inputs.loading import load_document

    from .conftest import CATALOG, example_inputs

    catalog = load_catalog([CATALOG])
    ids = {d.id for m in catalog.models.values() for d in m.deployments}
    for path in example_inputs():
        req = Requirements.from_data(load_document(path).data)
        memo = make_memo(req, catalog, RunContext("r", "2026-12-06T02:00:00+00:00", path.name, "0" * 64))[0]
        prose = [memo["verdict_reason"], *memo["notes"], *(r["text"] for r in memo.get("risks", [])),
                 *(r for reasons in memo["excluded"].values() for r in reasons)]
        assert not [(i, p) for p in prose for i in ids if i in str(p)], path.name


def test_page_1_flags_say_a_shared_cost_once(tmp_path):
    """Alpha and Beta tied at the same price, both over a $300 budget: "Over budget" says the shared
    cost once (not "...over by $100/month.; $400/month: ...")."""
    from modelmemo.memo.digest import decision_digest

    req = Requirements.from_data(requirements(**{"needs.tasks": ["chat"], "budget.monthly_usd": 300,
                                                  "budget.volume": {"requests_per_month": 100000,
                                                                    "tokens_per_request": 1000}}))
    memo, decision = make_memo(req, twin_catalog(tmp_path), CTX)
    assert decision.tied
    flags = {f["key"]: f for f in decision_digest(memo)["flags"]}
    assert flags["over-budget"]["detail"] == "$400/month: 133% of the $300/month budget, over by $100/month."
    assert flags["over-budget"]["level"] == "blocking" and flags["tie"]["level"] == "caution"


def test_page_1_risks_speak_in_words_not_field_names_or_quoted_codes(tmp_path):
    """Risks a manager reads on page 1: no `budget.volume` in backticks, no 'unknown' in quotes."""
    from .helpers import DELETE

    data = fixture_catalog_data()
    for model in ("alpha-api", "beta-api"):
        data["models"][model]["deployments"][0]["sla"] = _f("unknown")
    memo = memo_for(fixture_catalog(tmp_path, data), **{"needs.tasks": ["chat"], "budget.volume": DELETE,
                                                         "support.vendor_sla_required": True,
                                                         "security.data_sensitivity": "confidential"})
    risks = " ".join(r["text"] for r in memo["risks"])
    assert "`" not in risks and "'unknown'" not in risks and "'yes'" not in risks, risks
    assert "add the monthly volume (budget: volume:) to the requirement file" in risks
    assert "has not published one for this offer" in risks  # the SLA


def test_a_bill_priced_in_part_is_a_floor_not_unknown(tmp_path):
    """Text priced, embeddings not: the cost is at least the text part (a floor, never within
    budget), not 'unknown' scored 0 for budget (a few dollars of unpublished embedding price would
    otherwise sink an offer that meets every requirement)."""
    from modelmemo.decision.costs import estimate

    data = fixture_catalog_data()
    data["models"]["gamma-api"] = _model("Gamma", "Gamma Lab", "closed-source", ["chat", "embeddings"],
                                         [_api("gamma-api", "Gamma")], context=1_000_000, max_output=128_000)
    catalog = fixture_catalog(tmp_path, data)
    req = Requirements.from_data(requirements(**{"needs.tasks": ["chat", "embeddings"]}))
    model = catalog.models["gamma-api"]
    cost = estimate(model, model.deployments[0], req, catalog)
    text_only = estimate(model, model.deployments[0], Requirements.from_data(requirements()), catalog)
    assert cost.low == pytest.approx(text_only.low) and cost.high is None and cost.is_floor
    assert "embeddings: Gamma price per embedding token is unknown" in " ".join(cost.lines)
    score = decide(req, catalog).scores["gamma-api"]
    assert score.over_budget is None and "part of the bill has no published price" in score.factors["budget"].reason
    assert score.factors["budget"].interval[0] == 0  # nothing bounds the unpriced part
