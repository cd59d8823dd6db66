"""Records -> a Hugging Face dataset folder (parquet + card + manifest), and loading a built dataset back.

Layout of a built folder (also what is uploaded to the Hub)::

    README.md                    dataset card; its YAML header declares the configs and features
    basic/test-00000-of-00001.parquet
    complex/test-00000-of-00001.parquet
    manifest.json                SHA-256 of every file, of the source annotations, and a fingerprint
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from . import BASIC_CATEGORIES, SUBSETS, __version__, config
from .records import Record

if TYPE_CHECKING:  # heavy: imported only inside functions
    import datasets

MANIFEST = "manifest.json"
CARD = "README.md"
_CARD_TEMPLATE = "dataset_card.md.j2"


class DatasetNotFound(FileNotFoundError):
    """No built EIBench dataset where one was expected; the message says how to build or get it."""


def features() -> "datasets.Features":
    """The columns of both configs (ARCHITECTURE.md). ``image`` is null in an annotations-only build."""
    import datasets

    return datasets.Features({
        "id": datasets.Value("string"),
        "image": datasets.Image(),
        "image_path": datasets.Value("string"),
        "question": datasets.Value("string"),
        "triggers": datasets.List(datasets.Value("string")),
        "ground_truth": datasets.Value("string"),
        "n_triggers": datasets.Value("int32"),
        "category": datasets.Value("string"),
        "source": datasets.Value("string"),
        "folder_emotion": datasets.Value("string"),
        "question_index": datasets.Value("int32"),
        "caption": datasets.Value("string"),
    })


def rows(records: Iterable[Record], image_bytes: Mapping[str, bytes] | None,
         captions: Mapping[str, str] | None) -> list[dict[str, Any]]:
    """Dataset rows: each record's fields plus its image (original file bytes, no re-encoding) and caption."""
    out = []
    for record in records:
        row = record.as_row()
        row["image"] = ({"bytes": image_bytes[record.image_path], "path": record.image_path}
                        if image_bytes is not None else None)
        row["caption"] = (captions or {}).get(record.image_path)
        out.append(row)
    return out


def parquet_path(subset: str) -> str:
    return f"{subset}/test-00000-of-00001.parquet"


def write_parquet(subset_rows: list[dict[str, Any]], folder: Path, subset: str) -> int:
    """Write one config's rows as parquet under ``folder``; return the split's size in memory (Arrow bytes),
    which the card's ``dataset_info`` declares."""
    import datasets

    target = folder / parquet_path(subset)
    target.parent.mkdir(parents=True, exist_ok=True)
    datasets.disable_progress_bars()  # one bar per file is noise; the build shows its own image bar
    split = datasets.Dataset.from_list(subset_rows, features=features())
    split.to_parquet(str(target))
    return split.data.nbytes


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path, sources: Mapping[str, Path], build: Mapping[str, Any]) -> dict[str, Any]:
    """SHA-256 of every file in ``folder`` and of the source annotation files; the fingerprint (a hash of
    both) identifies this build of the dataset in results (provenance)."""
    files = {str(p.relative_to(folder)): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}
    source_hashes = {name: sha256_file(path) for name, path in sorted(sources.items())}
    body = {"files": files, "sources": source_hashes}
    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    manifest = {"fingerprint": fingerprint, "plugin_version": __version__, "build": dict(build), **body}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def card_counts(records_by_subset: Mapping[str, list[Record]]) -> dict[str, Any]:
    """Counts shown in the card: rows per config, rows per basic category, images per config."""
    basic = records_by_subset["basic"]
    per_category = Counter(r.category for r in basic)
    return {
        "rows": {name: len(recs) for name, recs in records_by_subset.items()},
        "images": {name: len({r.image_path for r in recs}) for name, recs in records_by_subset.items()},
        "categories": {c: per_category.get(c, 0) for c in BASIC_CATEGORIES}
                      | {c: n for c, n in per_category.items() if c not in BASIC_CATEGORIES},
        "all_images": len({r.image_path for recs in records_by_subset.values() for r in recs}),
    }


def write_card(folder: Path, records_by_subset: Mapping[str, list[Record]], split_bytes: Mapping[str, int],
               build: Mapping[str, Any]) -> None:
    """The dataset card: YAML header (configs, features, splits, license) and a human description."""
    import jinja2
    import yaml

    header = {
        "license": "other",
        "license_name": "eibench-annotations-apache-2.0-images-source-terms",
        "pretty_name": "EIBench",
        "language": ["en"],
        "task_categories": ["visual-question-answering"],
        "tags": ["emotion", "emotion-interpretation", "multimodal", "lmms-eval"],
        "configs": [{"config_name": s, "data_files": [{"split": "test", "path": f"{s}/test-*.parquet"}]}
                    for s in SUBSETS],
        "dataset_info": [{"config_name": s, "features": features()._to_yaml_list(),
                          "splits": [{"name": "test", "num_bytes": split_bytes[s],
                                      "num_examples": len(records_by_subset[s])}]}
                         for s in SUBSETS],
    }
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    body = env.get_template(_CARD_TEMPLATE).render(counts=card_counts(records_by_subset), build=build,
                                                   version=__version__)
    text = "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n\n" + body
    (folder / CARD).write_text(text, encoding="utf-8")


def looks_like_repo_id(location: str) -> bool:
    """``org/name`` that is not a local path (neither it nor its parent folder exists here)."""
    path = Path(location).expanduser()
    return (bool(re.fullmatch(r"[\w.-]+/[\w.-]+", location)) and not location.startswith((".", "~"))
            and not path.exists() and not path.parent.is_dir())


def resolve(dataset: str | os.PathLike | None = None) -> str:
    """The dataset to load: a local built folder or a Hub repo id. Raises DatasetNotFound with the fix."""
    location = str(dataset) if dataset is not None else config.dataset_location()
    path = Path(location).expanduser()
    if path.is_dir():
        if not (path / CARD).is_file():
            raise DatasetNotFound(
                f"{path} is not a built EIBench dataset (no {CARD} with configs). Build it with "
                f"`python hub_upload.py --eibench EIBENCH_DIR --image-root IMAGES --output {path}`.")
        return str(path)
    if not looks_like_repo_id(location):
        raise DatasetNotFound(
            f"No EIBench dataset at {path}. Build it with `python hub_upload.py --eibench EIBENCH_DIR "
            f"--image-root IMAGES` (writes {config.default_dataset_dir()}), or set {config.DATASET_ENV} to a "
            f"built folder or a Hugging Face dataset repo id.")
    return location


def load_subset(subset: str, dataset: str | os.PathLike | None = None) -> "datasets.Dataset":
    """The ``test`` split of config ``subset`` from a built folder or a Hub repo (token from the usual login)."""
    import datasets

    if subset not in SUBSETS:
        raise ValueError(f"unknown subset {subset!r}: use one of {', '.join(SUBSETS)}")
    return datasets.load_dataset(resolve(dataset), subset, split="test")


def fingerprint(dataset: str | os.PathLike | None = None) -> str | None:
    """The manifest fingerprint identifying a build: read from a local folder, or from the ``manifest.json``
    that ``hub_upload.py`` uploads with a Hub repo. None when there is no manifest or the Hub is unreachable."""
    try:
        location = resolve(dataset)
        manifest = Path(location) / MANIFEST
        if not manifest.is_file() and looks_like_repo_id(location):
            from huggingface_hub import hf_hub_download

            manifest = Path(hf_hub_download(location, MANIFEST, repo_type="dataset"))
        return json.loads(manifest.read_text(encoding="utf-8"))["fingerprint"] if manifest.is_file() else None
    except Exception:  # provenance is best effort: an offline run or a hand-made repo has no manifest to read
        return None
