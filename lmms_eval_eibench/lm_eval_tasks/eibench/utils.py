"""lm-eval loads this file by path for the `!function utils.X` tags; it forwards to the installed package."""

from lm_eval.api.task import ConfigurableTask

from lmms_eval_eibench.data import documents
from lmms_eval_eibench.harness.lifecycle import EIBenchLifecycle as _EIBench

# the aggregations metrics.METRICS names (the task class builds metric_list from the table)
from lmms_eval_eibench.pipeline import (  # noqa: F401
    answer_words_mean,
    coherence_mean,
    failure_count,
    paired_score_mean,
    recall_mean,
    trigger_recall,
)


class EIBenchTask(_EIBench, ConfigurableTask):
    """An EIBench caption-only task for lm-eval (see lmms_eval_eibench/harness/lifecycle.py)."""


def caption_text_prompt(doc):
    return documents.prompt("caption_text", doc)
