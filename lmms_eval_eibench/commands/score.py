"""`eibench score`: judge saved answers (or re-aggregate saved judge replies) without the model.

    eibench score OUT/model/..._samples_eibench_basic.jsonl --judge openai --json
    eibench score answers.jsonl --subset complex --judge embedding -o verdicts.jsonl
    eibench score OUT/model/..._samples_eibench_basic.jsonl --trust-judge-total --from-cache
    eibench score --from-verdicts gpt_judge_outputs.jsonl --subset basic --json

Answers are an lmms-eval `--log_samples` JSONL or the official answer format (`{"<image path>": "<answer>"}`
per line; in complex, the k-th line of an image path answers that image's k-th question). The subset is read
from the file (task name, `doc` fields) or from which subset its image paths belong to; `--subset` must agree.
Ground truth comes from the built dataset (default location, `--dataset PATH_OR_REPO`) or straight from the
official annotation files (`--annotations DIR`). Every sample of the subset must be answered (`--allow-partial`
scores fewer, and says so). Bad input stops before any judge request, naming file and line.

Exit status: 0 scored; 1 the judge cannot work (preflight, or it stopped mid-run: nothing written); 2 bad input
(nothing judged, nothing written); 3 scored, but the judge failed on some samples (each counted as 0; the
results are written; a rerun asks the judge again for those samples only, the rest come from the cache).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmms_eval_eibench.files import InputFileError, read_jsonl, write_text_atomic
from lmms_eval_eibench.vocabulary import RECALL, first_response

HELP = "judge saved answers and print recall"
DESCRIPTION = (
    "Judge saved answers (an lmms-eval --log_samples JSONL or the official answer format) against the EIBench "
    "ground truth and print recall (0-100): overall (mean over samples), per category (basic), trigger-level "
    "micro recall and the number of judge failures. With --from-verdicts, re-aggregate saved judge replies in "
    "the official format instead."
)

EXIT_OK, EXIT_JUDGE, EXIT_INPUT, EXIT_JUDGE_FAILURES = 0, 1, 2, 3


class ScoreInputError(InputFileError):
    """Unusable input; the message names the file and line (or key) and the fix."""


@dataclass(frozen=True)
class Entry:
    """One line of the input: a sample id and its text (an answer, or a judge reply)."""

    id: str
    text: str
    where: str


# ---------------------------------------------------------------------------------------------
# Arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("answers", nargs="?", metavar="ANSWERS",
                        help="lmms-eval --log_samples JSONL, or answers in the official format")
    parser.add_argument("--from-verdicts", metavar="FILE",
                        help="aggregate saved judge replies in the official format ({\"<image path>\": \"<reply>\"})")
    parser.add_argument("--subset", choices=("basic", "complex"),
                        help="the subset answered (default: read from the file; refused when the file says otherwise)")
    parser.add_argument("--allow-partial", action="store_true",
                        help="score a file that answers only some samples of the subset (the result says n of N)")
    parser.add_argument("--dataset", metavar="PATH_OR_REPO",
                        help="built dataset folder or Hub repo id (default: $EIBENCH_DATASET or the user cache)")
    parser.add_argument("--annotations", metavar="DIR",
                        help="read the ground truth from the official EIBench annotation files instead of a dataset")
    add_judge_arguments(parser)
    parser.add_argument("--from-cache", action="store_true",
                        help="send no request: read every verdict from the judge replies cached by an earlier run "
                             "(with the current parser and scoring options); a sample without one is a judge failure")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write one JSON line per sample (id, recall, verdict, reason, raw)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead of a table")
    parser.add_argument("--model", metavar="NAME",
                        help="the evaluated model's name in the summary (default: the model folder of an lmms-eval "
                             "samples path OUT/<model>/<time>_samples_<task>.jsonl)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_judge_arguments(parser: argparse.ArgumentParser) -> None:
    """The judge flags (`_settings` maps them onto JudgeSettings); `eibench judge-check` takes the same."""
    parser.add_argument("--protocol", choices=("paper-gpt", "paper-llama3"),
                        help="the paper's judge in one word (default $EIBENCH_JUDGE_PROTOCOL): "
                             "paper-gpt = openai gpt-3.5-turbo, prompt paper, temperature 0.1, --trust-judge-total; "
                             "paper-llama3 = hf Meta-Llama-3-8B-Instruct, prompt paper_llama3, temperature 0.1, "
                             "top_p 0.9, --trust-judge-total. Explicit flags and variables still override")
    parser.add_argument("--judge", choices=("openai", "hf", "embedding"), help="judge kind (default $EIBENCH_JUDGE or openai)")
    parser.add_argument("--judge-model", metavar="MODEL", help="judge model (default $EIBENCH_JUDGE_MODEL)")
    parser.add_argument("--base-url", metavar="URL", help="OpenAI-compatible base URL (default $EIBENCH_JUDGE_BASE_URL)")
    parser.add_argument("--prompt", choices=("paper", "paper_llama3", "structured"),
                        help="judge prompt (default paper; paper_llama3 for --judge hf)")
    parser.add_argument("--temperature", type=float, help="judge temperature (default 0; the paper used 0.1)")
    parser.add_argument("--concurrency", type=int, metavar="N", help="requests in flight (default 16)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="per-request timeout (default 60)")
    parser.add_argument("--cache-dir", metavar="DIR", help="verdict cache folder (default $EIBENCH_CACHE_DIR or user cache)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the verdict cache")
    parser.add_argument("--trust-judge-total", action="store_true",
                        help="recall = covered/total as the judge wrote it (the official script) instead of "
                             "covered / number of ground-truth triggers")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `score` on an `add_subparsers()` object."""
    parser = subparsers.add_parser("score", help=HELP, description=DESCRIPTION)
    add_arguments(parser)
    return parser


# ---------------------------------------------------------------------------------------------
# Reading inputs


def _json_lines(path: Path) -> list[tuple[int, Any]]:
    return list(read_jsonl(path, error=ScoreInputError))


def _is_lmms_sample(obj: Any) -> bool:
    return isinstance(obj, dict) and ("doc_id" in obj or "filtered_resps" in obj or "resps" in obj)


def _sample_id(doc: Mapping[str, Any], subset: str) -> str | None:
    if isinstance(doc.get("id"), str):
        return doc["id"]
    path = doc.get("image_path")
    if not isinstance(path, str):
        return None
    if subset == "complex":
        index = doc.get("question_index")
        return f"{path}#{index}" if isinstance(index, int) else None
    return path


def read_lmms_samples(path: Path, subset: str, ids_by_index: Sequence[str],
                      lines: Sequence[tuple[int, Any]] | None = None) -> list[Entry]:
    """Answers from an lmms-eval --log_samples JSONL (`doc.id`, else `doc_id` as the dataset row index)."""
    entries: list[Entry] = []
    for number, obj in _json_lines(path) if lines is None else lines:
        where = f"{path}:{number}"
        if not _is_lmms_sample(obj):
            raise ScoreInputError(where, "not an lmms-eval sample (no doc_id/resps)", "do not mix formats in one file")
        answer = first_response(obj.get("filtered_resps"))
        if not isinstance(answer, str):
            answer = first_response(obj.get("resps"))
        if not isinstance(answer, str):
            raise ScoreInputError(
                where, "no answer text in filtered_resps or resps",
                "pass the samples file of a generation task run with --log_samples",
            )
        doc = obj.get("doc") if isinstance(obj.get("doc"), dict) else {}
        sample_id = _sample_id(doc, subset)
        if sample_id is None:
            doc_id = obj.get("doc_id")
            if not isinstance(doc_id, int) or not 0 <= doc_id < len(ids_by_index):
                raise ScoreInputError(
                    where, f"cannot tell which sample this is: doc has no 'id' (or image_path) and doc_id "
                    f"{doc_id!r} is not a row of the {subset} split (0..{len(ids_by_index) - 1})",
                    "check --subset, or log samples with the doc's id column",
                )
            sample_id = ids_by_index[doc_id]
        entries.append(Entry(sample_id, answer, where))
    return entries


def read_official(path: Path, subset: str, what: str = "answer",
                  lines: Sequence[tuple[int, Any]] | None = None) -> list[Entry]:
    """`{"<image path>": "<text>"}` per line; in complex the k-th line of a path is question k."""
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for number, obj in _json_lines(path) if lines is None else lines:
        where = f"{path}:{number}"
        if _is_lmms_sample(obj):
            raise ScoreInputError(where, "an lmms-eval sample line", "pass this file as ANSWERS, not --from-verdicts")
        if not isinstance(obj, dict) or len(obj) != 1:
            raise ScoreInputError(where, f"expected one object {{\"<image path>\": \"<{what}>\"}} per line")
        (image_path, text), = obj.items()
        if not isinstance(text, str):
            raise ScoreInputError(where, f"the {what} for {image_path!r} must be a string, got {type(text).__name__}")
        k = seen.get(image_path, 0)
        seen[image_path] = k + 1
        if subset == "basic" and k:
            raise ScoreInputError(where, f"{image_path!r} appears again; basic has one question per image",
                                  "keep one line per image")
        sample_id = f"{image_path}#{k}" if subset == "complex" else image_path
        entries.append(Entry(sample_id, text, where))
    return entries


def _task_subset(task: str | None) -> str | None:
    match_ = re.match(r"eibench_(basic|complex)(?:_|$)", task or "")
    return match_.group(1) if match_ else None


def subset_in_file(path: Path, lines: Sequence[tuple[int, Any]]) -> tuple[str | None, str]:
    """The subset an lmms-eval samples file says it answers (its task name in the file name, its docs' ids and
    categories), with where it says so; (None, "") when it does not say. Raises ScoreInputError when the file
    contradicts itself (e.g. a complex task's file holding basic docs)."""
    evidence: list[tuple[str, str]] = []
    task_subset = _task_subset(_task_from(path))
    if task_subset:
        evidence.append((task_subset, f"{path.name}: task {_task_from(path)}"))
    for number, obj in lines:
        doc = obj.get("doc") if isinstance(obj, dict) and isinstance(obj.get("doc"), dict) else {}
        found = None
        if isinstance(doc.get("id"), str):
            found = "complex" if "#" in doc["id"] else "basic"
        elif doc.get("category") is not None:
            found = "basic"
        if found:
            evidence.append((found, f"{path}:{number}: doc {doc.get('id', doc.get('image_path'))!r}"))
    subsets = {subset for subset, _ in evidence}
    if len(subsets) > 1:
        first = {subset: where for subset, where in reversed(evidence)}
        raise ScoreInputError(
            str(path), f"the file mixes basic ({first['basic']}) and complex ({first['complex']}) answers",
            "score each subset's samples file on its own")
    return (evidence[0][0], evidence[0][1]) if evidence else (None, "")


def _official_ids(lines: Sequence[tuple[int, Any]]) -> list[str]:
    return [next(iter(obj)) for _, obj in lines if isinstance(obj, dict) and len(obj) == 1]


def infer_official_subset(path: Path, lines: Sequence[tuple[int, Any]], dataset: str | None,
                          annotations: str | None) -> tuple[str, list[dict[str, Any]]]:
    """The subset whose image paths an official-format file answers (the format does not say), and its rows."""
    paths = _official_ids(lines)
    fits = []
    for subset in ("basic", "complex"):
        rows = load_ground_truth(subset, dataset, annotations)
        known = {row["id"].split("#", 1)[0] for row in rows}
        if paths and all(p in known for p in paths) and (subset == "complex" or len(set(paths)) == len(paths)):
            fits.append((subset, rows))
    if len(fits) == 1:
        return fits[0]
    problem = ("its image paths fit both subsets" if fits else "its image paths are not all in one subset")
    raise ScoreInputError(str(path), f"cannot tell which subset this file answers ({problem})",
                          "pass --subset basic or --subset complex")


def read_answers(path: Path, subset: str, ids_by_index: Sequence[str],
                 lines: Sequence[tuple[int, Any]] | None = None) -> list[Entry]:
    lines = _json_lines(path) if lines is None else lines
    if not lines:
        raise ScoreInputError(str(path), "no answers (the file is empty)")
    if _is_lmms_sample(lines[0][1]):
        return read_lmms_samples(path, subset, ids_by_index, lines)
    return read_official(path, subset, lines=lines)


def _refuse_other_input(path: Path) -> None:
    """A results file (or another JSON document) given where answers are expected gets its own message."""
    try:
        head = path.read_text(encoding="utf-8-sig")[:4096].lstrip()
    except (OSError, UnicodeDecodeError):
        return
    if head.startswith("{") and "\n" in head and head.split("\n", 1)[0].strip() == "{":
        hint = ("an lmms-eval results file: tables come from `eibench report`" if '"results"' in head
                else "a JSON document, not JSON lines")
        raise ScoreInputError(str(path), f"this is {hint}",
                              "pass the samples file OUT/<model>/<time>_samples_<task>.jsonl (run lmms-eval with "
                              "--log_samples), or answers in the official format, one JSON object per line")


def load_ground_truth(subset: str, dataset: str | None, annotations: str | None) -> list[dict[str, Any]]:
    """The subset's rows (id, ground_truth, triggers, category), in dataset order."""
    columns = ["id", "ground_truth", "triggers", "category"]
    if annotations:
        from lmms_eval_eibench.records import load_records

        return [{c: r.as_row()[c] for c in columns} for r in load_records(annotations).subset(subset)]
    from lmms_eval_eibench.dataset import load_subset

    split = load_subset(subset, dataset)
    return split.select_columns(columns).to_list()


def match(entries: Sequence[Entry], truth: Mapping[str, Mapping[str, Any]], subset: str) -> None:
    """Every entry names a known sample of `subset`, at most once."""
    problems: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for entry in entries:
        if entry.id not in truth:
            problems.append((entry.where, f"sample {entry.id!r} is not in the {subset} ground truth"))
        elif entry.id in seen:
            problems.append((entry.where, f"sample {entry.id!r} appears twice (first at {seen[entry.id]})"))
        else:
            seen[entry.id] = entry.where
    if problems:
        (where, problem), rest = problems[0], problems[1:10]
        listed = "".join(f"\n{w}: {p}" for w, p in rest)
        more = f"\n... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise ScoreInputError(where, problem + listed + more, f"is {subset} the right subset (--subset)?")


def missing_samples(entries: Sequence[Entry], truth_ids: Sequence[str]) -> list[str]:
    """Ids of the subset that no entry answers, in dataset order."""
    answered = {entry.id for entry in entries}
    return [sample_id for sample_id in truth_ids if sample_id not in answered]


# ---------------------------------------------------------------------------------------------
# Output


def _fmt(value: float | None, err: float | None = None) -> str:
    if value is None:
        return "n/a"
    return f"{value:6.2f}" + (f" ± {err:.2f}" if err is not None else "")


def summary_json(summary: Any, subset: str, metric: str, judge: Mapping[str, Any], provenance: Any,
                 task: str | None, model: str | None = None, n_subset: int | None = None) -> dict[str, Any]:
    """The `--json` object. Every sample counts: `overall` (and the categories, trigger recall) score judge and
    generation failures as 0; `overall_judged` is over judged samples only. `n = n_judged + n_failed +
    n_generation_failed`; `partial` when `n` < `n_subset`, the subset's size."""
    from lmms_eval_eibench.scoring import BASIC_CATEGORIES, metric_values, to_percent

    per_category = {c: to_percent(summary.per_category.get(c)) for c in BASIC_CATEGORIES} if subset == "basic" else {}
    out: dict[str, Any] = {
        "subset": subset,
        "model": model,
        "metric": metric,
        "overall": to_percent(summary.overall),
        "overall_stderr": to_percent(summary.overall_stderr),
        "overall_judged": to_percent(summary.overall_judged),
        "per_category": per_category,
        "trigger_recall": to_percent(summary.trigger_recall),
        "n": summary.n,
        "n_subset": n_subset if n_subset is not None else summary.n,
        "partial": n_subset is not None and summary.n < n_subset,
        "n_judged": summary.n_judged,
        "n_failed": summary.n_failed,
        "n_generation_failed": summary.n_generation_failed,
        "judge": dict(judge),
        "metrics": metric_values(summary, metric),
        "provenance": provenance,
    }
    if task:
        out["task"] = task
    return out


def print_table(data: Mapping[str, Any]) -> None:
    judge = data["judge"]
    model = f", model {data['model']}" if data.get("model") else ""
    print(f"EIBench {data['subset']}: {data['metric']} (0-100){model}")
    print(f"judge: {judge.get('judge')} {judge.get('model')}, prompt {judge.get('prompt_template')} "
          f"v{judge.get('prompt_version')}")
    rows = [("Overall", _fmt(data["overall"], data["overall_stderr"]))]
    rows += [(c, _fmt(v)) for c, v in data["per_category"].items()]
    rows += [("Trigger recall", _fmt(data["trigger_recall"]))]
    rows += [("Judged only", _fmt(data["overall_judged"]) + "  (diagnosis: mean over judged samples)")]
    of = f" of {data['n_subset']} (PARTIAL)" if data.get("partial") else ""
    samples = (f"{data['n']}{of} (judged {data['n_judged']}, judge failures {data['n_failed']}, "
               f"generation failures {data['n_generation_failed']}; failures count as 0)")
    rows += [("Samples", samples)]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


def _task_from(path: Path) -> str | None:
    stem = path.stem
    return stem.split("_samples_", 1)[1] if "_samples_" in stem else None


# lmms-eval 0.7.3 writes OUT/<model_name_sanitized>/<%Y%m%d_%H%M%S>_samples_<task>.jsonl
_LMMS_SAMPLES_NAME = re.compile(r"^\d{8}_\d{6}_samples_.+\.jsonl$")


def model_from_path(path: Path) -> str | None:
    """The evaluated model's folder name in an lmms-eval samples path (e.g. `llava-hf__llava-1.5-7b-hf`),
    None when the path does not look like one."""
    if not _LMMS_SAMPLES_NAME.match(path.name):
        return None
    folder = path.resolve().parent.name
    return folder or None


# ---------------------------------------------------------------------------------------------
# Run


def _settings(args: argparse.Namespace) -> Any:
    from lmms_eval_eibench.judges import JudgeSettings

    return JudgeSettings.from_env(
        kind=args.judge,
        model=args.judge_model,
        base_url=args.base_url,
        prompt=args.prompt,
        temperature=args.temperature,
        concurrency=args.concurrency,
        timeout=args.timeout,
        cache_dir=args.cache_dir,
        cache=False if args.no_cache else None,
        trust_judge_total=True if args.trust_judge_total else None,
        progress=False if args.no_progress else None,
        protocol=getattr(args, "protocol", None),
    )


def check_output(output: Path, inputs: Sequence[Path]) -> None:
    """Everything that can go wrong writing `output`, checked before any judge request."""
    where = f"--output {output}"
    if output.is_dir():
        raise ScoreInputError(where, "is a folder", "give a file name, e.g. verdicts.jsonl")
    if not output.parent.is_dir():
        raise ScoreInputError(where, f"folder {output.parent} does not exist", "create it or choose another path")
    if any(output.resolve() == path.resolve() for path in inputs if path.exists()):
        raise ScoreInputError(where, "is the input file (it would be overwritten)", "choose another file name")
    if not os.access(output.parent, os.W_OK) or (output.exists() and not os.access(output, os.W_OK)):
        raise ScoreInputError(where, "cannot be written (no permission)", "choose a writable path")


def _verdicts_from_replies(entries: Sequence[Entry], truth: Mapping[str, Mapping[str, Any]], prompt: str,
                           trust_judge_total: bool) -> list[Any]:
    from lmms_eval_eibench.judges import JudgeItem, Verdict
    from lmms_eval_eibench.scoring import VerdictParseError, parse_verdict

    verdicts = []
    for entry in entries:
        item = JudgeItem.from_doc(truth[entry.id], answer="")
        try:
            parsed = parse_verdict(prompt, entry.text, item.n_triggers, trust_judge_total=trust_judge_total)
        except VerdictParseError as exc:
            verdicts.append(Verdict.failure(item, f"unparseable judge reply: {exc}", entry.text))
            continue
        verdicts.append(Verdict.from_parsed(item, parsed, entry.text))
    return verdicts


@dataclass(frozen=True)
class Inputs:
    """What `eibench score` scores, read and checked before any judge request."""

    source: Path
    subset: str
    entries: list[Entry]
    truth: dict[str, dict[str, Any]]
    n_subset: int


def read_inputs(args: argparse.Namespace) -> Inputs:
    """The answers (or judge replies), their subset and ground truth; complete unless --allow-partial."""
    source = Path(args.from_verdicts or args.answers)
    _refuse_other_input(source)
    lines = _json_lines(source)
    if not lines:
        raise ScoreInputError(str(source), "no answers (the file is empty)")
    lmms_format = _is_lmms_sample(lines[0][1])
    file_subset, evidence = subset_in_file(source, lines) if lmms_format else (None, "")
    if args.subset and file_subset and args.subset != file_subset:
        raise ScoreInputError(evidence, f"the file answers {file_subset}, not --subset {args.subset}",
                              f"drop --subset, or pass the {args.subset} samples file")
    subset = args.subset or file_subset
    truth_rows = None
    if subset is None:
        if lmms_format:
            raise ScoreInputError(str(source), "the samples do not say their subset (no task name, no doc ids)",
                                  "pass --subset basic or --subset complex")
        subset, truth_rows = infer_official_subset(source, lines, args.dataset, args.annotations)
    if truth_rows is None:
        truth_rows = load_ground_truth(subset, args.dataset, args.annotations)
    truth = {row["id"]: row for row in truth_rows}
    if args.from_verdicts:
        entries = read_official(source, subset, what="judge reply", lines=lines)
    else:
        entries = read_answers(source, subset, [row["id"] for row in truth_rows], lines)
    match(entries, truth, subset)
    missing = missing_samples(entries, [row["id"] for row in truth_rows])
    if missing and not args.allow_partial:
        shown = ", ".join(repr(m) for m in missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise ScoreInputError(
            str(source), f"{len(missing)} of the {len(truth_rows)} {subset} samples have no answer (first: {shown})",
            "answer every sample (a partial result is not comparable), or pass --allow-partial to score the "
            f"{len(entries)} answered ones; the result then says {len(entries)} of {len(truth_rows)}")
    return Inputs(source, subset, entries, truth, len(truth_rows))


def _provenance(judge_info: Mapping[str, Any], args: argparse.Namespace, n_scored: int, n_subset: int) -> Any:
    """The shared provenance record (dataset fingerprint computed from its files; raises on a tampered build)."""
    from lmms_eval_eibench import provenance

    fingerprint = revision = None
    if not args.annotations:
        from lmms_eval_eibench.dataset import fingerprint as dataset_fingerprint
        from lmms_eval_eibench.dataset import hub_revision, looks_like_repo_id, resolve

        location = resolve(args.dataset)
        revision = hub_revision(location) if looks_like_repo_id(location) else None
        fingerprint = dataset_fingerprint(args.dataset)
    fields = {k: v for k, v in judge_info.items() if k != "source"}
    return provenance.build_provenance(**provenance.judge_fields_from_engine(fields),
                                       dataset_manifest_sha256=fingerprint, dataset_revision=revision,
                                       samples={"scored": n_scored, "subset": n_subset})


def _fail(message: str, status: int) -> int:
    print(f"eibench score: {message}", file=sys.stderr)
    return status


def run(args: argparse.Namespace) -> int:
    """Score; the exit status is in the module docstring (0, 1, 2, 3)."""
    from lmms_eval_eibench import prompts
    from lmms_eval_eibench.dataset import DatasetIntegrityError, DatasetNotFound
    from lmms_eval_eibench.vocabulary import generation_failure
    from lmms_eval_eibench.judges import JudgeError, JudgeItem, Verdict, build_engine
    from lmms_eval_eibench.judges.cache import VerdictCacheError
    from lmms_eval_eibench.provenance import ProvenanceError
    from lmms_eval_eibench.scoring import summarize

    if bool(args.answers) == bool(args.from_verdicts):
        return _fail("give either ANSWERS or --from-verdicts FILE (exactly one)", EXIT_INPUT)
    if args.from_verdicts and args.from_cache:
        return _fail("--from-cache reads cached replies to answers; --from-verdicts reads saved replies: use one",
                     EXIT_INPUT)
    output = Path(args.output) if args.output else None
    try:
        settings = _settings(args)
        inputs = read_inputs(args)
        if output is not None:
            check_output(output, [inputs.source])
    except (ScoreInputError, DatasetIntegrityError, DatasetNotFound, ValueError) as exc:
        return _fail(str(exc), EXIT_INPUT)

    items = [JudgeItem.from_doc(inputs.truth[e.id], e.text) for e in inputs.entries]
    model = args.model or (None if args.from_verdicts else model_from_path(inputs.source))
    engine = None
    try:
        if args.from_verdicts:
            prompt = settings.prompt or "paper"
            judge_info: dict[str, Any] = {
                "judge": "saved-replies", "model": settings.model or "unknown", "prompt": prompt,
                "prompt_template": f"judge_{prompt}.j2", "prompt_version": prompts.template_version(f"judge_{prompt}"),
                "trust_judge_total": settings.trust_judge_total, "source": str(inputs.source),
            }
            metric = RECALL
        else:
            engine = build_engine(settings, offline=args.from_cache)
            judge_info, metric = engine.provenance(), engine.metric_name
        # the record (and the dataset's fingerprint) before any request: a bad build must not cost a paid run
        record = _provenance(judge_info, args, len(items), inputs.n_subset)
    except (DatasetIntegrityError, ProvenanceError) as exc:
        return _fail(str(exc), EXIT_INPUT)
    except VerdictCacheError as exc:
        return _fail(str(exc), EXIT_INPUT)
    except (JudgeError, OSError) as exc:
        return _fail(str(exc), EXIT_JUDGE)

    if args.from_verdicts:
        verdicts = _verdicts_from_replies(inputs.entries, inputs.truth, judge_info["prompt"], settings.trust_judge_total)
    else:
        # A generation failure (CFSA failure line, empty answer) is never judged: it counts as 0, counted apart.
        no_answer = {i: Verdict.no_answer(item, reason) for i, item in enumerate(items)
                     if (reason := generation_failure(item.answer)) is not None}
        with engine:
            try:
                engine.preflight()
            except JudgeError as exc:
                return _fail(f"judge preflight failed: {exc}", EXIT_JUDGE)
            try:
                judged = iter(engine.judge_many([item for i, item in enumerate(items) if i not in no_answer]))
            except JudgeError as exc:  # e.g. the key was revoked mid-run: stop, write nothing
                return _fail(f"the judge stopped working: {exc}", EXIT_JUDGE)
            except VerdictCacheError as exc:
                return _fail(str(exc), EXIT_INPUT)
            verdicts = [no_answer.get(i) or next(judged) for i in range(len(items))]

    summary = summarize([v.score(i.category) for v, i in zip(verdicts, items)],
                        categories=None if inputs.subset == "basic" else [])
    data = summary_json(summary, inputs.subset, metric, judge_info, record, _task_from(inputs.source),
                        model=model, n_subset=inputs.n_subset)
    if output is not None:
        write_text_atomic(output, "".join(json.dumps({
            "id": item.id, "category": item.category, "recall": verdict.recall, "failed": verdict.failed,
            "generation_failed": verdict.generation_failed, "covered": verdict.covered, "total": verdict.total,
            "reason": verdict.reason, "raw": verdict.raw, "error": verdict.error, "verdict": verdict.to_log(),
        }, ensure_ascii=False) + "\n" for verdict, item in zip(verdicts, items)))
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print_table(data)
    if data["partial"]:
        print(f"eibench score: PARTIAL: {summary.n} of {inputs.n_subset} {inputs.subset} samples scored "
              "(--allow-partial); not comparable with full runs", file=sys.stderr)
    if summary.n_generation_failed:
        print(f"eibench score: {summary.n_generation_failed} of {summary.n} answers are generation failures (a CFSA "
              "failure line or an empty answer): not judged, each counted as 0", file=sys.stderr)
    if summary.n_failed:
        how = ("they have no cached reply" if args.from_cache
               else "run the same command again to ask the judge again for those samples only")
        print(f"eibench score: the judge failed on {summary.n_failed} of {summary.n} samples, each counted as 0 "
              f"(exit {EXIT_JUDGE_FAILURES}; see 'error' in --output); {how}", file=sys.stderr)
        return EXIT_JUDGE_FAILURES
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="eibench score", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
