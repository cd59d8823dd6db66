"""Long-term coherence: the batched path (sentences of many answers per forward pass, sorted by length) against
one batch per answer (the official script's loop), on the same 1,615 answers in the same run.

    .venv/bin/python bench/bench_coherence.py [--model PATH_OR_ID] [--spacy-model blank] [--answers N]

Default: a tiny random BERT written into a temporary folder (tests/tiny_bert.py) and the `blank` sentencizer, so
it runs offline; pass `--model bert-base-uncased` where that model is available. Prints seconds per 1,615 answers
for each path, their ratio, and the largest difference between the two paths' answer scores.
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

from test_coherence import generated_answers  # noqa: E402
from tiny_bert import save_tiny_bert  # noqa: E402

from lmms_eval_eibench.coherence import CoherenceScorer, CoherenceSettings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="BERT model (default: a tiny random one written for this run)")
    parser.add_argument("--spacy-model", default="blank")
    parser.add_argument("--answers", type=int, default=1615)
    args = parser.parse_args()
    answers = generated_answers(args.answers, seed=11)
    with tempfile.TemporaryDirectory() as folder:
        model = args.model or str(save_tiny_bert(Path(folder) / "bert"))
        scorer = CoherenceScorer(CoherenceSettings(model=model, spacy_model=args.spacy_model), device="cpu")
        scorer.answer_scores(answers[:20])  # warm up both paths' code
        print(f"{len(answers)} answers, model {args.model or 'tiny random BERT (hidden 32, 2 layers)'}, spaCy "
              f"{args.spacy_model}; load average {os.getloadavg()[0]:.2f}; torch threads "
              f"{scorer.torch.get_num_threads()}")
        start = time.perf_counter()
        one_by_one = [scorer.answer_scores([answer])[0] for answer in answers]
        alone = time.perf_counter() - start
        start = time.perf_counter()
        batched = scorer.answer_scores(answers)
        together = time.perf_counter() - start
    per = 1615 / len(answers)
    diff = max((abs(a - b) for a, b in zip(one_by_one, batched) if a is not None), default=0.0)
    print(f"one batch per answer (the official loop): {alone * per:7.2f} s per 1,615 answers")
    print(f"batched across answers:                   {together * per:7.2f} s per 1,615 answers")
    print(f"ratio: {alone / together:.1f}x; largest difference in an answer's score: {diff:.1e}; "
          f"{sum(s is not None for s in batched)} of {len(answers)} answers scored")


if __name__ == "__main__":
    main()
