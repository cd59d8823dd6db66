"""Answer length in words, and the word budget's cut.

Recall rewards listing more: an image-blind list of a few hundred frequent triggers scores like a real model (see
``bench/bench_length.py``). So every score is reported with the mean answer length, and an opt-in budget judges
each answer cut to its first N words as well.

A *word* is a maximal run of letters and digits in Unicode terms (combining marks stay inside the word they mark);
everything else is a boundary: whitespace, punctuation, underscores and format characters (category Cf: U+200B
and its kin, soft hyphens, joiners), so text glued by an invisible character or by commas without spaces counts
as the words a reader sees. Each ideograph or kana (scripts written without spaces) and each emoji or other
pictograph is a word of its own. ``"1. A crowd, cheering."`` has four words, ``"joy,tears,crowd"`` three,
``"don't"`` two. Answer length (the Words column) and the budget use this one rule (``WORD_RULE`` names it in
the provenance of a budgeted run). The cut keeps the answer verbatim up to the end of its N-th word (line breaks,
numbering and punctuation inside that span kept; everything after it dropped); an answer of N words or fewer is
returned unchanged, the same string, so its judge verdict is reused from the cache with no new request.
Pure Python: the standard library and the package's vocabulary.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable

from lmms_eval_eibench.config import WORD_BUDGET_ENV
from lmms_eval_eibench.vocabulary import generation_failure

# What the README suggests for --word-budget / EIBENCH_WORD_BUDGET (justified in docs/judging.md: ground-truth
# trigger lists are about 30 words; a budget several times that leaves honest answers whole).
SUGGESTED_WORD_BUDGET = 100

WORD_RULE = "2"
"""The word rule's version (1: ``str.split()``'s whitespace-separated words; 2: Unicode letter/digit runs, format
characters and punctuation as boundaries, one word per ideograph and pictograph)."""

# Scripts written without spaces (CJK ideographs, kana, Hangul syllables) and pictographs (emoji, symbols): each
# character a word, so that a run of them is not one "word".
_SINGLE = ("\u2600-\u27bf\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
           "\uf900-\ufaff\U0001f000-\U0001faff\U00020000-\U0003134f")
# Combining marks (accents written as a separate code point) continue the word they follow.
_MARKS = ("\u0300-\u036f\u0483-\u0489\u0591-\u05bd\u064b-\u065f\u0900-\u0903\u093a-\u094f\u1ab0-\u1aff"
          "\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f")
_WORD = re.compile(f"[{_SINGLE}]|[^\\W_{_SINGLE}](?:[^\\W_{_SINGLE}]|[{_MARKS}])*")


def answer_words(text: str | None) -> int:
    """Words in an answer; a generation failure (None, empty, CFSA's failure line) counts as 0 words."""
    return 0 if text is None or generation_failure(text) else sum(1 for _ in _WORD.finditer(text))


def mean_answer_words(texts: Iterable[str | None]) -> float:
    """Mean words per answer over all answers, failures as 0; NaN when there are none."""
    counts = [answer_words(text) for text in texts]
    return sum(counts) / len(counts) if counts else math.nan


def cut_to_words(text: str, budget: int) -> str:
    """The answer up to the end of its ``budget``-th word, verbatim; the same string when it is within budget."""
    if budget < 1:
        raise ValueError(f"a word budget must be a positive whole number of words, not {budget!r}")
    for count, match in enumerate(_WORD.finditer(text), start=1):
        if count == budget:
            end = match.end()
            # Within budget (no word after word N): the very same string, so the verdict is reused.
            return text if _WORD.search(text, end) is None else text[:end]
    return text


def word_budget() -> int | None:
    """The word budget of lmms-eval runs (``$EIBENCH_WORD_BUDGET``; None when unset). A bad value raises
    ``ValueError`` naming the variable: a typo must not silently mean "no budget"."""
    return parse_word_budget(os.environ.get(WORD_BUDGET_ENV), WORD_BUDGET_ENV)


def parse_word_budget(value: str | int | None, setting: str) -> int | None:
    """A budget from a flag or environment variable: None when unset or empty, else a positive int.

    ``setting`` names where the value came from (``--word-budget``, ``EIBENCH_WORD_BUDGET``) for the error."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise ValueError(
            f"{setting}={value!r} is not a word budget: give a positive whole number of words "
            f"(e.g. {SUGGESTED_WORD_BUDGET}), or leave it unset for no budget"
        )
    return int(text)
