"""The pilot's metrics, pure functions, each checkable by hand on a small case (tests/test_pilot_metrics.py).

- chrF: sacrebleu's CHRF with its defaults (character n-grams 1..6, no word n-grams, beta 2,
  whitespace removed, case kept, no epsilon smoothing), corpus-level: the n-gram statistics are
  summed over the examples before the score is taken, as sacrebleu's corpus_score does; 0..100.
- ROUGE-L: longest common subsequence of word tokens, F1 (beta 1, as rouge-score's fmeasure); tokens
  are case-folded runs of letters and digits in any script (rouge-score keeps only a-z0-9, which
  would score every non-Latin summary 0); mean over examples, 0..1.
- exact match and macro-F1 over labels (the labels of references and predictions, as scikit-learn's
  default), 0..1; recall@k of embedded query/passage pairs, 0..1.
- a percentile bootstrap 95% interval over examples, seeded; latency percentiles by linear
  interpolation (numpy's default).
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from typing import Callable, Sequence, TypeVar

CHRF_ORDER = 6
CHRF_BETA = 2.0
Item = TypeVar("Item")


def _char_ngrams(text: str, n: int) -> Counter[str]:
    return Counter(text[i:i + n] for i in range(len(text) - n + 1))


def chrf_statistics(hypothesis: str, reference: str) -> list[int]:
    """[hypothesis n-grams, reference n-grams, matches] for n = 1..6, as one flat list."""
    hyp, ref = "".join(hypothesis.split()), "".join(reference.split())
    stats: list[int] = []
    for n in range(1, CHRF_ORDER + 1):
        hyp_grams, ref_grams = _char_ngrams(hyp, n), _char_ngrams(ref, n)
        stats += [sum(hyp_grams.values()), sum(ref_grams.values()), sum((hyp_grams & ref_grams).values())]
    return stats


def chrf_score(statistics: Sequence[int]) -> float:
    """chrF (0..100) from summed statistics: precision and recall averaged over the orders both
    sides have n-grams of, then their F-beta (sacrebleu 2.x CHRF._compute_f_score, eps_smoothing off)."""
    factor = CHRF_BETA ** 2
    avg_precision = avg_recall = 0.0
    effective = 0
    for i in range(CHRF_ORDER):
        n_hyp, n_ref, n_match = statistics[3 * i: 3 * i + 3]
        if n_hyp > 0 and n_ref > 0:  # an order one side is too short for does not count
            avg_precision += n_match / n_hyp
            avg_recall += n_match / n_ref
            effective += 1
    if effective == 0:
        return 0.0
    avg_precision, avg_recall = avg_precision / effective, avg_recall / effective
    if avg_precision + avg_recall == 0:
        return 0.0
    return 100 * (1 + factor) * avg_precision * avg_recall / (factor * avg_precision + avg_recall)


def corpus_chrf(statistics: Sequence[Sequence[int]]) -> float:
    return chrf_score([sum(column) for column in zip(*statistics)]) if statistics else 0.0


def chrf(hypothesis: str, reference: str) -> float:
    return chrf_score(chrf_statistics(hypothesis, reference))


_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, 1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(hypothesis: str, reference: str) -> float:
    """ROUGE-L F1 of one answer against its reference (0 when either has no word)."""
    hyp, ref = words(hypothesis), words(reference)
    lcs = _lcs_length(hyp, ref) if hyp and ref else 0
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(hyp), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def length_ratio(hypothesis: str, reference: str) -> float:
    """Words of the answer per word of the reference (1: as long; above 1: longer)."""
    return len(words(hypothesis)) / max(1, len(words(reference)))


def normalize_label(text: str) -> str:
    """A label as compared: case-folded, surrounding spaces, quotes and a final period removed."""
    return text.strip().strip("\"'`").strip().rstrip(".").strip().casefold()


def exact_match(pairs: Sequence[tuple[str, str]]) -> float:
    """Share of (prediction, reference) pairs whose labels are equal."""
    return sum(normalize_label(p) == normalize_label(r) for p, r in pairs) / len(pairs) if pairs else 0.0


def macro_f1(pairs: Sequence[tuple[str, str]]) -> float:
    """Mean F1 over every label seen in references or predictions (an unknown answer is a label
    of its own: it costs the true label's recall and has no precision)."""
    if not pairs:
        return 0.0
    predicted = [normalize_label(p) for p, _ in pairs]
    actual = [normalize_label(r) for _, r in pairs]
    scores = []
    for label in sorted(set(predicted) | set(actual)):
        true_positive = sum(p == label and a == label for p, a in zip(predicted, actual))
        n_predicted, n_actual = predicted.count(label), actual.count(label)
        scores.append(2 * true_positive / (n_predicted + n_actual) if n_predicted + n_actual else 0.0)
    return sum(scores) / len(scores)


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b)) / norm if norm else 0.0


def recall_hits(queries: Sequence[Sequence[float]], passages: Sequence[Sequence[float]], k: int) -> list[int]:
    """For query i (whose passage is passages[i]): 1 when its passage ranks among the k most similar
    of all passages (ties broken against it), else 0."""
    hits = []
    for i, query in enumerate(queries):
        own = _cosine(query, passages[i])
        better = sum(1 for j, p in enumerate(passages) if j != i and _cosine(query, p) >= own)
        hits.append(1 if better < k else 0)
    return hits


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def bootstrap_interval(items: Sequence[Item], statistic: Callable[[Sequence[Item]], float], resamples: int,
                       seed: int) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of `statistic` over `items` resampled with replacement."""
    if not items:
        return 0.0, 0.0
    rng = random.Random(seed)
    values = sorted(statistic(rng.choices(items, k=len(items))) for _ in range(resamples))
    return percentile(values, 2.5), percentile(values, 97.5)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of values, linearly interpolated between the closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
