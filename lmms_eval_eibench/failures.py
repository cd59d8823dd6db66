"""Generation failures: answers that say the model produced nothing, so they are counted, never judged or scored.

Two kinds reach the scorers (lmms-eval hooks, ``eibench score``):

- the CFSA wrapper's failure line (``[eibench_cfsa failed at step ...]``), written when a round failed;
- an empty (whitespace-only) answer: lmms-eval 0.7.3's ``llava_hf`` (and other models) return ``""`` when
  generation raises, and an empty answer scored by the judge would count as recall 0 instead of a failure.

Plain Python, no imports beyond the standard library: the CFSA wrapper, the lmms-eval hooks and the scoring
command share it without importing each other.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EMPTY_ANSWER", "FAILED_PREFIX", "failure_reason", "generation_failure"]

FAILED_PREFIX = "[eibench_cfsa failed"
"""Start of the line the CFSA wrapper answers with when a round failed for a sample."""
EMPTY_ANSWER = "empty answer (the model returned no text; e.g. lmms-eval's llava_hf returns \"\" when generation raises)"
"""The reason given for an empty answer."""


def _text(response: Any) -> Any:
    """The response itself, or the first element of (nested) lists lmms-eval hands over."""
    while isinstance(response, (list, tuple)):
        response = response[0] if response else ""
    return response


def failure_reason(response: Any) -> str | None:
    """Why CFSA failed on this sample, if ``response`` is CFSA's failure line; else ``None``."""
    text = _text(response)
    if isinstance(text, str) and text.lstrip().startswith(FAILED_PREFIX):
        return text.strip()
    return None


def generation_failure(answer: Any) -> str | None:
    """Why the model produced no answer for this sample (a CFSA failure line, or an empty answer), else None."""
    text = _text(answer)
    if text is None or (isinstance(text, str) and not text.strip()):
        return EMPTY_ANSWER
    return failure_reason(text)
