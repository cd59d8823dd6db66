"""`eibench captions`: turn the `eibench_captions` task's logged samples into `hub_upload.py --captions` input.

    lmms-eval --model MODEL --model_args ... --tasks eibench_captions --log_samples --output_path OUT
    eibench captions OUT/<model>/<time>_samples_eibench_captions.jsonl -o captions.jsonl
    python hub_upload.py --eibench EIBENCH_DIR --image-root IMAGES --captions captions.jsonl --overwrite

Each output line is `{"image_path": "<official relative path>", "caption": "<the model's description>"}`, one per
image, sorted by path. Bad input (not JSON, no caption, an empty caption, two different captions for one image)
stops with the file and line and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lmms_eval_eibench.answers import refuse_json_document
from lmms_eval_eibench.edge.lmms_outputs import sample_responses
from lmms_eval_eibench.edge.lmms_outputs import task_of_samples as task_from_path
from lmms_eval_eibench.files import InputFileError, check_output_file, read_jsonl, write_text_atomic
from lmms_eval_eibench.vocabulary import CAPTION_WORDS as CAPTION_METRIC
from lmms_eval_eibench.vocabulary import CAPTIONS_TASK, RECALL_METRICS, task_shape

HELP = "turn the eibench_captions task's samples into a --captions file"


class CaptionsInputError(InputFileError):
    """Unusable samples; the message names the file and line and the fix."""


_CAPTIONS_FIX = ("run lmms-eval --tasks eibench_captions --log_samples and pass its "
                 "OUT/<model>/<time>_samples_eibench_captions.jsonl")


def _refuse_other_task(path: Path) -> None:
    """Only the eibench_captions task's samples hold captions: another task's file (named by lmms-eval after its
    task) holds answers, which must never become the caption column."""
    task = task_from_path(path)
    if task is not None and task != CAPTIONS_TASK:
        shape = task_shape(task)
        kind = (f"the model's answers to the {shape[0]} questions" if shape is not None
                else "another task's responses")
        raise CaptionsInputError(str(path), f"the samples of task {task!r} ({kind}), not of {CAPTIONS_TASK}",
                                 _CAPTIONS_FIX)


def _caption_of(sample: Any, where: str) -> tuple[str, str]:
    """(image path, caption) of one logged sample of the eibench_captions task."""
    if not isinstance(sample, dict):
        raise CaptionsInputError(where, "expected a JSON object (an lmms-eval --log_samples line)")
    item = sample.get(CAPTION_METRIC)
    judged = [metric for metric in RECALL_METRICS if metric in sample]
    if judged:  # an eibench_basic/complex sample: its response is an answer, not a description
        raise CaptionsInputError(where, f"a judged EIBench answer (it carries {judged[0]}), not a caption of the "
                                 f"{CAPTIONS_TASK} task", _CAPTIONS_FIX)
    if isinstance(item, dict) and isinstance(item.get("image_path"), str) and isinstance(item.get("caption"), str):
        image_path, caption = item["image_path"], item["caption"]
    else:
        # --predict_only runs skip process_results: take the response and the image lmms-eval logged for it; the
        # captions task's target is that image's path (an answer task's target is its ground truth)
        media = sample.get("input_media")
        response = sample_responses(sample)
        while isinstance(response, list) and response:
            response = response[0]
        if not (isinstance(media, list) and media and isinstance(media[0], str) and isinstance(response, str)):
            raise CaptionsInputError(
                where, f"no caption found (neither an {CAPTION_METRIC!r} item nor input_media + filtered_resps)",
                "pass the samples file of the eibench_captions task (lmms-eval --tasks eibench_captions "
                "--log_samples)")
        if "target" in sample and sample["target"] != media[0]:
            raise CaptionsInputError(where, f"not a sample of the {CAPTIONS_TASK} task (its target is not the "
                                     "image's path but, e.g., a ground truth: this is an answer)", _CAPTIONS_FIX)
        image_path, caption = media[0], response
    caption = caption.strip()
    if not caption:
        raise CaptionsInputError(where, f"the model returned an empty caption for {image_path!r}",
                                 "rerun the eibench_captions task for it (or drop the line)")
    return image_path, caption


def read_captions(paths: list[Path]) -> dict[str, str]:
    """{image path: caption} from one or more samples files (e.g. one per rank or per run)."""
    captions: dict[str, str] = {}
    origin: dict[str, str] = {}
    for path in paths:
        _refuse_other_task(path)
        refuse_json_document(path, error=CaptionsInputError, fix=_CAPTIONS_FIX)
        for index, (number, sample) in enumerate(read_jsonl(path, error=CaptionsInputError)):
            if not index:  # a results file written on one line reads as JSON lines
                refuse_json_document(path, error=CaptionsInputError, fix=_CAPTIONS_FIX, first=sample)
            where = f"{path}:{number}"
            image_path, caption = _caption_of(sample, where)
            if image_path in captions and captions[image_path] != caption:
                raise CaptionsInputError(where, f"a second, different caption for {image_path!r} (first at "
                                         f"{origin[image_path]})", "keep one samples file per image")
            captions[image_path] = caption
            origin.setdefault(image_path, where)
    if not captions:
        raise CaptionsInputError(", ".join(map(str, paths)), "no samples found",
                                 "pass the non-empty samples file(s) of the eibench_captions task")
    return captions


def write_captions(captions: dict[str, str], output: Path) -> None:
    """Write the JSONL atomically (a temporary file renamed into place: never half a file)."""
    write_text_atomic(output, "".join(
        json.dumps({"image_path": image_path, "caption": captions[image_path]}, ensure_ascii=False) + "\n"
        for image_path in sorted(captions)
    ))


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("captions", help=HELP, description=__doc__.split("\n\n")[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter,
                                   epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("samples", nargs="+", type=Path, metavar="SAMPLES.jsonl",
                        help="lmms-eval --log_samples file(s) of the eibench_captions task")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="FILE",
                        help="captions JSONL to write (hub_upload.py --captions FILE)")
    return parser


def run(args: argparse.Namespace) -> int:
    try:
        check_output_file(args.output, "--output", args.samples)
        captions = read_captions(list(args.samples))
        write_captions(captions, args.output)
    except InputFileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {len(captions)} captions to {args.output}")
    return 0
