"""The pilot's metrics on small cases whose values are known: by hand, or from the reference
implementations (sacrebleu 2.6.0 CHRF, rouge-score's rougeL, scikit-learn's f1_score(average="macro"))
computed once and written down here."""

from __future__ import annotations

import pytest

from modelmemo.pilot.metrics import (bootstrap_interval, chrf, chrf_statistics, corpus_chrf, exact_match,
                                     length_ratio, macro_f1, mean, percentile, recall_hits, rouge_l)

# (hypothesis, reference, sacrebleu 2.6.0 CHRF().sentence_score(h, [r]).score)
SACREBLEU_CHRF = [
    ("the cat sat on the mat", "the cat is on the mat", 64.5779420625287),
    ("Hallo Welt", "Hallo Welt", 100.0),
    ("abc", "xyz", 0.0),
    ("a", "abcdefg", 17.241379310344822),
    ("Der schnelle braune Fuchs", "Der flinke braune Fuchs springt", 45.98396903599895),
]


@pytest.mark.parametrize("hypothesis, reference, expected", SACREBLEU_CHRF)
def test_chrf_matches_sacrebleu_sentence_scores(hypothesis, reference, expected):
    assert chrf(hypothesis, reference) == pytest.approx(expected, abs=1e-9)


def test_chrf_by_hand_one_character_against_seven():
    # "a" has one 1-gram, "abcdefg" seven; one match: P = 1, R = 1/7; orders 2..6 have no hypothesis
    # n-gram and do not count. F2 = (1 + 4) P R / (4 P + R) = (5/7) / (29/7) = 5/29.
    assert chrf_statistics("a", "abcdefg")[:3] == [1, 7, 1]
    assert chrf("a", "abcdefg") == pytest.approx(100 * 5 / 29)


def test_chrf_ignores_whitespace_and_keeps_case():
    assert chrf("a b c", "abc") == 100.0
    assert chrf("ABC", "abc") == 0.0


def test_corpus_chrf_sums_statistics_like_sacrebleu_corpus_score():
    stats = [chrf_statistics(h, r) for h, r, _ in SACREBLEU_CHRF]
    assert corpus_chrf(stats) == pytest.approx(53.910569405869936, abs=1e-9)  # sacrebleu corpus_score
    assert corpus_chrf(stats) != pytest.approx(mean([e for _, _, e in SACREBLEU_CHRF]))  # not a mean of sentences


def test_rouge_l_by_hand():
    # LCS of "the cat is on the mat" and "the cat sat on the mat" is "the cat on the mat": 5 of 6 words
    # each way, P = R = F = 5/6 (rouge-score gives 0.8333 as well).
    assert rouge_l("the cat is on the mat", "the cat sat on the mat") == pytest.approx(5 / 6)
    # P = 2/2, R = 2/4: F = 2 * 1 * 0.5 / 1.5 = 2/3
    assert rouge_l("cat mat", "the cat the mat") == pytest.approx(2 / 3)
    assert rouge_l("", "anything") == 0.0
    assert rouge_l("Ñandú Straße", "ñandú STRASSE ñandú straße") > 0  # any script, case-folded


def test_length_ratio_counts_words():
    assert length_ratio("one two three", "one two three four five six") == pytest.approx(0.5)


def test_exact_match_and_macro_f1_by_hand():
    pairs = [("billing", "billing"), ("tech", "billing"), ("tech", "tech"), ("Tech.", "tech"), ("billing", "other")]
    assert exact_match(pairs) == pytest.approx(3 / 5)
    # billing: TP 1, predicted 2, actual 2 -> F1 2/4 = 0.5; tech: TP 2, predicted 3, actual 2 -> 4/5 = 0.8;
    # other: TP 0 -> 0. Macro-F1 = 1.3 / 3 (scikit-learn: 0.43333).
    assert macro_f1(pairs) == pytest.approx(1.3 / 3)


def test_recall_hits_rank_each_query_against_every_passage():
    queries = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    passages = [[1, 0, 0], [1, 0.1, 0], [0, 0, 1]]  # the second query's passage is closer to the first query's
    assert recall_hits(queries, passages, k=1) == [1, 1, 1]
    passages_swapped = [[0.5, 1, 0], [1, 0.5, 0], [0, 0, 1]]  # each of the first two is second for its query
    assert recall_hits(queries, passages_swapped, k=1) == [0, 0, 1]
    assert recall_hits(queries, passages_swapped, k=2) == [1, 1, 1]
    assert recall_hits([[1, 0]], [[0, 1]], k=1) == [1]  # the only passage ranks first, however far
    assert recall_hits([[1, 0], [1, 0]], [[1, 0], [1, 0]], k=1) == [0, 0]  # a tie counts against the query


def test_bootstrap_is_seeded_and_brackets_the_value():
    values = [0, 1, 1, 0, 1, 1, 1, 0, 1, 1]
    low, high = bootstrap_interval(values, mean, 1000, seed=7)
    assert (low, high) == bootstrap_interval(values, mean, 1000, seed=7)
    assert low <= mean(values) <= high and low < high
    assert bootstrap_interval([1, 1, 1], mean, 200, seed=1) == (1.0, 1.0)


def test_percentile_interpolates_like_numpy():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10, 20, 30, 40, 50], 95) == pytest.approx(48.0)
    assert percentile([5], 95) == 5
