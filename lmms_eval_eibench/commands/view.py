"""``eibench view RUN [RUN2] -o PAGE.html``: each sample of a run (or of two, paired) on one offline HTML page.

Exit status: 0 written; 2 bad input (a message naming the file and the fix; nothing written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "one HTML page of a run's samples (image, answer, triggers covered/missed), or of two runs paired"
DESCRIPTION = (
    "Write one self-contained HTML page (no server, no network; open it from a file or an e-mail) showing each "
    "sample of a run: its image (a thumbnail from the dataset build, or $EIBENCH_IMAGE_ROOT), question, the "
    "model's answer, the ground-truth triggers marked covered or missed where the judge decides per trigger, "
    "failures, recall and words; filters, sorting and search. RUN is an lmms-eval --output_path folder, a "
    "*_results.json or *_samples_<task>.jsonl file, or an `eibench score --output` file. With RUN2, the two runs "
    "side by side per sample (B - A), refused like `eibench report --paired` when they cannot be compared."
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``view`` on an ``add_subparsers()`` object."""
    parser = subparsers.add_parser("view", help=HELP, description=DESCRIPTION)
    parser.add_argument("run", metavar="RUN", help="the run (A when RUN2 is given)")
    parser.add_argument("run2", nargs="?", metavar="RUN2", help="a second run of the same samples (B)")
    parser.add_argument("-o", "--output", required=True, metavar="PAGE.html", help="the page to write")
    parser.add_argument("--task", metavar="TASK",
                        help="the task to show when a run holds several (e.g. eibench_basic, eibench_complex)")
    parser.add_argument("--dataset", metavar="PATH_OR_REPO",
                        help="the dataset the run used, for questions, triggers and images (default: "
                             "$EIBENCH_DATASET or the user cache)")
    parser.add_argument("--annotations", metavar="DIR",
                        help="read questions and triggers from the official annotation files instead (images "
                             "from $EIBENCH_IMAGE_ROOT)")
    parser.add_argument("--no-images", action="store_true", help="embed no thumbnails (a smaller page)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Write the page; 0 on success, 2 on bad input (message on stderr, no page written)."""
    from lmms_eval_eibench.data.dataset import DatasetIntegrityError, DatasetNotFound
    from lmms_eval_eibench.data.records import EIBenchDataError
    from lmms_eval_eibench.files import InputFileError, check_output_file, write_text_atomic
    from lmms_eval_eibench.report import view

    paths = [p for p in (args.run, args.run2) if p]
    try:
        # never over a file read: the runs, the files found in them or beside them, the ground truth's folders
        truth = [p for p in (args.dataset, args.annotations) if p and Path(p).is_dir()]
        check_output_file(args.output, "--output", [*(f for p in paths for f in view.files_read(p)), *truth])
        runs = [view.choose_task(view.read_view_runs(p), args.task, p) for p in paths]
        if len(runs) == 2 and runs[0].subset != runs[1].subset:
            # the samples differ: refused like `report --paired`, before loading any data
            view.paired_check(runs[0], runs[1])
        truth = view.load_truth(runs[0].subset, dataset=args.dataset, annotations=args.annotations,
                                with_images=not args.no_images)
        data = view.page_data(runs, truth)
        page = view.render_page(data)
        write_text_atomic(args.output, page)
    except (InputFileError, DatasetIntegrityError, DatasetNotFound, EIBenchDataError, ValueError) as exc:
        print(f"eibench view: error: {exc}", file=sys.stderr)
        return 2
    for note in data["notes"]:
        print(f"eibench view: note: {note}", file=sys.stderr)
    for warning in data["warnings"]:
        print(f"eibench view: warning: {warning}", file=sys.stderr)
    images = (f", {data['images_total'] - data['images_missing']} of {data['images_total']} images"
              if not args.no_images else ", no images")
    print(f"eibench view: wrote {args.output} ({len(data['samples'])} samples{images}, "
          f"{Path(args.output).stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return 0
