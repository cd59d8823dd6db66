"""What verbosity buys, and what a word budget takes back (issue 25's table, re-measured).

On all 1,615 basic samples, with the offline embedding judge (all-MiniLM-L6-v2, `eibench score --judge embedding`'s
judge, through the same `pipeline.judge_answers`): answers that never look at the image, and mixed honest-looking
answers for scale. Printed per answer kind: mean words (`length.answer_words`), semantic recall, recall with
every answer cut to its first N words (`length.cut_to_words`, default N = 100), the share kept, and how many new
judge requests the budget pass needed (answers within the budget keep their verdict: `pipeline.judge_at_budget`, the path of `--word-budget`).

Then the request count on the loopback judge (tests/judge_server.py, an OpenAI-compatible judge in this process):
the mixed answers judged in full and at the budget must cost exactly one request per sample.

    .venv/bin/python bench/bench_length.py [--budget N] [--limit N]

Bar (issue 25): mixed answers about 21.5 words; the 594-word blind list keeps less than half its recall at
N = 100; short answers keep theirs exactly, with 1,615 requests for 1,615 samples.
Annotations: $EIBENCH_OFFICIAL_DIR or ../shared/eibench next to the repository.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from judge_server import judge_server  # noqa: E402
from test_planted_attacks import mixed_answers  # noqa: E402

from lmms_eval_eibench import pipeline, scoring  # noqa: E402
from lmms_eval_eibench.blind import blind_answer, frequent_triggers, numbered_list  # noqa: E402
from lmms_eval_eibench.judges import JudgeItem, JudgeSettings, build_engine  # noqa: E402
from lmms_eval_eibench.length import SUGGESTED_WORD_BUDGET, mean_answer_words  # noqa: E402
from lmms_eval_eibench.records import load_records  # noqa: E402

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
        "100 most frequent complex triggers (the floor)": [blind_answer(complex_rows)] * n,
        "30 most frequent basic triggers (leaks; upper bound)":
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


if __name__ == "__main__":
    main()
