"""Reading a judge's reply into a verdict (`parse_verdict`): paper-mode scores and structured JSON verdicts.

Paper mode reads the judge's `{score: covered/total}`. Unlike the official script (first match, judge's total
trusted), it takes the judge's own verdict. The judge's quotation of the answer is located as a span of the
reply from what the judge did (`quotation`: its longest copy of the answer, and the copy it put between
quotation marks), never from the words beside a score, which the answer can plant: scores inside the span, or
standing alone in quotation marks, are quoted; every other score is the judge's. When the two spans give
different verdicts the reply is a judge failure (0, asked again). Echoes of the prompt's example
(`e.g. {score: 2/5}`) are skipped; the last verdict-form score the answer does not carry wins; where every
candidate repeats a value the answer carries, the one yielding the lowest recall is taken. Recall divides by the
number of ground-truth triggers (`trust_judge_total=True` restores the paper's covered/total-as-written).

Structured mode reads a JSON verdict per numbered trigger and validates it against the trigger ids.

Both modes read the reply and the answer folded the same way (`quotation.fold`: NFKC, format characters dropped,
spaces squashed), so a plant hidden with invisible or compatibility characters is recognised as the answer's
whether the judge quotes it verbatim or as a reader would read it.

`PARSER_VERSION` names these rules; results and provenance record it, and cached judge replies are parsed
again with the current rules on every read. Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from lmms_eval_eibench.scoring.quotation import copied_runs, fold, longest_quotation, marked_quotation, normalize

PARSER_VERSION = "4"
"""Version of the verdict-reading rules (1: scores equal to a planted one were echoes; 2: scores with copied
text beside them were quoted, ties resolved downwards on the written ratio; 3: the quotation is located as a
span of the reply (its longest copy of the answer, its marked copy; disagreeing spans are a judge failure),
ties resolved downwards on the recall each candidate yields, unbraced verdicts beat planted braced ones; 4: the
reply and the answer are read folded, NFKC with format characters dropped)."""

__all__ = [
    "PARSER_VERSION",
    "ParsedVerdict",
    "ScoreMention",
    "VerdictParseError",
    "find_scores",
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
_QUOTE_WINDOW = 24  # characters of the reply looked at beside a score for quotation marks


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


def find_scores(text: str) -> list[ScoreMention]:
    """Every score mention in `text`, in order."""
    return [
        ScoreMention(float(m["covered"]), float(m["total"]), m.start(), m.end(), bool(m["open"] and m["close"]))
        for m in _SCORE_RE.finditer(text)
    ]


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


class _Answer:
    """What the model's answer carries that a reply could copy: its score mentions, its text (normalized)."""

    def __init__(self, answer: str) -> None:
        self.normalized = normalize(answer)[0]
        self.values = {m.value for m in find_scores(answer)}

    def carries(self, reply: str, mention: ScoreMention) -> bool:
        """Whether `mention` could have come from the answer: its value, or its text (a score cut short by the
        end of a quotation, "{score: 10/1"), is in it."""
        return mention.value in self.values or normalize(reply[mention.start : mention.end])[0].strip(" *_`\"'") in (
            self.normalized
        )


def _core(reply: str, mention: ScoreMention) -> tuple[int, int]:
    """The mention without the quotes and markdown its pattern takes in around it (a quotation cut inside a
    score, `...{score: 0/7"`, ends before the judge's closing mark)."""
    text = reply[mention.start : mention.end]
    junk = " \t\r\n*_`\"'"
    return mention.start + len(text) - len(text.lstrip(junk)), mention.end - len(text) + len(text.rstrip(junk))


def _stands_quoted(reply: str, mention: ScoreMention) -> bool:
    """A score alone between quotation marks, or on a `>` quote line: the judge marked it as a quotation."""
    before = reply[max(0, mention.start - _QUOTE_WINDOW) : mention.start]
    after = reply[mention.end : mention.end + _QUOTE_WINDOW]
    if _OPEN_QUOTE_RE.search(before) and _CLOSE_QUOTE_RE.search(after):
        return True
    line_start = reply.rfind("\n", 0, mention.start) + 1
    return reply[line_start : mention.start].lstrip().startswith(">")


def _verdict_form(reply: str, mention: ScoreMention) -> bool:
    """The requested `{score: c/t}`, or an unbraced score that is not a parenthesised aside such as a
    per-trigger "(score: 1/1)": `Score: 1/3` and `**Score:** 1/3` are verdicts too."""
    if mention.braced:
        return True
    line = reply[reply.rfind("\n", 0, mention.start) + 1 : mention.start]
    return line.count("(") <= line.count(")")


def _yielded_recall(mention: ScoreMention, n_triggers: int, trust_judge_total: bool) -> float:
    """The recall a mention would give the sample (what "lowest" means between candidates): covered over the
    ground-truth trigger count, or over the written total when it is trusted."""
    total = mention.total if trust_judge_total else n_triggers
    return min(max(mention.covered, 0.0), total) / total if total > 0 else 0.0


def _judges_verdict(reply: str, own: list[ScoreMention], answer: _Answer, n_triggers: int,
                    trust_judge_total: bool) -> ScoreMention | None:
    """The verdict among the judge's own mentions: the last verdict-form score the answer does not carry; when
    every one repeats a value the answer carries and they disagree, the one yielding the lowest recall (so a
    planted score can never raise a sample)."""
    if not own:
        return None
    candidates = [m for m in own if _verdict_form(reply, m)] or own
    clean = [m for m in candidates if not answer.carries(reply, m)]
    if clean:
        return clean[-1]
    recalls = [_yielded_recall(m, n_triggers, trust_judge_total) for m in candidates]
    if len(set(recalls)) == 1:
        return candidates[-1]  # the judge agrees with a score the answer carries: its verdict all the same
    return candidates[recalls.index(min(recalls))]


def _own_score(reply: str, answer: str, n_triggers: int, trust_judge_total: bool) -> ScoreMention:
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
    carried = _Answer(answer)
    copyable = [m for m in kept if carried.carries(reply, m)]
    if not copyable:  # nothing the answer carries: every score is the judge's
        return _judges_verdict(reply, kept, carried, n_triggers, trust_judge_total)  # type: ignore[return-value]
    # The judge's quotation of the answer, located from what the judge did: its longest copy of the answer and
    # the copy it put between quotation marks. Scores inside are quoted; every other is the judge's own, even
    # when the answer carries the same words around it. Each span is one reading of the reply.
    runs = copied_runs(reply, answer)
    spans = {s for s in (longest_quotation(runs, reply, answer), marked_quotation(reply, runs))
             if s is not None} or {None}
    readings: set[tuple[int, int] | None] = set()
    for span in spans:
        own = [m for m in kept if m not in copyable
               or not (_stands_quoted(reply, m) or (span is not None and span.holds(*_core(reply, m))))]
        verdict = _judges_verdict(reply, own, carried, n_triggers, trust_judge_total)
        readings.add(None if verdict is None else (verdict.start, verdict.end))
    if readings == {None}:
        raise VerdictParseError("the judge reply only quotes scores written in the model's answer")
    values = {None if r is None else find_scores(reply[r[0] : r[1]])[0].value for r in readings}
    if len(values) > 1:
        # Where the quotation is depends on which copy is taken for it: the answer carries the judge's own
        # wording. Doubt is a judge failure (0, asked again), never the planted value.
        raise VerdictParseError("the judge's quotation of the model's answer is ambiguous (the answer carries "
                                "score text in the judge's own wording)")
    start, end = next(iter(readings))  # type: ignore[misc]
    return next(m for m in kept if (m.start, m.end) == (start, end))


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
    reply, answer = fold(reply), fold(answer or "")  # a plant hidden by invisible characters is still the answer's
    mention = _own_score(reply, answer, n_triggers, trust_judge_total)
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
    reply, answer = fold(reply), fold(answer or "")  # a JSON plant with invisible characters is still the answer's
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
