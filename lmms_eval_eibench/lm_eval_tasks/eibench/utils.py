"""lm-eval loads this file by path for the `!function utils.X` tags; it forwards to the installed package."""

from lm_eval.api.task import ConfigurableTask

from lmms_eval_eibench import lmms
from lmms_eval_eibench.harness_task import EIBenchTask as _EIBench
from lmms_eval_eibench.lmms import (  # noqa: F401  (re-exported for the YAMLs)
    failure_count,
    recall_mean,
    trigger_recall,
)


class EIBenchTask(_EIBench, ConfigurableTask):
    """An EIBench caption-only task for lm-eval (see lmms_eval_eibench/harness_task.py)."""


def caption_text_prompt(doc):
    return lmms.prompt("caption_text", doc)
