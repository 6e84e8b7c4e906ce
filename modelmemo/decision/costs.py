"""Monthly cost estimates per model and deployment option, from the project's volume.

Every figure comes from the catalog (prices, throughput, methodology assumptions) or the
requirement file (volume, budget). Each estimate keeps its formula as readable lines so the
memo can show the inputs next to the result. Without a volume, an API cost is unknown and a
self-hosted cost is a floor ("at least"), never a made-up point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from modelmemo.catalog.load import Catalog, Deployment, Model
from modelmemo.inputs.requirements import Requirements

IMAGE_TASK = "image-generation"
EMBEDDINGS_TASK = "embeddings"


@dataclass(frozen=True)
class CostEstimate:
    """Monthly USD cost; `high is None` means open-ended ("at least low"), both None means unknown."""

    model_id: str
    deployment_id: str
    low: float | None
    high: float | None
    lines: tuple[str, ...] = ()
    inputs: dict[str, Any] = field(default_factory=dict)
    unpriced_part: bool = False  # a floor because part of the bill has no published price (not capacity)

    @property
    def known(self) -> bool:
        return self.low is not None

    @property
    def is_point(self) -> bool:
        return self.low is not None and self.low == self.high

    @property
    def planning_figure(self) -> float | None:
        """The figure compared with the budget: the point, the midpoint, or the floor."""
        if self.low is None:
            return None
        if self.high is None:
            return self.low
        return (self.low + self.high) / 2

    @property
    def is_floor(self) -> bool:
        return self.low is not None and self.high is None

    def label(self) -> str:
        if self.low is None:
            return "unknown"
        if self.high is None:
            return f"at least {usd(self.low)}/month"
        if self.is_point:
            return f"{usd(self.low)}/month"
        return f"{usd(self.low)} to {usd(self.high)}/month"

    def as_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment_id,
            "low_usd": None if self.low is None else round(self.low, 2),
            "high_usd": None if self.high is None else round(self.high, 2),
            "label": self.label(),
            "is_floor": self.is_floor,
            "formula": list(self.lines),
            "inputs": self.inputs,
        }


def usd(amount: float) -> str:
    amount = amount + 0.0  # never "-0"
    if abs(amount) < 0.005:
        amount = 0.0
    if amount >= 100 or amount == int(amount):
        return f"${amount:,.0f}"
    if abs(amount) < 1:  # unit prices ($0.042 per image): enough digits that the printed product adds up
        return f"${amount:.4f}".rstrip("0").rstrip(".") if round(amount, 2) != amount else f"${amount:.2f}"
    return f"${amount:,.2f}"


def _num(value: Any) -> float | None:
    return None if value == "unknown" or value is None else float(value)


def text_tasks(tasks: tuple[str, ...]) -> tuple[str, ...]:
    """Tasks priced at text-generation rates: everything but images and embeddings."""
    return tuple(t for t in tasks if t not in (IMAGE_TASK, EMBEDDINGS_TASK))


def estimate(model: Model, deployment: Deployment, req: Requirements, catalog: Catalog,
             tasks: tuple[str, ...] | None = None) -> CostEstimate:
    """Monthly cost of running `model` on `deployment` for the project's (or the given) tasks."""
    tasks = tuple(t for t in (tasks or req.tasks) if t in model.tasks)
    needs_text = bool(text_tasks(tasks))
    needs_images = IMAGE_TASK in tasks
    needs_embeddings = EMBEDDINGS_TASK in tasks
    volume = req.volume
    if deployment.is_api:
        return _api_estimate(model, deployment, req, catalog, needs_text, needs_images, needs_embeddings)
    return _self_hosted_estimate(model, deployment, req, catalog, needs_text or needs_embeddings, needs_images,
                                 volume, embeddings_only=needs_embeddings and not needs_text)


def _api_estimate(model: Model, deployment: Deployment, req: Requirements, catalog: Catalog,
                  needs_text: bool, needs_images: bool, needs_embeddings: bool = False) -> CostEstimate:
    volume = req.volume
    lines: list[str] = []
    inputs: dict[str, Any] = {}
    total = 0.0
    known = True
    if needs_text:
        price_in = _num(deployment.value("input_usd_per_1m"))
        price_out = _num(deployment.value("output_usd_per_1m"))
        share = float(catalog.assumption("input_token_share").value)
        inputs.update(input_usd_per_1m=price_in, output_usd_per_1m=price_out, input_token_share=share)
        tokens = volume.tokens_per_month if volume else None
        if tokens is None or price_in is None or price_out is None:
            known = False
            lines.append(
                "text: no volume given (requests and tokens per request), so the API cost cannot be estimated"
                if tokens is None else f"text: {deployment.provider} price per token is unknown"
            )
        else:
            cost_in = tokens * share / 1e6 * price_in
            cost_out = tokens * (1 - share) / 1e6 * price_out
            total += cost_in + cost_out
            inputs.update(tokens_per_month=tokens)
            lines.append(
                f"{volume.requests_per_month:,} requests × {volume.tokens_per_request:,} tokens = {tokens:,} tokens/month"
            )
            lines.append(
                f"{share:.0%} input × {usd(price_in)}/1M + {1 - share:.0%} output × {usd(price_out)}/1M "
                f"= {usd(cost_in + cost_out)}"
            )
    if needs_embeddings:
        # Embedding APIs charge per input token at their own rate; never at text-generation rates.
        price = _num(deployment.value("embedding_usd_per_1m"))
        tokens = volume.tokens_per_month if volume else None
        inputs.update(embedding_usd_per_1m=price)
        if tokens is None or price is None:
            known = False
            lines.append("embeddings: no volume given (requests and tokens per request)" if tokens is None
                         else f"embeddings: {deployment.provider} price per embedding token is unknown "
                              "(not priced at text-generation rates)")
        else:
            cost = tokens / 1e6 * price
            total += cost
            inputs.update(tokens_per_month=tokens)
            lines.append(f"embeddings: {tokens:,} tokens/month × {usd(price)}/1M embedding tokens = {usd(cost)}")
    if needs_images:
        price = _num(deployment.value("usd_per_image"))
        images = volume.images_per_month if volume else None
        inputs.update(usd_per_image=price)
        if images is None or price is None:
            known = False
            lines.append("images: no image volume given" if images is None else "images: price per image is unknown")
        else:
            total += images * price
            inputs.update(images_per_month=images)
            lines.append(f"{images:,} images × {usd(price)} = {usd(images * price)}")
    if not known:
        priced = any(k in inputs for k in ("tokens_per_month", "images_per_month")) and total > 0
        if priced:  # part of the bill is priced, the rest is not: a floor, never "within budget"
            lines.append(f"the priced part is {usd(total)}/month; the rest has no published price, so the "
                         f"cost is at least {usd(total)}/month")
            return CostEstimate(model.id, deployment.id, total, None, tuple(lines), inputs, unpriced_part=True)
        return CostEstimate(model.id, deployment.id, None, None, tuple(lines), inputs)
    return CostEstimate(model.id, deployment.id, total, total, tuple(lines), inputs)


def _self_hosted_estimate(model: Model, deployment: Deployment, req: Requirements, catalog: Catalog,
                          needs_text: bool, needs_images: bool, volume, embeddings_only: bool = False) -> CostEstimate:
    hour_price = float(deployment.value("gpu_hour_usd"))
    hours_per_month = float(catalog.assumption("hours_per_month").value)
    ops = float(catalog.assumption("ops_usd_per_month", req.ml_expertise).value)
    gpu_class = deployment.value("gpu_class")
    inputs: dict[str, Any] = {
        "gpu_class": gpu_class,
        "gpu_hour_usd": hour_price,
        "hours_per_month": hours_per_month,
        "ops_usd_per_month": ops,
        "ml_expertise": req.ml_expertise,
    }
    lines = [f"operations for a team with {req.expertise_phrase}: {usd(ops)}/month"]
    gpu_hours_needed = 0.0
    open_ended = False
    if needs_text:
        # Embedding throughput differs from generation throughput: only an embedding figure counts.
        tps = _num(deployment.value("embedding_tokens_per_second" if embeddings_only else "tokens_per_second"))
        tokens = volume.tokens_per_month if volume else None
        if tokens is None or tps is None:
            open_ended = True
            lines.append("text: " + ("no volume given" if tokens is None else "throughput unknown")
                         + "; assumes one always-on instance, more may be needed")
        else:
            hours = tokens / tps / 3600
            gpu_hours_needed += hours
            inputs.update(tokens_per_month=tokens, tokens_per_second=tps)
            lines.append(f"{tokens:,} tokens ÷ {tps:,.0f} tokens/s = {hours:,.1f} GPU hours")
    if needs_images:
        rate = _num(deployment.value("images_per_hour"))
        images = volume.images_per_month if volume else None
        if images is None or rate is None:
            open_ended = True
            lines.append("images: " + ("no image volume given" if images is None else "throughput unknown")
                         + "; assumes one always-on instance, more may be needed")
        else:
            hours = images / rate
            gpu_hours_needed += hours
            inputs.update(images_per_month=images, images_per_hour=rate)
            lines.append(f"{images:,} images ÷ {rate:,.0f} images/hour = {hours:,.1f} GPU hours")
    instances = max(1, math.ceil(gpu_hours_needed / hours_per_month))
    gpu_cost = instances * hours_per_month * hour_price
    inputs["instances"] = instances
    lines.append(
        f"{instances} × {gpu_class} × {hours_per_month:,.0f} h × {usd(hour_price)}/h = {usd(gpu_cost)}"
    )
    total = gpu_cost + ops
    lines.append(f"total: {usd(gpu_cost)} + {usd(ops)} = {usd(total)}")
    return CostEstimate(model.id, deployment.id, total, None if open_ended else total, tuple(lines), inputs)
