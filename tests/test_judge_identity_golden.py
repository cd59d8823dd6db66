"""Golden: a judge's identity, as the cache key, the provenance record, the summary `eibench score --json` writes
under "judge" and the labels, for each judge kind and the paper's protocols. The fixture was recorded from the
code before `JudgeIdentity` replaced the per-judge dicts and translators: any byte that moves here would orphan
every cached reply or change a results file. Rewrite the fixture only for a deliberate change:
`EIBENCH_WRITE_GOLDEN=1 pytest tests/test_judge_identity_golden.py`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_eibench import __version__
from lmms_eval_eibench.judges import (
    JudgeIdentity,
    JudgeItem,
    JudgeSettings,
    build_engine,
)

FIXTURE = Path(__file__).parent / "fixtures" / "judge_identity_golden.json"
SECRET = "sk-golden-SECRET-never-recorded"
ITEM = JudgeItem("user/image.jpg#1", "She is happy because of the gift.", "The gift made her happy.",
                 ("the gift", "her friend came"), "Happiness")

# name -> JudgeSettings keywords (every judge kind, non-default decoding, the paper's protocols, an override)
CASES: dict[str, dict[str, Any]] = {
    "openai": {"kind": "openai", "model": "judge-model", "base_url": "http://127.0.0.1:9/v1"},
    "openai_top_p_structured": {"kind": "openai", "model": "judge-model", "base_url": "https://judge.example:8443/v1",
                                "top_p": 0.5, "temperature": 0.3, "max_tokens": 256, "prompt": "structured",
                                "trust_judge_total": True},
    "hf": {"kind": "hf", "model": "local/llama"},
    "hf_sampling_bf16": {"kind": "hf", "model": "local/llama", "temperature": 0.7, "dtype": "bfloat16"},
    "embedding": {"kind": "embedding"},
    "embedding_threshold": {"kind": "embedding", "threshold": 0.61, "model": "other/minilm"},
    "paper-gpt": {"protocol": "paper-gpt"},
    "paper-gpt_overridden": {"protocol": "paper-gpt", "temperature": 0.0},
    "paper-llama3": {"protocol": "paper-llama3"},
    "paper-llama3_other_model": {"protocol": "paper-llama3", "model": "local/llama", "top_p": 0.8},
}


def _dumps(value: Any) -> str:
    """Key order kept: `eibench score --json` writes the summary unsorted."""
    return json.dumps(value, ensure_ascii=False)


def _record_facts(record: dict[str, Any]) -> dict[str, Any]:
    from lmms_eval_eibench.judges.protocols import record_protocol
    from lmms_eval_eibench.provenance import (
        check_provenance,
        judge_comparison_terms,
        judge_label,
    )

    record = json.loads(json.dumps(record))
    assert record["plugin"]["version"] == __version__
    record["plugin"]["version"] = "<plugin version>"
    recorded, nearest, differences = record_protocol(record)
    check_provenance(json.loads(json.dumps(record)))
    return {
        "record": _dumps(record),
        "comparable": list(judge_comparison_terms(record)),
        "label": judge_label(record),
        "protocol": [recorded, nearest.name if nearest else None, differences],
    }


def _observe_engine(settings: JudgeSettings) -> dict[str, Any]:
    from lmms_eval_eibench import pipeline
    from lmms_eval_eibench.judges.cache import reply_key

    with build_engine(settings) as engine:
        identity = engine.identity
        summary = engine.summary()
        facts = {
            "reply_fields": _dumps(identity.reply_fields()),
            "verdict_key": reply_key(identity.reply_fields(), ITEM),  # the fixture's name from before the rename
            "summary": _dumps(summary),
            "check_name": identity.title(),
            "protocol_label": settings.protocol_label,
        }
        record = pipeline.provenance_record(identity, from_dataset=False)
    _round_trip(identity, record)
    return {**facts, **_record_facts(record)}


def _round_trip(identity: JudgeIdentity, record: dict[str, Any]) -> None:
    """The identity read back from its record compares, labels and follows protocols as the judge's own does."""
    back = JudgeIdentity.from_record(record)
    assert back.comparable() == identity.comparable()
    assert back.label() == identity.label()
    assert back.protocol_settings() == identity.protocol_settings()
    assert back.provenance_fields() == {**identity.provenance_fields(),
                                        "judge_decoding": dict(sorted(identity.provenance_fields()["judge_decoding"].items()))}


def _observe_saved_replies(settings: JudgeSettings) -> dict[str, Any]:
    """`eibench score --from-verdicts`: replies saved elsewhere, read with our parser (no cache, no engine)."""
    from lmms_eval_eibench import pipeline, prompts

    template = f"judge_{settings.prompt or 'paper'}"
    identity = JudgeIdentity(kind="saved-replies", model=settings.model or "unknown", template=template,
                             version=prompts.template_version(template), decoding=None,
                             trust_judge_total=settings.trust_judge_total, source="replies.jsonl")
    record = pipeline.provenance_record(identity, from_dataset=False)
    return {"summary": _dumps(identity.summary()), **_record_facts(record)}


def observe(tmp_path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, keywords in CASES.items():
        for cache in (True, False):
            settings = JudgeSettings.from_env({}, api_key=SECRET, cache=cache, cache_dir=str(tmp_path / "cache"),
                                              progress=False, **keywords)
            out[f"{name}{'' if cache else '_nocache'}"] = _observe_engine(settings)
    out["saved-replies"] = _observe_saved_replies(JudgeSettings.from_env({}, cache=False))
    out["saved-replies_protocol"] = _observe_saved_replies(
        JudgeSettings.from_env({}, cache=False, protocol="paper-gpt", prompt="structured"))
    return out


def test_judge_identity_matches_the_recorded_golden(tmp_path):
    observed = observe(tmp_path)
    assert SECRET not in json.dumps(observed)
    if os.environ.get("EIBENCH_WRITE_GOLDEN"):
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_text(json.dumps(observed, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    golden = json.loads(FIXTURE.read_text())
    assert sorted(observed) == sorted(golden)
    for case in golden:
        assert observed[case] == golden[case], case


def test_the_golden_covers_every_kind_and_protocol():
    """The fixture is not vacuous: each kind and protocol is there, with distinct cache keys."""
    from lmms_eval_eibench.judges import JUDGE_KINDS
    from lmms_eval_eibench.judges.protocols import PROTOCOLS

    golden = json.loads(FIXTURE.read_text())
    kinds = {json.loads(case["summary"]).get("judge") for case in golden.values()}
    assert set(JUDGE_KINDS) | {"saved-replies"} <= kinds
    assert {json.loads(case["record"])["judge"].get("protocol", "").split(" ")[0] for case in golden.values()} >= set(PROTOCOLS)
    keys = {case["verdict_key"] for name, case in golden.items() if "verdict_key" in case and "nocache" not in name}
    assert len(keys) == len(CASES)
    for case in golden.values():
        assert len(case.get("verdict_key", "0" * 64)) == 64


@pytest.mark.parametrize("name", ["openai", "hf_sampling_bf16", "embedding_threshold"])
def test_a_setting_that_changes_the_reply_changes_the_key_and_the_record(name, tmp_path):
    """The golden pins today's bytes; this says the key still moves with the settings it holds."""
    from lmms_eval_eibench.judges.cache import reply_key

    base = JudgeSettings.from_env({}, cache=False, progress=False, **CASES[name])
    changed = JudgeSettings.from_env({}, cache=False, progress=False, **{**CASES[name], "model": "another/model"})
    with build_engine(base) as a, build_engine(changed) as b:
        assert reply_key(a.identity.reply_fields(), ITEM) != reply_key(b.identity.reply_fields(), ITEM)
        assert a.identity.provenance_fields() != b.identity.provenance_fields()
