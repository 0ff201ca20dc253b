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


def detail(crop: np.ndarray) -> float:
    """Mean absolute horizontal + vertical difference of a uint8 crop (texture measure)."""
    c = crop.astype(np.int16)
    return float(np.abs(np.diff(c, axis=0)).mean() + np.abs(np.diff(c, axis=1)).mean())


class ImageCrops:
    """Random crops with flips from images kept in memory at several resolutions.

    Each image is kept at its full size and downscaled by each of `scales` (while its short side
    stays >= crop). With `detail_pick` > 1, half of every batch takes the most textured of that
    many random crops: the wallpapers that make up most of the folder are smooth, while natural
    photos and video frames are not (the transforms learned too little high-frequency detail).
    """

    def __init__(self, files: list[Path], crop: int = 256, seed: int = 0,
                 scales: tuple[int, ...] = (2,), detail_pick: int = 1) -> None:
        self.crop = crop
        self.detail_pick = detail_pick
        self.rng = np.random.default_rng(seed)
        self.images: list[np.ndarray] = []
        for f in files:
            full = load_rgb(f)
            side = max(full.shape[:2])
            for img in [full] + [load_rgb(f, side // s) for s in scales]:
                if min(img.shape[:2]) >= crop:
                    self.images.append(img)
        if not self.images:
            raise ValueError(f"no training image is at least {crop} px on its short side")

    def _crop(self) -> np.ndarray:
        img = self.images[self.rng.integers(len(self.images))]
        y = self.rng.integers(img.shape[0] - self.crop + 1)
        x = self.rng.integers(img.shape[1] - self.crop + 1)
        return img[y : y + self.crop, x : x + self.crop]

    def batch(self, size: int) -> np.ndarray:
        """(size, 3, crop, crop) float32 in [0, 1]."""
        out = np.empty((size, 3, self.crop, self.crop), np.float32)
        for i in range(size):
            picks = self.detail_pick if i % 2 else 1
            c = max((self._crop() for _ in range(picks)), key=detail)
            if self.rng.random() < 0.5:
                c = c[:, ::-1]
            out[i] = c.transpose(2, 0, 1) / 255.0
        return out
