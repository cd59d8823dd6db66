"""Long-term coherence, EIBench's second metric (the official ``EI_Basic/long_term_scores.py``, reimplemented).

Reference-free and judge-free: how smoothly an answer's sentences follow one another. The official algorithm:

1. split the answer into sentences with spaCy (``en_core_web_sm``); an answer of fewer than 2 sentences is not
   scored (an empty answer neither);
2. embed the answer's sentences with BERT (``bert-base-uncased``, ``BertTokenizer`` + ``BertModel``, padded,
   ``truncation=True``), each sentence as the **[CLS] vector of ``last_hidden_state``** (not the pooled output);
3. the answer's score is the mean cosine similarity of its *consecutive* sentence pairs;
4. the run's score is the mean over scored answers, where the official ``if coherence_score:`` also drops a score
   of exactly 0.0. It is reported here on a 0-100 scale (the script prints a fraction, the paper percent), with
   ``n_scored`` of ``n`` answers.

The paper warns that a high coherence does not mean good emotion understanding (most models score 80-86).

Deviations, each a setting: ``EIBENCH_COHERENCE_SPACY=blank`` uses ``spacy.blank("en")`` with the rule-based
``sentencizer`` (offline; splits on punctuation, not parses); the models are configurable
(``EIBENCH_COHERENCE_MODEL``); any device (the script hard-codes CUDA). Sentences of many answers are embedded
together, sorted by length, one forward pass per batch: the attention mask keeps padding out of a [CLS] vector, so
the numbers equal one batch per answer up to float noise (``tests/test_coherence.py``). torch, transformers and
spaCy load on first use.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lmms_eval_eibench.config import MissingExtra, env_flag, missing_extra_hint

DEFAULT_MODEL = "bert-base-uncased"
DEFAULT_SPACY = "en_core_web_sm"
BLANK_SPACY = "blank"
ENABLE_ENV = "EIBENCH_COHERENCE"
MODEL_ENV = "EIBENCH_COHERENCE_MODEL"
SPACY_ENV = "EIBENCH_COHERENCE_SPACY"
BATCH_SENTENCES = 64


class CoherenceSetupError(RuntimeError):
    """A coherence model cannot be loaded; the message says how to get it."""


@dataclass(frozen=True)
class CoherenceSettings:
    """Which models score coherence: the BERT model (a Hub id or a folder) and the spaCy pipeline (or ``blank``)."""

    model: str = DEFAULT_MODEL
    spacy_model: str = DEFAULT_SPACY

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CoherenceSettings | None:
        """The settings of an lmms-eval run: None (no coherence) unless ``EIBENCH_COHERENCE`` is on or either model
        variable is set. ``EIBENCH_COHERENCE=0`` turns it off even then."""
        env = os.environ if env is None else env
        model = env.get(MODEL_ENV, "").strip()
        spacy_model = env.get(SPACY_ENV, "").strip()
        if not env_flag(ENABLE_ENV, default=bool(model or spacy_model), env=env):
            return None
        return cls(model=model or DEFAULT_MODEL, spacy_model=spacy_model or DEFAULT_SPACY)

    def record(self) -> dict[str, str]:
        """The provenance record's ``coherence`` member."""
        return {"model": self.model, "spacy_model": self.spacy_model}


@dataclass(frozen=True)
class CoherenceResult:
    """A run's coherence (0-100; None when no answer was scored) over ``n_scored`` of ``n`` answers."""

    coherence: float | None
    n_scored: int
    n: int


def run_coherence(scores: Sequence[float | None]) -> CoherenceResult:
    """The run's score from the answers' scores (None: not scored), as the official script averages them: an
    answer's exact 0.0 is dropped too (its ``if coherence_score:``)."""
    kept = [score for score in scores if score]
    mean = math.fsum(kept) / len(kept) if kept else None
    return CoherenceResult(None if mean is None else 100.0 * mean, len(kept), len(scores))


def answer_percent(score: float | None) -> float | None:
    """One answer's coherence as an lmms-eval per-sample item: 0-100, the run's scale (so that lmms-eval's
    ``_stderr_clt`` over the items is on it too); None when it does not count in the run's mean (not scored, or an
    exact 0.0, which ``run_coherence`` drops as the official script does)."""
    return 100.0 * score if score else None


def load_sentencizer(name: str) -> Callable[[str], list[str]]:
    """A function splitting text into sentences with the spaCy pipeline ``name`` (``blank``: the rule-based
    sentencizer)."""
    try:
        import spacy
    except ModuleNotFoundError:
        raise MissingExtra(f"coherence needs spaCy: {missing_extra_hint('spacy')}") from None
    if name == BLANK_SPACY:
        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
    else:
        try:
            nlp = spacy.load(name)
        except OSError:
            raise CoherenceSetupError(
                f"the spaCy model {name!r} is not installed: python -m spacy download {name} (or set "
                f"{SPACY_ENV}={BLANK_SPACY} / --spacy-model {BLANK_SPACY} for the rule-based sentencizer, a documented "
                "deviation from the paper)"
            ) from None
    return lambda text: [sentence.text for sentence in nlp(text).sents]


class CoherenceScorer:
    """The two models, loaded once; ``answer_scores`` scores many answers with few forward passes."""

    def __init__(self, settings: CoherenceSettings, device: str | None = None) -> None:
        self.settings = settings
        self.split = load_sentencizer(settings.spacy_model)
        try:
            import torch
            from transformers import BertModel, BertTokenizer
        except ModuleNotFoundError as err:
            raise MissingExtra(f"coherence needs {err.name}: {missing_extra_hint(err.name or 'torch')}") from None
        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            self.tokenizer = BertTokenizer.from_pretrained(settings.model)
            self.model = BertModel.from_pretrained(settings.model).to(self.device).eval()
        except OSError as err:
            raise CoherenceSetupError(
                f"cannot load the BERT model {settings.model!r} ({MODEL_ENV} / --model): {err}"
            ) from None
        # truncation=True as the script; bounded by the model's positions (bert-base-uncased: both 512)
        self.max_length = min(self.tokenizer.model_max_length, self.model.config.max_position_embeddings)

    def sentences(self, answer: str) -> list[str]:
        return self.split(answer) if answer and answer.strip() else []

    def embed(self, sentences: Sequence[str]) -> Any:
        """The [CLS] vectors of ``last_hidden_state`` of ``sentences``, one padded batch (a float tensor)."""
        batch = self.tokenizer(list(sentences), return_tensors="pt", padding=True, truncation=True,
                               max_length=self.max_length).to(self.device)
        with self.torch.no_grad():
            return self.model(**batch).last_hidden_state[:, 0, :].float().cpu()

    def answer_scores(self, answers: Sequence[str], batch_sentences: int = BATCH_SENTENCES) -> list[float | None]:
        """Each answer's coherence in [-1, 1] (None: fewer than 2 sentences). Sentences of all answers are embedded
        together, sorted by length so a batch pads little."""
        split = [self.sentences(answer) for answer in answers]
        flat = [(i, j) for i, sentences in enumerate(split) if len(sentences) >= 2 for j in range(len(sentences))]
        # by length in characters (close to tokens, and free): a batch of similar lengths pads little
        order = sorted(range(len(flat)), key=lambda k: len(split[flat[k][0]][flat[k][1]]))
        vectors: dict[tuple[int, int], Any] = {}
        for start in range(0, len(order), batch_sentences):
            chunk = [flat[k] for k in order[start:start + batch_sentences]]
            for key, vector in zip(chunk, self.embed([split[i][j] for i, j in chunk])):
                vectors[key] = vector
        return [consecutive_mean([vectors[(i, j)] for j in range(len(sentences))], self.torch)
                if len(sentences) >= 2 else None for i, sentences in enumerate(split)]

    def score(self, answers: Sequence[str]) -> CoherenceResult:
        return run_coherence(self.answer_scores(answers))


def consecutive_mean(vectors: Sequence[Any], torch: Any) -> float:
    """Mean cosine similarity of consecutive vectors."""
    pairs = [torch.nn.functional.cosine_similarity(a, b, dim=0).item() for a, b in zip(vectors, vectors[1:])]
    return sum(pairs) / len(pairs)


@functools.lru_cache(maxsize=4)
def scorer(settings: CoherenceSettings) -> CoherenceScorer:
    """One scorer per process and settings (the models load once)."""
    return CoherenceScorer(settings)
