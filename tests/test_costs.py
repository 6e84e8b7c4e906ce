"""Cost estimates equal figures computed by hand from the catalog's prices and the input's volume."""

from __future__ import annotations

import pytest

from modelmemo.decision.costs import estimate
from modelmemo.inputs.requirements import Requirements

from .helpers import requirements
from .test_decision import fixture_catalog, fixture_catalog_data


@pytest.fixture
def fx(tmp_path):
    return fixture_catalog(tmp_path)


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


def throughput_catalog(tmp_path, small_tps=120, large_tps=33):
    """The fixture catalog with sourced-looking throughputs on Open LLM's two self-hosted sizes."""
    data = fixture_catalog_data()
    small, large = (next(d for d in data["models"]["open-llm"]["deployments"] if d["id"] == i)
                    for i in ("b-small-1x", "a-large-8x"))
    small["gpu_hour_usd"]["value"], small["tokens_per_second"]["value"] = 1.52, small_tps
    large["gpu_hour_usd"]["value"], large["tokens_per_second"]["value"] = 7.09, large_tps
    return fixture_catalog(tmp_path, data)


def test_self_hosted_text_cost_by_hand(tmp_path):
    """One small instance, strong team: 30,000 x 3,000 = 90M tokens at 120 tokens/s = 208.3 GPU hours,
    so one always-on instance: 730 h x $1.52 = $1,109.60, plus $1,500 operations = $2,609.60."""
    catalog = throughput_catalog(tmp_path)
    cost = cost_of(catalog, "open-llm", "b-small-1x", **{
        "support.ml_expertise": "strong",
        "budget.volume": {"requests_per_month": 30_000, "tokens_per_request": 3_000}})
    assert cost.low == cost.high == pytest.approx(2609.60)
    assert cost.inputs["instances"] == 1


def test_self_hosted_cost_grows_with_volume_by_hand(tmp_path):
    """Large instances, no ML team: 1,000,000 x 2,000 = 2,000M tokens at 33 tokens/s = 16,835.0 GPU
    hours -> ceil(16,835.0 / 730) = 24 instances x 730 h x $7.09 = $124,216.80, plus $8,000 operations
    = $132,216.80."""
    catalog = throughput_catalog(tmp_path)
    cost = cost_of(catalog, "open-llm", "a-large-8x", **{
        "support.ml_expertise": "none",
        "budget.volume": {"requests_per_month": 1_000_000, "tokens_per_request": 2_000}})
    assert cost.inputs["instances"] == 24
    assert cost.low == cost.high == pytest.approx(132_216.80)


EMBEDDINGS = {"needs.tasks": ["embeddings"], "budget.volume": {"requests_per_month": 100_000, "tokens_per_request": 600}}


def test_embeddings_cost_what_embedding_apis_cost(tmp_path):
    """100,000 x 600 = 60M embedding tokens x $0.10 per 1M = $6/month, never text-generation rates
    (those would be 45M x $2 + 15M x $10 = $240)."""
    catalog = fixture_catalog(tmp_path)
    cost = cost_of(catalog, "alpha-api", "alpha-api", **EMBEDDINGS)
    assert cost.low == cost.high == pytest.approx(6.0)
    assert cost.lines == ("embeddings: 60,000,000 tokens/month × $0.10/1M embedding tokens = $6",)


def test_embeddings_without_an_embedding_price_are_unknown_not_text_priced(tmp_path):
    data = fixture_catalog_data()
    del data["models"]["alpha-api"]["deployments"][0]["embedding_usd_per_1m"]
    cost = cost_of(fixture_catalog(tmp_path, data), "alpha-api", "alpha-api", **EMBEDDINGS)
    assert cost.low is None and "not priced at text-generation rates" in cost.lines[0]


def test_embeddings_cost_what_embedding_apis_cost_shipped(catalog):
    """Shipped data: every API that covers embeddings is priced at its own embedding rate per 1M
    tokens (60M tokens here), so a few dollars a month, not hundreds."""
    priced = 0
    for model in catalog.models.values():
        if "embeddings" not in model.tasks:
            continue
        for deployment in model.deployments:
            if not deployment.is_api:
                continue
            cost = cost_of(catalog, model.id, deployment.id, **EMBEDDINGS)
            price = deployment.value("embedding_usd_per_1m")
            if price == "unknown":
                assert cost.low is None
                continue
            priced += 1
            assert cost.low == pytest.approx(60 * price) and cost.low < 50, (model.id, cost.lines)
    assert priced >= 1


def test_api_text_and_image_costs_add_up(tmp_path):
    """Text and images on one API: 1,000 x 1,000 tokens (0.75M x $2 + 0.25M x $10 = $4) + 500 images x
    $0.04 = $20: $24/month."""
    cost = cost_of(fixture_catalog(tmp_path), "alpha-api", "alpha-api", **{
        "needs.tasks": ["text-generation", "image-generation"],
        "budget.volume": {"requests_per_month": 1000, "tokens_per_request": 1000, "images_per_month": 500}})
    assert cost.low == cost.high == pytest.approx(24.0)


def test_unknown_throughput_gives_a_labelled_floor(tmp_path):
    """Open Diffusion, throughput unknown, basic team: at least 730 h x $1.52 + $4,000 = $5,109.60."""
    data = fixture_catalog_data()
    data["models"]["image-open"]["deployments"][0]["gpu_hour_usd"]["value"] = 1.52
    catalog = fixture_catalog(tmp_path, data)
    cost = cost_of(catalog, "image-open", "one-gpu", **{
        "needs.tasks": ["image-generation"], "support.ml_expertise": "basic",
        "budget.volume": {"images_per_month": 20_000}})
    assert cost.low == pytest.approx(5109.60) and cost.high is None
    assert cost.label() == "at least $5,110/month"


def test_no_volume_means_unknown_not_a_made_up_point(catalog):
    cost = cost_of(catalog, "claude", "anthropic-api", **{"budget.volume": None})
    assert cost.low is None and cost.high is None and cost.label() == "unknown"
    assert "no volume given" in cost.lines[0]


def test_memo_lists_every_eligible_deployment_option(fx):
    from modelmemo.memo.document import RunContext, build_memo
    from modelmemo.decision import decide

    req = Requirements.from_data(requirements(**{"needs.tasks": ["text-generation"]}))
    decision = decide(req, fx)
    memo = build_memo(req, decision, fx, RunContext("r", "2026-11-28T00:00:00+00:00", "x.yaml", "0" * 64))
    pairs = {(o["model"], o["deployment"]) for o in memo["cost_options"]}
    assert ("open-llm", "a-large-8x") in pairs and ("open-llm", "b-small-1x") in pairs
    assert ("alpha-api", "alpha-api") in pairs
    assert pairs == {(c["model"], c["deployment"]) for c in memo["ranking"]}
    chosen = [o for o in memo["cost_options"] if o["chosen"]]
    assert {o["model"] for o in chosen} == set(decision.scores)
    assert {(o["model"], o["deployment"]) for o in chosen} == {(m, s.deployment_id) for m, s in decision.scores.items()}
    floors = [o for o in memo["cost_options"] if o["is_floor"]]
    assert floors and all(o["over_budget"] in (True, None) for o in floors)


def test_an_over_budget_statement_adds_up_at_the_precision_it_prints():
    """$150.75 against $150 prints as "$151/month", so the excess is "$1", not "$0.75"; an excess
    that rounds away is "less than $1", never "$0"."""
    from modelmemo.memo.budget_words import cost_statement

    def text(cost: float) -> str:
        return cost_statement(cost, cost, cost, 150.0, f"${cost:,.0f}/month", "")["text"]

    assert text(150.75) == "$151/month: just over 100% of the $150/month budget, over by $1/month."
    assert text(150.30).endswith("over by less than $1/month.")
    assert text(240.0).endswith("over by $90/month.")
