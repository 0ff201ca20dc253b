"""P-frame residuals: the learned residual coder with rate-distortion skip blocks.

The residual (current - motion-compensated prediction, in [-1, 1]) goes through the residual
hyperprior coder. Its latent grid is one position per 16x16 block; a skipped block sends no
latents and takes the prediction unchanged (its decoded residual is forced to zero).
The skip decision compares, per block, lambda * 255^2 * (SSE if skipped - SSE if coded) / 3
with the bits the block's latents cost (the training loss, per block); `rd_skip=False` (fast
presets) assumes the coded block would be perfect, so it needs no trial synthesis. Then the
frame as a whole: when the residual's bits (z, latents, skip map) buy less than their price in
distortion, every block is skipped and nothing but the motion is sent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .hyperprior import MULTIPLE, Analysed, HyperpriorCoder, Latents, pad_to
from .profiler import Profiler
from .quant import LAMBDAS
from .skip import encode_skip

BLOCK = 16  # one latent position per 16x16 block


def block_sum(x: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """(C, H, W) or (H, W) with H, W multiples of block -> (H/block, W/block) sums."""
    if x.ndim == 3:
        x = x.sum(0)
    h, w = x.shape
    return x.reshape(h // block, block, w // block, block).sum((1, 3))


def skip_grid(height: int, width: int) -> tuple[int, int]:
    """(rows, cols) of the skip map: one cell per 16x16 block of the frame padded to MULTIPLE."""
    return -(-height // MULTIPLE) * MULTIPLE // BLOCK, -(-width // MULTIPLE) * MULTIPLE // BLOCK


def outside_mask(height: int, width: int, shape: tuple[int, int]) -> np.ndarray:
    """Latent positions (of a padded frame of `shape`) lying wholly outside the real frame."""
    rows, cols = shape[0] // BLOCK, shape[1] // BLOCK
    out = np.ones((rows, cols), bool)
    out[: -(-height // BLOCK), : -(-width // BLOCK)] = False
    return out


def block_energy(recon: np.ndarray, pred: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Mean squared (recon - pred) per 16x16 block (8-bit units) over a padded (rows, cols)
    latent grid; recon (H, W, 3) uint8, pred (H, W, 3) float32 0..255."""
    h, w = recon.shape[:2]
    d = np.zeros((shape[0] * BLOCK, shape[1] * BLOCK), np.float64)
    d[:h, :w] = ((recon.astype(np.float64) - np.round(pred)) ** 2).sum(2)
    return (block_sum(d) / (3 * BLOCK * BLOCK)).astype(np.float32)


@dataclass
class CodedResidual:
    latents: Latents | None  # None: every block skipped, no residual sent
    skip: np.ndarray  # (rows, cols) bool over the padded latent grid
    recon: np.ndarray  # (H, W, 3) uint8
    energy: np.ndarray  # (rows, cols) float32, mean squared decoded residual (8-bit units)
    spatial: bool = False  # latents coded with spatial prediction (format 8)


class ResidualCodec:
    def __init__(self, coder: HyperpriorCoder) -> None:
        self.coder = coder

    def encode(self, cur: np.ndarray, pred: np.ndarray, level: int, rd_skip: bool,
               prof: Profiler, spatial: bool = False) -> CodedResidual:
        """cur: (H, W, 3) uint8; pred: (H, W, 3) float32 in 0..255. spatial: code the latents
        with spatial prediction (format 8) where the model set has its coefficients."""
        h, w = cur.shape[:2]
        with prof.stage("to_tensor"):
            predp = pad_to(pred.transpose(2, 0, 1).astype(np.float32) / 255.0)
            res = pad_to(cur.transpose(2, 0, 1).astype(np.float32) / 255.0) - predp
            valid = np.zeros(res.shape[1:], np.float32)
            valid[:h, :w] = 1.0
            res_v = res * valid
        outside = outside_mask(h, w, res.shape[1:])
        a = plain = self.coder.analyse(res, level, prof)
        spatial = spatial and self.coder.spatial is not None
        if spatial:  # with prediction where it saves bits; the block decisions see those bits
            a, spatial = self._predicted(plain, outside, prof)
        sse_skip = block_sum(res_v**2)
        sse_code = np.zeros_like(sse_skip)
        trial: tuple[Latents, np.ndarray] | None = None
        if rd_skip:
            trial = self.coder.code_and_synthesize(a, prof, outside)
            sse_code = block_sum(((res - trial[1]) * valid) ** 2)
        lam = LAMBDAS[level - 1] * 255.0**2 / 3.0
        skip = outside | (lam * (sse_skip - sse_code) <= a.bits)
        if skip.all():
            return CodedResidual(None, skip, self._recon(predp, None, skip, h, w),
                                 np.zeros(skip.shape, np.float32))
        if trial is not None and np.array_equal(skip, outside):
            lat, res_hat = trial  # nothing newly skipped: the trial is what the decoder makes
        else:
            if spatial:  # skipped neighbours changed the predictions
                a, spatial = self._predicted(plain, skip, prof)
            lat, res_hat = self.coder.code_and_synthesize(a, prof, skip)
        # The per-block test leaves out the frame's fixed costs (z, skip map): send nothing
        # when the whole residual is not worth its bits.
        keep = np.repeat(np.repeat(~skip, BLOCK, 0), BLOCK, 1)
        sse_final = float(np.sum(((res - res_hat * keep) * valid) ** 2, dtype=np.float64))
        bits = 8 * (len(lat.z_bytes) + len(lat.y_bytes) + len(encode_skip(skip)))
        if lam * float(sse_skip.sum()) <= bits + lam * sse_final:
            skip = np.ones_like(skip)
            return CodedResidual(None, skip, self._recon(predp, None, skip, h, w),
                                 np.zeros(skip.shape, np.float32))
        return CodedResidual(lat, skip, self._recon(predp, res_hat, skip, h, w),
                             self._energy(res_hat, skip), spatial)

    def _predicted(self, plain: Analysed, skip: np.ndarray,
                   prof: Profiler) -> tuple[Analysed, bool]:
        """The latents with spatial prediction when that codes the unskipped positions in
        fewer (ideal) bits than `plain`, else `plain`; and whether prediction is used."""
        with prof.stage("latent_prediction"):
            sp = self.coder.predict_spatially(plain, skip=skip)
        coded = ~skip
        if float(sp.bits[coded].sum()) < float(plain.bits[coded].sum()):
            return sp, True
        return plain, False

    def decode_latents(self, z_bytes: bytes, y_bytes: bytes, level: int, skip: np.ndarray,
                       shape: tuple[int, int], prof: Profiler,
                       spatial: bool = False) -> Latents | None:
        """Entropy decoding only (no reference needed): None when every block is skipped."""
        if skip.all():
            return None
        return self.coder.decode_latents(z_bytes, y_bytes, level, shape, prof, skip, spatial)

    def reconstruct(self, lat: Latents | None, skip: np.ndarray, pred: np.ndarray,
                    prof: Profiler) -> CodedResidual:
        """Synthesis of decoded latents, added to the prediction (H, W, 3) float32 0..255."""
        h, w = pred.shape[:2]
        with prof.stage("to_tensor"):
            predp = pad_to(pred.transpose(2, 0, 1).astype(np.float32) / 255.0)
        if lat is None:
            return CodedResidual(None, skip, self._recon(predp, None, skip, h, w),
                                 np.zeros(skip.shape, np.float32))
        res_hat = self.coder.synthesize(lat, prof)  # (3, Hp, Wp)
        return CodedResidual(lat, skip, self._recon(predp, res_hat, skip, h, w),
                             self._energy(res_hat, skip))

    def prediction_only(self, pred: np.ndarray, prof: Profiler) -> CodedResidual:
        """No residual: every block skipped, the prediction rounded as the decoder rounds it."""
        skip = np.ones(skip_grid(*pred.shape[:2]), bool)
        return self.reconstruct(None, skip, pred, prof)

    @staticmethod
    def _recon(predp: np.ndarray, res_hat: np.ndarray | None, skip: np.ndarray, h: int,
               w: int) -> np.ndarray:
        x = predp
        if res_hat is not None:
            keep = np.repeat(np.repeat(~skip, BLOCK, 0), BLOCK, 1)
            x = predp + res_hat * keep
        x = x[:, :h, :w]
        return np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8).transpose(1, 2, 0).copy()

    @staticmethod
    def _energy(res_hat: np.ndarray, skip: np.ndarray) -> np.ndarray:
        e = block_sum((res_hat * 255.0) ** 2) / (3 * BLOCK * BLOCK)
        return np.where(skip, 0.0, e).astype(np.float32)
