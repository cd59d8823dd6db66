"""The judge interface: what a judge sees (`JudgeItem`), what it says (`Verdict`), its settings,
and the small base class every judge kind implements."""

from __future__ import annotations

import logging
import math
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from lmms_eval_eibench import prompts
from lmms_eval_eibench.scoring import PARSER_VERSION, ParsedVerdict, SampleScore
from lmms_eval_eibench.vocabulary import GENERATION_FAILURE, RECALL

__all__ = [
    "JUDGE_KINDS",
    "JUDGE_PROMPTS",
    "Judge",
    "JudgeConfigError",
    "JudgeError",
    "JudgeItem",
    "JudgeRequestError",
    "JudgeSettings",
    "PreflightError",
    "TransientJudgeError",
    "Verdict",
    "judge_messages",
    "check_base_url",
    "public_url",
    "quiet_http_logs",
    "redact",
]

JUDGE_KINDS = ("openai", "hf", "embedding")
JUDGE_PROMPTS = ("paper", "paper_llama3", "structured")
DEFAULT_MODELS = {
    "openai": "gpt-3.5-turbo",  # the paper's GPT judge
    "hf": "meta-llama/Meta-Llama-3-8B-Instruct",  # the paper's local judge
    "embedding": "all-MiniLM-L6-v2",
}


class JudgeError(RuntimeError):
    """The judge cannot be used as configured (raised, never turned into a score)."""


class JudgeConfigError(JudgeError, ValueError):
    """A judge setting is invalid; the message names the setting."""


class PreflightError(JudgeError):
    """The judge failed its preflight check (endpoint, key, model); the message names URL and model."""


class TransientJudgeError(Exception):
    """A request failure worth retrying (429, 5xx, timeout, connection reset)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class JudgeRequestError(Exception):
    """A request failure not worth retrying (rejected key, unknown model, bad request); `status` is the HTTP
    status when the server answered."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def quiet_http_logs() -> None:
    """Keep httpx/httpcore below INFO: httpx logs every request URL at INFO, user info and query included,
    and those may carry credentials. Called where our HTTP clients are created."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)


def judge_messages(prompt: str, item: JudgeItem) -> list[dict[str, str]]:
    """The chat messages for `item` under judge prompt `prompt` (system + user)."""
    template = f"judge_{prompt}"
    variables = {"answer": item.answer, "ground_truth": item.ground_truth, "triggers": list(item.triggers)}
    return [
        {"role": "system", "content": prompts.render_block(template, "system", **variables)},
        {"role": "user", "content": prompts.render_block(template, "user", **variables)},
    ]


def redact(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` replaced by `***`."""
    if secret and len(secret) >= 4:
        return text.replace(secret, "***")
    return text


def check_base_url(url: str) -> None:
    """Refuse a judge base URL that carries credentials or a query: the key goes in the Authorization header
    only (httpx would turn `user:pass@` into Basic auth, and a query string mangles the request path). The
    message never repeats the URL's user info."""
    parts = urlsplit(url)
    where = f"EIBENCH_JUDGE_BASE_URL / --base-url ({public_url(url)})"
    if parts.username is not None or parts.password is not None:
        raise JudgeConfigError(
            f"{where} holds user info (user:password@); remove it and put the API key in EIBENCH_JUDGE_API_KEY "
            "(sent as a Bearer header)")
    if parts.query or parts.fragment:
        raise JudgeConfigError(
            f"{where} has a query string or fragment; give the plain base URL (e.g. https://host/v1) and put any "
            "key in EIBENCH_JUDGE_API_KEY")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise JudgeConfigError(f"{where} is not an http(s) URL; e.g. https://api.openai.com/v1")


def public_url(url: str) -> str:
    """A URL without user info, query or fragment (they may carry credentials)."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass(frozen=True)
class JudgeItem:
    """One sample as a judge sees it: the answer and the sample's ground truth."""

    id: str
    answer: str
    ground_truth: str
    triggers: tuple[str, ...]
    category: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.answer, str):
            raise TypeError(f"sample {self.id!r}: answer must be a string, got {type(self.answer).__name__}")
        object.__setattr__(self, "triggers", tuple(self.triggers))
        if not self.triggers:
            raise ValueError(f"sample {self.id!r} has no ground-truth triggers")

    @property
    def n_triggers(self) -> int:
        return len(self.triggers)

    @classmethod
    def from_doc(cls, doc: Any, answer: str) -> JudgeItem:
        """The item for a dataset row / lmms-eval doc (a mapping) or a `records.Record`, with `answer`."""
        get = doc.get if isinstance(doc, Mapping) else lambda key, default=None: getattr(doc, key, default)
        return cls(
            id=str(get("id")),
            answer=answer,
            ground_truth=get("ground_truth"),
            triggers=tuple(get("triggers") or ()),
            category=get("category"),
        )


@dataclass(frozen=True)
class Verdict:
    """A judge's verdict on one sample. `recall` is None exactly when there is no verdict: the judge failed
    (`failed`), or the model gave no answer (`generation_failed`; never sent to the judge). Either way the
    sample counts as 0 in the headline recall (`scoring.SampleScore.counted`)."""

    id: str
    recall: float | None
    covered: float | None
    total: int
    failed: bool
    reason: str = ""
    raw: str = ""
    error: str | None = None
    judge_total: int | None = None
    trigger_covered: tuple[bool, ...] | None = None
    trigger_reasons: tuple[str, ...] | None = None
    trigger_similarity: tuple[float, ...] | None = None
    attempts: int = 1
    cached: bool = False
    generation_failed: bool = False
    parser: str = PARSER_VERSION

    @classmethod
    def from_parsed(cls, item: JudgeItem, parsed: ParsedVerdict, raw: str, attempts: int = 1) -> Verdict:
        return cls(
            id=item.id,
            recall=parsed.recall,
            covered=parsed.covered,
            total=parsed.total,
            failed=False,
            reason=parsed.reason,
            raw=raw,
            judge_total=parsed.judge_total,
            trigger_covered=parsed.trigger_covered,
            trigger_reasons=parsed.trigger_reasons,
            attempts=attempts,
        )

    @classmethod
    def failure(cls, item: JudgeItem, error: str, raw: str = "", attempts: int = 1) -> Verdict:
        """The judge gave no usable verdict (after its re-asks)."""
        return cls(
            id=item.id, recall=None, covered=None, total=item.n_triggers, failed=True,
            raw=raw, error=error, attempts=attempts,
        )

    @classmethod
    def no_answer(cls, item: JudgeItem, reason: str) -> Verdict:
        """The model produced no answer (see `failures.generation_failure`): not judged, counted as 0."""
        return cls(
            id=item.id, recall=None, covered=None, total=item.n_triggers, failed=False,
            error=f"generation failed: {reason}", attempts=0, generation_failed=True,
        )

    def score(self, category: str | None = None) -> SampleScore:
        """This verdict as a `scoring.SampleScore`."""
        return SampleScore(recall=self.recall, covered=self.covered, total=self.total, category=category,
                           failure=GENERATION_FAILURE if self.generation_failed else None)

    def to_log(self) -> dict[str, Any]:
        """The JSON-ready dict written into samples files and `eibench score --output`."""
        out = asdict(self)
        for key in ("trigger_covered", "trigger_reasons", "trigger_similarity"):
            if out[key] is not None:
                out[key] = list(out[key])
        return out

    def with_id(self, item_id: str) -> Verdict:
        return self if self.id == item_id else replace(self, id=item_id)


def _env_float(env: Mapping[str, str], name: str) -> float | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise JudgeConfigError(f"{name}={value!r} is not a number") from None
    if not math.isfinite(number):
        raise JudgeConfigError(f"{name}={value!r} is not a finite number")
    return number


def _env_int(env: Mapping[str, str], name: str) -> int | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise JudgeConfigError(f"{name}={value!r} is not a whole number") from None


def _env_flag(env: Mapping[str, str], name: str) -> bool | None:
    """The boolean setting `name`, None when unset (so a keyword override or the default applies)."""
    from lmms_eval_eibench.config import env_flag

    if not env.get(name, "").strip():
        return None
    try:
        return env_flag(name, env=env)
    except ValueError as exc:
        raise JudgeConfigError(str(exc)) from None


@dataclass(frozen=True)
class JudgeSettings:
    """Everything that picks and tunes a judge. `api_key` is never shown in reprs or provenance.

    `model`/`prompt` None mean the kind's default (openai: gpt-3.5-turbo + paper prompt;
    hf: Meta-Llama-3-8B-Instruct + paper_llama3 prompt; embedding: all-MiniLM-L6-v2).
    """

    kind: str = "openai"
    model: str | None = None
    base_url: str = "https://api.openai.com/v1"
    api_key: str | None = field(default=None, repr=False, compare=False)
    prompt: str | None = None
    temperature: float = 0.0
    top_p: float | None = None
    max_tokens: int = 512
    concurrency: int = 16
    timeout: float = 60.0
    max_retries: int = 5
    parse_retries: int = 2
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    batch_size: int | None = None
    device: str | None = None
    dtype: str | None = None
    threshold: float | None = None
    embedding_threads: int = 1
    trust_judge_total: bool = False
    cache: bool = True
    cache_dir: str | None = None
    progress: bool = True
    protocol: str | None = None
    """A judge protocol (`protocols.PROTOCOLS`: paper-gpt, paper-llama3) the settings were built from, or None."""

    def __post_init__(self) -> None:
        if self.kind not in JUDGE_KINDS:
            raise JudgeConfigError(f"judge kind {self.kind!r} (EIBENCH_JUDGE / --judge): use one of {', '.join(JUDGE_KINDS)}")
        if self.prompt is not None and self.prompt not in JUDGE_PROMPTS:
            raise JudgeConfigError(
                f"judge prompt {self.prompt!r} (EIBENCH_JUDGE_PROMPT / --prompt): use one of {', '.join(JUDGE_PROMPTS)}"
            )
        if self.concurrency < 1:
            raise JudgeConfigError(f"judge concurrency {self.concurrency} (EIBENCH_JUDGE_CONCURRENCY / --concurrency) must be >= 1")
        if not self.timeout > 0:
            raise JudgeConfigError(f"judge timeout {self.timeout} (EIBENCH_JUDGE_TIMEOUT / --timeout) must be > 0 seconds")
        if not 0 <= self.temperature <= 2:
            raise JudgeConfigError(f"judge temperature {self.temperature} (EIBENCH_JUDGE_TEMPERATURE) must be in [0, 2]")
        if self.max_tokens < 1:
            raise JudgeConfigError(f"judge max_tokens {self.max_tokens} must be >= 1")
        if self.max_retries < 0 or self.parse_retries < 0:
            raise JudgeConfigError("judge retry counts must be >= 0")
        if self.batch_size is not None and self.batch_size < 1:
            raise JudgeConfigError(f"judge batch size {self.batch_size} must be >= 1")
        if self.threshold is not None and not 0 < self.threshold <= 1:
            raise JudgeConfigError(
                f"embedding judge threshold {self.threshold} (EIBENCH_EMBEDDING_THRESHOLD) must be in (0, 1]"
            )
        if self.kind == "openai":
            check_base_url(self.base_url)
        if self.embedding_threads < 1:
            raise JudgeConfigError(
                f"embedding judge threads {self.embedding_threads} (EIBENCH_EMBEDDING_THREADS) must be >= 1"
            )
        if self.protocol is not None:
            from lmms_eval_eibench.protocols import PROTOCOLS

            if self.protocol not in PROTOCOLS:
                raise JudgeConfigError(
                    f"judge protocol {self.protocol!r} (EIBENCH_JUDGE_PROTOCOL / --protocol): use one of "
                    f"{', '.join(PROTOCOLS)}"
                )
            if self.kind == "embedding":
                raise JudgeConfigError(
                    f"judge protocol {self.protocol} is an LLM judge; the embedding judge (EIBENCH_JUDGE / --judge "
                    "embedding) cannot follow it: drop one of the two"
                )

    @property
    def protocol_differences(self) -> list[str]:
        """The settings of `protocol` that were overridden (by flags or variables) to other values."""
        if self.protocol is None:
            return []
        from lmms_eval_eibench.protocols import PROTOCOLS, protocol_differences

        effective = {"kind": self.kind, "model": self.resolved_model, "prompt": self.resolved_prompt,
                     "temperature": self.temperature, "top_p": self.top_p, "trust_judge_total": self.trust_judge_total}
        return protocol_differences(PROTOCOLS[self.protocol], effective)

    @property
    def protocol_label(self) -> str | None:
        """What provenance records: `paper-gpt`, `paper-gpt (overridden: temperature)`, or None."""
        if self.protocol is None:
            return None
        from lmms_eval_eibench.protocols import protocol_label

        return protocol_label(self.protocol, self.protocol_differences)

    @property
    def resolved_model(self) -> str:
        return self.model or DEFAULT_MODELS[self.kind]

    @property
    def resolved_prompt(self) -> str:
        if self.prompt:
            return self.prompt
        return "paper_llama3" if self.kind == "hf" else "paper"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> JudgeSettings:
        """Settings from EIBENCH_* environment variables; keyword overrides win unless None.

        EIBENCH_JUDGE, EIBENCH_JUDGE_MODEL, EIBENCH_JUDGE_BASE_URL, EIBENCH_JUDGE_API_KEY
        (else OPENAI_API_KEY), EIBENCH_JUDGE_PROMPT, EIBENCH_JUDGE_CONCURRENCY, EIBENCH_JUDGE_TIMEOUT,
        EIBENCH_JUDGE_TEMPERATURE, EIBENCH_JUDGE_TRUST_TOTAL, EIBENCH_EMBEDDING_THRESHOLD,
        EIBENCH_EMBEDDING_THREADS, EIBENCH_CACHE_DIR, EIBENCH_NO_CACHE. A bad value raises
        `JudgeConfigError` naming the variable.

        EIBENCH_JUDGE_PROTOCOL (or the `protocol` keyword: paper-gpt, paper-llama3) sets the paper judge's
        kind, model, prompt, decoding and trust_judge_total; explicit variables and keywords still win, and
        `protocol_label` then says which settings were overridden.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            "kind": env.get("EIBENCH_JUDGE", "").strip() or None,
            "model": env.get("EIBENCH_JUDGE_MODEL", "").strip() or None,
            "base_url": env.get("EIBENCH_JUDGE_BASE_URL", "").strip() or None,
            "api_key": (env.get("EIBENCH_JUDGE_API_KEY", "").strip() or env.get("OPENAI_API_KEY", "").strip() or None),
            "prompt": env.get("EIBENCH_JUDGE_PROMPT", "").strip() or None,
            "concurrency": _env_int(env, "EIBENCH_JUDGE_CONCURRENCY"),
            "timeout": _env_float(env, "EIBENCH_JUDGE_TIMEOUT"),
            "temperature": _env_float(env, "EIBENCH_JUDGE_TEMPERATURE"),
            "trust_judge_total": _env_flag(env, "EIBENCH_JUDGE_TRUST_TOTAL"),
            "threshold": _env_float(env, "EIBENCH_EMBEDDING_THRESHOLD"),
            "embedding_threads": _env_int(env, "EIBENCH_EMBEDDING_THREADS"),
            "cache_dir": env.get("EIBENCH_CACHE_DIR", "").strip() or None,
        }
        no_cache = _env_flag(env, "EIBENCH_NO_CACHE")
        if no_cache is not None:
            values["cache"] = not no_cache
        known = {f.name for f in fields(cls)}
        for key, value in overrides.items():
            if key not in known:
                raise TypeError(f"JudgeSettings has no setting {key!r}")
            if value is not None:
                values[key] = value
        protocol = values.get("protocol") or env.get("EIBENCH_JUDGE_PROTOCOL", "").strip() or None
        if protocol is not None:
            from lmms_eval_eibench.protocols import PROTOCOLS

            if protocol not in PROTOCOLS:
                raise JudgeConfigError(
                    f"EIBENCH_JUDGE_PROTOCOL / --protocol {protocol!r}: use one of {', '.join(PROTOCOLS)}"
                )
            # the protocol fills in what was not set explicitly (a variable or keyword still wins)
            values = {**PROTOCOLS[protocol].settings(), **{k: v for k, v in values.items() if v is not None},
                      "protocol": protocol}
        return cls(**{k: v for k, v in values.items() if v is not None})


class Judge(ABC):
    """One judge kind. Subclasses judge a batch of items; the engine adds cache, concurrency, progress and
    order. `judge_batch` must be thread-safe and must return one verdict per item, turning judge failures into
    failed verdicts (never raising for them).

    What a judge *said* (`Verdict.raw`: an LLM's reply; the embedding judge's similarities) is what the cache
    keeps, under `identity()`, which therefore holds everything that determines the reply and nothing that only
    changes how it is read. `read()` turns a reply into a verdict with the current parser and
    `scoring_options()`, so changing those costs no request.
    """

    kind: str = ""
    metric_name: str = RECALL

    def __init__(self, settings: JudgeSettings) -> None:
        self.settings = settings

    @property
    def concurrency(self) -> int:
        """How many batches may be in flight at once."""
        return 1

    @property
    def batch_size(self) -> int:
        return 1

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """Everything that determines the judge's reply besides the sample (the cache key); no secrets."""

    def scoring_options(self) -> dict[str, Any]:
        """Settings that change how a reply is read, not the reply (never part of the cache key)."""
        return {"trust_judge_total": self.settings.trust_judge_total}

    @abstractmethod
    def read(self, item: JudgeItem, raw: str, attempts: int = 1) -> Verdict:
        """The verdict in the reply `raw` to `item` (raises `scoring.VerdictParseError` when there is none)."""

    def provenance(self) -> dict[str, Any]:
        # the protocol is a name for settings already recorded: kept in provenance, never in the cache key
        label = self.settings.protocol_label
        return {"metric": self.metric_name, **self.identity(), **self.scoring_options(),
                "parser_version": PARSER_VERSION, **({"protocol": label} if label else {})}

    def preflight(self) -> None:
        """Fail fast (PreflightError) when the judge cannot work; default: nothing to check."""

    @abstractmethod
    def judge_batch(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        """One verdict per item, in order."""

    def close(self) -> None:
        """Release connections or models."""
