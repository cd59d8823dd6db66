"""Where a judge's reply copies the model's answer: copied runs and the judge's quotation (pure, stdlib only).

The verdict parser must tell the judge's own `{score: c/t}` from one it copied out of the answer. Text near a
score says nothing about who wrote it (an answer can carry the judge's predictable wording around every score),
so the quotation is located from what the judge did, as spans of the reply:

- a *copied run* is a maximal stretch of the reply that occurs in the answer (compared lowercased, whitespace
  squashed, so re-spacing a quotation does not cut it); runs shorter than `QUOTE_MIN` characters are
  coincidences (a shared phrase, a lone score), not quotations;
- the *longest quotation* is the largest group of copied runs overlapping by `QUOTE_MIN` characters or more (a
  judge that copies an answer copies one long stretch of it), leaving out wording around one score that the
  answer holds several times with only the numbers changed (a template planted for every score: the judge's
  own wording as much as a copy);
- the *marked quotation* is the longest copied run (`MARKED_MIN` characters or more) the judge itself put
  between quotation marks (the marks are the judge's writing: a mark copied from the answer would have made the
  run longer).

`verdict_parser` reads the reply once per span; the spans disagreeing is doubt, and doubt is a judge failure.

Before any of this, `verdict_parser` folds the answer and the reply the same way (`fold`: NFKC, format
characters dropped, runs of spaces squashed), so a score hidden with invisible or compatibility characters
(`{sc\u200bore: 5/5}`, full-width `ｓｃｏｒｅ`, a soft hyphen) is the answer's, however the judge quotes it:
verbatim, or folded as a reader would read it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["MARKED_MIN", "QUOTE_MIN", "Span", "copied_runs", "longest_quotation", "marked_quotation", "fold",
           "normalize", "templated"]

QUOTE_MIN = 30
"""Shortest copied run (normalized characters) taken for an unmarked quotation: longer than a score with a few
words."""
MARKED_MIN = 8
"""Shortest copied run the judge put between quotation marks taken for its quotation (a score and a word)."""

_OPEN_MARKS = "\"“«‘'"
_CLOSE_MARKS = "\"”»’'"


@dataclass(frozen=True)
class Span:
    """A stretch of the reply, in positions of the original reply text: [start, end)."""

    start: int
    end: int
    size: int = 0  # normalized characters copied (0 for a merged group)

    def __len__(self) -> int:
        return self.end - self.start

    def holds(self, start: int, end: int) -> bool:
        return self.start <= start and end <= self.end


_SPACES = re.compile(r"[^\S\n]+")


def fold(text: str) -> str:
    """`text` as a reader sees it: NFKC (full-width and other compatibility forms to their plain letters), format
    characters (category Cf: zero-width spaces and joiners, soft hyphens, BOMs, tag characters) dropped, every run
    of spaces squashed to one (line breaks kept: a quote line and a verdict's line stay lines)."""
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return _SPACES.sub(" ", text)


def normalize(text: str) -> tuple[str, list[int]]:
    """`text` lowercased with every whitespace run squashed to one space, and for each character of the result
    its position in `text`."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            if out and out[-1] == " ":
                continue
            ch = " "
        out.append(ch.lower())
        where.append(i)
    return "".join(out), where


class _SuffixAutomaton:
    """The substrings of one text, for the longest match ending at each position of another (linear time)."""

    def __init__(self, text: str) -> None:
        self.next: list[dict[str, int]] = [{}]
        self.link = [-1]
        self.length = [0]
        last = 0
        for ch in text:
            cur = len(self.next)
            self.next.append({})
            self.length.append(self.length[last] + 1)
            self.link.append(0)
            p = last
            while p != -1 and ch not in self.next[p]:
                self.next[p][ch] = cur
                p = self.link[p]
            if p != -1:
                q = self.next[p][ch]
                if self.length[p] + 1 == self.length[q]:
                    self.link[cur] = q
                else:
                    clone = len(self.next)
                    self.next.append(dict(self.next[q]))
                    self.length.append(self.length[p] + 1)
                    self.link.append(self.link[q])
                    while p != -1 and self.next[p].get(ch) == q:
                        self.next[p][ch] = clone
                        p = self.link[p]
                    self.link[q] = self.link[cur] = clone
            last = cur

    def matching_lengths(self, text: str) -> list[int]:
        """For each position i of `text`, the length of the longest substring ending at i found in ours."""
        state, length, out = 0, 0, []
        for ch in text:
            while state and ch not in self.next[state]:
                state = self.link[state]
                length = self.length[state]
            if ch in self.next[state]:
                state = self.next[state][ch]
                length += 1
            else:
                length = 0
            out.append(length)
        return out


def copied_runs(reply: str, answer: str, minimum: int = MARKED_MIN) -> list[Span]:
    """The maximal stretches of `reply` (at least `minimum` normalized characters) that occur in `answer`, in
    reply positions, in order of their end."""
    reply_n, where = normalize(reply)
    answer_n, _ = normalize(answer)
    if not reply_n or not answer_n:
        return []
    lengths = _SuffixAutomaton(answer_n).matching_lengths(reply_n)
    runs: list[Span] = []
    for i, length in enumerate(lengths):
        extended = i + 1 < len(lengths) and lengths[i + 1] == length + 1
        if length >= minimum and not extended:
            runs.append(Span(where[i - length + 1], where[i] + 1, length))
    return runs


_NUMBER = re.compile(r"\d+")


def _masked(text: str) -> str:
    return _NUMBER.sub("#", normalize(text)[0])


def templated(reply: str, run: Span, masked_answer: str) -> bool:
    """Whether `run` is wording around one score that the answer (`_masked`: normalized, numbers masked) holds
    more than once with only its numbers changed: a template filled in for every value (the judge's own wording
    planted around every score it could write), which the judge may have written itself as well as copied, so
    it is never taken for the quotation. (A copy of several planted blocks in a row is a quotation.)"""
    text = _masked(reply[run.start : run.end])
    return text.count("score") <= 1 and masked_answer.count(text) > 1


def longest_quotation(runs: list[Span], reply: str = "", answer: str = "") -> Span | None:
    """The largest group of copied runs that overlap by `QUOTE_MIN` characters or more, as one span (None
    without runs), leaving out runs `templated` in `answer`. Two copies sharing that much are one quotation
    seen through two places of the answer (an answer can repeat the judge's wording after the text the judge
    quotes); a few shared characters are the coincidence of a quotation's end running on into the judge's next
    words."""
    groups: list[Span] = []
    masked = _masked(answer) if answer else ""
    kept = (r for r in runs if r.size >= QUOTE_MIN and not (masked and templated(reply, r, masked)))
    for run in sorted(kept, key=lambda r: r.start):
        if groups and run.start <= groups[-1].end - QUOTE_MIN:
            groups[-1] = Span(groups[-1].start, max(groups[-1].end, run.end))
        else:
            groups.append(run)
    return max(groups, key=len, default=None)


def marked_quotation(reply: str, runs: list[Span]) -> Span | None:
    """The longest copied run with a quotation mark of the judge's just before it and one just after it (an
    ellipsis and spaces may stand between; a quotation cut short often ends with one)."""
    marked = []
    for run in runs:
        before = reply[: run.start].rstrip()
        after = reply[run.end :].lstrip().removeprefix("...").removeprefix("…").lstrip()
        if before[-1:] and before[-1] in _OPEN_MARKS and after[:1] and after[0] in _CLOSE_MARKS:
            marked.append(run)
    return max(marked, key=len, default=None)
