"""CFSA's settings (`CFSASettings`): the `cfsa_*` model args, their conversion and validation (`CFSAConfigError`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from lmms_eval_eibench.cfsa.plan import focuses, general_questions
from lmms_eval_eibench.config import env_flag
from lmms_eval_eibench.urls import check_base_url, public_url

__all__ = ["API_KEY_ENV", "SETTING_PREFIX", "CFSAConfigError", "CFSASettings", "calls_per_sample"]

API_KEY_ENV = "EIBENCH_CFSA_API_KEY"
SETTING_PREFIX = "cfsa_"


class CFSAConfigError(ValueError):
    """A CFSA setting is wrong or missing; the message names the setting and how to fix it."""


def _flag(value: Any, name: str) -> bool:
    """A boolean model arg, in the same words as the boolean environment settings (`config.env_flag`)."""
    if isinstance(value, bool):
        return value
    setting = f"{SETTING_PREFIX}{name}"
    try:
        if str(value).strip():
            return env_flag(setting, env={setting: str(value)})
    except ValueError:
        pass
    raise CFSAConfigError(f"{setting}={value!r}: expected true or false")


@dataclass(frozen=True)
class CFSASettings:
    """CFSA's own settings, given in `--model_args` with the `cfsa_` prefix (e.g. `cfsa_scenario_questions=2`).

    The summarizer's API key is never a setting (model args are written into results files): it is read from
    the environment variable named by `summarizer_api_key_env` (default `EIBENCH_CFSA_API_KEY`, falling back
    to `OPENAI_API_KEY`).
    """

    scenario_questions: int = 3
    round_max_new_tokens: int = 256
    summarizer: str = "base"
    summarizer_model: str | None = None
    summarizer_base_url: str | None = None
    summarizer_api_key_env: str = API_KEY_ENV
    summarizer_max_tokens: int = 1024
    summarizer_temperature: float = 0.0
    summarizer_timeout: float = 120.0
    summarizer_concurrency: int = 4
    summarizer_retries: int = 3
    on_failure: str = "mark"
    base_force_simple: bool = False

    def __post_init__(self) -> None:
        max_k = len(focuses())
        if not 0 <= self.scenario_questions <= max_k:
            raise CFSAConfigError(
                f"{SETTING_PREFIX}scenario_questions={self.scenario_questions}: must be 0 to {max_k} "
                f"(one per focus block of prompts/cfsa_focus.j2)"
            )
        for name in ("round_max_new_tokens", "summarizer_max_tokens", "summarizer_concurrency"):
            if getattr(self, name) < 1:
                raise CFSAConfigError(f"{SETTING_PREFIX}{name}={getattr(self, name)}: must be at least 1")
        if self.summarizer_retries < 0 or self.summarizer_timeout <= 0:
            raise CFSAConfigError(
                f"{SETTING_PREFIX}summarizer_retries must be >= 0 and {SETTING_PREFIX}summarizer_timeout > 0"
            )
        if self.summarizer not in ("base", "openai"):
            raise CFSAConfigError(
                f"{SETTING_PREFIX}summarizer={self.summarizer!r}: use 'base' (the wrapped model writes the "
                f"summary, default) or 'openai' (an OpenAI-compatible LLM: also set {SETTING_PREFIX}summarizer_model "
                f"and {SETTING_PREFIX}summarizer_base_url)"
            )
        if self.summarizer == "openai":
            missing = [n for n in ("summarizer_model", "summarizer_base_url") if not getattr(self, n)]
            if missing:
                raise CFSAConfigError(
                    f"{SETTING_PREFIX}summarizer=openai needs "
                    + " and ".join(f"{SETTING_PREFIX}{n}" for n in missing)
                    + " (e.g. cfsa_summarizer_model=gpt-4o-mini,cfsa_summarizer_base_url=https://api.openai.com/v1)"
                )
            check_base_url(self.summarizer_base_url, f"{SETTING_PREFIX}summarizer_base_url",
                           f"{SETTING_PREFIX}summarizer_api_key_env's variable ({self.summarizer_api_key_env})",
                           CFSAConfigError)
        if self.on_failure not in ("mark", "raise"):
            raise CFSAConfigError(
                f"{SETTING_PREFIX}on_failure={self.on_failure!r}: use 'mark' (a failed sample's response says it "
                f"failed, the run goes on) or 'raise' (the run stops)"
            )

    @classmethod
    def from_model_args(cls, model_args: Mapping[str, Any]) -> tuple[CFSASettings, dict[str, Any]]:
        """Split `--model_args` into CFSA settings (`cfsa_*`) and the base model's arguments (everything else)."""
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        base_args: dict[str, Any] = {}
        for key, value in model_args.items():
            if not key.startswith(SETTING_PREFIX):
                base_args[key] = value
                continue
            name = key[len(SETTING_PREFIX):]
            if name in ("summarizer_api_key", "api_key"):
                # Model args are copied into results files and logs: a key there would leak.
                raise CFSAConfigError(
                    f"{key} is not accepted in --model_args (they are written into results files); put the key "
                    f"in the environment variable {API_KEY_ENV} (or name another with "
                    f"{SETTING_PREFIX}summarizer_api_key_env)"
                )
            if name not in known:
                raise CFSAConfigError(
                    f"unknown CFSA setting {key!r}; known: " + ", ".join(SETTING_PREFIX + n for n in known)
                )
            values[name] = _convert(name, value, known[name].type)
        return cls(**values), base_args

    def summarizer_identity(self) -> str:
        if self.summarizer == "base":
            return "base"
        return f"openai:{self.summarizer_model}@{public_url(self.summarizer_base_url or '')}"


def _convert(name: str, value: Any, annotation: Any) -> Any:
    """A model arg as its setting's type (`annotation` is the field's type as a string: postponed annotations)."""
    kind = str(annotation)
    if kind == "bool":
        return _flag(value, name)
    try:
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind == "float":
            return float(value)
    except (TypeError, ValueError):
        raise CFSAConfigError(f"{SETTING_PREFIX}{name}={value!r}: expected {kind}") from None
    return None if value is None else str(value)


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
