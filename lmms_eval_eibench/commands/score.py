"""`eibench score`: judge saved answers (or re-aggregate saved judge replies) without the model.

    eibench score OUT/model/..._samples_eibench_basic.jsonl --subset basic --judge openai --json
    eibench score answers.jsonl --subset complex --judge embedding --output verdicts.jsonl
    eibench score --from-verdicts gpt_judge_outputs.jsonl --subset basic --json

Answers are an lmms-eval `--log_samples` JSONL or the official answer format (`{"<image path>": "<answer>"}`
per line; in complex, the k-th line of an image path answers that image's k-th question). Ground truth
comes from the built dataset (default location, `--dataset PATH_OR_REPO`) or straight from the official
annotation files (`--annotations DIR`). Bad input stops before any judging, naming file and line.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmms_eval_eibench.files import InputFileError, read_jsonl, write_text_atomic

HELP = "judge saved answers and print recall"
DESCRIPTION = (
    "Judge saved answers (an lmms-eval --log_samples JSONL or the official answer format) against the EIBench "
    "ground truth and print recall (0-100): overall (mean over samples), per category (basic), trigger-level "
    "micro recall and the number of judge failures. With --from-verdicts, re-aggregate saved judge replies in "
    "the official format instead."
)

EXIT_OK, EXIT_JUDGE, EXIT_INPUT = 0, 1, 2


class ScoreInputError(InputFileError):
    """Unusable input; the message names the file and line (or key) and the fix."""


GENERATION_FAILURES = "eibench_generation_failures"  # the lmms-eval metric of the same count (lmms.py)


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
    parser.add_argument("--subset", choices=("basic", "complex"), required=True)
    parser.add_argument("--dataset", metavar="PATH_OR_REPO",
                        help="built dataset folder or Hub repo id (default: $EIBENCH_DATASET or the user cache)")
    parser.add_argument("--annotations", metavar="DIR",
                        help="read the ground truth from the official EIBench annotation files instead of a dataset")
    add_judge_arguments(parser)
    parser.add_argument("--output", metavar="FILE", help="write one JSON line per sample (id, recall, verdict, reason, raw)")
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


def _first_text(value: Any) -> str | None:
    """The first string in a (possibly nested) list of responses."""
    while isinstance(value, list) and value:
        value = value[0]
    return value if isinstance(value, str) else None


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
        answer = _first_text(obj.get("filtered_resps"))
        if answer is None:
            answer = _first_text(obj.get("resps"))
        if answer is None:
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


def read_answers(path: Path, subset: str, ids_by_index: Sequence[str]) -> list[Entry]:
    lines = _json_lines(path)
    if not lines:
        raise ScoreInputError(str(path), "no answers (the file is empty)")
    if _is_lmms_sample(lines[0][1]):
        return read_lmms_samples(path, subset, ids_by_index, lines)
    return read_official(path, subset, lines=lines)


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
    """Every entry names a known sample, at most once."""
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
        raise ScoreInputError(where, problem + listed + more, f"is --subset {subset} the right subset?")


# ---------------------------------------------------------------------------------------------
# Output


def _fmt(value: float | None, err: float | None = None) -> str:
    if value is None:
        return "n/a"
    return f"{value:6.2f}" + (f" ± {err:.2f}" if err is not None else "")


def summary_json(summary: Any, subset: str, metric: str, judge: Mapping[str, Any], provenance: Any,
                 task: str | None, model: str | None = None, n_generation_failed: int = 0) -> dict[str, Any]:
    """The `--json` object. `summary` covers the samples sent to the judge; `n` adds the generation failures
    (answers never judged), so `n = n_judged + n_failed + n_generation_failed`."""
    from lmms_eval_eibench.scoring import BASIC_CATEGORIES, metric_values, to_percent

    per_category = {c: to_percent(summary.per_category.get(c)) for c in BASIC_CATEGORIES} if subset == "basic" else {}
    metrics = metric_values(summary, metric)
    metrics[GENERATION_FAILURES] = float(n_generation_failed)
    out: dict[str, Any] = {
        "subset": subset,
        "model": model,
        "metric": metric,
        "overall": to_percent(summary.overall),
        "overall_stderr": to_percent(summary.overall_stderr),
        "per_category": per_category,
        "trigger_recall": to_percent(summary.trigger_recall),
        "n": summary.n + n_generation_failed,
        "n_judged": summary.n_judged,
        "n_failed": summary.n_failed,
        "n_generation_failed": n_generation_failed,
        "judge": dict(judge),
        "metrics": metrics,
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
    samples = (f"{data['n']} (judged {data['n_judged']}, judge failures {data['n_failed']}, "
               f"generation failures {data['n_generation_failed']})")
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


def generation_failure(answer: str) -> str | None:
    """Why the model produced no answer (a CFSA failure line, an empty answer), else None: the lmms-eval hooks'
    own rule (`lmms.generation_failure`, defined in `failures.py`), so both paths count the same samples."""
    from lmms_eval_eibench.failures import generation_failure as reason

    return reason(answer)


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


def run(args: argparse.Namespace) -> int:
    """Score; 0 on success, 1 when the judge cannot work (or failed on every sample), 2 on bad input."""
    from lmms_eval_eibench.judges import JudgeError, build_engine
    from lmms_eval_eibench.scoring import summarize

    if bool(args.answers) == bool(args.from_verdicts):
        print("eibench score: give either ANSWERS or --from-verdicts FILE (exactly one)", file=sys.stderr)
        return EXIT_INPUT
    output = Path(args.output) if args.output else None
    if output is not None and not output.parent.is_dir():
        print(f"eibench score: --output {output}: folder {output.parent} does not exist", file=sys.stderr)
        return EXIT_INPUT
    try:
        settings = _settings(args)
        truth_rows = load_ground_truth(args.subset, args.dataset, args.annotations)
        truth = {row["id"]: row for row in truth_rows}
        if args.from_verdicts:
            source = Path(args.from_verdicts)
            entries = read_official(source, args.subset, what="judge reply")
        else:
            source = Path(args.answers)
            entries = read_answers(source, args.subset, [row["id"] for row in truth_rows])
        match(entries, truth, args.subset)
    except (ScoreInputError, ValueError, FileNotFoundError) as exc:
        print(f"eibench score: {exc}", file=sys.stderr)
        return EXIT_INPUT

    from lmms_eval_eibench.judges import JudgeItem, Verdict

    items = [JudgeItem.from_doc(truth[e.id], e.text) for e in entries]
    # A generation failure (CFSA failure line, empty answer) is never judged nor scored: counted on its own.
    generation_failed: dict[int, Verdict] = {}
    if not args.from_verdicts:
        for index, item in enumerate(items):
            reason = generation_failure(item.answer)
            if reason is not None:
                generation_failed[index] = Verdict.failure(item, f"generation failed: {reason}")
    to_judge = [item for index, item in enumerate(items) if index not in generation_failed]
    if args.from_verdicts:
        prompt = settings.prompt or "paper"
        verdicts = _verdicts_from_replies(entries, truth, prompt, settings.trust_judge_total)
        metric = "eibench_recall"
        from lmms_eval_eibench import prompts

        judge_info: dict[str, Any] = {
            "judge": "saved-replies", "model": settings.model or "unknown", "prompt": prompt,
            "prompt_template": f"judge_{prompt}.j2", "prompt_version": prompts.template_version(f"judge_{prompt}"),
            "trust_judge_total": settings.trust_judge_total, "source": str(source),
        }
    else:
        try:
            engine = build_engine(settings)
        except (JudgeError, OSError) as exc:
            print(f"eibench score: {exc}", file=sys.stderr)
            return EXIT_JUDGE
        with engine:
            try:
                engine.preflight()
            except JudgeError as exc:
                print(f"eibench score: judge preflight failed: {exc}", file=sys.stderr)
                return EXIT_JUDGE
            try:
                judged = iter(engine.judge_many(to_judge))
            except JudgeError as exc:  # e.g. the key was revoked mid-run: stop, write nothing
                print(f"eibench score: the judge stopped working: {exc}", file=sys.stderr)
                return EXIT_JUDGE
            verdicts = [generation_failed.get(index) or next(judged) for index in range(len(items))]
            metric = engine.metric_name
            judge_info = engine.provenance()

    summary = summarize([v.score(i.category) for index, (v, i) in enumerate(zip(verdicts, items))
                         if index not in generation_failed],
                        categories=None if args.subset == "basic" else [])
    model = args.model or (None if args.from_verdicts else model_from_path(source))
    data = summary_json(summary, args.subset, metric, judge_info, _provenance(judge_info, args), _task_from(source),
                        model=model, n_generation_failed=len(generation_failed))
    if output is not None:
        lines = []
        for index, (verdict, item) in enumerate(zip(verdicts, items)):
            log = verdict.to_log()
            lines.append(json.dumps({
                "id": item.id, "category": item.category, "recall": verdict.recall, "failed": verdict.failed,
                "generation_failed": index in generation_failed, "covered": verdict.covered, "total": verdict.total,
                "reason": verdict.reason, "raw": verdict.raw, "error": verdict.error, "verdict": log,
            }, ensure_ascii=False))
        write_text_atomic(output, "".join(line + "\n" for line in lines))
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print_table(data)
    if generation_failed:
        print(f"eibench score: {len(generation_failed)} of {len(items)} answers are generation failures (a CFSA "
              "failure line or an empty answer); they were not judged and are excluded from the means",
              file=sys.stderr)
    if summary.n_failed:
        print(f"eibench score: the judge failed on {summary.n_failed} of {summary.n} judged samples; they are "
              "excluded from the means (see 'error' in --output)", file=sys.stderr)
    return EXIT_JUDGE if summary.n and summary.n_failed == summary.n else EXIT_OK


def _provenance(judge_info: Mapping[str, Any], args: argparse.Namespace) -> Any:
    """The shared provenance record, when the provenance module can build one (else None)."""
    try:
        from lmms_eval_eibench import provenance
    except ImportError:
        return None
    fingerprint = None
    if not args.annotations:
        try:
            from lmms_eval_eibench.dataset import fingerprint as dataset_fingerprint

            fingerprint = dataset_fingerprint(args.dataset)
        except ImportError:
            pass
    fields = {k: v for k, v in judge_info.items() if k != "source"}
    return provenance.build_provenance(**provenance.judge_fields_from_engine(fields),
                                       dataset_manifest_sha256=fingerprint)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="eibench score", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
