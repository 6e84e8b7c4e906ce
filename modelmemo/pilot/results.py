"""A pilot's results on disk: `DIR/state/pilot/<project-id>.json` (schemas/pilot-results.schema.json).

One file per project, holding one entry per piloted offer, each with its provenance (when, which
endpoint, the model name as called, the catalog offer, the sha256 of the examples file) and its
metrics with bootstrap 95% intervals, latency and cost per request. Only a candidate whose every
example got a valid answer has an entry (every example of the tasks it is piloted on: a task its
model does, and a per-task pick's own task): a result is evidence, and a partial one would not be.
A rerun replaces the entries of the offers it measured; entries measured on other examples (another
sha256) are dropped, since they no longer describe the file. Written atomically.

`load_pilot_results` is what the decision reads (evidence kind `pilot`): only entries measured on
the examples file as it is now.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from modelmemo.batch.atomic import atomic_write_text
from modelmemo.resources import schema_file

RESULTS_SCHEMA = schema_file("pilot-results.schema.json")
RESULTS_FORMAT = 1


class PilotResultsError(Exception):
    """A results file that cannot be read or does not match its schema (one line: which and why)."""


@dataclass(frozen=True)
class Metric:
    task: str  # the requirement schema's task name
    metric: str  # exact_match, macro_f1, chrf, rouge_l_f, length_ratio, judge_score, recall@10
    value: float
    ci_low: float  # bootstrap 95% interval
    ci_high: float
    n: int  # examples it was computed on
    scale_min: float | None  # the metric's range (None: unbounded, e.g. a length ratio)
    scale_max: float | None
    better: str  # "higher" | "closer-to-1"
    judge: str | None = None  # the judge model (model/deployment as called) for judge_score
    note: str = ""


@dataclass(frozen=True)
class PilotResult:
    measured_at: str  # ISO 8601 UTC
    model: str  # catalog model id
    deployment: str  # catalog deployment id
    route: str  # first-party | cloud | host | self-hosted
    provider: str
    role: str  # pick | challenger | named
    endpoint: str  # base URL, never with credentials
    via: str  # gateway | provider | self-hosted
    called_as: str  # the model name sent
    examples_file: str
    examples_sha256: str
    n: int  # examples answered (all those of the tasks it was piloted on)
    metrics: tuple[Metric, ...]
    latency_p50_s: float
    latency_p95_s: float
    cost_per_request_usd: float | None  # mean over the answers, from their token counts
    cost_source: str  # genai-prices | catalog | unknown
    notes: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["metrics"] = [asdict(m) for m in self.metrics]
        data["notes"] = list(self.notes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PilotResult":
        values = dict(data)
        values["metrics"] = tuple(Metric(**m) for m in data["metrics"])
        values["notes"] = tuple(data.get("notes", ()))
        return cls(**values)

    @property
    def offer(self) -> tuple[str, str, str, str]:
        """What a rerun replaces: the same offer called the same way."""
        return self.model, self.deployment, self.endpoint, self.called_as


def results_file(state_dir: Path, project_id: str) -> Path:
    return state_dir / "pilot" / f"{project_id}.json"


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(RESULTS_SCHEMA.read_text(encoding="utf-8")))


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise PilotResultsError(f"{path}: cannot read pilot results ({exc}); delete it and run `modelmemo pilot` "
                                "again") from None
    error = next(iter(_validator().iter_errors(data)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise PilotResultsError(f"{path}: {where}: {error.message[:120]} (schemas/pilot-results.schema.json); "
                                "delete it and run `modelmemo pilot` again")
    return data


def load_pilot_results(state_dir: Path, project_id: str, examples_sha: str) -> list[PilotResult]:
    """The project's pilot results measured on the examples file whose sha256 is `examples_sha`
    (a changed file invalidates them); [] when there are none. PilotResultsError for a broken file."""
    data = _read(results_file(state_dir, project_id))
    if data is None or data["project_id"] != project_id:
        return []
    return [PilotResult.from_dict(entry) for entry in data["results"] if entry["examples_sha256"] == examples_sha]


def store_results(state_dir: Path, project_id: str, examples_file: str, examples_sha: str,
                  measured: list[PilotResult]) -> Path:
    """Merge newly measured results into the project's file (see the module's docstring); atomic."""
    path = results_file(state_dir, project_id)
    try:
        kept = load_pilot_results(state_dir, project_id, examples_sha)
    except PilotResultsError:
        kept = []  # a broken file is replaced by what was just measured
    replaced = {r.offer for r in measured}
    entries = [r for r in kept if r.offer not in replaced] + list(measured)
    document = {"format": RESULTS_FORMAT, "project_id": project_id, "examples_file": examples_file,
                "examples_sha256": examples_sha, "results": [r.as_dict() for r in entries]}
    atomic_write_text(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return path
