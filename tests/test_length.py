"""Word counting and the word budget's cut (lmms_eval_eibench.scoring.length): pure, milliseconds."""

from __future__ import annotations

import math

import pytest

from lmms_eval_eibench.scoring.length import (
    SUGGESTED_WORD_BUDGET,
    answer_words,
    cut_to_words,
    mean_answer_words,
    parse_word_budget,
)
from lmms_eval_eibench.vocabulary import FAILED_PREFIX


@pytest.mark.parametrize("text, words", [
    ("1. A crowd, cheering.", 4),
    ("  a\n\tb  c \n", 3),
    ("one", 1),
    ("", 0),
    ("   ", 0),
    (None, 0),
    (f"{FAILED_PREFIX}: timeout]", 0),  # a generation failure counts as no words
])
def test_answer_words_counts_whitespace_separated_words_and_failures_as_zero(text, words):
    assert answer_words(text) == words


ZW = "\u200b"


@pytest.mark.parametrize("text, words", [
    (ZW.join(["joy", "tears", "crowd"]), 3),              # glued by a zero-width space (one "word" to str.split)
    ("joy,tears,crowd;hug.loss", 5),                      # a list joined by punctuation without spaces
    ("joy\u2060tears\u00adcrowd\ufeffhug", 4),           # word joiner, soft hyphen, BOM (all category Cf)
    ("joy_tears/crowd|hug", 4),
    ("ｊｏｙ ｔｅａｒｓ", 2),                              # full-width letters are letters
    ("cafe\u0301 naïve 3.5", 4),                          # a combining accent stays in its word
    ("don't self-esteem", 4),
    ("悲伤的人们", 5),                                    # ideographs: one word each
    ("😢😢😢 🎉", 4),                                      # pictographs: one word each
    ("-- ... !!! " + ZW * 40, 0),                         # nothing a reader would call a word
])
def test_words_are_letter_and_digit_runs_that_invisible_characters_and_punctuation_cannot_glue(text, words):
    assert answer_words(text) == words


def test_glued_words_are_cut_like_spaced_ones():
    words = [f"w{i}" for i in range(250)]
    for glue in (" ", ZW, ",", "\u2060"):
        text = glue.join(words)
        cut = cut_to_words(text, SUGGESTED_WORD_BUDGET)
        assert answer_words(cut) == SUGGESTED_WORD_BUDGET and cut.endswith("w99") and text.startswith(cut)
    # Punctuation or invisible characters after the last word add no word: the same string (verdict reused).
    text = "a b c." + ZW * 5
    assert cut_to_words(text, 3) is text


def test_mean_answer_words_counts_every_answer_and_failures_as_zero():
    assert mean_answer_words(["a b c", "", None, "d"]) == pytest.approx(1.0)
    assert math.isnan(mean_answer_words([]))


def test_the_cut_keeps_the_answer_verbatim_up_to_the_end_of_word_n():
    answer = "1. A crowd\n2. cheering,  loudly.\n3. A lost match"
    assert cut_to_words(answer, 4) == "1. A crowd\n2"  # the cut ends with word N: its punctuation is after it
    assert cut_to_words(answer, 5) == "1. A crowd\n2. cheering"
    assert answer_words(cut_to_words(answer, 7)) == 7
    assert cut_to_words("  lead space", 1) == "  lead"


@pytest.mark.parametrize("text", ["a b c", "a b c  \n", "", "a"])
def test_an_answer_within_budget_is_returned_unchanged_the_same_string(text):
    # The very same string: its judge request (and cache key) is the unbudgeted one, so no new request.
    assert cut_to_words(text, 3) is text
    assert answer_words(text) <= 3


def test_an_answer_over_budget_is_cut_and_not_within_budget():
    text = " ".join(f"w{i}" for i in range(250))
    cut = cut_to_words(text, SUGGESTED_WORD_BUDGET)
    assert answer_words(cut) == SUGGESTED_WORD_BUDGET and text.startswith(cut) and cut.endswith(" w99")
    assert answer_words(text) > SUGGESTED_WORD_BUDGET


def test_a_budget_below_one_word_is_refused():
    with pytest.raises(ValueError, match="positive whole number"):
        cut_to_words("a b", 0)


@pytest.mark.parametrize("value, budget", [(None, None), ("", None), ("  ", None), ("100", 100), (" 7 ", 7), (3, 3)])
def test_parse_word_budget_reads_unset_as_none_and_digits_as_words(value, budget):
    assert parse_word_budget(value, "EIBENCH_WORD_BUDGET") == budget


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "ten", "100w"])
def test_parse_word_budget_names_the_setting_and_the_fix(value):
    with pytest.raises(ValueError) as error:
        parse_word_budget(value, "EIBENCH_WORD_BUDGET")
    message = str(error.value)
    assert "EIBENCH_WORD_BUDGET" in message and repr(value) in message and "positive whole number" in message
