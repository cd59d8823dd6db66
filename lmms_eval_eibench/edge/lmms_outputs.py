"""lmms-eval's output files, read in one place: what lmms-eval 0.7.3 writes and this plugin reads back.

``lmms_compat`` holds the plugin's *calls* into lmms-eval; this module holds its *files*, so an lmms-eval upgrade
is those two modules' work (and ``tests/test_lmms_compat.py``, ``tests/test_lmms_outputs.py``).

What 0.7.3 writes (``loggers/evaluation_tracker.py``) into ``--output_path OUT``:

- ``OUT/<model_name_sanitized>/<stamp>_results.json`` (``<stamp>`` is ``%Y%m%d_%H%M%S``; straight into ``OUT/``
  when the model has no name, e.g. ``--model dummy``): ``results.<task>`` (``"<metric>,<filter>"`` -> value,
  ``"<metric>_stderr,<filter>"``...), ``configs.<task>`` (the task's config, ``metadata`` included, where the EIBench
  tasks put ``eibench_provenance``), ``n-samples.<task>`` (``original``, ``effective``), ``group_subtasks``
  (group -> members), ``config`` (the run's ``model``, ``model_args``...).
- with ``--log_samples``, beside it ``<stamp>_samples_<task>.jsonl``: one line per document with ``doc_id`` (the
  row index), ``input`` (the request's first argument), ``target``, ``filtered_resps`` (one response is unwrapped
  from its list), ``resps`` only when it differs from them, and every key the task's ``process_results`` returned
  (the EIBench metrics, whose verdict names the sample). 0.7.3 drops the ``doc`` (``save_results_samples``);
  files written otherwise may carry it, and ``sample_doc`` reads it when they do.

Plain Python (json, pathlib, re); no lmms-eval import.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lmms_eval_eibench.vocabulary import first_response, task_shape

__all__ = [
    "RESULTS_SUFFIX", "SAMPLES_INFIX", "group_names", "is_results", "is_results_name", "is_sample",
    "is_samples_name", "looks_like_sample", "read_results", "results_beside", "run_stamp", "sample_answer",
    "sample_counts", "sample_doc", "sample_responses", "samples_beside", "task_config", "task_metadata",
    "task_metrics", "task_of_samples",
]

RESULTS_SUFFIX = "_results.json"
SAMPLES_INFIX = "_samples_"
_STAMP = r"\d{8}_\d{6}"
_SAMPLES_NAME = re.compile(rf"^{_STAMP}{SAMPLES_INFIX}.+\.jsonl$")
_RESULTS_NAME = re.compile(rf"^({_STAMP}){re.escape(RESULTS_SUFFIX)}$")
_NO_FILTER = ("none", "")  # the filter name of an unfiltered metric key ("<metric>,none")


# -- file names ---------------------------------------------------------------------------------------------------

def task_of_samples(path: Path) -> str | None:
    """The task of a samples file (``<stamp>_samples_<task>.jsonl`` -> ``<task>``; the suffix dropped, whatever it
    is); None for another name."""
    _, found, rest = path.stem.partition(SAMPLES_INFIX)
    return rest if found else None


def is_samples_name(path: Path) -> bool:
    """Whether the name is exactly one lmms-eval gives a samples file (a time stamp, then ``_samples_<task>``)."""
    return bool(_SAMPLES_NAME.match(path.name))


def is_results_name(path: Path) -> bool:
    """Whether the name ends like a results file of lmms-eval (``*_results.json``)."""
    return path.name.endswith(RESULTS_SUFFIX)


def run_stamp(path: Path) -> str | None:
    """The run's time stamp of a ``<stamp>_results.json``; None for another name."""
    found = _RESULTS_NAME.match(path.name)
    return found.group(1) if found else None


def results_beside(samples_path: Path) -> Path | None:
    """The results file lmms-eval wrote beside a samples file (``<stamp>_samples_<task>.jsonl`` ->
    ``<stamp>_results.json``, the convention its own baseline loader uses); None when there is none."""
    stamp, found, _ = samples_path.name.partition(SAMPLES_INFIX)
    candidate = samples_path.with_name(f"{stamp}{RESULTS_SUFFIX}")
    return candidate if found and candidate.is_file() else None


def samples_beside(results_path: Path) -> list[Path]:
    """The EIBench tasks' samples files lmms-eval wrote beside a ``<stamp>_results.json`` (other tasks left out)."""
    stamp = results_path.name.partition(RESULTS_SUFFIX)[0]
    return sorted(p for p in results_path.parent.glob(f"{stamp}{SAMPLES_INFIX}eibench_*.jsonl")
                  if task_shape(task_of_samples(p)))


# -- a results file -----------------------------------------------------------------------------------------------

def _member(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def is_results(data: Any) -> bool:
    """Whether a parsed JSON document is an lmms-eval results file (``results`` of tasks, and ``configs``)."""
    return isinstance(data, Mapping) and isinstance(data.get("results"), Mapping) and "configs" in data


def task_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """A task's ``results.<task>`` keyed by metric name: the unfiltered values (``"<metric>,none"``), the filter
    part dropped; other filters' values and the ``alias`` are left out."""
    keyed: dict[str, Any] = {}
    for key, value in metrics.items():
        name, _, filter_name = str(key).partition(",")
        if filter_name in _NO_FILTER:
            keyed[name] = value
    return keyed


def task_config(data: Mapping[str, Any], task: str) -> Mapping[str, Any]:
    """``configs.<task>`` of a results file (empty when it has none)."""
    return _member(_member(data, "configs"), task)


def task_metadata(data: Mapping[str, Any], task: str) -> Any:
    """``configs.<task>.metadata`` (where the EIBench tasks put their provenance record); None when absent."""
    return task_config(data, task).get("metadata")


def sample_counts(data: Mapping[str, Any], task: str) -> tuple[Any, Any]:
    """(effective, original) of ``n-samples.<task>``, as written (None when absent): the documents scored, and
    the split's size before ``--limit``. ``effective`` falls back on the task's ``samples`` metric key."""
    counts = _member(_member(data, "n-samples"), task)
    return counts.get("effective", _member(_member(data, "results"), task).get("samples")), counts.get("original")


def group_names(data: Mapping[str, Any]) -> set[str]:
    """The groups of a results file (``group_subtasks`` with members): their ``results`` repeat their members'."""
    return {name for name, members in _member(data, "group_subtasks").items() if members}


# -- a samples line -----------------------------------------------------------------------------------------------

def is_sample(line: Any) -> bool:
    """Whether a parsed line is one of lmms-eval's logged samples (``doc_id``, ``resps`` or ``filtered_resps``)."""
    return isinstance(line, dict) and ("doc_id" in line or "filtered_resps" in line or "resps" in line)


def looks_like_sample(line: Any) -> bool:
    """A looser test, for telling a file's kind in messages: ``doc_id`` or ``filtered_resps`` present."""
    return isinstance(line, Mapping) and ("doc_id" in line or "filtered_resps" in line)


def sample_answer(line: Mapping[str, Any]) -> Any:
    """The model's answer in a logged sample: the first of ``filtered_resps``, else of ``resps`` (a string when
    there is one; anything else is not an answer)."""
    answer = first_response(line.get("filtered_resps"))
    return answer if isinstance(answer, str) else first_response(line.get("resps"))


def sample_responses(line: Mapping[str, Any]) -> Any:
    """The logged responses as written (``filtered_resps``, else ``resps``), for readers that unwrap them."""
    return line.get("filtered_resps", line.get("resps"))


def sample_doc(line: Mapping[str, Any]) -> dict[str, Any]:
    """The logged document (the dataset row) of a sample; empty when the line has none."""
    doc = line.get("doc")
    return doc if isinstance(doc, dict) else {}


def read_results(path: Path) -> Any:
    """A results file parsed (for readers that only look into it: a bad file reads as None)."""
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
