"""The model catalog: the shipped file, extension files, merge conflicts and fact freshness."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from datetime import date, timedelta

import pytest
import yaml

from modelmemo.catalog.load import Catalog, CatalogError, Fact, load_catalog
from modelmemo.decision.costs import estimate
from modelmemo.catalog.freshness import StaleFact, count_facts, format_report, stale_facts
from modelmemo.inputs.requirements import Requirements
from modelmemo.decision import decide

from .conftest import CATALOG, DATA, ROOT
from .helpers import requirements

FIXTURES = DATA / "catalog"
EXAMPLE_EXTENSION = ROOT / "examples" / "catalog-extension.yaml"

OPEN_SOURCE = ("llama-2", "stable-diffusion", "mistral", "gpt-j", "opennmt")
CLOSED_SOURCE = ("chatgpt", "claude", "gemini", "bard", "cohere")


def checkable(url: str) -> bool:
    """An https URL, or a path into this repository whose file exists and, for `#anchor`, has that heading."""
    if url.startswith("https://"):
        return True
    path, _, anchor = url.partition("#")
    target = ROOT / path
    if not target.is_file():
        return False
    if not anchor:
        return True
    headings = {line.lstrip("#").strip().lower().replace(" ", "-") for line in target.read_text().splitlines()
                if line.startswith("#")}
    return anchor in headings


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


def test_shipped_catalog_has_the_ten_families_of_the_article_and_marks_what_is_beyond_it(catalog):
    families = {m.family for m in catalog.models.values() if not m.beyond_article}
    assert families == set(OPEN_SOURCE + CLOSED_SOURCE)  # other sizes join their article family
    sizes = {f: [m.id for m in catalog.models.values() if m.family == f] for f in families}
    for family in ("claude", "gemini", "mistral", "chatgpt"):  # vendors that sell several sizes
        assert len(sizes[family]) >= 2, (family, sizes[family])
    beyond = {m.id for m in catalog.models.values() if m.beyond_article}
    assert {"gpt-oss-120b", "gpt-oss-20b", "qwen", "deepseek"} <= beyond
    assert all(catalog.models[m].is_open for m in beyond)
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
        assert checkable(fact.source.url), (where, fact.source.url)
        assert isinstance(fact.source.as_of, date), where
        assert fact.source.as_of <= today, (where, fact.source.as_of)
    for key, source in catalog.sources.items():
        assert checkable(source.url), key
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

ONPREM_EMBEDDINGS = {"needs.tasks": ["embeddings", "classification"], "security.on_premises_only": True,
                     "budget.monthly_usd": 6000,
                     # short texts: the fixture embedder's context is 512 tokens
                     "budget.volume": {"requests_per_month": 100_000, "tokens_per_request": 400}}


def test_extension_model_wins_the_scenario_built_for_it(catalog):
    """On-premises embeddings + classification: no shipped model covers embeddings on premises (open LLMs
    cover classification only); the fixture model covers both and wins."""
    without = decision_for(catalog, **ONPREM_EMBEDDINGS)
    assert not any("embeddings" in catalog.models[m].tasks for m in without.recommended_ids)
    assert all("embeddings" not in score.model.tasks for score in without.scores.values())

    extended = load_catalog([CATALOG, FIXTURES / "winner.yaml"])
    assert extended.models["onprem-embedder"].origin == str(FIXTURES / "winner.yaml")
    with_ext = decision_for(extended, **ONPREM_EMBEDDINGS)
    assert "onprem-embedder" in with_ext.recommended_ids  # the only on-premises option covering embeddings
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
    # Self-hosting on the 2023 benchmark's GPU classes and prices, from the shipped source (same key, same URL).
    benchmark_prices = {d.value("gpu_hour_usd") for m in extended.models.values() for d in m.deployments
                        if "gpu_hour_usd" in d.facts and d.facts["gpu_hour_usd"].source.key == "hf-llama2-sagemaker-benchmark"}
    for model in (llama3, mixtral):
        assert model.deployments and all(d.kind == "self-hosted" for d in model.deployments)
        for deployment in model.deployments:
            assert deployment.value("gpu_hour_usd") in benchmark_prices | {7.09}
            assert deployment.facts["gpu_hour_usd"].source == catalog.sources["hf-llama2-sagemaker-benchmark"]
    for _, _, _, fact in extended.facts():
        assert fact.source.url.startswith("https://") and fact.source.as_of <= date.today()


def test_extension_models_compete_on_an_on_premises_french_german_project(catalog):
    """Full control of the weights, on-premises, French and German: Mixtral (extension) documents both and
    beats Llama 3 (English only); the shipped Llama 4 also documents both and has quality evidence where
    Mixtral has none, so it stays ahead of Mixtral."""
    scenario = {"needs.tasks": ["chat"], "needs.customization": "full-control", "needs.languages": ["fr", "de"],
                "security.on_premises_only": True, "budget.monthly_usd": 20000}
    extended = load_catalog([CATALOG, EXAMPLE_EXTENSION])
    d = decision_for(extended, **scenario)
    assert "mixtral" in d.scores and "llama-3" in d.scores  # both eligible
    totals = [s.total for s in d.scores.values()]
    assert totals == sorted(totals, reverse=True)  # ranked by score
    assert d.scores["mixtral"].total > d.scores["llama-3"].total
    reason = d.scores["mixtral"].factors["requirements"].reason
    assert "documents French, German" in reason or "documents German, French" in reason
    assert d.scores["mixtral"].deployment.kind == "self-hosted"
    assert d.recommended == "llama-2"
    assert {"fr", "de"} <= set(extended.models["llama-2"].value("languages"))
    assert extended.models["llama-2"].quality["chat"].value is not None
    assert extended.models["mixtral"].quality == {}
    # Without the extension Mixtral is not a candidate.
    assert "mixtral" not in decision_for(catalog, **scenario).scores


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

    def expected(cat, score):  # the price of the offer the decision scored (Gemini has several routes)
        dep = next(d for d in cat.models["gemini"].deployments if d.id == score.deployment_id)
        return tokens * share / 1e6 * dep.value("input_usd_per_1m") + tokens * (1 - share) / 1e6 * dep.value(
            "output_usd_per_1m")

    shipped = decision_for(catalog, **scenario).scores["gemini"]
    overriding = decision_for(overridden, **scenario).scores["gemini"]
    shipped_cost, new_cost = shipped.cost, overriding.cost
    assert shipped_cost.low == pytest.approx(expected(catalog, shipped))
    assert new_cost.low == pytest.approx(expected(overridden, overriding))
    assert new_cost.low > shipped_cost.low  # the fixture's prices are higher than the shipped ones
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


def quality_facts(catalog: Catalog) -> list[tuple[str, str, str, str]]:
    """Quality evidence as (model id, '', 'quality.<task>', source key), walked independently of freshness.py."""
    return [(m.id, "", f"quality.{task}", e.source.key) for m in catalog.models.values() for task, e in m.quality.items()]


def test_every_fact_is_stale_ten_years_ahead(catalog):
    total = len(list(catalog.facts())) + len(assumption_facts(catalog)) + len(quality_facts(catalog))
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
    } | {("", "", path, fact.source.key) for path, fact in assumption_facts(catalog) if fact.source.as_of < cutoff
         } | {q for q in quality_facts(catalog) if catalog.sources[q[3]].as_of < cutoff}
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
    assert "- gpt-j.self-hosted-g5-2xlarge.gpu_hour_usd" in report
    assert "- gpt-j.license" in report
    # A source with no newer copy found says why, once, under its heading.
    assert "no newer source found: A historical event" in report
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
    assert f"{len(load_catalog([CATALOG]).models) + 2} models" in result.stdout
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
    from modelmemo.catalog.load import CatalogError, load_catalog

    text = (FIXTURES / "override.yaml").read_text().replace("  gemini:", "  gemini-typo:")
    path = tmp_path / "typo.yaml"
    path.write_text(text)
    with pytest.raises(CatalogError, match="gemini-typo.*no earlier catalog file"):
        load_catalog([CATALOG, path])


# --- quality evidence, seeds, context windows (issue 11) ------------------------------------------

LLM_TASKS = {"chat", "text-generation", "summarization", "classification", "code", "translation"}


def write_extension(tmp_path, extra_model: dict, scales: dict | None = None, name: str = "ext.yaml"):
    data = yaml.safe_load((FIXTURES / "winner.yaml").read_text())
    model = data["models"]["onprem-embedder"]
    model.update(extra_model)
    if scales is not None:
        data["quality_scales"] = scales
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_undeclared_quality_scale_is_rejected_clearly(tmp_path):
    source_key = next(iter(yaml.safe_load((FIXTURES / "winner.yaml").read_text())["sources"]))
    path = write_extension(tmp_path, {"quality": {"embeddings": {
        "value": 61.0, "scale": "no-such-scale", "source": source_key}}})
    with pytest.raises(CatalogError) as caught:
        load_catalog([CATALOG, path])
    message = str(caught.value)
    assert "models.onprem-embedder.quality.embeddings" in message
    assert "scale 'no-such-scale' is not declared under `quality_scales`" in message
    assert "mteb" in message  # lists the declared scales
    assert str(path) in message


def test_quality_scale_kind_must_be_elo_or_percent(tmp_path):
    source_key = next(iter(yaml.safe_load((FIXTURES / "winner.yaml").read_text())["sources"]))
    path = write_extension(tmp_path, {}, scales={"stars": {"kind": "stars", "title": "x", "source": source_key}})
    with pytest.raises(CatalogError, match="quality_scales"):
        load_catalog([CATALOG, path])


def test_extension_may_declare_its_own_scale_and_evidence(tmp_path):
    source_key = next(iter(yaml.safe_load((FIXTURES / "winner.yaml").read_text())["sources"]))
    path = write_extension(tmp_path, {"quality": {"embeddings": {"value": 60.5, "scale": "mteb", "source": source_key},
                                                  "classification": {"value": "unknown", "scale": "in-house",
                                                                     "source": source_key, "note": "not measured"}}},
                           scales={"in-house": {"kind": "percent", "title": "in-house test set", "source": source_key}})
    extended = load_catalog([CATALOG, path])
    quality = extended.models["onprem-embedder"].quality
    assert quality["embeddings"].value == 60.5 and quality["embeddings"].scale == "mteb"
    assert quality["embeddings"].ci is None
    assert quality["classification"].value is None and quality["classification"].note == "not measured"
    assert extended.quality_scales["in-house"].kind == "percent"
    assert extended.quality_scales["mteb"].source.key == "mteb-ailog"


def test_quality_is_optional_in_extension_files(catalog):
    extended = load_catalog([CATALOG, EXAMPLE_EXTENSION, FIXTURES / "winner.yaml"])
    for model_id in ("llama-3", "mixtral", "onprem-embedder"):
        assert extended.models[model_id].quality == {}
        assert extended.models[model_id].seed is None
    assert extended.quality_scales == catalog.quality_scales


def test_every_shipped_llm_has_a_sourced_context_window(catalog):
    for model in catalog.models.values():
        if model.is_toolkit or model.lifecycle == "retired" or not (set(model.tasks) & LLM_TASKS):
            continue
        fact = model.facts["context_tokens"]
        assert isinstance(fact.value, int) and fact.value > 0, model.id
        assert fact.source.key in catalog.sources, model.id
        limit = model.facts.get("max_output_tokens")
        if limit is not None and limit.value != "unknown":
            assert 0 < limit.value <= fact.value, model.id
    assert catalog.models["gpt-j"].value("context_tokens") == 2048


def test_every_shipped_quality_value_is_on_a_declared_scale(catalog):
    assert {s.kind for s in catalog.quality_scales.values()} <= {"elo", "percent"}
    seen = 0
    for model in catalog.models.values():
        for task, evidence in model.quality.items():
            where = f"{model.id}.quality.{task}"
            assert task in model.tasks, where  # evidence only for tasks the model covers
            scale = catalog.quality_scales[evidence.scale]
            assert evidence.source.key in catalog.sources, where
            if evidence.value is None:
                assert evidence.note, where  # an unknown says why
                continue
            seen += 1
            if scale.kind == "percent":
                assert 0 <= evidence.value <= 100, where
            if evidence.ci is not None:
                assert evidence.ci >= 0, where
    assert seen >= 10


def test_within_a_task_shipped_evidence_shares_one_scale_or_says_why(catalog):
    by_task: dict[str, dict[str, list[str]]] = {}
    for model in catalog.models.values():
        for task, evidence in model.quality.items():
            by_task.setdefault(task, {}).setdefault(evidence.scale, []).append(model.id)
    for task, scales in by_task.items():
        if len(scales) == 1:
            continue
        main = max(scales, key=lambda s: len(scales[s]))
        for scale, model_ids in scales.items():
            if scale != main:
                for model_id in model_ids:
                    assert "scale" in catalog.models[model_id].quality[task].note, (task, model_id, scale)


def test_families_are_current_versions_with_the_seed_kept_visible(catalog):
    for model_id in OPEN_SOURCE + CLOSED_SOURCE:
        seed = catalog.models[model_id].seed
        assert seed is not None and seed.name and seed.status, model_id
        assert seed.source.key in catalog.sources, model_id
    assert catalog.models["llama-2"].seed.name == "Llama 2"
    assert catalog.models["llama-2"].name.startswith("Llama 4")
    assert catalog.models["mistral"].seed.name == "Mistral 7B"
    assert catalog.models["bard"].lifecycle == "retired" and "Gemini" in catalog.models["bard"].seed.status
    # A general instruction-tuned LLM covers the four general text tasks.
    for model_id in ("llama-2", "mistral", "chatgpt", "claude", "gemini", "cohere"):
        assert {"chat", "text-generation", "summarization", "classification"} <= set(catalog.models[model_id].tasks)


def test_image_and_embedding_apis_have_their_own_prices(catalog):
    for model_id in ("chatgpt", "gemini"):
        model = catalog.models[model_id]
        assert "image-generation" in model.tasks and "embeddings" in model.tasks
        api = model.deployments[0]
        assert 0 < api.value("usd_per_image") < 1
        assert 0 < api.value("embedding_usd_per_1m") < 1
    assert 0 < catalog.models["cohere"].deployments[0].value("embedding_usd_per_1m") < 1
    assert catalog.models["cohere"].deployments[0].value("vendor_fine_tuning") == "no"


def test_stale_ok_reason_reaches_the_report(catalog):
    today = date(2026, 11, 29)
    stale = stale_facts(catalog, max_age_days=180, today=today)
    by_key = {s.source_key: s for s in stale}
    assert by_key["gptj-model-card"].reason
    report = format_report(stale, 180, today)
    assert f"no newer source found: {catalog.sources['gptj-model-card'].stale_ok}" in report
    # Every stale shipped source says why it cannot be refreshed.
    assert all(s.reason for s in stale), sorted({s.source_key for s in stale if not s.reason})


# Source keys a note names in parentheses, e.g. "(vllm-llama4-pr)" or "(groq-llama4-limits; ...)". These
# parenthesised hyphenated words in the shipped notes are product names, not source keys.
NOT_SOURCE_KEYS = {"08-2024", "image-text-to-text", "text-embedding-3-large", "text-to-image"}


def _cited_keys(text: str) -> set[str]:
    import re
    return set(re.findall(r"\(([a-z][a-z0-9]*(?:-[a-z0-9]+)+)[;,)]", text))


def test_source_keys_named_in_notes_are_declared():
    """A note that points the reader to another source ('(vllm-llama4-pr)') must name a declared source."""
    data = yaml.safe_load(CATALOG.read_text())
    declared = set(data["sources"])
    missing = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("note", "title", "status", "stale_ok") and isinstance(value, str):
                    missing.extend(f"{path}.{key}: {k}" for k in _cited_keys(value) - declared - NOT_SOURCE_KEYS)
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{item.get('id', i) if isinstance(item, dict) else i}]")

    walk(data, "catalog")
    assert not missing, missing


def test_third_party_sources_say_so_and_the_article_url_is_marked_unconfirmed(catalog):
    """Refresh 2: sources deciding picks that are not the vendor's own page say 'third party' in the title."""
    assert "NOT CONFIRMED" in catalog.sources["article"].title
    for key in ("groq-llama4-price", "groq-llama4-limits", "gemini-image-price", "gemini-pricing-transcript",
                "tygart-claude-compliance", "aiprovidertrust-gemini-vertex", "cohere-puter-pricing",
                "cloud-gpu-pricing-2026", "vercel-llama4-scout-providers"):
        assert "third party" in catalog.sources[key].title.lower(), key


def test_gemini_developer_api_security_facts_stay_unknown_with_googles_reason(catalog):
    """No stored source puts the Gemini Developer API in SOC 2 / BAA / SLA scope: those stay unknown,
    each citing the Google (or Vertex) statement that was checked. Residency is documented as absent
    (a global pool, no choice of region): `no`, not unknown."""
    dep = next(d for d in catalog.models["gemini"].deployments if d.id == "gemini-developer-api")
    for name in ("soc2", "hipaa_baa", "sla"):
        fact = dep.facts[name]
        assert fact.value == "unknown", name
        assert fact.note, name
    assert dep.facts["data_residency"].value == "no" and "global pool" in dep.facts["data_residency"].note
    assert dep.facts["sla"].source.key == "vertex-genai-sla"
    assert dep.facts["data_residency"].source.key == "firebase-ai-logic-locations"


def test_gpt_62_sol_text_quality_is_not_copied_from_its_predecessor(catalog):
    for task, evidence in catalog.models["chatgpt"].quality.items():
        if evidence.scale == "whatmodel-text":
            assert evidence.value is None, task  # unknown: GPT-6.1 Sol's 83.0 stays in the note only
            assert "83.0" in evidence.note
