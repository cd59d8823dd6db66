"""lmms-eval's own `llava` model (checkpoints in the original LLaVA layout) on EIBench, with a tiny random checkpoint
in that layout (tests/tiny_llava_original.py) and the `llava` package from llava-torch (the Makefile installs it
without its dependencies).

What these tests pin down (docs/lmms-eval.md, "Original-layout LLaVA checkpoints"): the checkpoint loads through
LLaVA's own loader and scores (a forward pass with an image), but generation stops on today's transformers' `cache`
argument, so `lmms-eval --model llava ... --tasks eibench_complex` cannot produce results; our discovery hook says
so, and what to use instead, before the model loads. When LLaVA or transformers changes, the tests that assert
the failure fail and tell us to update the docs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_llava_original import IMAGE_SIZE, PATCH_SIZE, build_tiny_llava_original

from lmms_eval_eibench import llava_original

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
LMMS_EVAL = str(Path(sys.executable).with_name("lmms-eval"))
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
IMAGE_TOKENS = (IMAGE_SIZE // PATCH_SIZE) ** 2  # LLaVA's "patch" feature drops CLIP's CLS token
GENERATE_ERROR = "LlavaLlamaForCausalLM.forward() got an unexpected keyword argument 'cache'"
OURS = "lmms-eval-eibench: "  # how the discovery hook's messages start


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llava_original(tmp_path_factory.mktemp("llava-original"))


@pytest.fixture(scope="module")
def loaded(checkpoint: Path):
    """The checkpoint loaded by LLaVA's own loader, called as lmms-eval's `llava` model calls it on CPU."""
    from llava.mm_utils import get_model_name_from_path
    from llava.model.builder import load_pretrained_model

    return load_pretrained_model(str(checkpoint), None, get_model_name_from_path(str(checkpoint)),
                                 device_map="auto", attn_implementation="sdpa")


def _prompt_and_image(loaded):
    import torch
    from llava.constants import DEFAULT_IMAGE_TOKEN, IMAGE_TOKEN_INDEX
    from llava.conversation import conv_templates
    from llava.mm_utils import process_images, tokenizer_image_token
    from PIL import Image

    tokenizer, model, image_processor, _ = loaded
    image = Image.new("RGB", (40, 32), "red")
    conv = conv_templates["vicuna_v1"].copy()
    conv.append_message(conv.roles[0], f"{DEFAULT_IMAGE_TOKEN}\nWhy does the woman look so happy?")
    conv.append_message(conv.roles[1], None)
    input_ids = tokenizer_image_token(conv.get_prompt(), tokenizer, IMAGE_TOKEN_INDEX, return_tensors="pt")[None]
    pixels = process_images([image], image_processor, model.config).to(dtype=torch.float16)
    return input_ids, pixels, image


def test_model_llava_checkpoint_loads_and_scores_in_original_llava(loaded, checkpoint: Path) -> None:
    import torch
    from llava.constants import IMAGE_TOKEN_INDEX

    _, model, image_processor, context_length = loaded
    assert type(model).__name__ == "LlavaLlamaForCausalLM" and model.config.model_type == "llava_llama"
    assert model.dtype == torch.float16  # LLaVA's loader always loads in float16
    tower = model.get_vision_tower()
    assert tower.is_loaded and tower.vision_tower_name == str(checkpoint.parent / "clip")
    assert image_processor.crop_size["height"] == IMAGE_SIZE and context_length == 2048

    input_ids, pixels, image = _prompt_and_image(loaded)
    assert int((input_ids == IMAGE_TOKEN_INDEX).sum()) == 1
    labels = input_ids.clone()
    labels[labels == IMAGE_TOKEN_INDEX] = -100
    with torch.inference_mode():  # lmms-eval's llava loglikelihood path: a plain forward with the image
        out = model(input_ids=input_ids, labels=labels, images=pixels, image_sizes=[image.size], use_cache=True)
    # the one <image> placeholder became the image's patch features
    assert out.logits.shape[:2] == (1, input_ids.shape[1] - 1 + IMAGE_TOKENS)
    assert torch.isfinite(out.loss)


def test_model_llava_generation_stops_on_the_cache_argument(loaded) -> None:
    """The exact incompatibility: transformers passes `cache=` to forward while generating; LLaVA's forward
    cannot take it. If this stops failing, update llava_original and the docs."""
    tokenizer, model, _, _ = loaded
    input_ids, pixels, image = _prompt_and_image(loaded)
    with pytest.raises(TypeError, match=re.escape(GENERATE_ERROR)):
        model.generate(input_ids, attention_mask=input_ids.ne(tokenizer.pad_token_id),
                       pad_token_id=tokenizer.pad_token_id, images=pixels, image_sizes=[image.size],
                       do_sample=False, num_beams=1, max_new_tokens=4, use_cache=True)
    message = llava_original.problem()
    assert message is not None and GENERATE_ERROR in message and "--model llava_hf" in message


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env={**os.environ, **OFFLINE, **env}, capture_output=True, text=True, timeout=600,
                          check=False)


def _eibench_args(checkpoint: Path, out: Path) -> list[str]:
    """The usage line people type (`--model llava --model_args pretrained=... --tasks eibench_complex`), on CPU
    (`device_map=auto`: with any other value lmms-eval's llava model picks cuda:0), a few docs, a few tokens."""
    return ["--model", "llava", "--model_args", f"pretrained={checkpoint},device=cpu,device_map=auto",
            "--tasks", "eibench_complex", "--limit", "2", "--gen_kwargs", "max_new_tokens=8",
            "--output_path", str(out), "--log_samples", "--verbosity", "DEBUG"]  # DEBUG: a failed run exits 1


def _env(sample_dataset_dir: Path, tmp_path: Path) -> dict[str, str]:
    return {"EIBENCH_DATASET": str(sample_dataset_dir), "EIBENCH_JUDGE": "embedding",
            "EIBENCH_CACHE_DIR": str(tmp_path / "cache")}


def test_model_llava_eibench_complex_stops_and_says_what_to_use(checkpoint, sample_dataset_dir, tmp_path) -> None:
    """lmms-eval's own `llava` model on eibench_complex: the model loads, our tasks and judge are built, the first
    generation fails; our message (printed before the model loads) says why and names llava_hf."""
    out = tmp_path / "out"
    proc = _run([LMMS_EVAL, *_eibench_args(checkpoint, out)], _env(sample_dataset_dir, tmp_path))
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, log[-3000:]
    assert not list(out.rglob("*_results.json")), "a run that generated nothing must not write results"
    assert "lmms_eval/models/simple/llava.py" in log and GENERATE_ERROR in log, log[-3000:]  # it got to generation
    assert "Running generate_until requests" in log
    (ours,) = [line for line in proc.stderr.splitlines() if line.startswith(OURS)]
    assert GENERATE_ERROR in ours and "--model llava_hf" in ours and "llava-hf/llava-1.5-7b-hf" in ours


def test_model_llava_without_the_package_says_what_to_install(checkpoint, sample_dataset_dir, tmp_path) -> None:
    """Without the `llava` package (hidden here by a None in sys.modules), lmms-eval fails with its NameError;
    our message names the package and the --no-deps command."""
    out = tmp_path / "out"
    code = ("import sys, runpy; sys.modules['llava'] = None; sys.argv = ['lmms-eval', *sys.argv[1:]]; "
            "runpy.run_module('lmms_eval', run_name='__main__')")
    proc = _run([PYTHON, "-c", code, *_eibench_args(checkpoint, out)], _env(sample_dataset_dir, tmp_path))
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0 and not list(out.rglob("*_results.json")), log[-3000:]
    assert "name 'get_model_name_from_path' is not defined" in log  # lmms-eval's own symptom
    (ours,) = [line for line in proc.stderr.splitlines() if line.startswith(OURS)]
    assert f"`{llava_original.INSTALL}`" in ours and "does not import" in ours and "--model llava_hf" in ours


def test_model_llava_install_command_is_the_one_setup_runs() -> None:
    """The Makefile (what CI and `make setup` install), the README and the docs name the same package."""
    assert f"LLAVA_ORIGINAL := {llava_original.PACKAGE}\n" in (REPO / "Makefile").read_text()
    for doc in ("README.md", "docs/lmms-eval.md"):
        assert llava_original.INSTALL in (REPO / doc).read_text(), doc


def test_model_llava_other_models_get_no_message(capsys) -> None:
    """The hook speaks only for `--model llava`: an index built for any other model prints nothing of ours."""
    for name in ("llava_hf", "dummy", None):
        llava_original.report(name)
    assert OURS not in capsys.readouterr().err
