"""Coarse-to-Fine Self-Ask (CFSA) as an lmms-eval model (`--model eibench_cfsa`) over any other lmms-eval model.

CFSA answers an emotion question in steps (the EIBench paper's method; its prompts were never published, so the
templates `prompts/cfsa_*.j2` are ours):

1. rewrite the question so it is grounded in the image (`cfsa_rewrite`);
2. answer the fixed general questions about the image (blocks of `cfsa_general`, answered with `cfsa_answer`);
3. write K scenario-specific follow-up questions from the question and those answers (`cfsa_followup`, one per
   focus block of `cfsa_focus`), then answer them (`cfsa_answer`);
4. summarize the emotional triggers as a numbered list with brief explanations (`cfsa_summary`), written by the
   base model (with the image) or by an OpenAI-compatible LLM (text only).

The base model is asked in rounds: every round's requests for all samples go to the base model's
`generate_until` in one call (so a base model that batches, batches across samples). Steps 1 and 2 do not depend
on each other and share the first round: 4 rounds in all (3 when the LLM summarizes, 2 + summary when K = 0).
Base-model calls per sample: `1 + G + 2K + 1` (G general questions, K follow-ups; the last `1` moves to the LLM
when it summarizes); see `calls_per_sample`.

Every question and answer of a sample is logged into lmms-eval's `--log_samples` line under `input` (see
`attach_transcript` for why there). A sample whose round fails (the base model raises, or answers nothing) stops
there: its response is a `[eibench_cfsa failed ...]` line (`failure_reason` recognizes it), its transcript says
which step failed and why, and an error is logged; with `cfsa_on_failure=raise` the run stops instead.

One module per part: `settings` (the `cfsa_*` model args), `plan` (the questions asked and the calls they cost),
`method` (the rounds, `run_cfsa`, and `manifest()`, the `lmms_eval.models` entry point), `transcript` (what a
sample's `--log_samples` line records), `summarizer` (the OpenAI-compatible summary step). The lmms-eval model
class is `model.CFSA`, which lmms-eval imports (and with it torch) only when the model is asked for; importing the
package is cheap.
"""

from __future__ import annotations

from lmms_eval_eibench.cfsa.method import MODEL_ID, CFSAFailure, manifest, parse_followup, run_cfsa
from lmms_eval_eibench.cfsa.plan import CFSA_VERSION, TEMPLATES, focuses, general_questions
from lmms_eval_eibench.cfsa.settings import API_KEY_ENV, CFSAConfigError, CFSASettings, calls_per_sample
from lmms_eval_eibench.cfsa.summarizer import OpenAISummarizer, SummarizerError
from lmms_eval_eibench.cfsa.transcript import Transcript, attach_transcript
from lmms_eval_eibench.vocabulary import FAILED_PREFIX, failure_reason

__all__ = [
    "API_KEY_ENV",
    "CFSA_VERSION",
    "FAILED_PREFIX",
    "MODEL_ID",
    "TEMPLATES",
    "CFSAConfigError",
    "CFSAFailure",
    "CFSASettings",
    "OpenAISummarizer",
    "SummarizerError",
    "Transcript",
    "attach_transcript",
    "calls_per_sample",
    "failure_reason",
    "focuses",
    "general_questions",
    "manifest",
    "parse_followup",
    "run_cfsa",
]
