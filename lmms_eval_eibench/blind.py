"""Image-blind answers: lists of triggers that never looked at the image, to show what verbosity alone buys.

Recall counts covered ground-truth triggers and costs nothing for the rest, so a long list of common triggers
scores without seeing anything. Two such answers are built here (pure and seeded):

- :func:`blind_answer`, **the documented floor** ``eibench report --with-blind`` shows: the same answer for every
  sample of a subset, the :data:`FLOOR_TRIGGERS` most frequent triggers of the *other* subset (basic gets the
  complex set's, complex gets the basic set's: no trigger of the scored subset leaks), as a numbered list.
  From the official files, basic's floor answer is 593 words.
- :func:`long_blind_list`, ``eibench judge-check``'s ``blind`` group: for one sample, the triggers of randomly
  drawn *other* samples (other images, and in basic other categories, as judge-check's ``other`` group), one
  sentence each, until at least :data:`BLIND_LIST_WORDS` words. Its true recall is about 0 (another emotion's
  triggers of other images; a few generic ones may paraphrase this sample's). Same-category draws would not do:
  a sadness image's "tears" is a true paraphrase of another sadness image's "crying" (measured with the embedding
  judge on 100 basic samples, 300 words: 48.4 from any other image, 26.0 from other categories)..
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .length import answer_words
from .records import split_sample_id

FLOOR_TRIGGERS = 100
"""How many of the other subset's most frequent triggers the documented floor answer lists."""
BLIND_LIST_WORDS = 300
"""judge-check's blind lists run to at least this many words (a few hundred, like a verbose VLM)."""

_SPACE = re.compile(r"\s+")


def trigger_key(trigger: str) -> str:
    """How triggers are counted as the same: case, surrounding space, runs of space and a final period ignored."""
    return _SPACE.sub(" ", trigger.strip().rstrip(".").strip()).lower()


def frequent_triggers(trigger_lists: Iterable[Sequence[str]], k: int) -> list[str]:
    """The ``k`` most frequent triggers (by :func:`trigger_key`), ties in order of first appearance, each in the
    wording it first appeared in."""
    counts: Counter[str] = Counter()
    wording: dict[str, str] = {}
    for triggers in trigger_lists:
        for trigger in triggers:
            key = trigger_key(trigger)
            if key:
                counts[key] += 1
                wording.setdefault(key, trigger.strip().rstrip(".").strip())
    return [wording[key] for key, _ in counts.most_common(k)]  # most_common keeps first-seen order among ties


def numbered_list(triggers: Sequence[str]) -> str:
    """Triggers as the ground truth writes them: ``1. ...`` one per line."""
    return "\n".join(f"{i}. {trigger}" for i, trigger in enumerate(triggers, start=1))


def blind_answer(other_subset_rows: Iterable[Mapping[str, Any]], k: int = FLOOR_TRIGGERS) -> str:
    """The documented floor: the ``k`` most frequent triggers of the rows given (the *other* subset's), numbered."""
    return numbered_list(frequent_triggers((row["triggers"] for row in other_subset_rows), k))


def _image(row: Mapping[str, Any]) -> str:
    return split_sample_id(str(row["id"]))[0]


def long_blind_list(row: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], rng: random.Random,
                    words: int = BLIND_LIST_WORDS) -> str:
    """For ``row``: triggers of other samples (never its image; another category when there are categories),
    drawn at random, one sentence each, until the answer has at least ``words`` words (or the others run out)."""
    image, category = _image(row), row.get("category")
    others = [r for r in rows if _image(r) != image and (category is None or r.get("category") != category)]
    sentences: list[str] = []
    count = 0
    for other in rng.sample(others, len(others)):
        for trigger in other["triggers"]:
            sentence = trigger.strip().rstrip(".").strip()
            if not sentence:
                continue
            sentences.append(sentence[0].upper() + sentence[1:] + ".")
            count += answer_words(sentence)
        if count >= words:
            break
    return " ".join(sentences)
