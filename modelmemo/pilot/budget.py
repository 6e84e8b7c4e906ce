"""What a pilot costs: prices per request, the estimate before anything is called, the guard while
calls complete.

Prices come from genai-prices where it lists the offer (its `calc_price` on the token counts the
endpoint returned), else from the catalog's per-million prices for the offer. A self-hosted offer
has no price per request (its cost is GPU time, which the memo already estimates). Tokens of a
request not yet made are estimated as characters / 4; an answer as its reference's length, or
PILOT_MAX_OUTPUT_TOKENS without one (an upper bound).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from modelmemo.pilot.endpoints import Route
from modelmemo.pilot.prompts import Request
from modelmemo.settings import PILOT_MAX_OUTPUT_TOKENS


def estimate_tokens(characters: int) -> int:
    return math.ceil(characters / 4)


def estimated_usage(request: Request) -> tuple[int, int]:
    """(input, output) tokens of a request not made yet."""
    if request.kind == "embeddings":
        return estimate_tokens(request.characters), 0
    if request.purpose == "judge":
        return estimate_tokens(request.characters), 4
    reference = request.example.reference
    output = estimate_tokens(len(reference)) if reference else PILOT_MAX_OUTPUT_TOKENS
    return estimate_tokens(request.characters), output


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def request_cost(route: Route, kind: str, input_tokens: int | None,
                 output_tokens: int | None) -> tuple[float | None, str]:
    """(USD, where the price came from: "genai-prices" | "catalog" | "unknown") of one request."""
    if input_tokens is None or output_tokens is None or not route.candidate.deployment.is_api:
        return None, "unknown"
    if route.price_ref is not None:
        listed = _genai_price(*route.price_ref, input_tokens, output_tokens)
        if listed is not None:
            return listed, "genai-prices"
        # not (or no longer) listed there: the catalog's price
    deployment = route.candidate.deployment
    if kind == "embeddings":
        rate = _number(deployment.value("embedding_usd_per_1m", None))
        return (None, "unknown") if rate is None else (input_tokens * rate / 1e6, "catalog")
    rate_in = _number(deployment.value("input_usd_per_1m", None))
    rate_out = _number(deployment.value("output_usd_per_1m", None))
    if rate_in is None or rate_out is None:
        return None, "unknown"
    return (input_tokens * rate_in + output_tokens * rate_out) / 1e6, "catalog"


@lru_cache(maxsize=65536)
def _genai_price(provider: str, model: str, input_tokens: int, output_tokens: int) -> float | None:
    """genai-prices' price of one request (its tiers included), or None when it does not list the
    model. Cached: a lookup costs about a millisecond, and a pilot prices each request several times
    (the estimate, the reservation, the measured answer, the result)."""
    from genai_prices import Usage, calc_price

    try:
        price = calc_price(Usage(input_tokens=input_tokens, output_tokens=output_tokens), model, provider_id=provider)
    except (LookupError, ValueError):
        return None
    return float(price.total_price)


def estimated_cost(route: Route, request: Request) -> float:
    """USD a request is expected to cost; 0 when its price is unknown (said so in the plan)."""
    cost, _ = request_cost(route, request.kind, *estimated_usage(request))
    return cost or 0.0


class BudgetExceeded(Exception):
    """The next call would take the spend past --max-usd."""


@dataclass
class Budget:
    """The spend of one `modelmemo pilot` against --max-usd: a call reserves its estimate before it
    is sent and settles at its measured cost when it returns, so calls in flight count too."""

    max_usd: float | None
    spent: float = 0.0
    reserved: float = 0.0

    def reserve(self, estimate: float) -> None:
        if self.max_usd is not None and self.spent + self.reserved + estimate > self.max_usd:
            raise BudgetExceeded(f"the next call would take the spend past --max-usd {self.max_usd:g} "
                                 f"(spent ${self.spent:.4f}, ${self.reserved:.4f} in flight)")
        self.reserved += estimate

    def settle(self, estimate: float, measured: float | None) -> None:
        """A call came back: its reservation becomes its measured cost (the estimate when unknown)."""
        self.reserved = max(0.0, self.reserved - estimate)
        self.spent += estimate if measured is None else measured

    def release(self, estimate: float) -> None:
        """A call failed before it could be billed as an answer (its reservation is freed)."""
        self.reserved = max(0.0, self.reserved - estimate)
