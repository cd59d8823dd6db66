"""The judge's identity (`JudgeIdentity`): every setting that decides a verdict, in one frozen value.

A judge builds one (`Judge.identity()`); a provenance record is read back into one (`from_record`). Everything
else is derived from it, so a new verdict-changing setting is added here, once:

- `reply_fields()`: what determines the judge's *reply* (kind, model, endpoint, prompt template + version,
  decoding, dtype): the part hashed into the cache key (`judges.cache`);
- `summary()`: the flat `"judge"` member of `eibench score --json` and `eibench judge-check --json`;
- `provenance_fields()`: the `judge_*` arguments of `provenance.build_provenance` (the record's `judge`);
- `protocol_settings()`: the judge in `protocols` terms (JudgeSettings field names);
- `comparable()`, `label()`, `title()`: what must match for two recalls to be comparable, and how it is shown.

Settings that change how a reply is *read* (`trust_judge_total`, `parser_version`, `threshold`) are part of the
identity but never of the cache key: changing them costs no request. The protocol is a name for settings already
recorded (provenance, never the key). No secret is a field: the endpoint is stored without user info or query.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lmms_eval_eibench.urls import public_url

__all__ = ["JudgeIdentity"]

Pairs = tuple[tuple[str, Any], ...]

# The reading settings, in the order the summary lists them; record options holding another key come from another
# eibench version and are kept as they are (`other_options`).
_READING = ("trust_judge_total", "parser_version", "threshold")
_TEMPLATE_PREFIX = "judge_"  # LLM judge prompts are Jinja templates judge_<prompt>.j2


@dataclass(frozen=True)
class JudgeIdentity:
    """One judge's verdict-deciding settings. `decoding` keeps the judge's own order (the summary is written
    unsorted); None means not known (replies judged elsewhere: `eibench score --from-verdicts`)."""

    kind: str
    model: str
    template: str  # judge_paper, judge_structured, ..., or embedding_coverage
    version: str  # the template's declared version (the embedding judge: its method version)
    decoding: Pairs | None = ()
    endpoint: str | None = None  # the OpenAI-compatible judge's base URL, credentials stripped
    dtype: str | None = None  # the local judge's weights dtype ("auto" when chosen by device)
    trust_judge_total: bool | None = None
    parser_version: str | None = None
    threshold: float | None = None
    other_options: Pairs = ()
    protocol: str | None = None  # paper-gpt, "paper-gpt (overridden: temperature)", or None
    metric: str | None = None
    source: str | None = None  # the file of saved replies (`--from-verdicts`)

    def __post_init__(self) -> None:
        if self.decoding is not None:
            object.__setattr__(self, "decoding", tuple((str(k), v) for k, v in dict(self.decoding).items()))
        object.__setattr__(self, "other_options", tuple((str(k), v) for k, v in dict(self.other_options).items()))
        if self.endpoint is not None:
            object.__setattr__(self, "endpoint", public_url(self.endpoint))

    # -- names ------------------------------------------------------------------------------------------

    @property
    def prompt(self) -> str:
        """The prompt's short name: `paper` for judge_paper (the embedding judge: its method)."""
        return self.template.removeprefix(_TEMPLATE_PREFIX)

    @property
    def template_file(self) -> str:
        return f"{self.template}.j2" if self.template.startswith(_TEMPLATE_PREFIX) else self.template

    # -- derived shapes ---------------------------------------------------------------------------------

    def reply_fields(self) -> dict[str, Any]:
        """What determines the reply (the cache key's judge part); no reading setting, no protocol name."""
        out: dict[str, Any] = {"judge": self.kind, "model": self.model}
        if self.endpoint is not None:
            # the same model name on two servers may be two different models: they must not share replies
            out["base_url"] = self.endpoint
        out.update(prompt=self.prompt, prompt_template=self.template_file, prompt_version=self.version)
        if self.decoding is not None:
            out["decoding"] = dict(self.decoding)
        if self.dtype is not None:
            out["dtype"] = self.dtype
        return out

    def options(self) -> dict[str, Any]:
        """The verdict-affecting settings that are not decoding (the record's `judge.options`)."""
        out = {"dtype": self.dtype} if self.dtype is not None else {}
        out.update({name: getattr(self, name) for name in _READING if getattr(self, name) is not None})
        out.update(self.other_options)
        return out

    def summary(self) -> dict[str, Any]:
        """The flat `"judge"` member of `eibench score --json` (key order as written)."""
        out = {"metric": self.metric} if self.metric is not None else {}
        out.update(self.reply_fields())
        out.update({name: getattr(self, name) for name in _READING if getattr(self, name) is not None})
        out.update(self.other_options)
        if self.protocol is not None:
            out["protocol"] = self.protocol
        if self.source is not None:
            out["source"] = self.source
        return out

    def provenance_fields(self) -> dict[str, Any]:
        """The `judge_*` keyword arguments of `provenance.build_provenance`."""
        return {
            "judge_kind": self.kind,
            "judge_model": self.model,
            "judge_prompt": self.template,
            "judge_prompt_version": self.version,
            "judge_decoding": dict(self.decoding or ()),
            "judge_options": self.options() or None,
            "judge_endpoint": self.endpoint,
            "judge_protocol": self.protocol,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> JudgeIdentity:
        """The identity in a provenance record's `judge` member (what `provenance_fields` wrote)."""
        judge = record.get("judge") or {}
        prompt = judge.get("prompt") or {}
        options = dict(judge.get("options") or {})
        reading = {name: options.pop(name) for name in _READING if name in options}
        return cls(
            kind=judge.get("kind"),
            model=judge.get("model"),
            template=prompt.get("template") or "",
            version=str(prompt.get("version")),
            decoding=tuple((judge.get("decoding") or {}).items()),
            endpoint=judge.get("endpoint"),
            dtype=options.pop("dtype", None),
            other_options=tuple(options.items()),
            protocol=judge.get("protocol"),
            **reading,
        )

    def protocol_settings(self) -> dict[str, Any]:
        """The judge in protocol terms (JudgeSettings field names; `protocols.protocol_differences` compares)."""
        decoding = dict(self.decoding or ())
        return {
            "kind": self.kind,
            "model": self.model,
            "prompt": self.prompt,
            "temperature": decoding.get("temperature"),
            "top_p": decoding.get("top_p"),
            "trust_judge_total": bool(self.trust_judge_total or False),
        }

    # -- comparing and showing ------------------------------------------------------------------------

    def _settings(self) -> dict[str, Any]:
        # decoding and the other verdict-affecting options together (a decoding value wins a name clash)
        return {**self.options(), **dict(self.decoding or ())}

    def comparable(self) -> tuple[str, str, str, str, str]:
        """What must match for two recalls to be comparable: kind, model, template, version, and the settings
        (decoding and options, as canonical JSON). The endpoint is left out on purpose: the same model behind
        another URL judges the same way."""
        settings = json.dumps(self._settings(), sort_keys=True, separators=(",", ":"))
        return (self.kind, self.model, self.template, str(self.version), settings)

    def title(self) -> str:
        """The one-line name commands print: `openai:gpt-3.5-turbo, judge_paper v1 (protocol paper-gpt)`."""
        name = f"{self.kind}:{self.model}, {self.template} v{self.version}"
        return name + (f" (protocol {self.protocol})" if self.protocol else "")

    def label(self) -> str:
        """The label reports show: `openai:gpt-3.5-turbo, judge_paper v1, temperature=0.1` (every setting)."""
        settings = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(self._settings().items()))
        return f"{self.kind}:{self.model}, {self.template} v{self.version}" + (f", {settings}" if settings else "")
