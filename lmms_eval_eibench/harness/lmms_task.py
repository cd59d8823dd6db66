"""The lmms-eval task classes of the EIBench YAMLs (``class: !function utils.EIBenchTask``).

Imported only by ``tasks/eibench/utils.py``, i.e. by lmms-eval itself: importing it imports lmms-eval. It subclasses
lmms-eval's public task class; what it needs beyond that (the model's style, requests built in it) is in
``lmms_compat``.
"""

from __future__ import annotations

from typing import Any

from lmms_eval.api.task import ConfigurableMessagesTask

from lmms_eval_eibench.edge import lmms_compat
from lmms_eval_eibench.harness.lifecycle import CaptionsLifecycle as _Captions
from lmms_eval_eibench.harness.lifecycle import EIBenchLifecycle as _EIBench

__all__ = ["CaptionsTask", "EIBenchTask"]


class _ModelStyle:
    """lmms-eval builds requests for *chat* models (messages) or *simple* ones (text + visuals) and picks the task
    class by the model's style, but a YAML ``class:`` task is built without it. The model is known by the time
    requests are built (``task.args`` holds the CLI arguments): requests follow the model's style."""

    def _model_is_chat(self) -> bool:
        """Resolved once per task and CLI arguments (requests are built one document at a time)."""
        args = getattr(self, "args", None)
        known = getattr(self, "_model_style", None)
        if known is not None and known[0] is args:
            return known[1]
        chat = lmms_compat.model_is_chat(args)
        self._model_style = (args, chat)
        return chat

    def construct_requests(self, doc_id: int, ctx: str, **kwargs: Any) -> Any:
        return lmms_compat.construct_requests(self, self._model_is_chat(), doc_id, ctx, **kwargs)


class EIBenchTask(_ModelStyle, _EIBench, ConfigurableMessagesTask):
    """An EIBench task (basic or complex, any model prompt), judged once per document (see ``harness.lifecycle``)."""


class CaptionsTask(_ModelStyle, _Captions, ConfigurableMessagesTask):
    """``eibench_captions``: one document per distinct image; its samples become the dataset's caption column."""
