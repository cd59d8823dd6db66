"""A tiny random LLaVA checkpoint that lmms-eval's `llava_hf` model loads and runs on CPU in seconds.

`build_tiny_llava(dest)` writes, from configs only (no download):

- `LlavaForConditionalGeneration` with random weights: a 2-layer CLIP vision tower (30 px images, 15 px
  patches, so an image is 4 tokens) and a 2-layer Llama text model (hidden size 32), about 1 MB in float32;
- a BPE tokenizer trained with `tokenizers` on a short English text, saved as a transformers
  fast tokenizer with the special tokens llava needs (`<s>`, `</s>`, `<unk>`, `<pad>`, `<image>`);
- a CLIP image processor, a `LlavaProcessor` and a chat template that accepts both message shapes
  lmms-eval sends (`content` as a string with `<image>` in it, or a list of image/text parts).

Use it as

    from tests.tiny_llava import build_tiny_llava      # or `from tiny_llava import ...` inside tests/
    model_dir = build_tiny_llava(tmp_path / "tiny-llava")
    # lmms-eval --model llava_hf --model_args pretrained=<model_dir>,device=cpu,device_map=cpu,dtype=float32

The weights are random, so answers are gibberish made of the training text's words; they are
deterministic for a given `seed`. Heavy imports (torch, transformers, tokenizers) happen inside the function.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["IMAGE_SIZE", "IMAGE_TOKENS_PER_IMAGE", "build_tiny_llava", "write_image_task"]

IMAGE_SIZE = 30
PATCH_SIZE = 15
# CLIP adds a CLS token; llava's "default" feature strategy drops it again.
IMAGE_TOKENS_PER_IMAGE = (IMAGE_SIZE // PATCH_SIZE) ** 2

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]

# Our own chat template (Vicuna-like roles). Handles string content (llava_hf "simple" path, where the
# prompt already holds `<image>`) and list content (llava_hf "chat" path: image parts become `<image>`).
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ message['role'] | upper }}: "
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}"
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}<image>\n{% endif %}{% endfor %}"
    "{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}"
    "{% endif %}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}{{ '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)

# Words the tokenizer learns (and the random model therefore says). Written for these tests.
TRAINING_TEXT = """
USER: ASSISTANT:
A woman smiles at her friend across the table while the children laugh at a small dog.
The man looks angry because the train is late and the rain has soaked his coat.
Two people hug at the airport; one of them is crying with joy after a long time apart.
How many people are in the image, and who are they? What are they doing together?
Describe their facial expressions, their body posture and their gestures.
What happened just before this moment, and what might happen next?
Which objects, places or relationships could explain why they feel this way?
Summarize the emotional triggers as a numbered list with a brief explanation of each.
1. The surprise party made her happy. 2. The lost game made him sad. 3. The exam result excited them.
"""


def _train_tokenizer(vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    # Metaspace (not byte-level) so that whatever the random model emits decodes to readable word pieces;
    # characters the training text lacks become <unk>, which is harmless for a random model.
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False)
    tokenizer.train_from_iterator([TRAINING_TEXT] * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        extra_special_tokens={"image_token": "<image>"},
        padding_side="left",  # batched generation pads on the left
        model_max_length=4096,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_llava(dest: Path, *, seed: int = 0, vocab_size: int = 400) -> Path:
    """Write a tiny random `llava_hf`-loadable checkpoint into `dest` (created if needed) and return it.

    Takes about a second and a few MB. The folder holds `config.json`, `model.safetensors`, the tokenizer
    files, `preprocessor_config.json`, `processor_config.json` and the chat template.
    """
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)

    tokenizer = _train_tokenizer(vocab_size)
    vision_config = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=IMAGE_SIZE,
        patch_size=PATCH_SIZE,
        projection_dim=32,
    )
    text_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,  # CFSA prompts carry a transcript; RoPE makes length free
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    config = LlavaConfig(
        vision_config=vision_config,
        text_config=text_config,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        image_seq_length=IMAGE_TOKENS_PER_IMAGE,
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
        projector_hidden_act="gelu",
    )

    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.save_pretrained(dest)

    image_processor = CLIPImageProcessor(
        size={"shortest_edge": IMAGE_SIZE},
        crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=PATCH_SIZE,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(dest)
    return dest


_TASK_YAML = """\
task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {name}.jsonl
test_split: test
output_type: generate_until
doc_to_visual: !function {name}_utils.doc_to_visual
doc_to_text: !function {name}_utils.doc_to_text
doc_to_target: answer
generation_kwargs:
  max_new_tokens: {max_new_tokens}
  temperature: 0
  do_sample: false
process_results: !function {name}_utils.process_results
metric_list:
  - metric: answered
    aggregation: mean
    higher_is_better: true
metadata:
  version: 0
"""

_TASK_UTILS = '''"""Hooks of a throwaway test task: one solid-colour image and one question per doc."""

from PIL import Image


def doc_to_visual(doc):
    if doc["image_file"]:  # a doc whose image must be read from disk (tests point it at a missing file)
        return [Image.open(doc["image_file"]).convert("RGB")]
    return [Image.new("RGB", (40, 32), doc["colour"])]


def doc_to_text(doc):
    return doc["question"]


def process_results(doc, results):
    # 1 when the model said something: the test only checks that generation happened.
    return {"answered": float(bool(results[0].strip()))}
'''

_QUESTIONS = [
    ("red", "Why does the woman in the picture look so happy?"),
    ("blue", "What made the man in this image angry?"),
    ("green", "Why are the children excited?"),
    ("gray", "What could make this person sad?"),
]


def write_image_task(
    folder: Path, name: str = "tiny_image_qa", *, n_docs: int = 2, max_new_tokens: int = 8,
    unreadable: tuple[int, ...] = (),
) -> Path:
    """Write a local `generate_until` lmms-eval task (`name`) into `folder` and return the folder.

    Pass the folder as `--include_path`. Each doc is a solid-colour image and an emotion question; the
    metric `answered` is 1 when the response is not empty. `n_docs` is at most 4. The docs listed in
    `unreadable` point at an image file that does not exist, so `doc_to_visual` raises for them (a
    real-world failure for a model to handle).
    """
    import json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {"colour": colour, "question": question, "answer": "n/a",
         "image_file": str(folder / f"missing-{i}.png") if i in unreadable else None}
        for i, (colour, question) in enumerate(_QUESTIONS[:n_docs])
    ]  # fmt: skip
    (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (folder / f"{name}_utils.py").write_text(_TASK_UTILS, encoding="utf-8")
    (folder / f"{name}.yaml").write_text(
        _TASK_YAML.format(name=name, max_new_tokens=max_new_tokens), encoding="utf-8"
    )
    return folder
