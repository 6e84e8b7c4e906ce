"""Public machine-readable listings of model offers, parsed into one shape.

Three sources, each named by the prefix its ids carry in a deployment's `synced_from`:

- `models.dev`: models.dev's `api.json` ({provider id: {..., "models": {model id: {cost, limit,
  open_weights, release_date, last_updated, status}}}}); an id is `models.dev:<provider>/<model>`.
  `status: deprecated` there means the provider no longer serves the model on its public API.
- `openrouter`: OpenRouter's models API (`{"data": [{id, context_length, pricing {prompt,
  completion} in USD per token, top_provider {max_completion_tokens}, expiration_date}]}`); an id
  is `openrouter:<id>`. `expiration_date` is an announced deprecation date.
- `genai-prices`: pydantic's genai-prices package data (token prices per provider and model, with
  their history and deprecations); an id is `genai-prices:<provider>/<model>`.

A listing is *complete* for a provider when the source lists that provider at all: an offer of
that provider missing from it is no longer listed. Parsing is pure; fetching is catalog/fetch.py.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any


class ListingError(Exception):
    """A source's document is not in the format its parser expects (one line: what and where)."""


@dataclass(frozen=True)
class ListedOffer:
    """One offer as one source lists it; None where the source says nothing."""

    source_id: str  # e.g. "models.dev:groq/meta-llama/llama-4-scout-17b-16e-instruct"
    input_usd_per_1m: float | None = None
    output_usd_per_1m: float | None = None
    context_tokens: int | None = None
    max_output_tokens: int | None = None
    status: str = "active"  # active | preview | deprecated | retired
    deprecation_date: date | None = None  # announced date the offer stops being served
    open_weights: bool | None = None
    release_date: date | None = None
    last_updated: date | None = None
    note: str = ""  # what the reader should know about the figure (e.g. a price change within the horizon)


@dataclass(frozen=True)
class Listing:
    """Everything one source lists, by provider (the part of an id before the first '/')."""

    source: str  # "models.dev" | "openrouter" | "genai-prices"
    url: str
    fetched: date
    providers: dict[str, dict[str, ListedOffer]] = field(default_factory=dict)

    def find(self, source_id: str) -> ListedOffer | None:
        provider = provider_of(source_id)
        return self.providers.get(provider, {}).get(source_id)

    def lists_provider(self, source_id: str) -> bool:
        return provider_of(source_id) in self.providers

    def provider_as_of(self, source_id: str) -> date | None:
        """The newest date any entry of this provider was updated: how recent the listing is."""
        dates = [o.last_updated or o.release_date for o in self.providers.get(provider_of(source_id), {}).values()]
        known = [d for d in dates if d is not None]
        return max(known) if known else None

    @property
    def offer_count(self) -> int:
        return sum(len(models) for models in self.providers.values())


def source_of(source_id: str) -> str:
    """"models.dev:groq/x" -> "models.dev"."""
    return source_id.split(":", 1)[0]


def provider_of(source_id: str) -> str:
    """"models.dev:groq/meta-llama/x" -> "groq"; "openrouter:mistralai/x" -> "mistralai"."""
    return source_id.split(":", 1)[1].split("/", 1)[0]


def _date(value: Any) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    try:
        if len(text) == 7:  # models.dev gives some dates as YYYY-MM
            return date.fromisoformat(text + "-01")
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _number(value: Any, where: str) -> float | None:
    """A finite, non-negative number (strings of digits as OpenRouter writes them), else None;
    a value of the wrong kind is a format error naming where it is."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ListingError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ListingError(f"{where}: expected a number, got {value[:40]!r}") from None
    if not isinstance(value, (int, float)):
        raise ListingError(f"{where}: expected a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        return None  # OpenRouter prices "-1" for variable-priced routers: no price, not an error
    return number


def _whole(value: Any, where: str) -> int | None:
    number = _number(value, where)
    return None if number is None else int(number)


def parse_json(raw: bytes, source: str) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" at line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise ListingError(f"{source}: not valid JSON{where}") from None


_MODELS_DEV_STATUS = {None: "active", "alpha": "preview", "beta": "preview", "deprecated": "deprecated"}


def parse_models_dev(raw: bytes, url: str, fetched: date) -> Listing:
    """models.dev api.json -> Listing."""
    data = parse_json(raw, "models.dev")
    if not isinstance(data, dict) or not data:
        raise ListingError("models.dev: expected an object of providers (api.json)")
    providers: dict[str, dict[str, ListedOffer]] = {}
    for provider_id, provider in data.items():
        if not isinstance(provider, dict) or not isinstance(provider.get("models"), dict):
            raise ListingError(f"models.dev: provider {provider_id!r} has no 'models' object")
        offers: dict[str, ListedOffer] = {}
        for model_id, entry in provider["models"].items():
            where = f"models.dev: {provider_id}/{model_id}"
            if not isinstance(entry, dict):
                raise ListingError(f"{where}: expected an object")
            cost = entry.get("cost") or {}
            limit = entry.get("limit") or {}
            if not isinstance(cost, dict) or not isinstance(limit, dict):
                raise ListingError(f"{where}: 'cost' and 'limit' must be objects")
            status = entry.get("status")
            if status not in _MODELS_DEV_STATUS:
                raise ListingError(f"{where}: unknown status {status!r}")
            source_id = f"models.dev:{provider_id}/{model_id}"
            offers[source_id] = ListedOffer(
                source_id, _number(cost.get("input"), f"{where}.cost.input"),
                _number(cost.get("output"), f"{where}.cost.output"),
                _whole(limit.get("context"), f"{where}.limit.context"),
                _whole(limit.get("output"), f"{where}.limit.output"),
                _MODELS_DEV_STATUS[status], None,
                entry.get("open_weights") if isinstance(entry.get("open_weights"), bool) else None,
                _date(entry.get("release_date")), _date(entry.get("last_updated")))
        providers[provider_id] = offers
    return Listing("models.dev", url, fetched, providers)


def parse_openrouter(raw: bytes, url: str, fetched: date, today: date) -> Listing:
    """OpenRouter's /api/v1/models -> Listing. Prices there are USD per token (strings)."""
    data = parse_json(raw, "openrouter")
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ListingError("openrouter: expected {\"data\": [models]} (the /api/v1/models format)")
    providers: dict[str, dict[str, ListedOffer]] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or "/" not in entry["id"]:
            raise ListingError(f"openrouter: data[{index}] has no 'vendor/model' id")
        where = f"openrouter: {entry['id']}"
        pricing = entry.get("pricing") or {}
        top = entry.get("top_provider") or {}
        if not isinstance(pricing, dict) or not isinstance(top, dict):
            raise ListingError(f"{where}: 'pricing' and 'top_provider' must be objects")
        per_token_in = _number(pricing.get("prompt"), f"{where}.pricing.prompt")
        per_token_out = _number(pricing.get("completion"), f"{where}.pricing.completion")
        expires = _date(entry.get("expiration_date"))
        status = "active" if expires is None else ("retired" if expires <= today else "deprecated")
        created = entry.get("created")
        released = (datetime.fromtimestamp(created, timezone.utc).date()
                    if isinstance(created, (int, float)) and not isinstance(created, bool) and created > 0 else None)
        source_id = f"openrouter:{entry['id']}"
        providers.setdefault(entry["id"].split("/", 1)[0], {})[source_id] = ListedOffer(
            source_id,
            None if per_token_in is None else round(per_token_in * 1_000_000, 6),
            None if per_token_out is None else round(per_token_out * 1_000_000, 6),
            _whole(entry.get("context_length"), f"{where}.context_length"),
            _whole(top.get("max_completion_tokens"), f"{where}.top_provider.max_completion_tokens"),
            status, expires, None, released, released)
    return Listing("openrouter", url, fetched, providers)


def _per_million(price: Any) -> float | None:
    """A genai-prices price per 1M tokens: a Decimal, or tiered by prompt length (the base tier, the
    price of a request under the first threshold, as the catalog's planning figures are)."""
    if price is None:
        return None
    price = getattr(price, "base", price)
    try:
        value = float(price)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


# Memos plan the coming months' cost: a price change genai-prices announces within this many days
# (an introductory rate ending, a list price starting) is the price to plan with.
PLANNING_HORIZON_DAYS = 90


def _prices_at(model: Any, moment: datetime) -> tuple[float | None, float | None]:
    try:
        price = model.get_prices(moment)
    except Exception:  # no price in force at that moment: listed, unpriced
        return None, None
    return _per_million(getattr(price, "input_mtok", None)), _per_million(getattr(price, "output_mtok", None))


def _change_date(model: Any, today: date, horizon: datetime) -> date | None:
    """The first date after today, within the horizon, on which a dated price of the model starts."""
    starts = [getattr(getattr(c, "constraint", None), "start_date", None)
              for c in (model.prices if isinstance(model.prices, list) else [])]
    dated = sorted(d for d in starts if isinstance(d, date) and today < d <= horizon.date())
    return dated[0] if dated else None


def genai_prices_listing(fetched: date, today: date) -> Listing:
    """The installed genai-prices package's data: every model's token price for planning, the higher
    of today's and the one in force PLANNING_HORIZON_DAYS from now (its date in the note)."""
    try:
        from genai_prices import data as prices_data
        from genai_prices import __version__ as prices_version
    except ImportError:
        raise ListingError("genai-prices: the package is not installed (pip install genai-prices)") from None
    now = datetime(today.year, today.month, today.day, tzinfo=timezone.utc)
    later = now + timedelta(days=PLANNING_HORIZON_DAYS)
    providers: dict[str, dict[str, ListedOffer]] = {}
    for provider in prices_data.providers:
        offers: dict[str, ListedOffer] = {}
        for model in provider.models:
            source_id = f"genai-prices:{provider.id}/{model.id}"
            current, coming = _prices_at(model, now), _prices_at(model, later)
            change = _change_date(model, today, later)
            rises = change is not None and any(y is not None and (x is None or y > x) for x, y in zip(current, coming))
            planned = tuple(max((v for v in pair if v is not None), default=None) for pair in zip(current, coming))
            note = (f"the price from {change.isoformat()}, within the {PLANNING_HORIZON_DAYS}-day planning "
                    f"horizon (until then ${current[0]:g} / ${current[1]:g} per 1M)"
                    if rises and None not in current else "")
            offers[source_id] = ListedOffer(source_id, planned[0], planned[1], model.context_window, None,
                                            "deprecated" if model.deprecated else "active", note=note)
        providers[provider.id] = offers
    return Listing("genai-prices", f"https://pypi.org/project/genai-prices/{prices_version}/", fetched, providers)
