"""Build the EIBench dataset (``hub_upload.py`` / ``eibench build``): annotations + images -> parquet folder,
optionally uploaded to the Hugging Face Hub in one commit.

The output appears atomically: everything is written to a temporary folder beside it and renamed into place
only when complete, so a failed build leaves nothing behind.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from lmms_eval_eibench import SUBSETS, config
from lmms_eval_eibench.data.records import (
    SOURCE_FILES,
    EIBenchDataError,
    Records,
    find_annotation_root,
    load_captions,
    load_records,
)
from lmms_eval_eibench.data.sample import SAMPLE_DIR, write_images

_MISSING_SHOWN = 10


@dataclass(frozen=True)
class ImageRoots:
    """Where images are: one root holding the official relative paths, or one root per collection."""

    image_root: Path | None = None
    emoset_root: Path | None = None
    caer_root: Path | None = None

    def locate(self, image_path: str) -> Path:
        collection, _, rest = image_path.partition("/")
        specific = {"EmoSet-118k": self.emoset_root, "CAER-S": self.caer_root}.get(collection)
        if specific is not None:
            return specific / rest
        if self.image_root is None:
            flag = "--emoset-root" if collection == "EmoSet-118k" else "--caer-root"
            raise EIBenchDataError(image_path, f"no folder given for {collection} images",
                                   f"pass --image-root (holding {collection}/...) or {flag}")
        return self.image_root / image_path


def read_images(image_paths: list[str], roots: ImageRoots) -> dict[str, bytes]:
    """Read every image's bytes, after checking that all exist (reported at once) and each one decodes."""
    from PIL import Image, UnidentifiedImageError
    from tqdm import tqdm

    located = {p: roots.locate(p) for p in image_paths}
    missing = [p for p, file in located.items() if not file.is_file()]
    if missing:
        shown = "\n  ".join(str(located[p]) for p in missing[:_MISSING_SHOWN])
        more = f"\n  ... and {len(missing) - _MISSING_SHOWN} more" if len(missing) > _MISSING_SHOWN else ""
        raise EIBenchDataError(  # the list goes last, so "Fix:" ends the first line rather than starting one
            "images", f"{len(missing)} of {len(image_paths)} images are missing (listed below)",
            "download EmoSet-118K and CAER-S and pass the folder holding EmoSet-118k/ and CAER-S/ as --image-root "
            "(or --emoset-root / --caer-root), or build an annotations-only dataset with --no-images. "
            f"Missing:\n  {shown}{more}")
    images: dict[str, bytes] = {}
    for image_path in tqdm(image_paths, desc="images", unit="img", disable=None):
        file = located[image_path]
        try:
            data = file.read_bytes()
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
        except (OSError, UnidentifiedImageError, SyntaxError) as err:
            raise EIBenchDataError(str(file), f"image cannot be read ({err})",
                                   "replace the file with the original image from its dataset") from None
        images[image_path] = data
    return images


def _hub_error(repo_id: str, step: str, err: Exception) -> EIBenchDataError:
    message = str(err).strip().splitlines()[0][:300] if str(err).strip() else ""
    return EIBenchDataError(
        f"--repo-id {repo_id}", f"{step} failed ({type(err).__name__}: {message})",
        "check the network and that HF_HUB_OFFLINE is unset, log in (`huggingface-cli login` or HF_TOKEN) with "
        "write access to the repo, or drop --repo-id to build locally (--output DIR)")


def hub_api(api: Any = None) -> Any:
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    return api


def prepare_repo(repo_id: str, private: bool, api: Any) -> None:
    """Create (or find) the Hub dataset repo: done before the image pass, so an unreachable Hub or a missing
    login fails in seconds."""
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    except Exception as err:  # noqa: BLE001 - any failure to reach the Hub is the user's to fix
        raise _hub_error(repo_id, "creating the Hub repo", err) from None


def upload(folder: Path, repo_id: str, private: bool, api: Any = None) -> str:
    """Upload a built folder to a Hub dataset repo (made by `prepare_repo`) in one commit (token from the usual
    login or HF_TOKEN)."""
    api = hub_api(api)
    try:
        info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="dataset",
                                 commit_message="Add EIBench dataset (lmms-eval-eibench hub_upload.py)")
    except Exception as err:  # noqa: BLE001
        raise _hub_error(repo_id, "uploading", err) from None
    return str(getattr(info, "commit_url", info))


def _describe(folder: Path, limit: int = 4) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def check_output(output: Path, overwrite: bool, annotations: Path | None = None) -> None:
    """Refuse an --output that would lose what is not ours: an existing path without --overwrite, and with it
    anything but an EIBench build or an empty folder (an annotation clone, a results folder, a file), and
    the annotation folder or a folder holding it whatever the flags."""
    output = output.resolve()
    if annotations is not None:
        source = annotations.resolve()
        if output == source or output in source.parents or source in output.parents:
            raise EIBenchDataError(str(output), f"is (or holds, or lies inside) the annotations read from {source}",
                                   "choose an --output outside the EIBench clone, e.g. --output EIBench-dataset")
    if not output.exists():
        ancestor = next(p for p in output.parents if p.exists())
        if not ancestor.is_dir():
            raise EIBenchDataError(str(output), f"{ancestor} is a file, not a folder", "choose another --output")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise EIBenchDataError(str(output), f"cannot be created: {ancestor} is not writable (permission or a "
                                   "read-only file system)", "choose a writable --output")
        return
    if not output.is_dir():
        raise EIBenchDataError(str(output), "exists and is a file, not a dataset folder",
                               "choose another --output (a new or empty folder)")
    from lmms_eval_eibench.data.dataset import is_eibench_build

    if is_eibench_build(output) or not any(output.iterdir()):
        if not overwrite:
            raise EIBenchDataError(str(output), "the output folder already exists",
                                   "pass --overwrite to replace it, or choose another --output")
        return
    raise EIBenchDataError(str(output), f"is not an EIBench build (no manifest.json written by hub_upload.py) and "
                           f"holds {_describe(output)}; --overwrite replaces only an EIBench build or an empty folder",
                           "choose another --output (a new or empty folder)")


def _replace(built: Path, output: Path, overwrite: bool) -> None:
    """Move a complete build into place; an existing output is replaced only with --overwrite, and only when it
    is an EIBench build or empty (checked again: it may have changed during the build)."""
    if not output.exists():
        os.replace(built, output)
        return
    check_output(output, overwrite)
    retired = Path(tempfile.mkdtemp(prefix=f".{output.name}.old-", dir=output.parent))
    os.replace(output, retired / output.name)
    os.replace(built, output)
    shutil.rmtree(retired, ignore_errors=True)


def build(eibench: Path | None, output: Path | None, roots: ImageRoots, no_images: bool = False,
          captions_file: Path | None = None, repo_id: str | None = None, private: bool = False,
          overwrite: bool = False, api: Any = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Build the dataset and write it to ``output`` and/or upload it to ``repo_id``; return a summary."""
    from lmms_eval_eibench.data import dataset

    started = time.perf_counter()
    annotations = find_annotation_root(eibench if eibench else SAMPLE_DIR)
    records: Records = load_records(annotations)
    for warning in records.warnings:
        log(f"warning: {warning}")
    captions = load_captions(captions_file, set(records.image_paths())) if captions_file else None
    if captions is not None and (uncaptioned := [p for p in records.image_paths() if p not in captions]):
        # the caption tasks need every image's caption: a partial file would fail only later, mid-evaluation
        raise EIBenchDataError(str(captions_file), f"captions for {len(captions)} of {len(records.image_paths())} "
                               f"images; no caption for {len(uncaptioned)} (first: {uncaptioned[0]!r})",
                               "caption every image (run the eibench_captions task without --limit, then "
                               "`eibench captions`), or build without --captions")

    output = Path(output).expanduser().resolve() if output else None
    if output is None and repo_id is None:
        output = config.default_dataset_dir()
    if output is not None:  # fail before the image pass, not after it
        check_output(output, overwrite, annotations if eibench else None)
    if repo_id:
        api = hub_api(api)
        prepare_repo(repo_id, private, api)
    work_parent = output.parent if output else Path(tempfile.gettempdir())
    work_parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{output.name if output else 'eibench'}.building-", dir=work_parent))
    try:
        drawn = None
        if no_images:
            images, image_note = None, "none (annotations-only build: `image` is null, `image_path` is kept)"
        else:
            if eibench is None and roots == ImageRoots():  # the embedded sample draws its own images
                drawn = work / ".drawn"
                write_images(records.image_paths(), drawn)
                roots, image_note = ImageRoots(image_root=drawn), "drawn by code (embedded sample)"
            else:
                image_note = "EmoSet-118K and CAER-S files, original bytes"
            images = read_images(records.image_paths(), roots)
        folder = work / "dataset"
        folder.mkdir()
        by_subset = {s: records.subset(s) for s in SUBSETS}
        split_bytes = {s: dataset.write_parquet(dataset.rows(by_subset[s], images, captions), folder, s)
                       for s in SUBSETS}
        note = {"annotations": "embedded sample (our own items in the official format)" if eibench is None
                else "the official EIBench annotation files",
                "images": image_note,
                "captions": f"{len(captions)} captions from {Path(captions_file).name}" if captions else "none"}
        dataset.write_card(folder, by_subset, split_bytes, note)
        manifest = dataset.write_manifest(folder, {f: annotations / f for f in SOURCE_FILES}, note)
        commit = upload(folder, repo_id, private, api) if repo_id else None
        if output is not None:
            _replace(folder, output, overwrite)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    summary = {
        "output": str(output) if output else None,
        "repo_id": repo_id, "commit": commit,
        "rows": {s: len(by_subset[s]) for s in SUBSETS},
        "categories": dataset.card_counts(by_subset)["categories"],
        "images": len(images) if images is not None else 0,
        "bytes": sum(f["bytes"] for f in manifest["files"].values()),
        "seconds": round(time.perf_counter() - started, 2),
        "fingerprint": manifest["fingerprint"],
        "warnings": len(records.warnings),
    }
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    categories = ", ".join(f"{c} {n}" for c, n in summary["categories"].items())
    where = " and ".join(x for x in [summary["output"], summary["repo_id"] and f"hub:{summary['repo_id']}"] if x)
    return (f"EIBench dataset written to {where}\n"
            f"  basic: {summary['rows']['basic']} rows ({categories})\n"
            f"  complex: {summary['rows']['complex']} rows\n"
            f"  images: {summary['images']}, parquet: {summary['bytes'] / 1e6:.1f} MB, "
            f"time: {summary['seconds']:.1f} s, warnings: {summary['warnings']}\n"
            f"  fingerprint: {summary['fingerprint'][:16]}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--eibench", type=Path, metavar="DIR",
                        help="EIBench annotations: a clone of the EIBench repository or a folder with EI_Basic/ "
                             "and EI_Complex/ (default: the embedded sample, our own handful of items)")
    images = parser.add_argument_group("images")
    images.add_argument("--image-root", type=Path, metavar="DIR",
                        help="folder holding the official relative paths EmoSet-118k/image/... and CAER-S/train/...")
    images.add_argument("--emoset-root", type=Path, metavar="DIR", help="EmoSet-118K root (holding image/...)")
    images.add_argument("--caer-root", type=Path, metavar="DIR", help="CAER-S root (holding train/...)")
    images.add_argument("--no-images", action="store_true",
                        help="annotations only: image is null, image_path is kept (images supplied at run time)")
    parser.add_argument("--captions", type=Path, metavar="FILE",
                        help='JSONL of {"image_path": ..., "caption": ...} filling the caption column')
    parser.add_argument("--output", type=Path, metavar="DIR",
                        help=f"where to write the dataset (default without --repo-id: {config.default_dataset_dir()}"
                             f", or ${config.DATASET_ENV})")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    parser.add_argument("--repo-id", metavar="ORG/NAME", help="also upload to this Hugging Face dataset repo")
    parser.add_argument("--private", action="store_true", help="create the Hub repo as private")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("build", help="build the EIBench dataset (same as hub_upload.py)",
                                   description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return parser


def run(args: argparse.Namespace, api: Any = None) -> int:
    from lmms_eval_eibench.data.dataset import looks_like_repo_id

    output, configured = args.output, os.environ.get(config.DATASET_ENV)
    roots = ImageRoots(args.image_root, args.emoset_root, args.caer_root)
    try:
        if output is None and args.repo_id is None and configured:
            if looks_like_repo_id(configured):
                raise EIBenchDataError(config.DATASET_ENV, f"names the Hub repo {configured!r}, not a folder",
                                       f"pass --repo-id {configured} to upload there, or --output DIR")
            output = Path(configured)
        summary = build(args.eibench, output, roots, no_images=args.no_images, captions_file=args.captions,
                        repo_id=args.repo_id, private=args.private, overwrite=args.overwrite, api=api,
                        log=lambda line: print(line, file=sys.stderr))
    except EIBenchDataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_summary(summary))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hub_upload.py", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except KeyboardInterrupt:  # the build is renamed into place only when complete: nothing half written
        print("hub_upload.py: interrupted; nothing was written (the output appears only when complete): run the "
              "same command again", file=sys.stderr)
        return 130
