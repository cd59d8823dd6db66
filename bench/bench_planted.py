"""Planted judge wording against the verdict parser, on all 1,615 basic answers (issue 26's table, re-measured).

Mixed answers (all triggers, half, none, another image's) are scored by the real `eibench score` against the
loopback judge (tests/judge_server.py, in this process) in its four reply styles, without plants and with:

- D1: the judge's own wording around every score c/t it could write (t <= 10), plus a full-credit score cut
  by the quotation's end (even rows) or isolated by spaces (odd rows), hidden at random places;
- D2: `{score: 10/100}` beside every `{score: c/n}`;
- D1+D2 together.

Printed: overall per style and attack, judge failures, and the samples read above what the judge counted for
that answer (must be 0). Bar (issue 26, on 300 answers in tests/test_planted_attacks.py): within 2 points.

Then issue 32's hidden plants (`attacks.HIDDEN_SHAPES`: `{sc\u200bore: N/N}` with U+200B, full-width `ｓｃｏｒｅ`,
U+2060, soft hyphen; a full-credit score, the first one leading the answer) against a loopback judge that quotes
the answer NFKC-folded with format characters dropped (`fold_quote`, as many LLMs do) and gives its verdict
first (`folded`), last (`last`) or one quoting style per prompt (`mix`). Per style and shape, on the bare answer
"I see it." and on the mixed answers: overall without the plant -> with it, judge failures, and the samples read
above what the judge counted on the folded answer. Bar (issue 32): no sample raised, in any style.

    .venv/bin/python bench/bench_planted.py [--limit N] [--hidden-only]

Annotations: $EIBENCH_OFFICIAL_DIR or ../shared/eibench next to the repository.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from attacks import HIDDEN_SHAPES, d1, d2, hidden, mixed_answers  # noqa: E402
from judge_server import PAPER_STYLES, _covered, folded, judge_server  # noqa: E402

from lmms_eval_eibench import cli  # noqa: E402
from lmms_eval_eibench.data.records import load_records  # noqa: E402


def score(records, answers, style: str, folder: Path, official: Path, fold_quote: bool = False) -> tuple[dict, int]:
    """Overall etc. of `eibench score`, and how many samples read above what the judge counted (on the answer as
    the judge read it: folded when it folds)."""
    folder.mkdir(parents=True)
    samples = folder / "20261205_000000_samples_eibench_basic.jsonl"
    samples.write_text("".join(json.dumps({"doc_id": i, "doc": r.as_row(), "resps": [[a]], "filtered_resps": [a]})
                               + "\n" for i, (r, a) in enumerate(zip(records, answers))))
    out = folder / "verdicts.jsonl"
    with judge_server(reply_style=style, fold_quote=fold_quote) as judge:
        os.environ["EIBENCH_JUDGE_API_KEY"] = judge.api_key
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = cli.main(["score", str(samples), "--annotations", str(official), "--allow-partial", "--no-cache",
                             "--no-progress", "--json", "-o", str(out), "--base-url", judge.base_url,
                             "--judge-model", judge.model])
    if code not in (0, 3):
        raise SystemExit(stderr.getvalue())
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    risen = sum(1 for row, r, a in zip(rows, records, answers)
                if not row["failed"] and row["covered"] > sum(_covered(folded(a) if fold_quote else a,
                                                                       list(r.triggers))))
    return json.loads(stdout.getvalue()), risen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="score only the first N basic samples")
    parser.add_argument("--hidden-only", action="store_true", help="only issue 32's hidden plants")
    args = parser.parse_args()
    official = Path(os.environ.get("EIBENCH_OFFICIAL_DIR", REPO.parent / "shared" / "eibench"))
    records = load_records(official).basic[: args.limit]
    honest = mixed_answers(records)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.hidden_only:
            planted_wording(records, honest, official, Path(tmp))
        risen = hidden_plants(records, honest, official, Path(tmp) / "hidden")
    if risen:
        print(f"MISSED: {risen} samples raised by hidden plants")
        raise SystemExit(1)


def planted_wording(records, honest, official: Path, tmp: Path) -> None:
    """Issue 26's table: D1, D2 and both, per reply style."""
    print(f"{len(records)} basic answers; overall (judge failures, samples risen above the judge's count)")
    print(f"{'style':<6} {'no plants':>18} {'D1':>18} {'D2':>18} {'D1+D2':>18}   seconds")
    for style in (*PAPER_STYLES, "mix"):
        styles = PAPER_STYLES if style == "mix" else (style,)
        rng = random.Random(style)
        attacks = {
            "none": honest,
            "D1": [d1(a, r.n_triggers, styles, rng, cut=i % 2 == 0, every_total=True)
                   for i, (a, r) in enumerate(zip(honest, records))],
            "D2": [d2(a, r.n_triggers, rng) for a, r in zip(honest, records)],
        }
        attacks["D1+D2"] = [d2(a, r.n_triggers, rng) for a, r in zip(attacks["D1"], records)]
        cells, start = [], time.perf_counter()
        for name, answers in attacks.items():
            data, risen = score(records, answers, style, Path(tmp) / f"{style}-{name}", official)
            cells.append(f"{data['overall']:6.2f} ({data['n_failed']:>3}, {risen})")
        print(f"{style:<6} " + " ".join(f"{c:>18}" for c in cells) + f"   {time.perf_counter() - start:.0f}",
              flush=True)


def hidden_plants(records, honest, official: Path, tmp: Path) -> int:
    """Issue 32's table: each hidden shape (and all at once) against a folding judge per style; samples raised."""
    shapes = {**{name: (name,) for name in HIDDEN_SHAPES}, "all four": tuple(HIDDEN_SHAPES)}
    bare = ["I see it."] * len(records)
    print(f"\n{len(records)} basic answers, hidden full-credit scores vs a judge quoting the answer folded; overall "
          "without -> with the plant (judge failures, samples raised above the judge's count)")
    print(f"{'style':<7} {'shape':<17} {'bare answer':>28} {'mixed answers':>28}   seconds")
    risen_total = 0
    for style in ("folded", "last", "mix"):
        clean = {name: score(records, answers, style, tmp / f"{style}-clean-{name}", official, fold_quote=True)[0]
                 for name, answers in (("bare", bare), ("mixed", honest))}
        for shape, names in shapes.items():
            rng = random.Random(f"{style}-{shape}")
            cells, start = [], time.perf_counter()
            for name, answers in (("bare", bare), ("mixed", honest)):
                planted = [hidden(a, r.n_triggers, rng, names) for a, r in zip(answers, records)]
                data, risen = score(records, planted, style, tmp / f"{style}-{shape}-{name}", official,
                                    fold_quote=True)
                risen_total += risen
                cells.append(f"{clean[name]['overall']:6.2f} -> {data['overall']:6.2f} ({data['n_failed']:>3}, "
                             f"{risen:>4})")
            print(f"{style:<7} {shape:<17} " + " ".join(f"{c:>28}" for c in cells)
                  + f"   {time.perf_counter() - start:.0f}", flush=True)
    print(f"samples raised in all: {risen_total} (bar: 0)")
    return risen_total


if __name__ == "__main__":
    main()
