"""Pilot evidence: quality measured on the team's own examples (`modelmemo pilot`), as the decision
takes it (README "Methodology", 3). Pure data and arithmetic: the batch loads the stored results
(modelmemo/pilot/evidence.py) and passes them in; decision/quality.py applies the rule.

Per task, one metric counts: the first of PILOT_METRICS[task] that a piloted (eligible) model has,
measured on at least PILOT_MIN_EXAMPLES examples. Then:

1. A piloted model's reading **replaces** its public evidence for that task (kind `pilot`). It is
   normalised within the pilot's own scale, as a percent-scale measurement is among its peers:
   100 x (v - floor) / (top - floor), floor the metric's minimum (0; 1 for a judge's 1-5 rating),
   top the highest upper end of a piloted model's interval; its interval is its bootstrap 95%
   interval on the same scale. Quality is the model's, so a reading stands for all its offers;
   when several offers of one model were piloted, each uses its own and the others the newest.
2. An unpiloted model keeps its public evidence **unshifted**: its point score and its interval's
   lower end are what they would be with no pilot at all, since a pilot of *other* models says
   nothing about it (the old rule moved it by the piloted models' mean move, so two piloted models
   failing badly dragged a model nobody measured below one with no evidence at all). Only the upper
   end of its interval rises, by PILOT_UNPILOTED_HALF_WIDTH: its public score was measured on a
   benchmark, not on the team's examples, and a pilot is how the team learns that its examples can
   rank models differently. So it is never penalised by the pilot, stays "measured" (above an
   unmeasured model at UNMEASURED_QUALITY whenever its public score is), and keeps the upside that
   makes it worth piloting next. Public scores and pilot scores are then on different 0-100 scales
   (each normalised among its own peers): the memo says which models were not piloted, and the next
   step is to pilot the pick or a challenger the pilot did not measure. A model without evidence
   stays unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from modelmemo.decision.policy import policy

# The metric that decides per task, in order of preference: a judge's rating against the team's
# rubric is closest to the evaluation plan's reviewers; otherwise similarity to the references.
# length_ratio (closer to 1 is better) is a description, not a quality ranking.
PILOT_METRICS: dict[str, tuple[str, ...]] = {
    "chat": ("judge_score", "chrf"),
    "text-generation": ("judge_score", "chrf"),
    "summarization": ("judge_score", "rouge_l_f"),
    "code": ("chrf",),
    "translation": ("chrf",),
    "classification": ("macro_f1", "exact_match"),
    "embeddings": ("recall@",),  # recall@K, whatever K the pilot used
}
METRIC_WORDS = {"chrf": "chrF", "rouge_l_f": "ROUGE-L F", "macro_f1": "macro-F1", "exact_match": "exact match",
                "judge_score": "judge's 1-5 rating"}


def metric_words(metric: str) -> str:
    return METRIC_WORDS.get(metric, metric)


def piloted_state(n: int) -> str:
    """What a piloted quality is, in the words an Unknown and a Separator carry."""
    return f"measured on your {n} examples"


def is_piloted_state(state: str) -> bool:
    return state.startswith("measured on your ")


@dataclass(frozen=True)
class PilotReading:
    """One piloted offer's metric on one task, with its provenance."""

    model: str
    deployment: str
    task: str
    metric: str
    value: float
    ci_low: float  # bootstrap 95% interval
    ci_high: float
    n: int  # examples the metric was computed on
    scale_min: float | None
    measured_at: str  # ISO 8601 UTC
    endpoint: str  # base URL, no credentials
    called_as: str
    examples_file: str

    @property
    def date(self) -> str:
        return self.measured_at[:10]


@dataclass(frozen=True)
class PilotEvidence:
    """A project's pilot results measured on its examples file as it is now."""

    examples_file: str  # as the requirement file's pilot.examples names it
    examples_sha256: str
    examples: int  # examples answered by the offer that ran the most of them (the file's, for a full candidate)
    readings: tuple[PilotReading, ...]
    results_file: str = ""  # where the results are stored, relative to the output folder

    def scale(self, task: str, eligible: Iterable[str]) -> "PilotScale | None":
        """The task's pilot scale among eligible models, or None when no metric of it counts."""
        allowed = set(eligible)
        for wanted in PILOT_METRICS.get(task, ()):
            found = [r for r in self.readings if r.task == task and r.model in allowed
                     and r.n >= policy("PILOT_MIN_EXAMPLES")
                     and (r.metric == wanted or (wanted.endswith("@") and r.metric.startswith(wanted)))]
            if found:
                found.sort(key=lambda r: (r.measured_at, r.model, r.deployment), reverse=True)  # newest first
                floor = min((r.scale_min for r in found if r.scale_min is not None), default=0.0)
                top = max(max(r.ci_high, r.value) for r in found)
                return PilotScale(task, found[0].metric, floor, top, tuple(found))
        return None


@dataclass(frozen=True)
class PilotScale:
    """One task's pilot: the metric that counts, its floor and top, the readings (newest first)."""

    task: str
    metric: str
    floor: float
    top: float
    readings: tuple[PilotReading, ...]

    def reading(self, model_id: str, deployment_id: str | None = None) -> PilotReading | None:
        """The offer's own reading, else the model's newest (quality is the model's)."""
        own = [r for r in self.readings if r.model == model_id]
        return next((r for r in own if r.deployment == deployment_id), own[0] if own else None)

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.model for r in self.readings))

    def normalise(self, value: float) -> float:
        """0-100 within the pilot: the best piloted interval's upper end is the top of the scale."""
        if self.top <= self.floor:
            return 0.0  # every piloted model at the metric's minimum
        return 100 * (value - self.floor) / (self.top - self.floor)

    def rank(self, reading: PilotReading) -> tuple[int, int]:
        """(1-based rank, piloted models) by each model's own (newest) reading."""
        values = [r.value for r in (self.reading(m) for m in self.models) if r is not None]
        return 1 + sum(1 for v in values if v > reading.value), len(values)

