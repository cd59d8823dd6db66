"""The official EIBench annotation files, by SHA-256: whether a build's sources (or an annotations folder) are
the published ones (pure; hashing only).

The hashes are of the files in the EIBench repository (github.com/Lum1104/EIBench) as published; only the
hashes ship with this package, never the files. A build records `official: true|false` in its manifest and
the runs scored on it say so in their provenance, so a row scored on edited annotations is marked as such.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

__all__ = ["OFFICIAL_SHA256", "files_match", "hashes_match", "sha256_file"]

OFFICIAL_SHA256: Mapping[str, str] = {
    "EI_Basic/user.jsonl": "04cb1145f124e261c0146470316f2d91e03fe7f87169f51396363eec3347b76b",
    "EI_Basic/basic_ground_truth.json": "17ba97385a6de152e8ed432b8a38eb899c970a10431a4f33ec3fa1a8c6478f8b",
    "EI_Complex/ec_complex.jsonl": "09eccd5112de2c03c191196ab8481ed072c0b7b7b133bea273ecdf2751d94d42",
}


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
