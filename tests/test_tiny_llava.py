"""The tiny random llava checkpoint loads in lmms-eval's `llava_hf` and generates, on both its code paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_llava import IMAGE_TOKENS_PER_IMAGE, build_tiny_llava, write_image_task

LMMS_EVAL = Path(sys.executable).with_name("lmms-eval")
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="module")
def tiny_llava(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llava(tmp_path_factory.mktemp("tiny-llava"))


def test_checkpoint_is_tiny_and_complete(tiny_llava: Path) -> None:
    names = {p.name for p in tiny_llava.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "processor_config.json"} <= names
    size = sum(p.stat().st_size for p in tiny_llava.iterdir())
    assert size < 5_000_000, f"checkpoint is {size} bytes"


def test_processor_expands_image_token_and_model_generates(tiny_llava: Path) -> None:
    import torch
    from PIL import Image
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    processor = AutoProcessor.from_pretrained(tiny_llava)
    model = LlavaForConditionalGeneration.from_pretrained(tiny_llava, dtype=torch.float32)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Why is she happy?"}]}]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert "<image>" in text and text.endswith("ASSISTANT:")
    inputs = processor(images=[Image.new("RGB", (50, 40), "red")], text=text, return_tensors="pt")
    image_id = processor.tokenizer.convert_tokens_to_ids("<image>")
    assert int((inputs["input_ids"] == image_id).sum()) == IMAGE_TOKENS_PER_IMAGE
    out = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    new_tokens = out[0, inputs["input_ids"].shape[1] :]
    assert len(new_tokens) > 0
    assert processor.tokenizer.decode(new_tokens, skip_special_tokens=True).strip()


@pytest.mark.slow
@pytest.mark.parametrize("force_simple", [False, True], ids=["chat", "simple"])
def test_lmms_eval_llava_hf_runs_on_tiny_checkpoint(tiny_llava: Path, tmp_path: Path, force_simple: bool) -> None:
    tasks = write_image_task(tmp_path / "tasks", n_docs=2, max_new_tokens=8)
    out = tmp_path / "out"
    cmd = [
        str(LMMS_EVAL),
        "--model", "llava_hf",
        "--model_args", f"pretrained={tiny_llava},device=cpu,device_map=cpu,dtype=float32",
        "--tasks", "tiny_image_qa",
        "--include_path", str(tasks),
        "--output_path", str(out),
        "--log_samples",
        "--verbosity", "DEBUG",
    ]  # fmt: skip
    if force_simple:
        cmd.append("--force_simple")
    proc = subprocess.run(cmd, env={**os.environ, **OFFLINE}, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    (results_file,) = out.glob("*/*_results.json")
    results = json.loads(results_file.read_text())
    backend = results["config"]["model_backend"]
    assert backend.endswith("(simple)" if force_simple else "(chat)"), backend
    assert results["results"]["tiny_image_qa"]["answered,none"] == 1.0

    (samples_file,) = out.glob("*/*_samples_tiny_image_qa.jsonl")
    samples = [json.loads(line) for line in samples_file.read_text().splitlines()]
    assert [s["doc_id"] for s in samples] == [0, 1]
    for sample in samples:
        assert isinstance(sample["filtered_resps"], str) and sample["filtered_resps"].strip()
        (counts,) = sample["token_counts"]  # the chat path reports tokens, the simple path does not
        assert counts is None or 0 < counts["output_tokens"] <= 8
