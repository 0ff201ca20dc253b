"""Rebuild a trainable HyperpriorCodec from shipped model files (warm start without checkpoints).

g_a, g_s and h_a come back exactly from their ONNX initialisers; the per-level gains from
tables.npz. h_s ships only as its integer network (intquant.py); because ReLU is positively
homogeneous it maps back to an equivalent float network with activations in the integer units:
hidden layer W = W_int * 2^m, b = b_int * 2^m; last layer with the extra 2^-OUT_FRAC_BITS
(only the clip at 255 of hidden activations is dropped). The factorized prior of z ships only
as integer tables, so its density is refitted to those tables by cross-entropy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from codec.quant import OUT_FRAC_BITS

from .intquant import hs_convs
from .layers import GDN
from .networks import HyperpriorCodec, transform_layers


def _initialisers(graph: onnx.GraphProto) -> dict[str, torch.Tensor]:
    return {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in graph.initializer}


def _conv_weights(path: Path) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight, bias) of every Conv/ConvTranspose node of a graph, in graph order."""
    graph = onnx.load(str(path)).graph
    inits = _initialisers(graph)
    return [(inits[n.input[1]], inits[n.input[2]]) for n in graph.node
            if n.op_type in ("Conv", "ConvTranspose")]


def _load_hs(model: HyperpriorCodec, tables: np.lib.npyio.NpzFile) -> None:
    convs = [conv for conv, _, _ in hs_convs(model.h_s)]  # the layer order intquant exported
    for i, conv in enumerate(convs):
        mult = 2.0 ** tables[f"hs{i}_mult_exp"].astype(np.float64)
        if i == len(convs) - 1:
            mult = mult * 2.0**-OUT_FRAC_BITS
        w = tables[f"hs{i}_weight"].astype(np.float64) * mult[:, None, None, None]
        b = tables[f"hs{i}_bias"].astype(np.float64) * mult
        conv.weight.copy_(torch.from_numpy(w).float())
        conv.bias.copy_(torch.from_numpy(b).float())


def _fit_density(model: HyperpriorCodec, tables: np.lib.npyio.NpzFile, steps: int) -> float:
    """Fit the factorized density to the shipped z tables; returns the final KL in bits/symbol."""
    pmf = tables["z_pmf"].astype(np.float64)
    offsets, lengths = tables["z_offset"], tables["z_length"]
    radius = int(-offsets.min())
    target = np.zeros((pmf.shape[0], 2 * radius + 1))
    for c in range(pmf.shape[0]):
        n = int(lengths[c]) - 1  # the last column of a row is the escape bin
        start = int(offsets[c]) + radius
        target[c, start : start + n] = pmf[c, :n]
    target /= target.sum(1, keepdims=True)
    t = torch.from_numpy(target).float()
    k = torch.arange(-radius, radius + 1, dtype=torch.float32).view(1, 1, 1, -1)
    density = model.density
    opt = torch.optim.Adam(density.parameters(), lr=1e-2)
    kl = 0.0
    for step in range(steps):
        if step == steps * 3 // 4:
            for g in opt.param_groups:
                g["lr"] = 1e-3
        p = density.likelihood(k.expand(1, len(t), 1, -1))[0, :, 0, :].clamp_min(1e-12)
        loss = (t * (torch.log2(t.clamp_min(1e-12)) - torch.log2(p))).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        kl = loss.item()
    return kl


def load_from_onnx(folder: Path, density_steps: int = 1500) -> HyperpriorCodec:
    """A float HyperpriorCodec equivalent to the shipped models in `folder` (e.g. .../intra)."""
    folder = Path(folder)
    tables = np.load(folder / "tables.npz")
    g_a, g_s = _conv_weights(folder / "encoder.onnx"), _conv_weights(folder / "decoder.onnx")
    weights = g_a + g_s
    n, channels = g_a[0][0].shape[:2]
    m = g_s[0][0].shape[0]  # ConvTranspose: (in, out, k, k)
    h_a = _initialisers(onnx.load(str(folder / "hyperprior_enc.onnx")).graph)
    nz = h_a["net.4.weight"].shape[0]
    gdn = any(w.shape[2:] == (1, 1) for w, _ in weights)  # a GDN is a 1x1 Conv over x^2
    model = HyperpriorCodec(n, m, nz, channels, gdn=gdn)
    with torch.no_grad():
        layers = transform_layers(model)
        if len(layers) != len(weights):
            raise ValueError(f"{folder}: {len(weights)} convolutions, expected {len(layers)}")
        for layer, (w, b) in zip(layers, weights, strict=True):
            if isinstance(layer, GDN):
                layer.gamma.copy_(w)
                layer.beta.copy_(b)
            else:
                layer.weight.copy_(w)
                layer.bias.copy_(b)
        model.h_a.load_state_dict(h_a)
        _load_hs(model, tables)
        model.log_gain.copy_(torch.from_numpy(np.log(tables["gain"].astype(np.float64))).float())
        model.log_inv_gain.copy_(
            torch.from_numpy(np.log(tables["inv_gain"].astype(np.float64))).float())
    kl = _fit_density(model, tables, density_steps)
    print(f"loaded {folder}: z density refitted to the shipped tables (KL {kl:.4f} bits/symbol)")
    return model
