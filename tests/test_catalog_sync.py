"""`modelmemo catalog sync` against a local HTTP server serving the recorded listings
(tests/data/sync: models.dev's api.json and OpenRouter's models API, recorded from
anomalyco/models.dev), changed in memory per case: an offer removed, a status or a date set, a
price moved. The HTTP client, the parsers, the diff, the overlay and the decision that reads it
are all real; genai-prices is the installed package's own data."""

from __future__ import annotations

import gzip
import json
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from modelmemo.catalog.fetch import SourceUnavailable, read_listing
from modelmemo.catalog.load import load_catalog
from modelmemo.catalog.synced import SyncFailed, sync_catalog, synced_file, with_synced
from modelmemo.decision.decide import decide
from modelmemo.inputs.requirements import Requirements

from .conftest import CATALOG, DATA
from .helpers import requirements, run_modelmemo

RECORDED = DATA / "sync"
SCOUT_GROQ = "groq/meta-llama/llama-4-scout-17b-16e-instruct"
MISTRAL_MEDIUM = "mistral/mistral-medium-2604"
TODAY = date.today()


def recorded(name: str) -> Any:
    return json.loads(gzip.decompress((RECORDED / name).read_bytes()))


class Listings:
    """The documents the server serves, by path; tests edit them between syncs."""

    def __init__(self) -> None:
        self.docs: dict[str, bytes] = {}
        self.models_dev = recorded("models-dev-api.json.gz")
        self.openrouter = recorded("openrouter-models.json.gz")
        self.publish()

    def publish(self) -> None:
        self.docs["/api.json"] = json.dumps(self.models_dev).encode()
        self.docs["/api/v1/models"] = json.dumps(self.openrouter).encode()

    def openrouter_entry(self, model_id: str) -> dict[str, Any]:
        return next(e for e in self.openrouter["data"] if e["id"] == model_id)


@pytest.fixture
def server():
    listings = Listings()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = listings.docs.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    listings.models_dev_url = base + "/api.json"
    listings.openrouter_url = base + "/api/v1/models"
    yield listings
    httpd.shutdown()
    httpd.server_close()


def sync(listings: Listings, output: Path, **kwargs):
    return sync_catalog((CATALOG,), output, listings.models_dev_url, listings.openrouter_url, **kwargs)


def synced_catalog(output: Path):
    return load_catalog(list(with_synced((CATALOG,), output)))


def deployment(catalog, model_id: str, deployment_id: str):
    return next(d for d in catalog.models[model_id].deployments if d.id == deployment_id)


def picks_and_candidates(catalog, **overrides) -> tuple[list[str], set[tuple[str, str]]]:
    """The picks, and the offers a pick or challenger can come from (a deprecated offer stays in the
    ranking with its status, but is never chosen while an active one fits)."""
    decision = decide(Requirements.from_data(requirements(**overrides)), catalog)
    return decision.recommended_ids, {(c.model_id, c.deployment_id) for c in decision.candidates
                                      if c.key in decision.pool}


def test_the_recorded_listings_parse_in_full(server, tmp_path):
    outcome = sync(server, tmp_path, dry_run=True)
    listings = outcome.plan.listings
    assert listings["models.dev"].offer_count == 5276
    assert listings["openrouter"].offer_count == 364
    assert listings["genai-prices"].offer_count > 500
    scout = listings["models.dev"].find(f"models.dev:{SCOUT_GROQ}")
    assert (scout.input_usd_per_1m, scout.output_usd_per_1m, scout.context_tokens) == (0.11, 0.34, 131072)
    assert not synced_file(tmp_path).exists()  # a dry run stores nothing


def test_sync_stores_facts_with_their_source_ids_and_the_next_catalog_uses_them(server, tmp_path):
    entry = server.models_dev["mistral"]["models"]["mistral-small-2603"]
    entry["limit"]["context"] = 200_000  # a listing that gives another context than the catalog
    server.publish()
    outcome = sync(server, tmp_path)
    assert outcome.written == synced_file(tmp_path)
    catalog = synced_catalog(tmp_path)
    small = deployment(catalog, "mistral-small", "la-plateforme")
    fact = small.facts["context_tokens"]
    assert fact.value == 200_000
    assert fact.synced_id == "models.dev:mistral/mistral-small-2603"
    assert fact.source.url == server.models_dev_url and fact.source.as_of == TODAY
    rows = [r for r in outcome.plan.applied if r.offer == "mistral-small/la-plateforme" and r.fact == "context_tokens"]
    assert rows and rows[0].new == 200_000 and rows[0].source_id == "models.dev:mistral/mistral-small-2603"
    # The memo's ranking names the ids a scored offer's facts came from.
    from modelmemo.memo.document import _ranking_entry
    decision = decide(Requirements.from_data(requirements(**{"needs.tasks": ["chat"]})), catalog)
    entry = next(c for c in decision.candidates if (c.model_id, c.deployment_id) == ("mistral-small", "la-plateforme"))
    assert "models.dev:mistral/mistral-small-2603" in _ranking_entry(entry, catalog)["synced_from"]


def test_an_offer_removed_from_its_providers_listing_is_unlisted_and_leaves_every_pick(server, tmp_path):
    sync(server, tmp_path)  # the recorded listing lists the offer: seen
    before = synced_catalog(tmp_path)
    offer = ("mistral-small", "la-plateforme")
    _, candidates = picks_and_candidates(before)
    assert offer in candidates
    del server.models_dev["mistral"]["models"]["mistral-small-2603"]
    server.openrouter["data"] = [e for e in server.openrouter["data"] if e["id"] != "mistralai/mistral-small-2603"]
    server.publish()
    outcome = sync(server, tmp_path)
    row = next(r for r in outcome.plan.applied if r.offer == "/".join(offer) and r.fact == "lifecycle")
    assert row.new["value"] == "retired" and row.new["unlisted"]
    after = synced_catalog(tmp_path)
    assert deployment(after, *offer).lifecycle.unlisted
    for tasks in (["chat"], ["summarization"], ["code"]):
        picks, candidates = picks_and_candidates(after, **{"needs.tasks": tasks})
        assert offer not in candidates
    decision = decide(Requirements.from_data(requirements()), after)
    assert any("no longer offered (unlisted: models.dev:mistral/mistral-small-2603 was in the provider's listing" in r
               for r in decision.excluded.get("mistral-small", []))
    # The unlisting is kept by the next sync (the overlay is rewritten whole).
    sync(server, tmp_path)
    assert deployment(synced_catalog(tmp_path), *offer).lifecycle.unlisted


def test_an_id_never_listed_is_reported_not_unlisted(server, tmp_path):
    del server.models_dev["mistral"]["models"]["mistral-small-2603"]
    server.openrouter["data"] = [e for e in server.openrouter["data"] if e["id"] != "mistralai/mistral-small-2603"]
    server.publish()
    outcome = sync(server, tmp_path)
    assert outcome.plan.never_listed["mistral-small/la-plateforme"] == [
        "models.dev:mistral/mistral-small-2603", "openrouter:mistralai/mistral-small-2603"]
    assert not deployment(synced_catalog(tmp_path), "mistral-small", "la-plateforme").lifecycle.unlisted


def test_only_the_providers_own_listing_unlists_an_offer(server, tmp_path):
    """OpenRouter dropping a model is a note (a router's listing, not the provider's); models.dev's
    listing of the provider dropping the offer unlists it even while OpenRouter still lists the model."""
    sync(server, tmp_path)
    server.openrouter["data"] = [e for e in server.openrouter["data"] if e["id"] != "mistralai/mistral-small-2603"]
    server.publish()
    outcome = sync(server, tmp_path)
    assert any(n.startswith("mistral-small/la-plateforme: openrouter:mistralai/mistral-small-2603 is no longer listed")
               for n in outcome.plan.notes)
    assert not deployment(synced_catalog(tmp_path), "mistral-small", "la-plateforme").lifecycle.unlisted
    server.openrouter = recorded("openrouter-models.json.gz")
    del server.models_dev["mistral"]["models"]["mistral-small-2603"]
    server.publish()
    outcome = sync(server, tmp_path)
    row = next(r for r in outcome.plan.applied if r.offer == "mistral-small/la-plateforme" and r.fact == "lifecycle")
    assert row.new["unlisted"] and "openrouter:mistralai/mistral-small-2603 still lists the model" in row.new["note"]


def test_models_dev_deprecated_retires_an_offer_unless_another_listing_serves_it(server, tmp_path):
    server.models_dev["mistral"]["models"]["mistral-small-2603"]["status"] = "deprecated"
    server.publish()
    sync(server, tmp_path)
    still_on_openrouter = deployment(synced_catalog(tmp_path), "mistral-small", "la-plateforme")
    assert still_on_openrouter.lifecycle.status == "active"  # OpenRouter still serves it
    server.openrouter["data"] = [e for e in server.openrouter["data"] if e["id"] != "mistralai/mistral-small-2603"]
    server.publish()
    sync(server, tmp_path)
    gone = deployment(synced_catalog(tmp_path), "mistral-small", "la-plateforme")
    assert gone.lifecycle.status == "retired"
    _, candidates = picks_and_candidates(synced_catalog(tmp_path))
    assert ("mistral-small", "la-plateforme") not in candidates


def test_an_announced_deprecation_is_dated_and_only_picked_when_nothing_active_fits(server, tmp_path):
    ends = TODAY + timedelta(days=30)
    server.openrouter_entry("mistralai/mistral-small-2603")["expiration_date"] = ends.isoformat()
    server.publish()
    sync(server, tmp_path)
    catalog = synced_catalog(tmp_path)
    life = deployment(catalog, "mistral-small", "la-plateforme").lifecycle
    assert (life.status, life.date) == ("deprecated", ends)
    _, candidates = picks_and_candidates(catalog)
    assert ("mistral-small", "la-plateforme") not in candidates  # active offers fit this project


def narrowed(catalog, allowed: set[tuple[str, str]], today: date):
    """The catalog with only the `allowed` (model, deployment) offers, judged on `today`."""
    from dataclasses import replace

    models = {mid: replace(m, deployments=tuple(d for d in m.deployments if (mid, d.id) in allowed))
              for mid, m in catalog.models.items()}
    return replace(catalog, models=models, today=today)


def test_a_deprecated_pick_when_nothing_else_fits_carries_its_date_and_successor_on_page_one():
    """Only the deprecated Mistral Medium 3.5 API is left: it is picked, and page 1 says until when
    and what replaces it; after its date it is retired and nothing is picked."""
    from modelmemo.memo.digest import decision_digest
    from modelmemo.memo.document import RunContext, make_memo

    catalog = narrowed(load_catalog([CATALOG]), {("mistral", "la-plateforme")}, date(2026, 12, 7))
    req = Requirements.from_data(requirements())
    memo, decision = make_memo(req, catalog, RunContext("r1", "2026-12-07T00:00:00+00:00", "t.yaml", "0" * 64))
    assert decision.recommended_ids == ["mistral"]
    assert any(n.startswith("Deprecated pick:") and "2026-12-14" in n for n in decision.notes)
    entry = next(r for r in memo["ranking"] if r["model"] == "mistral")
    assert entry["lifecycle"]["status"] == "deprecated" and entry["lifecycle"]["date"] == "2026-12-14"
    assert entry["lifecycle"]["successor"] == "Mistral Large 4"  # its offers are not in this catalog: the model
    flags = {f["key"]: f for f in decision_digest(memo)["flags"]}
    assert "2026-12-14" in flags["deprecated"]["detail"] and "Mistral Large 4" in flags["deprecated"]["detail"]
    later = narrowed(catalog, {("mistral", "la-plateforme")}, date(2026, 12, 15))
    after = decide(req, later)
    assert after.recommended_ids == []
    assert any("retired on 2026-12-14" in r for r in after.excluded["mistral"])


def test_with_an_active_offer_that_fits_a_deprecated_one_is_never_picked():
    catalog = load_catalog([CATALOG], today=date(2026, 12, 7))
    for tasks in (["chat"], ["code"], ["summarization", "translation"]):
        decision = decide(Requirements.from_data(requirements(**{"needs.tasks": tasks})), catalog)
        assert ("mistral", "la-plateforme") not in {(c.model_id, c.deployment_id) for c in decision.candidates
                                                    if c.key in decision.pool}
        chosen = [decision.scores[m] for m in decision.recommended_ids + list(decision.challengers)]
        assert all(s.deployment.lifecycle.status != "deprecated" for s in chosen), tasks


def test_a_price_moving_more_than_three_times_is_held_for_review(server):
    """models.dev alone (genai-prices, preferred for prices, would otherwise price the offer)."""
    from modelmemo.catalog.listings import parse_models_dev
    from modelmemo.catalog.sync import plan_sync

    catalog = load_catalog([CATALOG])
    current = deployment(catalog, "gpt-oss-120b", "groq-api").value("input_usd_per_1m")
    server.models_dev["groq"]["models"]["openai/gpt-oss-120b"]["cost"]["input"] = current * 5
    listing = parse_models_dev(json.dumps(server.models_dev).encode(), "recorded", TODAY)
    plan = plan_sync(catalog, {"models.dev": listing}, TODAY)
    held = [r for r in plan.held if r.offer == "gpt-oss-120b/groq-api" and r.fact == "input_usd_per_1m"]
    assert held and held[0].new == current * 5 and "not applied" in held[0].line()
    assert "input_usd_per_1m" not in plan.updates.get("gpt-oss-120b/groq-api", {}).get("facts", {})
    server.models_dev["groq"]["models"]["openai/gpt-oss-120b"]["cost"]["input"] = current * 2  # within 3x
    listing = parse_models_dev(json.dumps(server.models_dev).encode(), "recorded", TODAY)
    plan = plan_sync(catalog, {"models.dev": listing}, TODAY)
    assert plan.updates["gpt-oss-120b/groq-api"]["facts"]["input_usd_per_1m"]["value"] == current * 2


def test_sync_cli_prints_the_diff_and_a_bad_source_keeps_the_last_good_sync(server, tmp_path):
    env = {"MODELMEMO_SOURCE_MODELS_DEV": server.models_dev_url, "MODELMEMO_SOURCE_OPENROUTER": server.openrouter_url}
    server.models_dev["mistral"]["models"]["mistral-small-2603"]["limit"]["context"] = 123_456
    server.publish()
    done = run_modelmemo("catalog", "sync", "--output", str(tmp_path), extra_env=env)
    assert done.returncode in (0, 1), done.stderr
    assert "mistral-small/la-plateforme: context_tokens" in done.stdout and "123,456" in done.stdout
    assert "models.dev:mistral/mistral-small-2603" in done.stdout
    stored = synced_file(tmp_path).read_bytes()
    shown = run_modelmemo("catalog", "--json", "--output", str(tmp_path), extra_env=env)
    models = {m["id"]: m for m in json.loads(shown.stdout)["models"]}
    small = models["mistral-small"]["details"]["deployments"][0]
    assert small["facts"]["context_tokens"]["value"] == 123456
    assert "models.dev:mistral/mistral-small-2603" in small["synced_from"]
    # Unreachable, malformed: one line, exit 2, the stored sync unchanged.
    for bad in ({"MODELMEMO_SOURCE_MODELS_DEV": "http://127.0.0.1:9/api.json"},
                {"MODELMEMO_SOURCE_OPENROUTER": server.models_dev_url.replace("/api.json", "/missing")}):
        failed = run_modelmemo("catalog", "sync", "--output", str(tmp_path), extra_env={**env, **bad})
        assert failed.returncode == 2
        assert len(failed.stderr.strip().splitlines()) == 1 and "catalog sync:" in failed.stderr
        assert "Traceback" not in failed.stderr
        assert synced_file(tmp_path).read_bytes() == stored
    server.docs["/api.json"] = b'{"groq": {"models": '
    failed = run_modelmemo("catalog", "sync", "--output", str(tmp_path), extra_env=env)
    assert failed.returncode == 2 and "not valid JSON" in failed.stderr
    assert synced_file(tmp_path).read_bytes() == stored


def test_a_huge_or_wrongly_shaped_listing_is_refused(server, tmp_path):
    with pytest.raises(SourceUnavailable, match="larger than|more than"):
        read_listing("models.dev", server.models_dev_url, max_bytes=1024 * 1024)
    server.docs["/api.json"] = json.dumps({"groq": {"name": "Groq"}}).encode()
    with pytest.raises(SyncFailed, match="no 'models' object"):
        sync(server, tmp_path)
    server.docs["/api.json"] = json.dumps(
        {"groq": {"models": {"x": {"cost": {"input": "cheap"}}}}}).encode()
    with pytest.raises(SyncFailed, match="groq/x.cost.input: expected a number"):
        sync(server, tmp_path)
    assert not synced_file(tmp_path).exists()


def test_a_local_file_is_a_source_too(server, tmp_path):
    mirror = tmp_path / "mirror.json"
    mirror.write_bytes(server.docs["/api.json"])
    outcome = sync_catalog((CATALOG,), tmp_path / "out", str(mirror), server.openrouter_url)
    assert outcome.plan.listings["models.dev"].offer_count == 5276
    source = synced_catalog(tmp_path / "out").sources["sync-models-dev"]
    assert source.url == "https://models.dev/api.json" and f"read from the mirror {mirror}" in source.title


def test_a_passed_deprecation_date_fails_catalog_check_by_name(tmp_path):
    """An offer still marked deprecated after its date: `catalog --check` names it, exit 1."""
    import yaml

    from modelmemo.catalog.freshness import passed_deprecations

    assert passed_deprecations(load_catalog([CATALOG]), date(2026, 12, 7)) == []
    (late,) = passed_deprecations(load_catalog([CATALOG]), date(2026, 12, 15))
    assert late.startswith("mistral/la-plateforme: deprecated until 2026-12-14, which has passed")
    data = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    model = data["models"]["mistral-small"]
    model["override"] = True
    model["deployments"][0]["lifecycle"] = {"value": "deprecated", "date": "2020-01-31",
                                            "successor": "mistral-large", "source": "article"}
    extension = tmp_path / "ext.yaml"
    extension.write_text(yaml.safe_dump({"catalog_version": 1, "sources": {}, "models": {"mistral-small": model}}),
                         encoding="utf-8")
    done = run_modelmemo("catalog", "--check", "--catalog-extra", str(extension), "--output", str(tmp_path))
    assert done.returncode == 1
    assert "mistral-small/la-plateforme: deprecated until 2020-01-31, which has passed" in done.stderr
    decision = decide(Requirements.from_data(requirements()), load_catalog([CATALOG, extension]))
    assert ("mistral-small", "la-plateforme") not in {(c.model_id, c.deployment_id) for c in decision.candidates}


def test_a_synced_price_change_reissues_exactly_the_memos_whose_decision_used_the_offer(tmp_path):
    """Three projects; a sync moves the price of an offer only one of them scored (the others are
    on premises, or need images): the next run re-renders that memo alone and keeps the others;
    a sync that changes nothing re-renders nothing."""
    from modelmemo.batch.pipeline import run_batch
    from modelmemo.catalog.sync import SOURCE_KEYS

    from .conftest import TEMPLATES, copy_examples
    from .support_renderer import FAKE_PDF

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    copy_examples(inputs, ["sales-email-drafts", "clinical-notes-onprem", "marketing-images"])
    output = tmp_path / "out"
    overlay = synced_file(output)
    overlay.parent.mkdir(parents=True)

    def write_overlay(price: float) -> None:
        facts = {"input_usd_per_1m": {"value": price, "source": SOURCE_KEYS["genai-prices"],
                                      "synced_id": "genai-prices:openai/gpt-6-luna"}}
        overlay.write_text(json.dumps({
            "catalog_version": 1, "models": {},
            "sources": {SOURCE_KEYS["genai-prices"]: {"url": "https://pypi.org/project/genai-prices/",
                                                      "as_of": TODAY.isoformat()}},
            "offer_updates": {"chatgpt-luna/openai-api": {"facts": facts}}}), encoding="utf-8")

    def run():
        summary = run_batch(inputs, output, with_synced((CATALOG,), output), TEMPLATES, renderer=FAKE_PDF,
                            deliver=False)
        return {p.project_id: p.status for p in summary.projects}

    write_overlay(0.10)
    assert set(run().values()) == {"memo"}
    assert set(run().values()) == {"skipped"}  # nothing changed
    write_overlay(0.40)
    assert run() == {"sales-email-drafts": "memo", "clinical-notes-onprem": "skipped", "marketing-images": "skipped"}
    latest = (output / "LATEST").read_text().strip()
    memo = json.loads((output / latest / "sales-email-drafts.json").read_text(encoding="utf-8"))
    luna = next(r for r in memo["ranking"] if (r["model"], r["deployment"]) == ("chatgpt-luna", "openai-api"))
    assert "genai-prices:openai/gpt-6-luna" in luna["synced_from"]
    assert set(run().values()) == {"skipped"}


def test_data_residency_is_met_by_the_route_or_the_offer_is_excluded():
    catalog = load_catalog([CATALOG])
    eu = decide(Requirements.from_data(requirements(**{"security.data_residency": ["EU"]})), catalog)
    assert eu.candidates
    for candidate in eu.candidates:
        d = candidate.deployment
        if d.is_api:
            regions = d.value("data_residency")
            assert isinstance(regions, list) and "EU" in regions, (candidate.model_id, d.id, regions)
    assert any("data must stay in EU, but the offer guarantees no such region" in r
               for r in _deployment_reasons(catalog))
    jp = decide(Requirements.from_data(requirements(**{"security.data_residency": ["JP"]})), catalog)
    assert all(not c.deployment.is_api for c in jp.candidates)  # no hosted offer guarantees Japan: self-host


def _deployment_reasons(catalog):
    from modelmemo.decision.eligibility import deployment_exclusions

    req = Requirements.from_data(requirements(**{"security.data_residency": ["EU"]}))
    return [r for m in catalog.models.values() for d in m.deployments
            for r in deployment_exclusions(d, m, req, req.tasks, catalog)]


def test_the_nightly_flow_syncs_first_and_runs_on_with_the_last_good_sync(prefect_api, server, tmp_path, monkeypatch):
    """The deployment's `sync_catalog` parameter: the flow syncs, then renders with the synced
    facts; with a listing down it logs one warning and renders with the last good sync; with
    MODELMEMO_NIGHTLY_SYNC=false it does not sync at all."""
    from flows.batch import memo_batch
    from flows.deployment import nightly_deployment

    from .conftest import copy_examples

    assert nightly_deployment().parameters["sync_catalog"] is True
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    copy_examples(inputs, ["sales-email-drafts"])
    output = tmp_path / "out"
    monkeypatch.setenv("MODELMEMO_SOURCE_MODELS_DEV", server.models_dev_url)
    monkeypatch.setenv("MODELMEMO_SOURCE_OPENROUTER", server.openrouter_url)

    def run(run_id: str):
        state = memo_batch(input_dir=str(inputs), output_dir=str(output), run_id=run_id, workers=1,
                           send_email=False, sync_catalog=True, return_state=True)
        assert state.is_completed(), state.message

    run("synced")
    stored = synced_file(output).read_bytes()
    memo = json.loads((output / "synced" / "sales-email-drafts.json").read_text(encoding="utf-8"))
    assert any(r["synced_from"] for r in memo["ranking"])  # scored on synced facts
    monkeypatch.setenv("MODELMEMO_SOURCE_MODELS_DEV", "http://127.0.0.1:9/api.json")
    run("listing-down")
    assert synced_file(output).read_bytes() == stored
    synced_file(output).unlink()
    monkeypatch.setenv("MODELMEMO_SOURCE_MODELS_DEV", server.models_dev_url)
    monkeypatch.setenv("MODELMEMO_NIGHTLY_SYNC", "false")
    run("no-sync")
    assert not synced_file(output).exists()


def test_the_catalog_table_names_the_offers_that_are_not_active(tmp_path):
    done = run_modelmemo("catalog", "--output", str(tmp_path), extra_env={"COLUMNS": "1000"})
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("offers not active: ")]
    assert "llama-2/groq-api-scout retired 2026-07-17" in line  # Groq decommissioned it
    assert "mistral/la-plateforme " in line  # deprecated until 2026-12-14, retired after
