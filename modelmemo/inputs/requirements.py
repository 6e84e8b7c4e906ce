"""Typed view of a validated requirement file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FACTORS = ("requirements", "budget", "support", "security", "long_term")
FACTOR_LABELS = {
    "requirements": "Requirements fit",
    "budget": "Budget fit",
    "support": "Support fit",
    "security": "Security fit",
    "long_term": "Long-term fit",
}
SENSITIVITY_LEVELS = ("public", "internal", "confidential", "regulated")


@dataclass(frozen=True)
class Volume:
    requests_per_month: int | None = None
    tokens_per_request: int | None = None
    images_per_month: int | None = None

    @property
    def tokens_per_month(self) -> int | None:
        if self.requests_per_month is None or self.tokens_per_request is None:
            return None
        return self.requests_per_month * self.tokens_per_request


@dataclass(frozen=True)
class Requirements:
    project_id: str
    name: str
    summary: str
    owner_name: str
    owner_email: str
    notify: tuple[str, ...]
    tasks: tuple[str, ...]
    languages: tuple[str, ...]
    customization: str
    monthly_usd: float
    volume: Volume | None
    ml_expertise: str
    vendor_sla_required: bool
    data_sensitivity: str
    on_premises_only: bool
    transparency_required: bool
    growth: str
    lock_in_tolerance: str
    weights: dict[str, float]
    data_residency: tuple[str, ...] = ()  # regions the data must stay in (EU, US, ...); empty: any

    @property
    def sensitivity_level(self) -> int:
        """0 (public) .. 3 (regulated)."""
        return SENSITIVITY_LEVELS.index(self.data_sensitivity)

    @property
    def expertise_phrase(self) -> str:
        """'no ML expertise', 'basic ML expertise' or 'strong ML expertise'."""
        return "no ML expertise" if self.ml_expertise == "none" else f"{self.ml_expertise} ML expertise"

    @property
    def recipients(self) -> tuple[str, ...]:
        ordered = [self.owner_email] + [a for a in self.notify if a.lower() != self.owner_email.lower()]
        return tuple(dict.fromkeys(ordered))

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "Requirements":
        """Build from data that already passed the schema."""
        project, needs, budget = data["project"], data["needs"], data["budget"]
        support, security, long_term = data["support"], data["security"], data["long_term"]
        volume_data = budget.get("volume")
        weights = {factor: float(data.get("weights", {}).get(factor, 1)) for factor in FACTORS}
        return cls(
            project_id=project["id"],
            name=project["name"],
            summary=project.get("summary", ""),
            owner_name=project["owner"]["name"],
            owner_email=project["owner"]["email"],
            notify=tuple(project.get("notify", ())),
            tasks=tuple(needs["tasks"]),
            languages=tuple(needs.get("languages", ())),
            customization=needs["customization"],
            monthly_usd=float(budget["monthly_usd"]),
            volume=Volume(**volume_data) if volume_data else None,
            ml_expertise=support["ml_expertise"],
            vendor_sla_required=support["vendor_sla_required"],
            data_sensitivity=security["data_sensitivity"],
            on_premises_only=security["on_premises_only"],
            transparency_required=security.get("transparency_required", False),
            growth=long_term["growth"],
            lock_in_tolerance=long_term["lock_in_tolerance"],
            weights=weights,
            data_residency=tuple(security.get("data_residency", ())),
        )
