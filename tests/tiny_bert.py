"""A tiny random BERT written from a config with its own WordPiece vocabulary (no Hub), for the coherence tests
and bench: `save_tiny_bert(folder)` writes a folder `BertTokenizer`/`BertModel.from_pretrained` load offline."""

from __future__ import annotations

import string
from pathlib import Path

WORDS = ("the a an and of to in is are was were he she they it this that with on at for by people person face "
         "smile smiles smiling cry crying tears happy sad angry anger joy fear crowd cheering cake birthday friend "
         "family party loss lost match game win won hand fist raised clenched room light dark rain street car dog "
         "child children woman man girl boy hug holding looking look looks background expression eyes mouth open "
         "because feels feel emotion scene image shows show").split()


def save_tiny_bert(folder: Path, seed: int = 0, hidden: int = 32) -> Path:
    """Write the model and its vocabulary into ``folder`` (created) and return it."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    pieces = [f"##{c}" for c in string.ascii_lowercase + string.digits]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *string.ascii_lowercase, *string.digits,
             *string.punctuation, *pieces, *WORDS]
    vocab = list(dict.fromkeys(vocab))
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(vocab_file=str(folder / "vocab.txt"), model_max_length=64)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=2 * hidden, max_position_embeddings=64)
    BertModel(config).eval().save_pretrained(folder)
    return folder
