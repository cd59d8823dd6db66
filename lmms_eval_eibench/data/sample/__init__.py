"""The embedded sample: a handful of EIBench-style items we wrote ourselves, in the official file format.

The questions and triggers are our own (not from EIBench); the images are drawn by code. The sample makes the
README's first command and the fast tests work offline with no EIBench checkout and no image download.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

SAMPLE_DIR = Path(__file__).resolve().parent

# Face colours per emotion folder, so the drawn images differ by category.
_MOODS = {
    "happy": ((255, 214, 102), 1), "excitement": ((255, 140, 60), 1), "contentment": ((170, 220, 140), 1),
    "angry": ((220, 60, 50), -1), "anger": ((220, 60, 50), -1), "sadness": ((90, 120, 200), -1),
    "fear": ((150, 110, 190), -1),
}


def draw_image(image_path: str, size: int = 64):
    """A small deterministic picture for an image path: a face whose colour and mouth follow the folder's
    emotion, on a background seeded by the path. Returns a PIL image."""
    from PIL import Image, ImageDraw

    digest = hashlib.sha256(image_path.encode()).digest()
    folder = Path(image_path).parent.name.lower()
    face, mouth = _MOODS.get(folder, ((200, 200, 200), 0))
    image = Image.new("RGB", (size, size), tuple(digest[:3]))
    draw = ImageDraw.Draw(image)
    s = size / 64
    draw.ellipse([12 * s, 10 * s, 52 * s, 54 * s], fill=face, outline=(0, 0, 0))
    for x in (24, 40):
        draw.ellipse([(x - 3) * s, 24 * s, (x + 3) * s, 30 * s], fill=(0, 0, 0))
    top = 36 if mouth >= 0 else 40
    draw.arc([22 * s, top * s, 42 * s, (top + 10) * s], 0 if mouth >= 0 else 180, 180 if mouth >= 0 else 360,
             fill=(0, 0, 0), width=max(1, int(2 * s)))
    return image


def write_images(image_paths: Iterable[str], root: str | Path, size: int = 64) -> int:
    """Draw an image at each official relative path under ``root`` (JPEG or PNG by suffix); return the count."""
    root = Path(root)
    count = 0
    for image_path in image_paths:
        target = root / image_path
        target.parent.mkdir(parents=True, exist_ok=True)
        draw_image(image_path, size).save(target)
        count += 1
    return count
