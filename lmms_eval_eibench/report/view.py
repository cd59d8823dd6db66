"""``eibench view``: a run (or two, side by side) as one self-contained HTML page, sample by sample.

A run is what ``eibench report`` reads, with its answers: an lmms-eval output folder, ``*_results.json`` (the
samples files beside it) or ``*_samples_<task>.jsonl``, or an ``eibench score --output`` file. Each sample joins
the dataset's question, triggers and image (a small JPEG thumbnail; an annotations-only build takes it from
``EIBENCH_IMAGE_ROOT``; a missing image is a placeholder and a count). The header holds what ``eibench report``
prints for the run(s): the table and its warnings (judge mix, unofficial data, partial), and for two runs the
``report --paired`` table, refused for the same reasons (``report/pairs.py``).

Everything the page shows is data in one JSON blob (``page_data``), escaped so that no text in it can close its
``<script type="application/json">``; the page's own script (``view_page.js``) renders it with ``textContent``
only, under a Content-Security-Policy that allows that one script (by hash) and ``data:`` images, nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmms_eval_eibench import BASIC_CATEGORIES, __version__, config
from lmms_eval_eibench.edge.lmms_outputs import (
    RESULTS_SUFFIX,
    SAMPLES_INFIX,
    is_results_name,
    sample_responses,
    samples_beside,
    task_of_samples,
)
from lmms_eval_eibench.files import InputFileError, read_jsonl
from lmms_eval_eibench.runs import RunError, RunSample, RunSamples, read_run, read_samples, results_beside, run_files
from lmms_eval_eibench.scoring import recall as scoring
from lmms_eval_eibench.scoring.length import answer_words
from lmms_eval_eibench.vocabulary import (
    ANSWER_WORDS,
    GENERATION_FAILURE,
    RECALL,
    RECALL_METRICS,
    SEMANTIC_RECALL,
    answer_text,
    task_shape,
)

__all__ = ["ViewError", "ViewRun", "page_data", "read_view_runs", "render_page", "thumbnail_uri"]

PAGE_SIZE = 50
"""Samples per page: the page builds the DOM of one page at a time, so 1,615 samples open in a second."""
THUMBNAIL_PX = 128
"""Longest side of an embedded thumbnail (JPEG): enough to see the scene, small enough for 1,636 images."""
_TEMPLATE = "view_page.html.j2"
_SCRIPT = "view_page.js"


class ViewError(InputFileError):
    """A run cannot be viewed; the message names the file (and line) and the fix."""


@dataclass(frozen=True)
class ViewSample:
    """One answered sample of a run: the answer, its length, and the judge's verdict as it was logged."""

    id: str
    answer: str
    words: int
    verdict: Mapping[str, Any]
    category: str | None


@dataclass
class ViewRun:
    """One EIBench task of one run, per sample, with what ``eibench report`` says of it."""

    label: str
    scores: RunSamples
    samples: dict[str, ViewSample]
    result: Any = None
    """The run's ``report.TaskResult`` (its results file's numbers, else computed from the samples)."""
    notes: list[str] = field(default_factory=list)

    @property
    def subset(self) -> str:
        return self.scores.subset

    @property
    def task(self) -> str:
        return self.scores.task


# ---------------------------------------------------------------------------------------------------------------
# Reading runs


def _verdict_of(line: Mapping[str, Any], metric: str) -> Mapping[str, Any]:
    item = line.get(metric)
    verdict = item.get("verdict") if isinstance(item, Mapping) else None
    return verdict if isinstance(verdict, Mapping) else {}


def _lmms_samples(path: Path, scores: RunSamples) -> dict[str, ViewSample]:
    """The answers and verdicts of an lmms-eval samples file (``runs.read_samples`` has checked its shape)."""
    samples: dict[str, ViewSample] = {}
    for _, line in read_jsonl(path, error=RunError):
        verdict = _verdict_of(line, scores.metric)
        sample_id = str(verdict.get("id") or line.get("doc_id"))
        answer = answer_text(sample_responses(line))
        words = line.get(ANSWER_WORDS)
        words = words if isinstance(words, int) and not isinstance(words, bool) else answer_words(answer)
        samples[sample_id] = ViewSample(sample_id, answer, words, verdict, scores.samples[sample_id].category)
    return samples


def _summary_result(run: ViewRun, path: Path) -> Any:
    """A ``TaskResult`` computed from the run's own verdicts (no results file holds its numbers)."""
    from lmms_eval_eibench import pipeline
    from lmms_eval_eibench.report.results import result_from_score

    verdicts = list(run.samples.values())
    summary = scoring.summarize(
        [scoring.SampleScore(recall=s.verdict.get("recall"), covered=s.verdict.get("covered"),
                             total=int(s.verdict.get("total") or 0), category=s.category,
                             failure=GENERATION_FAILURE if s.verdict.get("generation_failed") else None)
         for s in verdicts], categories=None if run.subset == "basic" else [])
    data = pipeline.score_json(summary, run.subset, run.scores.metric, {}, run.scores.provenance, run.task,
                               model=run.label, answers=[s.answer for s in verdicts])
    return result_from_score(path, data)


def _results_result(results: Path, task: str) -> Any:
    from lmms_eval_eibench.report.results import ReportError, load_results

    try:
        found, _ = load_results([results])
    except ReportError:
        return None  # e.g. a --predict_only run judged later: its numbers come from its samples
    return next((r for r in found if r.task == task), None)


def _model_of(path: Path) -> str:
    # lmms-eval writes OUT/<model>/<stamp>_samples_<task>.jsonl
    return path.parent.name if task_of_samples(path) is not None or is_results_name(path) else path.stem


def _lmms_run(scores: RunSamples) -> ViewRun:
    run = ViewRun(label=_model_of(scores.source), scores=scores, samples=_lmms_samples(scores.source, scores))
    results = results_beside(scores.source)
    run.result = _results_result(results, scores.task) if results else None
    if run.result is not None:
        run.label = run.result.model
    else:
        run.result = _summary_result(run, scores.source)
        run.notes.append(f"{scores.source}: no results file beside it; the numbers are computed from its samples")
    return run


def _score_output_run(path: Path) -> ViewRun:
    """An ``eibench score --output`` file: one line per sample (id, category, verdict, answer)."""
    samples: dict[str, ViewSample] = {}
    scores: dict[str, RunSample] = {}
    embedding = False
    for number, line in read_jsonl(path, error=ViewError):
        where = f"{path}:{number}"
        if not isinstance(line, Mapping) or not isinstance(line.get("verdict"), Mapping) or "id" not in line:
            raise ViewError(where, "not a line of `eibench score --output` (id, recall, verdict)",
                            "give the -o file of eibench score, or an lmms-eval samples/results file")
        sample_id = str(line["id"])
        if sample_id in samples:
            raise ViewError(where, f"sample {sample_id!r} appears twice", "give one run's file")
        verdict = line["verdict"]
        embedding = embedding or verdict.get("trigger_similarity") is not None
        answer = line.get("answer")
        answer = answer if isinstance(answer, str) else ""
        category = line.get("category") if isinstance(line.get("category"), str) else None
        samples[sample_id] = ViewSample(sample_id, answer, answer_words(answer), verdict, category)
        recall = verdict.get("recall")
        scores[sample_id] = RunSample(sample_id, float(recall) if isinstance(recall, (int, float)) else 0.0,
                                      category, sample_id.partition("#")[0])
    if not samples:
        raise ViewError(str(path), "no samples", "give the -o file of a finished `eibench score`")
    subset = "complex" if any("#" in i for i in samples) else "basic"  # complex ids are <image path>#<k>
    metric = SEMANTIC_RECALL if embedding else RECALL
    run_samples = RunSamples(task=f"eibench_{subset}", subset=subset, template="", metric=metric, samples=scores,
                             provenance=None, source=path)
    run = ViewRun(label=path.stem, scores=run_samples, samples=samples)
    if not any(s.answer for s in samples.values()):
        run.notes.append(f"{path}: no answers in this file (written before `eibench score -o` kept them)")
    run.notes.append(f"{path}: an `eibench score --output` file has no provenance (the judge is not recorded)")
    run.result = _summary_result(run, path)
    return run


def _first_line(path: Path) -> Any:
    return next((line for _, line in read_jsonl(path, error=ViewError)), None)


def read_view_runs(path: str | os.PathLike[str]) -> list[ViewRun]:
    """Every EIBench task in a run: a folder, results file, samples file or ``eibench score --output`` file."""
    path = Path(path)
    if path.is_dir():
        files = [s for r in sorted(path.rglob(f"*{RESULTS_SUFFIX}")) for s in samples_beside(r)]
        files = files or sorted(path.rglob(f"*{SAMPLES_INFIX}eibench_*.jsonl"))
        files = [f for f in files if task_shape(task_of_samples(f))]
        if not files:
            raise ViewError(str(path), "no EIBench samples file in this folder (*_samples_eibench_*.jsonl)",
                            "run lmms-eval with --log_samples, or give an `eibench score --output` file")
        return [_lmms_run(read_samples(f)) for f in files]
    if not path.is_file():
        raise ViewError(str(path), "no such file or folder", "give an lmms-eval output folder, results or samples "
                        "file, or an `eibench score --output` file")
    if is_results_name(path) or task_of_samples(path) is not None:
        return [_lmms_run(scores) for scores in read_run(path)]
    if path.suffix == ".json":
        raise ViewError(str(path), "a summary without samples (an `eibench score --json` output or other JSON)",
                        "give the per-sample file: `eibench score ... -o verdicts.jsonl`, or the lmms-eval samples")
    first = _first_line(path)
    if isinstance(first, Mapping) and ("doc_id" in first or any(m in first for m in RECALL_METRICS)):
        return [_lmms_run(read_samples(path))]
    return [_score_output_run(path)]


def files_read(path: str | os.PathLike[str]) -> list[Path]:
    """Every file ``read_view_runs(path)`` may read, those found in a folder or beside a file included (no output
    may replace one)."""
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file()
                      and (is_results_name(p) or task_of_samples(p) is not None))
    return run_files(path) if path.is_file() else []


def choose_task(runs: Sequence[ViewRun], task: str | None, where: str) -> ViewRun:
    """The run's task to show: the only one, or ``task`` (``--task``)."""
    if task is not None:
        chosen = [r for r in runs if r.task == task]
        if not chosen:
            raise ViewError(where, f"no task {task!r} in it (it has {', '.join(r.task for r in runs)})",
                            "give --task one of those")
        return chosen[0]
    if len(runs) > 1:
        raise ViewError(where, f"holds {len(runs)} EIBench tasks ({', '.join(r.task for r in runs)})",
                        "choose one with --task, or give its samples file")
    return runs[0]


# ---------------------------------------------------------------------------------------------------------------
# Ground truth and images


@dataclass(frozen=True)
class Truth:
    """A subset's questions, triggers and images (the encoded image bytes, or None), by EIBench id."""

    rows: dict[str, dict[str, Any]]
    images: dict[str, bytes | None]


def load_truth(subset: str, dataset: str | None = None, annotations: str | None = None,
               with_images: bool = True) -> Truth:
    """The subset from the dataset build (images from its ``image`` column) or the official annotation files;
    images missing there come from ``EIBENCH_IMAGE_ROOT`` by ``image_path`` when it is set."""
    columns = ("id", "image_path", "question", "triggers", "category")
    images: dict[str, bytes | None] = {}
    if annotations:
        from lmms_eval_eibench.data.records import load_records

        rows = [{c: r.as_row()[c] for c in columns} for r in load_records(annotations).subset(subset)]
    else:
        import datasets

        from lmms_eval_eibench.data.dataset import load_subset

        split = load_subset(subset, dataset)
        if with_images and "image" in split.column_names:
            split = split.cast_column("image", datasets.Image(decode=False))
            for image_path, image in zip(split["image_path"], split["image"]):
                if image and image.get("bytes"):
                    images[image_path] = image["bytes"]
                elif image and image.get("path") and Path(image["path"]).is_file():
                    images[image_path] = Path(image["path"]).read_bytes()
        rows = split.select_columns(list(columns)).to_list()
    root = config.image_root()
    if with_images:
        for row in rows:
            path = row["image_path"]
            if images.get(path) is None and root is not None and (root / path).is_file():
                images[path] = (root / path).read_bytes()
            images.setdefault(path, None)
    return Truth({row["id"]: row for row in rows}, images)


def thumbnail_uri(data: bytes, size: int = THUMBNAIL_PX) -> str | None:
    """A ``data:image/jpeg`` URI of the image scaled to ``size`` px on its longest side; None if unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (size, size))  # JPEG decodes at a fraction of its size: much faster
            small = image.convert("RGB")
            small.thumbnail((size, size))
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=60, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


# ---------------------------------------------------------------------------------------------------------------
# The page


def _percent(value: Any) -> float | None:
    return round(100.0 * value, 4) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _failure(verdict: Mapping[str, Any]) -> str | None:
    if verdict.get("generation_failed"):
        return "generation"
    if verdict.get("failed") or verdict.get("recall") is None:
        return "judge"
    return None


def _per_trigger(verdict: Mapping[str, Any], n: int) -> list[dict[str, Any]] | None:
    """Each trigger's decision (structured judge: covered + reason; embedding judge: covered + similarity), or
    None when the judge only counted (the paper's prompt)."""
    covered = verdict.get("trigger_covered")
    if not isinstance(covered, list) or len(covered) != n:
        return None
    similarity, reasons = verdict.get("trigger_similarity"), verdict.get("trigger_reasons")
    out = []
    for k, decided in enumerate(covered):
        entry: dict[str, Any] = {"covered": bool(decided)}
        if isinstance(similarity, list) and k < len(similarity):
            entry["similarity"] = similarity[k]
        if isinstance(reasons, list) and k < len(reasons):
            entry["reason"] = str(reasons[k])
        out.append(entry)
    return out


def _sample_side(sample: ViewSample, n_triggers: int, embedding: bool) -> dict[str, Any]:
    verdict = sample.verdict
    failure = _failure(verdict)
    return {
        "answer": sample.answer,
        "words": sample.words,
        "recall": _percent(verdict.get("recall")),
        "score": _percent(verdict.get("recall")) if failure is None else 0.0,  # counted: a failure is 0
        "failure": failure,
        "error": verdict.get("error"),
        "covered": verdict.get("covered"),
        "total": verdict.get("total"),
        "judge_total": verdict.get("judge_total"),
        "triggers": _per_trigger(verdict, n_triggers),
        # the embedding judge's "reply" is its similarities (shown per trigger); an LLM judge's is its text
        "reply": "" if embedding else str(verdict.get("raw") or ""),
        "reason": str(verdict.get("reason") or ""),
    }


def _judge_label(run: ViewRun) -> str:
    from lmms_eval_eibench.judges.identity import JudgeIdentity

    record = run.scores.provenance
    if record and record.get("judge"):
        return JudgeIdentity.from_record(record).label()
    return "unknown (no provenance)"


def _run_header(run: ViewRun) -> dict[str, Any]:
    record = run.scores.provenance or {}
    return {
        "label": run.label, "task": run.task, "subset": run.subset, "metric": run.scores.metric,
        "source": str(run.scores.source), "judge": _judge_label(run),
        "model_prompt": record.get("model_prompt"), "dataset": record.get("dataset"),
        "plugin": record.get("plugin"), "generation": record.get("generation"),
    }


def _report_text(runs: Sequence[ViewRun]) -> tuple[str, list[str]]:
    """The ``eibench report`` table of the run(s) and its warnings, as that command prints them."""
    from lmms_eval_eibench.report.compare import build_rows, comparability_warnings
    from lmms_eval_eibench.report.render import render_markdown

    rows = build_rows([r.result for r in runs])
    warnings = comparability_warnings(rows)
    return render_markdown(rows, warnings), warnings


def paired_check(a: ViewRun, b: ViewRun) -> str:
    """The ``report --paired`` table of two runs; raises ``RunError`` with its refusal when they cannot be
    compared sample by sample (other subset, judge, prompt, dataset or samples)."""
    from lmms_eval_eibench.report.pairs import paired_rows, render_paired_markdown

    return render_paired_markdown(paired_rows(a.scores, b.scores), f"{a.label} ({a.scores.source})",
                                  f"{b.label} ({b.scores.source})")


def page_data(runs: Sequence[ViewRun], truth: Truth, thumbnail_px: int = THUMBNAIL_PX) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data: header, samples (in dataset order), thumbnails."""
    first = runs[0]
    missing = [i for i in first.samples if i not in truth.rows]
    if missing:
        raise ViewError(str(first.scores.source), f"{len(missing)} sample(s) are not in the dataset (e.g. "
                        f"{missing[0]!r})", "give the dataset the run used (--dataset, or $EIBENCH_DATASET)")
    embedding = [r.scores.metric == SEMANTIC_RECALL for r in runs]
    images: dict[str, str] = {}
    image_keys: dict[str, str] = {}
    n_missing = 0
    samples = []
    for sample_id, row in truth.rows.items():
        if sample_id not in first.samples:
            continue
        image_path = row["image_path"]
        if image_path not in image_keys:
            data = truth.images.get(image_path)
            uri = thumbnail_uri(data, thumbnail_px) if data else None
            key = f"i{len(image_keys)}"
            image_keys[image_path] = key
            if uri is None:
                n_missing += 1
            else:
                images[key] = uri
        n = len(row["triggers"])
        samples.append({
            "id": sample_id, "category": row.get("category"), "image_path": image_path,
            "image": image_keys[image_path] if image_keys[image_path] in images else None,
            "question": row["question"], "triggers": list(row["triggers"]),
            "runs": [_sample_side(r.samples[sample_id], n, emb) for r, emb in zip(runs, embedding)],
        })
    report, warnings = _report_text(runs)
    notes = [note for r in runs for note in r.notes]
    if n_missing:
        notes.append(f"{n_missing} of {len(image_keys)} images not found (a placeholder is shown): build the dataset "
                     f"with images, or set {config.IMAGE_ROOT_ENV} to the folder holding the official paths")
    paired = paired_check(runs[0], runs[1]) if len(runs) == 2 else None
    return {
        "version": __version__, "subset": first.subset, "categories": list(BASIC_CATEGORIES),
        "runs": [_run_header(r) for r in runs], "report": report, "warnings": warnings, "notes": notes,
        "paired": paired, "page_size": PAGE_SIZE, "samples": samples, "images": images,
        "images_missing": n_missing, "images_total": len(image_keys),
    }


def script_json(data: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&`` appears raw, so
    ``</script>`` or ``<!--`` in an answer cannot end the element; U+2028/9 escaped as well."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                          ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def render_page(data: Mapping[str, Any]) -> str:
    """The HTML page: the template, the inline script (allowed by its hash, nothing else may run) and the data."""
    import jinja2
    from markupsafe import Markup

    here = Path(__file__).parent
    script = (here / _SCRIPT).read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(here), autoescape=True, keep_trailing_newline=True)
    labels = " vs ".join(run["label"] for run in data["runs"])
    return env.get_template(_TEMPLATE).render(title=f"EIBench {data['subset']}: {labels}", script=Markup(script),
                                              script_hash=digest, data=Markup(script_json(data)))
