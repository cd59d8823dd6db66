"""EIBench's metrics, one table: every metric a run reports is one :class:`Metric` in :data:`METRICS`.

From the table come the per-sample metrics of a document (:func:`sample_metrics`, what ``process_results``
returns), the task's ``metric_list`` (:func:`metric_list`: the task classes build it, no YAML lists a metric),
the report's columns (:data:`REPORT_COLUMNS`) and units, and the keys of ``eibench score --json``
(:func:`score_keys`). Adding a metric is one entry here, its aggregation in ``pipeline`` (re-exported by
``tasks/eibench/utils.py``) and its test; ``tests/test_metrics.py`` checks that every consumer follows the table.

A name pattern holds ``{m}`` for a per-judge family (``eibench_recall`` for LLM judges, ``eibench_semantic_recall``
for the embedding judge: every task lists both, a run reports its judge's) and ``{category}`` for one entry per
basic category. Standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lmms_eval_eibench import BASIC_CATEGORIES, vocabulary
from lmms_eval_eibench.vocabulary import GENERATION_FAILURE, JUDGE_FAILURE, RECALL_METRICS

__all__ = [
    "ANSWER_LENGTH", "AT_BUDGET", "CATEGORY", "COHERENCE", "COSINE_PERCENT", "COUNT", "FRACTION", "GENERATION_FAILURES",
    "JUDGED", "JUDGE_FAILURES", "METRICS", "OVERALL", "PAIRED", "PERCENT", "REPORT_COLUMNS", "TRIGGER", "WORDS",
    "Metric", "SampleFacts", "Unit", "expanded", "group_metrics", "metric_list", "sample_metrics", "score_keys",
]


@dataclass(frozen=True)
class Unit:
    """What a value is measured in: its name, the range a true value lies in, and how the report prints it."""

    name: str
    low: float
    high: float
    digits: int

    def bounds(self) -> tuple[float, float]:
        return self.low, self.high

    def cell(self, value: float) -> str:
        """``value`` as the report prints it in this unit."""
        return f"{value:.{self.digits}f}"


PERCENT = Unit("0-100", 0.0, 100.0, 2)
FRACTION = Unit("0-1", 0.0, 1.0, 4)
WORDS = Unit("words", 0.0, math.inf, 0)
COUNT = Unit("count", 0.0, math.inf, 0)
COSINE_PERCENT = Unit("0-100 (a mean cosine times 100, so down to -100)", -100.0, 100.0, 2)


@dataclass(frozen=True)
class SampleFacts:
    """What one document's metrics are computed from (``pipeline.sample_metrics`` gathers it): the counted recall
    0-1 (a failure 0), covered triggers of ``total``, the failure kind, the document's basic category (lower
    case, "" for complex), the verdict as logged, the answer's words, the cut answer's counted recall and the
    answer's coherence on 0-100 (None when not computed)."""

    image_path: Any
    recall: float
    covered: float
    total: int
    failure: str | None
    category: str
    verdict: Mapping[str, Any]
    answer_words: int
    at_budget: float | None = None
    coherence: float | None = None


@dataclass(frozen=True)
class Metric:
    """One metric (or one family of them, see the module's doc).

    ``sample`` computes a document's item from its :class:`SampleFacts` (and, for ``{category}`` entries, the
    category); ``aggregation`` names the ``pipeline`` function (``utils.X`` for lmms-eval) that turns the items
    into the row's value, in ``unit`` (``sample_unit``: the items' own unit, when it differs); ``when`` is the
    setting without which no document has it (``word_budget``, ``coherence``). The report reads the value into
    ``TaskResult.<field>``, prints it under ``column`` (``column_rank`` orders the columns), and ``summary_key``
    is its key in the report's JSON summary; ``score_key`` is its key in ``eibench score --json``."""

    pattern: str
    sample: Callable[..., Any]
    aggregation: str
    unit: Unit
    higher_is_better: bool
    subsets: tuple[str, ...] = ("basic", "complex")
    sample_unit: Unit | None = None
    when: str | None = None
    field: str | None = None
    column: str | None = None
    column_rank: int = 0
    summary_key: str | None = None
    score_key: str | None = None
    doc: str = ""

    @property
    def per_judge(self) -> bool:
        return "{m}" in self.pattern

    @property
    def per_category(self) -> bool:
        return "{category}" in self.pattern

    def name(self, family: str | None = None, category: str | None = None) -> str:
        """The metric's name for a judge ``family`` (and a basic ``category``)."""
        return self.pattern.format(m=family or "", category=(category or "").lower())


_M = "{m}"  # the judge family's name in a pattern (the names themselves are built in vocabulary.py)


def _percent(facts: SampleFacts, category: str | None = None) -> float:
    return 100.0 * facts.recall


# -- the table -----------------------------------------------------------------------------------------------

PAIRED = Metric(
    vocabulary.PAIRED_SCORE, lambda f, c=None: float(f.recall), "paired_score_mean", PERCENT, True,
    sample_unit=FRACTION,
    doc="the headline recall; per sample 0-1 and the first key, so that lmms-eval's --baseline pairs runs on it "
        "(its row, Diff and stderr are on 0-100)")
OVERALL = Metric(
    _M, lambda f, c=None: {"image_path": f.image_path, "score": _percent(f), "verdict": dict(f.verdict)},
    "recall_mean", PERCENT, True, field="overall", column="Overall", column_rank=1, summary_key="recall",
    score_key="overall",
    doc="mean per-sample recall over all samples, failures as 0 (the paper's Overall); the item carries the "
        "verdict into --log_samples and the image path lmms-eval clusters complex's stderr by")
CATEGORY = Metric(
    vocabulary.category_metric(_M, "{category}"), lambda f, c=None: _percent(f) if f.category == c.lower() else None,
    "recall_mean", PERCENT, True, subsets=("basic",), field="categories", column="{category}", column_rank=0,
    summary_key="categories", score_key="per_category",
    doc="basic only: the mean within one category (None for the other categories' samples)")
TRIGGER = Metric(
    vocabulary.trigger_metric(_M), lambda f, c=None: {"covered": f.covered, "total": f.total}, "trigger_recall",
    PERCENT, True, field="trigger_recall", summary_key="trigger_recall", score_key="trigger_recall",
    doc="micro recall: covered triggers over ground-truth triggers (a failed sample covers none)")
JUDGED = Metric(
    vocabulary.judged_metric(_M), lambda f, c=None: _percent(f) if f.failure is None else None, "recall_mean",
    PERCENT, True, score_key="overall_judged", doc="diagnosis: the mean over judged samples only")
JUDGE_FAILURES = Metric(
    vocabulary.JUDGE_FAILURES, lambda f, c=None: int(f.failure == JUDGE_FAILURE), "failure_count", COUNT, False,
    field="judge_failures", summary_key="judge_failures", score_key="n_failed",
    doc="samples the judge gave no verdict for (each counts as 0)")
GENERATION_FAILURES = Metric(
    vocabulary.GENERATION_FAILURES, lambda f, c=None: int(f.failure == GENERATION_FAILURE), "failure_count", COUNT,
    False, field="generation_failures", summary_key="generation_failures", score_key="n_generation_failed",
    doc="samples whose model gave no answer: not judged, each counts as 0")
ANSWER_LENGTH = Metric(  # neither better high nor low (a longer answer lists more); lmms-eval wants a bool
    vocabulary.ANSWER_WORDS, lambda f, c=None: f.answer_words, "answer_words_mean", WORDS, False,
    field="answer_words", column="Words", column_rank=3, summary_key="answer_words", score_key="answer_words",
    doc="mean words per answer (failures as 0); no judge")
AT_BUDGET = Metric(
    vocabulary.budget_metric(_M), lambda f, c=None: 100.0 * (f.at_budget or 0.0), "recall_mean", PERCENT, True,
    when="word_budget", field="at_budget", column="At Budget", column_rank=4, summary_key="at_budget",
    score_key="overall_at_budget", doc="every answer cut to its first N words (EIBENCH_WORD_BUDGET=N)")
COHERENCE = Metric(
    vocabulary.COHERENCE, lambda f, c=None: f.coherence, "coherence_mean", COSINE_PERCENT, True, when="coherence",
    field="coherence", column="Coherence", column_rank=5, summary_key="coherence",
    doc="the paper's long-term coherence (EIBENCH_COHERENCE=1; answers of 2+ sentences, an exact 0 dropped)")

# The order of a sample's metrics and of the task's metric_list (each run of consecutive per-judge entries is
# listed once per family): lmms-eval reports a task's `samples` as the item count of its last metric.
METRICS: tuple[Metric, ...] = (PAIRED, OVERALL, CATEGORY, TRIGGER, JUDGED, JUDGE_FAILURES, GENERATION_FAILURES,
                               ANSWER_LENGTH, AT_BUDGET, COHERENCE)

REPORT_COLUMNS: tuple[str, ...] = tuple(
    label for metric in sorted((m for m in METRICS if m.column), key=lambda m: m.column_rank)
    for label in ([*BASIC_CATEGORIES] if metric.per_category else
                  [metric.column, "Complex Recall"] if metric.field == "overall" else [metric.column]))
"""The report's metric columns, in order: the basic categories, the headline (basic: Overall; complex: Complex
Recall), then the other metrics that have a column."""


def _categories(metric: Metric) -> Sequence[str | None]:
    return BASIC_CATEGORIES if metric.per_category else (None,)


def expanded(subset: str, families: Sequence[str] = RECALL_METRICS) -> list[tuple[str, Metric, str | None]]:
    """(name, metric, category) of every metric a task of ``subset`` lists, in order: each run of consecutive
    per-judge entries once per family of ``families``."""
    out: list[tuple[str, Metric, str | None]] = []
    entries = [m for m in METRICS if subset in m.subsets]
    i = 0
    while i < len(entries):
        if not entries[i].per_judge:
            out.append((entries[i].name(), entries[i], None))
            i += 1
            continue
        block = []
        while i < len(entries) and entries[i].per_judge:
            block.append(entries[i])
            i += 1
        out += [(m.name(family, c), m, c) for family in families for m in block for c in _categories(m)]
    return out


def metric_list(subset: str, aggregation: Callable[[str], Callable[..., Any]]) -> list[dict[str, Any]]:
    """The task's ``metric_list`` (as a YAML would give it), ``aggregation`` resolving an aggregation's name to
    the function (``pipeline``'s)."""
    return [{"metric": name, "aggregation": aggregation(metric.aggregation),
             "higher_is_better": metric.higher_is_better} for name, metric, _ in expanded(subset)]


def sample_metrics(facts: SampleFacts, family: str, subset: str, *, word_budget: bool = False,
                   coherence: bool = False) -> dict[str, Any]:
    """One document's metrics for the judge ``family``: every document of a run returns the same keys (lmms-eval
    counts a task's samples from its last metric); a metric whose setting is off is absent."""
    settings = {"word_budget": word_budget, "coherence": coherence}
    return {name: metric.sample(facts, category) for name, metric, category in expanded(subset, (family,))
            if metric.when is None or settings[metric.when]}


def group_metrics() -> tuple[str, ...]:
    """What the groups (``eibench``, ``eibench_cot``...) pool over their subtasks: the headline of each family."""
    return tuple(OVERALL.name(family) for family in RECALL_METRICS)


def score_keys() -> tuple[str, ...]:
    """The metric keys of ``eibench score --json``, in the table's order."""
    return tuple(m.score_key for m in METRICS if m.score_key)

