"""EIBench's vocabulary: the names its results carry and how an answer is read from what a harness hands over.

One definition of each, shared by the task hooks, the scoring pipeline, ``eibench score``, the report and the
CFSA wrapper. Standard library only, so every layer can import it.

- **Metrics.** ``eibench_recall`` (LLM judges) or ``eibench_semantic_recall`` (the offline embedding judge) is
  the headline: mean per-sample recall, 0-100, every sample counted. Beside it ``<metric>_<category>`` (basic),
  ``<metric>_trigger`` (micro recall over triggers), ``<metric>_judged`` (judged samples only, for diagnosis) and
  the two failure counts. The names are built here; everything else about a metric (per-sample function,
  aggregation, unit, report column, JSON keys) is its entry in ``metrics.METRICS``.
- **Failure kinds.** A sample the judge gave no usable verdict for is a *judge* failure; a sample whose model
  produced no answer (the CFSA wrapper's failure line, or an empty answer: lmms-eval's ``llava_hf`` returns ``""``
  when generation raises) is a *generation* failure, never judged. Both count as 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "CAPTION_TEMPLATES", "CAPTION_WORDS", "EMPTY_ANSWER", "REPEATED_QUESTION", "FAILED_PREFIX", "GENERATION_FAILURE",
    "ANSWER_WORDS", "COHERENCE", "GENERATION_FAILURES", "JUDGE_FAILURE", "JUDGE_FAILURES", "PAIRED_SCORE", "RECALL", "RECALL_METRICS", "SEMANTIC_RECALL",
    "TEMPLATES", "answer_text", "budget_metric", "category_metric", "failure_reason", "first_response", "generation_failure",
    "judged_metric", "model_name", "question_key", "repeats_question", "run_model_name", "task_shape", "trigger_metric",
    "CAPTIONS_TASK",
]

# -- metric names --------------------------------------------------------------------------------------------

RECALL = "eibench_recall"
SEMANTIC_RECALL = "eibench_semantic_recall"
RECALL_METRICS = (RECALL, SEMANTIC_RECALL)
JUDGE_FAILURES = "eibench_judge_failures"
GENERATION_FAILURES = "eibench_generation_failures"
ANSWER_WORDS = "eibench_answer_words"
"""Per sample: the answer's length in words (``length.answer_words``; a generation failure 0); aggregated: the
mean. Reported beside every recall, because recall rewards listing more (docs/judging.md, "Length")."""
COHERENCE = "eibench_coherence"
"""Per sample (only with ``EIBENCH_COHERENCE=1``): the answer's long-term coherence in [-1, 1], None below 2
sentences; aggregated: the run's coherence 0-100 (``coherence.py``; the paper's second metric)."""
PAIRED_SCORE = "eibench_paired_score"
"""Per sample: the headline recall as a 0-1 number, the first key of every sample so that lmms-eval's
``--baseline`` (its evaluator and its baseline loader take a top-level ``*_score`` number) pairs two runs on it;
aggregated: the headline recall as a fraction. The headline metric itself keeps its 0-100 value and its name."""
CAPTION_WORDS = "eibench_caption_words"
"""The metric of ``eibench_captions`` (mean caption length); its items carry the captions."""


def category_metric(metric: str, category: str) -> str:
    """``eibench_recall_happy``: the recall of one basic category."""
    return f"{metric}_{category.lower()}"


def trigger_metric(metric: str) -> str:
    """``eibench_recall_trigger``: covered ground-truth triggers over all of them (micro recall)."""
    return f"{metric}_trigger"


def budget_metric(metric: str) -> str:
    """``eibench_recall_at_budget``: the recall of every answer cut to the word budget (``EIBENCH_WORD_BUDGET``)."""
    return f"{metric}_at_budget"


def judged_metric(metric: str) -> str:
    """``eibench_recall_judged``: the mean over judged samples only (diagnosis, never the headline)."""
    return f"{metric}_judged"


# -- model prompt templates ----------------------------------------------------------------------------------

TEMPLATES = ("user", "cot", "caption", "caption_text")
CAPTION_TEMPLATES = ("caption", "caption_text")


def task_shape(task: Any) -> tuple[str, str] | None:
    """(subset, template) of an EIBench task name: ``eibench_<basic|complex>`` for the user template, else
    ``eibench_<subset>_<template>`` (``eibench_complex_caption_text``); None for any other name."""
    if not isinstance(task, str) or not task.startswith("eibench_"):
        return None
    subset, named, template = task.removeprefix("eibench_").partition("_")
    if not named:
        template = "user"
    elif template == "user":  # the user template's task has no suffix
        return None
    if subset not in ("basic", "complex") or template not in TEMPLATES:
        return None
    return subset, template


CAPTIONS_TASK = "eibench_captions"
"""The task whose samples are image descriptions (``eibench captions`` input), not answers to judge."""

# -- model names ---------------------------------------------------------------------------------------------

_MODEL_ARG_KEYS = ("peft", "delta", "pretrained", "model", "model_version", "model_name", "model_id", "path", "engine")
"""lmms-eval 0.7.3's order (``GeneralConfigTracker._get_model_name``): the first key present names the model."""


def model_name(raw: str) -> str:
    """A model's name in every table and output: lmms-eval's own name for it, the last two components of its
    checkpoint path or Hub id (``sanitize_model_name``), shown with ``/``. So ``llava-hf/llava-1.5-7b-hf`` stays,
    ``/models/ckpt/tiny-llava`` is ``ckpt/tiny-llava``, and lmms-eval's folder ``ckpt__tiny-llava`` (its ``/``
    written as ``__``) reads back as the same ``ckpt/tiny-llava``."""
    parts = [part for part in re.split(r"[/\\]+|__", raw.strip()) if part]
    return "/".join(parts[-2:]) if parts else raw.strip()


def run_model_name(results: Mapping[str, Any]) -> str | None:
    """The model of an lmms-eval results file under :func:`model_name`: its ``model_name`` (from the model
    args), else the model args' first naming key, else the model's type (``dummy``); None when it says nothing."""
    name = results.get("model_name")
    if isinstance(name, str) and name.strip():
        return model_name(name)
    config = results.get("config") if isinstance(results.get("config"), Mapping) else {}
    args = config.get("model_args")
    if isinstance(args, str):
        pairs = [part.partition("=") for part in args.split(",")]
        given = {key.strip(): value.strip() for key, _, value in pairs if value.strip()}
        for key in _MODEL_ARG_KEYS:
            if key in given:
                return model_name(given[key])
    model = config.get("model")
    return model_name(model) if isinstance(model, str) and model.strip() else None


# -- failure kinds -------------------------------------------------------------------------------------------

JUDGE_FAILURE = "judge"
GENERATION_FAILURE = "generation"
FAILED_PREFIX = "[eibench_cfsa failed"
"""Start of the line the CFSA wrapper answers with when a round failed for a sample."""
REPEATED_QUESTION = "the answer is its question word for word (an echo is not an answer)"
EMPTY_ANSWER = "empty answer (the model returned no text; e.g. lmms-eval's llava_hf returns \"\" when generation raises)"
"""The reason given for an empty answer."""


# -- reading an answer ---------------------------------------------------------------------------------------


def first_response(value: Any) -> Any:
    """The response itself, or the first element of the (nested) lists the harnesses hand over."""
    while isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return value


def answer_text(value: Any) -> str:
    """The model's answer as the judge sees it: the first response, stripped ("" for none)."""
    value = first_response(value)
    return "" if value is None else str(value).strip()


def failure_reason(response: Any) -> str | None:
    """Why CFSA failed on this sample, if ``response`` is CFSA's failure line; else ``None``."""
    text = first_response(response)
    if isinstance(text, str) and text.lstrip().startswith(FAILED_PREFIX):
        return text.strip()
    return None


def generation_failure(answer: Any) -> str | None:
    """Why the model produced no answer for this sample (a CFSA failure line, or an empty answer), else None."""
    if not answer_text(answer):
        return EMPTY_ANSWER
    return failure_reason(answer)


def repeats_question(answer: Any, question: Any) -> bool:
    """Whether ``answer`` is its sample's ``question`` word for word (case and spacing aside): not an answer, so
    it is not judged and counts as 0 (the question's words could otherwise cover some triggers)."""
    if not isinstance(question, str) or not question.strip():
        return False
    return question_key(answer_text(answer)) == question_key(question)


def question_key(text: str) -> str:
    """A question's text as it is matched (an answers file keyed by question, an echoed question): its words,
    case and spacing aside."""
    return " ".join(text.casefold().split())
