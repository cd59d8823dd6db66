"""Shared fixtures: the official annotations (read from ../shared/eibench, never copied), placeholder images at
the official paths, and built datasets (the embedded sample and the full official one)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# No Hub on these machines; every test runs offline, with caches kept out of the user's home.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
if "XDG_CACHE_HOME" not in os.environ:  # a cache folder of our own, removed when the test process ends
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="eibench-test-cache-")
    atexit.register(shutil.rmtree, os.environ["XDG_CACHE_HOME"], True)

REPO = Path(__file__).resolve().parents[1]
OFFICIAL_DIR = Path(os.environ.get("EIBENCH_OFFICIAL_DIR", REPO.parent / "shared" / "eibench"))


@pytest.fixture(scope="session")
def official_dir() -> Path:
    """The official EIBench annotation files (read-only)."""
    if not (OFFICIAL_DIR / "EI_Basic" / "user.jsonl").is_file():
        pytest.fail(f"official EIBench annotations not found at {OFFICIAL_DIR} (set EIBENCH_OFFICIAL_DIR)")
    return OFFICIAL_DIR


@pytest.fixture(scope="session")
def official_records(official_dir):
    from lmms_eval_eibench.data.records import load_records

    return load_records(official_dir)


@pytest.fixture(scope="session")
def official_images(official_records, tmp_path_factory) -> Path:
    """Placeholder images drawn at all 1,636 official relative paths (the real ones are not on this machine)."""
    from lmms_eval_eibench.data.sample import write_images

    root = tmp_path_factory.mktemp("official-images")
    write_images(official_records.image_paths(), root, size=32)
    return root


@pytest.fixture(scope="session")
def official_dataset_dir(official_dir, official_images, tmp_path_factory) -> Path:
    """The full dataset (1,615 basic + 50 complex rows) built from the official files and placeholder images."""
    from lmms_eval_eibench.data.build import ImageRoots, build

    out = tmp_path_factory.mktemp("official-dataset") / "eibench"
    build(official_dir, out, ImageRoots(image_root=official_images), log=lambda line: None)
    return out


@pytest.fixture(scope="session")
def sample_dataset_dir(tmp_path_factory) -> Path:
    """The embedded sample (our own 8 basic + 4 complex items, images drawn by code), built."""
    from lmms_eval_eibench.data.build import ImageRoots, build

    out = tmp_path_factory.mktemp("sample-dataset") / "eibench"
    build(None, out, ImageRoots(), log=lambda line: None)
    return out
