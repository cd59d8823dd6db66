"""The README's first command: build the embedded sample dataset offline and show it."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from lmms_eval_eibench.build import ImageRoots, build, format_summary


def main() -> int:
    out = Path(os.environ.get("EIBENCH_DEMO_DIR", Path(tempfile.gettempdir()) / "eibench-demo")) / "dataset"
    summary = build(None, out, ImageRoots(), overwrite=True, log=lambda line: print(line, file=sys.stderr))
    print(format_summary(summary))

    from datasets import load_dataset

    basic = load_dataset(str(out), "basic", split="test")
    print(f"\n{'category':<11} {'n':>2}  question")
    for row in basic:
        print(f"{row['category']:<11} {row['n_triggers']:>2}  {row['question']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
