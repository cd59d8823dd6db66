"""EIBench judges behind one interface.

    settings = JudgeSettings.from_env(kind="openai")      # EIBENCH_* variables + overrides
    engine = build_engine(settings)
    engine.preflight()                                    # before any GPU hour is spent
    verdicts = engine.judge_many(items)                   # concurrent, cached, retried, ordered
    engine.metric_name, engine.identity      # JudgeIdentity: cache key, provenance, label

Kinds: `openai` (any OpenAI-compatible endpoint), `hf` (a local transformers chat model),
`embedding` (offline sentence-embedding coverage; metric `eibench_semantic_recall`).
Importing this package is cheap: httpx, torch and transformers load on first use.
"""

from __future__ import annotations

from lmms_eval_eibench.judges.base import Judge, JudgeItem, LLMJudge, Verdict
from lmms_eval_eibench.judges.errors import JudgeConfigError, JudgeError, PreflightError
from lmms_eval_eibench.judges.identity import JudgeIdentity
from lmms_eval_eibench.judges.runner import JudgeEngine
from lmms_eval_eibench.judges.settings import JUDGE_KINDS, JUDGE_PROMPTS, JudgeSettings

__all__ = [
    "JUDGE_KINDS",
    "JUDGE_PROMPTS",
    "Judge",
    "JudgeConfigError",
    "JudgeEngine",
    "JudgeError",
    "JudgeIdentity",
    "JudgeItem",
    "JudgeSettings",
    "LLMJudge",
    "PreflightError",
    "Verdict",
    "build_engine",
    "build_judge",
]


def build_judge(settings: JudgeSettings) -> Judge:
    """The bare judge of `settings.kind` (no cache, no engine)."""
    if settings.kind == "openai":
        from lmms_eval_eibench.judges.openai import OpenAIJudge

        return OpenAIJudge(settings)
    if settings.kind == "hf":
        from lmms_eval_eibench.judges.hf import HFJudge

        return HFJudge(settings)
    if settings.kind == "embedding":
        from lmms_eval_eibench.judges.embedding import EmbeddingJudge

        return EmbeddingJudge(settings)
    raise JudgeConfigError(f"unknown judge kind {settings.kind!r}; use one of {', '.join(JUDGE_KINDS)}")


def build_engine(settings: JudgeSettings | None = None, *, offline: bool = False) -> JudgeEngine:
    """A ready engine: the judge of `settings` (default: from the environment) plus its verdict cache.
    `offline`: read verdicts from cached replies only, never ask the judge (needs the cache)."""
    from lmms_eval_eibench.judges.cache import ReplyCache

    settings = settings or JudgeSettings.from_env()
    if offline and not settings.cache:
        raise JudgeConfigError("scoring from the cache alone needs the verdict cache (drop --no-cache / EIBENCH_NO_CACHE)")
    cache = ReplyCache(settings.cache_dir) if settings.cache else None
    return JudgeEngine(build_judge(settings), cache, progress=settings.progress, offline=offline)
