"""Reading a judge's reply into a verdict (`parse_verdict`): paper-mode scores and structured JSON verdicts.

Paper mode reads the judge's `{score: covered/total}`. Unlike the official script (first match, judge's total
trusted), it takes the judge's own verdict: scores inside the judge's quotation of the answer and echoes of the
prompt's example (`e.g. {score: 2/5}`) are skipped; the last score in the requested format wins; where
the only candidates equal scores planted in the answer, the lowest is taken. Recall divides by the number of
ground-truth triggers (`trust_judge_total=True` restores the paper's covered/total-as-written).

Structured mode reads a JSON verdict per numbered trigger and validates it against the trigger ids.

`PARSER_VERSION` names these rules; results and provenance record it, and cached judge replies are parsed
again with the current rules on every read. Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

PARSER_VERSION = "2"
"""Version of the verdict-reading rules (1: scores equal to a planted one were echoes; 2: only scores inside
the judge's quotation of the answer are, ties resolved downwards)."""

__all__ = [
    "PARSER_VERSION",
    "ParsedVerdict",
    "ScoreMention",
    "VerdictParseError",
    "find_scores",
    "in_quotation",
    "parse_paper_verdict",
    "parse_structured_verdict",
    "parse_verdict",
]


class VerdictParseError(ValueError):
    """A judge reply holds no usable verdict (the sample becomes a judge failure)."""


@dataclass(frozen=True)
class ParsedVerdict:
    """What a judge reply says about one sample.

    `covered` is the number of ground-truth triggers judged covered (clamped to [0, total]),
    `total` the denominator used (ground-truth trigger count, or the judge's total when trusted),
    `judge_total` the total the judge wrote (paper mode), `trigger_covered` one flag per trigger
    (structured mode and the embedding judge), `reason` the judge's explanation.
    """

    covered: float
    total: int
    recall: float
    judge_total: int | None = None
    trigger_covered: tuple[bool, ...] | None = None
    trigger_reasons: tuple[str, ...] | None = None
    reason: str = ""


# ---------------------------------------------------------------------------------------------
# Paper mode: {score: c/t}

# Tolerant: braces optional, any case, quotes/markdown around the key and numbers, ':' or '=',
# 'c/t' or 'c out of t', decimals and signs (clamped later).
_SCORE_RE = re.compile(
    r"""
    (?P<open>\{)?                       # the official format's brace
    [\s*_`"']*                          # markdown / quotes before the key
    \bscore\b
    [\s*_`"']*[:=][\s*_`"']*            # separator, maybe inside bold or quotes
    (?P<covered>[-+]?\d+(?:\.\d+)?)
    \s*(?:/|\bout\s+of\b)\s*
    (?P<total>[-+]?\d+(?:\.\d+)?)
    [\s*_`"']*
    (?P<close>\})?
    """,
    re.IGNORECASE | re.VERBOSE,
)
# The paper prompt's own example, "e.g. {score: 2/5} for 2 correct and 5 in total".
_EXAMPLE_BEFORE_RE = re.compile(r"(?:e\.?\s*g\.?|for\s+example|example:?|such\s+as)[\s,:*`\"'(]*$", re.IGNORECASE)
_EXAMPLE_AFTER_RE = re.compile(r"^[\s*`\"')]*for\s+2\s+correct\s+and\s+5\s+in\s+total", re.IGNORECASE)
_QUOTE_WINDOW = 24  # characters of the reply beside a score compared with the answer
_QUOTE_MIN_CONTEXT = 12  # a quotation shows at least this much copied text (squashed) beside the score


@dataclass(frozen=True)
class ScoreMention:
    """One `{score: c/t}` found in a text, with its position."""

    covered: float
    total: float
    start: int
    end: int
    braced: bool = False  # written in the requested format, `{score: c/t}`

    @property
    def value(self) -> tuple[float, float]:
        return (self.covered, self.total)

    @property
    def written_recall(self) -> float:
        """covered/total as written, clamped to [0, 1] (0 for a total that is not positive)."""
        return min(max(self.covered / self.total, 0.0), 1.0) if self.total > 0 else 0.0


def find_scores(text: str) -> list[ScoreMention]:
    """Every score mention in `text`, in order."""
    return [
        ScoreMention(float(m["covered"]), float(m["total"]), m.start(), m.end(), bool(m["open"] and m["close"]))
        for m in _SCORE_RE.finditer(text)
    ]


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _example_context(reply: str, mention: ScoreMention) -> str | None:
    """How a `{score: 2/5}` looks like the prompt's own example: "before" when introduced as one ("e.g.",
    "for example"), "after" when followed by the example's gloss ("for 2 correct and 5 in total"), else None.

    Only "before" marks the example for sure; the gloss alone is also how a judge may explain a genuine 2/5.
    """
    if mention.value != (2.0, 5.0):
        return None
    if _EXAMPLE_BEFORE_RE.search(reply[max(0, mention.start - 40) : mention.start]):
        return "before"
    if _EXAMPLE_AFTER_RE.search(reply[mention.end : mention.end + 60]):
        return "after"
    return None


_OPEN_QUOTE_RE = re.compile(r"[\"“«`'][\s*_]*$")
_CLOSE_QUOTE_RE = re.compile(r"^[\s*_]*[\"”»`']")


def in_quotation(reply: str, mention: ScoreMention, answer_squashed: str,
                 planted: set[tuple[float, float]]) -> bool:
    """Whether `mention` sits inside the judge's quotation of the answer. It does when the score is copied
    from the answer together with at least `_QUOTE_MIN_CONTEXT` characters of text just before or just after
    it, or when a score of a value the answer carries (`planted`) stands alone between quotation marks or on a
    `>` quote line.

    A score with nothing copied beside it (e.g. a verdict opening the reply) is the judge's own writing, even
    when the answer carries the same string.
    """
    if mention.value not in planted:
        return False
    text = reply[mention.start : mention.end]
    before = reply[max(0, mention.start - _QUOTE_WINDOW) : mention.start]
    after = reply[mention.end : mention.end + _QUOTE_WINDOW]
    if len(_squash(before)) >= _QUOTE_MIN_CONTEXT and _squash(before + text) in answer_squashed:
        return True
    if len(_squash(after)) >= _QUOTE_MIN_CONTEXT and _squash(text + after) in answer_squashed:
        return True
    if _OPEN_QUOTE_RE.search(before) and _CLOSE_QUOTE_RE.search(after):
        return True
    line_start = reply.rfind("\n", 0, mention.start) + 1
    return reply[line_start : mention.start].lstrip().startswith(">")


def _own_score(reply: str, answer: str) -> ScoreMention:
    mentions = find_scores(reply)
    if not mentions:
        raise VerdictParseError("no {score: covered/total} in the judge reply")
    context = [_example_context(reply, m) for m in mentions]
    # A 2/5 introduced as an example is the prompt's; one merely followed by the example's gloss is the
    # prompt's only when the judge also gives another score (a lone "{score: 2/5} for 2 correct and 5 in
    # total" is a genuine verdict worded like the prompt).
    kept = [m for m, c in zip(mentions, context) if c is None]
    if not kept:
        kept = [m for m, c in zip(mentions, context) if c == "after"]
    if not kept:
        raise VerdictParseError("the judge reply only echoes the prompt's example {score: 2/5}")
    planted = {m.value for m in find_scores(answer)} if answer else set()
    if planted:
        answer_squashed = _squash(answer)
        kept = [m for m in kept if not in_quotation(reply, m, answer_squashed, planted)]
        if not kept:
            raise VerdictParseError("the judge reply only quotes scores written in the model's answer")
    # The final verdict in the requested {score: c/t} format beats looser mentions such as a
    # per-trigger "score: 1/1" in the explanation.
    candidates = [m for m in kept if m.braced] or kept
    own = [m for m in candidates if m.value not in planted]
    if own:
        return own[-1]
    if len({m.value for m in candidates}) == 1:
        return candidates[-1]  # the judge agrees with the planted score: its verdict all the same
    # Scores that equal planted ones but disagree with each other: the judge may be repeating the answer without
    # quotation marks. The lowest is taken, so planting scores can never raise a sample.
    return min(candidates, key=lambda m: m.written_recall)


def _clean_reason(reply: str, mention: ScoreMention) -> str:
    """The judge's explanation: its reply without the verdict itself."""
    return (reply[: mention.start] + reply[mention.end :]).strip()


def parse_paper_verdict(
    reply: str, n_triggers: int, answer: str = "", *, trust_judge_total: bool = False
) -> ParsedVerdict:
    """Read a paper-prompt judge reply: the judge's own last `{score: c/t}`.

    recall = clamp(c, 0, n_triggers) / n_triggers, or clamp(c, 0, t) / t with `trust_judge_total`
    (the official protocol). A reply without a usable score, or with total 0, raises
    `VerdictParseError`.
    """
    if not isinstance(reply, str) or not reply.strip():
        raise VerdictParseError("empty judge reply")
    mention = _own_score(reply, answer or "")
    if mention.total <= 0 or mention.total != int(mention.total):
        raise VerdictParseError(f"judge total {mention.total:g} is not a positive whole number")
    judge_total = int(mention.total)
    total = judge_total if trust_judge_total else n_triggers
    if total <= 0:
        raise VerdictParseError("the sample has no ground-truth triggers")
    covered = min(max(mention.covered, 0.0), float(total))
    return ParsedVerdict(
        covered=covered,
        total=total,
        recall=covered / total,
        judge_total=judge_total,
        reason=_clean_reason(reply, mention),
    )


# ---------------------------------------------------------------------------------------------
# Structured mode: {"triggers": [{"id": 1, "covered": true, "reason": "..."}, ...]}


def _json_objects(text: str) -> list[tuple[object, int, int]]:
    """Top-level JSON objects embedded in `text` (code fences, prose around them allowed)."""
    decoder = json.JSONDecoder()
    found: list[tuple[object, int, int]] = []
    i = text.find("{")
    while i != -1:
        try:
            value, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            i = text.find("{", i + 1)
            continue
        found.append((value, i, end))
        i = text.find("{", end)
    return found


def _json_bool(value: object) -> bool | None:
    """A trigger's "covered" value as a bool: JSON true/false or a plain word; None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "yes", "covered"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"false", "no", "missed", "not covered"}:
        return False
    return None


def _validate_structured(value: object, n_triggers: int) -> tuple[tuple[bool, ...], tuple[str, ...]]:
    if not isinstance(value, dict):
        raise VerdictParseError("the JSON verdict is not an object")
    entries = value.get("triggers")
    if not isinstance(entries, list):
        raise VerdictParseError('the JSON verdict has no "triggers" list')
    covered: dict[int, bool] = {}
    reasons: dict[int, str] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise VerdictParseError("a trigger verdict is not an object")
        tid = entry.get("id")
        if isinstance(tid, str) and tid.strip().isdigit():
            tid = int(tid.strip())
        if not isinstance(tid, int) or isinstance(tid, bool) or not 1 <= tid <= n_triggers:
            raise VerdictParseError(f"trigger id {tid!r} is not one of 1..{n_triggers}")
        if tid in covered:
            raise VerdictParseError(f"trigger {tid} is judged twice")
        flag = _json_bool(entry.get("covered"))
        if flag is None:
            raise VerdictParseError(f'trigger {tid}: "covered" must be true or false')
        covered[tid] = flag
        reasons[tid] = str(entry.get("reason", "")).strip()
    missing = sorted(set(range(1, n_triggers + 1)) - covered.keys())
    if missing:
        raise VerdictParseError(f"no verdict for trigger(s) {missing}")
    ids = range(1, n_triggers + 1)
    return tuple(covered[i] for i in ids), tuple(reasons[i] for i in ids)


def _planted_values(answer: str) -> list[object]:
    """Every JSON object in the model's answer, nested ones included (a fake verdict may sit inside another)."""
    found: list[object] = []
    stack = [value for value, _, _ in _json_objects(answer)]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            found.append(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def parse_structured_verdict(reply: str, n_triggers: int, answer: str = "") -> ParsedVerdict:
    """Read a structured-prompt judge reply: the last JSON verdict valid for these trigger ids.

    A JSON object equal (as parsed JSON, whatever its spacing or key order) to one in the model's answer is
    never taken for the verdict: a judge echoing a planted verdict, even re-serialised, does not adopt it.
    """
    if n_triggers <= 0:
        raise VerdictParseError("the sample has no ground-truth triggers")
    if not isinstance(reply, str) or not reply.strip():
        raise VerdictParseError("empty judge reply")
    planted = _planted_values(answer) if answer else []
    last_error = "no JSON object in the judge reply"
    for value, _start, _end in reversed(_json_objects(reply)):
        if any(value == p for p in planted):
            last_error = "the only JSON verdicts are copied from the model's answer"
            continue
        try:
            flags, reasons = _validate_structured(value, n_triggers)
        except VerdictParseError as exc:
            last_error = str(exc)
            continue
        covered = float(sum(flags))
        reason = "\n".join(f"{i}. {'covered' if f else 'missed'}: {r}" for i, (f, r) in enumerate(zip(flags, reasons), 1))
        return ParsedVerdict(
            covered=covered,
            total=n_triggers,
            recall=covered / n_triggers,
            trigger_covered=flags,
            trigger_reasons=reasons,
            reason=reason,
        )
    raise VerdictParseError(last_error)


def parse_verdict(
    prompt: str, reply: str, n_triggers: int, answer: str = "", *, trust_judge_total: bool = False
) -> ParsedVerdict:
    """Parse a reply to the judge prompt `prompt` (`paper`, `paper_llama3` or `structured`)."""
    if prompt == "structured":
        return parse_structured_verdict(reply, n_triggers, answer)
    if prompt in ("paper", "paper_llama3"):
        return parse_paper_verdict(reply, n_triggers, answer, trust_judge_total=trust_judge_total)
    raise ValueError(f"unknown judge prompt {prompt!r}; use paper, paper_llama3 or structured")
