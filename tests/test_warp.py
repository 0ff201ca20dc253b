"""Motion compensation: exactness, agreement with plain block MC, smoothness, determinism."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from codec.motion import estimate_motion, luma
from codec.presets import PRESETS
from codec.warp import Sampler, block_mc, warp
from tests.codec_helpers import smooth_rgb


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


@pytest.mark.parametrize("size", [(48, 64), (45, 70), (7, 9)])
@pytest.mark.parametrize("block", [8, 16])
def test_zero_motion_is_exact(size: tuple[int, int], block: int) -> None:
    rng = np.random.default_rng(0)
    rows, cols = -(-size[0] // block), -(-size[1] // block)
    zero = np.zeros((rows, cols, 2), np.float32)
    ref8 = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    reff = rng.random((*size, 3), dtype=np.float32)  # arbitrary, non-dyadic values
    for ref in (ref8, reff, reff[..., 0]):
        for fn in (warp, block_mc):
            out = fn(ref, zero, block)
            assert out.dtype == np.float32 and out.shape == ref.shape
            np.testing.assert_array_equal(out, ref.astype(np.float32))


def test_uniform_integer_shift_copies_reference() -> None:
    ref = np.random.default_rng(1).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    mv = np.tile(np.float32([3, -2]), (4, 6, 1))
    out = warp(ref, mv, 16)
    np.testing.assert_array_equal(out[2:, :-3], ref[:-2, 3:])  # out(x, y) = ref(x + 3, y - 2)
    np.testing.assert_array_equal(out[:2, :-3], np.broadcast_to(ref[0, 3:], (2, 93, 3)))  # clamp


def test_subpel_sampling_bilinear_for_format_1_0() -> None:
    ref = np.random.default_rng(2).random((32, 48), dtype=np.float32)
    mv = np.tile(np.float32([0.5, 0.25]), (2, 3, 1))
    out = warp(ref, mv, 16, interp="bilinear")
    h = (ref[:, :-1] + ref[:, 1:]) / 2
    expect = 0.75 * h[:-1] + 0.25 * h[1:]
    np.testing.assert_allclose(out[:-1, :-1], expect, atol=1e-6)


def test_subpel_sampling_is_catmull_rom_cubic() -> None:
    ref = np.random.default_rng(2).random((32, 48), dtype=np.float32)
    mv = np.tile(np.float32([0.5, 0.25]), (2, 3, 1))
    out = warp(ref, mv, 16)
    # Keys a = -0.5 at phase 1/2 and 1/4, taps at -1, 0, 1, 2
    wx = np.array([-1, 9, 9, -1]) / 16
    wy = np.array([-9, 111, 29, -3]) / 128
    h = sum(wx[i] * ref[:, i : 48 - 3 + i] for i in range(4))
    expect = sum(wy[i] * h[i : 32 - 3 + i] for i in range(4))
    np.testing.assert_allclose(out[1:-2, 1:-2], expect, atol=1e-5)


@pytest.mark.parametrize("finer, coarser, shift, seed, margin", [
    ("cubic", "bilinear", (0.5, -0.25), 8, 3.0),
    ("sharp8", "cubic", (0.25, -0.5), 9, 1.0),
])
def test_longer_filters_keep_more_detail(finer: str, coarser: str, shift: tuple[float, float],
                                         seed: int, margin: float) -> None:
    ref = smooth_rgb(64, 96, seed=seed)
    cur = smooth_rgb(64, 96, shift, seed=seed)
    mv = np.tile(np.float32(shift), (4, 6, 1))
    inner = np.s_[8:-8, 8:-8]
    a = psnr(warp(ref, mv, 16, interp=finer)[inner], cur[inner])
    b = psnr(warp(ref, mv, 16, interp=coarser)[inner], cur[inner])
    assert a > b + margin, (a, b)


def test_uniform_field_matches_block_mc_bit_for_bit() -> None:
    ref = smooth_rgb(80, 112, seed=3)
    for v in ([1.25, -0.75], [-7.5, 3.0], [500.0, -333.25]):
        mv = np.tile(np.float32(v), (5, 7, 1))
        np.testing.assert_array_equal(warp(ref, mv, 16), block_mc(ref, mv, 16))


def test_far_vectors_see_the_clamped_edge() -> None:
    ref = np.random.default_rng(4).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    mv = np.zeros((2, 2, 2), np.float32)
    mv[..., 0] = 1e5  # far right: every pixel takes the last column of its row
    out = warp(ref, mv, 16)
    np.testing.assert_array_equal(out, np.broadcast_to(ref[:, -1:], ref.shape))


def test_obmc_has_no_block_edge_steps() -> None:
    ref = smooth_rgb(128, 160, seed=5)
    rng = np.random.default_rng(5)
    mv = (rng.integers(-12, 13, (8, 10, 2)) / 4).astype(np.float32)

    def edge_ratio(img: np.ndarray) -> float:
        dx = np.abs(np.diff(img.astype(np.float64), axis=1)).mean(axis=(0, 2))
        at_edges = dx[15::16][:-1]  # differences across block boundaries (x = 16k-1 | 16k)
        return float(at_edges.mean() / np.delete(dx, np.s_[15::16]).mean())

    assert edge_ratio(block_mc(ref, mv, 16)) > 1.3
    assert edge_ratio(warp(ref, mv, 16)) < 1.1
    assert edge_ratio(ref) < 1.1


def test_warp_with_estimated_field_beats_zero_motion() -> None:
    shift = (3.25, -1.5)
    ref = smooth_rgb(96, 128, seed=6)
    cur = smooth_rgb(96, 128, shift, seed=6)
    for name in ("ultrafast", "medium", "veryslow"):
        p = PRESETS[name]
        mv = estimate_motion(luma(cur), luma(ref), p)
        pred = warp(ref, mv, p.block)
        inner = np.s_[16:-16, 16:-16]
        assert psnr(pred[inner], cur[inner]) > psnr(ref[inner], cur[inner]) + 12
        if p.subpel == 4:
            assert psnr(pred[inner], cur[inner]) > 38


def test_deterministic_golden_output() -> None:
    # Built without a random generator so the input is identical everywhere; the output hash
    # pins the arithmetic (float32 elementwise ops in a fixed order) across machines.
    y, x, c = np.meshgrid(np.arange(40), np.arange(56), np.arange(3), indexing="ij")
    ref = ((x * 37 + y * 91 + c * 17 + (x * y) % 13) % 256).astype(np.uint8)
    j, i = np.meshgrid(np.arange(4), np.arange(3), indexing="ij")
    mv = np.stack([((j * 5 + i * 3) % 9 - 4) / 4, ((i * 7 + j) % 11 - 5) / 4], axis=-1)
    mv = mv.transpose(1, 0, 2).astype(np.float32)  # (rows=3, cols=4, 2)
    for interp, golden in GOLDEN.items():
        out = warp(ref, mv, 16, interp=interp)
        np.testing.assert_array_equal(out, warp(ref, mv, 16, interp=interp))
        assert hashlib.sha256(out.tobytes()).hexdigest()[:16] == golden, interp


GOLDEN = {"bilinear": "8fd857da4086b89f", "cubic": "a3cef2522f8097a1"}


def test_rejects_bad_arguments() -> None:
    ref = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(ValueError):
        warp(ref, np.zeros((3, 2, 2), np.float32), 16)
    with pytest.raises(ValueError):
        warp(ref, np.full((2, 2, 2), np.nan, np.float32), 16)
    with pytest.raises(ValueError):
        warp(ref, np.zeros((3, 3, 2), np.float32), 11)
    with pytest.raises(ValueError, match="interpolation"):
        warp(ref, np.zeros((2, 2, 2), np.float32), 16, interp="lanczos")


def test_subpel_sampling_sharp8_is_the_hevc_filter() -> None:
    """Format 13's 8-tap filter: HEVC's luma taps (1/64) at -3..4, per quarter phase."""
    ref = np.random.default_rng(3).random((40, 56), dtype=np.float32)
    mv = np.tile(np.float32([0.5, 0.75]), (3, 4, 1))
    out = warp(ref, mv, 16, interp="sharp8")
    wx = np.array([-1, 4, -11, 40, 40, -11, 4, -1]) / 64
    wy = np.array([0, 1, -5, 17, 58, -10, 4, -1]) / 64
    h = sum(wx[i] * ref[:, i : 56 - 7 + i] for i in range(8))
    expect = sum(wy[i] * h[i : 40 - 7 + i] for i in range(8))
    np.testing.assert_allclose(out[3:-4, 3:-4], expect, atol=1e-5)
    whole = np.tile(np.float32([2.0, -1.0]), (3, 4, 1))  # whole pels: plain copies
    np.testing.assert_array_equal(warp(ref, whole, 16, interp="sharp8"), warp(ref, whole, 16))


def test_sharp8_takes_quarter_pel_vectors_only() -> None:
    ref = np.zeros((32, 32), np.float32)
    with pytest.raises(ValueError, match="quarter-pel"):
        warp(ref, np.full((2, 2, 2), 0.125, np.float32), 16, interp="sharp8")


def _two_pass(sampler: Sampler, y: np.ndarray, x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Every patch through both filter passes, whole-pel axes included: the arithmetic the
    shortcuts in `Sampler.sample` must reproduce bit for bit."""
    out = []
    for yi, xi, vi in zip(y, x, v, strict=True):
        fl = np.floor(vi)
        t = (vi - fl).astype(np.float32)
        b, s, taps = sampler.before, sampler.size, sampler.taps
        y0 = int(np.clip(yi + int(fl[1]), -sampler.pad + b,
                         sampler.h - 1 + sampler.pad - s - taps + 1 + b)) + sampler.pad - b
        x0 = int(np.clip(xi + int(fl[0]), -sampler.pad + b,
                         sampler.w - 1 + sampler.pad - s - taps + 1 + b)) + sampler.pad - b
        q = sampler.refp[y0 : y0 + s + taps - 1, x0 : x0 + s + taps - 1]
        wx, wy = sampler.weights(t[:1]), sampler.weights(t[1:])
        hz = wx[0][0] * q[:, 0:s]
        for i in range(1, taps):
            hz = hz + wx[i][0] * q[:, i : i + s]
        f = wy[0][0] * hz[0:s]
        for i in range(1, taps):
            f = f + wy[i][0] * hz[i : i + s]
        out.append(f)
    return np.stack(out)


@pytest.mark.parametrize("interp", ["cubic", "sharp8"])
def test_one_axis_shortcut_is_the_full_filter(interp: str) -> None:
    """Patches moved along one axis only are filtered along it alone: bit for bit what both
    passes give (float and negative references too)."""
    rng = np.random.default_rng(3)
    for ref in (rng.integers(0, 256, (37, 45, 3)).astype(np.uint8),
                rng.normal(0, 60, (30, 26, 1)).astype(np.float32)):
        sampler = Sampler(ref.astype(np.float32), 8, interp)
        n = 200
        v = (rng.integers(-60, 60, (n, 2)) / 4).astype(np.float32)
        v[: n // 3, 0] = np.round(v[: n // 3, 0])  # whole-pel x
        v[n // 3 : 2 * n // 3, 1] = np.round(v[n // 3 : 2 * n // 3, 1])  # whole-pel y
        y, x = rng.integers(-10, 50, n), rng.integers(-10, 50, n)
        got = sampler.sample(y, x, v)
        assert got.tobytes() == _two_pass(sampler, y, x, v).tobytes()
