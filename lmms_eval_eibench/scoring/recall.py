"""EIBench recall, pure: per-sample scores (`SampleScore`) and their aggregation into a run's recall.

A sample's recall is the share of its ground-truth triggers the answer covers (read from the judge's reply by
`verdict_parser`). **Every sample counts**: a sample without an answer (a generation failure) and a sample whose
judgement failed both score 0 in the headline recall, as with the official scripts; they are counted apart, and
a second figure over judged samples only (`overall_judged`) is there for diagnosis. So abstaining, or breaking
the judge, can only cost a model, never help it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lmms_eval_eibench import BASIC_CATEGORIES
from lmms_eval_eibench.vocabulary import GENERATION_FAILURE, JUDGE_FAILURE

__all__ = [
    "RecallSummary",
    "SampleScore",
    "mean",
    "micro_recall",
    "stderr",
    "summarize",
    "to_percent",
]


@dataclass(frozen=True)
class SampleScore:
    """One sample's outcome. `recall` in [0, 1] is the judge's, None when there is none: `failure` then says
    why (`"judge"`: the judge gave no usable verdict; `"generation"`: the model gave no answer)."""

    recall: float | None
    covered: float | None = None
    total: int = 0
    category: str | None = None
    failure: str | None = None

    def __post_init__(self) -> None:
        if self.recall is None and self.failure is None:
            object.__setattr__(self, "failure", JUDGE_FAILURE)

    @property
    def counted_recall(self) -> float:
        """The recall this sample counts with in the headline figures: a failure counts as 0."""
        return 0.0 if self.recall is None else self.recall

    @property
    def counted_covered(self) -> float:
        return 0.0 if self.recall is None or self.covered is None else self.covered


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the non-None values (None when there are none)."""
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def stderr(values: Iterable[float | None]) -> float | None:
    """Standard error of the mean of the non-None values (sample std, ddof=1, as lmms-eval)."""
    kept = [v for v in values if v is not None]
    if len(kept) < 2:
        return None
    mu = sum(kept) / len(kept)
    return math.sqrt(sum((v - mu) ** 2 for v in kept) / (len(kept) - 1)) / math.sqrt(len(kept))


def micro_recall(pairs: Iterable[tuple[float, int]]) -> float | None:
    """Covered triggers / ground-truth triggers over the (covered, total) pairs, one per sample (a failed sample
    covers 0: `SampleScore.counted_covered`); None when there are no triggers."""
    covered = total = 0.0
    for c, t in pairs:
        covered += c
        total += t
    return covered / total if total else None


@dataclass(frozen=True)
class RecallSummary:
    """Aggregate of a run, values in [0, 1] (see `to_percent`).

    `overall`, `per_category` and `trigger_recall` count every sample (failures as 0); `overall_judged` is
    the mean over judged samples only, for diagnosis. `n = n_judged + n_failed + n_generation_failed`.
    """

    overall: float | None
    overall_stderr: float | None
    per_category: dict[str, float | None] = field(default_factory=dict)
    trigger_recall: float | None = None
    overall_judged: float | None = None
    n: int = 0
    n_judged: int = 0
    n_failed: int = 0
    n_generation_failed: int = 0


def summarize(scores: Sequence[SampleScore], categories: Sequence[str] | None = None) -> RecallSummary:
    """Overall = mean over all samples, failures counted as 0 (the paper's way: a sample mean, not a mean of
    category means); per-category means over `categories` (default: the basic categories present, if any)."""
    if categories is None:
        present = {s.category for s in scores if s.category}
        categories = [c for c in BASIC_CATEGORIES if c in present] + sorted(present - set(BASIC_CATEGORIES))
    counted = [s.counted_recall for s in scores]
    return RecallSummary(
        overall=mean(counted),
        overall_stderr=stderr(counted),
        per_category={c: mean(s.counted_recall for s in scores if s.category == c) for c in categories},
        trigger_recall=micro_recall((s.counted_covered, s.total) for s in scores),
        overall_judged=mean(s.recall for s in scores),
        n=len(scores),
        n_judged=sum(1 for s in scores if s.failure is None),
        n_failed=sum(1 for s in scores if s.failure == JUDGE_FAILURE),
        n_generation_failed=sum(1 for s in scores if s.failure == GENERATION_FAILURE),
    )


def to_percent(value: float | None) -> float | None:
    """A [0, 1] value on the 0-100 scale the benchmark reports (None stays None)."""
    return None if value is None else 100.0 * value
