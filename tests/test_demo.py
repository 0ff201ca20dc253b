"""Tests for codec.demo: deterministic synthetic video with real motion."""

from __future__ import annotations

import itertools
import time
from fractions import Fraction

import numpy as np
import pytest

from codec.demo import DEMO_NAME, DemoSource, demo_source
from codec.errors import SourceError


def best_shift(a: np.ndarray, b: np.ndarray, radius: int) -> tuple[tuple[int, int], float, float]:
    """Integer (dx, dy) with b(x, y) ~ a(x + dx, y + dy) by median absolute error (robust to the
    independently moving objects); that error and the zero-shift one."""
    h, w = a.shape[:2]
    m = radius
    core = b[m : h - m, m : w - m].astype(np.float32)
    errors = {}
    for dy in range(-m, m + 1):
        for dx in range(-m, m + 1):
            ref = a[m + dy : h - m + dy, m + dx : w - m + dx].astype(np.float32)
            errors[dx, dy] = float(np.median(np.abs(core - ref).mean(axis=2)))
    best = min(errors, key=errors.__getitem__)
    return best, errors[best], errors[0, 0]


def test_interface_and_defaults() -> None:
    with demo_source() as src:
        assert isinstance(src, DemoSource)
        assert (src.width, src.height, src.frame_count) == (320, 240, 60)
        assert src.fps == Fraction(30) and isinstance(src.fps, Fraction)
        assert src.name.startswith(DEMO_NAME)
        first = next(iter(src))
    assert first.shape == (240, 320, 3) and first.dtype == np.uint8
    assert first.flags.c_contiguous
    with pytest.raises(ValueError, match="closed"):
        next(iter(src))


def test_deterministic_and_prefix_stable() -> None:
    a = list(demo_source(48, 32, frames=6))
    b = list(demo_source(48, 32, frames=6))
    assert len(a) == 6
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    longer = list(demo_source(48, 32, frames=9))
    assert all(np.array_equal(x, y) for x, y in zip(a, longer[:6], strict=True))
    assert np.array_equal(demo_source(48, 32).frame(4), a[4])
    assert not np.array_equal(demo_source(48, 32, seed=1).frame(0), a[0])
    started = list(demo_source(48, 32, frames=2, start=3))
    assert np.array_equal(started[0], a[3]) and np.array_equal(started[1], a[4])


def test_content_is_textured_and_colourful() -> None:
    f = demo_source(160, 120).frame(0)
    assert f.std() > 20  # not flat
    grads = np.abs(np.diff(f.astype(np.int16), axis=1))
    assert np.mean(grads > 4) > 0.1  # detail for motion search to lock on
    assert len(np.unique(f.reshape(-1, 3), axis=0)) > 2000


def test_consecutive_frames_differ_by_motion() -> None:
    src = demo_source(160, 120, frames=None)
    frames = {i: src.frame(i) for i in (10, 11, 16)}
    assert not np.array_equal(frames[10], frames[11])
    # Over 6 frames the camera pans a few pixels: an integer global shift explains most of it.
    (dx, dy), err, err0 = best_shift(frames[10], frames[16], radius=5)
    ox0, oy0 = src.camera_offset(10)
    ox1, oy1 = src.camera_offset(16)
    assert abs(dx - (ox1 - ox0)) <= 1 and abs(dy - (oy1 - oy0)) <= 1
    assert (dx, dy) != (0, 0)
    assert err < 0.6 * err0
    # The objects move on their own: the residual after the pan is concentrated in blocks.
    h, w = 120, 160
    m = 5
    res = np.abs(
        frames[16][m : h - m, m : w - m].astype(np.int16)
        - frames[10][m + dy : h - m + dy, m + dx : w - m + dx].astype(np.int16)
    ).mean(axis=2)
    blocks = res[:104, :144].reshape(13, 8, 18, 8).mean(axis=(1, 3))
    assert np.max(blocks) > 8 * np.median(blocks)


def test_odd_and_tiny_sizes() -> None:
    for w, h in ((17, 9), (1, 1), (3, 2)):
        frames = list(demo_source(w, h, frames=3))
        assert all(f.shape == (h, w, 3) for f in frames)


def test_endless_source() -> None:
    src = demo_source(16, 16, frames=None)
    assert src.frame_count is None
    assert len(list(itertools.islice(src, 5))) == 5
    with pytest.raises(TypeError):
        len(src)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"width": 0},
        {"height": -4},
        {"width": 16385},
        {"width": 2.5},
        {"frames": 0},
        {"fps": 0},
        {"fps": "fast"},
        {"start": -1},
    ],
)
def test_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(SourceError, match="demo"):
        demo_source(**kwargs)


def test_fast_enough() -> None:
    src = demo_source(320, 240, frames=40)
    t0 = time.perf_counter()
    n = sum(1 for _ in src)
    elapsed = time.perf_counter() - t0
    assert n == 40
    assert elapsed < 1.0, f"{n / elapsed:.0f} fps at 320x240"  # several hundred fps normally
