"""A tiny random checkpoint in the ORIGINAL LLaVA layout (haotian-liu/LLaVA), for lmms-eval's `llava` model.

`build_tiny_llava_original(dest)` writes, from configs only (no download, and without the `llava` package, so
the layout is checked by the code that reads it, not produced by it):

- `dest/<name>/`: the LLaVA checkpoint: `config.json` of `model_type: llava_llama` (`LlavaLlamaForCausalLM`)
  with the `mm_*` keys LLaVA-1.5 checkpoints carry (`mm_vision_tower`, `mm_projector_type: mlp2x_gelu`,
  `mm_vision_select_layer: -2`, `image_aspect_ratio: pad`, ...), `model.safetensors` holding a random 2-layer
  Llama (hidden size 32) plus the projector under `model.mm_projector.*`, and the tokenizer from
  `tiny_llava._train_tokenizer` (BPE trained with `tokenizers`);
- `dest/clip/`: the vision tower `mm_vision_tower` points at: a random 2-layer `CLIPVisionModel` (30 px images,
  15 px patches) with its `CLIPImageProcessor`. LLaVA keeps the tower outside its checkpoint and loads it from
  that path, as it loads `openai/clip-vit-large-patch14-336` for the real models.

The checkpoint folder's name contains `llava`: LLaVA's loader picks its multimodal class by the model name
(`get_model_name_from_path`), as the real checkpoints' names do.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["build_tiny_llava_original"]

IMAGE_SIZE = 30
PATCH_SIZE = 15
HIDDEN = 32


def build_tiny_llava_original(dest: Path, *, name: str = "tiny-llava-v1.5", seed: int = 0) -> Path:
    """Write the checkpoint into `dest/<name>` (its vision tower into `dest/clip`) and return the checkpoint folder."""
    import torch
    from safetensors.torch import save_file
    from tiny_llava import _train_tokenizer
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        CLIPVisionModel,
        LlamaConfig,
        LlamaForCausalLM,
    )

    dest = Path(dest)
    model_dir, clip_dir = dest / name, dest / "clip"
    model_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)

    vision_config = CLIPVisionConfig(
        hidden_size=HIDDEN, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        image_size=IMAGE_SIZE, patch_size=PATCH_SIZE, projection_dim=HIDDEN,
    )  # fmt: skip
    CLIPVisionModel(vision_config).eval().save_pretrained(clip_dir)
    CLIPImageProcessor(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    ).save_pretrained(clip_dir)

    tokenizer = _train_tokenizer(400)
    tokenizer.save_pretrained(model_dir)
    text_config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=HIDDEN, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )  # fmt: skip
    llama = LlamaForCausalLM(text_config).eval()
    weights = {k: v.detach().clone().contiguous() for k, v in llama.state_dict().items()}
    # mlp2x_gelu: Linear(mm_hidden_size, hidden) -> GELU -> Linear(hidden, hidden), as LLaVA-1.5 names it
    for index, shape in ((0, (HIDDEN, vision_config.hidden_size)), (2, (HIDDEN, HIDDEN))):
        weights[f"model.mm_projector.{index}.weight"] = torch.randn(shape) * 0.02
        weights[f"model.mm_projector.{index}.bias"] = torch.zeros(shape[0])
    save_file(weights, str(model_dir / "model.safetensors"), metadata={"format": "pt"})

    config = {
        **{k: v for k, v in text_config.to_dict().items() if not k.startswith("_")},
        "architectures": ["LlavaLlamaForCausalLM"],
        "model_type": "llava_llama",
        "mm_vision_tower": str(clip_dir),
        "mm_hidden_size": vision_config.hidden_size,
        "mm_projector_type": "mlp2x_gelu",
        "mm_vision_select_layer": -2,
        "mm_vision_select_feature": "patch",
        "mm_patch_merge_type": "flat",
        "mm_use_im_start_end": False,
        "mm_use_im_patch_token": False,
        "image_aspect_ratio": "pad",
        "use_mm_proj": True,
        "tokenizer_padding_side": "right",
        "tokenizer_model_max_length": 2048,
    }
    (model_dir / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return model_dir
