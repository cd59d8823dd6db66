"""Prompt templates: versions, strict rendering, and the paper judge's exact bytes."""

from __future__ import annotations

import pytest

from lmms_eval_eibench import prompts

# Typed from ../shared/eibench/README.md ("How the published numbers were scored").
PAPER_SYSTEM = (
    "You are a helpful and precise assistant for checking the quality of the answer. "
    "Only say the content user wanted."
)
PAPER_USER = (
    "Your task is to assess a record aimed at comprehension an emotion and compare it against the truth label. "
    "Determine the number of potential triggers identified correctly versus those missed. "
    "Please provide your assessment in the format: {score: correct/total}, e.g. {score: 2/5} for 2 correct "
    "and 5 in total from Ground Truth. And include an explanation of your assessment. The record is below:"
    "\n\nRecord of comprehension:\n{answer}. Here is the ground truth label:\n\nGround Truth:\n{ground_truth}"
    "\n\nYour Assessment:"
)
PAPER_USER_LLAMA3 = PAPER_USER.replace("comprehension an emotion", "comprehend an emotion").replace(
    " from Ground Truth.", "."
)

ANSWER = "The man is angry because {his car} was towed.\n\nAlso: he is late. "
GROUND_TRUTH = "1. His car was towed.\n2. He is late for work.\n3. It is raining."


@pytest.mark.parametrize(
    ("name", "user"), [("judge_paper", PAPER_USER), ("judge_paper_llama3", PAPER_USER_LLAMA3)]
)
def test_paper_judge_messages_are_byte_for_byte(name: str, user: str) -> None:
    assert prompts.render_block(name, "system") == PAPER_SYSTEM
    rendered = prompts.render_block(name, "user", answer=ANSWER, ground_truth=GROUND_TRUTH)
    expected = user.replace("{answer}", ANSWER).replace("{ground_truth}", GROUND_TRUTH)
    assert rendered.encode("utf-8") == expected.encode("utf-8")


def test_llama3_wording_differs_only_where_the_official_script_does() -> None:
    assert PAPER_USER_LLAMA3 != PAPER_USER
    assert "comprehend an emotion" in PAPER_USER_LLAMA3
    assert "from Ground Truth" not in PAPER_USER_LLAMA3


def test_every_template_declares_a_version() -> None:
    names = prompts.template_names()
    assert {"judge_paper", "judge_paper_llama3", "judge_structured"} <= set(names)
    for name in names:
        assert prompts.template_version(name)
    assert prompts.template_version("judge_paper.j2") == prompts.template_version("judge_paper")


def test_missing_variable_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(prompts.TemplateError, match="answer"):
        prompts.render_block("judge_paper", "user", ground_truth=GROUND_TRUTH)


def test_unknown_template_and_block_name_the_problem() -> None:
    with pytest.raises(prompts.TemplateError, match="no prompt template 'nope.j2'"):
        prompts.render("nope")
    with pytest.raises(prompts.TemplateError, match="has no block 'assistant'"):
        prompts.render_block("judge_paper", "assistant")


def test_template_without_version_is_rejected(tmp_path, monkeypatch) -> None:
    (tmp_path / "unversioned.j2").write_text("Hello {{ name }}\n", encoding="utf-8")
    monkeypatch.setattr(prompts, "PROMPTS_DIR", tmp_path)
    prompts.template_version.cache_clear()
    try:
        with pytest.raises(prompts.TemplateError, match="must declare the template's version"):
            prompts.template_version("unversioned")
    finally:
        prompts.template_version.cache_clear()


def test_structured_template_numbers_the_triggers_and_delimits_the_answer() -> None:
    triggers = ["His car was towed.", "He is late for work."]
    system = prompts.render_block("judge_structured", "system")
    user = prompts.render_block("judge_structured", "user", answer=ANSWER, triggers=triggers)
    assert "JSON" in system
    assert "1. His car was towed." in user and "2. He is late for work." in user
    assert ANSWER in user
    # The answer is fenced by markers that are not the trigger list's.
    before, _, after = user.partition(ANSWER)
    assert "<answer>" in before and "</answer>" in after
