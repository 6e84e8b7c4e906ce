"""Where a candidate is called, under which name, with which key.

Three routes, all OpenAI-compatible (`POST {base}/chat/completions`, `POST {base}/embeddings`):

- a gateway (`MODELMEMO_PILOT_GATEWAY`: a LiteLLM proxy, OpenRouter) for every hosted offer, under
  the name the catalog's listing ids give it: OpenRouter's own id on openrouter.ai, else models.dev's
  `provider/model` (LiteLLM's convention); key from `MODELMEMO_PILOT_GATEWAY_KEY(_FILE)`;
- without a gateway, the provider's own OpenAI-compatible API (PROVIDERS), under the provider's
  model id, with the key variable models.dev names for that provider (`ANTHROPIC_API_KEY`, ...);
- self-hosted offers at `MODELMEMO_PILOT_SELF_HOSTED_URL` (vLLM, Ollama), under the catalog id (serve
  it under that name, or give one with `=NAME`), no key.

The catalog stores no API base URLs (its offers are priced routes, not client settings), so the
table below holds them, keyed by models.dev provider id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import urlsplit

from modelmemo.pilot.candidates import Candidate, PilotError
from modelmemo.settings import Settings

# models.dev provider id -> (OpenAI-compatible base URL, key variables as models.dev's `env` lists them).
# Base URLs: models.dev's `api` where it gives one (deepseek, alibaba), else the provider's documented
# OpenAI-compatibility endpoint. Cloud routes (azure, amazon-bedrock, google-vertex) sign requests
# with cloud credentials, not a bearer key: reach them through a gateway.
PROVIDERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "openai": ("https://api.openai.com/v1", ("OPENAI_API_KEY",)),
    "anthropic": ("https://api.anthropic.com/v1", ("ANTHROPIC_API_KEY",)),
    "google": ("https://generativelanguage.googleapis.com/v1beta/openai",
               ("GOOGLE_API_KEY", "GOOGLE_GENERATIVE_AI_API_KEY", "GEMINI_API_KEY")),
    "groq": ("https://api.groq.com/openai/v1", ("GROQ_API_KEY",)),
    "mistral": ("https://api.mistral.ai/v1", ("MISTRAL_API_KEY",)),
    "cohere": ("https://api.cohere.ai/compatibility/v1", ("COHERE_API_KEY",)),
    "deepseek": ("https://api.deepseek.com", ("DEEPSEEK_API_KEY",)),
    "alibaba": ("https://dashscope-intl.aliyuncs.com/compatible-mode/v1", ("DASHSCOPE_API_KEY",)),
}


@dataclass(frozen=True)
class Endpoint:
    base_url: str  # never with credentials (settings refuse them): results and messages name it
    via: str  # "gateway" | "provider" | "self-hosted"
    key: str | None = field(default=None, repr=False)  # never printed, cached or stored

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc


@dataclass(frozen=True)
class Route:
    """A candidate made callable."""

    candidate: Candidate
    endpoint: Endpoint
    called_as: str  # the model name sent
    provider: str  # concurrency group: requests in flight are limited per provider
    price_ref: tuple[str, str] | None  # (provider, model) in genai-prices, when it lists the offer


def listing_id(candidate: Candidate, source: str) -> str | None:
    """The offer's id in one listing (the part after `source:`), from the catalog's synced_from."""
    for entry in candidate.deployment.synced_from:
        if entry.startswith(source + ":"):
            return entry.split(":", 1)[1]
    return None


def _split(listed: str | None) -> tuple[str, str] | None:
    if not listed or "/" not in listed:
        return None
    provider, model = listed.split("/", 1)
    return provider, model


def provider_of(candidate: Candidate) -> str:
    if not candidate.deployment.is_api:
        return "self-hosted"
    split = _split(listing_id(candidate, "models.dev"))
    return split[0] if split else candidate.deployment.provider


def route_for(candidate: Candidate, settings: Settings, env: Mapping[str, str]) -> Route:
    """How to call a candidate; PilotError (one line: what is missing and how to give it) otherwise."""
    price = _split(listing_id(candidate, "genai-prices"))
    provider = provider_of(candidate)
    if not candidate.deployment.is_api:
        if not settings.pilot_self_hosted_url:
            raise PilotError(f"candidate {candidate.key} is self-hosted: set MODELMEMO_PILOT_SELF_HOSTED_URL to your "
                             "vLLM or Ollama server's OpenAI-compatible URL (e.g. http://127.0.0.1:8000/v1)")
        endpoint = Endpoint(settings.pilot_self_hosted_url, "self-hosted")
        return Route(candidate, endpoint, candidate.called_as or candidate.model.id, provider, None)
    if settings.pilot_gateway:
        endpoint = Endpoint(settings.pilot_gateway, "gateway", settings.pilot_gateway_key)
        openrouter = endpoint.host == "openrouter.ai" or endpoint.host.endswith(".openrouter.ai")
        name = candidate.called_as or listing_id(candidate, "openrouter" if openrouter else "models.dev")
        if not name:
            raise PilotError(f"candidate {candidate.key}: the catalog lists no name for it at "
                             f"{'OpenRouter' if openrouter else 'models.dev'}; give the gateway's name: "
                             f"--candidates {candidate.key}=provider/model")
        return Route(candidate, endpoint, name, provider, price)
    split = _split(listing_id(candidate, "models.dev"))
    if split is None or split[0] not in PROVIDERS:
        reason = f"{split[0]} signs requests with cloud credentials" if split else "the catalog names no API for it"
        raise PilotError(f"candidate {candidate.key}: {reason}; set MODELMEMO_PILOT_GATEWAY to a gateway that "
                         "serves it (a LiteLLM proxy, OpenRouter)")
    base_url, variables = PROVIDERS[split[0]]
    key = next((env[v].strip() for v in variables if env.get(v, "").strip()), None)
    if key is None:
        raise PilotError(f"candidate {candidate.key}: set {' or '.join(variables)} to your {split[0]} key, or "
                         "MODELMEMO_PILOT_GATEWAY to a gateway")
    return Route(candidate, Endpoint(base_url, "provider", key), candidate.called_as or split[1], provider, price)
