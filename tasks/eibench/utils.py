"""lmms-eval loads this file by path for the `!function utils.X` tags of the EIBench YAMLs; it only forwards to
the installed package (absolute imports: lmms-eval executes it outside any package)."""

from lmms_eval_eibench import lmms
from lmms_eval_eibench.lmms import (  # noqa: F401  (re-exported for the YAMLs)
    JudgeFilter,
    caption_results,
    caption_words,
    doc_to_no_visual,
    doc_to_visual,
    failure_count,
    recall_mean,
    trigger_recall,
)


def basic_docs(dataset):
    return lmms.task_docs("basic", "user")


def complex_docs(dataset):
    return lmms.task_docs("complex", "user")


def basic_caption_docs(dataset):
    return lmms.task_docs("basic", "caption")


def complex_caption_docs(dataset):
    return lmms.task_docs("complex", "caption")


def basic_caption_text_docs(dataset):
    return lmms.task_docs("basic", "caption_text")


def complex_caption_text_docs(dataset):
    return lmms.task_docs("complex", "caption_text")


def caption_request_docs(dataset):
    return lmms.caption_request_docs()


def user_prompt(doc, lmms_eval_specific_kwargs=None):
    return lmms.prompt("user", doc, lmms_eval_specific_kwargs)


def cot_prompt(doc, lmms_eval_specific_kwargs=None):
    return lmms.prompt("cot", doc, lmms_eval_specific_kwargs)


def caption_prompt(doc, lmms_eval_specific_kwargs=None):
    return lmms.prompt("caption", doc, lmms_eval_specific_kwargs)


def caption_text_prompt(doc, lmms_eval_specific_kwargs=None):
    return lmms.prompt("caption_text", doc, lmms_eval_specific_kwargs)


def caption_request_prompt(doc, lmms_eval_specific_kwargs=None):
    return lmms.prompt("caption_request", doc, lmms_eval_specific_kwargs)


def process_basic_results(doc, results):
    return lmms.process_results(doc, results, "basic")


def process_complex_results(doc, results):
    return lmms.process_results(doc, results, "complex")
