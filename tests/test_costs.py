"""Cost estimates equal figures computed by hand from the catalog's prices and the input's volume."""

from __future__ import annotations

import pytest

from modelmemo.costs import estimate
from modelmemo.requirements import Requirements

from .helpers import requirements


def cost_of(catalog, model_id, deployment_id, **overrides):
    req = Requirements.from_data(requirements(**overrides))
    model = catalog.models[model_id]
    deployment = next(d for d in model.deployments if d.id == deployment_id)
    return estimate(model, deployment, req, catalog)


def require_catalog(catalog, model_id, deployment_id, **facts):
    """The hand computations below use these catalog figures; fail loudly if the catalog changes."""
    deployment = next(d for d in catalog.models[model_id].deployments if d.id == deployment_id)
    for name, value in facts.items():
        assert deployment.value(name) == value, f"catalog changed: update the hand-computed figures ({name})"


def test_api_text_cost_by_hand(catalog):
    """ChatGPT API: 100,000 requests x 1,000 tokens = 100M tokens a month.
    75% input: 75M x $2.00/1M = $150; 25% output: 25M x $10.00/1M = $250; total $400."""
    require_catalog(catalog, "chatgpt", "openai-api", input_usd_per_1m=2.0, output_usd_per_1m=10.0)
    assert catalog.assumption("input_token_share").value == 0.75
    cost = cost_of(catalog, "chatgpt", "openai-api", **{
        "budget.volume": {"requests_per_month": 100_000, "tokens_per_request": 1_000}})
    assert cost.low == cost.high == pytest.approx(400.0)
    assert cost.label() == "$400/month"


def test_self_hosted_text_cost_by_hand(catalog):
    """Llama 2 7B on one g5.2xlarge, strong team: 30,000 x 3,000 = 90M tokens at 120 tokens/s
    = 208.3 GPU hours, so one always-on instance: 730 h x $1.52 = $1,109.60, plus $1,500 operations
    = $2,609.60."""
    require_catalog(catalog, "llama-2", "self-hosted-7b-g5-2xlarge", gpu_hour_usd=1.52, tokens_per_second=120)
    cost = cost_of(catalog, "llama-2", "self-hosted-7b-g5-2xlarge", **{
        "support.ml_expertise": "strong",
        "budget.volume": {"requests_per_month": 30_000, "tokens_per_request": 3_000}})
    assert cost.low == cost.high == pytest.approx(2609.60)
    assert cost.inputs["instances"] == 1


def test_self_hosted_cost_grows_with_volume_by_hand(catalog):
    """Llama 2 70B on g5.12xlarge, no ML team: 1,000,000 x 2,000 = 2,000M tokens at 33 tokens/s =
    16,835.0 GPU hours -> ceil(16,835.0 / 730) = 24 instances x 730 h x $7.09 = $124,216.80,
    plus $8,000 operations = $132,216.80."""
    require_catalog(catalog, "llama-2", "self-hosted-70b-g5-12xlarge", gpu_hour_usd=7.09, tokens_per_second=33)
    cost = cost_of(catalog, "llama-2", "self-hosted-70b-g5-12xlarge", **{
        "support.ml_expertise": "none",
        "budget.volume": {"requests_per_month": 1_000_000, "tokens_per_request": 2_000}})
    assert cost.inputs["instances"] == 24
    assert cost.low == cost.high == pytest.approx(132_216.80)


def test_unknown_throughput_gives_a_labelled_floor(catalog):
    """Stable Diffusion, throughput unknown, basic team: at least 730 h x $1.52 + $4,000 = $5,109.60."""
    require_catalog(catalog, "stable-diffusion", "self-hosted-g5-2xlarge", gpu_hour_usd=1.52,
                    images_per_hour="unknown")
    cost = cost_of(catalog, "stable-diffusion", "self-hosted-g5-2xlarge", **{
        "needs.tasks": ["image-generation"], "support.ml_expertise": "basic",
        "budget.volume": {"images_per_month": 20_000}})
    assert cost.low == pytest.approx(5109.60) and cost.high is None
    assert cost.label() == "at least $5,110/month"


def test_no_volume_means_unknown_not_a_made_up_point(catalog):
    cost = cost_of(catalog, "claude", "anthropic-api", **{"budget.volume": None})
    assert cost.low is None and cost.high is None and cost.label() == "unknown"
    assert "no volume given" in cost.lines[0]


def test_memo_lists_every_eligible_deployment_option(catalog):
    from modelmemo.memo import RunContext, build_memo
    from modelmemo.scoring import decide

    req = Requirements.from_data(requirements(**{"needs.tasks": ["text-generation"]}))
    decision = decide(req, catalog)
    memo = build_memo(req, decision, catalog, RunContext("r", "2026-11-28T00:00:00+00:00", "x.yaml", "0" * 64))
    pairs = {(o["model"], o["deployment"]) for o in memo["cost_options"]}
    assert ("llama-2", "self-hosted-7b-g5-2xlarge") in pairs and ("llama-2", "self-hosted-70b-g5-12xlarge") in pairs
    assert ("mistral", "la-plateforme") in pairs and ("mistral", "self-hosted-g5-2xlarge") in pairs
    chosen = [o for o in memo["cost_options"] if o["chosen"]]
    assert {o["model"] for o in chosen} == set(decision.scores)
