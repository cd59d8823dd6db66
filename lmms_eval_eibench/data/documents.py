"""The documents of the EIBench tasks and the hooks the task YAMLs name for them: the real split (checked for what
the template needs: images, captions), the model prompt, the image, and the caption-request task's hooks.

``harness.lifecycle.EIBenchLifecycle.download`` calls ``task_docs``; ``tasks/eibench/utils.py`` and the lm-eval
``utils.py`` forward the rest. Nothing here imports a harness; heavy imports happen inside the functions.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmms_eval_eibench import config
from lmms_eval_eibench.prompts import render
from lmms_eval_eibench.vocabulary import CAPTION_TEMPLATES, CAPTION_WORDS, answer_text

if TYPE_CHECKING:  # heavy: imported only inside functions
    import datasets
    from PIL import Image as PILImage


class EIBenchTaskError(RuntimeError):
    """The task cannot run as configured (dataset, images, captions); the message says how to fix it."""


def _captions_howto() -> str:
    return ("Produce captions with any lmms-eval model: `lmms-eval --model MODEL --tasks eibench_captions "
            "--log_samples --output_path OUT`, then `eibench captions OUT/<model>/<time>_samples_eibench_captions"
            ".jsonl -o captions.jsonl`, then rebuild the dataset with `python hub_upload.py ... --captions "
            "captions.jsonl` (see docs/lmms-eval.md, 'Captions').")


def _load_split(subset: str) -> datasets.Dataset:
    from lmms_eval_eibench.data.dataset import DatasetIntegrityError, DatasetNotFound, load_subset

    location = config.dataset_location()
    try:
        return load_subset(subset)
    except (DatasetNotFound, DatasetIntegrityError) as err:
        raise EIBenchTaskError(f"EIBench: {err}") from None
    except Exception as err:
        if Path(location).expanduser().is_dir():
            raise
        # a Hub repo id: the usual causes are a typo, no login for a private/gated repo, or no network
        raise EIBenchTaskError(
            f"EIBench: could not load config {subset!r} of the Hugging Face dataset {location!r} "
            f"({type(err).__name__}: {err}). Check the repo id in {config.DATASET_ENV}, log in "
            f"(`huggingface-cli login` or HF_TOKEN) for a private or gated repo, and that the Hub is reachable "
            f"(HF_HUB_OFFLINE unset); or point {config.DATASET_ENV} at a local folder built by hub_upload.py."
        ) from err


def check_images(split: datasets.Dataset, subset: str) -> None:
    """Every row needs its image: in the dataset, or under ``EIBENCH_IMAGE_ROOT`` (annotations-only builds)."""
    missing_rows = split.data.column("image").null_count if "image" in split.column_names else len(split)
    if not missing_rows:
        return
    root = config.image_root()
    if root is None:
        raise EIBenchTaskError(
            f"EIBench {subset}: {missing_rows} of {len(split)} rows have no image (an annotations-only dataset, "
            f"{config.dataset_location()}). Set {config.IMAGE_ROOT_ENV} to the folder holding the official relative "
            f"paths (EmoSet-118k/image/..., CAER-S/train/...), or rebuild the dataset with images: "
            f"`python hub_upload.py --eibench EIBENCH_DIR --image-root IMAGES`.")
    absent = [p for p in dict.fromkeys(split["image_path"]) if not (root / p).is_file()]
    if absent:
        raise EIBenchTaskError(
            f"EIBench {subset}: {len(absent)} images missing under {config.IMAGE_ROOT_ENV}={root}, e.g. "
            f"{root / absent[0]}. Point {config.IMAGE_ROOT_ENV} at the folder holding EmoSet-118k/ and CAER-S/.")


def check_captions(split: datasets.Dataset, subset: str) -> None:
    """Caption templates refuse a dataset whose caption column is (partly) empty."""
    column = split.data.column("caption") if "caption" in split.column_names else None
    missing = len(split) if column is None else column.null_count + sum(
        1 for c in column.to_pylist() if c is not None and not c.strip())
    if missing:
        raise EIBenchTaskError(
            f"EIBench {subset}: {missing} of {len(split)} rows have no caption in {config.dataset_location()}; "
            f"the caption tasks need one per image. {_captions_howto()}")


def _fail_loudly(build: Any) -> Any:
    """Run a dataset step; log its error once in plain words (lmms-eval retries ``download`` and wraps errors)."""
    try:
        return build()
    except EIBenchTaskError as err:
        _log_once(str(err))
        raise


_LOGGED: set[str] = set()


def _log_once(message: str) -> None:
    if message not in _LOGGED:
        _LOGGED.add(message)
        print(f"\nERROR: {message}\n", file=sys.stderr, flush=True)


def task_docs(subset: str, template: str) -> datasets.Dataset:
    """The documents of one EIBench task: the real split, checked for what the template needs."""
    def build() -> datasets.Dataset:
        split = _load_split(subset)
        if template in CAPTION_TEMPLATES:
            check_captions(split, subset)
        if template != "caption_text":  # the text-only setting never shows the image
            check_images(split, subset)
        return split
    return _fail_loudly(build)


def caption_request_docs() -> datasets.Dataset:
    """One document per distinct image of both subsets (what the caption column is keyed by)."""
    def build() -> datasets.Dataset:
        import datasets

        parts = []
        for subset in ("basic", "complex"):
            split = _load_split(subset)
            check_images(split, subset)
            parts.append(split)
        merged = datasets.concatenate_datasets(parts)
        first: dict[str, int] = {}
        for index, path in enumerate(merged["image_path"]):
            first.setdefault(path, index)
        unique = merged.select(sorted(first.values()))
        return unique.select_columns(["image", "image_path", "source", "folder_emotion"])
    return _fail_loudly(build)


# ---------------------------------------------------------------------------------------------------------------
# Prompts and images


def _prompt_kwargs(kwargs: Mapping[str, Any] | None) -> dict[str, str]:
    kwargs = kwargs or {}
    return {"pre_prompt": str(kwargs.get("pre_prompt") or ""), "post_prompt": str(kwargs.get("post_prompt") or "")}


def prompt(template: str, doc: Mapping[str, Any], kwargs: Mapping[str, Any] | None = None) -> str:
    """The model prompt of ``template`` for ``doc`` (``kwargs``: a model's pre_prompt / post_prompt)."""
    variables = {"question": doc.get("question", ""), **_prompt_kwargs(kwargs)}
    if template in CAPTION_TEMPLATES:
        caption = doc.get("caption")
        if not caption:
            raise EIBenchTaskError(f"EIBench sample {doc.get('id')!r} has no caption. {_captions_howto()}")
        variables["caption"] = caption
    return render(template, **variables)


def doc_to_visual(doc: Mapping[str, Any]) -> list[PILImage.Image]:
    """The sample's image as RGB: from the dataset, or from ``EIBENCH_IMAGE_ROOT`` for annotations-only builds."""
    image = doc.get("image")
    if image is None:
        root = config.image_root()
        path = (root / doc["image_path"]) if root is not None else None
        if path is None or not path.is_file():
            raise EIBenchTaskError(
                f"EIBench sample {doc.get('id', doc.get('image_path'))!r}: no image in the dataset and none at "
                f"{path or '(EIBENCH_IMAGE_ROOT not set)'}; set {config.IMAGE_ROOT_ENV} to the folder holding "
                f"the official relative paths.")
        return _load_rgb(path)
    if isinstance(image, Mapping):  # undecoded {"bytes", "path"}
        import io

        return _load_rgb(io.BytesIO(image["bytes"]) if image.get("bytes") else image["path"])
    return [image.convert("RGB")]


def _load_rgb(source: Any) -> list[PILImage.Image]:
    """Decode an image file (path or bytes) to RGB and close it: thousands of samples must not leak handles."""
    from PIL import Image

    with Image.open(source) as image:
        return [image.convert("RGB")]


def doc_to_no_visual(doc: Mapping[str, Any]) -> list:
    """The caption-only text setting shows no image."""
    return []


# ---------------------------------------------------------------------------------------------------------------
# The caption-request task


def caption_results(doc: Mapping[str, Any], results: Any) -> dict[str, Any]:
    """``eibench_captions``: one item per image holding the caption (so ``--log_samples`` carries
    ``{"image_path", "caption"}`` for ``eibench captions``) and its length, the task's metric."""
    caption = answer_text(results)
    return {CAPTION_WORDS: {"image_path": doc["image_path"], "caption": caption, "words": len(caption.split())}}


def caption_words(items: Sequence[Mapping[str, Any]]) -> float:
    """Mean caption length in words (a sanity check that the model described the images)."""
    return sum(item["words"] for item in items) / len(items) if items else float("nan")
