"""The official EIBench annotation files, by SHA-256: whether a build's sources (or an annotations folder) are
the published ones (pure; hashing only).

The hashes are of the files in the EIBench repository (github.com/Lum1104/EIBench) as published; only the
hashes ship with this package, never the files. A build records `official: true|false` in its manifest and
the runs scored on it say so in their provenance, so a row scored on edited annotations is marked as such.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["OFFICIAL_ROWS_SHA256", "OFFICIAL_SHA256", "ROW_COLUMNS", "files_match", "hashes_match", "rows_digest",
           "sha256_file"]

OFFICIAL_SHA256: Mapping[str, str] = {
    "EI_Basic/user.jsonl": "04cb1145f124e261c0146470316f2d91e03fe7f87169f51396363eec3347b76b",
    "EI_Basic/basic_ground_truth.json": "17ba97385a6de152e8ed432b8a38eb899c970a10431a4f33ec3fa1a8c6478f8b",
    "EI_Complex/ec_complex.jsonl": "09eccd5112de2c03c191196ab8481ed072c0b7b7b133bea273ecdf2751d94d42",
}


ROW_COLUMNS = ("id", "image_path", "question", "ground_truth", "triggers", "n_triggers", "category")
"""The columns of a built split that come from the annotations (what a scorer reads), in `rows_digest`."""

OFFICIAL_ROWS_SHA256: Mapping[str, str] = {
    "basic": "5963d17dd67326ed56307b4a2d33725cd897e09805f909db3b42543cb46957fa",
    "complex": "55fe1bff9943c33481577f1f81ec30fb5b1a2b3eb91bcbe1230f19e8854382c5",
}
"""`rows_digest` of each split built from the official files: a build whose manifest was re-signed after its
rows were edited still names the official sources, but its rows no longer give these digests."""


def rows_digest(rows: Iterable[Mapping[str, Any]]) -> str:
    """SHA-256 of the annotation columns of a split's rows, in order (images and captions left out)."""
    digest = hashlib.sha256()
    for row in rows:
        values = [list(row[c]) if c == "triggers" else row[c] for c in ROW_COLUMNS]
        digest.update(json.dumps(values, ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hashes_match(sources: Mapping[str, object]) -> bool:
    """Whether `sources` (relative path -> SHA-256, as a manifest records them) are exactly the official files."""
    return {str(k).replace("\\", "/"): v for k, v in sources.items()} == dict(OFFICIAL_SHA256)


def files_match(root: Path) -> bool:
    """Whether the annotation folder `root` (holding EI_Basic/ and EI_Complex/) holds the official files."""
    root = Path(root)
    return all((root / name).is_file() and sha256_file(root / name) == digest
               for name, digest in OFFICIAL_SHA256.items())
