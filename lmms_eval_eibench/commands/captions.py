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

from lmms_eval_eibench.files import InputFileError, check_output_file, read_jsonl, write_text_atomic
from lmms_eval_eibench.vocabulary import CAPTION_WORDS as CAPTION_METRIC

HELP = "turn the eibench_captions task's samples into a --captions file"


class CaptionsInputError(InputFileError):
    """Unusable samples; the message names the file and line and the fix."""


def _caption_of(sample: Any, where: str) -> tuple[str, str]:
    """(image path, caption) of one logged sample of the eibench_captions task."""
    if not isinstance(sample, dict):
        raise CaptionsInputError(where, "expected a JSON object (an lmms-eval --log_samples line)")
    item = sample.get(CAPTION_METRIC)
    if isinstance(item, dict) and isinstance(item.get("image_path"), str) and isinstance(item.get("caption"), str):
        image_path, caption = item["image_path"], item["caption"]
    else:
        # --predict_only runs skip process_results: take the response and the image lmms-eval logged for it
        media = sample.get("input_media")
        response = sample.get("filtered_resps", sample.get("resps"))
        while isinstance(response, list) and response:
            response = response[0]
        if not (isinstance(media, list) and media and isinstance(media[0], str) and isinstance(response, str)):
            raise CaptionsInputError(
                where, f"no caption found (neither an {CAPTION_METRIC!r} item nor input_media + filtered_resps)",
                "pass the samples file of the eibench_captions task (lmms-eval --tasks eibench_captions "
                "--log_samples)")
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
        for number, sample in read_jsonl(path, error=CaptionsInputError):
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
