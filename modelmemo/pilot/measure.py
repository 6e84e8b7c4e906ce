"""From one candidate's answers to its metrics, task by task, each with its bootstrap interval.

| task | metric(s) | on which examples |
|---|---|---|
| classification | exact_match, macro_f1 | all (a reference label is required) |
| translation | chrf (corpus) | all (a reference is required) |
| summarization | rouge_l_f, length_ratio; judge_score | with a reference; with a rubric, when a judge is set |
| chat, text-generation | chrf against the reference; judge_score | with a reference; with a rubric and a judge |
| code | chrf against the reference | with a reference: a `test` is not run (model-written code is untrusted and modelmemo has no sandbox); test-only examples are named as not measured |
| embeddings | recall@K | all query/passage pairs, each query ranked against every passage |
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

from modelmemo.pilot.client import Answer
from modelmemo.pilot.examples import Example, ExampleSet
from modelmemo.pilot.metrics import (bootstrap_interval, chrf_statistics, corpus_chrf, exact_match, length_ratio,
                                     macro_f1, mean, recall_hits, rouge_l)
from modelmemo.pilot.results import Metric
from modelmemo.settings import PILOT_BOOTSTRAP_RESAMPLES, PILOT_BOOTSTRAP_SEED, PILOT_RECALL_K

_FENCE = re.compile(r"^\s*```[^\n]*\n(.*?)\n?```\s*$", re.S)


def strip_fences(text: str) -> str:
    """Code without the Markdown fence a model may wrap it in despite the instruction."""
    found = _FENCE.match(text)
    return found.group(1) if found else text


def _metric(task: str, name: str, items: Sequence, statistic: Callable[[Sequence], float], scale: tuple,
            better: str = "higher", judge: str | None = None, note: str = "") -> Metric:
    low, high = bootstrap_interval(items, statistic, PILOT_BOOTSTRAP_RESAMPLES, PILOT_BOOTSTRAP_SEED)
    return Metric(task, name, statistic(items), low, high, len(items), scale[0], scale[1], better, judge, note)


def measure(examples: ExampleSet, answers: dict[int, Answer], judged: dict[int, int],
            judge_name: str | None) -> tuple[list[Metric], list[str]]:
    """Metrics of one candidate (answers and judge scores by example line) and notes on what was not measured."""
    metrics: list[Metric] = []
    notes: list[str] = []
    for task in examples.tasks:
        group = examples.for_task(task)
        found, said = _task_metrics(task, group, answers)
        metrics += found
        notes += said
        rated = [judged[e.line] for e in group if e.line in judged]
        if rated:
            metrics.append(_metric(task, "judge_score", rated, mean, (1, 5), judge=judge_name,
                                   note="the judge's 1-5 rating against each example's rubric"))
    return metrics, notes


def _text(answers: dict[int, Answer], example: Example) -> str:
    return answers[example.line].text or ""


def _task_metrics(task: str, group: tuple[Example, ...], answers: dict[int, Answer]) -> tuple[list[Metric], list[str]]:
    with_reference = [e for e in group if e.reference]
    if task == "classification":
        pairs = [(_text(answers, e), e.reference or "") for e in group]
        return [_metric(task, "exact_match", pairs, exact_match, (0, 1)),
                _metric(task, "macro_f1", pairs, macro_f1, (0, 1))], []
    if task == "embeddings":
        return _recall(group, answers)
    if task == "summarization":
        if not with_reference:
            return [], []
        pairs = [(_text(answers, e), e.reference or "") for e in with_reference]
        rouge = [rouge_l(h, r) for h, r in pairs]
        ratios = [length_ratio(h, r) for h, r in pairs]
        return [_metric(task, "rouge_l_f", rouge, mean, (0, 1)),
                _metric(task, "length_ratio", ratios, mean, (None, None), "closer-to-1",
                        note="words of the summary per word of the reference")], []
    # translation, chat, text-generation, code: chrF against the reference
    clean = strip_fences if task == "code" else (lambda text: text)
    stats = [chrf_statistics(clean(_text(answers, e)), e.reference or "") for e in with_reference]
    notes = []
    if task == "code":
        untested = len(group) - len(with_reference)
        if untested:
            notes.append(f"code: {untested} example(s) carry only a test, which modelmemo does not run (model-written "
                         "code is not executed); add a reference to measure them")
    note = {"translation": "", "code": "similarity to the reference code; tests are not run"}.get(
        task, "similarity to the reference answer")
    return ([_metric(task, "chrf", stats, corpus_chrf, (0, 100), note=note)] if stats else []), notes


def _recall(group: tuple[Example, ...], answers: dict[int, Answer]) -> tuple[list[Metric], list[str]]:
    vectors = [answers[e.line].vectors or ((), ()) for e in group]
    hits = recall_hits([v[0] for v in vectors], [v[1] for v in vectors], PILOT_RECALL_K)
    notes = []
    if len(group) <= PILOT_RECALL_K:
        notes.append(f"embeddings: {len(group)} pairs rank each query among {len(group)} passages, so recall@"
                     f"{PILOT_RECALL_K} is 1 by construction; add more than {PILOT_RECALL_K} pairs")
    return [_metric("embeddings", f"recall@{PILOT_RECALL_K}", hits, mean, (0, 1),
                    note="the query's own passage among the k most similar of all the file's passages")], notes
