"""Which offers a pilot runs and how each is reached: the settings (with their bounds), the candidates
(named or the latest memo's), and the route, name and key of each (gateway, provider, self-hosted)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from modelmemo.pilot.candidates import (CandidateSpec, PilotError, latest_memo, memo_candidates, parse_candidate,
                                        resolve)
from modelmemo.pilot.endpoints import route_for
from modelmemo.settings import Settings, SettingsError, check_environment, readme_table

from .conftest import ROOT
from .pilot_helpers import HAIKU, KEY, PICK, write_memo


def test_pilot_settings_are_parsed_with_bounds_and_the_key_is_not_in_repr(tmp_path: Path):
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    settings = check_environment({"MODELMEMO_PILOT_GATEWAY": "http://127.0.0.1:4000/v1/",
                                  "MODELMEMO_PILOT_GATEWAY_KEY_FILE": str(key_file),
                                  "MODELMEMO_PILOT_CONCURRENCY": "8", "MODELMEMO_PILOT_RETRIES": "0"})
    assert settings.pilot_gateway == "http://127.0.0.1:4000/v1" and settings.pilot_gateway_key == KEY
    assert (settings.pilot_concurrency, settings.pilot_retries) == (8, 0) and KEY not in repr(settings)
    default = Settings.from_env({})
    assert (default.pilot_gateway, default.pilot_concurrency, default.pilot_timeout_seconds) == (None, 4, 120.0)


@pytest.mark.parametrize("name, value, allowed", [
    ("MODELMEMO_PILOT_CONCURRENCY", "0", "whole number from 1 to 64"),
    ("MODELMEMO_PILOT_CONCURRENCY", "65", "whole number from 1 to 64"),
    ("MODELMEMO_PILOT_RETRIES", "11", "whole number from 0 to 10"),
    ("MODELMEMO_PILOT_TIMEOUT_SECONDS", "601", "above 0 and at most 600"),
    ("MODELMEMO_PILOT_BACKOFF_SECONDS", "0", "above 0 and at most 60"),
    ("MODELMEMO_PILOT_GATEWAY", "openrouter.ai/api/v1", "http:// or https:// base URL"),
    ("MODELMEMO_PILOT_SELF_HOSTED_URL", "http://127.0.0.1:8000/v1?x=1", "without credentials, query"),
])
def test_a_bad_pilot_setting_names_the_variable_and_what_is_allowed(name, value, allowed):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: value})
    assert str(caught.value).startswith(name) and allowed in str(caught.value)


def test_a_url_with_credentials_is_refused_without_printing_them():
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"MODELMEMO_PILOT_GATEWAY": f"https://user:{KEY}@gateway.example/v1"})
    assert KEY not in str(caught.value)
    with pytest.raises(SettingsError, match="not both"):
        Settings.from_env({"MODELMEMO_PILOT_GATEWAY_KEY": "a", "MODELMEMO_PILOT_GATEWAY_KEY_FILE": "/nonexistent"})


def test_readme_shows_the_pilot_settings_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- settings:pilot -->\n(.*?)\n<!-- /settings:pilot -->", readme, re.S)
    assert found and found.group(1) == readme_table("pilot")


def test_candidate_specs_parse_and_resolve(catalog):
    assert parse_candidate("claude/anthropic-api=anthropic/claude-sonnet-4") == \
        CandidateSpec("claude", "anthropic-api", "anthropic/claude-sonnet-4")
    for bad in ("Claude", "claude/", "claude=", "claude name"):
        with pytest.raises(ValueError, match="MODEL\\[/DEPLOYMENT\\]\\[=NAME\\]"):
            parse_candidate(bad)
    assert resolve(CandidateSpec("gpt-oss-120b"), catalog, "named").deployment.id == "groq-api"  # the hosted offer first
    with pytest.raises(PilotError, match="no deployment 'nope' \\(offers: groq-api, self-hosted-1x-h100\\)"):
        resolve(CandidateSpec("gpt-oss-120b", "nope"), catalog, "named")
    with pytest.raises(PilotError, match="no model 'claud' in the catalog \\(close: claude"):
        resolve(CandidateSpec("claud"), catalog, "named")


def test_the_newest_run_folder_with_the_projects_memo_is_read(tmp_path: Path):
    write_memo(tmp_path, [PICK], [HAIKU, PICK], run_id="20261101T020000Z-aaaa")
    newer = write_memo(tmp_path, [HAIKU], run_id="20261102T020000Z-bbbb")
    write_memo(tmp_path, [PICK], project_id="other", run_id="20261103T020000Z-cccc")  # another project's newer run
    assert latest_memo(tmp_path, "pilot-project") == newer
    assert memo_candidates(latest_memo(tmp_path, "pilot-project")) == ((CandidateSpec("claude-haiku", "anthropic-api"),
                                                                        "pick"),)
    older = tmp_path / "20261101T020000Z-aaaa" / "pilot-project.json"
    assert [role for _, role in memo_candidates(older)] == ["pick", "challenger"]  # each offer once
    assert latest_memo(tmp_path, "missing") is None
    older.write_text("{not json")
    with pytest.raises(PilotError, match="not a readable memo"):
        memo_candidates(older)


def _settings(**env: str) -> Settings:
    return Settings.from_env(env)


def test_routes_through_a_litellm_gateway_openrouter_or_the_providers_own_api(catalog):
    claude = resolve(CandidateSpec("claude"), catalog, "pick")
    litellm = route_for(claude, _settings(MODELMEMO_PILOT_GATEWAY="http://127.0.0.1:4000/v1"), {})
    assert (litellm.called_as, litellm.endpoint.via, litellm.provider) == ("anthropic/claude-sonnet-5-5", "gateway",
                                                                          "anthropic")
    openrouter = route_for(claude, _settings(MODELMEMO_PILOT_GATEWAY="https://openrouter.ai/api/v1"), {})
    assert openrouter.called_as == "anthropic/claude-sonnet-5.5"  # OpenRouter's own id
    direct = route_for(claude, _settings(), {"ANTHROPIC_API_KEY": KEY})
    assert (direct.endpoint.base_url, direct.called_as, direct.endpoint.key) == ("https://api.anthropic.com/v1",
                                                                               "claude-sonnet-5-5", KEY)
    assert direct.price_ref == ("anthropic", "claude-sonnet-5-5") and KEY not in repr(direct)
    groq = route_for(resolve(CandidateSpec("gpt-oss-120b"), catalog, "pick"), _settings(), {"GROQ_API_KEY": "k"})
    assert (groq.endpoint.base_url, groq.called_as) == ("https://api.groq.com/openai/v1", "openai/gpt-oss-120b")


def test_a_route_that_cannot_be_called_says_what_to_set(catalog):
    claude = resolve(CandidateSpec("claude"), catalog, "pick")
    with pytest.raises(PilotError, match="set ANTHROPIC_API_KEY to your anthropic key, or MODELMEMO_PILOT_GATEWAY"):
        route_for(claude, _settings(), {})
    bedrock = resolve(CandidateSpec("claude", "amazon-bedrock"), catalog, "pick")
    with pytest.raises(PilotError, match="amazon-bedrock signs requests with cloud credentials; set "
                                         "MODELMEMO_PILOT_GATEWAY"):
        route_for(bedrock, _settings(), {"AWS_ACCESS_KEY_ID": "x"})
    own = resolve(CandidateSpec("qwen", "self-hosted-1x-h100"), catalog, "pick")
    with pytest.raises(PilotError, match="self-hosted: set MODELMEMO_PILOT_SELF_HOSTED_URL"):
        route_for(own, _settings(), {})
    served = route_for(own, _settings(MODELMEMO_PILOT_SELF_HOSTED_URL="http://127.0.0.1:11434/v1"), {})
    assert (served.called_as, served.endpoint.key, served.provider) == ("qwen", None, "self-hosted")
    opennmt = resolve(CandidateSpec("mistral", "la-plateforme"), catalog, "pick")  # listed: name from models.dev
    assert route_for(opennmt, _settings(MODELMEMO_PILOT_GATEWAY="http://gw.example/v1"), {}).called_as == \
        "mistral/mistral-medium-2604"
    unlisted = resolve(CandidateSpec("stable-diffusion", "stability-api"), catalog, "pick")
    with pytest.raises(PilotError, match="lists no name for it at models.dev; give the gateway's name"):
        route_for(unlisted, _settings(MODELMEMO_PILOT_GATEWAY="http://gw.example/v1"), {})
