"""What CFSA asks and what it costs: the general questions and focuses (from its templates), the calls per
sample, and the versions of the method and its templates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lmms_eval_eibench.prompts import render_block, template_blocks, template_version

if TYPE_CHECKING:  # settings imports this module
    from lmms_eval_eibench.cfsa.settings import CFSASettings

__all__ = ["CFSA_VERSION", "TEMPLATES", "calls_per_sample", "focuses", "general_questions", "prompt_versions"]

CFSA_VERSION = "1"  # the method's wiring (steps, rounds, parsing); each template carries its own version too
TEMPLATES = ("cfsa_rewrite", "cfsa_general", "cfsa_answer", "cfsa_focus", "cfsa_followup", "cfsa_summary")


def general_questions() -> list[tuple[str, str]]:
    """The fixed general questions `(name, text)`: the blocks of `cfsa_general.j2`, in file order."""
    return [(name, render_block("cfsa_general", name).strip()) for name in template_blocks("cfsa_general")]


def focuses() -> list[tuple[str, str]]:
    """What follow-up question i looks into `(name, text)`: the blocks of `cfsa_focus.j2`, in file order."""
    return [(name, render_block("cfsa_focus", name).strip()) for name in template_blocks("cfsa_focus")]


def calls_per_sample(settings: CFSASettings) -> dict[str, int]:
    """Calls one sample costs when nothing fails: base-model requests, summarizer requests, base-model rounds.

    base = 1 (rewrite) + G (general) + K (follow-up questions) + K (their answers) + 1 (summary, if the base
    model summarizes); summarizer = 1 when an OpenAI-compatible LLM summarizes. A failed sample stops early.
    """
    g, k = len(general_questions()), settings.scenario_questions
    by_base = settings.summarizer == "base"
    return {
        "base": 1 + g + 2 * k + (1 if by_base else 0),
        "summarizer": 0 if by_base else 1,
        "base_rounds": 1 + (2 if k else 0) + (1 if by_base else 0),
    }


def prompt_versions() -> dict[str, str]:
    """Each CFSA template's version, by template name (recorded in every transcript)."""
    return {name: template_version(name) for name in TEMPLATES}
