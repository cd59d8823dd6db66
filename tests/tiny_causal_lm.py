"""A tiny random causal LM that lm-eval's `hf` model loads and runs on CPU in seconds.

`build_tiny_causal_lm(dest)` writes, from configs only (no download): a 2-layer `LlamaForCausalLM` (hidden size 32,
random weights, about 0.1 MB in float32) and a BPE tokenizer trained with `tokenizers` on a short English text
written for these tests, saved as a transformers fast tokenizer with `<s>`, `</s>`, `<unk>`, `<pad>`.

    lm-eval --model hf --model_args pretrained=<dest>,device=cpu,dtype=float32 ...

Answers are gibberish made of the training text's words, deterministic for a given `seed`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["build_tiny_causal_lm"]

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>"]

# Words the tokenizer learns (and the random model therefore says); they cover the EIBench prompt wording.
TRAINING_TEXT = """
You are a good expert of emotion understanding. Here is a description of an image.
Based on the description of the image, why does the woman feel happy? What made the man angry?
A friend tells a joke at the birthday party and everyone laughs around the table.
The boy is sad because his dog ran away in the rain; his mother hugs him at the door.
Fans cheer and jump when their team scores the winning goal in the stadium.
The driver shouts at the traffic jam, late for work, with a clenched fist on the wheel.
"""


def _train_tokenizer(vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False)
    tokenizer.train_from_iterator([line for line in TRAINING_TEXT.splitlines() if line.strip()], trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>",
                                   eos_token="</s>", pad_token="<pad>", model_max_length=2048)


def build_tiny_causal_lm(dest: Path, *, seed: int = 0, vocab_size: int = 300) -> Path:
    """Write the tiny model + tokenizer to ``dest`` and return it."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_tokenizer(vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    model.save_pretrained(dest, safe_serialization=True)
    tokenizer.save_pretrained(dest)
    return dest
