"""Fit the detail layer's context offsets (codec.detail.CTX_OFFSETS) on the training images.

    python -m codec.training.detail_contexts [--images N] [--out stats.json]

Short synthetic clips are made from the training photographs (never the held-out ones nor the
evaluation videos): a 256x192 window, at half the photo's size, panning by a random sub-pixel
velocity with a slow zoom. Each clip is encoded by ZVC69 at levels 1, 3, 5 and 7, and the
detail layer's coefficients are read back from the files. The offsets are then fitted by
coordinate descent on their ideal code length with the shipped Laplace tables: the per-frame
scale of each axis and band (as the encoder chooses it) given the offsets, then each context's
offset given those scales. Prints the table to paste into codec/detail.py and the bits saved
against no context modelling on the same coefficients.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from codec import alf, entropy
from codec import detail as D
from codec.container import ContainerReader, FrameType
from codec.encoder import StreamEncoder
from codec.inter import InterPayload
from codec.intra import IntraPayload
from codec.profiler import Profiler
from codec.quant import SCALE_LEVELS

from .data import image_files

W, H, FRAMES = 256, 192, 6
LEVELS = (1, 3, 5, 7)
NCTX = len(D.CTX_OFFSETS)
_VMAX = 255


def make_clip(path: Path, rng: np.random.Generator) -> list[np.ndarray]:
    """FRAMES frames of a W x H window panning (and zooming slowly) over the photo."""
    vx, vy = rng.normal(0, 2.5, 2)
    img = Image.open(path).convert("RGB")
    need_w, need_h = W + 64 + abs(vx) * FRAMES * 1.1, H + 64 + abs(vy) * FRAMES * 1.1
    f = max(0.5, need_w / img.width, need_h / img.height)
    img = img.resize((round(img.width * f) + 1, round(img.height * f) + 1),
                     Image.Resampling.LANCZOS)
    zoom = 1 + rng.uniform(-0.01, 0.01)
    x0 = rng.uniform(24, img.width - W - 24 - abs(vx) * FRAMES)
    y0 = rng.uniform(24, img.height - H - 24 - abs(vy) * FRAMES)
    x0 -= min(0.0, vx) * FRAMES
    y0 -= min(0.0, vy) * FRAMES
    frames = []
    for t in range(FRAMES):
        s = zoom**t
        coeffs = (s, 0, x0 + vx * t, 0, s, y0 + vy * t)
        f = img.transform((W, H), Image.Transform.AFFINE, coeffs, Image.Resampling.BICUBIC)
        frames.append(np.asarray(f, np.uint8))
    return frames


def coded_blocks(path: Path) -> list[np.ndarray]:
    """The detail coefficients (k, 3, 8, 8) of every frame of a .zvc69 file."""
    out = []
    with ContainerReader(path) as r:
        h, w, v = r.header.height, r.header.width, r.header.version_major
        for n in range(len(r)):
            fh, payload = r.read_frame(n)
            payload = alf.strip(payload, fh.filtered)
            p = (IntraPayload.unpack(payload) if fh.frame_type == FrameType.I
                 else InterPayload.unpack(payload, v))
            if p.detail_bytes:
                section = D.DetailSection.unpack(p.detail_bytes, v, fh.grey)
                out.append(D.decode_symbols(section, h, w, Profiler())[1])
    return out


def _cost_matrix() -> np.ndarray:
    """Bits of each value -_VMAX.._VMAX under each table: (SCALE_LEVELS, 2 * _VMAX + 1)."""
    vals = np.arange(-_VMAX, _VMAX + 1, dtype=np.int32)
    t = D.coef_tables()
    return np.stack([entropy.information_bits_gaussian(vals, np.full(vals.shape, i, np.int32), t)
                     for i in range(SCALE_LEVELS)])


def fit(sections: list[np.ndarray], iters: int = 4) -> tuple[np.ndarray, float, float]:
    """(offsets, bits with them, bits without context modelling) over the sections."""
    m = _cost_matrix()
    data = []
    for q in sections:
        g = (np.arange(3)[None, :, None, None] * D.NBANDS + D.BANDS) * np.ones_like(q)
        data.append((np.clip(q, -_VMAX, _VMAX).ravel() + _VMAX, g.ravel(),
                     D.context_ids(q).ravel()))
    span = np.arange(-20, 21)

    def bases_for(off: np.ndarray) -> list[np.ndarray]:
        out = []
        for v, g, c in data:
            base = np.zeros(3 * D.NBANDS, int)
            for gi in np.unique(g):
                sel = g == gi
                cand = np.arange(SCALE_LEVELS)[:, None] + off[c[sel]][None]
                base[gi] = m[np.clip(cand, 0, SCALE_LEVELS - 1), v[sel][None]].sum(1).argmin()
            out.append(base)
        return out

    def total(off: np.ndarray, bases: list[np.ndarray]) -> float:
        return float(sum(m[np.clip(b[g] + off[c], 0, SCALE_LEVELS - 1), v].sum()
                         for (v, g, c), b in zip(data, bases, strict=True)))

    zero = np.zeros(NCTX, int)
    plain = total(zero, bases_for(zero))
    off = zero.copy()
    for _ in range(iters):
        bases = bases_for(off)
        for ci in range(NCTX):
            costs = np.zeros(span.size)
            for (v, g, c), b in zip(data, bases, strict=True):
                sel = c == ci
                if sel.any():
                    idx = np.clip(b[g[sel]][None] + span[:, None], 0, SCALE_LEVELS - 1)
                    costs += m[idx, v[sel][None]].sum(1)
            if costs.any():
                off[ci] = span[costs.argmin()]
    return off, total(off, bases_for(off)), plain


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=40, help="training images to use")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    args = ap.parse_args(argv)
    if D.CTX_OFFSETS.any():
        raise SystemExit("set codec.detail.CTX_OFFSETS to zeros before fitting (the encoder "
                         "chooses its coefficients with the table in force)")
    rng = np.random.default_rng(args.seed)
    files = image_files()
    files = [files[i] for i in sorted(rng.choice(len(files), min(args.images, len(files)),
                                                 replace=False))]
    sections: list[np.ndarray] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, f in enumerate(files):
            clip = make_clip(f, rng)
            for level in LEVELS:
                path = Path(tmp) / "clip.zvc69"
                enc = StreamEncoder(path, W, H, quality=level, gop=FRAMES, bframes=0)
                for frame in clip:
                    enc.encode(frame)
                enc.close()
                sections += coded_blocks(path)
            print(f"\r{i + 1}/{len(files)} clips, {len(sections)} detail sections",
                  end="", flush=True)
    print()
    off, bits, plain = fit(sections)
    print(f"CTX_OFFSETS = np.array({off.tolist()}, np.int32)")
    print(f"{plain / 8:.0f} -> {bits / 8:.0f} bytes ({100 * (bits / plain - 1):+.1f} %) on "
          f"{sum(len(q) for q in sections)} blocks of {len(files)} clips")
    if args.out:
        args.out.write_text(json.dumps({"offsets": off.tolist(), "bits": bits, "plain": plain,
                                        "images": [f.name for f in files]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
