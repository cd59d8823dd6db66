"""The judge interface: what a judge sees (`JudgeItem`), what it says (`Verdict`), and the base classes the
judge kinds implement (`Judge`; `LLMJudge` for the chat-LLM kinds, whose replies `verdict_from_reply` reads).
Errors: `judges.errors`; who the judge is: `judges.identity`; settings: `judges.settings`; URLs: `urls`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from lmms_eval_eibench import prompts
from lmms_eval_eibench.judges.identity import JudgeIdentity
from lmms_eval_eibench.scoring.recall import SampleScore
from lmms_eval_eibench.scoring.verdict_parser import (
    PARSER_VERSION,
    ParsedVerdict,
    parse_verdict,
)
from lmms_eval_eibench.vocabulary import GENERATION_FAILURE, RECALL

if TYPE_CHECKING:  # settings.py imports this module
    from lmms_eval_eibench.judges.settings import JudgeSettings

__all__ = ["Judge", "JudgeItem", "LLMJudge", "Verdict", "judge_messages", "verdict_from_reply"]


def judge_messages(prompt: str, item: JudgeItem) -> list[dict[str, str]]:
    """The chat messages for `item` under judge prompt `prompt` (system + user)."""
    template = f"judge_{prompt}"
    # The judge sees the answer exactly as the model wrote it, never folded (issue 32, docs/judging.md): the
    # paper's protocol sends the raw answer, cached replies stay valid, and verdict_parser folds the answer and
    # the reply itself (quotation.fold), so a plant hidden by invisible characters is refused however the judge
    # quotes it; the word rule (length.py) ignores format characters too.
    variables = {"answer": item.answer, "ground_truth": item.ground_truth, "triggers": list(item.triggers)}
    return [
        {"role": "system", "content": prompts.render_block(template, "system", **variables)},
        {"role": "user", "content": prompts.render_block(template, "user", **variables)},
    ]


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
    (`judge_failed`: asked, it gave no usable reply), or the model gave no answer (`generation_failed`; never
    sent to the judge, so `judge_failed` is False). Either way the sample counts as 0 in the headline recall
    (`scoring.SampleScore.counted_recall`). Samples files are public: `to_log()` writes `judge_failed` under
    its published key `failed`."""

    id: str
    recall: float | None
    covered: float | None
    total: int
    judge_failed: bool
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
            judge_failed=False,
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
            id=item.id, recall=None, covered=None, total=item.n_triggers, judge_failed=True,
            raw=raw, error=error, attempts=attempts,
        )

    @classmethod
    def no_answer(cls, item: JudgeItem, reason: str) -> Verdict:
        """The model produced no answer (see `vocabulary.generation_failure`): not judged, counted as 0."""
        return cls(
            id=item.id, recall=None, covered=None, total=item.n_triggers, judge_failed=False,
            error=f"generation failed: {reason}", attempts=0, generation_failed=True,
        )

    def score(self, category: str | None = None) -> SampleScore:
        """This verdict as a `scoring.SampleScore`."""
        return SampleScore(recall=self.recall, covered=self.covered, total=self.total, category=category,
                           failure=GENERATION_FAILURE if self.generation_failed else None)

    def to_log(self) -> dict[str, Any]:
        """The JSON-ready dict written into samples files and `eibench score --output`."""
        # the published key of judge_failed is "failed" (samples files and score --output are read by others)
        out = {("failed" if key == "judge_failed" else key): value for key, value in asdict(self).items()}
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
    keeps, under `identity().reply_fields()`: everything that determines the reply and nothing that only changes
    how it is read. `read()` turns a reply into a verdict with the current parser and the identity's reading
    settings, so changing those costs no request.
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
    def identity(self) -> JudgeIdentity:
        """Every setting that decides this judge's verdicts (the cache key, provenance, label); no secrets."""

    @abstractmethod
    def read(self, item: JudgeItem, raw: str, attempts: int = 1) -> Verdict:
        """The verdict in the reply `raw` to `item` (raises `verdict_parser.VerdictParseError` when there is none)."""

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

    @abstractmethod
    def decoding(self) -> dict[str, Any]:
        """The decoding settings that decide the reply (in the order the summary shows them)."""

    def identity(self) -> JudgeIdentity:
        template = f"judge_{self.prompt}"
        return JudgeIdentity(
            kind=self.kind, model=self.model_name, template=template, version=prompts.template_version(template),
            decoding=tuple(self.decoding().items()), trust_judge_total=self.settings.trust_judge_total,
            # the parser reads an LLM's reply: its version is how the reply was read (the embedding judge has none)
            parser_version=PARSER_VERSION, protocol=self.settings.protocol_label, metric=self.metric_name,
            **self.reply_settings(),
        )

    def reply_settings(self) -> dict[str, Any]:
        """The kind's own reply-deciding `JudgeIdentity` fields (the endpoint, the dtype)."""
        return {}

    def read(self, item: JudgeItem, raw: str, attempts: int = 1) -> Verdict:
        return verdict_from_reply(item, raw, self.prompt, trust_judge_total=self.settings.trust_judge_total,
                                  attempts=attempts)
