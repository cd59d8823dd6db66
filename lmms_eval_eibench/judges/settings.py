"""Judge settings (`JudgeSettings`): which judge, how it is tuned, read from EIBENCH_* variables and overrides."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from lmms_eval_eibench.judges.errors import JudgeConfigError
from lmms_eval_eibench.judges.protocols import PROTOCOLS
from lmms_eval_eibench.urls import check_base_url, public_url, same_endpoint

if TYPE_CHECKING:
    from lmms_eval_eibench.judges.identity import JudgeIdentity

__all__ = ["DEFAULT_MODELS", "DEFAULT_PROMPTS", "JUDGE_KINDS", "JUDGE_PROMPTS", "JudgeSettings", "UntrustedEndpoint"]

JUDGE_KINDS = ("openai", "hf", "embedding")
JUDGE_PROMPTS = ("paper", "paper_llama3", "structured")
# An LLM kind's defaults are the paper's judge of that kind (openai: the GPT judge, hf: the local Llama-3 judge)
_PAPER_JUDGE_OF_KIND = {protocol.kind: protocol for protocol in PROTOCOLS.values()}
DEFAULT_MODELS = {**{kind: p.model for kind, p in _PAPER_JUDGE_OF_KIND.items()}, "embedding": "all-MiniLM-L6-v2"}
DEFAULT_PROMPTS = {kind: p.prompt for kind, p in _PAPER_JUDGE_OF_KIND.items()}


class UntrustedEndpoint(JudgeConfigError):
    """A judge read back from a file names another endpoint than the one configured here: nothing is sent."""


def _env_float(env: Mapping[str, str], name: str) -> float | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise JudgeConfigError(f"{name}={value!r} is not a number") from None
    if not math.isfinite(number):
        raise JudgeConfigError(f"{name}={value!r} is not a finite number")
    return number


def _env_int(env: Mapping[str, str], name: str) -> int | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise JudgeConfigError(f"{name}={value!r} is not a whole number") from None


def _env_flag(env: Mapping[str, str], name: str) -> bool | None:
    """The boolean setting `name`, None when unset (so a keyword override or the default applies)."""
    from lmms_eval_eibench.config import env_flag

    if not env.get(name, "").strip():
        return None
    try:
        return env_flag(name, env=env)
    except ValueError as exc:
        raise JudgeConfigError(str(exc)) from None


@dataclass(frozen=True)
class JudgeSettings:
    """Everything that picks and tunes a judge. `api_key` is never shown in reprs or provenance.

    `model`/`prompt` None mean the kind's default (openai: gpt-3.5-turbo + paper prompt;
    hf: Meta-Llama-3-8B-Instruct + paper_llama3 prompt; embedding: all-MiniLM-L6-v2).
    """

    kind: str = "openai"
    model: str | None = None
    base_url: str = "https://api.openai.com/v1"
    api_key: str | None = field(default=None, repr=False, compare=False)
    prompt: str | None = None
    temperature: float = 0.0
    top_p: float | None = None
    max_tokens: int = 512
    concurrency: int = 16
    timeout: float = 60.0
    max_retries: int = 5
    parse_retries: int = 2
    batch_size: int | None = None
    device: str | None = None
    dtype: str | None = None
    threshold: float | None = None
    embedding_threads: int = 1
    trust_judge_total: bool = False
    cache: bool = True
    cache_dir: str | None = None
    progress: bool = True
    protocol: str | None = None
    """A judge protocol (`protocols.PROTOCOLS`: paper-gpt, paper-llama3) the settings were built from, or None."""

    def __post_init__(self) -> None:
        if self.kind not in JUDGE_KINDS:
            raise JudgeConfigError(f"judge kind {self.kind!r} (EIBENCH_JUDGE / --judge): use one of {', '.join(JUDGE_KINDS)}")
        if self.prompt is not None and self.prompt not in JUDGE_PROMPTS:
            raise JudgeConfigError(
                f"judge prompt {self.prompt!r} (EIBENCH_JUDGE_PROMPT / --prompt): use one of {', '.join(JUDGE_PROMPTS)}"
            )
        if self.concurrency < 1:
            raise JudgeConfigError(f"judge concurrency {self.concurrency} (EIBENCH_JUDGE_CONCURRENCY / --concurrency) must be >= 1")
        if not self.timeout > 0:
            raise JudgeConfigError(f"judge timeout {self.timeout} (EIBENCH_JUDGE_TIMEOUT / --timeout) must be > 0 seconds")
        if not 0 <= self.temperature <= 2:
            raise JudgeConfigError(f"judge temperature {self.temperature} (EIBENCH_JUDGE_TEMPERATURE) must be in [0, 2]")
        if self.max_tokens < 1:
            raise JudgeConfigError(f"judge max_tokens {self.max_tokens} must be >= 1")
        if self.max_retries < 0 or self.parse_retries < 0:
            raise JudgeConfigError("judge retry counts must be >= 0")
        if self.batch_size is not None and self.batch_size < 1:
            raise JudgeConfigError(f"judge batch size {self.batch_size} must be >= 1")
        if self.threshold is not None and not 0 < self.threshold <= 1:
            raise JudgeConfigError(
                f"embedding judge threshold {self.threshold} (EIBENCH_EMBEDDING_THRESHOLD) must be in (0, 1]"
            )
        if self.kind == "openai":
            check_base_url(self.base_url, "EIBENCH_JUDGE_BASE_URL / --base-url", "EIBENCH_JUDGE_API_KEY",
                           JudgeConfigError, secret=self.api_key)
        if self.embedding_threads < 1:
            raise JudgeConfigError(
                f"embedding judge threads {self.embedding_threads} (EIBENCH_EMBEDDING_THREADS) must be >= 1"
            )
        if self.protocol is not None:
            if self.protocol not in PROTOCOLS:
                raise JudgeConfigError(
                    f"judge protocol {self.protocol!r} (EIBENCH_JUDGE_PROTOCOL / --protocol): use one of "
                    f"{', '.join(PROTOCOLS)}"
                )
            if self.kind == "embedding":
                raise JudgeConfigError(
                    f"judge protocol {self.protocol} is an LLM judge; the embedding judge (EIBENCH_JUDGE / --judge "
                    "embedding) cannot follow it: drop one of the two"
                )
            protocol = PROTOCOLS[self.protocol]
            if self.kind == "hf" and protocol.kind == "openai" and self.model == protocol.model:
                # else the local judge would try to load the API model's name, and fail only at preflight
                raise JudgeConfigError(
                    f"judge protocol {self.protocol} judges with {protocol.model}, an API model: the local judge "
                    "(EIBENCH_JUDGE / --judge hf) cannot load it; also give a local chat model (EIBENCH_JUDGE_MODEL / "
                    "--judge-model), or use --protocol paper-llama3 (the paper's local judge)"
                )

    @property
    def protocol_differences(self) -> list[str]:
        """The settings of `protocol` that were overridden (by flags or variables) to other values."""
        if self.protocol is None:
            return []
        from lmms_eval_eibench.judges.protocols import protocol_differences

        effective = {"kind": self.kind, "model": self.resolved_model, "prompt": self.resolved_prompt,
                     "temperature": self.temperature, "top_p": self.top_p, "trust_judge_total": self.trust_judge_total}
        return protocol_differences(PROTOCOLS[self.protocol], effective)

    @property
    def protocol_label(self) -> str | None:
        """What provenance records: `paper-gpt`, `paper-gpt (overridden: temperature)`, or None."""
        if self.protocol is None:
            return None
        from lmms_eval_eibench.judges.protocols import protocol_label

        return protocol_label(self.protocol, self.protocol_differences)

    @property
    def resolved_model(self) -> str:
        return self.model or DEFAULT_MODELS[self.kind]

    @property
    def resolved_prompt(self) -> str:
        return self.prompt or DEFAULT_PROMPTS.get(self.kind, "paper")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> JudgeSettings:
        """Settings from EIBENCH_* environment variables; keyword overrides win unless None.

        EIBENCH_JUDGE, EIBENCH_JUDGE_MODEL, EIBENCH_JUDGE_BASE_URL, EIBENCH_JUDGE_API_KEY
        (else OPENAI_API_KEY), EIBENCH_JUDGE_PROMPT, EIBENCH_JUDGE_CONCURRENCY, EIBENCH_JUDGE_TIMEOUT,
        EIBENCH_JUDGE_TEMPERATURE, EIBENCH_JUDGE_TRUST_TOTAL, EIBENCH_EMBEDDING_THRESHOLD,
        EIBENCH_EMBEDDING_THREADS, EIBENCH_CACHE_DIR, EIBENCH_NO_CACHE. A bad value raises
        `JudgeConfigError` naming the variable.

        EIBENCH_JUDGE_PROTOCOL (or the `protocol` keyword: paper-gpt, paper-llama3) sets the paper judge's
        kind, model, prompt, decoding and trust_judge_total; explicit variables and keywords still win, and
        `protocol_label` then says which settings were overridden.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            "kind": env.get("EIBENCH_JUDGE", "").strip() or None,
            "model": env.get("EIBENCH_JUDGE_MODEL", "").strip() or None,
            "base_url": env.get("EIBENCH_JUDGE_BASE_URL", "").strip() or None,
            "api_key": (env.get("EIBENCH_JUDGE_API_KEY", "").strip() or env.get("OPENAI_API_KEY", "").strip() or None),
            "prompt": env.get("EIBENCH_JUDGE_PROMPT", "").strip() or None,
            "concurrency": _env_int(env, "EIBENCH_JUDGE_CONCURRENCY"),
            "timeout": _env_float(env, "EIBENCH_JUDGE_TIMEOUT"),
            "temperature": _env_float(env, "EIBENCH_JUDGE_TEMPERATURE"),
            "trust_judge_total": _env_flag(env, "EIBENCH_JUDGE_TRUST_TOTAL"),
            "threshold": _env_float(env, "EIBENCH_EMBEDDING_THRESHOLD"),
            "embedding_threads": _env_int(env, "EIBENCH_EMBEDDING_THREADS"),
            "cache_dir": env.get("EIBENCH_CACHE_DIR", "").strip() or None,
        }
        no_cache = _env_flag(env, "EIBENCH_NO_CACHE")
        if no_cache is not None:
            values["cache"] = not no_cache
        known = {f.name for f in fields(cls)}
        for key, value in overrides.items():
            if key not in known:
                raise TypeError(f"JudgeSettings has no setting {key!r}")
            if value is not None:
                values[key] = value
        protocol = values.get("protocol") or env.get("EIBENCH_JUDGE_PROTOCOL", "").strip() or None
        if protocol is not None:
            if protocol not in PROTOCOLS:
                raise JudgeConfigError(
                    f"EIBENCH_JUDGE_PROTOCOL / --protocol {protocol!r}: use one of {', '.join(PROTOCOLS)}"
                )
            # the protocol fills in what was not set explicitly (a variable or keyword still wins)
            values = {**PROTOCOLS[protocol].settings(), **{k: v for k, v in values.items() if v is not None},
                      "protocol": protocol}
        return cls(**{k: v for k, v in values.items() if v is not None})

    @classmethod
    def reproducing(cls, identity: JudgeIdentity, env: Mapping[str, str] | None = None,
                    **overrides: Any) -> JudgeSettings:
        """The settings that judge as ``identity`` (a judge read back from a file: a provenance record), over the
        environment's key, cache and endpoint; ``overrides`` as in ``from_env`` (never ``base_url``).

        The rule of every route that rebuilds a judge from a file: the file chooses the judge (kind, model,
        prompt, decoding, reading settings), never where the user's key goes. The endpoint is the configured one
        (``EIBENCH_JUDGE_BASE_URL``, else the openai judge's default), and when the recorded endpoint is another,
        ``UntrustedEndpoint`` is raised naming both, before any request."""
        decoding = dict(identity.decoding or ())
        settings = cls.from_env(
            env,
            kind=identity.kind,
            model=identity.model,
            prompt=None if identity.kind == "embedding" else identity.prompt,
            temperature=decoding.get("temperature"),
            top_p=decoding.get("top_p"),
            max_tokens=decoding.get("max_tokens"),
            dtype=identity.dtype,
            threshold=identity.threshold,
            trust_judge_total=identity.trust_judge_total,
            **overrides,
        )
        recorded = identity.endpoint
        if settings.kind == "openai" and recorded is not None and not same_endpoint(
                recorded, public_url(settings.base_url, settings.api_key)):
            configured = public_url(settings.base_url, settings.api_key)
            given = (env if env is not None else os.environ).get("EIBENCH_JUDGE_BASE_URL", "").strip()
            where = "EIBENCH_JUDGE_BASE_URL" if given else "the openai judge's default: EIBENCH_JUDGE_BASE_URL is unset"
            raise UntrustedEndpoint(
                f"the judge was recorded at {recorded}, and the judge endpoint configured here is {configured} "
                f"({where}). A results file never chooses where your API key (EIBENCH_JUDGE_API_KEY / "
                f"OPENAI_API_KEY) is sent, so nothing was sent; if you trust {recorded} with your key, set "
                f"EIBENCH_JUDGE_BASE_URL={recorded} and run again")
        return settings
