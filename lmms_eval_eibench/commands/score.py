"""`eibench score`: judge saved answers (or re-aggregate saved judge replies) without the model.

    eibench score OUT/model/..._samples_eibench_basic.jsonl --judge openai --json
    eibench score answers.jsonl --subset complex --judge embedding -o verdicts.jsonl
    eibench score OUT/model/..._samples_eibench_basic.jsonl --trust-judge-total --from-cache
    eibench score --from-verdicts gpt_judge_outputs.jsonl --subset basic --json
    eibench score answers.jsonl --judge embedding --word-budget 100 --json

Answers are an lmms-eval `--log_samples` JSONL or the official answer format (`{"<image path>": "<answer>"}`
per line; in complex, the k-th line of an image path answers that image's k-th question). The subset is read
from the file (task name, `doc` fields) or from which subset its image paths belong to; `--subset` must agree.
Ground truth comes from the built dataset (default location, `--dataset PATH_OR_REPO`) or straight from the
official annotation files (`--annotations DIR`). Every sample of the subset must be answered (`--allow-partial`
scores fewer, and says so). Bad input stops before any judge request, naming file and line.

Exit status: 0 scored; 1 the judge cannot work (preflight, or it stopped mid-run: nothing written); 2 bad input
(nothing judged, nothing written); 3 scored, but the judge failed on some samples (each counted as 0; the
results are written; a rerun asks the judge again for those samples only, the rest come from the cache);
130 interrupted (Ctrl-C): nothing written, the verdicts received so far are in the cache and a rerun resumes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmms_eval_eibench import SUBSETS
from lmms_eval_eibench.answers import (
    SampleText,
    ScoreInputError,
    model_from_path,
    read_inputs,
    task_from_path,
)
from lmms_eval_eibench.commands.flags import add_judge_arguments, judge_settings
from lmms_eval_eibench.files import InputFileError, check_output_file, write_text_atomic
from lmms_eval_eibench.scoring.length import SUGGESTED_WORD_BUDGET, parse_word_budget
from lmms_eval_eibench.vocabulary import RECALL, model_name

if TYPE_CHECKING:  # the judges load on use
    from lmms_eval_eibench.judges import JudgeIdentity

HELP = "judge saved answers and print recall"
DESCRIPTION = (
    "Judge saved answers (an lmms-eval --log_samples JSONL or the official answer format) against the EIBench "
    "ground truth and print recall (0-100): overall (mean over samples), per category (basic), trigger-level "
    "micro recall and the number of judge failures. With --from-verdicts, re-aggregate saved judge replies in "
    "the official format instead."
)

EXIT_OK, EXIT_JUDGE, EXIT_INPUT, EXIT_JUDGE_FAILURES = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C


# ---------------------------------------------------------------------------------------------
# Arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("answers", nargs="?", metavar="ANSWERS",
                        help="lmms-eval --log_samples JSONL, or answers in the official format")
    parser.add_argument("--from-verdicts", metavar="FILE",
                        help="aggregate saved judge replies in the official format ({\"<image path>\": \"<reply>\"})")
    parser.add_argument("--subset", choices=SUBSETS,
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
    parser.add_argument("--word-budget", metavar="N",
                        help="also judge every answer cut to its first N words (whole words) and report "
                             f"overall_at_budget; answers within N words keep their verdict (suggested: "
                             f"{SUGGESTED_WORD_BUDGET}; docs/judging.md, \"Length\")")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write one JSON line per sample (id, recall, verdict, reason, raw)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead of a table")
    parser.add_argument("--model", metavar="NAME",
                        help="the evaluated model's name in the summary (default: the model of the lmms-eval results "
                             "file beside the samples, else its folder OUT/<model>/<time>_samples_<task>.jsonl; "
                             "named as `eibench report` names it: the last two parts of a path or Hub id)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `score` on an `add_subparsers()` object."""
    parser = subparsers.add_parser("score", help=HELP, description=DESCRIPTION)
    add_arguments(parser)
    return parser


# ---------------------------------------------------------------------------------------------
# Output


def _table_cell(value: float | None, err: float | None = None) -> str:
    """A 0-100 figure of the table, with its stderr when there is one."""
    if value is None:
        return "n/a"
    return f"{value:6.2f}" + (f" ± {err:.2f}" if err is not None else "")


def print_recall_table(data: Mapping[str, Any], judge: JudgeIdentity) -> None:
    """The recall table of `score_json`'s `data`, judged by `judge` (a `JudgeIdentity`)."""
    model = f", model {data['model']}" if data.get("model") else ""
    print(f"EIBench {data['subset']}: {data['metric']} (0-100){model}")
    print(f"judge: {judge.title()}")
    rows = [("Overall", _table_cell(data["overall"], data["overall_stderr"]))]
    rows += [(c, _table_cell(v)) for c, v in data["per_category"].items()]
    rows += [("Trigger recall", _table_cell(data["trigger_recall"]))]
    rows += [("Judged only", _table_cell(data["overall_judged"]) + "  (diagnosis: mean over judged samples)")]
    if "word_budget" in data:
        rows += [(f"At {data['word_budget']} words", _table_cell(data["overall_at_budget"])
                  + "  (every answer cut to its first N words)")]
    if data.get("answer_words") is not None:
        rows += [("Answer words", f"{data['answer_words']:6.1f}  (mean per answer; failures as 0)")]
    of = f" of {data['n_subset']} (PARTIAL)" if data.get("partial") else ""
    samples = (f"{data['n']}{of} (judged {data['n_judged']}, judge failures {data['n_failed']}, "
               f"generation failures {data['n_generation_failed']}; failures count as 0)")
    rows += [("Samples", samples)]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


# ---------------------------------------------------------------------------------------------
# Run


def check_output(output: Path, inputs: Sequence[Path]) -> None:
    """Everything that can go wrong writing `output`, checked before any judge request."""
    try:
        check_output_file(output, "--output", inputs)
    except InputFileError as err:
        raise ScoreInputError(err.where, err.problem, err.fix) from None


def verdicts_from_saved_replies(items: Sequence[Any], replies: Sequence[SampleText], prompt: str,
                                trust_judge_total: bool) -> list[Any]:
    """The verdict in each saved judge reply (official format), read with the current parser; an unreadable
    reply is a judge failure."""
    from lmms_eval_eibench.judges.base import Verdict, verdict_from_reply
    from lmms_eval_eibench.scoring.verdict_parser import VerdictParseError

    verdicts = []
    for item, reply in zip(items, replies):
        try:
            verdicts.append(verdict_from_reply(item, reply.text, prompt, trust_judge_total=trust_judge_total))
        except VerdictParseError as exc:
            verdicts.append(Verdict.failure(item, f"unparseable judge reply: {exc}", reply.text))
    return verdicts


def _fail(message: str, status: int) -> int:
    print(f"eibench score: {message}", file=sys.stderr)
    return status


def run(args: argparse.Namespace) -> int:
    """Score; the exit status is in the module docstring (0, 1, 2, 3)."""
    from lmms_eval_eibench import pipeline, prompts
    from lmms_eval_eibench.data.dataset import DatasetIntegrityError, DatasetNotFound
    from lmms_eval_eibench.judges import (
        JudgeError,
        JudgeIdentity,
        JudgeItem,
        build_engine,
    )
    from lmms_eval_eibench.judges.cache import ReplyCacheError, cache_files
    from lmms_eval_eibench.provenance import ProvenanceError
    from lmms_eval_eibench.runs import run_files

    if bool(args.answers) == bool(args.from_verdicts):
        return _fail("give either ANSWERS or --from-verdicts FILE (exactly one)", EXIT_INPUT)
    if args.from_verdicts and args.from_cache:
        return _fail("--from-cache reads cached replies to answers; --from-verdicts reads saved replies: use one",
                     EXIT_INPUT)
    output = Path(args.output) if args.output else None
    try:
        budget = parse_word_budget(args.word_budget, "--word-budget")
        if budget is not None and args.from_verdicts:
            raise ValueError("--word-budget cuts answers, and --from-verdicts has none (only judge replies): "
                             "score the answers file instead")
        settings = judge_settings(args)
        inputs = read_inputs(Path(args.from_verdicts or args.answers), subset=args.subset, dataset=args.dataset,
                             annotations=args.annotations, judge_replies=bool(args.from_verdicts),
                             allow_partial=args.allow_partial)
        if output is not None:  # never over a file read: the answers (and the results beside lmms-eval samples),
            # the cache's files, nor anything inside the ground truth's folder
            truth = [Path(p) for p in (args.annotations, args.dataset) if p and Path(p).is_dir()]
            cache = cache_files(settings.cache_dir) if settings.cache else []
            check_output(output, [*run_files(inputs.source), *cache, *truth])
    except (ScoreInputError, DatasetIntegrityError, DatasetNotFound, ValueError) as exc:
        return _fail(str(exc), EXIT_INPUT)

    # saved judge replies were written about answers we do not have: the item's answer is empty
    items = [JudgeItem.from_doc(inputs.truth[t.id], "" if args.from_verdicts else t.text) for t in inputs.texts]
    model = model_name(args.model) if args.model else (None if args.from_verdicts else model_from_path(inputs.source))
    engine = None
    try:
        if args.from_verdicts:
            # replies judged elsewhere: their decoding is unknown, the file they came from is the source
            template = f"judge_{settings.prompt or 'paper'}"
            identity = JudgeIdentity(kind="saved-replies", model=settings.model or "unknown", template=template,
                                     version=prompts.template_version(template), decoding=None,
                                     trust_judge_total=settings.trust_judge_total, source=str(inputs.source))
            judge_info, metric = identity.summary(), RECALL
        else:
            engine = build_engine(settings, offline=args.from_cache)
            identity, judge_info, metric = engine.identity, engine.summary(), engine.metric_name
        # the record (and the dataset's fingerprint) before any request: a bad build must not cost a paid run
        record = pipeline.provenance_record(identity, dataset=args.dataset, from_dataset=not args.annotations,
                                            samples={"scored": len(items), "subset": inputs.n_subset},
                                            annotations=args.annotations, word_budget=budget)
    except (DatasetIntegrityError, ProvenanceError, ReplyCacheError) as exc:
        return _fail(str(exc), EXIT_INPUT)
    except (JudgeError, OSError) as exc:
        return _fail(str(exc), EXIT_JUDGE)

    if args.from_verdicts:
        verdicts = verdicts_from_saved_replies(items, inputs.texts, identity.prompt, settings.trust_judge_total)
    else:
        with engine:
            try:
                engine.preflight()
            except JudgeError as exc:
                return _fail(f"judge preflight failed: {exc}", EXIT_JUDGE)
            try:
                verdicts = pipeline.judge_answers(engine, items, [inputs.truth[t.id].get("question")
                                                                   for t in inputs.texts])
                if budget is not None:
                    budget_items, budget_verdicts = pipeline.judge_at_budget(engine, items, verdicts, budget)
            except KeyboardInterrupt:
                return _fail(pipeline.interrupted_message(engine, items), EXIT_INTERRUPTED)
            except JudgeError as exc:  # e.g. the key was revoked mid-run: stop, write nothing
                return _fail(f"the judge stopped working: {exc}", EXIT_JUDGE)
            except ReplyCacheError as exc:
                return _fail(str(exc), EXIT_INPUT)

    summary = pipeline.summarize_verdicts(items, verdicts, inputs.subset)
    at_budget = None
    if budget is not None:
        at_budget = (budget, pipeline.summarize_verdicts(budget_items, budget_verdicts, inputs.subset))
    data = pipeline.score_json(summary, inputs.subset, metric, judge_info, record, task_from_path(inputs.source),
                               model=model, n_subset=inputs.n_subset,
                               answers=None if args.from_verdicts else [item.answer for item in items],
                               at_budget=at_budget)
    if inputs.method:
        data["method"] = inputs.method  # a CFSA run: `eibench report` shows it in its own (cfsa) rows
    if output is not None:
        try:
            write_text_atomic(output, "".join(json.dumps(pipeline.verdict_line(item, verdict), ensure_ascii=False)
                                              + "\n" for item, verdict in zip(items, verdicts)))
        except InputFileError as exc:  # e.g. a full disk: the verdicts are in the cache, a rerun sends nothing
            if engine is None:
                saved = ""
            elif engine.cache is not None:
                saved = "; the verdicts are saved in the judge cache: the same command run again sends no request"
            else:
                saved = "; the verdicts were not cached (--no-cache): the same command run again asks the judge again"
            return _fail(f"--output {exc}{saved}", EXIT_INPUT)
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print_recall_table(data, identity)
    if partial := pipeline.partial_warning(f"{inputs.source.name} ({inputs.subset})", summary.n, inputs.n_subset,
                                           "--allow-partial"):
        print(f"eibench score: {partial}", file=sys.stderr)
    if summary.n_generation_failed:
        print(f"eibench score: {summary.n_generation_failed} of {summary.n} answers are generation failures (a CFSA "
              "failure line, an empty answer, or the question repeated word for word): not judged, each counted as 0", file=sys.stderr)
    if at_budget is not None and at_budget[1].n_failed:
        print(f"eibench score: overall_at_budget counts {at_budget[1].n_failed} judge failures as 0 (exit "
              f"{EXIT_JUDGE_FAILURES}); run the same command again to ask the judge again for those only",
              file=sys.stderr)
    if summary.n_failed:
        see = f"see 'error' in {output}" if output is not None else "-o FILE writes each sample's 'error'"
        how = ("they have no cached reply" if args.from_cache
               else "run the same command again to ask the judge again for those samples only")
        print(f"eibench score: the judge failed on {summary.n_failed} of {summary.n} samples, each counted as 0 "
              f"(exit {EXIT_JUDGE_FAILURES}; {see}); {how}", file=sys.stderr)
        return EXIT_JUDGE_FAILURES
    return EXIT_JUDGE_FAILURES if at_budget is not None and at_budget[1].n_failed else EXIT_OK
