"""Judge protocols: the paper's two judges as one word each (``paper-gpt``, ``paper-llama3``).

A protocol is a set of judge settings (kind, model, prompt wording, decoding, how recall is read) that the
paper's published numbers were scored with (see ``eibench/README.md``, "How the published numbers were
scored"). ``JudgeSettings.from_env`` applies one under explicit flags and variables; a record or settings object
*follows* a protocol only while its effective settings still equal the protocol's. Pure data and functions:
cheap to import, no environment reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["PROTOCOLS", "Protocol", "protocol_differences", "protocol_label", "record_protocol"]


@dataclass(frozen=True)
class Protocol:
    """One paper judge, as JudgeSettings values. ``paper_judge`` is its key in ``published/paper_tables.json``."""

    name: str
    paper_judge: str
    kind: str
    model: str
    prompt: str
    temperature: float
    top_p: float | None
    trust_judge_total: bool

    def settings(self) -> dict[str, Any]:
        """The JudgeSettings fields this protocol sets."""
        return {
            "kind": self.kind,
            "model": self.model,
            "prompt": self.prompt,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "trust_judge_total": self.trust_judge_total,
        }


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol(
            name="paper-gpt",
            paper_judge="gpt",
            kind="openai",
            model="gpt-3.5-turbo",
            prompt="paper",
            temperature=0.1,
            top_p=None,
            trust_judge_total=True,
        ),
        Protocol(
            name="paper-llama3",
            paper_judge="llama3",
            kind="hf",
            model="meta-llama/Meta-Llama-3-8B-Instruct",
            prompt="paper_llama3",
            temperature=0.1,
            top_p=0.9,
            trust_judge_total=True,
        ),
    )
}


def protocol_differences(protocol: Protocol, effective: Mapping[str, Any]) -> list[str]:
    """The protocol settings whose effective value differs (names of JudgeSettings fields, in a fixed order)."""
    wanted = protocol.settings()
    return [name for name in wanted if effective.get(name) != wanted[name]]


def protocol_label(name: str, differences: list[str]) -> str:
    """``paper-gpt``, or ``paper-gpt (overridden: temperature)`` when some settings no longer follow it."""
    return name if not differences else f"{name} (overridden: {', '.join(differences)})"


def record_protocol(record: Mapping[str, Any] | None) -> tuple[str | None, Protocol | None, list[str]]:
    """(recorded label, nearest protocol, its differences) for a provenance record.

    The match is by the judge's effective settings, not by the recorded name: a run judged with explicit
    settings equal to ``paper-gpt`` follows it too. The nearest protocol is the one with the fewest
    differences (ties: the one named in the record, else the first); no record gives ``(None, None, [])``.
    """
    if record is None:
        return None, None, []
    from lmms_eval_eibench.judges.identity import JudgeIdentity

    recorded = (record.get("judge") or {}).get("protocol")
    effective = JudgeIdentity.from_record(record).protocol_settings()
    named = recorded.split(" ", 1)[0] if isinstance(recorded, str) else None
    ranked = sorted(
        PROTOCOLS.values(),
        key=lambda p: (len(protocol_differences(p, effective)), p.name != named),
    )
    nearest = ranked[0]
    return (recorded if isinstance(recorded, str) else None), nearest, protocol_differences(nearest, effective)
