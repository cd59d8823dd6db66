"""Dataset build speed on the real annotations: 1,665 rows with 1,636 placeholder images, side by side with an
annotations-only build, against the one-minute budget of the foundation issue.

    .venv/bin/python bench/bench_build.py [--eibench ../shared/eibench] [--size 256]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from lmms_eval_eibench.data.build import ImageRoots, build
from lmms_eval_eibench.data.records import load_records
from lmms_eval_eibench.data.sample import write_images

BUDGET_SECONDS = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eibench", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "eibench")
    parser.add_argument("--size", type=int, default=256, help="placeholder image side in pixels")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        records = load_records(args.eibench)
        t = time.perf_counter()
        n = write_images(records.image_paths(), tmp / "images", size=args.size)
        draw = time.perf_counter() - t
        with_images = build(args.eibench, tmp / "a", ImageRoots(image_root=tmp / "images"), log=lambda _: None)
        without = build(args.eibench, tmp / "b", ImageRoots(), no_images=True, log=lambda _: None)

    rows = sum(with_images["rows"].values())
    print(f"placeholder images: {n} at {args.size}x{args.size} px drawn in {draw:.1f} s (not part of the build)")
    print(f"{'build':<22}{'rows':>6}{'images':>8}{'seconds':>9}{'MB':>8}{'x budget':>10}")
    for name, s in (("with images", with_images), ("annotations only", without)):
        print(f"{name:<22}{sum(s['rows'].values()):>6}{s['images']:>8}{s['seconds']:>9.2f}{s['bytes'] / 1e6:>8.1f}"
              f"{s['seconds'] / BUDGET_SECONDS:>10.3f}")
    print(f"images cost {with_images['seconds'] / max(without['seconds'], 1e-9):.1f}x the annotations-only build; "
          f"{rows / with_images['seconds']:.0f} rows/s; budget {BUDGET_SECONDS:.0f} s")
    assert with_images["seconds"] < BUDGET_SECONDS, "build slower than the one-minute budget"


if __name__ == "__main__":
    main()
