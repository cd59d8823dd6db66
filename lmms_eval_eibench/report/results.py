"""Reading results: lmms-eval ``*_results.json`` files (or folders of them) and ``eibench score --json`` outputs.

Each EIBench task in them becomes a :class:`TaskResult`: one subset's numbers from one source, with the
provenance record the run wrote (``configs[<task>]["metadata"]["eibench_provenance"]`` in lmms-eval results,
``provenance`` in score outputs; see :mod:`lmms_eval_eibench.provenance`). Results without one stay without:
the judge is never guessed.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmms_eval_eibench import BASIC_CATEGORIES, metrics
from lmms_eval_eibench.edge.lmms_outputs import (
    SAMPLES_INFIX,
    group_names,
    is_results,
    looks_like_sample,
    results_beside,
    sample_counts,
    task_config,
    task_metadata,
    task_metrics,
    task_of_samples,
)
from lmms_eval_eibench.provenance import (
    PROVENANCE_KEY,
    ProvenanceError,
    check_provenance,
    provenance_from_task_metadata,
)
from lmms_eval_eibench.vocabulary import (
    CAPTION_WORDS,
    CAPTIONS_TASK,
    RECALL,
    RECALL_METRICS,
    model_name,
    run_model_name,
    task_shape,
)

CATEGORIES: tuple[str, ...] = tuple(BASIC_CATEGORIES)
# lmms-eval writes bootstrap, CLT and (with cluster_key, e.g. complex by image) clustered stderr; the clustered
# one is the honest one when present.
_STDERR_SUFFIXES = ("_stderr_clustered", "_stderr", "_stderr_clt")


class ReportError(ValueError):
    """Bad input to a report; the message names the file (and key or row) and how to fix it."""


@dataclass(frozen=True)
class Measure:
    """A recall (0 to 100) and its standard error, either may be unknown."""

    value: float | None
    stderr: float | None = None


@dataclass(frozen=True)
class TaskResult:
    """One subset's numbers for one model, template and judge, from one results file or the paper."""

    model: str
    template: str | None
    subset: str
    overall: Measure
    categories: Mapping[str, Measure] = field(default_factory=dict)
    metric: str = RECALL
    n: int | None = None
    trigger_recall: Measure | None = None
    judge_failures: int | None = None
    generation_failures: int | None = None
    answer_words: float | None = None
    """Mean words per answer (``eibench_answer_words``, ``answer_words``; failures as 0); None when not reported."""
    coherence: float | None = None
    """Long-term coherence 0-100 (``eibench_coherence``, a run with ``EIBENCH_COHERENCE=1``); None when not computed."""
    at_budget: Measure | None = None
    """Recall with every answer cut to its first ``word_budget`` words (``<m>_at_budget``, ``overall_at_budget``);
    None for a run without a word budget."""
    word_budget: int | None = None
    """The N of ``at_budget`` (the provenance's ``word_budget``, or the score output's)."""
    n_subset: int | None = None
    """How many samples the subset has (None when the source does not say); `n < n_subset` is a partial run."""
    provenance: Mapping[str, Any] | None = None
    published: bool = False
    judge: str | None = None
    """Published rows: the paper's judge key (``llama3``, ``gpt``) or None when the source does not say."""
    judge_text: str = ""
    source: str = ""
    task: str | None = None
    notes: tuple[str, ...] = ()
    """Published rows: what the reader must know about a number (setting inferred, Overall as published)."""


_SCORE_FIRST = ("judge its samples first: `eibench score OUT/<model>/<time>_samples_<task>.jsonl --json > "
                "score.json`, then `eibench report score.json`")


def _first_line(path: Path) -> Any:
    """The first non-blank line of a JSON-lines file, parsed; None when it is not JSON."""
    try:
        with path.open(encoding="utf-8-sig") as handle:
            for line in handle:
                if line.strip():
                    return json.loads(line)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return None


def lines_message(path: Path) -> str:
    """What a JSON-lines file given to the report is (answers, judged samples, captions) and what to do with it."""
    first = _first_line(path)
    score_it = (f"judge it first: `eibench score {path} --json > score.json`, then `eibench report score.json`")
    if isinstance(first, Mapping) and len(first) == 1 and isinstance(next(iter(first.values())), str):
        return (f"{path}: answers in the official format ({{\"<image path>\": \"<answer>\"}} per line), not results; "
                + score_it)
    if task_of_samples(path) == CAPTIONS_TASK or (isinstance(first, Mapping) and CAPTION_WORDS in first):
        return (f"{path}: the {CAPTIONS_TASK} task's samples (image descriptions, no recall); turn them into a "
                f"--captions file with `eibench captions {path} -o captions.jsonl`")
    judged = [m for m in RECALL_METRICS if isinstance(first, Mapping) and m in first]
    if judged:
        beside = results_beside(path)
        where = (f"pass the results file lmms-eval wrote beside it: `eibench report {beside}`" if beside else
                 "pass the <time>_results.json lmms-eval wrote beside it, or its --output_path folder")
        return (f"{path}: an lmms-eval samples file already judged (its lines carry {judged[0]}), not results: its "
                f"recall is in the run's results file; {where}")
    return f"{path}: an lmms-eval samples file (answers, one per line), not results; {score_it}"


def read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ReportError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not UTF-8 text; pass an lmms-eval *_results.json file or an `eibench score "
                          "--json` output") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if path.suffix == ".jsonl" or task_of_samples(path) is not None:
            raise ReportError(lines_message(path)) from None
        raise ReportError(
            f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg}); "
            "pass an lmms-eval *_results.json file or an `eibench score --json` output"
        ) from None


# What a value in a results file can be: its metric's unit (metrics.METRICS: a recall 0 to 100, a coherence a mean
# cosine times 100, words and counts not negative), a stderr not negative. Anything else was edited or is not an
# EIBench result, and is refused, never printed.
NOT_NEGATIVE = (0.0, math.inf)
_SLACK = 1e-9  # float noise of a mean


def number(value: Any, where: str, bounds: tuple[float, float] | None = None) -> float | None:
    """A metric value as float; lmms-eval writes "N/A" (or nothing) when it has no value. Outside ``bounds``
    (low, high): ``ReportError`` naming ``where`` (the file and key)."""
    if value is None or value == "N/A" or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ReportError(f"{where}: expected a number or \"N/A\", got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        return None
    if bounds is not None and not bounds[0] - _SLACK <= value <= bounds[1] + _SLACK:
        low, high = bounds
        allowed = f"at least {low:g}" if high == math.inf else f"{low:g} to {high:g}"
        raise ReportError(f"{where}: {value:g} is out of range (must be {allowed}); the file was edited or is not "
                          "an EIBench result: regenerate it (lmms-eval, or `eibench score --json`)")
    return value


def _measure(value: Any, where: str, stderr: Any = None) -> Measure:
    """A recall (a number in the recall metrics' unit, 0 to 100, "N/A" or null) and its stderr, as lmms-eval and
    ``eibench score --json`` write them."""
    return Measure(number(value, where, metrics.OVERALL.unit.bounds()),
                   number(stderr, f"{where} stderr", NOT_NEGATIVE))


def _count(value: Any, where: str) -> int | None:
    """A failure count (lmms-eval writes the aggregate as a number; unknown: None); a negative one is refused."""
    value = number(value, where, metrics.JUDGE_FAILURES.unit.bounds())
    return None if value is None else int(value)


def _sample_count(value: Any, where: str) -> int | None:
    """A sample count as written (None when absent or not an integer); a negative one is refused."""
    count = _whole(value)
    if count is not None:
        number(count, where, NOT_NEGATIVE)
    return count


def _stderr(keyed: Mapping[str, Any], name: str, where: str) -> Any:
    """The stderr lmms-eval wrote beside metric ``name``: the first of :data:`_STDERR_SUFFIXES` with a value."""
    for suffix in _STDERR_SUFFIXES:
        value = keyed.get(name + suffix)
        if number(value, f"{where}.{name}{suffix}") is not None:
            return value
    return None


def _whole(value: Any) -> int | None:
    """An integer field (a sample or failure count) as written, None when absent or not an integer."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _model_name(data: Mapping[str, Any], path: Path) -> str:
    """The run's model under the one naming rule (``vocabulary.model_name``), else the file's name."""
    return run_model_name(data) or path.stem


CFSA_SETTING = "cfsa"
"""The setting of a CFSA run's rows: the paper reports its method apart, so a CFSA run never shares a row (or a
label) with a single-pass run of the same model, and sits beside the published CFSA row."""


def _is_cfsa_run(data: Mapping[str, Any]) -> bool:
    """An lmms-eval run of the `eibench_cfsa` model (whatever base model it wraps)."""
    config = data.get("config") if isinstance(data.get("config"), Mapping) else {}
    return config.get("model") == "eibench_cfsa"


def _task_shape(task: str, config: Mapping[str, Any], where: str) -> tuple[str, str | None]:
    """(subset, template) of an EIBench task: from its name, else from its config (dataset_name, metadata)."""
    shape = task_shape(task)
    if shape is not None:
        return shape
    subset = config.get("dataset_name")
    metadata = config.get("metadata") if isinstance(config.get("metadata"), Mapping) else {}
    template = metadata.get("prompt_template")
    if subset in ("basic", "complex"):
        return subset, template if isinstance(template, str) else None
    raise ReportError(
        f"{where}: cannot tell whether task {task!r} is basic or complex; EIBench tasks are named "
        "eibench_basic[_cot|_caption|_caption_text] or eibench_complex[...] (or set dataset_name: basic|complex)"
    )


def _checked_provenance(value: Any, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        return check_provenance(value, where=where)
    except ProvenanceError as exc:
        raise ReportError(str(exc)) from None


def _metadata_provenance(metadata: Any, where: str) -> dict[str, Any] | None:
    """The record from a task's ``configs[task]["metadata"]`` (where the EIBench tasks put it), if any."""
    try:
        return provenance_from_task_metadata(metadata, where=where)
    except ProvenanceError as exc:
        raise ReportError(str(exc)) from None


def _results_from_lmms(path: Path, data: Mapping[str, Any]) -> list[TaskResult]:
    results = data.get("results")
    if not isinstance(results, Mapping):
        raise ReportError(f"{path}: key 'results' must be an object of task -> metrics")
    groups = group_names(data)
    model = _model_name(data, path)
    cfsa = _is_cfsa_run(data)
    found_results: list[TaskResult] = []
    for task, values in results.items():
        if task in groups or not isinstance(values, Mapping):
            continue  # a group's pooled numbers repeat its members' rows
        keyed = task_metrics(values)
        for metric in RECALL_METRICS:
            if metric not in keyed:
                continue
            where = f"{path}: results.{task}"
            subset, template = _task_shape(task, task_config(data, task), where)
            template = CFSA_SETTING if cfsa else template
            categories = {}
            if subset == "basic":
                for category in CATEGORIES:
                    name = metrics.CATEGORY.name(metric, category)
                    if name in keyed:
                        categories[category] = _measure(keyed[name], f"{where}.{name}", _stderr(keyed, name, where))
            n, original = sample_counts(data, task)
            trigger = metrics.TRIGGER.name(metric)
            provenance = _metadata_provenance(task_metadata(data, task), f"{path}: configs.{task}.metadata")
            budgeted = metrics.AT_BUDGET.name(metric)
            failures, no_answer = metrics.JUDGE_FAILURES.name(), metrics.GENERATION_FAILURES.name()
            words, coherence = metrics.ANSWER_LENGTH.name(), metrics.COHERENCE.name()
            found_results.append(_counts_agree(
                TaskResult(
                    model=model,
                    template=template,
                    subset=subset,
                    overall=_measure(keyed[metric], f"{where}.{metric}", _stderr(keyed, metric, where)),
                    categories=categories,
                    metric=metric,
                    n=_sample_count(n, f"{path}: n-samples.{task}.effective"),
                    trigger_recall=(
                        _measure(keyed[trigger], f"{where}.{trigger}", _stderr(keyed, trigger, where))
                        if trigger in keyed
                        else None
                    ),
                    judge_failures=_count(keyed.get(failures), f"{where}.{failures}"),
                    generation_failures=_count(keyed.get(no_answer), f"{where}.{no_answer}"),
                    answer_words=number(keyed.get(words), f"{where}.{words}", metrics.ANSWER_LENGTH.unit.bounds()),
                    coherence=number(keyed.get(coherence), f"{where}.{coherence}", metrics.COHERENCE.unit.bounds()),
                    at_budget=(_measure(keyed[budgeted], f"{where}.{budgeted}", _stderr(keyed, budgeted, where))
                               if budgeted in keyed else None),
                    word_budget=_whole((provenance or {}).get("word_budget")) if budgeted in keyed else None,
                    n_subset=_sample_count(original, f"{path}: n-samples.{task}.original"),
                    provenance=provenance,
                    source=str(path),
                    task=task,
                ), where))
    return found_results


def result_from_score(path: Path, data: Mapping[str, Any]) -> TaskResult:
    """The result in an ``eibench score --json`` object read from ``path`` (named in errors)."""
    where = str(path)
    per_category = data.get("per_category") or {}
    if not isinstance(per_category, Mapping):
        raise ReportError(f"{where}: key 'per_category' must be an object of category -> recall")
    subset = data.get("subset")
    if subset is None:
        # `eibench score --json` for basic always has the four categories; complex has none.
        subset = "basic" if per_category else None
    if subset not in ("basic", "complex"):
        raise ReportError(f"{where}: key 'subset' must be \"basic\" or \"complex\", got {subset!r}")
    categories = {}
    for category in CATEGORIES:
        if category in per_category:
            categories[category] = _measure(per_category[category], f"{where}: per_category.{category}")
    unknown = sorted(set(per_category) - set(CATEGORIES))
    if unknown:
        raise ReportError(f"{where}: per_category has unknown categories {unknown}; expected {list(CATEGORIES)}")
    overall_stderr = data.get("overall_stderr")
    provenance = data.get(PROVENANCE_KEY)
    template = data.get("template")
    task = data.get("task")
    if template is None and (shape := task_shape(task)) is not None:
        template = shape[1]
    if data.get("method") == CFSA_SETTING:  # `eibench score` of a CFSA run's samples
        template = CFSA_SETTING
    model = data.get("model")
    n_subset = data.get("n_subset")
    return _counts_agree(TaskResult(
        model=model_name(model) if isinstance(model, str) and model.strip() else path.stem,
        template=template if isinstance(template, str) else None,
        subset=subset,
        overall=_measure(data["overall"], f"{where}: overall", overall_stderr),
        categories=categories,
        metric=data.get("metric") if data.get("metric") in RECALL_METRICS else RECALL,
        n=_sample_count(data.get("n"), f"{where}: n"),
        trigger_recall=(
            _measure(data["trigger_recall"], f"{where}: trigger_recall")
            if data.get("trigger_recall") is not None
            else None
        ),
        judge_failures=_sample_count(data.get("n_failed"), f"{where}: n_failed"),
        generation_failures=_sample_count(data.get("n_generation_failed"), f"{where}: n_generation_failed"),
        answer_words=number(data.get("answer_words"), f"{where}: answer_words", metrics.ANSWER_LENGTH.unit.bounds()),
        at_budget=(_measure(data["overall_at_budget"], f"{where}: overall_at_budget")
                   if data.get("overall_at_budget") is not None else None),
        word_budget=_whole(data.get("word_budget")) if data.get("overall_at_budget") is not None else None,
        n_subset=_sample_count(n_subset, f"{where}: n_subset"),
        provenance=_checked_provenance(provenance, f"{where}: {PROVENANCE_KEY}"),
        source=str(path),
        task=task if isinstance(task, str) else None,
    ), where)


def _counts_agree(result: TaskResult, where: str) -> TaskResult:
    """``result``, when its counts can be true: no more samples scored than the subset has, no more failures
    than samples scored."""
    if result.n is not None and result.n_subset is not None and result.n > result.n_subset:
        raise ReportError(f"{where}: {result.n} samples scored of a subset of {result.n_subset}; the file was edited "
                          "or is not an EIBench result: regenerate it")
    for name, failures in (("judge failures", result.judge_failures),
                           ("generation failures", result.generation_failures)):
        if failures is not None and result.n is not None and failures > result.n:
            raise ReportError(f"{where}: {failures} {name} of {result.n} samples; the file was edited or is not an "
                              "EIBench result: regenerate it")
    return result


def _is_score_output(data: Any) -> bool:
    return isinstance(data, Mapping) and "overall" in data and ("per_category" in data or "n" in data)


def _other_tasks_note(path: Path, data: Mapping[str, Any], found: Sequence[TaskResult]) -> str | None:
    """A multi-benchmark run's other tasks (not EIBench, no recall): named, so nothing vanishes unseen."""
    ours = {result.task for result in found}
    others = sorted(task for task in data["results"] if task not in ours and task not in group_names(data))
    return f"{path}: tasks without EIBench recall skipped: {', '.join(others)}" if others else None


def _results_from_file(path: Path, explicit: bool) -> tuple[list[TaskResult], str | None]:
    data = read_json(path)
    if is_results(data):
        found = _results_from_lmms(path, data)
        if found:
            return found, _other_tasks_note(path, data, found)
        bypassed = any("bypass" in str(key) for values in data["results"].values() if isinstance(values, Mapping)
                       for key in values)
        if bypassed:
            message = f"{path}: a --predict_only run (answers, no judge, no recall); {_SCORE_FIRST}"
        else:
            message = f"{path}: lmms-eval results without an EIBench recall metric ({', '.join(RECALL_METRICS)})"
    elif _is_score_output(data):
        return [result_from_score(path, data)], None
    elif path.suffix == ".jsonl" or looks_like_sample(data):
        message = lines_message(path)
    else:
        message = f"{path}: neither an lmms-eval results file nor an `eibench score --json` output"
    if explicit:
        raise ReportError(message + "; pass the *_results.json of an eibench_* run or a score --json output")
    return [], message + "; skipped"


def _folder_files(folder: Path) -> list[Path]:
    """The files ``load_results`` reads in a folder: every ``*.json``, recursively."""
    return sorted(p for p in folder.rglob("*.json") if p.is_file())


def files_read(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Every file ``load_results(paths)`` reads, those found inside folders included (no output may replace one)."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        files.extend(_folder_files(path) if path.is_dir() else [path] if path.is_file() else [])
    return files


def load_results(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[TaskResult], list[str]]:
    """Read results files and folders; return the task results and notes about files skipped in folders.

    A file named explicitly must hold EIBench results (else :class:`ReportError`); inside a folder, every
    ``*.json`` file is read recursively and files of other kinds are skipped with a note.
    """
    loaded: list[TaskResult] = []
    notes: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = _folder_files(path)
            found = 0
            for file in files:
                got, note = _results_from_file(file, explicit=False)
                loaded.extend(got)
                found += len(got)
                if note:
                    notes.append(note)
            if not found:
                if any(path.rglob(f"*{SAMPLES_INFIX}eibench*.jsonl")):
                    raise ReportError(f"{path}: EIBench answers but no recall in this folder (a --predict_only run?); "
                                      + _SCORE_FIRST)
                raise ReportError(
                    f"{path}: no EIBench results in this folder (looked at {len(files)} *.json file(s)); "
                    "point at the --output_path of an lmms-eval run with eibench_* tasks"
                )
        elif path.is_file():
            got, note = _results_from_file(path, explicit=True)
            loaded.extend(got)
            if note:
                notes.append(note)
        else:
            raise ReportError(f"{path}: no such file or folder")
    return loaded, notes


