"""The judge interface: what a judge sees (`JudgeItem`), what it says (`Verdict`), its errors, the URL and
message helpers every judge kind shares, and the base classes they implement (`Judge`; `LLMJudge` for the chat-LLM
kinds, whose replies `verdict_from_reply` reads). Settings: `judges.settings`."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from lmms_eval_eibench import prompts
from lmms_eval_eibench.scoring import SampleScore
from lmms_eval_eibench.verdict_parser import (
    PARSER_VERSION,
    ParsedVerdict,
    parse_verdict,
)
from lmms_eval_eibench.vocabulary import GENERATION_FAILURE, RECALL

if TYPE_CHECKING:  # settings.py imports this module
    from lmms_eval_eibench.judges.settings import JudgeSettings

__all__ = [
    "Judge",
    "JudgeConfigError",
    "JudgeError",
    "JudgeItem",
    "JudgeRequestError",
    "PreflightError",
    "TransientJudgeError",
    "Verdict",
    "judge_messages",
    "check_base_url",
    "public_url",
    "quiet_http_logs",
    "redact",
]


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


def check_base_url(url: str, setting: str = "EIBENCH_JUDGE_BASE_URL / --base-url",
                   key_setting: str = "EIBENCH_JUDGE_API_KEY", error: type[Exception] = JudgeConfigError) -> None:
    """Refuse an OpenAI-compatible base URL (the judge's, CFSA's summarizer's: `setting` names it) that carries
    credentials or a query: the key goes in the Authorization header only (httpx would turn `user:pass@` into
    Basic auth, and a query string mangles the request path). The message never repeats the URL's user info."""
    parts = urlsplit(url)
    where = f"{setting} ({public_url(url)})"
    if parts.username is not None or parts.password is not None:
        raise error(
            f"{where} holds user info (user:password@); remove it and put the API key in {key_setting} "
            "(sent as a Bearer header)")
    if parts.query or parts.fragment:
        raise error(
            f"{where} has a query string or fragment; give the plain base URL (e.g. https://host/v1) and put any "
            f"key in {key_setting}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise error(f"{where} is not an http(s) URL; e.g. https://api.openai.com/v1")


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
        """The model produced no answer (see `vocabulary.generation_failure`): not judged, counted as 0."""
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
        """The verdict in the reply `raw` to `item` (raises `verdict_parser.VerdictParseError` when there is none)."""

    def provenance(self) -> dict[str, Any]:
        # the protocol is a name for settings already recorded: kept in provenance, never in the cache key
        label = self.settings.protocol_label
        return {"metric": self.metric_name, **self.identity(), **self.scoring_options(),
                **({"protocol": label} if label else {})}

    def preflight(self) -> None:
        """Fail fast (PreflightError) when the judge cannot work; default: nothing to check."""

    @abstractmethod
    def judge_batch(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        """One verdict per item, in order."""

    def close(self) -> None:
        """Release connections or models."""


def verdict_from_reply(item: JudgeItem, raw: str, prompt: str, *, trust_judge_total: bool,
                       attempts: int = 1) -> Verdict:
    """The verdict in an LLM judge's reply `raw` to `item` under judge prompt `prompt`, read with the current
    parser (a live reply, a cached one, or one saved in the official format); raises `VerdictParseError`."""
    parsed = parse_verdict(prompt, raw, item.n_triggers, item.answer, trust_judge_total=trust_judge_total)
    return Verdict.from_parsed(item, parsed, raw, attempts)


class LLMJudge(Judge):
    """A chat LLM as judge (kinds `openai` and `hf`): asked with a judge prompt template, its reply read by
    `verdict_parser`."""

    def __init__(self, settings: JudgeSettings) -> None:
        super().__init__(settings)
        self.model_name = settings.resolved_model
        self.prompt = settings.resolved_prompt

    def prompt_identity(self) -> dict[str, str]:
        """The judge prompt's part of `identity()`: its name, template file and version."""
        return {"prompt": self.prompt, "prompt_template": f"judge_{self.prompt}.j2",
                "prompt_version": prompts.template_version(f"judge_{self.prompt}")}

    def scoring_options(self) -> dict[str, Any]:
        # the parser reads an LLM's reply: its version is how the reply was read (the embedding judge has none)
        return {**super().scoring_options(), "parser_version": PARSER_VERSION}

    def read(self, item: JudgeItem, raw: str, attempts: int = 1) -> Verdict:
        return verdict_from_reply(item, raw, self.prompt, trust_judge_total=self.settings.trust_judge_total,
                                  attempts=attempts)
