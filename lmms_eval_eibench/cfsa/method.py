"""The CFSA method in plain Python: the rounds, `run_cfsa`, the follow-up parser, and `manifest()`, the
`lmms_eval.models` entry point."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from lmms_eval_eibench.cfsa.plan import focuses, general_questions
from lmms_eval_eibench.cfsa.settings import CFSAConfigError, CFSASettings
from lmms_eval_eibench.cfsa.transcript import Transcript
from lmms_eval_eibench.prompts import render, render_block

__all__ = ["MODEL_ID", "CFSAFailure", "manifest", "parse_followup", "run_cfsa"]

log = logging.getLogger("lmms_eval_eibench.cfsa")  # cfsa.model logs here too

MODEL_ID = "eibench_cfsa"


class CFSAFailure(RuntimeError):
    """A CFSA round failed for some samples and `cfsa_on_failure=raise` asked to stop the run."""


_LEADER = re.compile(
    r"^(?:[-*\u2022]+\s*|\(?\d{1,2}[.):]\s*|(?:follow[- ]?up\s+)?question\s*\d*\s*[:.)-]\s*)", re.IGNORECASE
)
_QUOTES = "\"'`*\u201c\u201d\u2018\u2019 \t"


def parse_followup(text: str) -> str | None:
    """The follow-up question in a model's reply: its first non-empty line without list markers, a
    "Question:" label or quotes. `None` when nothing is left."""
    for line in text.splitlines():
        line = line.strip(_QUOTES)
        for _ in range(3):  # e.g. "1. Question: ..." carries two leaders
            stripped = _LEADER.sub("", line).strip(_QUOTES)
            if stripped == line:
                break
            line = stripped
        if line:
            return line
    return None



# ---------------------------------------------------------------------------------------------------------------
# The rounds (plain Python: the base model and the summarizer are passed in as functions)

# ask(step, [(sample index, prompt), ...]) -> one answer per item: (text, token counts or None), or the exception
# that made the base model fail that item. One call = one base-model round.
AskFn = Callable[[str, Sequence[tuple[int, str]]], list[Any]]
# summarize([prompt, ...]) -> one reply text or exception per prompt (an OpenAI-compatible LLM, text only).
SummarizeFn = Callable[[Sequence[str]], list[Any]]


def _record_answers(
    transcripts: list[Transcript], step: str, items: Sequence[tuple[int, str]], outputs: Sequence[Any],
    caller: str = "base",
) -> list[str | None]:
    """Count the calls, take each item's text, and fail samples whose item raised or came back empty."""
    if len(outputs) != len(items):
        raise RuntimeError(f"CFSA step {step!r}: {len(items)} requests but {len(outputs)} answers")
    texts: list[str | None] = []
    for (index, _), output in zip(items, outputs):
        transcript = transcripts[index]
        if caller == "base":
            transcript.base_calls += 1
        else:
            transcript.summarizer_calls += 1
        if isinstance(output, BaseException):
            transcript.fail(step, f"{type(output).__name__}: {output}")
            texts.append(None)
            continue
        text, counts = output if isinstance(output, tuple) else (output, None)
        transcript.add_tokens(counts)
        if not isinstance(text, str) or not text.strip():
            # lmms-eval models return "" when generation raised inside them (e.g. llava_hf logs and moves on).
            transcript.fail(step, f"the {caller} model returned an empty answer")
            texts.append(None)
            continue
        texts.append(text)
    return texts


def _check(transcripts: list[Transcript], settings: CFSASettings, step: str, labels: Sequence[str]) -> None:
    failed = [(i, t.failure) for i, t in enumerate(transcripts) if t.failure and t.failure["step"] == step]
    for index, failure in failed:
        log.error("CFSA: %s failed at step %r: %s", labels[index], step, failure["error"])
    if failed and settings.on_failure == "raise":
        index, failure = failed[0]
        raise CFSAFailure(
            f"CFSA step {step!r} failed for {len(failed)} of {len(transcripts)} samples (first: {labels[index]}: "
            f"{failure['error']}); "
            f"set cfsa_on_failure=mark to keep going and mark those samples as failed"
        )


def _alive(transcripts: Sequence[Transcript]) -> list[int]:
    return [i for i, t in enumerate(transcripts) if not t.failed]


def _observe(transcripts: list[Transcript], ask: AskFn, settings: CFSASettings, labels: Sequence[str]) -> None:
    """Round 1: the rewrite and the general questions (they need nothing from each other)."""
    items: list[tuple[int, str]] = []
    kinds: list[tuple[str, str, str]] = []  # (step, name, question) per item
    general = general_questions()
    for i in _alive(transcripts):
        items.append((i, render("cfsa_rewrite", question=transcripts[i].request)))
        kinds.append(("rewrite", "rewrite", transcripts[i].request))
        for name, question in general:
            items.append((i, render("cfsa_answer", question=question)))
            kinds.append(("general", name, question))
    if not items:
        return
    texts = _record_answers(transcripts, "observe", items, ask("observe", items))
    for (i, _), (step, name, question), text in zip(items, kinds, texts):
        if text is None:
            continue
        transcripts[i].steps.append({"step": step, "name": name, "question": question, "answer": text})
        if step == "rewrite":
            transcripts[i].grounded_question = text.strip()
    _check(transcripts, settings, "observe", labels)


def _write_followups(transcripts: list[Transcript], ask: AskFn, settings: CFSASettings, labels: Sequence[str]) -> None:
    """Round 2: one follow-up question per focus, from the grounded question and the general answers."""
    items: list[tuple[int, str]] = []
    names: list[str] = []
    chosen = focuses()[: settings.scenario_questions]
    for i in _alive(transcripts):
        observations = transcripts[i].observations("general")
        for name, focus in chosen:
            prompt = render(
                "cfsa_followup", question=transcripts[i].grounded_question, observations=observations, focus=focus
            )
            items.append((i, prompt))
            names.append(name)
    if not items:
        return
    texts = _record_answers(transcripts, "followup", items, ask("followup", items))
    for (i, _), name, text in zip(items, names, texts):
        if text is None:
            continue
        question = parse_followup(text)
        if question is None:
            transcripts[i].fail("followup", f"no question in the reply for focus {name!r}")
            continue
        transcripts[i].steps.append({"step": "followup", "name": name, "reply": text, "question": question})
    _check(transcripts, settings, "followup", labels)


def _answer_followups(transcripts: list[Transcript], ask: AskFn, settings: CFSASettings, labels: Sequence[str]) -> None:
    """Round 3: the base model answers each follow-up question."""
    items: list[tuple[int, str]] = []
    asked: list[dict[str, Any]] = []  # the follow-up step each item answers
    for i in _alive(transcripts):
        for s in transcripts[i].steps:
            if s["step"] == "followup":
                items.append((i, render("cfsa_answer", question=s["question"])))
                asked.append(s)
    if not items:
        return
    texts = _record_answers(transcripts, "scenario", items, ask("scenario", items))
    for (i, _), followup, text in zip(items, asked, texts):
        if text is not None:
            transcripts[i].steps.append(
                {"step": "scenario", "name": followup["name"], "question": followup["question"], "answer": text}
            )
    _check(transcripts, settings, "scenario", labels)


def _summarize(
    transcripts: list[Transcript], ask: AskFn, settings: CFSASettings, summarize: SummarizeFn | None,
    labels: Sequence[str],
) -> None:  # fmt: skip
    """Round 4: the summary, by the base model (with the image) or by the LLM (text only): the scored answer."""
    by_base = settings.summarizer == "base"
    if not by_base and summarize is None:
        raise CFSAConfigError("cfsa_summarizer=openai but no summarizer was built")
    items = []
    instructions: dict[int, str] = {}  # what the transcript logs as the question: the prompt repeats every answer
    for i in _alive(transcripts):
        t = transcripts[i]
        variables = {"request": t.request, "question": t.grounded_question,
                     "observations": t.observations("general", "scenario"), "with_image": by_base}
        items.append((i, render("cfsa_summary", **variables)))
        instructions[i] = render_block("cfsa_summary", "instruction", **variables)
    if not items:
        return
    if by_base:
        texts = _record_answers(transcripts, "summary", items, ask("summary", items))
    else:
        outputs = summarize([prompt for _, prompt in items])  # type: ignore[misc]  # checked above
        texts = _record_answers(transcripts, "summary", items, outputs, caller="summarizer")
    for (i, _), text in zip(items, texts):
        if text is None:
            continue
        transcripts[i].answer = text
        transcripts[i].steps.append({
            "step": "summary", "name": settings.summarizer_identity(), "question": instructions[i], "answer": text,
        })  # fmt: skip
    _check(transcripts, settings, "summary", labels)


def run_cfsa(
    requests: Sequence[str], ask: AskFn, settings: CFSASettings, summarize: SummarizeFn | None = None,
    labels: Sequence[str] | None = None,
) -> list[Transcript]:
    """Answer every request through CFSA, one base-model round per step, and return the transcripts.

    `labels` name the samples in error messages (default: "sample <index>")."""
    transcripts = [Transcript(request=r) for r in requests]
    labels = list(labels) if labels is not None else [f"sample {i}" for i in range(len(requests))]
    _observe(transcripts, ask, settings, labels)
    if settings.scenario_questions:
        _write_followups(transcripts, ask, settings, labels)
        _answer_followups(transcripts, ask, settings, labels)
    _summarize(transcripts, ask, settings, summarize, labels)
    return transcripts


# ---------------------------------------------------------------------------------------------------------------
# lmms-eval edge


def manifest() -> Any:
    """Entry point of the `lmms_eval.models` group: registers `eibench_cfsa`. lmms-eval imports the class
    (`cfsa.model.CFSA`, which needs lmms_eval and torch) only when the model is asked for."""
    from lmms_eval_eibench.edge.lmms_compat import model_manifest

    return model_manifest(MODEL_ID, f"{__package__}.model.CFSA")
