"""Image-blind answers: lists of triggers that never looked at the image, to show what verbosity alone buys.

Recall counts covered ground-truth triggers and costs nothing for the rest, so a long list of common triggers
scores without seeing anything. Two such answers are built here (pure and seeded):

- :func:`blind_answer`, **the documented floor** ``eibench report --with-blind`` shows: the same answer for every
  sample of a subset, the :data:`FLOOR_TRIGGERS` most frequent triggers of the *other* subset (basic gets the
  complex set's, complex gets the basic set's: no trigger of the scored subset leaks), as a numbered list.
  From the official files, basic's floor answer is 597 words (``length.answer_words``).
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

from lmms_eval_eibench.data.records import split_sample_id
from lmms_eval_eibench.scoring.length import answer_words

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


# Written for this benchmark, never read from the annotations: what any emotional image might show, per basic
# category (the basic question names its emotion), and for any emotion. Short cues, one per sentence in a packed
# answer, so that a word budget holds as many of them as it can.
EMOTION_CUES: dict[str, tuple[str, ...]] = {
    "Happy": ("Smiling face", "Laughing", "Bright eyes", "Friends together", "Family gathering", "Celebration",
              "A party", "A gift", "Good news", "Success", "Playing", "Hugging", "Holding hands", "Sunny day",
              "Relaxed posture", "Enjoying food", "A wedding", "A birthday", "A pet", "Vacation", "Music",
              "Dancing", "Love", "Achievement", "Open arms", "Cheerful mood", "Warm light", "Children playing"),
    "Angry": ("Furrowed brows", "Frowning", "Clenched jaw", "Shouting", "An argument", "A conflict", "A fight",
              "Unfair treatment", "Being insulted", "Betrayal", "Frustration", "Tense posture", "Pointing finger",
              "Glaring", "Raised voice", "Confrontation", "Disagreement", "Disrespect", "Being ignored", "Protest",
              "Crossed arms", "Red face", "Aggressive gesture", "A broken promise", "Rivalry", "Provocation",
              "Annoyance", "Stern look"),
    "Sadness": ("Tears", "Crying", "Downcast eyes", "Looking down", "Loneliness", "Being alone", "A loss",
                "Grief", "A death", "A funeral", "A breakup", "Separation", "Illness", "Failure", "Rejection",
                "Disappointment", "Missing someone", "Slumped shoulders", "Hands on face", "Rain", "Dark colors",
                "Empty room", "Memories", "Regret", "Hospital", "Poverty", "Quiet setting", "Sad expression"),
    "Excitement": ("Wide smile", "Open mouth", "Raised arms", "Cheering", "Jumping", "A competition", "Winning",
                   "Sports", "A concert", "A crowd", "Adventure", "Travel", "A surprise", "A game", "A race",
                   "Fireworks", "A performance", "Anticipation", "New experience", "Celebrating victory",
                   "Applause", "Energy", "Fast movement", "Festival", "Bright colors", "Thrill", "Stage lights",
                   "Excited expression"),
}
GENERIC_CUES: tuple[str, ...] = (
    "Facial expression", "Body language", "Eye contact", "Gestures", "Posture", "The people around",
    "Interaction with others", "Conversation", "A relationship", "The setting", "The atmosphere", "An event",
    "Personal experience", "Recent news", "The environment", "Clothing", "Lighting", "The situation",
)


def frequent_words(trigger_lists: Iterable[Sequence[str]], k: int) -> list[str]:
    """The ``k`` most frequent content words (4+ letters, lowercase) of the triggers given, ties in order of first
    appearance: what an image-blind answer can take from triggers of other images."""
    counts: Counter[str] = Counter()
    for triggers in trigger_lists:
        for trigger in triggers:
            counts.update(w for w in _CONTENT.findall(trigger.lower()) if w not in _STOP)
    return [word for word, _ in counts.most_common(k)]


_CONTENT = re.compile(r"[a-z]{4,}")
_STOP = frozenset("""with that this from their there them they have been being into onto about which while where
when what some such than then very also more most other others each only just over under like near them this
those these your yours his hers its our ours the and for are was were will would could should might maybe
another something someone because instead well next back front""".split())


def packed_answer(cues: Sequence[str], budget: int) -> str:
    """Cues one per short sentence, as many as fit in ``budget`` words (``length.answer_words``): an image-blind
    answer packed to the budget, never cut by it."""
    sentences: list[str] = []
    count = 0
    for cue in dict.fromkeys(c.strip().rstrip(".") for c in cues if c.strip()):
        words = answer_words(cue)
        if count + words > budget:
            continue
        sentences.append(cue[0].upper() + cue[1:] + ".")
        count += words
    return " ".join(sentences)


def packed_cues(category: str | None, other_subset_rows: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """The cue lists the floor packs to a budget for a sample of ``category`` (None: complex, whose questions
    name no emotion), built without the scored subset's annotations:

    - ``emotion cues``: :data:`EMOTION_CUES` of the category (every category's, interleaved, without one), then
      :data:`GENERIC_CUES`;
    - ``other subset's words``: the other subset's most frequent trigger content words, most frequent first.
    """
    if category in EMOTION_CUES:
        emotion = list(EMOTION_CUES[category])
    else:
        emotion = [cue for group in zip(*EMOTION_CUES.values()) for cue in group]
    words = frequent_words((row["triggers"] for row in other_subset_rows), 400)
    return {"emotion cues": [*emotion, *GENERIC_CUES], "other subset's words": words}
