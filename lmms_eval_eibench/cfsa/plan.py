"""What CFSA asks: the general questions and focuses (from its templates), and the versions of the method and its
templates. What it costs is `settings.calls_per_sample`."""

from __future__ import annotations

from lmms_eval_eibench.prompts import render_block, template_blocks, template_version

__all__ = ["CFSA_VERSION", "TEMPLATES", "focuses", "general_questions", "prompt_versions"]

CFSA_VERSION = "1"  # the method's wiring (steps, rounds, parsing); each template carries its own version too
TEMPLATES = ("cfsa_rewrite", "cfsa_general", "cfsa_answer", "cfsa_focus", "cfsa_followup", "cfsa_summary")


def general_questions() -> list[tuple[str, str]]:
    """The fixed general questions `(name, text)`: the blocks of `cfsa_general.j2`, in file order."""
    return [(name, render_block("cfsa_general", name).strip()) for name in template_blocks("cfsa_general")]


def focuses() -> list[tuple[str, str]]:
    """What follow-up question i looks into `(name, text)`: the blocks of `cfsa_focus.j2`, in file order."""
    return [(name, render_block("cfsa_focus", name).strip()) for name in template_blocks("cfsa_focus")]


def prompt_versions() -> dict[str, str]:
    """Each CFSA template's version, by template name (recorded in every transcript)."""
    return {name: template_version(name) for name in TEMPLATES}
