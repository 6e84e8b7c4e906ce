"""Pilot evidence: quality measured on the team's own examples (`modelmemo pilot`), as the decision
takes it (README "Methodology", 3). Pure data and arithmetic: the batch loads the stored results
(modelmemo/pilot/evidence.py) and passes them in; decision/quality.py applies the rule.

Per task, one metric counts: the first of PILOT_METRICS[task] that a piloted (eligible) model has,
measured on at least PILOT_MIN_EXAMPLES examples. Then:

1. A piloted model's reading **replaces** its public evidence for that task (kind `pilot`). It is
   normalised within the pilot's own scale, as a percent-scale measurement is among its peers:
   100 x (v - floor) / (top - floor), floor the metric's minimum (0; 1 for a judge's 1-5 rating),
   top the highest upper end of a piloted model's interval; its interval is its bootstrap 95%
   interval on the same scale, never narrower than `min_half_width(n)` either side of its score:
   PILOT_MIN_HALF_WIDTH, and on n examples PILOT_CONFIDENCE_Z x PILOT_EXAMPLE_SD / sqrt(n) (8.8
   quality points at 20 examples), the spread the evaluation plan assumes. A bootstrap over answers
   that all agree (every answer identical to its reference: chrF 100, interval 100-100) has no
   width, but 20 examples are not certainty. Such a reading is also named (`identical`) so page 1
   asks the team to check the pilot: references leaked into the prompt, or an echoing endpoint.
   Quality is the model's, so a reading stands for all its offers; when several offers of one
   model were piloted, each uses its own and the others the newest.
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

import math
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import urlparse

from modelmemo.decision.policy import policy
from modelmemo.decision.words import join_and, task_label

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


# Similarity to the reference, and its value when every answer is the reference word for word.
REFERENCE_MAX = {"chrf": 100.0, "rouge_l_f": 1.0}


def metric_words(metric: str) -> str:
    return METRIC_WORDS.get(metric, metric)


# Metrics on a 0-1 scale, shown x 100 so that every pilot number but the judge's rating reads on 0-100.
UNIT_METRICS = frozenset({"rouge_l_f", "macro_f1", "exact_match"})


def shown_factor(metric: str) -> float:
    return 100.0 if metric in UNIT_METRICS or metric.startswith("recall@") else 1.0


def reading_words(reading: "PilotReading") -> str:
    """"ROUGE-L F 95 (95% interval 92–98)": the metric named beside its value, on 0-100 (the
    judge's rating on its own 1-5)."""
    k = shown_factor(reading.metric)
    return (f"{metric_words(reading.metric)} {reading.value * k:.3g} (95% interval {reading.ci_low * k:.3g}–"
            f"{reading.ci_high * k:.3g})")


def scale_words(metrics: Iterable[str]) -> str:
    """"chrF and ROUGE-L F on a 0–100 scale" for the metrics shown on 0-100 (empty for none)."""
    names = list(dict.fromkeys(metric_words(m) for m in metrics if m != "judge_score"))
    return f"{join_and(names)} on a 0–100 scale" if names else ""


def examples_split(counts: dict[str, int]) -> str:
    """"20 chat and 10 summarization examples": examples per task, in words."""
    return join_and([f"{n} {task_label(t)}" for t, n in counts.items()]) + " examples"


LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})


def local_endpoint(endpoint: str) -> bool:
    host = (urlparse(endpoint).hostname or "").lower()
    return host in LOCAL_HOSTS or host.startswith("127.")


def route_words(reading: "PilotReading") -> str:
    """How the pilot reached the model: "a gateway at URL", "your server at URL", "a local endpoint at URL"."""
    if reading.via == "gateway":
        return f"a gateway at {reading.endpoint}"
    if reading.via == "self-hosted":
        return f"your server at {reading.endpoint}"
    if local_endpoint(reading.endpoint):
        return f"a local endpoint at {reading.endpoint}"
    return reading.endpoint


def on_route(reading: "PilotReading", deployment_id: str, self_hosted: bool) -> bool:
    """Whether the reading was measured on the offer recommended: that deployment, called directly
    (its provider's own API, or your own server for a self-hosted offer), not through a gateway or a
    local stand-in. A cloud route (Bedrock, Vertex AI, Azure) is piloted only through a gateway."""
    if reading.deployment != deployment_id:
        return False
    if self_hosted:
        return reading.via == "self-hosted"
    return reading.via == "provider" and not local_endpoint(reading.endpoint)


def min_half_width(n: int) -> float:
    """The narrowest a pilot reading's interval may be either side of its score, in quality points:
    n examples pin quality no closer than the spread a pilot plan assumes for one example."""
    sampled = policy("PILOT_CONFIDENCE_Z") * policy("PILOT_EXAMPLE_SD") / math.sqrt(max(1, n))
    return max(policy("PILOT_MIN_HALF_WIDTH"), sampled)


def identical_to_references(reading: "PilotReading") -> bool:
    """Every answer identical to its reference: a similarity metric at its maximum with its whole
    bootstrap interval there (no resample of the examples found one answer that differs)."""
    top = REFERENCE_MAX.get(reading.metric)
    return top is not None and reading.ci_low >= top - 1e-9


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
    via: str = ""  # gateway | provider | self-hosted ("" when not recorded)

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

    def examples_per_task(self) -> dict[str, int]:
        """Examples measured per task (the most any offer answered), in the order the readings give."""
        counts: dict[str, int] = {}
        for r in self.readings:
            counts[r.task] = max(counts.get(r.task, 0), r.n)
        return counts

    def identical(self) -> tuple[PilotReading, ...]:
        """Readings (that count: enough examples) whose every answer is identical to its reference."""
        return tuple(r for r in self.readings if r.n >= policy("PILOT_MIN_EXAMPLES") and identical_to_references(r))

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

