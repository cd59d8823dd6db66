"""scoring/recall.py: per-sample scores and their aggregation into a run's recall (every sample counts, a failure
as 0), micro recall, stderr."""

from __future__ import annotations

import math

import pytest

from lmms_eval_eibench.scoring.recall import (
    SampleScore,
    mean,
    micro_recall,
    stderr,
    summarize,
    to_percent,
)
from lmms_eval_eibench.vocabulary import GENERATION_FAILURE


def test_mean_and_stderr_leave_out_none() -> None:
    assert mean([0.5, None, 1.0]) == 0.75
    assert mean([None]) is None
    values = [0.2, 0.4, 0.9]
    mu = sum(values) / 3
    expected = math.sqrt(sum((v - mu) ** 2 for v in values) / 2) / math.sqrt(3)
    assert stderr([*values, None]) == pytest.approx(expected)
    assert stderr([0.5]) is None


def test_micro_recall_weights_by_trigger_count() -> None:
    assert micro_recall([(1, 2), (4, 8)]) == pytest.approx(5 / 10)
    assert micro_recall([(1, 2), (4, 8), (0, 5)]) == pytest.approx(5 / 15)  # a failed sample's triggers count
    assert micro_recall([]) is None


def test_summarize_overall_is_the_sample_mean_not_the_category_mean() -> None:
    scores = [
        SampleScore(1.0, 2, 2, "Happy"),
        SampleScore(0.0, 0, 4, "Angry"),
        SampleScore(0.5, 2, 4, "Angry"),
        SampleScore(0.5, 1, 2, "Angry"),
    ]
    summary = summarize(scores)
    assert summary.overall == pytest.approx(2.0 / 4)  # not (1.0 + 1/3) / 2
    assert summary.per_category == {"Happy": 1.0, "Angry": pytest.approx(1 / 3)}
    assert summary.trigger_recall == pytest.approx(5 / 12)


def test_every_sample_counts_failures_score_zero() -> None:
    scores = [
        SampleScore(1.0, 2, 2, "Happy"),
        SampleScore(0.5, 2, 4, "Angry"),
        SampleScore(None, None, 3, "Angry"),  # the judge failed
        SampleScore(None, None, 3, "Sadness", failure=GENERATION_FAILURE),  # no answer
    ]
    summary = summarize(scores)
    assert summary.overall == pytest.approx(1.5 / 4)  # both failures count as 0
    assert summary.overall_judged == pytest.approx(1.5 / 2)  # the diagnosis figure: judged samples only
    assert summary.per_category == {"Happy": 1.0, "Angry": pytest.approx(0.25), "Sadness": 0.0}
    assert summary.trigger_recall == pytest.approx(4 / 12)  # failed samples' triggers count as missed
    assert (summary.n, summary.n_judged, summary.n_failed, summary.n_generation_failed) == (4, 2, 1, 1)
    values = [0.0 if s.recall is None else s.recall for s in scores]
    assert summary.overall_stderr == pytest.approx(stderr(values))


def test_abstaining_never_raises_the_score() -> None:
    """Blanking the hardest answers (or making the judge fail on them) must not raise any headline figure."""
    honest = [SampleScore(r, r * 4, 4, c) for r, c in [(0.0, "Angry"), (0.0, "Happy"), (0.5, "Angry"), (1.0, "Happy")]]
    abstained = [SampleScore(None, None, 4, s.category, failure=GENERATION_FAILURE) if s.recall == 0 else s
                 for s in honest]
    judge_broken = [SampleScore(None, None, 4, s.category) if s.recall == 0 else s for s in honest]
    for gamed in (abstained, judge_broken):
        before, after = summarize(honest), summarize(gamed)
        assert after.overall <= before.overall
        assert after.trigger_recall <= before.trigger_recall
        assert all(after.per_category[c] <= before.per_category[c] for c in before.per_category)


def test_summarize_with_fixed_categories_reports_empty_ones() -> None:
    summary = summarize([SampleScore(0.5, 1, 2, "Happy")], categories=["Happy", "Angry", "Sadness", "Excitement"])
    assert summary.per_category == {"Happy": 0.5, "Angry": None, "Sadness": None, "Excitement": None}


def test_to_percent() -> None:
    assert to_percent(None) is None and to_percent(0.125) == 12.5
