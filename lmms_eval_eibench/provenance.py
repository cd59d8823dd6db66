"""The provenance record: which judge, prompt, decoding, dataset and plugin produced a number.

EIBench recall is only comparable between runs whose judge, judge prompt and decoding match, so every
lmms-eval results file and every ``eibench score`` output carries one of these records. This module only
*builds and checks* the record (pure, no environment reads, no heavy imports); the judge engine, the
lmms-eval hooks and ``eibench score`` pass their settings in.

Where it goes (for callers):

- lmms-eval (and lm-eval) results: in the task's metadata under :data:`METADATA_KEY`,
  ``results["configs"][<task>]["metadata"]["eibench_provenance"]``, written by ``harness.lifecycle.EIBenchLifecycle``.
  lmms-eval 0.7.3 copies each task's config (``TaskOutput.from_taskdict``, a deep copy) when ``evaluate()``
  starts, i.e. after task construction and before generation; so the record is put into
  ``task.config.metadata`` during task construction (``EIBenchLifecycle.__init__``).
  Read it back with :func:`provenance_from_task_metadata`.
- ``eibench score --json``: under the top-level key :data:`PROVENANCE_KEY` (``provenance``).

``plugin.version`` is the version of the plugin that *wrote* the record (readers never fill in their own).

Record shape (``schema_version`` 1; keys are stable, new keys may be added, none removed or renamed):

.. code-block:: json

    {
      "schema_version": 1,
      "plugin": {"name": "lmms-eval-eibench", "version": "0.1.0"},
      "judge": {
        "kind": "openai",
        "model": "gpt-3.5-turbo",
        "prompt": {"template": "judge_paper", "version": "1"},
        "decoding": {"temperature": 0.1, "max_tokens": 512},
        "options": {"parser_version": "4", "trust_judge_total": false},
        "endpoint": "https://api.openai.com/v1",
        "protocol": "paper-gpt (overridden: trust_judge_total)"
      },
      "model_prompt": {"template": "user", "version": "1"},
      "generation": {"max_new_tokens": 512, "temperature": 0},
      "dataset": {"source": "Lum1104/EIBench", "revision": "aff98d0...", "manifest_sha256": "9f2c...",
                  "official": true},
      "samples": {"scored": 1615, "subset": 1615},
      "word_budget": 100,
      "word_rule": "2",
      "coherence": {"model": "bert-base-uncased", "spacy_model": "en_core_web_sm"}
    }

``model_prompt``, ``generation``, ``dataset``, ``judge.options`` and ``judge.endpoint`` may be ``null`` when not
known; ``samples`` (written by ``eibench score``) says how much of the subset was scored; ``word_budget`` (only
with ``--word-budget`` / ``EIBENCH_WORD_BUDGET``) is the N of the ``*_at_budget`` figures, ``word_rule`` beside it
the version of the word rule that cut the answers (``length.WORD_RULE``; absent: 1, whitespace-separated words);
the rest of ``judge`` is always there. ``coherence`` (only when ``eibench_coherence`` was computed) names its two
models. ``judge.options`` holds the verdict-affecting settings that are not decoding (``JudgeIdentity.options``:
the ``parser_version`` of the verdict parser that read the replies, ``trust_judge_total``, an HF judge's ``dtype``,
the embedding judge's ``threshold``); ``judge.endpoint`` is the judge's base URL with any user info, query and
fragment removed; ``judge.protocol`` (only present when the judge was configured with ``--protocol`` /
``EIBENCH_JUDGE_PROTOCOL``) names it, with the settings that were overridden. ``dataset.manifest_sha256`` is the
built dataset's manifest fingerprint (``lmms_eval_eibench.data.dataset.fingerprint()``); ``dataset.official`` whether
the annotations were the published EIBench files (``lmms_eval_eibench.data.official``; ``false``: the run was scored on
unofficial data; ``null``: unknown). No secret (API key, token, password) may appear anywhere:
:func:`build_provenance` refuses keys that look like one, so a misplaced key fails loudly instead of landing in a
results file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from lmms_eval_eibench import __version__
from lmms_eval_eibench.urls import public_url

__all__ = [
    "METADATA_KEY",
    "PLUGIN_NAME",
    "PROVENANCE_KEY",
    "PROVENANCE_SCHEMA_VERSION",
    "ProvenanceError",
    "build_provenance",
    "check_provenance",
    "dataset_difference",
    "differences",
    "judge_comparison_terms",
    "judge_label",
    "provenance_from_task_metadata",
]

PROVENANCE_SCHEMA_VERSION = 1
PLUGIN_NAME = "lmms-eval-eibench"
METADATA_KEY = "eibench_provenance"
"""Key of the record in an EIBench task's lmms-eval metadata (``results["configs"][task]["metadata"]``)."""
PROVENANCE_KEY = "provenance"
"""Top-level key of the record in ``eibench score --json`` outputs (and in report summaries)."""

# A settings key that looks like a credential must never reach a results file. Matched per word of the
# key, so `api_key`, `hf_token` or `Authorization` are refused while `max_new_tokens` is not.
_SECRET_WORDS = frozenset(
    {"key", "apikey", "secret", "token", "password", "passwd", "authorization", "bearer", "credential", "credentials"}
)
_SCALAR = (str, int, float, bool, type(None))


class ProvenanceError(ValueError):
    """A provenance record (or an argument building one) is malformed; the message names the field."""


def _require_text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProvenanceError(f"provenance: {name} must be a non-empty string, got {value!r}")
    return value


def _optional_text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    return _require_text(name, value)


def _settings(name: str, value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A flat mapping of decoding/generation settings: string keys, JSON scalar values, no secrets."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ProvenanceError(f"provenance: {name} must be a mapping of setting -> value, got {type(value).__name__}")
    out: dict[str, Any] = {}
    for key in sorted(value):
        if not isinstance(key, str) or not key:
            raise ProvenanceError(f"provenance: {name} has a non-string or empty key {key!r}")
        if _SECRET_WORDS.intersection(re.split(r"[^a-z0-9]+", key.lower())):
            raise ProvenanceError(
                f"provenance: {name}.{key} looks like a credential; secrets must never be recorded "
                "(pass only decoding settings such as temperature, top_p, max_tokens)"
            )
        item = value[key]
        # lists of scalars are allowed: generation settings such as `until` (stop strings) are lists
        items = list(item) if isinstance(item, (list, tuple)) else [item]
        for element in items:
            if not isinstance(element, _SCALAR):
                raise ProvenanceError(
                    f"provenance: {name}.{key} must be a string, number, boolean, null or a list of them, "
                    f"got {type(element).__name__}"
                )
            if isinstance(element, float) and not math.isfinite(element):
                raise ProvenanceError(f"provenance: {name}.{key} must be finite, got {element!r}")
        out[key] = items if isinstance(item, (list, tuple)) else item
    return out


def _endpoint(value: str | None) -> str | None:
    """A base URL without user info, query or fragment: where the judge ran, never how to log in."""
    if value is None:
        return None
    return public_url(_require_text("judge_endpoint", value))


def build_provenance(
    *,
    judge_kind: str,
    judge_model: str,
    judge_prompt: str,
    judge_prompt_version: str,
    judge_decoding: Mapping[str, Any],
    judge_options: Mapping[str, Any] | None = None,
    judge_endpoint: str | None = None,
    judge_protocol: str | None = None,
    model_prompt: str | None = None,
    model_prompt_version: str | None = None,
    generation: Mapping[str, Any] | None = None,
    dataset_source: str | None = None,
    dataset_revision: str | None = None,
    dataset_manifest_sha256: str | None = None,
    dataset_official: bool | None = None,
    samples: Mapping[str, Any] | None = None,
    word_budget: int | None = None,
    word_rule: str | None = None,
    coherence: Mapping[str, Any] | None = None,
    plugin_version: str = __version__,
) -> dict[str, Any]:
    """Build the provenance record (a plain JSON-serialisable dict; shape in the module docstring).

    ``judge_kind`` is the judge's kind (``openai``, ``hf``, ``embedding``), ``judge_model`` its model id,
    ``judge_prompt``/``judge_prompt_version`` the judge template name and its declared version, and
    ``judge_decoding`` the judge's decoding settings (temperature, top_p, max_tokens...; ``{}`` for a
    judge that does not decode, like the embedding judge); ``judge_options`` other verdict-affecting
    settings and ``judge_endpoint`` the judge's base URL (credentials are stripped from it).
    ``judge_protocol`` names the judge protocol the settings came from (``paper-gpt``, or
    ``paper-gpt (overridden: temperature)`` when flags changed some of its settings); the key ``judge.protocol``
    is written only when there is one.
    ``model_prompt``/``model_prompt_version`` and
    ``generation`` describe how the evaluated model was prompted and decoded, when known.
    ``dataset_revision`` (a Hub commit) and/or ``dataset_manifest_sha256`` (the built dataset's manifest
    hash) pin the data; ``dataset_official`` says whether its annotations are the published EIBench files
    (``False``: scored on unofficial data; ``None``: unknown). ``samples`` says how much of the subset was
    scored (``{"scored": n, "subset": N}``; ``n < N`` is a partial result); ``word_budget`` the budget N of the
    ``*_at_budget`` figures (written only when there is one) and ``word_rule`` the version of the word rule that
    counted and cut the words (``length.WORD_RULE``); ``coherence`` the two models of the
    ``eibench_coherence`` metric (``{"model", "spacy_model"}``, only when it was computed). Raises :class:`ProvenanceError` naming the bad argument.
    """
    if (model_prompt is None) != (model_prompt_version is None):
        raise ProvenanceError("provenance: model_prompt and model_prompt_version go together (both or neither)")
    if judge_decoding is None:
        raise ProvenanceError("provenance: judge_decoding is required; pass {} for a judge that does not decode")
    if dataset_manifest_sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", str(dataset_manifest_sha256)):
        raise ProvenanceError(
            f"provenance: dataset_manifest_sha256 must be 64 lowercase hex digits, got {dataset_manifest_sha256!r}"
        )
    if dataset_official is not None and not isinstance(dataset_official, bool):
        raise ProvenanceError(f"provenance: dataset_official must be true, false or null, got {dataset_official!r}")
    dataset = {
        "source": _optional_text("dataset_source", dataset_source),
        "revision": _optional_text("dataset_revision", dataset_revision),
        "manifest_sha256": dataset_manifest_sha256,
        "official": dataset_official,
    }
    record = {
        "schema_version": PROVENANCE_SCHEMA_VERSION,
        "plugin": {"name": PLUGIN_NAME, "version": _require_text("plugin_version", plugin_version)},
        "judge": {
            "kind": _require_text("judge_kind", judge_kind),
            "model": _require_text("judge_model", judge_model),
            "prompt": {
                "template": _require_text("judge_prompt", judge_prompt),
                "version": _require_text("judge_prompt_version", str(judge_prompt_version)),
            },
            "decoding": _settings("judge_decoding", judge_decoding),
            "options": _settings("judge_options", judge_options),
            "endpoint": _endpoint(judge_endpoint),
            **({"protocol": _require_text("judge_protocol", judge_protocol)} if judge_protocol is not None else {}),
        },
        "model_prompt": (
            None
            if model_prompt is None
            else {
                "template": _require_text("model_prompt", model_prompt),
                "version": _require_text("model_prompt_version", str(model_prompt_version)),
            }
        ),
        "generation": _settings("generation", generation),
        "dataset": dataset if any(v is not None for v in dataset.values()) else None,
    }
    if samples is not None:
        record["samples"] = _samples(samples)
    if word_budget is not None:
        if not isinstance(word_budget, int) or isinstance(word_budget, bool) or word_budget < 1:
            raise ProvenanceError(f"provenance: word_budget must be a whole number of words >= 1, got {word_budget!r}")
        record["word_budget"] = word_budget
    if word_rule is not None:
        record["word_rule"] = _require_text("word_rule", word_rule)
    if coherence is not None:
        record["coherence"] = {key: _require_text(f"coherence.{key}", (coherence or {}).get(key))
                               for key in ("model", "spacy_model")}
    return record


def _samples(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise ProvenanceError(f"provenance: samples must be an object {{scored, subset}}, got {type(value).__name__}")
    out = {}
    for key in ("scored", "subset"):
        number = value.get(key)
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            raise ProvenanceError(f"provenance: samples.{key} must be a whole number >= 0, got {number!r}")
        out[key] = number
    return out


def check_provenance(record: Any, where: str = "provenance") -> dict[str, Any]:
    """Validate a record read back from a file; return it, or raise :class:`ProvenanceError` naming ``where``.

    Rebuilds the record through :func:`build_provenance`, so reading enforces exactly what writing does
    (including the no-secrets rule). Unknown extra keys from a newer writer are kept.
    """
    try:
        if not isinstance(record, Mapping):
            raise ProvenanceError(f"expected an object, got {type(record).__name__}")
        version = record.get("schema_version")
        if not isinstance(version, int) or version < 1:
            raise ProvenanceError(f"schema_version must be a positive integer, got {version!r}")
        if version > PROVENANCE_SCHEMA_VERSION:
            raise ProvenanceError(
                f"schema_version {version} is newer than this plugin understands ({PROVENANCE_SCHEMA_VERSION}); "
                "upgrade lmms-eval-eibench"
            )
        judge = record.get("judge")
        if not isinstance(judge, Mapping) or not isinstance(judge.get("prompt"), Mapping):
            raise ProvenanceError("judge must be an object with kind, model, prompt {template, version}, decoding")
        model_prompt = record.get("model_prompt") or {}
        dataset = record.get("dataset") or {}
        plugin = record.get("plugin") or {}
        if not isinstance(model_prompt, Mapping) or not isinstance(dataset, Mapping) or not isinstance(plugin, Mapping):
            raise ProvenanceError("model_prompt, dataset and plugin must be objects or null")
        # a section's keys are build_provenance's arguments without their prefix (judge_, dataset_)
        rebuilt = build_provenance(
            **{f"judge_{key}": judge.get(key) for key in ("kind", "model", "decoding", "options", "endpoint",
                                                          "protocol")},
            judge_prompt=judge["prompt"].get("template"),
            judge_prompt_version=judge["prompt"].get("version"),
            model_prompt=model_prompt.get("template"),
            model_prompt_version=model_prompt.get("version"),
            generation=record.get("generation"),
            **{f"dataset_{key}": dataset.get(key) for key in ("source", "revision", "manifest_sha256", "official")},
            samples=record.get("samples"),
            word_budget=record.get("word_budget"),
            word_rule=record.get("word_rule"),
            coherence=record.get("coherence"),
            plugin_version=plugin.get("version"),
        )
    except ProvenanceError as exc:
        message = str(exc).removeprefix("provenance: ")
        raise ProvenanceError(f"{where}: {message}") from None
    rebuilt["schema_version"] = version
    return {**dict(record), **rebuilt}


def judge_comparison_terms(record: Mapping[str, Any]) -> tuple[str, str, str, str, str]:
    """What must match for two recalls to be comparable (``JudgeIdentity.comparable``): judge kind, model, prompt
    template, version, and decoding with the other verdict-affecting options folded in; not the endpoint."""
    from lmms_eval_eibench.judges.identity import JudgeIdentity

    return JudgeIdentity.from_record(record).comparable()


def dataset_difference(a: Mapping[str, Any], b: Mapping[str, Any]) -> str | None:
    """The one rule for "same data" (``differences`` and the report's warnings use it): the manifest fingerprint
    decides when both records have one (it hashes the built files, so two Hub commits of the same files agree),
    else the Hub revision when both have one; a fingerprint against a revision alone, or a record without either,
    proves nothing and is no difference. Returns the difference in words, or None."""
    datasets = [r.get("dataset") or {} for r in (a, b)]
    for key, name in (("manifest_sha256", "dataset build"), ("revision", "dataset revision")):
        found = [d.get(key) for d in datasets]
        if None not in found:
            return None if found[0] == found[1] else f"{name} {str(found[0])[:12]} vs {str(found[1])[:12]}"
    return None


def differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """What makes two runs' per-sample scores incomparable, in words (empty: comparable): another judge (kind,
    model, prompt and version, decoding, options), another model prompt or version, other data
    (``dataset_difference``)."""
    found = []
    if judge_comparison_terms(a) != judge_comparison_terms(b):
        found.append(f"judge {judge_label(a)} vs {judge_label(b)}")
    prompts = [f"{p.get('template')} v{p.get('version')}" for p in ((r.get("model_prompt") or {}) for r in (a, b))]
    if prompts[0] != prompts[1]:
        found.append(f"model prompt {prompts[0]} vs {prompts[1]}")
    if data := dataset_difference(a, b):
        found.append(data)
    return found


def judge_label(record: Mapping[str, Any]) -> str:
    """A short human label (``JudgeIdentity.label``), e.g. ``openai:gpt-3.5-turbo, judge_paper v1, temperature=0.1``."""
    from lmms_eval_eibench.judges.identity import JudgeIdentity

    return JudgeIdentity.from_record(record).label()


def provenance_from_task_metadata(metadata: Any, where: str = "metadata") -> dict[str, Any] | None:
    """The checked record in an EIBench task's lmms-eval ``metadata`` (``metadata["eibench_provenance"]``, as
    ``harness.lifecycle.EIBenchLifecycle`` writes it); None when there is none (e.g. a ``--predict_only`` run, or results
    written before the record existed: the report then says the row has no provenance)."""
    if not isinstance(metadata, Mapping) or metadata.get(METADATA_KEY) is None:
        return None
    return check_provenance(metadata[METADATA_KEY], where=f"{where}.{METADATA_KEY}")
