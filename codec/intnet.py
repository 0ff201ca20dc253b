"""Reference implementation of the integer hyper-synthesis, in NumPy float64.

The shipped `hyperprior_dec.onnx` computes the same integer network with float32 ONNX ops
(see codec/training/intquant.py for why that is exact); this module recomputes it from the
integer weights stored in tables.npz, so tests can prove that every execution setting gives
exactly these integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z_CLIP = 127  # |z_hat| is clipped here before h_s


@dataclass
class IntLayer:
    weight: np.ndarray  # (cout, cin, k, k) integers as float32
    bias: np.ndarray  # (cout,) integers as float32
    mult_exp: np.ndarray  # (cout,) int: the layer's multiplier is 2**mult_exp
    lo: float
    hi: float
    upsample: bool  # depth-to-space x2 (CRD order) after the layer


def run_int_layer(a: np.ndarray, layer: IntLayer) -> np.ndarray:
    """One layer on integer activations a (N, C, H, W), exactly, in float64."""
    w = layer.weight.astype(np.float64)
    n, cin, h, wd = a.shape
    k = w.shape[2]
    p = k // 2
    ap = np.pad(a.astype(np.float64), ((0, 0), (0, 0), (p, p), (p, p)))
    cols = np.empty((n, cin, k, k, h, wd))
    for dy in range(k):
        for dx in range(k):
            cols[:, :, dy, dx] = ap[:, :, dy : dy + h, dx : dx + wd]
    acc = np.einsum("ncijhw,ocij->nohw", cols, w, optimize=True)
    acc += layer.bias.astype(np.float64)[None, :, None, None]
    out = np.floor(acc * 2.0 ** layer.mult_exp.astype(np.float64)[None, :, None, None] + 0.5)
    out = np.clip(out, layer.lo, layer.hi)
    if layer.upsample:
        c = out.shape[1] // 4
        out = out.reshape(n, c, 2, 2, h, wd).transpose(0, 1, 4, 2, 5, 3)
        out = out.reshape(n, c, 2 * h, 2 * wd)
    return out


def layers_from_tables(tables: dict[str, np.ndarray]) -> list[IntLayer]:
    """The integer layers stored as hs{i}_* in a model's tables.npz."""
    out = []
    i = 0
    while f"hs{i}_weight" in tables:
        t = {k: tables[f"hs{i}_{k}"] for k in ("weight", "bias", "mult_exp", "lo", "hi",
                                                  "upsample")}
        out.append(IntLayer(t["weight"], t["bias"], t["mult_exp"], float(t["lo"]),
                            float(t["hi"]), bool(t["upsample"])))
        i += 1
    return out


def run_int_network(z_hat: np.ndarray, layers: list[IntLayer]) -> np.ndarray:
    """Integer z (1, nz, h, w) -> entropy parameters (1, 2M, 4h, 4w), exactly."""
    a = np.clip(z_hat.astype(np.float64), -Z_CLIP, Z_CLIP)
    for layer in layers:
        a = run_int_layer(a, layer)
    return a
