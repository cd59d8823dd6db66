"""What verbosity buys, and what a word budget takes back (issue 25's table, re-measured).

On all 1,615 basic samples, with the offline embedding judge (all-MiniLM-L6-v2, `eibench score --judge embedding`'s
judge, through the same `pipeline.judge_answers`): answers that never look at the image, and mixed honest-looking
answers for scale. Printed per answer kind: mean words (`length.answer_words`), semantic recall, recall with
every answer cut to its first N words (`length.cut_to_words`, default N = 100), the share kept, and how many new
judge requests the budget pass needed (answers within the budget keep their verdict: `pipeline.judge_at_budget`, the path of `--word-budget`).

Then the request count on the loopback judge (tests/judge_server.py, an OpenAI-compatible judge in this process):
the mixed answers judged in full and at the budget must cost exactly one request per sample.

Then issue 32's attacks on the word rule, words counted by the old rule (``len(text.split())``, written inline
below as "old rule") beside the new one (``length.answer_words``, ``WORD_RULE`` 2):

- (a) 500 ground-truth words (the sample's own triggers, then the next samples' in file order) glued by U+200B,
  vs the same words spaced;
- (b) an honest answer (the tests' mixed answers) with a U+200B-glued tail of the sample's trigger words, vs the
  same tail spaced and the honest answer alone;
- (c) the words of (a) joined by commas without spaces: words, and whether the budget cuts it;
- (d) honest answers' word counts under both rules (mean, and how many samples change);
- (e) recall at the budget of image-blind answers: the cue lists the floor packs (``blind.packed_cues``), the
  tests' own generic cue list packed, the long blind list cut, and the floor ``eibench report --with-blind``
  shows at the budget (the real CLI: a run of the mixed answers scored with ``--word-budget``, then the report).

    .venv/bin/python bench/bench_length.py [--budget N] [--limit N]

Bar (issue 25): mixed answers about 21.5 words; the 594-word blind list keeps less than half its recall at
N = 100; short answers keep theirs exactly, with 1,615 requests for 1,615 samples. Bars (issue 32): glued words
counted within 10% of the spaced ones and no higher at the budget; the floor at the budget at least every packed
list. A bar missed is printed as MISSED (and the exit code is 1).
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

from attacks import ATTACK_CUES, mixed_answers  # noqa: E402
from judge_server import judge_server  # noqa: E402

from lmms_eval_eibench import cli, pipeline  # noqa: E402
from lmms_eval_eibench.data.records import load_records  # noqa: E402
from lmms_eval_eibench.judges import JudgeItem, JudgeSettings, build_engine  # noqa: E402
from lmms_eval_eibench.report.floor import FLOOR_MODEL  # noqa: E402
from lmms_eval_eibench.scoring import recall as scoring
from lmms_eval_eibench.scoring.blind import (  # noqa: E402
    blind_answer,
    frequent_triggers,
    numbered_list,
    packed_answer,
    packed_cues,
)
from lmms_eval_eibench.scoring.length import (  # noqa: E402
    SUGGESTED_WORD_BUDGET,
    answer_words,
    cut_to_words,
    mean_answer_words,
)

# Written for this benchmark: the causes any emotional image might have, never looking at one.
GENERIC = ("The person's emotion is likely caused by their facial expression and body posture, the people around "
           "them and how they interact, a conflict, an argument or a disappointment, a celebration, an achievement "
           "or good news, a loss or a separation, the setting and atmosphere of the place, memories of past events, "
           "and cultural or personal expectations about the situation.")


def answer_kinds(records, complex_rows) -> dict[str, list[str]]:
    """Each kind of answer, one per sample (all but the echo and the mixed ones the same for every sample)."""
    n = len(records)
    complex_triggers = [r["triggers"] for r in complex_rows]
    return {
        "the question echoed back": [r.question for r in records],
        "a generic paragraph of emotional causes": [GENERIC] * n,
        "30 most frequent complex triggers": [numbered_list(frequent_triggers(complex_triggers, 30))] * n,
        "100 most frequent complex triggers (the floor list)": [blind_answer(complex_rows)] * n,
        "30 most frequent basic triggers (leaks the test set)":
            [numbered_list(frequent_triggers([r.triggers for r in records], 30))] * n,
        "mixed honest-looking answers (tests' generator)": mixed_answers(records),
    }


def items_for(records, answers) -> list[JudgeItem]:
    return [JudgeItem(id=r.id, answer=a, ground_truth=r.ground_truth, triggers=r.triggers, category=r.category)
            for r, a in zip(records, answers)]


def recall_and_budget(engine, records, answers, budget: int) -> tuple[float, float, int]:
    """Recall in full, recall at the budget (`pipeline.judge_at_budget`, as `eibench score --word-budget`), and how
    many answers the budget pass sent to the judge (the cut ones; the rest keep their verdict)."""
    items = items_for(records, answers)
    verdicts = pipeline.judge_answers(engine, items)
    cut_items, cut_verdicts = pipeline.judge_at_budget(engine, items, verdicts, budget)
    full = pipeline.summarize_verdicts(items, verdicts, "basic")
    at_budget = pipeline.summarize_verdicts(cut_items, cut_verdicts, "basic")
    sent = sum(cut is not item for cut, item in zip(cut_items, items))
    return scoring.to_percent(full.overall), scoring.to_percent(at_budget.overall), sent


ZWSP = "\u200b"  # ZERO WIDTH SPACE: invisible, and not whitespace to str.split
GLUED_WORDS = 500


def old_rule_words(text: str) -> int:
    """The old rule (``WORD_RULE`` 1), written here so the bench compares with it: whitespace-separated words."""
    return len(text.split())


def ground_truth_words(records, i: int, n: int = GLUED_WORDS) -> list[str]:
    """``n`` ground-truth words for sample ``i``: its own triggers' words, then the next samples' (file order)."""
    words: list[str] = []
    for k in range(len(records)):
        for trigger in records[(i + k) % len(records)].triggers:
            words.extend(trigger.split())
        if len(words) >= n:
            break
    return words[:n]


def judged(engine, records, answers, budget: int) -> dict[str, float]:
    """Words by both rules, recall in full and at the budget, and how many answers the budget cut."""
    full, at_budget, _ = recall_and_budget(engine, records, answers, budget)
    return {"old": sum(map(old_rule_words, answers)) / len(answers), "new": mean_answer_words(answers),
            "full": full, "at_budget": at_budget, "cut": sum(cut_to_words(a, budget) != a for a in answers)}


def print_judged(title: str, rows: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    print(f"{'answer':<58} {'old rule':>9} {'words':>7} {'recall':>7} {'@budget':>8} {'cut':>6}")
    for name, row in rows.items():
        print(f"{name:<58} {row['old']:>9.1f} {row['new']:>7.1f} {row['full']:>7.2f} {row['at_budget']:>8.2f} "
              f"{row['cut']:>6}", flush=True)


def bar(ok: bool, text: str, missed: list[str]) -> None:
    """Print a done-when bar as met or MISSED (and remember a missed one)."""
    print(f"  bar: {text}: {'met' if ok else 'MISSED'}")
    if not ok:
        missed.append(text)


def word_rule_attacks(engine, records, budget: int, missed: list[str]) -> None:
    """(a), (b), (c): invisible and comma glue, by both word rules, judged in full and at the budget."""
    words = [ground_truth_words(records, i) for i in range(len(records))]
    glued = {f"{GLUED_WORDS} ground-truth words glued by U+200B": [ZWSP.join(w) for w in words],
             f"the same {GLUED_WORDS} words spaced": [" ".join(w) for w in words],
             f"the same {GLUED_WORDS} words joined by commas, no spaces": [",".join(w) for w in words]}
    rows = {name: judged(engine, records, answers, budget) for name, answers in glued.items()}
    print_judged(f"(a, c) glued words (budget {budget})", rows)
    g, sp, c = rows.values()
    bar(abs(g["new"] - sp["new"]) <= 0.1 * sp["new"], "glued words counted within 10% of the spaced ones", missed)
    bar(g["at_budget"] <= sp["at_budget"], "glued words no higher at the budget than spaced", missed)
    bar(c["cut"] == len(records), "every comma-joined list cut by the budget", missed)

    honest = mixed_answers(records)
    tails = [[w for t in r.triggers for w in t.split()] for r in records]
    kinds = {"honest (mixed) answers": honest,
             "honest + a U+200B-glued tail of the sample's trigger words":
                 [f"{a} {ZWSP.join(t)}" for a, t in zip(honest, tails)],
             "honest + the same tail spaced": [f"{a} {' '.join(t)}" for a, t in zip(honest, tails)]}
    rows = {name: judged(engine, records, answers, budget) for name, answers in kinds.items()}
    print_judged(f"(b) a glued tail (budget {budget})", rows)
    _, g, sp = rows.values()
    bar(abs(g["new"] - sp["new"]) <= 0.1 * sp["new"], "the glued tail counted within 10% of the spaced one", missed)
    bar(g["at_budget"] <= sp["at_budget"], "the glued tail no higher at the budget than spaced", missed)


def honest_word_counts(records) -> None:
    """(d) honest answers under the old and the new word rule."""
    print("\n(d) honest answers' words, old rule vs new rule")
    print(f"{'answers':<42} {'old rule':>9} {'words':>7} {'changed':>9} {'largest change':>15}")
    for name, answers in {"mixed honest-looking answers": mixed_answers(records),
                          "the ground truth (numbered lists)": [r.ground_truth for r in records]}.items():
        old, new = [old_rule_words(a) for a in answers], [answer_words(a) for a in answers]
        changed = sum(o != n for o, n in zip(old, new))
        largest = max(abs(o - n) for o, n in zip(old, new))
        print(f"{name:<42} {sum(old) / len(old):>9.2f} {sum(new) / len(new):>7.2f} {changed:>5} of {len(answers)} "
              f"{largest:>8} words")


def floor_at_budget(engine, records, complex_rows, official: Path, budget: int, folder: Path,
                    missed: list[str]) -> None:
    """(e) image-blind answers at the budget, and the floor the report shows there (the real CLI)."""
    rows: dict[str, float] = {}
    # the cue lists the floor packs (per category: the basic question names its emotion)
    kinds = {kind: [packed_answer(packed_cues(r.category, complex_rows)[kind], budget) for r in records]
             for kind in packed_cues(records[0].category, complex_rows)}
    kinds["the tests' own generic cue list (ATTACK_CUES)"] = [packed_answer(ATTACK_CUES, budget)] * len(records)
    for kind, answers in kinds.items():
        _, at_budget, _ = recall_and_budget(engine, records, answers, budget)
        rows[f"{kind} packed to {budget} words"] = at_budget
    long_list = [blind_answer(complex_rows)] * len(records)
    _, rows[f"the {answer_words(long_list[0])}-word blind list cut to {budget}"], _ = \
        recall_and_budget(engine, records, long_list, budget)

    # a run (the mixed answers) scored with --word-budget, then `eibench report --with-blind` on it
    folder.mkdir()
    samples = folder / "20261207_000000_samples_eibench_basic.jsonl"
    samples.write_text("".join(json.dumps({"doc_id": i, "doc": r.as_row(), "resps": [[a]], "filtered_resps": [a]})
                               + "\n" for i, (r, a) in enumerate(zip(records, mixed_answers(records)))))
    run, summary = folder / "run.json", folder / "summary.json"
    partial = ["--allow-partial"] if len(records) < 1615 else []
    for argv, out in ((["score", str(samples), "--annotations", str(official), *partial, "--judge", "embedding",
                        "--word-budget", str(budget), "--json", "--no-progress"], run),
                      (["report", str(run), "--with-blind", "--annotations", str(official), "--summary",
                        str(summary), "--format", "csv"], None)):
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = cli.main(argv)
        if code != 0:
            raise SystemExit(f"eibench {argv[0]} exited {code}: {stderr.getvalue()}")
        if out is not None:
            out.write_text(stdout.getvalue())
    entries = json.loads(summary.read_text())["entries"]
    [floor] = [e for e in entries if e["model"] == FLOOR_MODEL]
    shown = floor["basic"]["at_budget"]["recall"]["value"]
    note = next((n for n in floor["notes"] if "best of the blind answers" in n), "")
    whole = floor["basic"]["n"] == len(records)
    print(f"\n(e) image-blind answers at {budget} words, {len(records)} samples"
          + ("" if whole else f" (the report's floor: all {floor['basic']['n']}, so not comparable; no bar)"))
    print(f"{'answer':<66} {'@budget':>8}")
    for name, value in rows.items():
        print(f"{name:<66} {value:>8.2f}")
    print(f"{'the floor eibench report --with-blind shows':<66} {shown:>8.2f}")
    print(f"  its note: {note}; unbudgeted floor {floor['basic']['recall']['value']:.2f}")
    if whole:
        bar(all(shown >= v - 1e-9 for v in rows.values()), "the floor at the budget at least every packed list",
            missed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=int, default=SUGGESTED_WORD_BUDGET, help="words kept (default %(default)s)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N basic samples")
    args = parser.parse_args()
    official = Path(os.environ.get("EIBENCH_OFFICIAL_DIR", REPO.parent / "shared" / "eibench"))
    loaded = load_records(official)
    records = loaded.basic[: args.limit]
    complex_rows = [r.as_row() for r in loaded.complex]
    print(f"{len(records)} basic samples; ground truth {mean_answer_words(r.ground_truth for r in records):.1f} words "
          f"(numbered list), budget {args.budget} words; load average {os.getloadavg()[0]:.2f}")
    kinds = answer_kinds(records, complex_rows)
    with tempfile.TemporaryDirectory() as cache:
        settings = JudgeSettings(kind="embedding", cache_dir=cache, progress=False)
        with build_engine(settings) as engine:
            header = f"{'answer':<54} {'words':>6} {'recall':>7} {'@budget':>8} {'kept':>6} {'new requests':>13} {'s':>6}"
            print(header)
            for name, answers in kinds.items():
                start = time.perf_counter()
                full, at_budget, sent = recall_and_budget(engine, records, answers, args.budget)
                kept = at_budget / full if full else float("nan")
                print(f"{name:<54} {mean_answer_words(answers):>6.1f} {full:>7.2f} {at_budget:>8.2f} {kept:>6.1%} "
                      f"{sent:>13} {time.perf_counter() - start:>6.1f}", flush=True)

    # Requests on an OpenAI-compatible judge: the mixed answers in full, then at the budget, one cache.
    honest = kinds["mixed honest-looking answers (tests' generator)"]
    with tempfile.TemporaryDirectory() as cache, judge_server() as judge:
        settings = JudgeSettings(kind="openai", base_url=judge.base_url, model=judge.model, api_key=judge.api_key,
                                 cache_dir=cache, progress=False)
        with build_engine(settings) as engine:
            full, at_budget, _ = recall_and_budget(engine, records, honest, args.budget)
        print(f"loopback judge, mixed answers: recall {full:.2f}, at budget {at_budget:.2f} "
              f"({'the same' if full == at_budget else 'DIFFERENT'}); {judge.stats.chat_requests} requests for "
              f"{len(records)} samples")

    missed: list[str] = []
    with tempfile.TemporaryDirectory() as cache:
        settings = JudgeSettings(kind="embedding", cache_dir=cache, progress=False)
        with build_engine(settings) as engine:
            word_rule_attacks(engine, records, args.budget, missed)
            honest_word_counts(records)
            os.environ["EIBENCH_CACHE_DIR"] = cache  # the report's floor judges with the environment's cache
            floor_at_budget(engine, records, complex_rows, official, args.budget, Path(cache) / "run", missed)
    if missed:
        print(f"\nMISSED: {'; '.join(missed)}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
