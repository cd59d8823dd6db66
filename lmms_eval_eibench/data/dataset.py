"""Records -> a Hugging Face dataset folder (parquet + card + manifest), and loading a built dataset back.

Layout of a built folder (also what is uploaded to the Hub)::

    README.md                    dataset card; its YAML header declares the configs and features
    basic/test-00000-of-00001.parquet
    complex/test-00000-of-00001.parquet
    manifest.json                SHA-256 of every file, of the source annotations, and a fingerprint;
                                 `official`: whether those sources are the published EIBench files
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from lmms_eval_eibench import BASIC_CATEGORIES, SUBSETS, __version__, config
from lmms_eval_eibench.data import official as official_files
from lmms_eval_eibench.data.records import Record

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


sha256_file = official_files.sha256_file


def write_manifest(folder: Path, sources: Mapping[str, Path], build: Mapping[str, Any]) -> dict[str, Any]:
    """SHA-256 of every file in ``folder`` and of the source annotation files; the fingerprint (a hash of
    both) identifies this build of the dataset in results (provenance)."""
    files = {str(p.relative_to(folder)): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}
    source_hashes = {name: sha256_file(path) for name, path in sorted(sources.items())}
    body = {"files": files, "sources": source_hashes}
    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    manifest = {"fingerprint": fingerprint, "plugin_version": __version__, "build": dict(build), **body,
                "official": official_files.hashes_match(source_hashes)}
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
            fix = (f"Build it with `python hub_upload.py --eibench EIBENCH_DIR --image-root IMAGES --output {path}`."
                   if not any(path.iterdir()) else f"Fix: {not_a_build_hint(path)}.")
            raise DatasetNotFound(f"{path} is not a built EIBench dataset (no {CARD} with configs). {fix}")
        return str(path)
    if not looks_like_repo_id(location):
        if dataset is not None:
            chosen = "--dataset"
        elif os.environ.get(config.DATASET_ENV):
            chosen = f"{config.DATASET_ENV}={location}"
        else:
            chosen = None
        where = f" (from {chosen})" if chosen else ""
        raise DatasetNotFound(
            f"No EIBench dataset at {path}{where}. Build it there with `python hub_upload.py --eibench EIBENCH_DIR "
            f"--image-root IMAGES --output {path}`, or point {'it' if chosen else config.DATASET_ENV} at a built "
            "folder or a Hugging Face dataset repo id.")
    return location


class DatasetIntegrityError(ValueError):
    """A built dataset is not what its manifest says (files changed, added or missing; bad rows); the message
    names the file (and row) and how to rebuild."""


_REQUIRED_COLUMNS = ("id", "image_path", "question", "triggers", "ground_truth", "n_triggers", "category")
_VERIFIED: dict[tuple[Any, ...], str] = {}  # (folder, file stats) -> fingerprint: hash each build once per process


def is_eibench_build(folder: Path) -> bool:
    """True when ``folder`` holds a manifest written by this builder (the only folders --overwrite replaces)."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (isinstance(manifest, dict) and isinstance(manifest.get("fingerprint"), str)
            and isinstance(manifest.get("files"), dict) and "plugin_version" in manifest)


def _rebuild_hint(folder: Path) -> str:
    """How to get a dataset where ``folder`` is: rebuild over it only when it is our own build; never advise an
    --output (let alone --overwrite) that is an annotation clone or someone's folder."""
    if is_eibench_build(folder):
        return (f"rebuild it with `python hub_upload.py --eibench EIBENCH_DIR --image-root IMAGES --output {folder} "
                "--overwrite` (or download it again)")
    return not_a_build_hint(folder)


def not_a_build_hint(folder: Path) -> str:
    """The fix for a folder that is not an EIBench build: build into a new folder and point there."""
    from lmms_eval_eibench.data.records import BASIC_QUESTIONS

    new = folder.parent / f"{folder.name}-dataset"
    if (folder / BASIC_QUESTIONS).is_file() or (folder / "EIBench" / BASIC_QUESTIONS).is_file():
        return (f"{folder} holds the EIBench annotations, not a built dataset: build one from it with "
                f"`python hub_upload.py --eibench {folder} --image-root IMAGES --output {new}` and pass "
                f"--dataset {new} (or set {config.DATASET_ENV}={new})")
    return (f"{folder} is not an EIBench build: build one into a new folder with `python hub_upload.py --eibench "
            f"EIBENCH_DIR --image-root IMAGES --output {new}` and pass --dataset {new}")


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        raise DatasetIntegrityError(f"{path}: missing, so the dataset cannot be verified; {_rebuild_hint(folder)}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as err:
        raise DatasetIntegrityError(f"{path}: not valid JSON ({err}); {_rebuild_hint(folder)}") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    fingerprint_ = manifest.get("fingerprint") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(isinstance(v, dict) and isinstance(v.get("sha256"), str)
                                              for v in files.values()):
        raise DatasetIntegrityError(f"{path}: key 'files' must map each file to its sha256; {_rebuild_hint(folder)}")
    if not isinstance(fingerprint_, str) or not re.fullmatch(r"[0-9a-f]{64}", fingerprint_):
        raise DatasetIntegrityError(
            f"{path}: key 'fingerprint' must be 64 lowercase hex digits, got {fingerprint_!r}; {_rebuild_hint(folder)}")
    if not isinstance(manifest.get("sources", {}), dict):
        raise DatasetIntegrityError(f"{path}: key 'sources' must be an object; {_rebuild_hint(folder)}")
    return manifest


def verify(folder: str | os.PathLike) -> str:
    """Check every file of a built folder against its ``manifest.json`` (SHA-256; no file missing or added) and
    return the fingerprint *computed from the files* (equal to the manifest's when nothing changed). Raises
    ``DatasetIntegrityError`` naming the first file that differs."""
    folder = Path(folder)
    on_disk = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST
                     and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    stats = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in [folder / MANIFEST, *on_disk]
                  if p.exists())
    key = (str(folder.resolve()), stats)
    if key in _VERIFIED:
        return _VERIFIED[key]
    manifest = _read_manifest(folder)
    listed = manifest["files"]
    present = {str(p.relative_to(folder)): p for p in on_disk}
    for name in sorted(set(listed) - set(present)):
        raise DatasetIntegrityError(f"{folder / name}: listed in {MANIFEST} but missing; {_rebuild_hint(folder)}")
    for name in sorted(set(present) - set(listed)):
        raise DatasetIntegrityError(f"{present[name]}: not part of the build ({MANIFEST} does not list it); remove "
                                    f"it, or {_rebuild_hint(folder)}")
    files = {}
    for name in sorted(present):
        digest = sha256_file(present[name])
        if digest != listed[name]["sha256"]:
            raise DatasetIntegrityError(f"{present[name]}: changed since the build (its SHA-256 differs from "
                                        f"{MANIFEST}); {_rebuild_hint(folder)}")
        files[name] = {"sha256": digest, "bytes": present[name].stat().st_size}
    body = {"files": files, "sources": manifest.get("sources", {})}
    computed = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    if computed != manifest["fingerprint"]:
        # every file hash was rewritten to match an edited file, but the fingerprint was not: not this build
        raise DatasetIntegrityError(
            f"{folder / MANIFEST}: its fingerprint does not match the files and sources it lists (edited since "
            f"the build); {_rebuild_hint(folder)}")
    _VERIFIED[key] = computed
    return computed


def check_rows(split: "datasets.Dataset", where: str) -> None:
    """The columns and rows a scorer relies on: required columns, a non-empty trigger list whose length is
    ``n_triggers``, unique ids. Raises ``DatasetIntegrityError`` naming ``where`` and the row."""
    # datasets fills a column the card declares but the parquet file lacks with nulls: treat it as missing
    missing = [c for c in _REQUIRED_COLUMNS if c not in split.column_names
               or (c != "category" and len(split) and split.data.column(c).null_count == len(split))]
    if missing:
        raise DatasetIntegrityError(f"{where}: column(s) {', '.join(missing)} missing; the dataset was not built by "
                                    "hub_upload.py or was changed; rebuild it with hub_upload.py")
    table = split.select_columns(["id", "triggers", "n_triggers", "ground_truth"]).to_dict()
    seen: set[str] = set()
    for row, (sample_id, triggers, n, truth) in enumerate(zip(table["id"], table["triggers"], table["n_triggers"],
                                                              table["ground_truth"])):
        at = f"{where}: row {row} (id {sample_id!r})"
        if not isinstance(sample_id, str) or not sample_id:
            raise DatasetIntegrityError(f"{at}: no id; rebuild the dataset with hub_upload.py")
        if sample_id in seen:
            raise DatasetIntegrityError(f"{at}: the id appears twice; rebuild the dataset with hub_upload.py")
        seen.add(sample_id)
        if not triggers or any(not isinstance(t, str) or not t.strip() for t in triggers):
            raise DatasetIntegrityError(f"{at}: empty trigger list (or an empty trigger); rebuild the dataset")
        if n != len(triggers) or not isinstance(truth, str) or not truth.strip():
            raise DatasetIntegrityError(f"{at}: n_triggers {n} does not match its {len(triggers)} triggers, or no "
                                        "ground_truth; rebuild the dataset")


@functools.lru_cache(maxsize=None)
def hub_revision(repo_id: str) -> str | None:
    """The commit a Hub dataset repo's ``main`` resolves to (looked up once per process, so every load and the
    provenance name the same data), None offline."""
    try:
        from huggingface_hub import HfApi

        return HfApi().dataset_info(repo_id).sha
    except Exception:  # noqa: BLE001 - offline or no access: datasets' own error will say more when loading
        return None


def load_subset(subset: str, dataset: str | os.PathLike | None = None,
                revision: str | None = None) -> "datasets.Dataset":
    """The ``test`` split of config ``subset`` from a built folder (verified against its manifest first) or a
    Hub repo (at ``revision``; token from the usual login); rows checked (``check_rows``)."""
    import datasets

    if subset not in SUBSETS:
        raise ValueError(f"unknown subset {subset!r}: use one of {', '.join(SUBSETS)}")
    location = resolve(dataset)
    folder = Path(location)
    if folder.is_dir():
        verify(folder)
        split = datasets.load_dataset(location, subset, split="test")
        check_rows(split, str(folder / parquet_path(subset)))
        return split
    revision = revision or hub_revision(location)
    try:
        split = datasets.load_dataset(location, subset, split="test", revision=revision)
    except Exception as err:  # noqa: BLE001 - the Hub's errors vary by cause; each becomes one message with a fix
        raise DatasetNotFound(hub_load_error(location, revision, err)) from None
    check_rows(split, f"{location}@{revision or 'main'}: {parquet_path(subset)}")
    return split


def official(dataset: str | os.PathLike | None = None, revision: str | None = None) -> bool | None:
    """Whether a build was made from the official annotation files: its manifest's source hashes checked against
    the ones this package ships, and, for a local folder (verified first), its rows' annotation columns against
    the official rows' digests. None when unknown: a Hub repo that cannot be reached, or a manifest without
    sources."""
    location = resolve(dataset)
    try:
        if Path(location).is_dir():
            verify(Path(location))
            manifest = json.loads((Path(location) / MANIFEST).read_text(encoding="utf-8-sig"))
        else:
            from huggingface_hub import hf_hub_download

            revision = revision or hub_revision(location)
            kwargs = {"revision": revision} if revision else {}
            path = Path(hf_hub_download(location, MANIFEST, repo_type="dataset", **kwargs))
            manifest = json.loads(path.read_text(encoding="utf-8"))
    except DatasetIntegrityError:
        raise
    except Exception:  # noqa: BLE001 - like fingerprint(): a Hub repo's record is best effort
        return None
    sources = manifest.get("sources") if isinstance(manifest, dict) else None
    if not isinstance(sources, dict) or not sources:
        return None
    if not official_files.hashes_match(sources):
        return False
    if not Path(location).is_dir():
        return True  # a Hub repo: its manifest's word (the rows are checked where the files are local)
    import pyarrow.parquet as pq

    # a manifest re-signed after its rows were edited still names the official sources: the rows must agree
    try:
        return all(official_files.rows_digest(pq.read_table(Path(location) / parquet_path(subset),
                                                            columns=list(official_files.ROW_COLUMNS)).to_pylist())
                   == official_files.OFFICIAL_ROWS_SHA256[subset] for subset in SUBSETS)
    except Exception:  # noqa: BLE001 - rows that cannot even be read as the official columns are not them
        return False


def hub_load_error(repo_id: str, revision: str | None, err: Exception) -> str:
    """The message for a Hub dataset that cannot be loaded: the repo id as given, the offline setting when it is
    on (the usual cause offline), and the fixes."""
    first = (str(err).strip().splitlines() or [""])[0][:200]
    offline = [name for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
               if os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")]
    where = f"{repo_id}@{revision}" if revision else repo_id
    if offline:
        settings = " and ".join(f"{n}=1" for n in offline)
        cause = (f"{settings} {'are' if len(offline) > 1 else 'is'} set, so only a repo already in the local "
                 "Hugging Face cache can be used, and this one is not there (or the repo id is mistyped)")
        fix = (f"check the repo id, or unset {' and '.join(offline)} to download it once (a private or gated repo "
               f"also needs `huggingface-cli login`), or point --dataset / {config.DATASET_ENV} at a built folder")
    else:
        cause = f"{type(err).__name__}: {first}"
        fix = (f"check the repo id (ORG/NAME, a dataset repo), the network, and your Hugging Face login for a "
               f"private or gated repo, or point --dataset / {config.DATASET_ENV} at a built folder")
    return f"cannot load the EIBench dataset {where!r} from the Hugging Face Hub: {cause}. Fix: {fix}"


def fingerprint(dataset: str | os.PathLike | None = None, revision: str | None = None) -> str | None:
    """The fingerprint identifying a build: computed from a local folder's files (``verify``; raises
    ``DatasetIntegrityError`` when they differ from the manifest), or read from the ``manifest.json`` that
    ``hub_upload.py`` uploads with a Hub repo (at ``revision``; None when the Hub is unreachable)."""
    location = resolve(dataset)
    if Path(location).is_dir():
        return verify(Path(location))
    try:
        from huggingface_hub import hf_hub_download

        revision = revision or hub_revision(location)
        kwargs = {"revision": revision} if revision else {}
        manifest = Path(hf_hub_download(location, MANIFEST, repo_type="dataset", **kwargs))
        value = json.loads(manifest.read_text(encoding="utf-8"))["fingerprint"]
        return value if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value) else None
    except Exception:  # noqa: BLE001 - provenance of a Hub repo is best effort: offline, or a hand-made repo
        return None
