"""A finished lmms-eval run of an EIBench task, read back per sample: what paired comparisons need.

lmms-eval 0.7.3 writes ``OUT/<model>/<stamp>_samples_<task>.jsonl`` beside ``<stamp>_results.json`` (the results
hold the task's provenance record; the files' names and keys are ``lmms_outputs``'). Two users of this module:

- ``baseline_warnings``: the lmms-eval task warns when ``--baseline`` points at a run judged by another judge or
  prompted with another template (lmms-eval would compare the numbers anyway), or at samples that carry no
  ``eibench_paired_score`` (lmms-eval would then score every baseline sample 0 by exact match).
- ``eibench report --paired`` (``report/pairs.py``): the two runs' per-sample scores, keyed by the EIBench id.

Plain Python (json, pathlib); errors are ``RunError`` naming the file and line and the fix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmms_eval_eibench import BASIC_CATEGORIES
from lmms_eval_eibench.edge.lmms_outputs import (
    RESULTS_SUFFIX,
    SAMPLES_INFIX,
    is_results_name,
    results_beside,
    samples_beside,
    task_metadata,
)
from lmms_eval_eibench.edge.lmms_outputs import task_of_samples as _task_of
from lmms_eval_eibench.files import InputFileError, read_jsonl
from lmms_eval_eibench.provenance import ProvenanceError, differences, provenance_from_task_metadata
from lmms_eval_eibench.vocabulary import PAIRED_SCORE, RECALL_METRICS, category_metric, task_shape

__all__ = ["RunError", "RunSample", "RunSamples", "baseline_warnings", "read_run", "results_beside", "run_files"]


class RunError(InputFileError):
    """A run's files cannot be read or compared; the message names the file and the fix."""


@dataclass(frozen=True)
class RunSample:
    """One sample of a run: its headline recall as 0-1 (failures 0), basic category, image (the cluster)."""

    id: str
    score: float
    category: str | None
    image_path: str


@dataclass(frozen=True)
class RunSamples:
    """One EIBench task of one run: per-sample scores keyed by EIBench id, and the run's provenance record."""

    task: str
    subset: str
    template: str
    metric: str
    samples: dict[str, RunSample]
    provenance: dict[str, Any] | None
    source: Path


def _provenance(results_path: Path | None, task: str) -> dict[str, Any] | None:
    if results_path is None:
        return None
    try:
        data = json.loads(results_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunError(str(results_path), f"cannot read the results file ({exc})") from None
    if not isinstance(data, Mapping):
        return None
    try:
        return provenance_from_task_metadata(task_metadata(data, task), f"{results_path}: configs.{task}.metadata")
    except ProvenanceError as exc:
        raise RunError(str(results_path), str(exc)) from None


def _sample(line: Mapping[str, Any], where: str) -> tuple[str, RunSample]:
    metric = next((m for m in RECALL_METRICS if isinstance(line.get(m), Mapping)), None)
    if metric is None:
        raise RunError(where, f"no {' or '.join(RECALL_METRICS)} item: not an EIBench sample judged by this plugin",
                       "give the samples file of an EIBench task run with --log_samples (not --predict_only)")
    item = line[metric]
    verdict = item.get("verdict") if isinstance(item.get("verdict"), Mapping) else {}
    # runs written before eibench_paired_score carry the same number as 0-100 in the recall item
    score = line.get(PAIRED_SCORE)
    score = float(score) if isinstance(score, (int, float)) else float(item.get("score") or 0.0) / 100.0
    category = next((c for c in BASIC_CATEGORIES if line.get(category_metric(metric, c)) is not None), None)
    sample_id = str(verdict.get("id") or line.get("doc_id"))
    return metric, RunSample(sample_id, score, category, str(item.get("image_path") or sample_id))


def read_samples(path: Path) -> RunSamples:
    """One EIBench task's samples file (and the provenance in the results file beside it)."""
    task = _task_of(path)
    shape = task_shape(task)
    if shape is None:
        raise RunError(str(path), "not an lmms-eval samples file of an EIBench task (<stamp>_samples_eibench_*.jsonl)",
                       "give the samples file lmms-eval --log_samples wrote for an eibench_basic/complex task")
    samples: dict[str, RunSample] = {}
    metrics = set()
    for number, line in read_jsonl(path, error=RunError):
        if not isinstance(line, Mapping):
            raise RunError(f"{path}:{number}", "a sample must be a JSON object")
        metric, sample = _sample(line, f"{path}:{number}")
        if sample.id in samples:
            raise RunError(f"{path}:{number}", f"sample {sample.id!r} appears twice", "give one run's samples file")
        metrics.add(metric)
        samples[sample.id] = sample
    if len(metrics) > 1:
        raise RunError(str(path), f"samples judged under both {sorted(metrics)}", "give one run's samples file")
    if not samples:
        raise RunError(str(path), "no samples", "give a samples file of a finished run")
    subset, template = shape
    return RunSamples(task, subset, template, metrics.pop(), samples, _provenance(results_beside(path), task), path)


def run_files(path: Path) -> list[Path]:
    """Every file ``read_run(path)`` reads: the samples file and the results beside it, or the results file and
    the samples files beside it (no output may replace one)."""
    if path.name.endswith(".jsonl"):
        return [path, *filter(None, [results_beside(path)])]
    return [path, *(samples_beside(path) if is_results_name(path) else [])]


def read_run(path: Path) -> list[RunSamples]:
    """A samples file, or a results file with the EIBench tasks' samples files beside it (other tasks skipped)."""
    if not path.is_file():
        raise RunError(str(path), "no such file", "give an lmms-eval *_results.json or *_samples_<task>.jsonl file")
    if path.name.endswith(".jsonl"):
        return [read_samples(path)]
    if not is_results_name(path):
        raise RunError(str(path), "neither a *_results.json nor a *_samples_<task>.jsonl file of lmms-eval",
                       "give the files lmms-eval --log_samples wrote")
    files = samples_beside(path)
    if not files:
        raise RunError(str(path), "no EIBench samples file beside it", "run lmms-eval with --log_samples")
    return [read_samples(p) for p in files]


def baseline_warnings(baseline: Any, task: str, record: Mapping[str, Any] | None) -> list[str]:
    """Why lmms-eval's ``--baseline`` comparison of ``task`` would mislead (empty: nothing found). Only a local
    samples file is checked (a preset or an hf:// baseline is lmms-eval's own)."""
    if not isinstance(baseline, str) or not Path(baseline).is_file():
        return []
    path = Path(baseline)
    warnings = []
    try:
        first = next((line for _, line in read_jsonl(path, error=RunError)), None)
    except RunError as exc:
        return [f"--baseline {exc}"]
    if isinstance(first, Mapping) and PAIRED_SCORE not in first:
        warnings.append(f"--baseline {path}: its samples carry no {PAIRED_SCORE} (written by another task or an older "
                        "lmms-eval-eibench): lmms-eval would score them by exact match, 0 each; re-run the baseline")
    theirs_shape, ours_shape = task_shape(_task_of(path)), task_shape(task)
    if theirs_shape and ours_shape and theirs_shape[0] != ours_shape[0]:
        warnings.append(f"--baseline {path} holds task {_task_of(path)}, compared here with {task}: lmms-eval pairs "
                        "by doc_id, so these are different questions")
    try:
        theirs = _provenance(results_beside(path), _task_of(path) or task)
    except RunError as exc:
        return [*warnings, f"--baseline {exc}"]
    if theirs is None:
        warnings.append(f"--baseline {path}: no EIBench provenance beside it (no {path.name.partition(SAMPLES_INFIX)[0]}"
                        f"{RESULTS_SUFFIX} with the task's record): cannot check that it used the same judge")
    elif record is not None and (found := differences(theirs, record)):
        warnings.append(f"--baseline {path} differs from this run in its {'; '.join(found)}: the paired difference "
                        "measures that too, not the model alone (same judge: re-score one run with `eibench score`)")
    return warnings
