"""lm-eval loads this file by path for the `!function utils.X` tags; it forwards to the installed package."""

from lmms_eval_eibench import lmms
from lmms_eval_eibench.lmms import (  # noqa: F401  (re-exported for the YAMLs)
    JudgeFilter,
    failure_count,
    recall_mean,
    trigger_recall,
)


def _dataset(subset):
    import datasets

    if not lmms.predict_only():
        lmms.engine().preflight()  # lm-eval builds the dataset before generating: fail in seconds, not hours
    docs = datasets.DatasetDict({"test": lmms.task_docs(subset, "caption_text")})
    # lm-eval builds a task's filters only when applying them (after it copied the configs for the results
    # file), so the provenance record is written now, from the task constructor below us on the stack
    lmms.record_constructing_task_provenance()
    return docs


def basic_dataset(**_):
    return _dataset("basic")


def complex_dataset(**_):
    return _dataset("complex")


def caption_text_prompt(doc):
    return lmms.prompt("caption_text", doc)


def process_basic_results(doc, results):
    return lmms.process_results(doc, results, "basic")


def process_complex_results(doc, results):
    return lmms.process_results(doc, results, "complex")
