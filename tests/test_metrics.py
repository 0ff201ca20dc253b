"""Tests for codec.metrics: PSNR, YUV 4:2:0 conversion and Bjontegaard deltas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codec.metrics import (
    bd_psnr,
    bd_rate,
    psnr,
    psnr_planes,
    psnr_rgb,
    psnr_yuv420,
    rgb_to_yuv420,
    yuv420_to_rgb,
)


def smooth_planes(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Detailed luma and smooth chroma in safe ranges: content that yuv420 represents exactly."""
    yy, xx = np.mgrid[0:h, 0:w]
    y = (110 + 60 * np.sin(xx / 3.0) * np.cos(yy / 4.0) + (xx % 2) * 10).astype(np.uint8)
    cy, cx = np.mgrid[0 : (h + 1) // 2, 0 : (w + 1) // 2]
    u = (128 + 20 * np.sin(cx / 4.0)).astype(np.uint8)
    v = (128 + 20 * np.cos(cy / 3.0)).astype(np.uint8)
    return y, u, v


# -- PSNR ---------------------------------------------------------------------------------


def test_psnr_identical_is_inf() -> None:
    a = np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
    assert psnr(a, a.copy()) == math.inf


def test_psnr_known_values() -> None:
    a = np.zeros((8, 8), np.uint8)
    assert psnr(a, a + 1) == pytest.approx(20 * math.log10(255), abs=1e-12)  # MSE 1
    assert psnr(a, a + 2) == pytest.approx(20 * math.log10(255) - 20 * math.log10(2))
    b = np.zeros((8, 8), np.float64)
    assert psnr(b, b + 0.1, peak=1.0) == pytest.approx(20.0)
    # No uint8 wrap-around: 0 vs 255 is the worst case, 0 dB.
    assert psnr(a, a + 255) == pytest.approx(0.0, abs=1e-12)


def test_psnr_rejects_mismatched_or_empty() -> None:
    with pytest.raises(ValueError, match="shape"):
        psnr(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError):
        psnr(np.zeros((0,)), np.zeros((0,)))


def test_psnr_rgb_checks_layout() -> None:
    a = np.full((4, 6, 3), 100, np.uint8)
    b = a.copy()
    b[0, 0, 0] += 12  # MSE = 144 / 72 = 2
    assert psnr_rgb(a, b) == pytest.approx(10 * math.log10(255**2 / 2))
    with pytest.raises(ValueError):
        psnr_rgb(a.astype(np.float32), b.astype(np.float32))
    with pytest.raises(ValueError):
        psnr_rgb(a[..., :2], b[..., :2])


# -- YUV 4:2:0 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("colour", "expected"),
    [
        ((0, 0, 0), (16, 128, 128)),
        ((255, 255, 255), (235, 128, 128)),
        ((255, 0, 0), (81, 90, 240)),  # BT.601 limited range
        ((0, 255, 0), (145, 54, 34)),
        ((0, 0, 255), (41, 240, 110)),
    ],
)
def test_rgb_to_yuv420_is_bt601_limited(colour: tuple, expected: tuple) -> None:
    rgb = np.empty((4, 6, 3), np.uint8)
    rgb[:] = colour
    planes = rgb_to_yuv420(rgb)
    for plane, value in zip(planes, expected, strict=True):
        assert plane.dtype == np.uint8
        assert np.all(np.abs(plane.astype(int) - value) <= 1), (colour, plane[0, 0], value)


@pytest.mark.parametrize(("h", "w"), [(1, 1), (2, 3), (17, 33), (24, 32)])
def test_yuv420_plane_shapes_and_round_trip(h: int, w: int) -> None:
    y, u, v = smooth_planes(h, w)
    rgb = yuv420_to_rgb(y, u, v)
    assert rgb.shape == (h, w, 3) and rgb.dtype == np.uint8
    y2, u2, v2 = rgb_to_yuv420(rgb)
    assert y2.shape == (h, w)
    assert u2.shape == v2.shape == ((h + 1) // 2, (w + 1) // 2)
    # Content that 4:2:0 represents survives RGB and back exactly.
    assert np.array_equal(y, y2) and np.array_equal(u, u2) and np.array_equal(v, v2)


def test_yuv420_to_rgb_rejects_wrong_chroma() -> None:
    y, u, v = smooth_planes(8, 8)
    with pytest.raises(ValueError, match="chroma"):
        yuv420_to_rgb(y, u[:, :-1], v)


def test_psnr_planes_weights_6_1_1() -> None:
    y, u, v = smooth_planes(16, 16)
    test = (y + 1, u + 2, v.copy())
    r = psnr_planes((y, u, v), test)
    py, pu = 20 * math.log10(255), 20 * math.log10(255 / 2)
    assert r["y"] == pytest.approx(py) and r["u"] == pytest.approx(pu)
    assert r["v"] == math.inf and r["yuv"] == math.inf
    r = psnr_planes((y, u, v), (y + 1, u + 2, v + 1))
    assert r["yuv"] == pytest.approx((6 * py + pu + py) / 8)
    with pytest.raises(ValueError):
        psnr_planes((y, u), (y, u))


def test_psnr_yuv420_matches_planes() -> None:
    y, u, v = smooth_planes(12, 20)
    a = yuv420_to_rgb(y, u, v)
    b = a.copy()
    b[3:6, 4:9] = 200
    assert psnr_yuv420(a, b) == psnr_planes(rgb_to_yuv420(a), rgb_to_yuv420(b))
    assert psnr_yuv420(a, a)["yuv"] == math.inf


# -- Bjontegaard ----------------------------------------------------------------------------

RATES = [100.0, 180.0, 350.0, 700.0]
PSNRS = [30.1, 32.9, 35.6, 38.2]


def test_bd_rate_pure_rate_scaling() -> None:
    more = [r * 1.1 for r in RATES]
    less = [r / 1.1 for r in RATES]
    assert bd_rate(RATES, PSNRS, more, PSNRS) == pytest.approx(10.0, abs=1e-9)
    assert bd_rate(RATES, PSNRS, less, PSNRS) == pytest.approx(-100 / 11, abs=1e-9)  # -9.09%
    assert bd_rate(RATES, PSNRS, RATES, PSNRS) == pytest.approx(0.0, abs=1e-9)


def test_bd_psnr_pure_quality_shift() -> None:
    better = [p + 0.5 for p in PSNRS]
    assert bd_psnr(RATES, PSNRS, RATES, better) == pytest.approx(0.5, abs=1e-9)
    assert bd_psnr(RATES, better, RATES, PSNRS) == pytest.approx(-0.5, abs=1e-9)


def test_bd_rate_partial_overlap_on_one_cubic() -> None:
    """Both curves sample one cubic log-rate(PSNR); curve 2 costs 10% more where they overlap."""

    def log_rate(p: np.ndarray) -> np.ndarray:
        return 0.002 * (p - 30) ** 3 - 0.01 * (p - 30) ** 2 + 0.25 * p - 3.0

    p1 = np.array([30.0, 33.0, 36.0, 39.0])
    p2 = np.array([34.0, 37.0, 40.0, 43.0])
    r1 = np.exp(log_rate(p1))
    r2 = 1.1 * np.exp(log_rate(p2))
    assert bd_rate(r1, p1, r2, p2) == pytest.approx(10.0, abs=1e-6)


def test_bd_rate_matches_numeric_integration() -> None:
    p1 = np.array([28.0, 31.0, 34.0, 37.0, 40.0])
    p2 = np.array([29.0, 32.5, 35.0, 38.0])
    c1 = [0.001, -0.02, 0.4, -5.0]  # log-rate cubics in PSNR
    c2 = [-0.0005, 0.01, 0.2, -1.3]
    r1, r2 = np.exp(np.polyval(c1, p1)), np.exp(np.polyval(c2, p2))
    grid = np.linspace(29.0, 38.0, 200001)
    gap = np.polyval(c2, grid) - np.polyval(c1, grid)
    mean_gap = float(np.sum((gap[1:] + gap[:-1]) / 2) * (grid[1] - grid[0]) / 9.0)
    assert bd_rate(r1, p1, r2, p2) == pytest.approx((math.exp(mean_gap) - 1) * 100, rel=1e-6)


def test_bd_no_overlap_is_nan() -> None:
    high = [p + 20 for p in PSNRS]
    assert math.isnan(bd_rate(RATES, PSNRS, RATES, high))
    far = [r * 1000 for r in RATES]
    assert math.isnan(bd_psnr(RATES, PSNRS, far, PSNRS))


def test_bd_validates_input() -> None:
    with pytest.raises(ValueError, match="rates"):
        bd_rate([1, 2, 3], [30, 31], [1, 2], [30, 31])
    with pytest.raises(ValueError, match="positive"):
        bd_rate([0, 2, 3, 4], PSNRS, RATES, PSNRS)
    with pytest.raises(ValueError, match="at least 2"):
        bd_psnr([1], [30], RATES, PSNRS)


@settings(max_examples=30, deadline=None)
@given(
    factor=st.floats(0.2, 5.0),
    steps=st.lists(st.floats(0.5, 4.0), min_size=4, max_size=6),
    gains=st.lists(st.floats(0.3, 1.5), min_size=6, max_size=6),
)
def test_bd_rate_of_scaled_curve_is_exact(factor: float, steps: list, gains: list) -> None:
    rates = np.cumsum([100.0 * s for s in steps])
    quality = 30 + np.cumsum(gains[: len(steps)])
    got = bd_rate(rates, quality, rates * factor, quality)
    assert got == pytest.approx((factor - 1) * 100, abs=1e-6)
