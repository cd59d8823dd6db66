"""The scoring pipeline: answers + documents + a judge -> verdicts -> per-sample metrics and a run's summary.

Every route to an EIBench number goes through here, so each rule lives once:

- ``judge_answers``: a generation failure (``vocabulary.generation_failure``) is never sent to the judge; it gets
  a no-answer verdict. Everything else is judged in one concurrent, cached call, in the order given.
- ``sample_metrics`` (lmms-eval / lm-eval, per document) and ``summarize_verdicts`` (a whole run) count every sample:
  a failure of either kind scores 0; ``<metric>_judged`` / ``overall_judged`` is the mean over judged samples.
- ``judge_at_budget``: the word budget's second reading: answers over budget are cut (``length.cut_to_words``) and
  judged again; answers within it keep their verdict (no request).
- ``partial_warning``: a run that scores fewer samples than its subset has says so, in the same words everywhere.
- ``provenance_record``: what produced the number (judge, prompts, generation, dataset, plugin version).

Callers: ``harness.lifecycle.EIBenchLifecycle`` (both harnesses: judge in ``apply_filters``, metrics in
``process_results``), the aggregations the task YAMLs name, and ``eibench score``. Nothing here imports a harness.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmms_eval_eibench import BASIC_CATEGORIES, config, metrics
from lmms_eval_eibench.prompts import template_version
from lmms_eval_eibench.scoring import recall as scoring
from lmms_eval_eibench.scoring.coherence import answer_percent
from lmms_eval_eibench.scoring.length import WORD_RULE, answer_words, cut_to_words, mean_answer_words
from lmms_eval_eibench.vocabulary import (
    REPEATED_QUESTION,
    generation_failure,
    repeats_question,
)

if TYPE_CHECKING:  # heavy: imported only inside functions
    from lmms_eval_eibench.judges import JudgeEngine, JudgeIdentity, JudgeItem, Verdict

# Columns of a document the judge needs (the lmms-eval task reads only these before judging).
JUDGED_COLUMNS = ("id", "ground_truth", "triggers", "category", "image_path")

# ---------------------------------------------------------------------------------------------------------------
# The judge: one engine per process and settings

_ENGINES: dict[Any, JudgeEngine] = {}
_ENGINES_LOCK = threading.Lock()


def engine() -> JudgeEngine:
    """The judge engine of the current EIBENCH_* settings (built once per process and settings)."""
    from lmms_eval_eibench.judges import JudgeSettings, build_engine

    settings = JudgeSettings.from_env()
    with _ENGINES_LOCK:
        if settings not in _ENGINES:
            _ENGINES[settings] = build_engine(settings)
        return _ENGINES[settings]


def judge_answers(judge: JudgeEngine, items: Sequence[JudgeItem],
                  questions: Sequence[str | None] | None = None) -> list[Verdict]:
    """One verdict per item, in order. An item without an answer (a generation failure, or, given the items'
    ``questions``, an answer that is its question word for word: ``vocabulary.repeats_question``) is not judged:
    its verdict says so and counts as 0. The rest go to the judge in one concurrent, cached call (the same answer
    once)."""
    from lmms_eval_eibench.judges import Verdict

    def not_an_answer(i: int, item: JudgeItem) -> str | None:
        if questions is not None and repeats_question(item.answer, questions[i]):
            return REPEATED_QUESTION
        return generation_failure(item.answer)

    no_answer = {i: Verdict.no_answer(item, reason) for i, item in enumerate(items)
                 if (reason := not_an_answer(i, item)) is not None}
    judged = iter(judge.judge_many([item for i, item in enumerate(items) if i not in no_answer]))
    return [no_answer.get(i) or next(judged) for i in range(len(items))]


def interrupted_message(engine: JudgeEngine, items: Sequence[JudgeItem], rerun: str = "the same command",
                        resume: str = "only the other answers are sent to the judge") -> str:
    """What Ctrl-C while judging leaves: how many verdicts the cache holds and that running ``rerun`` again
    resumes from them (``resume``: what the rerun does)."""
    if engine.cache is None:
        return ("interrupted; no verdict is saved (the cache is off: --no-cache / EIBENCH_NO_CACHE), so a rerun "
                "asks the judge again for every answer; nothing was written")
    try:
        distinct, cached = engine.cached_count(items)
    except Exception:  # noqa: BLE001 - the interrupt may have hit the cache itself; still say how to resume
        return f"interrupted; run {rerun} again to resume: verdicts already saved are not asked again"
    return (f"interrupted; {cached} of {distinct} verdicts are saved in the judge cache ({engine.cache.path}); "
            f"run {rerun} again to resume: {resume}")


def judge_at_budget(judge: JudgeEngine, items: Sequence[JudgeItem], verdicts: Sequence[Verdict],
                    budget: int) -> tuple[list[JudgeItem], list[Verdict]]:
    """Each answer cut to its first ``budget`` words (``length.cut_to_words``) and its verdict: an answer within
    the budget keeps the verdict it has (no request, cache or not); the cut ones are judged in one call."""
    cut_items = [item if (cut := cut_to_words(item.answer, budget)) is item.answer else replace(item, answer=cut)
                 for item in items]
    over = [i for i, (item, cut) in enumerate(zip(items, cut_items)) if cut is not item]
    rejudged = dict(zip(over, judge_answers(judge, [cut_items[i] for i in over])))
    return cut_items, [rejudged.get(i) or verdict for i, verdict in enumerate(verdicts)]


def partial_warning(name: str, n_scored: int, n_subset: int, cause: str) -> str | None:
    """The warning a run scoring fewer samples than its subset has gets (None for a full run); ``cause`` is the
    option that allows it (``--limit``, ``--allow-partial``)."""
    if n_scored >= n_subset:
        return None
    return (f"PARTIAL: {name}: {n_scored} of {n_subset} samples scored ({cause}); its recall is not comparable "
            "with full runs (eibench report marks it)")


def provenance_record(judge: JudgeIdentity, *, template: str | None = None,
                      generation: Mapping[str, Any] | None = None, dataset: str | None = None,
                      from_dataset: bool = True, samples: Mapping[str, Any] | None = None,
                      annotations: str | Path | None = None, word_budget: int | None = None,
                      coherence: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The provenance record (``provenance.build_provenance``) of a run judged by the judge ``judge``: the model prompt ``template`` and its version, the ``generation`` settings, the
    dataset (``dataset``, default ``EIBENCH_DATASET``: location, Hub revision, manifest fingerprint; none
    ``from_dataset=False``, when the ground truth came from the annotation files ``annotations``), whether the
    annotations were the official files, the ``word_budget`` and ``coherence`` models (if any) and this plugin's
    version.
    Raises ``DatasetIntegrityError`` for a tampered build: a bad build must not cost a paid run."""
    from lmms_eval_eibench.provenance import build_provenance

    dataset_fields: dict[str, Any] = {}
    if not from_dataset and annotations is not None:
        from lmms_eval_eibench.data.official import files_match
        from lmms_eval_eibench.data.records import find_annotation_root

        dataset_fields = {"dataset_official": files_match(find_annotation_root(annotations))}
    if from_dataset:
        from lmms_eval_eibench.data.dataset import fingerprint, hub_revision, looks_like_repo_id, official

        location = str(dataset) if dataset is not None else config.dataset_location()
        if Path(location).expanduser().is_dir():  # a folder as typed (relative, ~) would not say which one
            location = str(Path(location).expanduser().resolve())
        dataset_fields = {
            "dataset_source": location,
            "dataset_revision": hub_revision(location) if looks_like_repo_id(location) else None,
            "dataset_manifest_sha256": fingerprint(dataset),
            "dataset_official": official(dataset),
        }
    return build_provenance(
        **judge.provenance_fields(),
        model_prompt=template or None,
        model_prompt_version=template_version(template) if template else None,
        generation=dict(generation) if isinstance(generation, Mapping) else None,
        samples=samples,
        word_budget=word_budget,
        word_rule=WORD_RULE if word_budget is not None else None,
        coherence=coherence,
        **dataset_fields,
    )


# ---------------------------------------------------------------------------------------------------------------
# Metrics of one sample (the harnesses) and of a run (eibench score)


def sample_metrics(doc: Mapping[str, Any], verdict: Verdict, metric: str, subset: str, *, answer: str | None = None,
                   at_budget: Verdict | None = None, with_coherence: bool = False,
                   coherence: float | None = None) -> dict[str, Any]:
    """One document's metrics (the keys, items and their order are ``metrics.METRICS``): every document of a
    run returns the same keys, for the judge's family ``metric``. A sample the judge failed on, or whose model gave
    no answer, scores 0 (and adds to its failure count); the verdict (reason, raw judge text) rides in the
    ``<metric>`` item so it lands in ``--log_samples``. ``at_budget`` (the verdict of the answer cut to the word
    budget, given for every document when a budget is set) adds ``<metric>_at_budget``; ``with_coherence`` adds
    ``eibench_coherence`` from the answer's ``coherence`` (in [-1, 1], ``coherence.py``)."""
    sample = verdict.score(doc.get("category"))
    facts = metrics.SampleFacts(
        image_path=doc["image_path"], recall=sample.counted_recall, covered=sample.counted_covered,
        total=verdict.total, failure=sample.failure, category=str(doc.get("category") or "").lower(),
        verdict=verdict.to_log(), answer_words=answer_words(answer),
        at_budget=None if at_budget is None else at_budget.score(doc.get("category")).counted_recall,
        coherence=answer_percent(coherence) if with_coherence else None)
    return metrics.sample_metrics(facts, metric, subset, word_budget=at_budget is not None,
                                  coherence=with_coherence)


def verdict_line(item: JudgeItem, verdict: Verdict) -> dict[str, Any]:
    """One sample of ``eibench score --output``: its id, category and verdict, flattened for reading, and the
    answer judged (what ``eibench view`` shows beside the verdict)."""
    return {
        "id": item.id, "category": item.category, "recall": verdict.recall, "failed": verdict.judge_failed,
        "generation_failed": verdict.generation_failed, "covered": verdict.covered, "total": verdict.total,
        "reason": verdict.reason, "raw": verdict.raw, "error": verdict.error, "verdict": verdict.to_log(),
        "answer": item.answer,
    }


def summarize_verdicts(items: Sequence[JudgeItem], verdicts: Sequence[Verdict], subset: str) -> scoring.RecallSummary:
    """A run's recall (``scoring.summarize``): per category for basic, none for complex."""
    return scoring.summarize([v.score(i.category) for v, i in zip(verdicts, items)],
                             categories=None if subset == "basic" else [])


def score_json(summary: scoring.RecallSummary, subset: str, metric: str, judge: Mapping[str, Any],
               provenance: Any, task: str | None, model: str | None = None,
               n_subset: int | None = None, answers: Sequence[str] | None = None,
               at_budget: tuple[int, scoring.RecallSummary] | None = None) -> dict[str, Any]:
    """The ``eibench score --json`` object (``published/summary.schema.json`` describes the report's; this one is
    what ``eibench report`` reads back). ``n = n_judged + n_failed + n_generation_failed``; ``partial`` when ``n``
    is below ``n_subset``, the subset's size. ``answer_words``: the mean length of ``answers`` (None without them:
    ``--from-verdicts``); ``at_budget`` is the word budget and the summary of the answers cut to it."""
    to_percent = scoring.to_percent
    per_category = {c: to_percent(summary.per_category.get(c)) for c in BASIC_CATEGORIES} if subset == "basic" else {}
    out: dict[str, Any] = {
        "subset": subset,
        "model": model,
        "metric": metric,
        "overall": to_percent(summary.overall),
        "overall_stderr": to_percent(summary.overall_stderr),
        "overall_judged": to_percent(summary.overall_judged),
        "per_category": per_category,
        "trigger_recall": to_percent(summary.trigger_recall),
        "n": summary.n,
        "n_subset": n_subset if n_subset is not None else summary.n,
        "partial": n_subset is not None and summary.n < n_subset,
        "n_judged": summary.n_judged,
        "n_failed": summary.n_failed,
        "n_generation_failed": summary.n_generation_failed,
        "answer_words": None if answers is None else round(mean_answer_words(answers), 2),
        "judge": dict(judge),
        "provenance": provenance,
    }
    if at_budget is not None:
        budget, cut = at_budget
        out["word_budget"] = budget
        out["overall_at_budget"] = to_percent(cut.overall)
        out["n_failed_at_budget"] = cut.n_failed
    if task:
        out["task"] = task
    return out


# ---------------------------------------------------------------------------------------------------------------
# The aggregations of ``metrics.METRICS`` (the names ``tasks/eibench/utils.py`` re-exports)


def aggregation(name: str) -> Any:
    """The aggregation function a ``metrics.Metric`` names."""
    function = _AGGREGATIONS.get(name)
    if function is None:
        raise KeyError(f"metrics.METRICS names aggregation {name!r}, which pipeline.py does not define")
    return function


def _nan_if_none(value: float | None) -> float:
    # lmms-eval formats every aggregate as a number (its results table, stderr, group means): "nothing judged"
    # must be a float, so scoring's None becomes NaN (written as NaN, shown as "nan"; never a score of 0)
    return float("nan") if value is None else value


def recall_mean(items: Iterable[Any]) -> float:
    """Mean per-sample recall (0-100, ``scoring.mean``) of the items that carry one; NaN when none does.

    Items are ``{"score": ...}`` dicts (``<metric>``: every sample, failures at 0) or numbers / None (category
    metrics; ``<metric>_judged``, where None marks a sample without a verdict)."""
    return _nan_if_none(scoring.mean(item.get("score") if isinstance(item, Mapping) else item for item in items))


def paired_score_mean(items: Iterable[float]) -> float:
    """``eibench_paired_score``: the headline recall, 0-100, from the per-sample 0-1 scores; NaN for none.

    The per-sample scores stay 0-1: lmms-eval's ``--baseline`` pairs them from the logged samples and prints the
    baseline, its CI and ``Diff = row value - baseline`` times 100. The row is on 0-100, so its Diff is B - A, and
    ``lmms_compat.percent_items`` puts the items lmms-eval computes this row's ``_stderr_clt`` from on 0-100 too."""
    from lmms_eval_eibench.edge.lmms_compat import percent_items

    return _nan_if_none(scoring.mean(percent_items(items)))


def answer_words_mean(items: Iterable[int]) -> float:
    """``eibench_answer_words``: mean words per answer (generation failures as 0); NaN for none."""
    return _nan_if_none(scoring.mean(items))


def coherence_mean(items: Iterable[float | None]) -> float:
    """``eibench_coherence``: the run's long-term coherence, 0-100: the mean of the per-answer items
    (``coherence.answer_percent``: 0-100, None for an answer of fewer than 2 sentences or an exact 0, dropped as
    the official script does), so that lmms-eval's ``_stderr_clt`` over the same items is on the same scale; NaN
    when none is scored."""
    return _nan_if_none(scoring.mean(items))


def trigger_recall(items: Iterable[Mapping[str, Any] | None]) -> float:
    """Micro recall (0-100, ``scoring.micro_recall``): covered ground-truth triggers over all ground-truth triggers
    (a failed sample covers none); NaN for no samples."""
    micro = scoring.micro_recall((item["covered"], item["total"]) for item in items if item is not None)
    return _nan_if_none(None if micro is None else 100.0 * micro)


def failure_count(items: Iterable[int]) -> int:
    """How many samples failed (judge or generation; each counts as 0 in the recall metrics)."""
    return int(sum(items))


_AGGREGATIONS = {f.__name__: f for f in (recall_mean, paired_score_mean, answer_words_mean, coherence_mean,
                                           trigger_recall, failure_count)}
