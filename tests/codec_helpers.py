"""Small synthetic clips for codec tests (made here, never read from disk)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from codec import alf
from codec.api import StreamEncoder, shared_codecs


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth natural-looking colour texture, (h, w, 3) uint8."""
    rng = np.random.default_rng(seed)
    out = np.zeros((h, w, 3), np.float64)
    for scale, amp in ((4, 12.0), (8, 25.0), (16, 35.0), (32, 40.0)):
        small = rng.normal(0, 1, (h // scale + 2, w // scale + 2, 3)).astype(np.float32)
        layers = [
            np.asarray(
                Image.fromarray(small[..., c], mode="F").resize(
                    ((w // scale + 2) * scale, (h // scale + 2) * scale), Image.BICUBIC
                )
            )
            for c in range(3)
        ]
        out += amp * np.stack(layers, -1)[:h, :w]
    return np.clip(out + 128, 0, 255).astype(np.uint8)


def smooth_rgb(
    h: int, w: int, shift: tuple[float, float] = (0.0, 0.0), seed: int = 0, blur: float = 1.5
) -> np.ndarray:
    """Smoothed-noise RGB uint8 frame sampled at (x + sx, y + sy) (exact sub-pel shift);
    `blur`: the Gaussian's sigma in pixels."""
    rng = np.random.default_rng(seed)
    hh, ww = 2 * h + 64, 2 * w + 64
    ky = np.fft.fftfreq(hh)[:, None, None]
    kx = np.fft.rfftfreq(ww)[None, :, None]
    spec = np.fft.rfft2(rng.standard_normal((hh, ww, 3)), axes=(0, 1))
    spec *= np.exp(-2 * (np.pi * blur) ** 2 * (kx**2 + ky**2))
    spec *= np.exp(2j * np.pi * (kx * shift[0] + ky * shift[1]))
    img = np.fft.irfft2(spec, s=(hh, ww), axes=(0, 1))[:h, :w]
    return np.clip(128 + 45 * img / img.std(), 0, 255).astype(np.uint8)


def pan_clip(n: int, h: int = 64, w: int = 96, step: int = 2, seed: int = 0) -> list[np.ndarray]:
    """A camera pan of `step` pixels per frame over a texture."""
    big = texture(h + 8, w + step * n + 8, seed)
    return [big[4 : 4 + h, 4 + step * i : 4 + step * i + w].copy() for i in range(n)]


def objects_clip(n: int, h: int = 128, w: int = 192, seed: int = 5) -> list[np.ndarray]:
    """Eight blocky 32x32 objects moving up to 13 pixels a frame, each its own way, over a
    still blocky background: motion fields with many large vector differences."""
    rng = np.random.default_rng(seed)
    bg = rng.integers(0, 256, (h // 4, w // 4, 3)).repeat(4, 0).repeat(4, 1).astype(np.uint8)
    objs = [(rng.integers(0, h - 32), rng.integers(0, w - 32),
             rng.integers(-3, 4, 2) * 4 + rng.integers(-1, 2, 2),
             rng.integers(0, 256, (8, 8, 3)).repeat(4, 0).repeat(4, 1)) for _ in range(8)]
    frames = []
    for t in range(n):
        f = bg.copy()
        for r, c, v, tex in objs:
            rr, cc = int((r + v[0] * t) % (h - 32)), int((c + v[1] * t) % (w - 32))
            f[rr : rr + 32, cc : cc + 32] = tex
        frames.append(f)
    return frames


def static_clip(n: int, h: int = 64, w: int = 96, seed: int = 1) -> list[np.ndarray]:
    f = texture(h, w, seed)
    return [f.copy() for _ in range(n)]


def encode(
    path: Path,
    frames: list[np.ndarray],
    quality: int = 4,
    preset: str = "medium",
    gop: int = 32,
    **kw,
) -> tuple[list[np.ndarray], list]:
    h, w = frames[0].shape[:2]
    with StreamEncoder(
        path, w, h, Fraction(25), quality, preset, gop, codecs=shared_codecs("cpu"), **kw
    ) as enc:
        return enc.encode_all(frames)


def frame_payload(reader, n: int) -> bytes:
    """Frame n's payload as its frame type lays it out (without a loop filter record)."""
    fh, data = reader.read_frame(n)
    return alf.strip(data, fh.filtered)


def damaged_section_failures(good: bytes, version: int, base: np.ndarray, trials: int,
                             grey: bool = False) -> int:
    """Decode `trials` damaged copies of a detail section (a flipped byte; every third also
    cut short) on `base`: how many raised ZVC69FormatError. Any other exception propagates."""
    from codec import detail as D
    from codec.errors import ZVC69FormatError
    from codec.profiler import Profiler

    h, w = base.shape[:2]
    rng = np.random.default_rng(0)
    failures = 0
    for trial in range(trials):
        data = bytearray(good)
        data[rng.integers(0, len(data))] ^= int(rng.integers(1, 256))
        if trial % 3 == 0:
            data = data[: rng.integers(0, len(data))]
        try:
            section = D.DetailSection.unpack(bytes(data), version, grey)
            keep, q, kinds = D.decode_symbols(section, h, w, Profiler())
            D.reconstruct(section, keep, q, base, Profiler(), kinds)
        except ZVC69FormatError:
            failures += 1
    return failures
