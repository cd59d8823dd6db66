"""lmms-eval loads this file by path for the `!function utils.X` tags of the EIBench YAMLs; it only forwards to
the installed package (absolute imports: lmms-eval executes it outside any package)."""

from lmms_eval_eibench.data import documents
from lmms_eval_eibench.data.documents import (  # noqa: F401  (re-exported for the YAMLs)
    caption_results,
    caption_words,
    doc_to_no_visual,
    doc_to_visual,
)
from lmms_eval_eibench.harness.lmms_task import CaptionsTask, EIBenchTask  # noqa: F401

# the aggregations metrics.METRICS names (the task class builds metric_list from the table): kept importable here
# by their utils.X names, which results files and older YAMLs name
from lmms_eval_eibench.pipeline import (  # noqa: F401
    answer_words_mean,
    coherence_mean,
    failure_count,
    paired_score_mean,
    recall_mean,
    trigger_recall,
)


def user_prompt(doc, lmms_eval_specific_kwargs=None):
    return documents.prompt("user", doc, lmms_eval_specific_kwargs)


def cot_prompt(doc, lmms_eval_specific_kwargs=None):
    return documents.prompt("cot", doc, lmms_eval_specific_kwargs)


def caption_prompt(doc, lmms_eval_specific_kwargs=None):
    return documents.prompt("caption", doc, lmms_eval_specific_kwargs)


def caption_text_prompt(doc, lmms_eval_specific_kwargs=None):
    return documents.prompt("caption_text", doc, lmms_eval_specific_kwargs)


def caption_request_prompt(doc, lmms_eval_specific_kwargs=None):
    return documents.prompt("caption_request", doc, lmms_eval_specific_kwargs)
