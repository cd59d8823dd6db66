"""lmms-eval hooks for the EIBench tasks (``tasks/eibench/*.yaml`` reach them through a thin ``utils.py``).

How a run flows through here:

1. Task construction (before the model generates): ``docs_*`` swap lmms-eval's stub dataset for the real split
   (``EIBENCH_DATASET`` / the default folder / a Hub repo), checking images and captions with one clear message;
   ``JudgeFilter.__init__`` builds the judge engine and runs its preflight, so a missing key fails in seconds.
2. Generation: ``doc_to_visual`` / ``doc_to_text`` render the versioned Jinja2 prompts.
3. ``JudgeFilter.apply`` sees every response of the task at once (lmms-eval applies filters to all of a task's
   instances before any per-document scoring) and judges them in one concurrent, cached ``judge_many`` call.
   lmms-eval gives filters no document ids, so the filter reads the instances from its caller's frame
   (``FilterEnsemble.apply``) and uses them only if they hold exactly the response lists it was given; otherwise
   it warns and ``process_results`` judges each answer itself (correct, slower). lm-eval passes the documents.
4. ``process_results`` (run per document in lmms-eval's thread pool) only looks the verdict up and turns it
   into metrics plus the logged verdict. A failed judgement adds to ``eibench_judge_failures``, a failed
   generation (a CFSA failure line, or an empty answer: lmms-eval's ``llava_hf`` returns "" when generation
   raises; see ``failures.py``) to ``eibench_generation_failures`` without being judged; both count as 0 in
   every recall metric (every sample counts), and ``<metric>_judged`` gives the mean over judged samples.

Provenance: when a task's filter is built (during task construction), ``record_provenance`` writes the
provenance record (``provenance.build_provenance``: judge, model prompt + version, generation settings, dataset,
plugin version) to ``metadata["eibench_provenance"]``, which lmms-eval copies into the results file's ``configs``.

Nothing here imports lmms_eval: the filter is duck-typed (lmms-eval only calls ``apply(resps, docs)``), so the
lm-eval task can share these functions.
"""

from __future__ import annotations

import inspect
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from . import BASIC_CATEGORIES, config, scoring
from .failures import generation_failure
from .prompts import render, template_version
from .provenance import METADATA_KEY

if TYPE_CHECKING:  # heavy: imported only inside functions
    import datasets
    from PIL import Image as PILImage

    from .judges import JudgeEngine, Verdict



def _info(message: str) -> None:
    try:
        from loguru import logger
    except ImportError:
        logging.getLogger("lmms_eval_eibench").info(message)
    else:
        logger.info(message)


def _warn(message: str) -> None:
    """Warn through lmms-eval's logger (loguru) when present, else the standard one."""
    try:
        from loguru import logger
    except ImportError:  # the lm-eval side
        logging.getLogger("lmms_eval_eibench").warning(message)
    else:
        logger.warning(message)

FAILURES = "eibench_judge_failures"
# Samples whose model produced no answer (a CFSA failure line, an empty answer; see failures.py): never judged,
# scored 0, counted apart from the judge's failures.
GENERATION_FAILURES = "eibench_generation_failures"
CAPTION_METRIC = "eibench_caption_words"
JUDGED_COLUMNS = ("id", "ground_truth", "triggers", "category", "image_path")
BASIC_CATEGORY_KEYS = tuple(category.lower() for category in BASIC_CATEGORIES)  # metric name suffixes
TEMPLATES = ("user", "cot", "caption", "caption_text")
CAPTION_TEMPLATES = ("caption", "caption_text")


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


def prompt_versions() -> dict[str, str]:
    """Version of every model prompt template (recorded in results)."""
    return {name: template_version(name) for name in (*TEMPLATES, "caption_request")}


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
# The judge: one engine per process and settings, verdicts looked up by (judge identity, sample id, answer)

_ENGINES: dict[Any, JudgeEngine] = {}
_ENGINES_LOCK = threading.Lock()
# keyed by the judge's identity too: settings changed within one process (tests, notebooks, two tasks judged
# differently) must never reuse a verdict of the previous judge
_VERDICTS: dict[tuple[str, str, str], Verdict] = {}
_VERDICTS_LOCK = threading.Lock()


def engine() -> JudgeEngine:
    """The judge engine of the current EIBENCH_* settings (built once per process and settings)."""
    from .judges import JudgeSettings, build_engine

    settings = JudgeSettings.from_env()
    with _ENGINES_LOCK:
        if settings not in _ENGINES:
            _ENGINES[settings] = build_engine(settings)
        return _ENGINES[settings]


def _judge_identity(judge_engine: JudgeEngine) -> str:
    """Everything that determines a verdict besides the sample (what the verdict cache keys by), as text."""
    return json.dumps(judge_engine.judge.identity(), sort_keys=True, default=str)


def answer_text(results: Any) -> str:
    """The model's answer from what lmms-eval hands over (a string, or a list holding one)."""
    while isinstance(results, (list, tuple)):
        results = results[0] if results else ""
    return "" if results is None else str(results).strip()


def judge_item(doc: Mapping[str, Any], answer: str):
    from .judges import JudgeItem

    return JudgeItem(id=str(doc["id"]), answer=answer, ground_truth=doc["ground_truth"],
                     triggers=tuple(doc["triggers"]), category=doc.get("category"))


def judge_documents(docs: Sequence[Mapping[str, Any]], answers: Sequence[str]) -> list[Verdict]:
    """Judge many (document, answer) pairs in one concurrent, cached call and remember the verdicts."""
    judge_engine = engine()
    identity = _judge_identity(judge_engine)
    items = [judge_item(doc, answer) for doc, answer in zip(docs, answers)]
    verdicts = judge_engine.judge_many(items)
    with _VERDICTS_LOCK:
        for item, verdict in zip(items, verdicts):
            _VERDICTS[(identity, item.id, item.answer)] = verdict
    return verdicts


def verdict_for(doc: Mapping[str, Any], answer: str) -> Verdict:
    """The verdict the current judge gave this exact (sample, answer), judging it now if the filter did not see
    it (e.g. ``--reasoning_tags`` stripped the answer after filtering)."""
    key = (_judge_identity(engine()), str(doc["id"]), answer)
    with _VERDICTS_LOCK:
        verdict = _VERDICTS.get(key)
    if verdict is None:
        verdict = judge_documents([doc], [answer])[0]
    return verdict


# ---------------------------------------------------------------------------------------------------------------
# What lmms-eval does not pass to hooks, read from its frames on the stack


def _on_stack(match: Callable[[FrameType], Any], depth: int | None = None) -> Any:
    """The first non-None ``match(frame)`` over the frames above the function calling this one (nearest
    first, at most ``depth`` of them), else None. Frames are released on return (no reference cycles)."""
    frame = inspect.currentframe()
    try:
        frame = frame.f_back.f_back if frame is not None and frame.f_back is not None else None
        seen = 0
        while frame is not None and (depth is None or seen < depth):
            found = match(frame)
            if found is not None:
                return found
            frame, seen = frame.f_back, seen + 1
        return None
    finally:
        del frame


def predict_only() -> bool:
    """Whether lmms-eval runs with --predict_only (no judging, no preflight).

    lmms-eval switches a task to its "bypass" metric only after constructing it, so the flag is read from the
    ``simple_evaluate`` call on the stack (the CLI goes through it too). Without one, tasks are judged.
    """
    def match(frame: FrameType) -> bool | None:
        if frame.f_code.co_name == "simple_evaluate" and "predict_only" in frame.f_locals:
            return bool(frame.f_locals["predict_only"])
        return None

    return bool(_on_stack(match))


def _constructing_task() -> Any:
    """The task whose constructor is running below us, or None: lmms-eval's ``ConfigurableTask.__init__`` builds
    its filters after loading its dataset; lm-eval's loads its dataset (our ``custom_dataset``) from it."""
    def match(frame: FrameType) -> Any:
        owner = frame.f_locals.get("self")
        if frame.f_code.co_name == "__init__" and hasattr(owner, "_config") and hasattr(owner, "config"):
            return owner
        return None

    return _on_stack(match, depth=8)


def _task_instances(resps: list) -> list | None:
    """The instances whose responses ``resps`` are (lmms-eval's ``FilterEnsemble.apply`` builds
    ``resps = [inst.resps for inst in instances]`` and passes only ``resps`` to its filters).

    Filters get no document ids, so we read the caller's ``instances`` and accept them only if they are exactly
    the lists we were given (identity, element by element). None when lmms-eval's internals changed.
    """
    def match(frame: FrameType) -> list | None:
        candidate = frame.f_locals.get("instances")
        if (isinstance(candidate, list) and len(candidate) == len(resps)
                and all(getattr(inst, "resps", None) is resp for inst, resp in zip(candidate, resps))):
            return candidate
        return None

    return _on_stack(match, depth=4)


def record_constructing_task_provenance() -> None:
    """``record_provenance`` for the task being constructed, when there is one (lm-eval builds filters only when
    it applies them, after copying the configs, so its tasks call this while their dataset is built)."""
    task = _constructing_task()
    if task is not None:
        record_provenance(task)


class JudgeFilter:
    """The first step of each EIBench task's filter pipeline: judges all of a task's answers at once.

    YAML: ``filter_list: [{name: none, filter: [{function: !function utils.JudgeFilter}, {function: take_first}]}]``.
    Responses pass through unchanged; verdicts go to the lookup table that ``process_results`` reads.
    """

    def __init__(self, **_: Any) -> None:
        if not predict_only():
            engine().preflight()  # task construction happens before generation: fail in seconds, not hours
        task = _constructing_task()
        if task is not None:  # lmms-eval copies each task's config for the results file before generation
            record_provenance(task)

    def apply(self, resps: list, docs: Any) -> list:
        if predict_only():
            return resps
        if isinstance(docs, (list, tuple)) and len(docs) == len(resps):
            # lm-eval hands each response its own document (its FilterEnsemble zips instance.resps, instance.doc)
            pairs = [(doc, answer_text(resp)) for doc, resp in zip(docs, resps)]
            self._judge(pairs, "the task")
            return resps
        found = _task_instances(resps)
        if found is None:
            _warn("EIBench: could not match responses to documents (lmms-eval internals changed?); "
                  "judging one document at a time in process_results instead")
            return resps
        # lmms-eval passes the task's whole split; instance.doc_id indexes it. Skip the image column (no decoding).
        table = docs.select_columns([c for c in JUDGED_COLUMNS if c in docs.column_names])
        pairs = [(table[inst.doc_id], answer_text(inst.resps)) for inst in found]
        task_name = found[0].task_name if found else "the task"
        if len({inst.doc_id for inst in found}) < len(docs):
            _warn(f"EIBench: PARTIAL run of {task_name}: {len({inst.doc_id for inst in found})} of {len(docs)} "
                  "documents (--limit?); its recall is not comparable with full runs (eibench report marks it)")
        self._judge(pairs, task_name)
        return resps

    @staticmethod
    def _judge(pairs: list[tuple[Mapping[str, Any], str]], task_name: str) -> None:
        pairs = [(doc, answer) for doc, answer in pairs if generation_failure(answer) is None]
        started = time.perf_counter()
        verdicts = judge_documents([doc for doc, _ in pairs], [answer for _, answer in pairs])
        judge = engine().judge
        _info(f"EIBench: judged {len(verdicts)} answers of {task_name} in {time.perf_counter() - started:.2f} s "
              f"({judge.kind} judge, concurrency {judge.concurrency}, {sum(v.cached for v in verdicts)} from cache, "
              f"{sum(v.failed for v in verdicts)} failed)")


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


def record_provenance(task: Any) -> None:
    """Put the provenance record into the task's ``metadata["eibench_provenance"]``, which lmms-eval (and lm-eval)
    write into the results file's ``configs[<task>]["metadata"]``.

    Runs during task construction: lmms-eval copies each task's config when ``evaluate()`` starts, so later
    changes never reach the file. ``--gen_kwargs`` is applied after construction, in place on the task's
    ``generation_kwargs`` dict (``set_config(update=True)``), so the record's ``generation`` member *is* that dict
    (validated now): the file then shows the settings the model really generated with. A ``--predict_only`` run
    judges nothing and gets no record.
    """
    metadata = task.config.metadata if isinstance(task.config.metadata, dict) else {}
    template = metadata.get("prompt_template")
    if template:
        metadata["prompt_version"] = template_version(template)  # also readable without the record
    if not predict_only():
        generation = getattr(task.config, "generation_kwargs", None)
        record = provenance_record(template, generation)
        if isinstance(generation, dict):
            record["generation"] = generation
        metadata[METADATA_KEY] = record
    task.config.metadata = metadata


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
    out[FAILURES] = int(sample.failure == scoring.JUDGE_FAILURE)
    out[GENERATION_FAILURES] = int(sample.failure == scoring.GENERATION_FAILURE)
    return out


def process_results(doc: Mapping[str, Any], results: Any, subset: str) -> dict[str, Any]:
    """lmms-eval's per-document hook: look the verdict up (judged by ``JudgeFilter``) and report metrics.
    A sample whose generation failed is not judged: it scores 0 and is counted as a generation failure."""
    answer = answer_text(results)
    reason = generation_failure(answer)
    if reason is not None:
        from .judges import Verdict

        return sample_metrics(doc, Verdict.no_answer(judge_item(doc, answer), reason), engine().metric_name, subset)
    return sample_metrics(doc, verdict_for(doc, answer), engine().metric_name, subset)


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
    return {CAPTION_METRIC: {"image_path": doc["image_path"], "caption": caption, "words": len(caption.split())}}


def caption_words(items: Sequence[Mapping[str, Any]]) -> float:
    """Mean caption length in words (a sanity check that the model described the images)."""
    return sum(item["words"] for item in items) / len(items) if items else float("nan")
