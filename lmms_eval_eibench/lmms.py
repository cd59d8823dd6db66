"""The EIBench hooks the task YAMLs name (``tasks/eibench/*.yaml`` reach them through a thin ``utils.py``) and the
task lifecycle's plain-Python parts: documents, prompts, images, the judge engine, provenance and metrics.

The task class (``harness_task.EIBenchTask``) drives them: it loads ``task_docs`` in ``download``, writes
``provenance_record`` into its config when built, runs the engine's preflight right before generation, judges all
of its answers with ``judge_documents`` after the filters, and turns each verdict into ``sample_metrics``. A sample
the judge failed on adds to ``eibench_judge_failures``, one without an answer (a CFSA failure line, or an empty
answer: lmms-eval's ``llava_hf`` returns "" when generation raises; see ``failures.py``) to
``eibench_generation_failures`` without being judged; both count as 0 in every recall metric (every sample counts),
and ``<metric>_judged`` gives the mean over judged samples.

Nothing here imports lmms_eval, so the lm-eval task shares these functions.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import BASIC_CATEGORIES, config, scoring
from .prompts import render, template_version
from .vocabulary import (
    CAPTION_TEMPLATES, CAPTION_WORDS, GENERATION_FAILURE, GENERATION_FAILURES, JUDGE_FAILURE, JUDGE_FAILURES, answer_text,
)

if TYPE_CHECKING:  # heavy: imported only inside functions
    import datasets
    from PIL import Image as PILImage

    from .judges import JudgeEngine, Verdict



def info(message: str) -> None:
    """Log through lmms-eval's logger (loguru) when present, else the standard one."""
    try:
        from loguru import logger
    except ImportError:
        logging.getLogger("lmms_eval_eibench").info(message)
    else:
        logger.info(message)


def warn(message: str) -> None:
    """Warn through lmms-eval's logger (loguru) when present, else the standard one."""
    try:
        from loguru import logger
    except ImportError:  # the lm-eval side
        logging.getLogger("lmms_eval_eibench").warning(message)
    else:
        logger.warning(message)

JUDGED_COLUMNS = ("id", "ground_truth", "triggers", "category", "image_path")
BASIC_CATEGORY_KEYS = tuple(category.lower() for category in BASIC_CATEGORIES)  # metric name suffixes


class EIBenchTaskError(RuntimeError):
    """The task cannot run as configured (dataset, images, captions); the message says how to fix it."""


# ---------------------------------------------------------------------------------------------------------------
# Documents


def _captions_howto() -> str:
    return ("Produce captions with any lmms-eval model: `lmms-eval --model MODEL --tasks eibench_captions "
            "--log_samples --output_path OUT`, then `eibench captions OUT/<model>/<time>_samples_eibench_captions"
            ".jsonl -o captions.jsonl`, then rebuild the dataset with `python hub_upload.py ... --captions "
            "captions.jsonl` (see docs/lmms-eval.md, 'Captions').")


def _load_split(subset: str) -> datasets.Dataset:
    from .dataset import DatasetIntegrityError, DatasetNotFound, load_subset

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
# The judge: one engine per process and settings

_ENGINES: dict[Any, JudgeEngine] = {}
_ENGINES_LOCK = threading.Lock()


def engine() -> JudgeEngine:
    """The judge engine of the current EIBENCH_* settings (built once per process and settings)."""
    from .judges import JudgeSettings, build_engine

    settings = JudgeSettings.from_env()
    with _ENGINES_LOCK:
        if settings not in _ENGINES:
            _ENGINES[settings] = build_engine(settings)
        return _ENGINES[settings]


def judge_documents(docs: Sequence[Mapping[str, Any]], answers: Sequence[str]) -> list[Verdict]:
    """Judge many (document, answer) pairs in one concurrent, cached call."""
    from .judges import JudgeItem

    return engine().judge_many([JudgeItem.from_doc(doc, answer) for doc, answer in zip(docs, answers)])


def provenance_record(template: str | None, generation: Mapping[str, Any] | None) -> dict[str, Any]:
    """The provenance record (``provenance.build_provenance``) of a task judged now: the current judge engine,
    the model prompt ``template`` and its version, the task's ``generation`` settings, the dataset (location and
    manifest fingerprint) and this plugin's version."""
    from .dataset import fingerprint, hub_revision, looks_like_repo_id
    from .provenance import build_provenance, judge_fields_from_engine

    location = config.dataset_location()
    return build_provenance(
        **judge_fields_from_engine(engine().provenance()),
        model_prompt=template or None,
        model_prompt_version=template_version(template) if template else None,
        generation=dict(generation) if isinstance(generation, Mapping) else None,
        dataset_source=location,
        dataset_revision=hub_revision(location) if looks_like_repo_id(location) else None,
        dataset_manifest_sha256=fingerprint(),
    )


# ---------------------------------------------------------------------------------------------------------------
# Metrics


def sample_metrics(doc: Mapping[str, Any], verdict: Verdict, metric: str, subset: str) -> dict[str, Any]:
    """One document's metrics; every document of a subset returns the same keys.

    Every sample counts: ``<metric>`` is ``{"score": recall 0-100, "image_path": ..., "verdict": {...}}`` where a
    sample the judge failed on, or whose model gave no answer, scores 0 (and adds to ``eibench_judge_failures`` or
    ``eibench_generation_failures``); ``<metric>_judged`` holds the score of judged samples only (None otherwise),
    for diagnosis. The verdict (reason, raw judge text) rides in the ``<metric>`` item so it lands in
    ``--log_samples`` without adding a non-metric key to the results file. Category (basic) items are None where
    they do not apply. Same key set for every document matters: lmms-eval reports a task's ``samples`` as the
    item count of its last metric, and groups weigh subtasks by it.
    """
    sample = verdict.score(doc.get("category"))
    score = 100.0 * sample.counted
    item: dict[str, Any] = {"image_path": doc["image_path"], "score": score, "verdict": verdict.to_log()}
    out: dict[str, Any] = {metric: item}
    if subset == "basic":
        category = str(doc.get("category") or "").lower()
        for name in BASIC_CATEGORY_KEYS:
            out[f"{metric}_{name}"] = score if category == name else None
    out[f"{metric}_trigger"] = {"covered": sample.counted_covered, "total": verdict.total}
    out[f"{metric}_judged"] = score if sample.failure is None else None
    out[JUDGE_FAILURES] = int(sample.failure == JUDGE_FAILURE)
    out[GENERATION_FAILURES] = int(sample.failure == GENERATION_FAILURE)
    return out


def _nan_if_none(value: float | None) -> float:
    # lmms-eval formats every aggregate as a number (its results table, stderr, group means): "nothing judged"
    # must be a float, so scoring's None becomes NaN (written as NaN, shown as "nan"; never a score of 0)
    return float("nan") if value is None else value


def recall_mean(items: Sequence[Any]) -> float:
    """Mean per-sample recall (0-100, ``scoring.mean``) of the items that carry one; NaN when none does.

    Items are ``{"score": ...}`` dicts (``<metric>``: every sample, failures at 0) or numbers / None (category
    metrics; ``<metric>_judged``, where None marks a sample without a verdict)."""
    return _nan_if_none(scoring.mean(item.get("score") if isinstance(item, Mapping) else item for item in items))


def trigger_recall(items: Sequence[Mapping[str, Any] | None]) -> float:
    """Micro recall (0-100, ``scoring.micro_recall``): covered ground-truth triggers over all ground-truth triggers
    (a failed sample covers none); NaN for no samples."""
    micro = scoring.micro_recall((item["covered"], item["total"]) for item in items if item is not None)
    return _nan_if_none(None if micro is None else 100.0 * micro)


def failure_count(items: Sequence[int]) -> int:
    """How many samples failed (judge or generation; each counts as 0 in the recall metrics)."""
    return int(sum(items))


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
