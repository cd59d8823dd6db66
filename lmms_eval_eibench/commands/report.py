"""``eibench report RESULTS...``: the paper's table from results files, plus an optional chart and summary."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

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
    parser.add_argument("results", nargs="+", metavar="RESULTS", help="results files or folders")
    parser.add_argument(
        "--format", choices=("markdown", "csv", "latex"), default="markdown", help="table format (default markdown)"
    )
    parser.add_argument(
        "--with-paper",
        action="store_true",
        help="add the published rows of Lin et al. (2025), marked published, with their judge labels",
    )
    parser.add_argument(
        "--chart",
        action="append",
        default=[],
        metavar="PATH",
        help="also draw recall per category per row to PATH (.png or .svg; repeat for both)",
    )
    parser.add_argument("--summary", metavar="PATH", help="also write the JSON summary for leaderboards to PATH")
    parser.add_argument("--output", "-o", metavar="PATH", help="write the table to PATH instead of stdout")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``report`` on an ``add_subparsers()`` object."""
    parser = subparsers.add_parser("report", help=HELP, description=DESCRIPTION)
    add_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """Build the report; 0 on success, 2 on bad input (message on stderr, no output files written)."""
    from lmms_eval_eibench import report

    try:
        entries, notes = report.load_results(args.results)
        if args.with_paper:
            entries += report.load_published()
        rows = report.build_rows(entries)
        warnings = report.comparability_warnings(rows)
        for target in [*args.chart, args.summary, args.output]:
            if target is not None and not Path(target).parent.is_dir():
                raise report.ReportError(f"{target}: folder {Path(target).parent} does not exist")
        if args.format == "csv":
            table = report.render_csv(rows)
        elif args.format == "latex":
            table = report.render_latex(rows, warnings)
        else:
            table = report.render_markdown(rows, warnings)
        for chart in args.chart:
            report.render_chart(rows, chart)
        if args.summary:
            summary = report.build_summary(rows, warnings)
            report.write_text_atomic(args.summary, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    except report.ReportError as exc:
        print(f"eibench report: error: {exc}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"eibench report: note: {note}", file=sys.stderr)
    for warning in warnings:
        print(f"eibench report: warning: {warning}", file=sys.stderr)
    if args.output:
        report.write_text_atomic(args.output, table)
    else:
        sys.stdout.write(table)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the subcommand alone (``python -m lmms_eval_eibench.commands.report``)."""
    parser = argparse.ArgumentParser(prog="eibench report")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
