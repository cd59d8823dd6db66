"""Coarse-to-Fine Self-Ask (CFSA) as an lmms-eval model (`--model eibench_cfsa`) over any other lmms-eval model.

CFSA answers an emotion question in steps (the EIBench paper's method; its prompts were never published, so the
templates `prompts/cfsa_*.j2` are ours):

1. rewrite the question so it is grounded in the image (`cfsa_rewrite`);
2. answer the fixed general questions about the image (blocks of `cfsa_general`, answered with `cfsa_answer`);
3. write K scenario-specific follow-up questions from the question and those answers (`cfsa_followup`, one per
   focus block of `cfsa_focus`), then answer them (`cfsa_answer`);
4. summarize the emotional triggers as a numbered list with brief explanations (`cfsa_summary`), written by the
   base model (with the image) or by an OpenAI-compatible LLM (text only).

The base model is asked in rounds: every round's requests for all samples go to the base model's
`generate_until` in one call (so a base model that batches, batches across samples). Steps 1 and 2 do not depend
on each other and share the first round: 4 rounds in all (3 when the LLM summarizes, 2 + summary when K = 0).
Base-model calls per sample: `1 + G + 2K + 1` (G general questions, K follow-ups; the last `1` moves to the LLM
when it summarizes); see `calls_per_sample`.

Every question and answer of a sample is logged into lmms-eval's `--log_samples` line under `input` (see
`attach_transcript` for why there). A sample whose round fails (the base model raises, or answers nothing) stops
there: its response is a `[eibench_cfsa failed ...]` line (`failure_reason` recognizes it), its transcript says
which step failed and why, and an error is logged; with `cfsa_on_failure=raise` the run stops instead.

This module is the plain-Python core (settings, the rounds, transcripts, the OpenAI-compatible summarizer) and the
entry point `manifest()`; the lmms-eval model class is `cfsa_model.CFSA`, which lmms-eval imports (and with it
torch) only when the model is asked for. Importing this module is cheap.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from .config import env_flag
from .vocabulary import FAILED_PREFIX, failure_reason
from .judges.base import JudgeRequestError, public_url
from .judges.chat import ChatClient, Hints
from .judges.runner import RetryPolicy
from .prompts import render, render_block, template_blocks, template_version

__all__ = [
    "API_KEY_ENV",
    "CFSA_VERSION",
    "FAILED_PREFIX",
    "MODEL_ID",
    "TEMPLATES",
    "CFSAConfigError",
    "CFSAFailure",
    "CFSASettings",
    "OpenAISummarizer",
    "SummarizerError",
    "Transcript",
    "attach_transcript",
    "calls_per_sample",
    "failure_reason",
    "focuses",
    "general_questions",
    "manifest",
    "parse_followup",
    "run_cfsa",
]

log = logging.getLogger("lmms_eval_eibench.cfsa")  # cfsa_model logs here too

MODEL_ID = "eibench_cfsa"
CFSA_VERSION = "1"  # the method's wiring (steps, rounds, parsing); each template carries its own version too
TEMPLATES = ("cfsa_rewrite", "cfsa_general", "cfsa_answer", "cfsa_focus", "cfsa_followup", "cfsa_summary")
API_KEY_ENV = "EIBENCH_CFSA_API_KEY"
SETTING_PREFIX = "cfsa_"


class CFSAConfigError(ValueError):
    """A CFSA setting is wrong or missing; the message names the setting and how to fix it."""


class CFSAFailure(RuntimeError):
    """A CFSA round failed for some samples and `cfsa_on_failure=raise` asked to stop the run."""


# ---------------------------------------------------------------------------------------------------------------
# Settings


def _as_bool(value: Any, name: str) -> bool:
    """A boolean model arg, in the same words as the boolean environment settings (`config.env_flag`)."""
    if isinstance(value, bool):
        return value
    setting = f"{SETTING_PREFIX}{name}"
    try:
        if str(value).strip():
            return env_flag(setting, env={setting: str(value)})
    except ValueError:
        pass
    raise CFSAConfigError(f"{setting}={value!r}: expected true or false")


@dataclass(frozen=True)
class CFSASettings:
    """CFSA's own settings, given in `--model_args` with the `cfsa_` prefix (e.g. `cfsa_scenario_questions=2`).

    The summarizer's API key is never a setting (model args are written into results files): it is read from
    the environment variable named by `summarizer_api_key_env` (default `EIBENCH_CFSA_API_KEY`, falling back
    to `OPENAI_API_KEY`).
    """

    scenario_questions: int = 3
    round_max_new_tokens: int = 256
    summarizer: str = "base"
    summarizer_model: str | None = None
    summarizer_base_url: str | None = None
    summarizer_api_key_env: str = API_KEY_ENV
    summarizer_max_tokens: int = 1024
    summarizer_temperature: float = 0.0
    summarizer_timeout: float = 120.0
    summarizer_concurrency: int = 4
    summarizer_retries: int = 3
    on_failure: str = "mark"
    base_force_simple: bool = False

    def __post_init__(self) -> None:
        max_k = len(focuses())
        if not 0 <= self.scenario_questions <= max_k:
            raise CFSAConfigError(
                f"{SETTING_PREFIX}scenario_questions={self.scenario_questions}: must be 0 to {max_k} "
                f"(one per focus block of prompts/cfsa_focus.j2)"
            )
        for name in ("round_max_new_tokens", "summarizer_max_tokens", "summarizer_concurrency"):
            if getattr(self, name) < 1:
                raise CFSAConfigError(f"{SETTING_PREFIX}{name}={getattr(self, name)}: must be at least 1")
        if self.summarizer_retries < 0 or self.summarizer_timeout <= 0:
            raise CFSAConfigError(
                f"{SETTING_PREFIX}summarizer_retries must be >= 0 and {SETTING_PREFIX}summarizer_timeout > 0"
            )
        if self.summarizer not in ("base", "openai"):
            raise CFSAConfigError(
                f"{SETTING_PREFIX}summarizer={self.summarizer!r}: use 'base' (the wrapped model writes the "
                f"summary, default) or 'openai' (an OpenAI-compatible LLM: also set {SETTING_PREFIX}summarizer_model "
                f"and {SETTING_PREFIX}summarizer_base_url)"
            )
        if self.summarizer == "openai":
            missing = [n for n in ("summarizer_model", "summarizer_base_url") if not getattr(self, n)]
            if missing:
                raise CFSAConfigError(
                    f"{SETTING_PREFIX}summarizer=openai needs "
                    + " and ".join(f"{SETTING_PREFIX}{n}" for n in missing)
                    + " (e.g. cfsa_summarizer_model=gpt-4o-mini,cfsa_summarizer_base_url=https://api.openai.com/v1)"
                )
        if self.on_failure not in ("mark", "raise"):
            raise CFSAConfigError(
                f"{SETTING_PREFIX}on_failure={self.on_failure!r}: use 'mark' (a failed sample's response says it "
                f"failed, the run goes on) or 'raise' (the run stops)"
            )

    @classmethod
    def from_model_args(cls, model_args: Mapping[str, Any]) -> tuple[CFSASettings, dict[str, Any]]:
        """Split `--model_args` into CFSA settings (`cfsa_*`) and the base model's arguments (everything else)."""
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        base_args: dict[str, Any] = {}
        for key, value in model_args.items():
            if not key.startswith(SETTING_PREFIX):
                base_args[key] = value
                continue
            name = key[len(SETTING_PREFIX):]
            if name in ("summarizer_api_key", "api_key"):
                # Model args are copied into results files and logs: a key there would leak.
                raise CFSAConfigError(
                    f"{key} is not accepted in --model_args (they are written into results files); put the key "
                    f"in the environment variable {API_KEY_ENV} (or name another with "
                    f"{SETTING_PREFIX}summarizer_api_key_env)"
                )
            if name not in known:
                raise CFSAConfigError(
                    f"unknown CFSA setting {key!r}; known: " + ", ".join(SETTING_PREFIX + n for n in known)
                )
            values[name] = _convert(name, value, known[name].type)
        return cls(**values), base_args

    def summarizer_identity(self) -> str:
        if self.summarizer == "base":
            return "base"
        return f"openai:{self.summarizer_model}@{public_url(self.summarizer_base_url or '')}"


def _convert(name: str, value: Any, annotation: Any) -> Any:
    kind = str(annotation)
    if kind == "bool":
        return _as_bool(value, name)
    try:
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind == "float":
            return float(value)
    except (TypeError, ValueError):
        raise CFSAConfigError(f"{SETTING_PREFIX}{name}={value!r}: expected {kind}") from None
    return None if value is None else str(value)


# ---------------------------------------------------------------------------------------------------------------
# The plan: questions, focuses, cost


def general_questions() -> list[tuple[str, str]]:
    """The fixed general questions `(name, text)`: the blocks of `cfsa_general.j2`, in file order."""
    return [(name, render_block("cfsa_general", name).strip()) for name in template_blocks("cfsa_general")]


def focuses() -> list[tuple[str, str]]:
    """What follow-up question i looks into `(name, text)`: the blocks of `cfsa_focus.j2`, in file order."""
    return [(name, render_block("cfsa_focus", name).strip()) for name in template_blocks("cfsa_focus")]


def calls_per_sample(settings: CFSASettings) -> dict[str, int]:
    """Calls one sample costs when nothing fails: base-model requests, summarizer requests, base-model rounds.

    base = 1 (rewrite) + G (general) + K (follow-up questions) + K (their answers) + 1 (summary, if the base
    model summarizes); summarizer = 1 when an OpenAI-compatible LLM summarizes. A failed sample stops early.
    """
    g, k = len(general_questions()), settings.scenario_questions
    by_base = settings.summarizer == "base"
    return {
        "base": 1 + g + 2 * k + (1 if by_base else 0),
        "summarizer": 0 if by_base else 1,
        "base_rounds": 1 + (2 if k else 0) + (1 if by_base else 0),
    }


def prompt_versions() -> dict[str, str]:
    return {name: template_version(name) for name in TEMPLATES}


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
# One sample's record


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
    for i in _alive(transcripts):
        t = transcripts[i]
        prompt = render(
            "cfsa_summary", request=t.request, question=t.grounded_question,
            observations=t.observations("general", "scenario"), with_image=by_base,
        )  # fmt: skip
        items.append((i, prompt))
    if not items:
        return
    if by_base:
        texts = _record_answers(transcripts, "summary", items, ask("summary", items))
    else:
        outputs = summarize([prompt for _, prompt in items])  # type: ignore[misc]  # checked above
        texts = _record_answers(transcripts, "summary", items, outputs, caller="summarizer")
    for (i, prompt), text in zip(items, texts):
        if text is None:
            continue
        transcripts[i].answer = text
        transcripts[i].steps.append({
            "step": "summary", "name": settings.summarizer_identity(), "question": _summary_question(prompt),
            "answer": text,
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


def _summary_question(prompt: str) -> str:
    # The summary prompt repeats every answer above it; the log keeps only its instruction and the request.
    marker = "\nUsing these findings"
    return prompt[prompt.rfind(marker) + 1 :] if marker in prompt else prompt


# ---------------------------------------------------------------------------------------------------------------
# The OpenAI-compatible summarizer


class SummarizerError(RuntimeError):
    """The summarizing LLM failed (after retries); the message never holds the API key."""


# The preflight fails fast (as the judges' does): a wrong URL, model or key is not worth a long backoff.
_PREFLIGHT_RETRIES = RetryPolicy(max_retries=2, base=0.5, cap=2.0)


class OpenAISummarizer:
    """Writes CFSA's summary through an OpenAI-compatible `/chat/completions` endpoint, with the judges' client
    (`judges.chat.ChatClient`) and retry policy: exponential backoff with full jitter, Retry-After honoured."""

    def __init__(self, settings: CFSASettings, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.settings = settings
        self.model = settings.summarizer_model or ""
        key_env = settings.summarizer_api_key_env
        hints = Hints(
            timeout=f"{SETTING_PREFIX}summarizer_timeout",
            api_key=f"set ${key_env} (or OPENAI_API_KEY) to a key this endpoint accepts",
            not_found=f"check {SETTING_PREFIX}summarizer_model and {SETTING_PREFIX}summarizer_base_url",
        )
        self._chat = ChatClient(
            settings.summarizer_base_url or "", env.get(key_env) or env.get("OPENAI_API_KEY") or None, self.model,
            timeout=settings.summarizer_timeout, concurrency=settings.summarizer_concurrency,
            policy=RetryPolicy(max_retries=settings.summarizer_retries), hints=hints, role="CFSA summarizer",
        )  # fmt: skip
        self.url = self._chat.url  # without user info or query

    def complete(self, prompt: str, max_tokens: int | None = None, policy: RetryPolicy | None = None) -> str:
        """One chat completion; transient failures are retried, then (or on a permanent one) SummarizerError."""
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": self.settings.summarizer_temperature,
            "max_tokens": max_tokens or self.settings.summarizer_max_tokens,
        }
        try:
            text, _ = self._chat.chat(body, policy=policy)
        except JudgeRequestError as exc:
            raise SummarizerError(self._chat.redact(str(exc))) from None
        return self._chat.redact(text)  # a server echoing the request must not put the key in a sample

    def preflight(self) -> None:
        """One tiny request before any generation, so a wrong URL, model or key fails in seconds, not hours."""
        try:
            self.complete("Reply with the word OK.", max_tokens=5, policy=_PREFLIGHT_RETRIES)
        except SummarizerError as exc:
            raise CFSAConfigError(
                f"the CFSA summarizer does not answer: {exc}. Check {SETTING_PREFIX}summarizer_base_url, "
                f"{SETTING_PREFIX}summarizer_model and the key in ${self.settings.summarizer_api_key_env}"
            ) from None

    def summarize_many(self, prompts: Sequence[str]) -> list[Any]:
        """One reply text, or the exception that failed it, per prompt; `summarizer_concurrency` in flight."""

        def one(prompt: str) -> Any:
            try:
                return self.complete(prompt)
            except Exception as exc:  # noqa: BLE001 - recorded as this sample's failure, with its message
                return exc

        with concurrent.futures.ThreadPoolExecutor(max_workers=self.settings.summarizer_concurrency) as pool:
            return list(pool.map(one, prompts))

    def close(self) -> None:
        self._chat.close()


# ---------------------------------------------------------------------------------------------------------------
# lmms-eval edge


def attach_transcript(instance: Any, transcript_log: dict[str, Any]) -> None:
    """Put a sample's transcript where `--log_samples` writes it: the line's `input` field.

    lmms-eval 0.7.3 writes into a sample line `input` (the request's first argument), `resps`/`filtered_resps`
    (the returned text) and whatever `process_results` returns; every other request argument is dropped. The
    returned text is what the task scores, so it stays the final answer only; the request's first argument
    (the task prompt) becomes `{"prompt": <task prompt>, "cfsa": [<transcript>, ...]}` (one transcript per
    generation of the sample: several with `--repeats`). This happens after generation, when lmms-eval no
    longer reads the prompt.
    """
    first = instance.arguments[0]
    if isinstance(first, dict) and "cfsa" in first:
        first["cfsa"].append(transcript_log)
        return
    instance.arguments = ({"prompt": first, "cfsa": [transcript_log]}, *instance.arguments[1:])


def manifest() -> Any:
    """Entry point of the `lmms_eval.models` group: registers `eibench_cfsa`. lmms-eval imports the class
    (`cfsa_model.CFSA`, which needs lmms_eval and torch) only when the model is asked for."""
    from lmms_eval.models.registry_v2 import ModelManifest

    return ModelManifest(model_id=MODEL_ID, simple_class_path=f"{__package__}.cfsa_model.CFSA")
