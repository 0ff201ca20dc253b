"""Training crops from ../shared/data/train-images (read in place, never copied)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

DEFAULT_IMAGES = Path(__file__).resolve().parents[3] / "shared" / "data" / "train-images"

# Natural photographs kept out of training, for evaluation (benchmarks/intra_rd.py).
HOLDOUT = (
    "astronaut.png", "chelsea.png", "grace_hopper.jpg", "motorcycle_left.png",
    "motorcycle_right.png", "opencv-baboon.jpg", "opencv-fruits.jpg", "opencv-building.jpg",
    "opencv-leuvenA.jpg", "opencv-leuvenB.jpg", "opencv-aero1.jpg", "opencv-aero3.jpg",
)


def image_files(folder: Path = DEFAULT_IMAGES, holdout: bool = False) -> list[Path]:
    """Training (holdout=False) or held-out evaluation images, sorted by name."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    return [p for p in files if (p.name in HOLDOUT) == holdout]


def load_rgb(path: Path, max_side: int | None = None) -> np.ndarray:
    im = Image.open(path).convert("RGB")
    if max_side and max(im.size) > max_side:
        s = max_side / max(im.size)
        im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.LANCZOS)
    return np.asarray(im)


class ImageCrops:
    """Random crops with flips from images kept in memory at full and half resolution."""

    def __init__(self, files: list[Path], crop: int = 256, seed: int = 0) -> None:
        self.crop = crop
        self.rng = np.random.default_rng(seed)
        self.images: list[np.ndarray] = []
        for f in files:
            full = load_rgb(f)
            for side in (max(full.shape[:2]), max(full.shape[:2]) // 2):
                img = full if side == max(full.shape[:2]) else load_rgb(f, side)
                if min(img.shape[:2]) >= crop:
                    self.images.append(img)
        if not self.images:
            raise ValueError(f"no training image is at least {crop} px on its short side")

    def batch(self, size: int) -> np.ndarray:
        """(size, 3, crop, crop) float32 in [0, 1]."""
        out = np.empty((size, 3, self.crop, self.crop), np.float32)
        for i in range(size):
            img = self.images[self.rng.integers(len(self.images))]
            y = self.rng.integers(img.shape[0] - self.crop + 1)
            x = self.rng.integers(img.shape[1] - self.crop + 1)
            c = img[y : y + self.crop, x : x + self.crop]
            if self.rng.random() < 0.5:
                c = c[:, ::-1]
            out[i] = c.transpose(2, 0, 1) / 255.0
        return out
