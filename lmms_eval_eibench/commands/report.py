"""``eibench report RESULTS...``: the paper's table from results files, plus an optional chart and summary."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lmms_eval_eibench.judges.protocols import PROTOCOLS

HELP = "tables, chart and summary from results files"
DESCRIPTION = (
    "Print EIBench results in the paper's layout (rows = model x prompt template x judge; basic columns "
    "Happy, Angry, Sadness, Excitement, Overall; complex column Recall; ± standard error). RESULTS are "
    "lmms-eval *_results.json files or folders holding them, and `eibench score --json` outputs. "
    "Warnings (e.g. rows judged by different judges) go to stderr and into Markdown/LaTeX output."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the subcommand's arguments on ``parser`` (the lead's cli.py calls this)."""
    parser.description = DESCRIPTION
    parser.add_argument("results", nargs="*", metavar="RESULTS",
                        help="results files or folders (none: only the published rows, with --with-paper)")
    parser.add_argument(
        "--format", choices=("markdown", "csv", "latex"), default="markdown", help="table format (default markdown)"
    )
    parser.add_argument(
        "--with-paper",
        action="store_true",
        help="add the published rows of Lin et al. (2025) in the paper's layout (88 rows, 336 numbers: settings user, "
             "caption, caption_text, cot, cfsa; LLaMA-3 and GPT judges), marked published",
    )
    parser.add_argument(
        "--paper-setting",
        action="append",
        metavar="SETTING",
        help="only these published settings (user, caption, caption_text, cot, cfsa; repeat or comma-separate); "
             "implies --with-paper",
    )
    parser.add_argument(
        "--paper-judge",
        action="append",
        metavar="JUDGE",
        help="only the published rows of these judges (llama3, gpt, or the protocols paper-llama3, paper-gpt); "
             "implies --with-paper",
    )
    parser.add_argument(
        "--chart-paper",
        choices=("auto", "bars", "reference"),
        default="auto",
        help="draw published rows in the chart as bars or as reference lines (auto: bars for up to 4 rows)",
    )
    parser.add_argument(
        "--chart",
        action="append",
        default=[],
        metavar="PATH",
        help="also draw recall per category per row to PATH (.png or .svg; repeat for both)",
    )
    parser.add_argument(
        "--paired",
        nargs=2,
        metavar=("A", "B"),
        help="instead of the table: is run B better than run A? Per-sample difference B - A of the recall with a 95%% "
             "CI and p-value (paired t; clustered by image for complex; per category for basic). A and B are lmms-eval "
             "*_samples_<task>.jsonl files or *_results.json files with the samples beside them; refused when the "
             "subsets, judges, prompts or samples differ",
    )
    parser.add_argument(
        "--with-blind",
        action="store_true",
        help="add the image-blind floor: one answer for every sample, the other subset's 100 most frequent triggers "
             "(never looking at an image), scored on each subset of the runs by each run's own judge (key and cache "
             "from the environment: EIBENCH_JUDGE_API_KEY, EIBENCH_CACHE_DIR)",
    )
    parser.add_argument("--dataset", metavar="PATH_OR_REPO",
                        help="--with-blind: the ground truth's dataset (default: $EIBENCH_DATASET or the user cache)")
    parser.add_argument("--annotations", metavar="DIR",
                        help="--with-blind: read the ground truth from the official annotation files instead")
    parser.add_argument("--summary", metavar="PATH", help="also write the JSON summary for leaderboards to PATH")
    parser.add_argument("--output", "-o", metavar="PATH", help="write the table to PATH instead of stdout")


_PAPER_JUDGES = {protocol.name: protocol.paper_judge for protocol in PROTOCOLS.values()}


def _words(values: list[str] | None) -> list[str] | None:
    """Repeated and comma-separated values as one list (None when the option was not given)."""
    if values is None:
        return None
    return [word.strip() for value in values for word in value.split(",") if word.strip()]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``report`` on an ``add_subparsers()`` object."""
    parser = subparsers.add_parser("report", help=HELP, description=DESCRIPTION)
    add_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """Build the report; 0 on success, 2 on bad input (message on stderr, no output files written)."""
    from lmms_eval_eibench import report
    from lmms_eval_eibench.files import InputFileError, check_output_file, write_text_atomic
    from lmms_eval_eibench.report.chart import check_chart
    from lmms_eval_eibench.report.results import files_read

    if args.paired:
        return _run_paired(args)
    try:
        settings, judges = _words(args.paper_setting), _words(args.paper_judge)
        with_paper = args.with_paper or settings is not None or judges is not None
        if not args.results and not with_paper:
            raise report.ReportError("give RESULTS (results files or folders), or --with-paper for the published rows")
        # every output checked before any work (--with-blind's floor is paid for)
        read = [*files_read(args.results), *(p for p in (args.annotations, args.dataset) if p and Path(p).is_dir())]
        if args.with_blind:  # the floor's judge reads (and writes) the reply cache of EIBENCH_CACHE_DIR
            from lmms_eval_eibench.judges.cache import cache_files

            read += cache_files()
        targets = [*(("--chart", c) for c in args.chart), ("--summary", args.summary), ("--output", args.output)]
        written: set[Path] = set()
        for option, target in targets:
            if target is not None:  # no output over a file read (those found in input folders included)
                check_output_file(target, option, read)
                if Path(target).resolve() in written:
                    raise InputFileError(f"{option} {target}", "is also another output of this command",
                                         "give each output its own file")
                written.add(Path(target).resolve())
        for chart in args.chart:
            check_chart(chart, args.chart_paper)
        entries, notes = report.load_results(args.results) if args.results else ([], [])
        if args.with_blind:
            from lmms_eval_eibench.report.floor import floor_note, floor_results

            floors = floor_results(entries, dataset=args.dataset, annotations=args.annotations)
            entries += floors
            notes.append(floor_note(floors))
        elif args.dataset or args.annotations:
            raise report.ReportError("--dataset and --annotations are for --with-blind (the floor's ground truth)")
        if with_paper:
            if judges is not None:  # a protocol names its paper judge
                judges = [_PAPER_JUDGES.get(j, j) for j in judges]
            entries += report.load_published(settings=settings, judges=judges)
        rows = report.build_rows(entries)
        warnings = report.comparability_warnings(rows)
        if args.format == "csv":
            table = report.render_csv(rows)
        elif args.format == "latex":
            table = report.render_latex(rows, warnings)
        else:
            table = report.render_markdown(rows, warnings)
        if not rows:
            raise report.ReportError("no rows to show: the --paper-setting / --paper-judge filters left none")
        if args.summary:
            summary = report.build_summary(rows, warnings)
            write_text_atomic(args.summary, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        if args.output:
            write_text_atomic(args.output, table)
    except (report.ReportError, InputFileError) as exc:
        print(f"eibench report: error: {exc}", file=sys.stderr)
        return 2
    failed = _draw_charts(rows, args)  # last: a chart that cannot be drawn costs no other output
    for note in notes:
        print(f"eibench report: note: {note}", file=sys.stderr)
    for warning in warnings:
        print(f"eibench report: warning: {warning}", file=sys.stderr)
    if not args.output:
        sys.stdout.write(table)
    for message in failed:
        print(f"eibench report: error: {message}", file=sys.stderr)
    return 2 if failed else 0


def _draw_charts(rows: list, args: argparse.Namespace) -> list[str]:
    """Draw each ``--chart``; the messages of those that could not be drawn (the table and summary are written)."""
    from lmms_eval_eibench import report
    from lmms_eval_eibench.files import InputFileError

    kept = [name for name, given in (("the table", args.output), ("the summary", args.summary)) if given]
    kept_text = f"; {' and '.join(kept)} {'were' if len(kept) > 1 else 'was'} written" if kept else ""
    failed = []
    for chart in args.chart:
        try:
            report.render_chart(rows, chart, paper=args.chart_paper)
        except (report.ReportError, InputFileError) as exc:
            failed.append(f"{exc}{kept_text}")
        except Exception as exc:  # matplotlib's own error: a message naming the chart, never a traceback
            failed.append(f"--chart {chart}: could not be drawn ({type(exc).__name__}: {exc}){kept_text}")
    return failed


def _run_paired(args: argparse.Namespace) -> int:
    """``--paired A B``: the paired table (Markdown), or a refusal saying why the runs cannot be compared."""
    from lmms_eval_eibench.files import InputFileError, check_output_file, write_text_atomic
    from lmms_eval_eibench.report.pairs import compare_runs, render_paired_markdown
    from lmms_eval_eibench.runs import RunError, run_files

    a, b = args.paired
    try:
        others = [name for name, given in (("RESULTS", args.results), ("--with-paper", args.with_paper),
                                           ("--chart", args.chart), ("--summary", args.summary),
                                           ("--format", args.format != "markdown")) if given]
        if others:
            raise RunError("--paired", f"cannot be combined with {', '.join(others)}", "run the table separately")
        if args.output:  # no output over a file read: A, B and the files read beside them
            check_output_file(args.output, "--output", [f for p in (a, b) for f in run_files(Path(p))])
        rows, notes = compare_runs(a, b)
    except InputFileError as exc:  # RunError is one
        print(f"eibench report: error: {exc}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"eibench report: note: {note}", file=sys.stderr)
    table = render_paired_markdown(rows, a, b)
    if args.output:
        try:
            write_text_atomic(args.output, table)
        except InputFileError as exc:  # e.g. a full disk
            print(f"eibench report: error: {exc}", file=sys.stderr)
            return 2
    else:
        sys.stdout.write(table)
    return 0
