"""Issue 23: a catalog figure that is not finite or far outside any real offer's (a `--catalog-extra`
price of 1e308 turned into infinite costs and `Infinity` in memo JSON) is refused when the catalog
is read, in one line naming the file, the line, the field and a fix; memo JSON is strict JSON."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from modelmemo.catalog.load import CatalogError, load_catalog

from .conftest import CATALOG, ROOT, TEMPLATES, copy_examples
from .helpers import free_port

# An extension with one API model; {price}, {context}, {as_of} and {quality} are filled in per case.
EXTENSION = """\
catalog_version: 1
sources:
  my-page:
    url: https://example.com/prices
    title: "our price sheet"
    as_of: '{as_of}'
quality_scales:
  our-eval: {{kind: percent, title: "our 200-ticket test set", source: my-page}}
models:
  cheapo:
    name: Cheapo
    vendor: Example
    summary: A model with a price someone mistyped.
    facts:
      openness: {{value: closed-source, source: my-page}}
      license: {{value: Proprietary, source: my-page}}
      commercial_use: {{value: "allowed", source: my-page}}
      open_weights: {{value: 'no', source: my-page}}
      tasks: {{value: [chat, text-generation, summarization, code, classification], source: my-page}}
      languages: {{value: any, source: my-page}}
      context_tokens: {{value: {context}, source: my-page}}
      parameters: {{value: unknown, source: my-page}}
      lifecycle: {{value: active, source: my-page}}
    quality:
      chat: {{value: {quality}, ci: 2.0, scale: our-eval, source: my-page}}
    deployments:
      - id: api
        kind: api
        provider: Example
        input_usd_per_1m: {{value: {price}, source: my-page}}
        output_usd_per_1m: {{value: {price}, source: my-page}}
        vendor_fine_tuning: {{value: 'no', source: my-page}}
        data_residency: {{value: unknown, source: my-page}}
        trains_on_prompts: {{value: 'no', source: my-page}}
        retention: {{value: "30 days", source: my-page}}
        soc2: {{value: 'yes', source: my-page}}
        hipaa_baa: {{value: 'no', source: my-page}}
        sla: {{value: 'yes', source: my-page}}
        vendor_support: {{value: 'yes', source: my-page}}
"""
SANE = {"price": "2.5", "context": "128000", "as_of": "2026-11-01", "quality": "71.5"}
PRICE_LINE = 30  # the input_usd_per_1m line of EXTENSION


def extension(folder: Path, name: str = "extra.yaml", **values: str) -> Path:
    path = folder / name
    path.write_text(EXTENSION.format(**{**SANE, **values}), encoding="utf-8")
    return path


def test_the_extension_template_is_a_valid_catalog(tmp_path):
    assert EXTENSION.splitlines()[PRICE_LINE - 1].strip().startswith("input_usd_per_1m:")
    catalog = load_catalog([CATALOG, extension(tmp_path)])
    assert catalog.models["cheapo"].deployments[0].value("input_usd_per_1m") == 2.5


@pytest.mark.parametrize("values, line, field, said", [
    ({"price": "1e308"}, PRICE_LINE, "models.cheapo.deployments[0].input_usd_per_1m",
     "1e+308 is not a sane token price (allowed: 0 to 10,000 USD per 1M tokens); check the digits and the unit"),
    ({"price": ".inf"}, PRICE_LINE, "models.cheapo.deployments[0].input_usd_per_1m",
     ".inf is not a finite number; write the token price as a number from 0 to 10,000 USD per 1M tokens"),
    ({"price": ".nan"}, PRICE_LINE, "models.cheapo.deployments[0].input_usd_per_1m", ".nan is not a finite number"),
    ({"price": "-.inf"}, PRICE_LINE, "models.cheapo.deployments[0].input_usd_per_1m", "-.inf is not a finite number"),
    ({"context": "1e12"}, 21, "models.cheapo.facts.context_tokens",
     "is not a sane context window (allowed: 0 to 100,000,000 tokens)"),
    ({"quality": "715"}, 25, "models.cheapo.quality.chat",
     "715 is not a sane score (allowed: 0 to 100 on a 0-100 scale); check the figure and that its scale is a percent"),
    ({"as_of": "3026-11-01"}, 6, "sources.my-page.as_of", "3026-11-01 is outside 2000-01-01 to 2100-12-31; check the year"),
])
def test_an_absurd_or_non_finite_catalog_figure_is_one_line_naming_file_line_field_and_fix(tmp_path, values, line,
                                                                                         field, said):
    path = extension(tmp_path, **values)
    with pytest.raises(CatalogError) as caught:
        load_catalog([CATALOG, path])
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}:") and f": {field}: " in message and said in message, message


def test_a_json_extension_is_held_to_the_same_bounds(tmp_path):
    import yaml

    data = yaml.safe_load(EXTENSION.format(**SANE))
    data["models"]["cheapo"]["deployments"][0]["output_usd_per_1m"]["value"] = 1e308
    path = tmp_path / "extra.json"
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "1e+308" in text)
    with pytest.raises(CatalogError, match=rf"^{re.escape(str(path))}:{line}:\d+: models\.cheapo\.deployments\[0\]"
                                           r"\.output_usd_per_1m: 1e\+308 is not a sane token price"):
        load_catalog([CATALOG, path])


def test_an_elo_figure_is_bounded_on_its_own_scale_declared_in_an_earlier_file(tmp_path):
    """The shipped catalog declares arena-text-to-image (elo); an extension's evidence on it is
    held to the elo bounds, and a figure fine as an elo rating (1250) is fine."""
    text = EXTENSION.format(**SANE).replace("scale: our-eval", "scale: arena-text-to-image")
    path = tmp_path / "extra.yaml"
    path.write_text(text.replace("value: 71.5", "value: 1250"), encoding="utf-8")
    assert load_catalog([CATALOG, path]).models["cheapo"].quality["chat"].value == 1250
    path.write_text(text.replace("value: 71.5", "value: 1e9"), encoding="utf-8")
    with pytest.raises(CatalogError, match=r"models\.cheapo\.quality\.chat: 1,000,000,000 is not a sane rating "
                                           r"\(allowed: 0 to 10,000 rating points\)"):
        load_catalog([CATALOG, path])


def test_run_with_a_1e308_catalog_extra_stops_before_any_input_in_one_line(tmp_path):
    """The reported case, end to end: `run --catalog-extra` refuses the file at its check (exit 2,
    one line naming file, line and field) before Prefect or any input is touched: the API URL
    points at a closed port, so a run that got past the catalog would say so instead."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    copy_examples(inputs, ["support-chatbot"])
    path = extension(tmp_path, price="1e308")
    env = {"PATH": "/usr/bin:/bin", "PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api",
           "MODELMEMO_SETTLE_SECONDS": "0", "HOME": str(tmp_path)}
    for command in (["run", str(inputs), "--output", str(tmp_path / "out"), "--catalog-extra", str(path)],
                    ["catalog", "--output", str(tmp_path / "out"), "--catalog-extra", str(path)]):
        result = subprocess.run([sys.executable, "-m", "modelmemo.cli", *command], cwd=tmp_path, capture_output=True,
                                text=True, timeout=120, env={**env, "PYTHONPATH": str(ROOT)})
        assert result.returncode == 2, result.stderr
        assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert f"{path}:{PRICE_LINE}:" in result.stderr and "input_usd_per_1m: 1e+308 is not a sane token price" \
            in result.stderr
    assert not (tmp_path / "out").exists()


def test_memo_json_is_strict_json_a_non_finite_figure_fails_the_memo_by_name(tmp_path, monkeypatch):
    """Belt and braces: were the bounds ever bypassed (here on purpose), a memo whose figures
    overflow fails alone, naming where, instead of writing `Infinity` into its JSON."""
    from modelmemo.batch import pipeline
    from modelmemo.batch.work_unit import BundlePaths, render_unit
    from modelmemo.catalog import load

    monkeypatch.setattr(load, "number_problems", lambda *args: [], raising=False)  # the bug to survive
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    copy_examples(inputs, ["support-chatbot"])  # its volume makes a 1e308 price overflow to inf
    files = (CATALOG, extension(tmp_path, price="1e308"))
    plan = pipeline.plan_batch(inputs)
    (job,) = pipeline.make_jobs(plan.projects, tmp_path / "run", "r", "2026-11-28T00:00:00+00:00", files, TEMPLATES, "fp")
    result = render_unit(pipeline.unit_from_job(job), BundlePaths(tuple(map(str, files)), str(TEMPLATES)))
    assert result.outcome.status == "failed" and result.memo_json is None
    assert re.search(r"the memo holds a number that is not finite at \S+", result.outcome.error), result.outcome.error


def test_memo_json_from_a_worker_with_infinity_is_not_written(tmp_path):
    from modelmemo.batch import pipeline
    from modelmemo.batch.work_unit import UnitResult, check_result, replace_outcome, failed_outcome

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    copy_examples(inputs, ["ticket-triage"])
    plan = pipeline.plan_batch(inputs)
    (job,) = pipeline.make_jobs(plan.projects, tmp_path / "run", "r", "2026-11-28T00:00:00+00:00", (CATALOG,),
                                TEMPLATES, "fp")
    unit = pipeline.unit_from_job(job)
    outcome = replace_outcome(failed_outcome(unit.project, "r", "fp", ""), status="memo", error=None)
    memo = b'{"input_sha256": "%s", "run_id": "r", "cost": Infinity}' % unit.project.input_sha256.encode()
    problem = check_result(unit, UnitResult(outcome, memo, b"<html>", b"%PDF-1.7"))
    assert problem and "Infinity" in problem


def test_sync_holds_a_listed_figure_outside_the_bounds_instead_of_breaking_the_catalog():
    from modelmemo.catalog.listings import ListedOffer, Listing
    from modelmemo.catalog.sync import plan_sync

    today = date(2026, 12, 7)
    catalog = load_catalog([CATALOG], today=today)
    source_id = "models.dev:groq/openai/gpt-oss-120b"
    listing = Listing("models.dev", "recorded", today,
                      {"groq": {source_id: ListedOffer(source_id, context_tokens=10**12)}})
    plan = plan_sync(catalog, {"models.dev": listing}, today)
    held = [r for r in plan.held if r.offer == "gpt-oss-120b/groq-api" and r.fact == "context_tokens"]
    assert held and "outside the catalog's bounds (0 to 100,000,000 tokens); not applied" in held[0].line()
    assert plan.updates.get("gpt-oss-120b/groq-api", {}).get("facts", {}).get("context_tokens", {}).get("value") \
        != 10**12


def test_readme_catalog_bounds_table_is_rendered_from_the_one_bounds_table():
    from modelmemo.catalog.bounds import readme_table

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- catalog:bounds -->\n(.*?)\n<!-- /catalog:bounds -->", readme, re.S)
    assert found and found.group(1) == readme_table(), "README's catalog bounds table differs from catalog/bounds.py"
