"""Motion estimation and warp speed per preset on 480p (854x480), against exhaustive search.

For every preset: milliseconds per frame for `estimate_motion` and for `warp`, the speed-up over
an exhaustive full-search integer-pel block matcher (same block size, search range up to +-64
pixels: the presets' 128-256 would take minutes a frame; same frames, measured in this run, SAD
vectorised over all blocks per offset), and the luma PSNR of the OBMC prediction. Frames: pairs
from lavfi testsrc2 (PyAV) and a synthetic scene (smoothed noise panned by a sub-pel amount
with a textured object moving across it). The table also gives
the coded size of each motion field (`codec.mvcoding`, at the preset's precision).

    .venv/bin/python -m benchmarks.motion_speed [--pairs N] [--repeat N] [--presets a,b]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from codec.motion import estimate_motion, luma
from codec.mvcoding import encode_mvs
from codec.presets import PRESETS, Preset
from codec.warp import warp

W, H = 854, 480
FULL_RANGE = 64  # the exhaustive baseline's largest range (its time grows with its square)


def testsrc2_pairs(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """n (ref, cur) RGB pairs of consecutive lavfi testsrc2 frames (PyAV filter graph)."""
    import av

    g = av.filter.Graph()
    src = g.add("testsrc2", f"size={W}x{H}:rate=25")
    fmt = g.add("format", "pix_fmts=rgb24")
    sink = g.add("buffersink")
    src.link_to(fmt)
    fmt.link_to(sink)
    g.configure()
    frames = [g.pull().to_ndarray() for _ in range(10 * n + 1)]
    return [(frames[10 * i], frames[10 * i + 1]) for i in range(n)]


def _smooth_noise(
    h: int, w: int, rng: np.random.Generator, sigma: float, shifts: list[tuple[float, float]]
) -> list[np.ndarray]:
    """One smoothed RGB noise field sampled at (x + sx, y + sy) for each shift (Fourier)."""
    ky = np.fft.fftfreq(h)[:, None, None]
    kx = np.fft.rfftfreq(w)[None, :, None]
    spec = np.fft.rfft2(rng.standard_normal((h, w, 3)), axes=(0, 1))
    spec *= np.exp(-2 * (np.pi * sigma) ** 2 * (kx**2 + ky**2))
    out = []
    for sx, sy in shifts:
        img = np.fft.irfft2(spec * np.exp(2j * np.pi * (kx * sx + ky * sy)), s=(h, w), axes=(0, 1))
        out.append(img / img.std())
    return out


def _compose(bg: np.ndarray, obj: np.ndarray, t: int) -> np.ndarray:
    """uint8 frame t: the object pasted on the background, moved by (-5, +3) per frame."""
    img = bg.copy()
    oy, ox = 200 + 3 * t, 300 - 5 * t
    img[oy : oy + obj.shape[0], ox : ox + obj.shape[1]] = obj
    return np.clip(128 + 40 * img, 0, 255).astype(np.uint8)


def synthetic_pairs(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """n (ref, cur) RGB pairs: a sub-pel pan of a textured scene, an object moving (5, -3)."""
    rng = np.random.default_rng(69)
    pairs = []
    for i in range(n):
        pan = (2.25 + 0.5 * i, -1.75)  # cur(x, y) = ref(x + 2.25, y - 1.75) on the background
        bg0, bg1 = _smooth_noise(H, W, rng, 1.5, [(0.0, 0.0), pan])
        (obj,) = _smooth_noise(96, 128, rng, 1.0, [(0.0, 0.0)])

        pairs.append((_compose(bg0, obj, 0), _compose(bg1, obj, 1)))
    return pairs


def full_search(cur: np.ndarray, ref: np.ndarray, block: int, rng: int) -> np.ndarray:
    """Baseline: exhaustive integer-pel block matching (min SAD) in +-rng, all blocks per offset."""
    rows, cols = -(-H // block), -(-W // block)
    hp, wp = rows * block, cols * block
    c = np.pad(cur, ((0, hp - H), (0, wp - W)), mode="edge")
    r = np.pad(ref, ((rng, rng + hp - H), (rng, rng + wp - W)), mode="edge")
    best = np.full((rows, cols), np.inf, dtype=np.float32)
    mv = np.zeros((rows, cols, 2), dtype=np.float32)
    diff = np.empty_like(c)
    ones = np.ones(block, dtype=np.float32)
    offs = sorted(
        ((dx, dy) for dy in range(-rng, rng + 1) for dx in range(-rng, rng + 1)),
        key=lambda o: abs(o[0]) + abs(o[1]),
    )
    for dx, dy in offs:
        np.subtract(r[rng + dy : rng + dy + hp, rng + dx : rng + dx + wp], c, out=diff)
        np.abs(diff, out=diff)
        sad = np.matmul(ones, (diff.reshape(hp * cols, block) @ ones).reshape(rows, block, cols))
        better = sad < best
        best = np.where(better, sad, best)
        mv[better] = (dx, dy)
    return mv


def psnr_y(pred: np.ndarray, cur: np.ndarray) -> float:
    """Luma PSNR (dB) of an RGB prediction (float 0..255 or uint8) against uint8 RGB `cur`."""
    p = np.clip(np.rint(pred), 0, 255).astype(np.uint8)
    mse = float(np.mean((luma(p).astype(np.float64) - luma(cur)) ** 2))
    return 10 * np.log10(1.0 / max(mse, 1e-12))


def timed(fn: Callable[[], np.ndarray], repeat: int) -> tuple[float, np.ndarray]:
    """Best-of-`repeat` milliseconds and the result."""
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    assert out is not None
    return 1000 * best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=1, help="frame pairs per source")
    ap.add_argument("--repeat", type=int, default=3, help="timing repeats (best is kept)")
    ap.add_argument("--presets", default=",".join(PRESETS), help="comma-separated preset names")
    args = ap.parse_args()
    presets: list[Preset] = [PRESETS[p] for p in args.presets.split(",")]
    pairs = testsrc2_pairs(args.pairs) + synthetic_pairs(args.pairs)
    lumas = [(luma(r), luma(c)) for r, c in pairs]
    zero_psnr = np.mean([psnr_y(r, c) for r, c in pairs])
    print(f"{len(pairs)} frame pairs at {W}x{H}; zero-motion luma PSNR {zero_psnr:.2f} dB\n")

    baseline: dict[tuple[int, int], tuple[float, float, float]] = {}
    header = (
        f"{'preset':<10} {'blk':>3} {'rng':>3} {'sub':>3} {'ME ms':>7} {'warp ms':>7} "
        f"{'PSNR':>6} {'MV B':>5} | {'f.rng':>5} {'full ms':>7} {'speed-up':>8} {'PSNR':>6} "
        f"{'MV B':>5}"
    )
    print(header)
    print("-" * len(header))
    for p in presets:
        me_ms, warp_ms, ps, nb = [], [], [], []
        for (ref, cur), (ry, cy) in zip(pairs, lumas, strict=True):
            t, mv = timed(lambda cy=cy, ry=ry, p=p: estimate_motion(cy, ry, p), args.repeat)
            me_ms.append(t)
            t, pred = timed(lambda ref=ref, mv=mv, p=p: warp(ref, mv, p.block), args.repeat)
            warp_ms.append(t)
            ps.append(psnr_y(pred, cur))
            nb.append(len(encode_mvs(mv, p.subpel)))
        key = (p.block, min(p.search_range, FULL_RANGE))
        if key not in baseline:
            fs_ms, fs_ps, fs_nb = [], [], []
            for (ref, cur), (ry, cy) in zip(pairs, lumas, strict=True):
                t, mv = timed(lambda cy=cy, ry=ry, k=key: full_search(cy, ry, *k), 1)
                fs_ms.append(t)
                fs_ps.append(psnr_y(warp(ref, mv, p.block), cur))
                fs_nb.append(len(encode_mvs(mv, 1)))
            baseline[key] = (float(np.mean(fs_ms)), float(np.mean(fs_ps)), float(np.mean(fs_nb)))
        fs_t, fs_p, fs_b = baseline[key]
        me = float(np.mean(me_ms))
        print(
            f"{p.name:<10} {p.block:>3} {p.search_range:>3} {p.subpel:>3} {me:>7.1f} "
            f"{np.mean(warp_ms):>7.1f} {np.mean(ps):>6.2f} {np.mean(nb):>5.0f} | "
            f"{key[1]:>5} {fs_t:>7.0f} {fs_t / me:>7.0f}x {fs_p:>6.2f} {fs_b:>5.0f}"
        )
    print(
        "\nME/warp: best of --repeat runs, mean over pairs. full: exhaustive integer-pel search"
        f" (same block, range up to {FULL_RANGE}: f.rng), its speed-up = full ms / ME ms."
        " PSNR: luma of the OBMC prediction. MV B: bytes of the coded field."
    )


if __name__ == "__main__":
    main()
