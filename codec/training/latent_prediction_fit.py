"""Fit a model's spatial latent prediction (codec.latent_prediction) and store it.

    python -m codec.training.latent_prediction_fit [--kind intra|residual|both]
        [--models resources/models] [--images 24]

(`python -m codec.training.export` and `train --export-to` run it after exporting.)

Intra: runs the intra networks over training photographs (never the held-out ones nor the
evaluation videos; at most 768 px on the long side) at levels 2, 4 and 6. Residual: encodes
short synthetic pans over training photographs (codec.training.detail_contexts.make_clip,
256x192, 6 frames) at qualities 2, 4 and 6 and takes every P-frame residual the encoder
analyses. Then fits, per latent channel, the least-squares (lightly ridge-regularised) linear
prediction of each latent's residual (gained latent minus the hyperprior's mean) from its
left, top, top-left and top-right neighbours' residuals: a first pass on the neighbours'
rounded residuals, a second on the residuals the decoder rebuilds with the first pass's
coefficients. The coefficients, in 1/64, go into <kind>/tables.npz as `y_spatial` (which
changes the model set's hash). Prints the ideal latent bits on the fitting data with and
without the prediction (residuals: over every position, skipped or not).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from codec import entropy
from codec import latent_prediction as LP
from codec.backend import Backend
from codec.hyperprior import Analysed, HyperpriorCoder
from codec.intra import to_tensor
from codec.models import ModelFiles, ModelSet
from codec.profiler import Profiler

from .data import image_files, load_rgb

LEVELS = (2, 4, 6)
RIDGE = 1e-3  # times the mean of the normal matrix' diagonal, per channel


def _neighbours(rec: np.ndarray) -> np.ndarray:
    """(M, h, w) residuals -> (M, h*w, 4) their causal neighbours (0 outside)."""
    m, h, w = rec.shape
    p = np.pad(rec.astype(np.float64), ((0, 0), (1, 0), (1, 1)))
    nb = [p[:, 1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w] for dr, dc in LP.NEIGHBOURS]
    return np.stack(nb, -1).reshape(m, h * w, len(LP.NEIGHBOURS))


def solve(samples: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Per-channel least squares over (neighbours (M, n, 4), targets (M, n)) -> (M, 4)."""
    m, k = samples[0][0].shape[0], samples[0][0].shape[2]
    ata, atb = np.zeros((m, k, k)), np.zeros((m, k))
    for a, b in samples:
        ata += np.einsum("mni,mnj->mij", a, a)
        atb += np.einsum("mni,mn->mi", a, b)
    eye = np.eye(k)
    return np.stack([np.linalg.solve(ata[c] + RIDGE * np.trace(ata[c]) / k * eye + 1e-9 * eye,
                                     atb[c]) for c in range(m)])


def to_table(coef: np.ndarray) -> np.ndarray:
    return np.clip(np.round(coef * LP.ONE), -(2**15), 2**15 - 1).astype(np.int16)


def intra_latents(coder: HyperpriorCoder, images: list[np.ndarray]) -> list[Analysed]:
    """The intra coder's analyses of each image at each of LEVELS."""
    return [coder.analyse(to_tensor(rgb), level, Profiler()) for rgb in images
            for level in LEVELS]


def residual_latents(models: Path, files: list[Path],
                     seed: int = 0) -> tuple[HyperpriorCoder, list[Analysed]]:
    """The residual coder and every analysis it made encoding a synthetic pan over each
    photo (without spatial prediction, whatever table the model set has)."""
    from fractions import Fraction

    from codec.encoder import Codecs, StreamEncoder

    from .detail_contexts import H, W, make_clip

    codecs = Codecs(ModelSet.load(models), Backend("cpu"))
    coder = codecs.residual.coder
    coder.spatial = None  # the plain analyses, not what an earlier table would do
    out: list[Analysed] = []
    analyse = coder.analyse

    def collect(x: np.ndarray, level: int, prof: Profiler) -> Analysed:
        out.append(analyse(x, level, prof))
        return out[-1]

    coder.analyse = collect  # type: ignore[method-assign]
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        for i, path in enumerate(files):
            for q in LEVELS:
                with StreamEncoder(Path(tmp) / f"{i}_{q}.zvc69", W, H, Fraction(25), q,
                                   "medium", 32, codecs=codecs, bframes=0) as enc:
                    enc.encode_all(make_clip(path, rng))
    return coder, out


def fit(y_tables: entropy.GaussianTables,
        analysed: list[Analysed]) -> tuple[np.ndarray, float, float]:
    """Returns the table (M, 4) int16 and the ideal latent bits (with the model's Gaussian
    tables) without and with it."""
    coef = solve([(_neighbours(a.sym), a.resid.reshape(a.resid.shape[0], -1))
                  for a in analysed if a.resid is not None])
    samples = []
    for a in analysed:
        assert a.resid is not None
        _, rec = LP.quantise(a.resid, to_table(coef).astype(np.int64))
        samples.append((_neighbours(LP.to_float(rec)), a.resid.reshape(a.resid.shape[0], -1)))
    table = to_table(solve(samples))
    before = after = 0.0
    for a in analysed:
        assert a.resid is not None
        sym, _ = LP.quantise(a.resid, table.astype(np.int64))
        before += float(a.bits.sum())
        after += float(entropy.information_bits_gaussian(sym, a.idx, y_tables).sum())
    return table, before, after


def store(folder: Path, table: np.ndarray) -> None:
    """Write `table` into folder/tables.npz as y_spatial, keeping every other array."""
    path = folder / "tables.npz"
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["y_spatial"] = table
    np.savez_compressed(path, **arrays)


def fit_and_store(folder: Path, count: int = 24, max_side: int = 768) -> None:
    """Fit the table for the model in `folder` (models/intra or models/residual; the
    residual fit runs the whole model set) and store it there."""
    kind = folder.name
    files = image_files(holdout=False)
    files = files[:: max(1, len(files) // count)][:count]
    if kind == "intra":
        with np.load(folder / "tables.npz") as npz:
            tables = {k: npz[k] for k in npz.files if k != "y_spatial"}
        coder = HyperpriorCoder(ModelFiles(kind, folder, tables), Backend("cpu"))
        analysed = intra_latents(coder, [load_rgb(p, max_side) for p in files])
    else:
        coder, analysed = residual_latents(folder.parent, files)
    table, before, after = fit(coder.y_tables, analysed)
    store(folder, table)
    print(f"{kind} latent prediction fitted on {len(files)} training images at {LEVELS}: "
          f"latent bits {before:,.0f} -> {after:,.0f} ({100 * (after / before - 1):+.1f} %); "
          f"coefficient sums {table.sum(1).min() / LP.ONE:.2f}..{table.sum(1).max() / LP.ONE:.2f}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kind", choices=("intra", "residual", "both"), default="both")
    ap.add_argument("--models", type=Path, default=Path("resources/models"))
    ap.add_argument("--images", type=int, default=24, help="training images to use")
    args = ap.parse_args(argv)
    for kind in ("intra", "residual") if args.kind == "both" else (args.kind,):
        fit_and_store(args.models / kind, args.images)


if __name__ == "__main__":
    main()
