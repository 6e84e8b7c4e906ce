"""The model catalog: the shipped file, extension files, merge conflicts and fact freshness."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from datetime import date, timedelta

import pytest
import yaml

from modelmemo.catalog import Catalog, CatalogError, Fact, load_catalog
from modelmemo.costs import estimate
from modelmemo.freshness import StaleFact, count_facts, format_report, stale_facts
from modelmemo.requirements import Requirements
from modelmemo.scoring import decide

from .conftest import CATALOG, DATA, ROOT
from .helpers import requirements

FIXTURES = DATA / "catalog"
EXAMPLE_EXTENSION = ROOT / "examples" / "catalog-extension.yaml"

OPEN_SOURCE = ("llama-2", "stable-diffusion", "mistral", "gpt-j", "opennmt")
CLOSED_SOURCE = ("chatgpt", "claude", "gemini", "bard", "cohere")


def decision_for(catalog: Catalog, **overrides):
    return decide(Requirements.from_data(requirements(**overrides)), catalog)


def assumption_facts(catalog: Catalog) -> list[tuple[str, Fact]]:
    """The methodology assumptions as (dotted path, Fact), walked independently of freshness.py."""
    found = []

    def walk(node, path):
        if isinstance(node, Fact):
            found.append((path, node))
        else:
            for name, child in node.items():
                walk(child, f"{path}.{name}")

    walk(catalog.assumptions, "assumptions")
    return found


# --- the shipped catalog ---------------------------------------------------------------------


def test_shipped_catalog_has_the_ten_models_of_the_article(catalog):
    assert sorted(catalog.models) == sorted(OPEN_SOURCE + CLOSED_SOURCE)
    assert catalog.files == (str(CATALOG),)
    for model_id in OPEN_SOURCE:
        assert catalog.models[model_id].openness == "open-source", model_id
        assert catalog.models[model_id].is_open
    for model_id in CLOSED_SOURCE:
        assert catalog.models[model_id].openness == "closed-source", model_id
        assert not catalog.models[model_id].is_open


def test_every_shipped_fact_has_a_checkable_source(catalog):
    today = date.today()
    facts = list(catalog.facts()) + [("", "", path, fact) for path, fact in assumption_facts(catalog)]
    assert len(facts) > 100
    for model_id, deployment_id, name, fact in facts:
        where = ".".join(p for p in (model_id, deployment_id, name) if p)
        assert fact.source.key in catalog.sources, where
        assert catalog.sources[fact.source.key] == fact.source, where
        assert fact.source.url.startswith("https://"), (where, fact.source.url)
        assert isinstance(fact.source.as_of, date), where
        assert fact.source.as_of <= today, (where, fact.source.as_of)
    for key, source in catalog.sources.items():
        assert source.url.startswith("https://"), key
        assert source.title, key
        assert source.as_of <= today, key


def test_bard_is_retired_and_replaced_by_gemini(catalog):
    bard = catalog.models["bard"]
    assert bard.lifecycle == "retired"
    assert bard.successor == "gemini"
    assert "gemini" in catalog.models


def test_specific_article_facts(catalog):
    assert "700 million monthly active users" in catalog.models["llama-2"].value("commercial_use")
    assert catalog.models["opennmt"].is_toolkit
    assert catalog.models["opennmt"].value("is_toolkit") == "yes"
    assert catalog.models["stable-diffusion"].tasks == ("image-generation",)


def test_every_deployment_has_a_price_basis(catalog):
    deployments = [(m, d) for m in catalog.models.values() for d in m.deployments]
    assert {d.kind for _, d in deployments} == {"api", "self-hosted"}
    for model, deployment in deployments:
        where = f"{model.id}.{deployment.id}"
        if deployment.is_api:
            per_token = "input_usd_per_1m" in deployment.facts and "output_usd_per_1m" in deployment.facts
            per_image = "usd_per_image" in deployment.facts
            assert per_token or per_image, where
            for name in ("input_usd_per_1m", "output_usd_per_1m", "usd_per_image"):
                if name in deployment.facts:
                    value = deployment.value(name)
                    assert value == "unknown" or (isinstance(value, (int, float)) and value >= 0), (where, value)
        else:
            assert deployment.kind == "self-hosted", where
            assert "gpu_class" in deployment.facts, where
            assert isinstance(deployment.value("gpu_hour_usd"), (int, float)), where
            assert deployment.value("gpu_hour_usd") > 0, where


# --- extension files -------------------------------------------------------------------------

ONPREM_EMBEDDINGS = {"needs.tasks": ["embeddings", "classification"], "security.on_premises_only": True}


def test_extension_model_wins_the_scenario_built_for_it(catalog):
    """On-premises embeddings + classification: no shipped model qualifies; the fixture model does."""
    without = decision_for(catalog, **ONPREM_EMBEDDINGS)
    assert without.recommended_ids == []
    assert without.scores == {}

    extended = load_catalog([CATALOG, FIXTURES / "winner.yaml"])
    assert extended.models["onprem-embedder"].origin == str(FIXTURES / "winner.yaml")
    with_ext = decision_for(extended, **ONPREM_EMBEDDINGS)
    assert with_ext.recommended_ids == ["onprem-embedder"]
    assert with_ext.verdict == "open-source"
    assert with_ext.scores["onprem-embedder"].deployment.kind == "self-hosted"
    assert with_ext.scores["onprem-embedder"].model.value("tasks") == ["embeddings", "classification"]


def test_example_extension_validates_and_adds_two_models(catalog):
    extended = load_catalog([CATALOG, EXAMPLE_EXTENSION])
    assert set(extended.models) - set(catalog.models) == {"llama-3", "mixtral"}
    # The shipped models are untouched, and a reused source key keeps its URL.
    for model_id, model in catalog.models.items():
        assert extended.models[model_id] == model
    for key, source in catalog.sources.items():
        assert extended.sources[key].url == source.url
    llama3, mixtral = extended.models["llama-3"], extended.models["mixtral"]
    assert llama3.is_open and llama3.has_open_weights
    assert llama3.value("license") == "Meta Llama 3 Community License"
    assert llama3.value("context_tokens") == 8192
    assert llama3.value("languages") == ["en"]
    assert set(llama3.tasks) <= {"chat", "text-generation", "code", "summarization"}
    assert mixtral.value("license") == "Apache-2.0"
    assert mixtral.value("languages") == ["en", "fr", "it", "de", "es"]
    assert mixtral.value("context_tokens") == 32000
    # Self-hosting on the same GPU classes and prices as Llama 2, from the same source.
    llama2_prices = {d.value("gpu_hour_usd") for d in extended.models["llama-2"].deployments}
    for model in (llama3, mixtral):
        assert model.deployments and all(d.kind == "self-hosted" for d in model.deployments)
        for deployment in model.deployments:
            assert deployment.value("gpu_hour_usd") in llama2_prices
            assert deployment.facts["gpu_hour_usd"].source.key == "hf-llama2-sagemaker-benchmark"
    for _, _, _, fact in extended.facts():
        assert fact.source.url.startswith("https://") and fact.source.as_of <= date.today()


def test_mixtral_wins_an_on_premises_french_german_project(catalog):
    """Full control of the weights, on-premises, French and German: only Mixtral documents both."""
    scenario = {"needs.tasks": ["chat"], "needs.customization": "full-control", "needs.languages": ["fr", "de"],
                "security.on_premises_only": True, "budget.monthly_usd": 20000}
    extended = load_catalog([CATALOG, EXAMPLE_EXTENSION])
    d = decision_for(extended, **scenario)
    assert "mixtral" in d.scores and "llama-3" in d.scores  # both eligible
    totals = [s.total for s in d.scores.values()]
    assert totals == sorted(totals, reverse=True)  # ranked by score
    assert d.recommended == "mixtral" and d.recommended_ids == ["mixtral"]
    assert d.scores["mixtral"].total == max(totals)
    assert d.scores["mixtral"].total > d.scores["llama-3"].total
    assert "documents fr, de" in d.scores["mixtral"].factors["requirements"].reason
    assert d.scores["mixtral"].deployment.kind == "self-hosted"
    # Without the extension Mixtral is not a candidate and something else is recommended.
    assert decision_for(catalog, **scenario).recommended != "mixtral"


# --- conflicts and broken files ----------------------------------------------------------------


def test_redefining_a_model_without_override_is_rejected():
    path = FIXTURES / "conflict.yaml"
    with pytest.raises(CatalogError) as caught:
        load_catalog([CATALOG, path])
    message = str(caught.value)
    assert "'claude'" in message
    assert "conflict.yaml" in message
    assert "override: true" in message
    assert str(CATALOG) in message  # names where the model was first defined


def test_source_key_with_another_url_is_rejected():
    with pytest.raises(CatalogError) as caught:
        load_catalog([CATALOG, FIXTURES / "source-conflict.yaml"])
    message = str(caught.value)
    assert "'article'" in message
    assert "https://example.org/test-fixture/not-the-article" in message
    assert "https://4geeks.com/lesson/open-source-vs-closed-source-ai-models" in message
    assert "source-conflict.yaml" in message


def test_schema_invalid_extension_is_rejected_with_file_and_path():
    path = FIXTURES / "broken.yaml"
    with pytest.raises(CatalogError) as caught:
        load_catalog([CATALOG, path])
    message = str(caught.value)
    assert str(path) in message
    assert "models.broken-model.facts.license" in message
    assert "source" in message


def test_override_replaces_the_model_and_its_price_reaches_the_cost_estimate(catalog):
    overridden = load_catalog([CATALOG, FIXTURES / "override.yaml"])
    assert overridden.models["gemini"].name == "Gemini (test override)"
    assert overridden.models["gemini"].origin == str(FIXTURES / "override.yaml")
    assert overridden.models["bard"].successor == "gemini"
    scenario = {"needs.tasks": ["chat"], "budget.volume": {"requests_per_month": 10000, "tokens_per_request": 1000}}
    share = float(catalog.assumption("input_token_share").value)
    tokens = 10000 * 1000

    def expected(cat):
        dep = cat.models["gemini"].deployments[0]
        return tokens * share / 1e6 * dep.value("input_usd_per_1m") + tokens * (1 - share) / 1e6 * dep.value(
            "output_usd_per_1m")

    shipped_cost = decision_for(catalog, **scenario).scores["gemini"].cost
    new_cost = decision_for(overridden, **scenario).scores["gemini"].cost
    assert shipped_cost.low == pytest.approx(expected(catalog))
    assert new_cost.low == pytest.approx(expected(overridden))
    assert new_cost.low == pytest.approx(2 * shipped_cost.low)  # the fixture doubles both prices
    assert new_cost.inputs["input_usd_per_1m"] == 3.0 and new_cost.inputs["output_usd_per_1m"] == 18.0
    req = Requirements.from_data(requirements(**scenario))
    direct = estimate(overridden.models["gemini"], overridden.models["gemini"].deployments[0], req, overridden)
    assert direct.low == pytest.approx(new_cost.low)


def test_duplicate_deployment_ids_are_rejected(tmp_path):
    data = yaml.safe_load((FIXTURES / "winner.yaml").read_text())
    model = data["models"]["onprem-embedder"]
    model["deployments"].append(copy.deepcopy(model["deployments"][0]))
    path = tmp_path / "duplicate-deployment.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(CatalogError, match="self-hosted-test-gpu"):
        load_catalog([CATALOG, path])


# --- freshness ---------------------------------------------------------------------------------


def test_every_fact_is_stale_ten_years_ahead(catalog):
    total = len(list(catalog.facts())) + len(assumption_facts(catalog))
    assert count_facts(catalog) == total
    stale = stale_facts(catalog, today=catalog.as_of + timedelta(days=3653))
    assert len(stale) == total
    assert {s.source_key for s in stale} >= {f.source.key for _, _, _, f in catalog.facts()}
    assert any(s.fact == "assumptions.hours_per_month" and s.model_id == "" for s in stale)
    ages = [s.age_days for s in stale]
    assert ages == sorted(ages, reverse=True)


def test_nothing_is_stale_with_a_huge_max_age(catalog):
    assert stale_facts(catalog, max_age_days=100000, today=catalog.as_of) == []
    report = format_report([], 100000, catalog.as_of, total_facts=count_facts(catalog))
    assert report == f"All {count_facts(catalog)} facts were checked within the last 100000 days."


def test_stale_facts_are_exactly_those_checked_before_the_cutoff(catalog):
    today = date(2026, 11, 28)
    cutoff = date(2026, 6, 1)
    assert today - timedelta(days=180) == cutoff
    expected = {
        (model_id, deployment_id, name, fact.source.key)
        for model_id, deployment_id, name, fact in catalog.facts()
        if catalog.sources[fact.source.key].as_of < cutoff
    } | {("", "", path, fact.source.key) for path, fact in assumption_facts(catalog) if fact.source.as_of < cutoff}
    stale = stale_facts(catalog, max_age_days=180, today=today)
    assert expected  # the shipped catalog has old sources (e.g. the 2023 GPU price benchmark)
    assert {(s.model_id, s.deployment_id, s.fact, s.source_key) for s in stale} == expected
    assert len(stale) == len(expected)
    for item in stale:
        assert isinstance(item, StaleFact)
        assert item.source_url == catalog.sources[item.source_key].url
        assert item.as_of == catalog.sources[item.source_key].as_of
        assert item.age_days == (today - item.as_of).days > 180
    keys = [(-s.age_days, s.model_id, s.deployment_id, s.fact) for s in stale]
    assert keys == sorted(keys)
    # A source checked exactly on the cutoff day is not stale.
    assert all(s.as_of != cutoff for s in stale)


def test_format_report_groups_by_source(catalog):
    today = date(2026, 11, 28)
    stale = stale_facts(catalog, max_age_days=180, today=today)
    report = format_report(stale, 180, today)
    assert report.splitlines()[0] == f"{len(stale)} facts older than 180 days (checked before 2026-06-01):"
    for url in {s.source_url for s in stale}:
        assert report.count(url) == 1, url
    for item in stale:
        assert item.as_of.isoformat() in report
        assert f"{item.age_days} days" in report
        assert f"- {item.label}" in report
    assert "- llama-2.self-hosted-7b-g5-2xlarge.gpu_hour_usd" in report
    assert "- llama-2.license" in report
    fresh_urls = {s.url for s in catalog.sources.values() if s.as_of >= date(2026, 6, 1)}
    assert not any(url in report for url in fresh_urls)


def test_freshness_covers_extension_files():
    extended = load_catalog([CATALOG, EXAMPLE_EXTENSION])
    stale = stale_facts(extended, max_age_days=180, today=date(2026, 11, 28))
    labels = {s.label for s in stale}
    assert "mixtral.self-hosted-g5-12xlarge.gpu_hour_usd" in labels  # 2023 benchmark price
    assert "mixtral.license" in labels  # the announcement copy was captured 2026-05-10, 202 days earlier
    assert "llama-3.license" not in labels  # the licence text was read 2026-11-28
    assert "llama-3.self-hosted-8b-g5-2xlarge.gpu_hour_usd" in labels


# --- the CLI -----------------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MODELMEMO_CATALOG_EXTRA"}
    return subprocess.run([sys.executable, "-m", "modelmemo.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, env=env, timeout=120)


def test_cli_lists_models_of_an_extension():
    result = run_cli("catalog", "--extra", "examples/catalog-extension.yaml")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    assert {"llama-3", "mixtral", "llama-2", "bard"} <= rows
    assert "12 models" in result.stdout
    assert "examples/catalog-extension.yaml" in result.stdout


def test_cli_rejects_a_conflicting_extension_clearly():
    result = run_cli("catalog", "--extra", "tests/data/catalog/conflict.yaml")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: tests/data/catalog/conflict.yaml: model 'claude'")
    assert "override: true" in lines[0]
    assert "Traceback" not in result.stderr


def test_override_of_an_unknown_model_is_rejected(tmp_path):
    """`override: true` on an id no earlier file defines is almost always a typo in the id."""
    from modelmemo.catalog import CatalogError, load_catalog

    text = (FIXTURES / "override.yaml").read_text().replace("  gemini:", "  gemini-typo:")
    path = tmp_path / "typo.yaml"
    path.write_text(text)
    with pytest.raises(CatalogError, match="gemini-typo.*no earlier catalog file"):
        load_catalog([CATALOG, path])
