"""EIBench's caption-only text tasks for EleutherAI's lm-evaluation-harness (``lm-eval --include_path``)."""

from pathlib import Path


def folder() -> Path:
    """The folder to pass to ``lm-eval --include_path``."""
    return Path(__file__).resolve().parent / "eibench"
