"""Motion estimation: known shifts are recovered, static areas get zero vectors, presets run."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from codec.motion import estimate_motion, estimate_motions, highpass, luma
from codec.mvcoding import encode_mvs
from codec.presets import PRESETS, Preset, get_preset, needs_wide


def texture(h: int, w: int, shift: tuple[float, float] = (0.0, 0.0), seed: int = 0) -> np.ndarray:
    """Smoothed noise in [0, 1] sampled at (x + sx, y + sy): an exact sub-pel shift (Fourier)."""
    rng = np.random.default_rng(seed)
    hh, ww = 2 * h + 64, 2 * w + 64
    ky = np.fft.fftfreq(hh)[:, None]
    kx = np.fft.rfftfreq(ww)[None, :]
    spec = np.fft.rfft2(rng.standard_normal((hh, ww)))
    spec *= np.exp(-2 * (np.pi * 2.0) ** 2 * (kx**2 + ky**2))  # Gaussian blur, sigma 2 px
    spec *= np.exp(2j * np.pi * (kx * shift[0] + ky * shift[1]))
    img = np.fft.irfft2(spec, s=(hh, ww))[:h, :w]
    return np.clip(0.5 + 0.15 * img / img.std(), 0, 1).astype(np.float32)


def interior(mv: np.ndarray, margin: int = 1) -> np.ndarray:
    return mv[margin:-margin, margin:-margin].reshape(-1, 2)


@pytest.mark.parametrize("name", list(PRESETS))
def test_integer_shift_every_preset(name: str) -> None:
    p = PRESETS[name]
    ref = texture(96, 128)
    cur = texture(96, 128, (5, -3))  # cur(x, y) = ref(x + 5, y - 3)
    mv = estimate_motion(cur, ref, p)
    assert mv.shape == (96 // p.block, 128 // p.block, 2) and mv.dtype == np.float32
    np.testing.assert_array_equal(interior(mv), np.tile([5, -3], (interior(mv).shape[0], 1)))


@pytest.mark.parametrize("name", ["superfast", "fast", "medium", "slow", "slower"])
@pytest.mark.parametrize("shift", [(1.25, -2.75), (-3.5, 0.75), (0.25, 0.5)])
def test_subpel_shift(name: str, shift: tuple[float, float]) -> None:
    p = PRESETS[name]
    ref = texture(96, 128, seed=1)
    cur = texture(96, 128, shift, seed=1)
    mv = interior(estimate_motion(cur, ref, p))
    assert np.all(mv * p.subpel == np.round(mv * p.subpel))  # on the preset's grid
    err = np.abs(mv - np.array(shift, dtype=np.float32)).max(axis=1)
    tol = 0.25 if p.subpel == 4 else 0.5 / p.subpel + 0.25  # grid rounding + 1/4 pel
    if p.block == 16:
        assert err.max() <= tol
    else:  # 8x8 blocks see little texture: allow rare near-ties along an edge direction
        assert np.mean(err <= tol) >= 0.95 and err.max() <= 2 * tol


def test_quarter_pel_presets_are_mostly_exact() -> None:
    ref = texture(96, 128, seed=2)
    cur = texture(96, 128, (2.25, -1.75), seed=2)
    mv = interior(estimate_motion(cur, ref, PRESETS["medium"]))
    assert np.mean(np.all(mv == np.float32([2.25, -1.75]), axis=1)) >= 0.9


@pytest.mark.parametrize("shift", [(-13, 9), (22, -17)])
def test_large_pan(shift: tuple[int, int]) -> None:
    ref = texture(96, 160, seed=3)
    cur = texture(96, 160, shift, seed=3)
    for name in ("veryfast", "medium"):
        mv = estimate_motion(cur, ref, PRESETS[name])
        inner = mv[2:-2, 2:-2].reshape(-1, 2)  # blocks whose match lies inside the frame
        np.testing.assert_array_equal(inner, np.tile(shift, (inner.shape[0], 1)))


@pytest.mark.parametrize("name", ["medium", "slower"])
def test_fast_handheld_motion(name: str) -> None:
    """Shifts of a hundred pixels and more (handheld footage four frames apart) are found."""
    shift = (-150, 97)
    ref = texture(256, 448, seed=8)
    cur = texture(256, 448, shift, seed=8)
    p = PRESETS[name]
    narrow = estimate_motion(cur, ref, p)
    assert needs_wide(p, [narrow])  # the range is too short: its edge is reached
    mv = estimate_motion(cur, ref, replace(p, search_range=p.wide_range, wide_range=0))
    assert not needs_wide(replace(p, search_range=32), [np.zeros_like(mv)])
    m = 160 // p.block  # blocks whose match lies inside the reference
    inner = mv[: -(97 // p.block) - 1, m:].reshape(-1, 2)
    assert np.mean(np.all(inner == np.float32(shift), axis=1)) >= 0.95


def test_highpass_removes_brightness_not_structure() -> None:
    y = texture(40, 56, seed=11)
    h = highpass(y, 3)
    assert h.dtype == np.float32 and h.shape == y.shape
    np.testing.assert_allclose(highpass(y + 0.2, 3), h, atol=1e-6)
    assert np.abs(highpass(np.full((9, 9), 0.7, np.float32), 4)).max() < 1e-6
    pad = np.pad(y.astype(np.float64), 3, mode="edge")
    for i, j in ((0, 0), (20, 30), (39, 55)):
        assert abs(h[i, j] - (y[i, j] - pad[i : i + 7, j : j + 7].mean())) < 1e-6
    # a pan under a brightness change: matched on structure, every inner vector exact
    cur = texture(96, 128, (3, -2), seed=12) * np.float32(0.8) + np.float32(0.15)
    ref = texture(96, 128, seed=12)
    mv = interior(estimate_motion(highpass(cur, 8), highpass(ref, 8), PRESETS["medium"]))
    assert np.mean(np.all(mv == np.float32([3, -2]), axis=1)) >= 0.9


def test_estimate_motions_equals_one_search_per_weight() -> None:
    ref = texture(96, 160, seed=9)
    cur = texture(96, 160, (7.25, -3.5), seed=9)
    cur[30:60, 40:90] = texture(30, 50, seed=10)  # an area nothing predicts well
    p = PRESETS["medium"]
    fields = estimate_motions(cur, ref, p, (0.5, 1.0, 4.0))
    for f, m in zip(fields, (0.5, 1.0, 4.0), strict=True):
        single = estimate_motion(cur, ref, Preset(**{**p.__dict__, "mv_lambda": p.mv_lambda * m}))
        np.testing.assert_array_equal(f, single)


def _object_scene(background: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """ref/cur with a textured 32x48 object moved by (-6, -4): its vector is (6, 4)."""
    obj = texture(32, 48, seed=7) * 0.5 + 0.4
    ref, cur = background.copy(), background.copy()
    ref[40:72, 60:108] = obj
    cur[36:68, 54:102] = obj
    return cur, ref, (6, 4)


def _object_blocks(shape: tuple[int, int], b: int, margin: int = 0) -> np.ndarray:
    """Blocks overlapping the object in cur or ref (y 36..72, x 54..108), grown by margin px."""
    m = np.zeros(shape, dtype=bool)
    m[(36 - margin) // b : -(-(72 + margin) // b), (54 - margin) // b : -(-(108 + margin) // b)] = 1
    return m


@pytest.mark.parametrize("name", ["ultrafast", "medium", "veryslow"])
def test_moving_object_on_static_background(name: str) -> None:
    cur, ref, vec = _object_scene(texture(112, 160, seed=5))
    p = PRESETS[name]
    b = p.block
    mv = estimate_motion(cur, ref, p)
    assert np.all(mv[~_object_blocks(mv.shape[:2], b)] == 0)
    inside = mv[-(-36 // b) : 68 // b, -(-54 // b) : 102 // b].reshape(-1, 2)  # object in cur
    np.testing.assert_array_equal(inside, np.tile(vec, (inside.shape[0], 1)))


@pytest.mark.parametrize("name", ["ultrafast", "medium", "veryslow"])
def test_flat_background_gets_smooth_cheap_vectors(name: str) -> None:
    # On a flat background every vector predicts perfectly; the rate term must then pick
    # zero, or a neighbour's vector where the median predictor makes that free.
    cur, ref, vec = _object_scene(np.full((112, 160), 0.3, np.float32))
    p = PRESETS[name]
    mv = estimate_motion(cur, ref, p)
    above = mv[: 36 // p.block - 1]  # flat rows above the object: nothing to inherit
    assert not above.any()
    assert np.mean(np.all(mv == 0, axis=-1)) >= 0.7
    assert len(encode_mvs(mv, p.subpel)) <= 48


def test_identical_frames_give_zero_field() -> None:
    f = texture(64, 80, seed=4)
    for p in PRESETS.values():
        assert not estimate_motion(f, f, p).any()


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("size", [(45, 70), (8, 8), (17, 130)])
def test_any_size_every_preset(name: str, size: tuple[int, int]) -> None:
    p = PRESETS[name]
    h, w = size
    rng = np.random.default_rng(h * w)
    ref = rng.random(size, dtype=np.float32)
    cur = np.roll(ref, (2, -1), axis=(0, 1))
    mv = estimate_motion(cur, ref, p)
    assert mv.shape == (-(-h // p.block), -(-w // p.block), 2)
    assert mv.dtype == np.float32
    assert np.all(np.abs(mv) <= p.search_range)
    np.testing.assert_array_equal(mv * p.subpel, np.round(mv * p.subpel))
    np.testing.assert_array_equal(mv, estimate_motion(cur, ref, p))  # deterministic


def test_estimate_motion_rejects_mismatched_frames() -> None:
    with pytest.raises(ValueError):
        estimate_motion(np.zeros((16, 16), np.float32), np.zeros((16, 32), np.float32),
                        PRESETS["medium"])  # fmt: skip


def test_luma_bt601() -> None:
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], np.uint8)
    y = luma(rgb)
    assert y.dtype == np.float32 and y.shape == (1, 4)
    np.testing.assert_allclose(y[0], [0.299, 0.587, 0.114, 1.0], atol=1e-6)
    np.testing.assert_allclose(luma(rgb.astype(np.float32) / 255), y, atol=1e-6)
    with pytest.raises(ValueError):
        luma(np.zeros((4, 4), np.uint8))


def test_presets_table() -> None:
    names = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
             "veryslow"]  # fmt: skip
    assert list(PRESETS) == names
    ps = list(PRESETS.values())
    assert all(16 % p.block == 0 and p.block in (8, 16) for p in ps)
    assert ps[0].block == 16 and ps[0].subpel in (1, 2)
    assert all(p.subpel == 4 for p in ps[names.index("medium") :])
    for a, b in zip(ps, ps[1:], strict=False):  # effort never decreases towards veryslow
        assert b.search_range >= a.search_range and b.subpel >= a.subpel
        assert b.wide_range >= a.wide_range
        assert b.wide_range == 0 or b.wide_range > b.search_range
        assert b.refine_iters >= a.refine_iters and b.block <= a.block
    assert get_preset("medium") is PRESETS["medium"]
    with pytest.raises(ValueError, match="ultrafast.*veryslow"):
        get_preset("turbo")
    with pytest.raises(ValueError):
        Preset("bad", 12, 16, 2, 4, 1, 1)
    with pytest.raises(ValueError, match="wide_range"):
        Preset("bad", 16, 32, 4, 4, 1, 1, wide_range=32)


def test_polish_ranks_quarter_pels_with_the_predictions_sampling(monkeypatch) -> None:
    """Noise on a smooth texture: bilinear ranking (which averages the noise away at half-pel
    positions) drifts off the true whole-pel shift; the cubic re-test brings it back."""
    import codec.motion

    rng = np.random.default_rng(7)
    ref = texture(96, 128, seed=3) + rng.normal(0, 0.02, (96, 128)).astype(np.float32)
    cur = texture(96, 128, (2, -1), seed=3) + rng.normal(0, 0.02, (96, 128)).astype(np.float32)
    exact = {}
    for polish in ("", "cubic"):
        monkeypatch.setattr(codec.motion, "POLISH", polish)
        mv = interior(estimate_motion(cur, ref, PRESETS["medium"]))
        assert np.all(mv * 4 == np.round(mv * 4))
        exact[polish] = float(np.mean(np.all(mv == np.float32([2, -1]), axis=1)))
    assert exact["cubic"] - exact[""] >= 0.25, exact
