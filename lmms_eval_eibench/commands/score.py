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
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HELP = "judge saved answers and print recall"
DESCRIPTION = (
    "Judge saved answers (an lmms-eval --log_samples JSONL or the official answer format) against the EIBench "
    "ground truth and print recall (0-100): overall (mean over samples), per category (basic), trigger-level "
    "micro recall and the number of judge failures. With --from-verdicts, re-aggregate saved judge replies in "
    "the official format instead."
)

EXIT_OK, EXIT_JUDGE, EXIT_INPUT = 0, 1, 2


class ScoreInputError(ValueError):
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
    parser.add_argument("--subset", choices=("basic", "complex"), required=True)
    parser.add_argument("--dataset", metavar="PATH_OR_REPO",
                        help="built dataset folder or Hub repo id (default: $EIBENCH_DATASET or the user cache)")
    parser.add_argument("--annotations", metavar="DIR",
                        help="read the ground truth from the official EIBench annotation files instead of a dataset")
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
    parser.add_argument("--output", metavar="FILE", help="write one JSON line per sample (id, recall, verdict, reason, raw)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead of a table")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `score` on an `add_subparsers()` object."""
    parser = subparsers.add_parser("score", help=HELP, description=DESCRIPTION)
    add_arguments(parser)
    return parser


# ---------------------------------------------------------------------------------------------
# Reading inputs


def _json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise ScoreInputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise ScoreInputError(f"{path}:{number}: not valid JSON ({exc.msg}); each line must be one JSON object") from None


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


def read_lmms_samples(path: Path, subset: str, ids_by_index: Sequence[str]) -> list[Entry]:
    """Answers from an lmms-eval --log_samples JSONL (`doc.id`, else `doc_id` as the dataset row index)."""
    entries: list[Entry] = []
    for number, obj in _json_lines(path):
        where = f"{path}:{number}"
        if not _is_lmms_sample(obj):
            raise ScoreInputError(f"{where}: not an lmms-eval sample (no doc_id/resps); do not mix formats in one file")
        answer = _first_text(obj.get("filtered_resps"))
        if answer is None:
            answer = _first_text(obj.get("resps"))
        if answer is None:
            raise ScoreInputError(
                f"{where}: no answer text in filtered_resps or resps; was the file written by a generation task "
                "with --log_samples?"
            )
        doc = obj.get("doc") if isinstance(obj.get("doc"), dict) else {}
        sample_id = _sample_id(doc, subset)
        if sample_id is None:
            doc_id = obj.get("doc_id")
            if not isinstance(doc_id, int) or not 0 <= doc_id < len(ids_by_index):
                raise ScoreInputError(
                    f"{where}: cannot tell which sample this is: doc has no 'id' (or image_path) and doc_id "
                    f"{doc_id!r} is not a row of the {subset} split (0..{len(ids_by_index) - 1})"
                )
            sample_id = ids_by_index[doc_id]
        entries.append(Entry(sample_id, answer, where))
    return entries


def read_official(path: Path, subset: str, what: str = "answer") -> list[Entry]:
    """`{"<image path>": "<text>"}` per line; in complex the k-th line of a path is question k."""
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for number, obj in _json_lines(path):
        where = f"{path}:{number}"
        if _is_lmms_sample(obj):
            raise ScoreInputError(f"{where}: an lmms-eval sample line; pass this file as ANSWERS, not --from-verdicts")
        if not isinstance(obj, dict) or len(obj) != 1:
            raise ScoreInputError(f"{where}: expected one object {{\"<image path>\": \"<{what}>\"}} per line")
        (image_path, text), = obj.items()
        if not isinstance(text, str):
            raise ScoreInputError(f"{where}: the {what} for {image_path!r} must be a string, got {type(text).__name__}")
        k = seen.get(image_path, 0)
        seen[image_path] = k + 1
        if subset == "basic" and k:
            raise ScoreInputError(f"{where}: {image_path!r} appears again; basic has one question per image")
        sample_id = f"{image_path}#{k}" if subset == "complex" else image_path
        entries.append(Entry(sample_id, text, where))
    return entries


def read_answers(path: Path, subset: str, ids_by_index: Sequence[str]) -> list[Entry]:
    first = next(_json_lines(path), None)
    if first is None:
        raise ScoreInputError(f"{path}: no answers (the file is empty)")
    if _is_lmms_sample(first[1]):
        return read_lmms_samples(path, subset, ids_by_index)
    return read_official(path, subset)


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
    problems: list[str] = []
    seen: dict[str, str] = {}
    for entry in entries:
        if entry.id not in truth:
            problems.append(f"{entry.where}: sample {entry.id!r} is not in the {subset} ground truth")
        elif entry.id in seen:
            problems.append(f"{entry.where}: sample {entry.id!r} appears twice (first at {seen[entry.id]})")
        else:
            seen[entry.id] = entry.where
    if problems:
        more = f"\n... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise ScoreInputError("\n".join(problems[:10]) + more + f"\n(is --subset {subset} the right subset?)")


# ---------------------------------------------------------------------------------------------
# Output


def _write_atomic(path: Path, lines: Sequence[str]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            handle.writelines(line + "\n" for line in lines)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _fmt(value: float | None, err: float | None = None) -> str:
    if value is None:
        return "n/a"
    return f"{value:6.2f}" + (f" ± {err:.2f}" if err is not None else "")


def summary_json(summary: Any, subset: str, metric: str, judge: Mapping[str, Any], provenance: Any,
                 task: str | None) -> dict[str, Any]:
    from lmms_eval_eibench.scoring import BASIC_CATEGORIES, metric_values, to_percent

    per_category = {c: to_percent(summary.per_category.get(c)) for c in BASIC_CATEGORIES} if subset == "basic" else {}
    out: dict[str, Any] = {
        "subset": subset,
        "metric": metric,
        "overall": to_percent(summary.overall),
        "overall_stderr": to_percent(summary.overall_stderr),
        "per_category": per_category,
        "trigger_recall": to_percent(summary.trigger_recall),
        "n": summary.n,
        "n_judged": summary.n_judged,
        "n_failed": summary.n_failed,
        "judge": dict(judge),
        "metrics": metric_values(summary, metric),
        "provenance": provenance,
    }
    if task:
        out["task"] = task
    return out


def print_table(data: Mapping[str, Any]) -> None:
    judge = data["judge"]
    print(f"EIBench {data['subset']}: {data['metric']} (0-100)")
    print(f"judge: {judge.get('judge')} {judge.get('model')}, prompt {judge.get('prompt_template')} "
          f"v{judge.get('prompt_version')}")
    rows = [("Overall", _fmt(data["overall"], data["overall_stderr"]))]
    rows += [(c, _fmt(v)) for c, v in data["per_category"].items()]
    rows += [("Trigger recall", _fmt(data["trigger_recall"]))]
    rows += [("Samples", f"{data['n']} (judged {data['n_judged']}, judge failures {data['n_failed']})")]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


def _task_from(path: Path) -> str | None:
    stem = path.stem
    return stem.split("_samples_", 1)[1] if "_samples_" in stem else None


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

    from lmms_eval_eibench.judges import JudgeItem

    items = [JudgeItem.from_doc(truth[e.id], e.text) for e in entries]
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
            verdicts = engine.judge_many(items)
            metric = engine.metric_name
            judge_info = engine.provenance()

    summary = summarize([v.score(i.category) for v, i in zip(verdicts, items)],
                        categories=None if args.subset == "basic" else [])
    data = summary_json(summary, args.subset, metric, judge_info, _provenance(judge_info, args), _task_from(source))
    if output is not None:
        lines = []
        for verdict, item in zip(verdicts, items):
            log = verdict.to_log()
            lines.append(json.dumps({
                "id": item.id, "category": item.category, "recall": verdict.recall, "failed": verdict.failed,
                "covered": verdict.covered, "total": verdict.total, "reason": verdict.reason, "raw": verdict.raw,
                "error": verdict.error, "verdict": log,
            }, ensure_ascii=False))
        _write_atomic(output, lines)
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print_table(data)
    if summary.n_failed:
        print(f"eibench score: the judge failed on {summary.n_failed} of {summary.n} samples; they are excluded "
              "from the means (see 'error' in --output)", file=sys.stderr)
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
