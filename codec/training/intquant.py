"""Quantise the hyper-synthesis h_s into an integer network that every device computes exactly.

The entropy coder's choices (scale-table index and mean of every latent) come from h_s, so
they must be bit-identical on the encoder and on any decoder. Each layer becomes
    a_out = clip(floor((W_int * a_in + b_int) * 2^t_c + 1/2), lo, hi)
with integer weights W_int, integer activations a (8-bit after ReLU), and a power-of-two
per-channel multiplier 2^t_c. Weights are scaled so that the sum of |W_int| * max|a_in| over a
kernel stays below 2^23: every partial sum is an integer below 2^24, exact in float32 in any
summation order (threads, SIMD, FMA, graph optimisations that fold the power-of-two multipliers),
so the graph runs in plain float32 ONNX Conv ops and still gives exact results.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from codec.intnet import Z_CLIP, IntLayer, run_int_layer

from .networks import HyperSynthesis, SubpixelUp

ACC_LIMIT = 2.0**23
OUT_FRAC_BITS = 6  # mean and log-scale come out in units of 1/64


def hs_convs(hs: HyperSynthesis) -> list[tuple[nn.Conv2d, bool, bool]]:
    """(conv, upsample, relu) for each layer of h_s in order."""
    mods = list(hs.net)
    out = []
    for i, m in enumerate(mods):
        relu = i + 1 < len(mods) and isinstance(mods[i + 1], nn.ReLU)
        if isinstance(m, SubpixelUp):
            out.append((m.conv, True, relu))
        elif isinstance(m, nn.Conv2d):
            out.append((m, False, relu))
    return out


@torch.no_grad()
def quantize_hyper_synthesis(hs: HyperSynthesis, z_samples: torch.Tensor) -> list[IntLayer]:
    """Calibrate activation ranges on z_samples (integer-valued hyper-latents) and quantise."""
    hs = hs.float().eval()
    a = z_samples.double().clamp(-Z_CLIP, Z_CLIP).numpy()  # integer activations
    e_in, a_max = 0, float(Z_CLIP)
    result: list[IntLayer] = []
    for conv, up, relu in hs_convs(hs):
        w = conv.weight.double().numpy()
        b = conv.bias.double().numpy()
        if relu:
            y = conv(torch.from_numpy(a * 2.0**e_in).float()).clamp_min(0).flatten()
            peak = float(torch.quantile(y[:: max(1, y.numel() // 1_000_000)], 0.9999)) + 1e-6
            e_out = math.ceil(math.log2(peak / 255.0))
            lo, hi = 0.0, 255.0
        else:
            e_out = -OUT_FRAC_BITS
            lo, hi = -(2.0**15), 2.0**15
        sum_abs = np.abs(w).reshape(w.shape[0], -1).sum(1)
        k = w[0].size
        # the bias counts too: a row with (near-)zero weights, e.g. a channel just grown,
        # would otherwise get a huge multiplier and a bias beyond 2^24
        worst = a_max * sum_abs + np.abs(b) * 2.0**-e_in
        f = np.floor(np.log2((ACC_LIMIT - k) / (worst + 1e-12))).astype(int)
        f = np.minimum(f, 30)
        w_int = np.round(w * 2.0 ** f[:, None, None, None])
        b_int = np.round(b * 2.0 ** (f - e_in))
        bound = np.abs(b_int) + np.abs(w_int).reshape(len(f), -1).sum(1) * a_max
        if np.any(bound >= 2**24):
            raise ValueError("integer accumulator bound violated")
        layer = IntLayer(w_int.astype(np.float32), b_int.astype(np.float32),
                         (e_in - f - e_out).astype(np.int64), lo, hi, up)
        result.append(layer)
        a = run_int_layer(a, layer)
        e_in, a_max = e_out, hi
    return result
