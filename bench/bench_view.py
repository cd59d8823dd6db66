"""`eibench view` on a full basic run: how long the page takes to write, how big it is, how long a browser takes
to open it.

The run: the official annotations built with 1,636 placeholder images of 256x256 px (the real ones are not on
this machine), the tests' mixed honest-looking answers for all 1,615 basic samples, judged by the offline
embedding judge (`eibench score --judge embedding -o`, the per-sample file `eibench view` reads). Then
`eibench view` is timed (write time, page size), and headless chromium (`tests/browser.py`) opens the page and
dumps the DOM its script built: the time beside a blank page's, with and without a filter in the URL hash.

    .venv/bin/python bench/bench_view.py [--repeat N]

Bar (issue 34): writes in seconds, opens in seconds, stays small.
Annotations: $EIBENCH_OFFICIAL_DIR or ../shared/eibench next to the repository.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from attacks import mixed_answers  # noqa: E402
from browser import dump_dom, elements  # noqa: E402

from lmms_eval_eibench.cli import main  # noqa: E402
from lmms_eval_eibench.data.build import ImageRoots, build  # noqa: E402
from lmms_eval_eibench.data.records import load_records  # noqa: E402
from lmms_eval_eibench.data.sample import write_images  # noqa: E402


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def best(repeat: int, fn, *args) -> float:
    return min(timed(fn, *args) for _ in range(repeat))


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="best of N for each time (default 3)")
    args = parser.parse_args()
    official = Path(os.environ.get("EIBENCH_OFFICIAL_DIR", REPO.parent / "shared" / "eibench"))
    records = load_records(official)
    with tempfile.TemporaryDirectory(prefix="bench-view-") as tmp:
        tmp = Path(tmp)
        write_images(records.image_paths(), tmp / "images", size=256)
        build(official, tmp / "dataset", ImageRoots(image_root=tmp / "images"), log=lambda line: None)
        answers, verdicts = tmp / "answers.jsonl", tmp / "verdicts.jsonl"
        answers.write_text("".join(json.dumps({r.id: a}) + "\n" for r, a in zip(records.basic,
                                                                                mixed_answers(records.basic))))
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(["score", str(answers), "--dataset", str(tmp / "dataset"), "--judge", "embedding",
                         "--cache-dir", str(tmp / "cache"), "--no-progress", "-o", str(verdicts)])
        assert code == 0, f"eibench score failed ({code})"
        page = tmp / "view.html"

        def write() -> None:
            with contextlib.redirect_stderr(io.StringIO()):
                assert main(["view", str(verdicts), "--dataset", str(tmp / "dataset"), "-o", str(page)]) == 0

        write_s = best(args.repeat, write)
        size = page.stat().st_size
        blank = tmp / "blank.html"
        blank.write_text("<!DOCTYPE html><title>blank</title>")
        dom = dump_dom(page)
        count = elements(dom, "data-count")[0][1]["data-count"]
        shown = len(elements(dom, "data-sample-id"))
        blank_s = best(args.repeat, dump_dom, blank)
        open_s = best(args.repeat, dump_dom, page)
        sorted_s = best(args.repeat, dump_dom, page, "#sort=-recall&category=Sadness")
        with contextlib.redirect_stderr(io.StringIO()):
            assert main(["view", str(verdicts), "--dataset", str(tmp / "dataset"), "--no-images", "-o",
                         str(tmp / "text.html")]) == 0
        text_size = (tmp / "text.html").stat().st_size
    print(f"eibench view, full basic run ({len(records.basic)} samples, {count} listed, {shown} on the first page; "
          f"{os.cpu_count()} cores, best of {args.repeat})")
    print(f"  write (read the run + dataset, 1,615 thumbnails, render): {write_s:.2f} s")
    print(f"  page size: {size / 1e6:.2f} MB (--no-images: {text_size / 1e6:.2f} MB)")
    print(f"  chromium --dump-dom: blank page {blank_s:.2f} s, the view {open_s:.2f} s "
          f"(+{open_s - blank_s:.2f} s), sorted + filtered by hash {sorted_s:.2f} s (+{sorted_s - blank_s:.2f} s)")


if __name__ == "__main__":
    main_bench()
