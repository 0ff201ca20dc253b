"""The hyperprior latent coder shared by I-frames and P-frame residuals.

encode: analysis g_a -> y; hyper-analysis h_a -> z; z coded with the factorized tables; the
integer h_s turns z into per-latent means and scale-table indexes (bit-exact everywhere); the
gained latents y*g minus their means are rounded and coded with the Gaussian tables.
decode: the same from the bytes, then synthesis g_s. Positions of the latent grid marked in
`skip` are neither coded nor synthesised from coded data (their latents take the prior mean).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from . import entropy, latent_prediction
from .backend import Backend, run
from .errors import ModelMismatchError, ZVC69FormatError
from .models import ModelFiles
from .profiler import Profiler
from .quant import OUT_FRAC_BITS, scale_indexes

MULTIPLE = 64  # frames are padded to a multiple of this (z is at 1/64 resolution)


def _tables(t: dict[str, np.ndarray], prefix: str, cls: type) -> object:
    kw = {}
    for f in dataclasses.fields(cls):
        key = f"{prefix}_{f.name}"
        if f.init and key in t:
            v = t[key]
            kw[f.name] = int(v) if v.ndim == 0 else v
    return cls(**kw)


@dataclass
class Analysed:
    """Latents before entropy coding: integer symbols and their entropy parameters."""

    level: int
    z_hat: np.ndarray  # (nz, h/4, w/4) int32
    mean_g: np.ndarray  # (M, h, w) float32, gained means
    idx: np.ndarray  # (M, h, w) int32 scale-table indexes
    sym: np.ndarray  # (M, h, w) int32 symbols (gained latent minus mean, rounded)
    bits: np.ndarray  # (h, w) float32 information content of sym per position
    resid: np.ndarray | None = None  # (M, h, w) float32 gained latent minus mean, unrounded
    rec: np.ndarray | None = None  # (M, h, w) int64 spatially predicted residuals, 1/64 units


@dataclass
class Latents:
    """What one coded tensor produced: the bytes and what the analyzer wants to know."""

    z_bytes: bytes
    y_bytes: bytes
    y_hat: np.ndarray  # (1, M, h, w) float32, input of the synthesis
    bits_map: np.ndarray  # (h, w) float32 bits per latent position (z bits spread evenly)


class HyperpriorCoder:
    """Runs the four graphs of one model kind and the entropy coder between them."""

    def __init__(self, files: ModelFiles, backend: Backend) -> None:
        self.files = files
        self.backend = backend
        t = files.tables
        self.gain = t["gain"].astype(np.float32)
        self.inv_gain = t["inv_gain"].astype(np.float32)
        self.gain_log_q = t["gain_log_q"].astype(np.int32)
        self.z_tables = _tables(t, "z", entropy.FactorizedTables)
        self.y_tables = _tables(t, "y", entropy.GaussianTables)
        self.m = files.latent_channels
        self.nz = files.hyper_channels
        self.g_a = backend.session(files.path("encoder.onnx"))
        self.g_s = backend.session(files.path("decoder.onnx"), reproducible=True)
        self.h_a = backend.session(files.path("hyperprior_enc.onnx"))
        self.h_s = backend.session(files.path("hyperprior_dec.onnx"), exact=True)
        self.spatial: np.ndarray | None = None  # latent prediction coefficients (format 8)
        if "y_spatial" in t:
            try:
                self.spatial = latent_prediction.check_coefficients(t["y_spatial"], self.m)
            except ValueError as exc:
                raise ModelMismatchError(f"{files.folder}: {exc}") from None

    def entropy_params(self, z_hat: np.ndarray, level: int) -> tuple[np.ndarray, np.ndarray]:
        """Integer z (nz, h, w) -> gained means (M, 4h, 4w) float32 and scale indexes (int32)."""
        p = run(self.h_s, "z_hat", z_hat[None].astype(np.float32))[0]
        mean_q, ls_q = p[: self.m], p[self.m :]
        g = self.gain[level - 1][:, None, None]
        mean_g = (mean_q * np.float32(2.0**-OUT_FRAC_BITS)) * g
        return mean_g.astype(np.float32), scale_indexes(ls_q, self.gain_log_q[level - 1])

    def analyse(self, x: np.ndarray, level: int, prof: Profiler) -> Analysed:
        """x: (C, H, W) float32, H and W multiples of 64; level 1..8. No entropy coding yet."""
        with prof.stage(self._stage("analysis")):
            y_dev = self.backend.run_on_device(self.g_a, x[None])  # y stays on the device
        with prof.stage("hyper_analysis"):
            z_hat = np.round(self.backend.run_value(self.h_a, y_dev)[0]).astype(np.int32)
        with prof.stage("from_tensor"):
            y = y_dev.numpy()[0]
        with prof.stage("hyper_synthesis"):
            mean_g, idx = self.entropy_params(z_hat, level)
        resid = y * self.gain[level - 1][:, None, None] - mean_g
        sym = np.round(resid).astype(np.int32)
        bits = entropy.information_bits_gaussian(sym, idx, self.y_tables).sum(0)
        return Analysed(level, z_hat, mean_g, idx, sym, bits.astype(np.float32), resid)

    def beyond_frame_to_mean(self, a: Analysed, height: int, width: int,
                             margin: int) -> Analysed:
        """`a` with every latent more than `margin` positions past the real frame's latent grid
        (a (height, width) frame padded to MULTIPLE) set to its prior mean (symbol 0, the
        cheapest). An encoder choice: the decoder crops the padding, and those latents only
        reach the frame's border pixels through the synthesis' receptive field."""
        far = beyond_mask(a.bits.shape, height, width, margin)
        if not far.any():
            return a
        sym = np.where(far[None], 0, a.sym).astype(np.int32)
        bits = a.bits.copy()
        bits[far] = entropy.information_bits_gaussian(sym[:, far], a.idx[:, far],
                                                      self.y_tables).sum(0)
        return dataclasses.replace(a, sym=sym, bits=bits)

    def predict_spatially(self, a: Analysed, zero: np.ndarray | None = None,
                          skip: np.ndarray | None = None) -> Analysed:
        """`a` quantised with spatial latent prediction (latent_prediction.py, format 8):
        symbol 0 where `zero` (the latent is left at its prediction: `beyond_mask`), nothing
        coded where `skip` (the latent is its mean)."""
        assert self.spatial is not None and a.resid is not None
        sym, rec = latent_prediction.quantise(a.resid, self.spatial, zero, skip)
        bits = entropy.information_bits_gaussian(sym, a.idx, self.y_tables).sum(0)
        return dataclasses.replace(a, sym=sym, bits=bits.astype(np.float32), rec=rec)

    def code_and_synthesize(self, a: Analysed, prof: Profiler,
                            skip: np.ndarray | None = None) -> tuple[Latents, np.ndarray]:
        """Entropy-code analysed latents (positions where skip is True are left out) and
        synthesise what the decoder will: (latents, g_s output (C, H, W)). The entropy coder
        runs while the synthesis network does (ONNX Runtime releases the GIL), so on a GPU the
        coding time is hidden."""
        coded = np.ones(a.sym.shape[1:], bool) if skip is None else ~skip
        if a.rec is not None:  # spatially predicted: rec is 0 at skipped positions
            y_hat = self._y_hat(latent_prediction.to_float(a.rec), a.mean_g, a.level)
        else:
            y_hat = self._y_hat(np.where(coded[None], a.sym, 0), a.mean_g, a.level)
        synth = _POOL.submit(_timed, run, self.g_s, "y_hat", y_hat)
        with prof.stage("entropy_encode"):
            z_bytes = entropy.encode_factorized(a.z_hat, self.z_tables)
            y_bytes = entropy.encode_gaussian(a.sym[:, coded], a.idx[:, coded], self.y_tables)
        bits = np.where(coded, a.bits, 0.0) + 8 * len(z_bytes) / a.bits.size
        x_hat, ms = synth.result()
        prof.add(self._stage("synthesis"), ms)
        return Latents(z_bytes, y_bytes, y_hat, bits.astype(np.float32)), x_hat[0]

    def decode_latents(self, z_bytes: bytes, y_bytes: bytes, level: int, shape: tuple[int, int],
                       prof: Profiler, skip: np.ndarray | None = None,
                       spatial: bool = False) -> Latents:
        """Entropy-decode the latents of a (H, W) padded frame, without synthesis; spatial:
        the symbols are differences from the spatial prediction (format 8)."""
        if spatial and self.spatial is None:
            raise ZVC69FormatError("latents coded with spatial prediction, which this model "
                                   "set does not have", 0)
        h, w = shape[0] // 16, shape[1] // 16
        with prof.stage("entropy_decode"):
            z_hat = entropy.decode_factorized(z_bytes, (self.nz, h // 4, w // 4), self.z_tables)
        with prof.stage("hyper_synthesis"):
            mean_g, idx = self.entropy_params(z_hat, level)
        coded = np.ones((h, w), bool) if skip is None else ~skip
        sym = np.zeros((self.m, h, w), np.int32)
        with prof.stage("entropy_decode"):
            sym[:, coded] = entropy.decode_gaussian(y_bytes, idx[:, coded], self.y_tables)
        bits = entropy.information_bits_gaussian(sym, idx, self.y_tables).sum(0)
        bits = np.where(coded, bits, 0.0) + 8 * len(z_bytes) / bits.size
        if spatial:
            assert self.spatial is not None
            with prof.stage("latent_prediction"):
                res = latent_prediction.to_float(latent_prediction.reconstruct(sym, self.spatial,
                                                                            skip))
        else:
            res = sym.astype(np.float32)
        return Latents(z_bytes, y_bytes, self._y_hat(res, mean_g, level), bits.astype(np.float32))

    def synthesize(self, latents: Latents, prof: Profiler) -> np.ndarray:
        with prof.stage(self._stage("synthesis")):
            return run(self.g_s, "y_hat", latents.y_hat)[0]

    def _y_hat(self, res: np.ndarray, mean_g: np.ndarray, level: int) -> np.ndarray:
        """Decoded residuals (symbols, or spatially predicted residuals) -> g_s input."""
        ig = self.inv_gain[level - 1][:, None, None]
        return ((res.astype(np.float32) + mean_g) * ig)[None].astype(np.float32)

    def _stage(self, name: str) -> str:
        return name if self.files.kind == "intra" else f"residual_{name}"


# Runs synthesis networks while the calling thread entropy-codes (code_and_synthesize); a few
# workers so that encoders in several threads (the app's preview and its encode) do not queue.
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="zvc69-synthesis")


def _timed(fn: Callable[..., np.ndarray], *args: object) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    out = fn(*args)
    return out, (time.perf_counter() - t0) * 1000.0


def beyond_mask(shape: tuple[int, ...], height: int, width: int, margin: int) -> np.ndarray:
    """(rows, cols) mask of the latent positions more than `margin` past a (height, width)
    frame's latent grid."""
    rows, cols = -(-height // 16) + margin, -(-width // 16) + margin
    far = np.zeros(shape, bool)
    far[rows:, :] = True
    far[:, cols:] = True
    return far


def pad_to(x: np.ndarray, multiple: int = MULTIPLE) -> np.ndarray:
    """(C, H, W) -> edge-replicated to multiples of `multiple`."""
    _, h, w = x.shape
    ph, pw = -h % multiple, -w % multiple
    return np.pad(x, ((0, 0), (0, ph), (0, pw)), mode="edge") if ph or pw else x
