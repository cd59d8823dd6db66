"""`eibench coherence ANSWERS`: the paper's long-term coherence of saved answers (no judge, no ground truth).

    eibench coherence OUT/model/..._samples_eibench_basic.jsonl --json
    eibench coherence answers.jsonl --model bert-base-uncased --spacy-model blank

ANSWERS is an lmms-eval `--log_samples` JSONL or the official answer format (`{"<image path>": "<answer>"}` per
line). The algorithm and its quirks are in `lmms_eval_eibench.scoring.coherence`. Exit status: 0 scored; 1 a model cannot
be loaded; 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lmms_eval_eibench.scoring.coherence import DEFAULT_MODEL, DEFAULT_SPACY, MODEL_ENV, SPACY_ENV

HELP = "the paper's long-term coherence of saved answers (no judge)"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("coherence", help=HELP, description=(
        "Long-term coherence (EIBench's second metric): each answer split into sentences (spaCy), each sentence "
        "embedded by BERT ([CLS]), the mean cosine similarity of consecutive sentences; the run's score is the mean "
        "over answers of 2+ sentences (0-100; an exact 0 is dropped, as the official script does)."))
    parser.add_argument("answers", metavar="ANSWERS", help="lmms-eval --log_samples JSONL or official answers")
    parser.add_argument("--model", metavar="M", help=f"BERT model, Hub id or folder (default ${MODEL_ENV} or "
                                                     f"{DEFAULT_MODEL})")
    parser.add_argument("--spacy-model", metavar="S", help=f"spaCy pipeline (default ${SPACY_ENV} or {DEFAULT_SPACY}; "
                                                           "'blank': the rule-based sentencizer, a deviation)")
    parser.add_argument("--json", action="store_true", help="print coherence (0-100), n_scored, n and the models")
    return parser


def run(args: argparse.Namespace) -> int:
    import os

    from lmms_eval_eibench.answers import read_answer_texts
    from lmms_eval_eibench.config import MissingExtra
    from lmms_eval_eibench.files import InputFileError
    from lmms_eval_eibench.scoring.coherence import CoherenceSettings, CoherenceSetupError, scorer

    try:
        texts = read_answer_texts(Path(args.answers))
    except InputFileError as exc:
        print(f"eibench coherence: {exc}", file=sys.stderr)
        return 2
    settings = CoherenceSettings(model=args.model or os.environ.get(MODEL_ENV, "").strip() or DEFAULT_MODEL,
                                 spacy_model=args.spacy_model or os.environ.get(SPACY_ENV, "").strip()
                                 or DEFAULT_SPACY)
    try:
        result = scorer(settings).score([t.text for t in texts])
    except (CoherenceSetupError, MissingExtra) as exc:
        print(f"eibench coherence: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"coherence": result.coherence, "n_scored": result.n_scored, "n": result.n,
                          **settings.record()}, indent=2))
    else:
        value = "n/a (no answer has 2 sentences)" if result.coherence is None else f"{result.coherence:.2f}"
        print(f"long-term coherence (0-100): {value}  ({result.n_scored} of {result.n} answers scored; "
              f"model {settings.model}, spaCy {settings.spacy_model})")
    return 0
