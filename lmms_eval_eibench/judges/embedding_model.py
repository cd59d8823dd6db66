"""The embedding judge's sentence encoder: load once, encode many short texts, unit vectors out.

A sentence-transformers model folder whose pipeline is a plain transformer, mean or CLS pooling and an
optional normalization (all-MiniLM-L6-v2 is one) is run with `transformers` directly: the same
tokenization, forward pass and pooling as sentence-transformers, without importing sentence-transformers,
whose own imports (timm, wandb and more, when installed, as beside lmms-eval) took 19 s of a 25 s cold start
on the project machine. Vectors agree with sentence-transformers' to float rounding
(tests/test_judge_embedding.py). Any other model, or one given by Hub name, loads through
sentence-transformers as before.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Encoder", "load_encoder"]

_TRANSFORMER = ("sentence_transformers.models.Transformer", "sentence_transformers.base.modules.Transformer",
                "sentence_transformers.base.modules.transformer.Transformer")
_POOLING = ("sentence_transformers.models.Pooling", "sentence_transformers.sentence_transformer.modules.Pooling",
            "sentence_transformers.sentence_transformer.modules.pooling.Pooling")
_NORMALIZE = ("sentence_transformers.models.Normalize", "sentence_transformers.base.modules.Normalize",
              "sentence_transformers.base.modules.normalize.Normalize")
_POOLING_MODES = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}


@dataclass
class Encoder:
    """A loaded model. `encode` returns an (n, dim) float32 array of unit vectors in input order."""

    runtime: str  # "transformers" (the direct path) or "sentence-transformers"
    folder: Path | None  # the model's local files, when known (their hash keys the embedding store)
    dim: int
    max_seq_length: int
    device: str
    _model: Any = field(repr=False, default=None)
    _tokenizer: Any = field(repr=False, default=None)
    _pooling: str = "mean"
    _normalize_module: bool = False

    def encode(self, texts: Sequence[str], batch_size: int = 128, progress: bool = False) -> Any:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.runtime == "sentence-transformers":
            return self._model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                      convert_to_numpy=True, show_progress_bar=progress)
        return self._encode_direct(texts, batch_size, progress)

    def _encode_direct(self, texts: Sequence[str], batch_size: int, progress: bool) -> Any:
        import numpy as np
        import torch
        import torch.nn.functional as F
        from tqdm.auto import tqdm

        # Longest first, as sentence-transformers does: batches of similar length pad little.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        starts = range(0, len(texts), batch_size)
        with torch.inference_mode():
            for start in tqdm(starts, desc="embedding", unit="batch", disable=not progress, leave=False):
                index = order[start : start + batch_size]
                features = self._tokenizer([texts[i] for i in index], padding=True, truncation="longest_first",
                                           max_length=self.max_seq_length, return_tensors="pt")
                features = {k: v.to(self.device) for k, v in features.items()}
                tokens = self._model(**features, return_dict=True).last_hidden_state
                if self._pooling == "cls":
                    pooled = tokens[:, 0]
                else:
                    mask = features["attention_mask"].unsqueeze(-1).to(tokens.dtype)
                    pooled = (tokens * mask).sum(dim=1) / torch.clamp(mask.sum(dim=1), min=1e-9)
                if self._normalize_module:
                    pooled = F.normalize(pooled, p=2, dim=1)
                # what encode(normalize_embeddings=True) adds. Not a no-op after the Normalize module: it moves
                # the last bit of ~40% of all-MiniLM-L6-v2 vectors, and keeps ours bit-equal to
                # sentence-transformers' (and to the similarities already stored).
                pooled = F.normalize(pooled, p=2, dim=1)
                out[index] = pooled.float().cpu().numpy()
        return out


def _direct_pipeline(folder: Path) -> dict[str, Any] | None:
    """Pooling mode, normalization and max_seq_length if the folder's pipeline is one we run directly."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        types = [m["type"] for m in modules]
        if len(types) not in (2, 3) or types[0] not in _TRANSFORMER or types[1] not in _POOLING:
            return None
        if len(types) == 3 and types[2] not in _NORMALIZE:
            return None
        if modules[0].get("path", "") not in ("", "."):
            return None
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
        active = [key for key, value in pooling.items() if key.startswith("pooling_mode_") and value is True]
        if len(active) != 1 or active[0] not in _POOLING_MODES:
            return None
        if pooling.get("include_prompt") is False:
            return None
        config = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        if config.get("do_lower_case"):
            return None
        if set(config) - {"max_seq_length", "do_lower_case"}:
            return None  # tokenizer or model options we would have to mirror
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {"pooling": _POOLING_MODES[active[0]], "normalize": len(types) == 3,
            "max_seq_length": config.get("max_seq_length")}


def load_encoder(source: str, device: str, max_seq_length: int) -> Encoder:
    """The encoder for a model folder or Hub name, truncating texts at `max_seq_length` tokens (or the
    model's own limit, when lower). Raises whatever loading raises."""
    folder = Path(source).expanduser()
    pipeline = _direct_pipeline(folder) if folder.is_dir() else None
    if pipeline is not None:
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        model = AutoModel.from_pretrained(str(folder)).to(device).eval()
        own_limit = pipeline["max_seq_length"] or tokenizer.model_max_length or max_seq_length
        return Encoder(runtime="transformers", folder=folder, dim=int(model.config.hidden_size),
                       max_seq_length=min(int(own_limit), max_seq_length), device=device, _model=model,
                       _tokenizer=tokenizer, _pooling=pipeline["pooling"], _normalize_module=pipeline["normalize"])

    from lmms_eval_eibench.config import require

    require("sentence_transformers", f"the embedding judge with model {source}")  # names the extra to install
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(source, device=device)
    model.max_seq_length = min(model.max_seq_length or 256, max_seq_length)
    dimension = model.get_sentence_embedding_dimension() if hasattr(model, "get_sentence_embedding_dimension") else None
    if dimension is None:
        dimension = len(model.encode(["x"], convert_to_numpy=True)[0])
    return Encoder(runtime="sentence-transformers", folder=folder if folder.is_dir() else None,
                   dim=int(dimension), max_seq_length=model.max_seq_length, device=device, _model=model)
