"""Reports from results: paper-layout tables (Markdown, CSV, LaTeX), a chart, and a JSON summary.

Inputs are lmms-eval results files (``<out>/<model>/<date>_results.json``) or folders holding them, and
``eibench score --json`` outputs. Each EIBench task in them becomes an :class:`Entry` (one subset's
numbers from one source); entries with the same model, prompt template and judge share a :class:`Row`,
basic columns (Happy, Angry, Sadness, Excitement, Overall) beside the complex Recall, as in the paper.
The published numbers of Lin et al. (2025) come from ``published/paper_tables.json``.

Which judge produced a number is read from the provenance record the run wrote
(``configs[<task>]["metadata"]["eibench_provenance"]`` in lmms-eval results, ``provenance`` in score outputs;
see :mod:`lmms_eval_eibench.provenance`); results without one are shown as "no provenance", never guessed.
Samples the judge failed on (``eibench_judge_failures``) and samples whose generation failed
(``eibench_generation_failures``) count as 0 in every recall; the tables show their number next to the score,
and mark a row that scored only part of its subset (``--limit``, ``--allow-partial``) as "n of N".

Everything here is plain Python and fast; matplotlib is imported only inside :func:`render_chart`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmms_eval_eibench import BASIC_CATEGORIES, __version__
from lmms_eval_eibench.vocabulary import GENERATION_FAILURES, JUDGE_FAILURES, RECALL, RECALL_METRICS, SEMANTIC_RECALL, TEMPLATES
from lmms_eval_eibench.protocols import PROTOCOLS, record_protocol
from lmms_eval_eibench.provenance import (
    PROVENANCE_KEY,
    ProvenanceError,
    check_provenance,
    judge_identity,
    judge_label,
    provenance_from_task_metadata,
)

__all__ = [
    "CATEGORIES",
    "PUBLISHED_PATH",
    "SUMMARY_SCHEMA_PATH",
    "SUMMARY_SCHEMA_VERSION",
    "Entry",
    "Measure",
    "ReportError",
    "Row",
    "build_rows",
    "build_summary",
    "category_weighted_overall",
    "comparability_warnings",
    "load_published",
    "load_results",
    "render_chart",
    "render_csv",
    "render_latex",
    "render_markdown",
    "write_text_atomic",
]

CATEGORIES: tuple[str, ...] = tuple(BASIC_CATEGORIES)
# Samples per basic category in EIBench (what the paper's Overall weighs its category columns by); the
# published file repeats them and the loader checks it against these.
CATEGORY_SIZES: dict[str, int] = dict(zip(CATEGORIES, (91, 342, 462, 720)))
_TASK_RE = re.compile(r"^eibench_(?P<subset>basic|complex)(?P<suffix>_cot|_caption_text|_caption)?$")
_SUFFIX_TEMPLATE = {None: "user", "_cot": "cot", "_caption": "caption", "_caption_text": "caption_text"}

PUBLISHED_DIR = Path(__file__).resolve().parent / "published"
PUBLISHED_PATH = PUBLISHED_DIR / "paper_tables.json"
SUMMARY_SCHEMA_PATH = PUBLISHED_DIR / "summary.schema.json"
SUMMARY_SCHEMA_VERSION = 1
# Overall = sample-weighted mean of the category columns. Each printed value is rounded to 2 decimals (up to
# 0.01 off), and the paper's own rows deviate by up to 0.026: 0.05 is the tolerance its tables were checked
# with (eibench/README.md), catching transcription typos; the two rows beyond it are marked in the file.
CONSISTENCY_TOLERANCE = 0.05
MISSING = "—"


class ReportError(ValueError):
    """Bad input to a report; the message names the file (and key or row) and how to fix it."""


@dataclass(frozen=True)
class Measure:
    """A recall (0 to 100) and its standard error, either may be unknown."""

    value: float | None
    stderr: float | None = None


@dataclass(frozen=True)
class Entry:
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


@dataclass
class Row:
    """One table row: a model under one template and one judge, basic and complex side by side."""

    model: str
    template: str | None
    judge_text: str
    published: bool
    basic: Entry | None = None
    complex: Entry | None = None

    @property
    def entries(self) -> list[Entry]:
        return [e for e in (self.basic, self.complex) if e is not None]

    @property
    def notes(self) -> list[str]:
        return list(dict.fromkeys(note for e in self.entries for note in e.notes))

    @property
    def protocol(self) -> str | None:
        """The judge protocol the row's numbers follow: a published row's paper judge, or a run whose every
        entry's recorded judge settings equal a protocol's (whatever it was called when configured)."""
        if self.published:
            judge = self.entries[0].judge
            return next((p.name for p in PROTOCOLS.values() if p.paper_judge == judge), None)
        names = set()
        for entry in self.entries:
            _, nearest, differences = record_protocol(entry.provenance)
            names.add(nearest.name if nearest is not None and not differences else None)
        return names.pop() if len(names) == 1 else None


# ----------------------------------------------------------------------------------------------- reading


_SCORE_FIRST = ("judge its samples first: `eibench score OUT/<model>/<time>_samples_<task>.jsonl --json > "
                "score.json`, then `eibench report score.json`")


def _read_json(path: Path) -> Any:
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
        if path.suffix == ".jsonl" or "_samples_" in path.name:
            raise ReportError(f"{path}: this is an lmms-eval samples file (answers, one per line), not results: "
                              + _SCORE_FIRST) from None
        raise ReportError(
            f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg}); "
            "pass an lmms-eval *_results.json file or an `eibench score --json` output"
        ) from None


def _number(value: Any, where: str) -> float | None:
    """A metric value as float; lmms-eval writes "N/A" (or nothing) when it has no value."""
    if value is None or value == "N/A" or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ReportError(f"{where}: expected a number or \"N/A\", got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        return None
    return value


def _measure(value: Any, where: str, stderr: Any = None) -> Measure:
    """A metric value (a number, "N/A" or null) and its stderr, as lmms-eval and ``eibench score --json`` write them."""
    return Measure(_number(value, where), _number(stderr, f"{where} stderr"))


def _count(value: Any, where: str) -> int | None:
    """A failure count (lmms-eval writes the aggregate as a number; unknown: None)."""
    number = _number(value, where)
    return None if number is None else int(number)


def _model_name(data: Mapping[str, Any], path: Path) -> str:
    name = data.get("model_name")
    if isinstance(name, str) and name:
        return name
    config = data.get("config") if isinstance(data.get("config"), Mapping) else {}
    args = config.get("model_args")
    if isinstance(args, str):
        for part in args.split(","):
            key, _, value = part.partition("=")
            if key.strip() in ("pretrained", "model", "model_version", "model_name", "model_id", "path") and value:
                return value.strip()
    model = config.get("model")
    if isinstance(model, str) and model:
        return model
    return path.stem


def _task_shape(task: str, config: Mapping[str, Any], where: str) -> tuple[str, str | None]:
    """(subset, template) of an EIBench task: from its name, else from its config (dataset_name, metadata)."""
    match = _TASK_RE.match(task)
    if match:
        return match["subset"], _SUFFIX_TEMPLATE[match["suffix"]]
    subset = config.get("dataset_name")
    metadata = config.get("metadata") if isinstance(config.get("metadata"), Mapping) else {}
    template = metadata.get("prompt_template")
    if subset in ("basic", "complex"):
        return subset, template if isinstance(template, str) else None
    raise ReportError(
        f"{where}: cannot tell whether task {task!r} is basic or complex; EIBench tasks are named "
        "eibench_basic[_cot|_caption|_caption_text] or eibench_complex[...] (or set dataset_name: basic|complex)"
    )


def _provenance(value: Any, where: str) -> dict[str, Any] | None:
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


def _entries_from_lmms(path: Path, data: Mapping[str, Any]) -> list[Entry]:
    results = data.get("results")
    if not isinstance(results, Mapping):
        raise ReportError(f"{path}: key 'results' must be an object of task -> metrics")
    configs = data.get("configs") if isinstance(data.get("configs"), Mapping) else {}
    n_samples = data.get("n-samples") if isinstance(data.get("n-samples"), Mapping) else {}
    group_subtasks = data.get("group_subtasks") if isinstance(data.get("group_subtasks"), Mapping) else {}
    groups = {name for name, members in group_subtasks.items() if members}
    model = _model_name(data, path)
    entries: list[Entry] = []
    for task, metrics in results.items():
        if task in groups or not isinstance(metrics, Mapping):
            continue  # a group's pooled numbers repeat its members' rows
        keyed: dict[str, Any] = {}
        for key, value in metrics.items():
            name, _, filter_name = str(key).partition(",")
            if filter_name in ("none", ""):
                keyed[name] = value
        for metric in RECALL_METRICS:
            if metric not in keyed:
                continue
            where = f"{path}: results.{task}"
            config = configs.get(task) if isinstance(configs.get(task), Mapping) else {}
            subset, template = _task_shape(task, config, where)

            def stderr_of(name: str, keyed: Mapping[str, Any] = keyed, where: str = where) -> Any:
                # lmms-eval writes bootstrap, CLT and (with cluster_key, e.g. complex by image) clustered
                # stderr; the clustered one is the honest one when present.
                for suffix in ("_stderr_clustered", "_stderr", "_stderr_clt"):
                    value = keyed.get(name + suffix)
                    if _number(value, f"{where}.{name}{suffix}") is not None:
                        return value
                return None

            categories = {}
            if subset == "basic":
                for category in CATEGORIES:
                    name = f"{metric}_{category.lower()}"
                    if name in keyed:
                        categories[category] = _measure(keyed[name], f"{where}.{name}", stderr_of(name))
            counts = n_samples.get(task) if isinstance(n_samples.get(task), Mapping) else {}
            n = counts.get("effective", metrics.get("samples"))
            original = counts.get("original")
            trigger = f"{metric}_trigger"
            provenance = _metadata_provenance(config.get("metadata"), f"{path}: configs.{task}.metadata")
            entries.append(
                Entry(
                    model=model,
                    template=template,
                    subset=subset,
                    overall=_measure(keyed[metric], f"{where}.{metric}", stderr_of(metric)),
                    categories=categories,
                    metric=metric,
                    n=n if isinstance(n, int) and not isinstance(n, bool) else None,
                    trigger_recall=(
                        _measure(keyed[trigger], f"{where}.{trigger}", stderr_of(trigger)) if trigger in keyed else None
                    ),
                    judge_failures=_count(keyed.get(JUDGE_FAILURES), f"{where}.{JUDGE_FAILURES}"),
                    generation_failures=_count(keyed.get(GENERATION_FAILURES), f"{where}.{GENERATION_FAILURES}"),
                    n_subset=original if _is_count(original) else None,
                    provenance=provenance,
                    source=str(path),
                    task=task,
                )
            )
    return entries


def _entry_from_score(path: Path, data: Mapping[str, Any]) -> Entry:
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
    stderrs = data.get("per_category_stderr") if isinstance(data.get("per_category_stderr"), Mapping) else {}
    categories = {}
    for category in CATEGORIES:
        if category in per_category:
            categories[category] = _measure(
                per_category[category], f"{where}: per_category.{category}", stderrs.get(category)
            )
    unknown = sorted(set(per_category) - set(CATEGORIES))
    if unknown:
        raise ReportError(f"{where}: per_category has unknown categories {unknown}; expected {list(CATEGORIES)}")
    overall_stderr = data.get("overall_stderr", data.get("stderr"))
    provenance = data.get(PROVENANCE_KEY)
    template = data.get("template")
    task = data.get("task")
    if template is None and isinstance(task, str) and _TASK_RE.match(task):
        template = _SUFFIX_TEMPLATE[_TASK_RE.match(task)["suffix"]]
    model = data.get("model")
    n = data.get("n")
    failures = data.get("n_failed")
    generation_failures = data.get("n_generation_failed")
    n_subset = data.get("n_subset")
    return Entry(
        model=model if isinstance(model, str) and model else path.stem,
        template=template if isinstance(template, str) else None,
        subset=subset,
        overall=_measure(data["overall"], f"{where}: overall", overall_stderr),
        categories=categories,
        metric=data.get("metric") if data.get("metric") in RECALL_METRICS else RECALL,
        n=n if isinstance(n, int) and not isinstance(n, bool) else None,
        trigger_recall=(
            _measure(data["trigger_recall"], f"{where}: trigger_recall", data.get("trigger_recall_stderr"))
            if data.get("trigger_recall") is not None
            else None
        ),
        judge_failures=failures if isinstance(failures, int) and not isinstance(failures, bool) else None,
        n_subset=n_subset if _is_count(n_subset) else None,
        generation_failures=(
            generation_failures
            if isinstance(generation_failures, int) and not isinstance(generation_failures, bool)
            else None
        ),
        provenance=_provenance(provenance, f"{where}: {PROVENANCE_KEY}"),
        source=str(path),
        task=task if isinstance(task, str) else None,
    )


def _is_lmms_results(data: Any) -> bool:
    return isinstance(data, Mapping) and isinstance(data.get("results"), Mapping) and "configs" in data


def _is_score_output(data: Any) -> bool:
    return isinstance(data, Mapping) and "overall" in data and ("per_category" in data or "n" in data)


def _entries_from_file(path: Path, explicit: bool) -> tuple[list[Entry], str | None]:
    data = _read_json(path)
    if _is_lmms_results(data):
        entries = _entries_from_lmms(path, data)
        if entries:
            return entries, None
        bypassed = any("bypass" in str(key) for metrics in data["results"].values() if isinstance(metrics, Mapping)
                       for key in metrics)
        if bypassed:
            message = f"{path}: a --predict_only run (answers, no judge, no recall); {_SCORE_FIRST}"
        else:
            message = f"{path}: lmms-eval results without an EIBench recall metric ({', '.join(RECALL_METRICS)})"
    elif _is_score_output(data):
        return [_entry_from_score(path, data)], None
    elif path.suffix == ".jsonl" or (isinstance(data, Mapping) and ("doc_id" in data or "filtered_resps" in data)):
        message = f"{path}: an lmms-eval samples file (answers, one per line), not results; {_SCORE_FIRST}"
    else:
        message = f"{path}: neither an lmms-eval results file nor an `eibench score --json` output"
    if explicit:
        raise ReportError(message + "; pass the *_results.json of an eibench_* run or a score --json output")
    return [], message + "; skipped"


def load_results(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[Entry], list[str]]:
    """Read results files and folders; return the entries and notes about files skipped in folders.

    A file named explicitly must hold EIBench results (else :class:`ReportError`); inside a folder, every
    ``*.json`` file is read recursively and files of other kinds are skipped with a note.
    """
    entries: list[Entry] = []
    notes: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*.json") if p.is_file())
            found = 0
            for file in files:
                got, note = _entries_from_file(file, explicit=False)
                entries.extend(got)
                found += len(got)
                if note:
                    notes.append(note)
            if not found:
                if any(path.rglob("*_samples_eibench*.jsonl")):
                    raise ReportError(f"{path}: EIBench answers but no recall in this folder (a --predict_only run?); "
                                      + _SCORE_FIRST)
                raise ReportError(
                    f"{path}: no EIBench results in this folder (looked at {len(files)} *.json file(s)); "
                    "point at the --output_path of an lmms-eval run with eibench_* tasks"
                )
        elif path.is_file():
            entries.extend(_entries_from_file(path, explicit=True)[0])
        else:
            raise ReportError(f"{path}: no such file or folder")
    return entries, notes


# --------------------------------------------------------------------------------------------- published


def category_weighted_overall(categories: Mapping[str, float], sizes: Mapping[str, int] = CATEGORY_SIZES) -> float:
    """Overall recall implied by the category columns: the sample-weighted mean (the paper's Overall)."""
    total = sum(sizes[c] for c in CATEGORIES)
    return sum(categories[c] * sizes[c] for c in CATEGORIES) / total


def load_published(
    path: str | os.PathLike[str] = PUBLISHED_PATH,
    settings: Sequence[str] | None = None,
    judges: Sequence[str] | None = None,
) -> list[Entry]:
    """The published rows in the paper's order, validated, optionally only some settings and judges.

    A basic row whose Overall disagrees with its categories (beyond :data:`CONSISTENCY_TOLERANCE`) is an error
    unless it is marked ``overall_as_published`` with a note; a row so marked must disagree (the mark is
    never a blanket excuse).
    """
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, Mapping) or not isinstance(data.get("tables"), list):
        raise ReportError(f"{path}: expected an object with a 'tables' list")
    known_judges = data.get("judges") or {}
    known_settings = data.get("settings") or {}
    for name, wanted, known in (("--paper-setting", settings, known_settings), ("--paper-judge", judges, known_judges)):
        unknown = sorted(set(wanted or ()) - set(known))
        if unknown:
            also = " (or the protocols " + ", ".join(PROTOCOLS) + ")" if name == "--paper-judge" else ""
            raise ReportError(f"{name} {', '.join(unknown)}: the published tables have {', '.join(known)}{also}")
    sizes = data.get("category_sizes") or CATEGORY_SIZES
    if dict(sizes) != CATEGORY_SIZES:
        raise ReportError(f"{path}: category_sizes must be {CATEGORY_SIZES} (the basic subset's category counts)")
    citation = (data.get("paper") or {}).get("citation", "published")
    entries: list[Entry] = []
    for t, table in enumerate(data["tables"]):
        where = f"{path}: tables[{t}]"
        if not isinstance(table, Mapping):
            raise ReportError(f"{where}: expected an object")
        subset, table_judge, setting = table.get("subset"), table.get("judge"), table.get("setting")
        if subset not in ("basic", "complex"):
            raise ReportError(f"{where}.subset must be \"basic\" or \"complex\", got {subset!r}")
        if table_judge is not None and table_judge not in known_judges:
            raise ReportError(
                f"{where}.judge {table_judge!r} is not one of the file's judges {sorted(known_judges)} (or null)"
            )
        if setting is not None and setting not in known_settings:
            raise ReportError(f"{where}.setting {setting!r} is not one of {sorted(known_settings)} (or null)")
        if not isinstance(table.get("source"), Mapping) or not table["source"].get("where"):
            raise ReportError(f"{where}.source.where must say where the numbers were read")
        inferred = table.get("subset_inferred", False)
        setting_inferred = table.get("setting_inferred", False)
        for key, value in (("subset_inferred", inferred), ("setting_inferred", setting_inferred)):
            if not isinstance(value, bool):
                raise ReportError(f"{where}.{key} must be true or false, got {value!r}")
        if setting_inferred and not table["source"].get("note"):
            raise ReportError(f"{where}.source.note must say why the setting is inferred")
        # rows whose source does not say basic or complex carry the mark into every table and the summary
        source = f"{citation}: {table['source']['where']}" + (" (subset inferred)" if inferred else "")
        table_notes = (f"{subset}: {table['source']['note']}",) if setting_inferred else ()
        if settings is not None and setting not in settings:
            continue
        for r, row in enumerate(table.get("rows") or []):
            rwhere = f"{where}.rows[{r}]"
            model = row.get("model") if isinstance(row, Mapping) else None
            if not isinstance(model, str) or not model:
                raise ReportError(f"{rwhere}.model must be a non-empty string")
            judge = row.get("judge", table_judge)
            if judge is not None and judge not in known_judges:
                raise ReportError(f"{rwhere}.judge {judge!r} is not one of the file's judges {sorted(known_judges)}")
            if judges is not None and judge not in judges:
                continue
            overall = _number(row.get("overall"), f"{rwhere}.overall")
            if overall is None or not 0 <= overall <= 100:
                raise ReportError(f"{rwhere}.overall must be a recall between 0 and 100, got {row.get('overall')!r}")
            as_published = row.get("overall_as_published", False)
            note = row.get("note")
            if as_published and not (isinstance(note, str) and note):
                raise ReportError(f"{rwhere} ({model}): overall_as_published needs a note saying why")
            categories: dict[str, Measure] = {}
            raw_categories = row.get("categories")
            if raw_categories is not None:
                if subset != "basic" or not isinstance(raw_categories, Mapping) or set(raw_categories) != set(CATEGORIES):
                    raise ReportError(f"{rwhere}.categories must give exactly {list(CATEGORIES)} (basic tables only)")
                values = {c: _number(raw_categories[c], f"{rwhere}.categories.{c}") for c in CATEGORIES}
                if any(v is None for v in values.values()):
                    raise ReportError(f"{rwhere}.categories: every category needs a number")
                implied = category_weighted_overall(values)  # type: ignore[arg-type]
                disagrees = abs(implied - overall) > CONSISTENCY_TOLERANCE
                if disagrees and not as_published:
                    raise ReportError(
                        f"{rwhere} ({model}): Overall {overall} but the sample-weighted mean of the categories "
                        f"({'/'.join(str(CATEGORY_SIZES[c]) for c in CATEGORIES)}) is {implied:.3f}; "
                        "one of the numbers is mistyped"
                    )
                if as_published and not disagrees:
                    raise ReportError(
                        f"{rwhere} ({model}): marked overall_as_published but Overall {overall} agrees with its "
                        f"categories ({implied:.3f}); remove the mark"
                    )
                categories = {c: Measure(v) for c, v in values.items()}
            elif as_published:
                raise ReportError(f"{rwhere} ({model}): overall_as_published needs the category columns")
            row_notes = (f"{subset} Overall {overall:.2f}: {note}",) if as_published else (
                (f"{subset}: {note}",) if isinstance(note, str) and note else ()
            )
            entries.append(
                Entry(
                    model=model,
                    template=setting,
                    subset=subset,
                    overall=Measure(overall),
                    categories=categories,
                    published=True,
                    judge=judge,
                    judge_text=_published_judge_text(known_judges, judge),
                    source=source,
                    task=table.get("id"),
                    notes=table_notes + row_notes,
                )
            )
    return entries


def _published_judge_text(judges: Mapping[str, Any], judge: str | None) -> str:
    """``GPT judge (paper-gpt)``: the paper's name for the judge and the protocol that reproduces it."""
    if judge is None:
        return "judge not stated"
    protocol = judges[judge].get("protocol")
    return judges[judge]["label"] + (f" ({protocol})" if protocol else "")


def _published_judges(path: str | os.PathLike[str] = PUBLISHED_PATH) -> dict[str, Mapping[str, Any]]:
    return dict(_read_json(Path(path)).get("judges") or {})


# ---------------------------------------------------------------------------------------- rows, warnings


def _judge_text(entry: Entry) -> str:
    if entry.judge_text:
        return entry.judge_text
    if entry.provenance is not None:
        return judge_label(entry.provenance)
    return "unknown judge (no provenance)" + (" [embedding]" if entry.metric == SEMANTIC_RECALL else "")


def _template_rank(template: str | None) -> int:
    return TEMPLATES.index(template) if template in TEMPLATES else len(TEMPLATES)


def build_rows(entries: Iterable[Entry]) -> list[Row]:
    """Group entries into table rows (model x template x judge); runs first, sorted, then published in order."""
    rows: list[Row] = []
    index: dict[tuple[Any, ...], Row] = {}
    for entry in entries:
        judge_text = _judge_text(entry)
        key = (entry.published, entry.model, entry.template, judge_text, entry.metric)
        row = index.get(key)
        if row is None or getattr(row, entry.subset) is not None:
            # a second result for the same slot (e.g. two runs of one model) gets its own row
            row = Row(entry.model, entry.template, judge_text, entry.published)
            rows.append(row)
            index[key] = row
        setattr(row, entry.subset, entry)
    runs = sorted(
        (r for r in rows if not r.published),
        key=lambda r: (r.model.casefold(), r.model, _template_rank(r.template), r.judge_text),
    )
    published = [r for r in rows if r.published]
    # A run judged under a paper protocol goes beside the published rows of that protocol: at the head of its
    # setting's block in the paper's layout. Other runs come first, as before.
    counterparts = {(r.template, r.protocol) for r in published}
    beside = {id(r) for r in runs if r.protocol is not None and (r.template, r.protocol) in counterparts}
    ordered = [r for r in runs if id(r) not in beside]
    started: set[str | None] = set()
    for row in published:
        if row.template not in started:
            started.add(row.template)
            ordered += [r for r in runs if id(r) in beside and r.template == row.template]
        ordered.append(row)
    return ordered


def _comparison_key(entry: Entry, published_judges: Mapping[str, Mapping[str, Any]]) -> tuple[str, str, str] | None:
    """(judge, prompt, decoding) of an entry in comparable terms; None when it cannot be known."""
    if entry.published:
        if entry.judge is None:
            return None
        judge = published_judges[entry.judge]
        return (judge["model"], f"{judge['prompt']} (paper)", json.dumps(judge.get("decoding") or {}, sort_keys=True))
    if entry.provenance is None:
        return None
    kind, model, template, version, settings = judge_identity(entry.provenance)
    return (f"{kind}:{model}", f"{template} v{version}", json.dumps(json.loads(settings), sort_keys=True))


def _row_name(row: Row) -> str:
    name = row.model if row.template is None else f"{row.model} / {row.template}"
    return name + (" (published)" if row.published else "")


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def comparability_warnings(rows: Sequence[Row], published_path: str | os.PathLike[str] = PUBLISHED_PATH) -> list[str]:
    """Warnings when the compared rows were judged by different judges, prompt versions or decoding settings."""
    published_judges = _published_judges(published_path) if any(r.published for r in rows) else {}
    warnings: list[str] = []
    by_key: dict[tuple[str, str, str], list[str]] = {}
    unknown: list[str] = []
    for row in rows:
        keys = {_comparison_key(e, published_judges) for e in row.entries}
        for key in keys:
            if key is None:
                unknown.append(_row_name(row))
            elif not row.published:
                # the published rows are the paper's two judges by design (the Judge column says which); a run
                # is compared with them by protocol below
                by_key.setdefault(key, []).append(_row_name(row))
    if len(by_key) > 1:
        differs = []
        for position, what in enumerate(("judges", "prompt versions", "decoding settings")):
            if len({key[position] for key in by_key}) > 1:
                differs.append(what)
        lines = [
            (
                f"the compared rows were judged by different {_join(differs)}; "
                "their recalls are not directly comparable:"
            )
        ]
        for (judge, prompt, decoding), names in by_key.items():
            lines.append(f"  - {judge}, prompt {prompt}, settings {decoding}: {'; '.join(dict.fromkeys(names))}")
        warnings.append("\n".join(lines))
    if unknown and (by_key or len(unknown) > 1 or any(r.published for r in rows)):
        published = [name for name in dict.fromkeys(unknown) if name.endswith("(published)")]
        runs = [name for name in dict.fromkeys(unknown) if not name.endswith("(published)")]
        if runs:
            warnings.append(
                "no provenance (eibench_provenance) in the results of: "
                + "; ".join(runs)
                + "; cannot check that they were judged like the other rows"
            )
        if published:
            warnings.append(
                "the source of these published rows does not state their judge or prompt setting, so they may "
                "not be comparable with the other rows: " + "; ".join(published)
            )
    warnings += protocol_warnings(rows)
    metrics = {e.metric for r in rows if not r.published for e in r.entries}
    if len(metrics) > 1:
        warnings.append(
            "rows mix metrics "
            + " and ".join(sorted(metrics))
            + " (eibench_semantic_recall comes from the offline embedding judge, not an LLM judge)"
        )
    # the same model-prompt template in two versions means the models were asked different things
    versions: dict[str, set[str]] = {}
    datasets: set[str] = set()
    for row in rows:
        for entry in row.entries:
            prov = entry.provenance or {}
            if prov.get("model_prompt"):
                versions.setdefault(prov["model_prompt"]["template"], set()).add(str(prov["model_prompt"]["version"]))
            dataset = prov.get("dataset") or {}
            # the manifest fingerprint (or Hub revision) identifies the data; its location does not
            identity = dataset.get("manifest_sha256") or dataset.get("revision")
            if identity:
                datasets.add(identity)
    for template, seen in sorted(versions.items()):
        if len(seen) > 1:
            warnings.append(f"model prompt template {template} appears in versions {sorted(seen)}")
    if len(datasets) > 1:
        warnings.append(f"rows come from {len(datasets)} different dataset revisions/manifests")
    partial = [f"{_row_name(row)} {entry.subset}: {entry.n} of {entry.n_subset} samples"
               for row in rows for entry in row.entries if is_partial(entry)]
    if partial:
        warnings.append("partial runs (--limit, --allow-partial), not comparable with full ones: " + "; ".join(partial))
    return warnings


def protocol_warnings(rows: Sequence[Row]) -> list[str]:
    """Warnings for run rows shown with published rows but not judged under the protocol of any of them."""
    published = [r for r in rows if r.published]
    if not published:
        return []
    shown = {(r.template, r.protocol) for r in published}
    warnings = []
    for row in rows:
        record = next((e.provenance for e in row.entries if e.provenance is not None), None)
        if row.published or record is None:
            continue  # rows without provenance get their own warning
        label, nearest, differences = record_protocol(record)
        if not differences and (row.template, nearest.name) in shown:
            continue
        name = _row_name(row)
        if not differences:
            warnings.append(
                f"{name} follows protocol {nearest.name}, but no published {nearest.name} row of setting "
                f"{row.template} is shown (see --paper-setting / --paper-judge): nothing to put it beside"
            )
            continue
        recorded = f" (recorded protocol: {label})" if label else ""
        warnings.append(
            f"{name} was not judged like the published rows{recorded}: its judge differs from the nearest paper "
            f"protocol, {nearest.name}, in {_join(differences)}; its recall is not comparable with the paper's numbers "
            f"(judge with --protocol {nearest.name} / EIBENCH_JUDGE_PROTOCOL={nearest.name} to compare)"
        )
    return warnings


# ------------------------------------------------------------------------------------------------ tables

HEADERS = ("Model", "Template", "Judge", "Source", *CATEGORIES, "Overall", "Complex Recall")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_partial(entry: Entry | None) -> bool:
    return bool(entry and entry.n is not None and entry.n_subset is not None and entry.n < entry.n_subset)


def _fmt(measure: Measure | None, pm: str = " ± ") -> str:
    if measure is None or measure.value is None:
        return MISSING
    text = f"{measure.value:.2f}"
    if measure.stderr is not None:
        text += f"{pm}{measure.stderr:.2f}"
    return text


def _headline(entry: Entry | None, pm: str = " ± ") -> str:
    """A subset's headline recall with what the reader must know beside it: failures (each counted as 0) and a
    partial subset (n of N)."""
    if entry is None:
        return MISSING
    text = _fmt(entry.overall, pm)
    failures = (entry.judge_failures or 0) + (entry.generation_failures or 0)
    notes = [f"{failures} failed"] if failures else []
    if is_partial(entry):
        notes.append(f"{entry.n} of {entry.n_subset}")
    return text + (f" ({', '.join(notes)})" if notes else "")


def _footnotes(rows: Sequence[Row]) -> dict[str, int]:
    """Each distinct note of the rows, numbered in order of first appearance."""
    numbers: dict[str, int] = {}
    for row in rows:
        for note in row.notes:
            numbers.setdefault(note, len(numbers) + 1)
    return numbers


def _judge_cell(row: Row) -> str:
    """The judge label; a run that follows a paper protocol says which (e.g. ``[paper-gpt]``)."""
    if not row.published and row.protocol is not None:
        return f"{row.judge_text} [{row.protocol}]"
    return row.judge_text


def _cells(row: Row, pm: str = " ± ", footnotes: Mapping[str, int] | None = None) -> list[str]:
    basic, complex_ = row.basic, row.complex
    refs = "".join(f" [{k}]" for k in sorted(footnotes[n] for n in row.notes)) if footnotes else ""
    return [
        row.model,
        row.template or ("not stated" if row.published else MISSING),
        _judge_cell(row),
        ("published" if row.published else "run") + refs,
        *[_fmt(basic.categories.get(c) if basic else None, pm) for c in CATEGORIES],
        _headline(basic, pm),
        _headline(complex_, pm),
    ]


LEGEND_RUNS = (
    "Recall (0 to 100) ± standard error. Basic: per category and Overall (mean over all samples); "
    "complex: Recall. Every sample counts: \"k failed\" samples (judge or generation failures) are scored 0; "
    "\"n of N\" marks a run over part of the subset."
)
LEGEND = (
    LEGEND_RUNS + " Rows marked published are copied from Lin et al., 2025 (the EIBench repository's README "
    "tables), one row per judge (the paper prints each cell as LLaMA-3 / ChatGPT); [n] marks a note below."
)


def render_markdown(rows: Sequence[Row], warnings: Sequence[str] = ()) -> str:
    """The paper layout as a Markdown table, a legend, and the warnings as quoted notes."""

    def escape(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = [
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join(["---"] * 4 + ["---:"] * (len(HEADERS) - 4)) + "|",
    ]
    footnotes = _footnotes(rows)
    lines += ["| " + " | ".join(escape(c) for c in _cells(row, footnotes=footnotes)) + " |" for row in rows]
    lines += ["", LEGEND if any(r.published for r in rows) else LEGEND_RUNS]
    if footnotes:
        lines += [""] + [f"[{number}] {note}  " for note, number in footnotes.items()]
    for warning in warnings:
        lines += ["", "> **Warning:** " + warning.replace("\n", "\n> ")]
    return "\n".join(lines) + "\n"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}".rstrip("0").rstrip(".")


CSV_HEADERS = (
    "model",
    "template",
    "judge",
    "source",
    "metric",
    *[f"{c.lower()}{s}" for c in CATEGORIES for s in ("", "_stderr")],
    "overall",
    "overall_stderr",
    "basic_n",
    "complex_recall",
    "complex_recall_stderr",
    "complex_n",
    "note",
)


def render_csv(rows: Sequence[Row]) -> str:
    """One line per row; value and stderr in separate columns, empty when unknown (warnings go to stderr)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADERS)
    for row in rows:
        basic, complex_ = row.basic, row.complex
        metric = (basic or complex_).metric if not row.published else "published"  # type: ignore[union-attr]
        cells = [row.model, row.template or "", _judge_cell(row), "published" if row.published else "run", metric]
        for c in CATEGORIES:
            m = basic.categories.get(c) if basic else None
            cells += [_num(m.value if m else None), _num(m.stderr if m else None)]
        cells += [
            _num(basic.overall.value if basic else None),
            _num(basic.overall.stderr if basic else None),
            "" if not basic or basic.n is None else str(basic.n),
            _num(complex_.overall.value if complex_ else None),
            _num(complex_.overall.stderr if complex_ else None),
            "" if not complex_ or complex_.n is None else str(complex_.n),
            "; ".join(row.notes),
        ]
        writer.writerow(cells)
    return out.getvalue()


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "—": "--",
}


def _latex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def render_latex(rows: Sequence[Row], warnings: Sequence[str] = ()) -> str:
    """A booktabs ``tabular``; published rows below a rule; warnings as ``%`` comments."""
    lines = [f"% {LEGEND if any(r.published for r in rows) else LEGEND_RUNS}"]
    lines += ["% WARNING: " + line for w in warnings for line in w.splitlines()]
    lines += [
        r"\begin{tabular}{llll" + "r" * (len(HEADERS) - 4) + "}",
        r"\toprule",
        " & ".join(_latex(h) for h in HEADERS) + r" \\",
        r"\midrule",
    ]
    footnotes = _footnotes(rows)
    counterparts = {(r.template, r.protocol) for r in rows if r.published}
    previous = None
    for row in rows:
        # a rule before the published rows and between the paper's setting blocks (a run beside the
        # published rows of its protocol belongs to their block)
        beside = row.published or (row.protocol is not None and (row.template, row.protocol) in counterparts)
        block = ("published", row.template) if beside else ("runs",)
        if previous is not None and block != previous:
            lines.append(r"\midrule")
        previous = block
        lines.append(" & ".join(_latex(c) for c in _cells(row, footnotes=footnotes)) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    lines += [f"% [{number}] {note}" for note, number in footnotes.items()]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------- chart

CHART_COLUMNS = (*CATEGORIES, "Overall", "Complex")


def _short_judge(row: Row) -> str:
    if row.published:
        return f"published, {row.judge_text}"
    provenance = row.entries[0].provenance
    if provenance is None:
        return row.judge_text
    judge = provenance["judge"]
    return f"{judge['kind']}:{judge['model']} ({judge['prompt']['template']} v{judge['prompt']['version']})"


CHART_PAPER_MODES = ("auto", "bars", "reference")
CHART_MAX_PUBLISHED_BARS = 4


def _column_measure(row: Row, column: str) -> Measure | None:
    if column == "Complex":
        return row.complex.overall if row.complex else None
    if column == "Overall":
        return row.basic.overall if row.basic else None
    return row.basic.categories.get(column) if row.basic else None


def render_chart(rows: Sequence[Row], path: str | os.PathLike[str], title: str = "EIBench recall per category",
                 paper: str = "auto") -> Path:
    """Grouped bars: recall per category (and Overall, Complex) per row.

    Published rows are drawn as hatched bars (``paper="bars"``) or as reference lines across each column,
    one thin line per published row and one colour per setting and judge (``paper="reference"``; ``auto``: bars
    for up to four published rows, else reference, so the paper's 62 rows frame the runs' bars instead of
    crowding them). The format follows the suffix (``.png`` or ``.svg``). SVG keeps text as text, so category
    and model names stay searchable. Written atomically.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise ReportError(f"--chart {path}: the file name must end in .png or .svg")
    if paper not in CHART_PAPER_MODES:
        raise ReportError(f"--chart-paper {paper!r}: use one of {', '.join(CHART_PAPER_MODES)}")
    from .config import MissingExtra, require

    try:
        require("matplotlib", f"--chart {path}")
    except MissingExtra as exc:
        raise ReportError(str(exc)) from None
    if not rows:
        raise ReportError("nothing to chart: no rows")
    published = [r for r in rows if r.published]
    as_reference = paper == "reference" or (paper == "auto" and len(published) > CHART_MAX_PUBLISHED_BARS)
    reference = published if as_reference else []
    rows = [r for r in rows if not (as_reference and r.published)]
    # Figure + the Agg canvas directly: no pyplot, no global backend switch, safe inside other programs.
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    groups: dict[tuple[str | None, str], list[Row]] = {}
    for row in reference:
        groups.setdefault((row.template, row.judge_text), []).append(row)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "eibench"}):
        n = max(len(rows), 1)
        # legend under the axes, one line per row: the figure grows in height, not width
        fig = Figure(figsize=(10.0, 4.2 + 0.22 * (len(rows) + len(groups))), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        palette = matplotlib.colormaps["tab10"]
        for g, ((template, judge_text), members) in enumerate(groups.items()):
            colour = palette((g + 5) % 10)  # away from the first bar colours
            for m, row in enumerate(members):
                for x, column in enumerate(CHART_COLUMNS):
                    measure = _column_measure(row, column)
                    if measure is None or measure.value is None:
                        continue
                    label = None
                    if m == 0 and x == 0:
                        who = members[0].model if len(members) == 1 else f"{len(members)} rows"
                        label = f"published {template or 'setting not stated'}, {judge_text}: {who}"
                    ax.hlines(measure.value, x - 0.44, x + 0.44, colors=[colour], linewidth=1.0, alpha=0.45,
                              linestyles="dashed" if g % 2 else "solid", label=label)
        bar = 0.8 / n
        for i, row in enumerate(rows):
            values, errors = [], []
            for column in CHART_COLUMNS:
                measure = _column_measure(row, column)
                values.append(measure.value if measure and measure.value is not None else math.nan)
                errors.append(measure.stderr if measure and measure.stderr is not None else 0.0)
            xs = [x - 0.4 + bar * (i + 0.5) for x in range(len(CHART_COLUMNS))]
            label = f"{row.model} / {row.template or 'setting not stated'} — {_short_judge(row)}"
            ax.bar(
                xs,
                values,
                width=bar,
                yerr=errors if any(errors) else None,
                capsize=2,
                label=label,
                hatch="//" if row.published else None,
                alpha=0.55 if row.published else 0.95,
                edgecolor="black",
                linewidth=0.5,
            )
        ax.set_xticks(range(len(CHART_COLUMNS)), CHART_COLUMNS)
        ax.set_ylabel("recall (0 to 100)")
        ax.set_ylim(0, 100)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
        fig.legend(loc="outside lower center", fontsize="small", ncols=1, frameon=False)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".{fmt}", dir=path.parent or ".")
        os.close(fd)
        try:
            fig.savefig(tmp, format=fmt, dpi=120, metadata={"Date": None} if fmt == "svg" else None)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return path


# ----------------------------------------------------------------------------------------------- summary


def _measure_json(measure: Measure | None) -> dict[str, float | None] | None:
    if measure is None:
        return None
    return {"value": measure.value, "stderr": measure.stderr}


def _subset_json(entry: Entry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    out: dict[str, Any] = {
        "recall": _measure_json(entry.overall),
        "n": entry.n,
        "trigger_recall": _measure_json(entry.trigger_recall),
        "judge_failures": entry.judge_failures,
        "generation_failures": entry.generation_failures,
        "n_subset": entry.n_subset,
        "partial": is_partial(entry),
        "source": entry.source,
        "task": entry.task,
    }
    if entry.subset == "basic":
        out["categories"] = {c: _measure_json(entry.categories.get(c)) for c in CATEGORIES}
    return out


def build_summary(rows: Sequence[Row], warnings: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON summary for leaderboards (documented by ``published/summary.schema.json``)."""
    entries = []
    for row in rows:
        first = row.entries[0]
        entries.append(
            {
                "model": row.model,
                "template": row.template,
                "published": row.published,
                "metric": "published" if row.published else first.metric,
                "judge": {"label": row.judge_text, "paper_judge": first.judge if row.published else None,
                          "protocol": row.protocol},
                "provenance": dict(first.provenance) if first.provenance is not None else None,
                "basic": _subset_json(row.basic),
                "complex": _subset_json(row.complex),
                "notes": row.notes,
            }
        )
    return {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "benchmark": "EIBench",
        "generated_by": {"name": "lmms-eval-eibench", "version": __version__},
        "categories": list(CATEGORIES),
        "entries": entries,
        "warnings": list(warnings),
    }


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write via a temporary file in the same folder, so a failure never leaves half a report behind."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
