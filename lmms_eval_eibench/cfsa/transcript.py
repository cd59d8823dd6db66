"""One sample's CFSA record (`Transcript`: questions, answers, cost, outcome) and where `--log_samples` puts it
(`attach_transcript`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lmms_eval_eibench.cfsa.plan import CFSA_VERSION, prompt_versions
from lmms_eval_eibench.cfsa.settings import CFSASettings
from lmms_eval_eibench.edge.lmms_compat import logged_input, set_logged_input
from lmms_eval_eibench.vocabulary import FAILED_PREFIX

__all__ = ["Transcript", "attach_transcript"]


@dataclass
class Transcript:
    """Everything CFSA asked and was answered for one sample, in order, plus cost and outcome."""

    request: str
    grounded_question: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    answer: str | None = None
    failure: dict[str, str] | None = None
    base_calls: int = 0
    summarizer_calls: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None

    @property
    def failed(self) -> bool:
        return self.failure is not None

    def fail(self, step: str, error: str) -> None:
        if self.failure is None:
            self.failure = {"step": step, "error": error}

    def observations(self, *steps: str) -> list[dict[str, str]]:
        return [{"question": s["question"], "answer": s["answer"]} for s in self.steps if s["step"] in steps]

    def add_tokens(self, counts: Any) -> None:
        if counts is None:
            return
        for name in ("input_tokens", "output_tokens"):
            value = getattr(counts, name, None)
            if value is not None:
                setattr(self, name, (getattr(self, name) or 0) + int(value))

    def response(self) -> str:
        """What lmms-eval scores: the summary, or the failure line."""
        if self.failure is not None:
            return f"{FAILED_PREFIX} at step '{self.failure['step']}': {self.failure['error']}]"
        return self.answer or ""

    def to_log(self, settings: CFSASettings, base: str) -> dict[str, Any]:
        return {
            "status": "failed" if self.failed else "ok",
            **({"failure": self.failure} if self.failure else {}),
            "steps": self.steps,
            "calls": {"base": self.base_calls, "summarizer": self.summarizer_calls},
            "method": {
                "name": "cfsa",
                "version": CFSA_VERSION,
                "base": base,
                "summarizer": settings.summarizer_identity(),
                "scenario_questions": settings.scenario_questions,
                "round_max_new_tokens": settings.round_max_new_tokens,
                "templates": prompt_versions(),
            },
        }


def attach_transcript(instance: Any, transcript_log: dict[str, Any]) -> None:
    """Put a sample's transcript where `--log_samples` writes it: the line's `input` field.

    lmms-eval 0.7.3 writes into a sample line `input` (the request's first argument), `resps`/`filtered_resps`
    (the returned text) and whatever `process_results` returns; every other request argument is dropped. The
    returned text is what the task scores, so it stays the final answer only; the request's first argument
    (the task prompt) becomes `{"prompt": <task prompt>, "cfsa": [<transcript>, ...]}` (one transcript per
    generation of the sample: several with `--repeats`). This happens after generation, when lmms-eval no
    longer reads the prompt.
    """
    first = logged_input(instance)
    if isinstance(first, dict) and "cfsa" in first:
        first["cfsa"].append(transcript_log)
        return
    set_logged_input(instance, {"prompt": first, "cfsa": [transcript_log]})
