"""The mean-scale hyperprior transform coder with per-level gains (variable rate).

Analysis g_a: image -> y (1/16); hyper-analysis h_a: y -> z (1/64); hyper-synthesis h_s: z ->
(mean, log-scale) of y; synthesis g_s: y -> image. Quality level l scales y by a learned gain
vector before rounding and by a learned inverse gain after (Cui et al. 2021, "gained" coding),
so one set of networks serves all eight levels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from codec.quant import LAMBDAS

from .layers import GDN, FactorizedDensity

LEVELS = len(LAMBDAS)
SCALE_MIN = 0.11
SCALE_MAX = 256.0


def conv(cin: int, cout: int, k: int = 5, stride: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


def deconv(cin: int, cout: int, k: int = 5) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, k, stride=2, padding=k // 2, output_padding=1)


class SubpixelUp(nn.Module):
    """3x3 convolution to 4x channels then depth-to-space: a x2 upsampling layer."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout * 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.conv(x), 2)


def _stack(layers: list[nn.Module], n: int, gdn: bool, inverse: bool) -> nn.Sequential:
    """layers[0] act layers[1] act ... layers[-1]; act = LeakyReLU, then (I)GDN with `gdn`."""
    mods: list[nn.Module] = []
    for i, layer in enumerate(layers):
        mods.append(layer)
        if i + 1 < len(layers):
            mods.append(nn.LeakyReLU(0.1))
            if gdn:
                mods.append(GDN(n, inverse=inverse))
    return nn.Sequential(*mods)


class Analysis(nn.Module):
    def __init__(self, cin: int, n: int, m: int, gdn: bool = False) -> None:
        super().__init__()
        self.net = _stack([conv(cin, n), conv(n, n), conv(n, n), conv(n, m)], n, gdn, False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Synthesis(nn.Module):
    def __init__(self, cout: int, n: int, m: int, gdn: bool = False) -> None:
        super().__init__()
        self.net = _stack([deconv(m, n), deconv(n, n), deconv(n, n), deconv(n, cout)], n, gdn,
                          True)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.net(y)


class HyperAnalysis(nn.Module):
    def __init__(self, m: int, n: int, nz: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            conv(m, n, 3, 1), nn.LeakyReLU(0.1), conv(n, n), nn.LeakyReLU(0.1), conv(n, nz),
        )

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.net(y)


class HyperSynthesis(nn.Module):
    """z -> (mean, log-scale). ReLU only, so it can be run in exact integer arithmetic."""

    def __init__(self, nz: int, n: int, m: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            conv(nz, n, 3, 1), nn.ReLU(), SubpixelUp(n, n), nn.ReLU(),
            SubpixelUp(n, n), nn.ReLU(), conv(n, 2 * m, 3, 1),
        )

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_scale = self.net(z).chunk(2, dim=1)
        return mean, log_scale


def transform_layers(model: HyperpriorCodec) -> list[nn.Module]:
    """The convolutions and GDNs of g_a then g_s, in graph order (what the ONNX files hold)."""
    kinds = (nn.Conv2d, nn.ConvTranspose2d, GDN)
    return [m for seq in (model.g_a.net, model.g_s.net) for m in seq if isinstance(m, kinds)]


@torch.no_grad()
def with_gdn(model: HyperpriorCodec) -> HyperpriorCodec:
    """The same function with identity GDNs inserted: a plain model grown for further training."""
    grown = HyperpriorCodec(model.n, model.m, model.nz, model.channels, gdn=True)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith(("g_a.", "g_s."))}
    grown.load_state_dict(state, strict=False)
    new = [m for m in transform_layers(grown) if not isinstance(m, GDN)]
    for dst, src in zip(new, transform_layers(model), strict=True):
        dst.load_state_dict(src.state_dict())
    return grown


@torch.no_grad()
def with_latents(model: HyperpriorCodec, m: int, seed: int = 0,
                 sample: torch.Tensor | None = None) -> HyperpriorCodec:
    """The same model with M grown to `m` latent channels, for further training.

    The old channels keep their weights and g_s ignores the new ones at first (zero weights),
    so the reconstruction is unchanged. g_a computes the new channels as random projections of
    its last hidden layer (weights at 0.3x the old rows' spread): they carry information at once,
    so g_s's gradient on them is not zero (starting them at 0 instead is a trap: the rate term
    keeps them there). h_a ignores them; h_s predicts mean 0 and their RMS on `sample` (a batch
    of training inputs) as scale; their per-level gains are the old channels' geometric mean.
    Until g_s learns to use them they cost rate; training trims the gains of those that do not
    pay.
    """
    if m <= model.m:
        raise ValueError(f"M={m}: a grown model needs more than {model.m} latent channels")
    gen = torch.Generator().manual_seed(seed)
    old_m = model.m
    grown = HyperpriorCodec(model.n, m, model.nz, model.channels, gdn=model.gdn)
    src, dst = model.state_dict(), grown.state_dict()
    for key, new in dst.items():
        if src[key].shape == new.shape:
            new.copy_(src[key])
    last_a = [k for k in dst if k.startswith("g_a.") and k.endswith(".weight")][-1]
    first_s = [k for k in dst if k.startswith("g_s.") and k.endswith(".weight")][0]
    w = dst[last_a]  # (m, n, k, k)
    w[:old_m] = src[last_a]
    w[old_m:] = torch.randn(tuple(w[old_m:].shape), generator=gen) * 0.3 * src[last_a].std()
    bias = last_a[: -len("weight")] + "bias"
    dst[bias][:old_m] = src[bias]
    dst[bias][old_m:] = 0
    dst[first_s][:old_m] = src[first_s]  # ConvTranspose: (m, n, k, k)
    dst[first_s][old_m:] = 0
    dst["h_a.net.0.weight"].zero_()
    dst["h_a.net.0.weight"][:, :old_m] = src["h_a.net.0.weight"]
    for key in ("log_gain", "log_inv_gain"):
        dst[key][:, :old_m] = src[key]
        dst[key][:, old_m:] = src[key].mean(1, keepdim=True)
    if sample is None:
        sample = torch.rand(2, model.channels, 128, 128, generator=gen)
    grown.load_state_dict(dst)
    rms = grown.g_a(sample)[:, old_m:].pow(2).mean((0, 2, 3)).sqrt().clamp_min(1e-3)
    last_s = [k for k in dst if k.startswith("h_s.") and k.endswith(".weight")][-1]
    lb = last_s[: -len("weight")] + "bias"
    for part in (0, 1):  # output rows: means then log-scales
        o, g = part * old_m, part * m
        dst[last_s][g : g + old_m] = src[last_s][o : o + old_m]
        dst[last_s][g + old_m : g + m] = 0
        dst[lb][g : g + old_m] = src[lb][o : o + old_m]
        dst[lb][g + old_m : g + m] = torch.log(rms) if part else 0.0
    grown.load_state_dict(dst)
    return grown


def ste_round(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.round(x) - x).detach()


def gaussian_likelihood(v: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Mass of [v - 0.5, v + 0.5] under N(0, scale) (v already has the mean removed)."""
    v = torch.abs(v)
    c = 1 / math.sqrt(2)
    upper = 0.5 * torch.erfc(-(0.5 - v) / scale * c)
    lower = 0.5 * torch.erfc(-(-0.5 - v) / scale * c)
    return upper - lower


class HyperpriorCodec(nn.Module):
    """Mean-scale hyperprior codec for images (cin=3) or motion-compensated residuals.

    `gdn`: a (I)GDN after every hidden activation of g_a and g_s.
    """

    def __init__(self, n: int = 96, m: int = 128, nz: int = 64, channels: int = 3,
                 gdn: bool = False) -> None:
        super().__init__()
        self.n, self.m, self.nz, self.channels, self.gdn = n, m, nz, channels, gdn
        self.g_a = Analysis(channels, n, m, gdn)
        self.g_s = Synthesis(channels, n, m, gdn)
        self.h_a = HyperAnalysis(m, n, nz)
        self.h_s = HyperSynthesis(nz, n, m)
        self.density = FactorizedDensity(nz)
        base = torch.linspace(math.log(0.5), math.log(4.0), LEVELS)
        self.log_gain = nn.Parameter(base[:, None].repeat(1, m))
        self.log_inv_gain = nn.Parameter(-base[:, None].repeat(1, m))

    def gains(self, levels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.exp(self.log_gain[levels])[:, :, None, None]
        ig = torch.exp(self.log_inv_gain[levels])[:, :, None, None]
        return g, ig

    def forward(self, x: torch.Tensor, levels: torch.Tensor,
                rate_weight: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """levels: (B,) int64 in 0..7. Returns x_hat, per-sample bits and, with `rate_weight`
        (M,), `loss_bits`: the bits of y weighted per channel (for easing grown channels in)."""
        y = self.g_a(x).float()
        z = self.h_a(y.to(x.dtype)).float()
        z_noisy = z + torch.empty_like(z).uniform_(-0.5, 0.5)
        z_hat = ste_round(z)
        mean, log_scale = self.h_s(z_hat.to(x.dtype))
        mean, log_scale = mean.float(), log_scale.float()
        g, ig = self.gains(levels)
        yg, mg = y * g, mean * g
        scale = torch.clamp(torch.exp(log_scale) * g, SCALE_MIN, SCALE_MAX)
        noisy = yg - mg + torch.empty_like(yg).uniform_(-0.5, 0.5)
        p_y = gaussian_likelihood(noisy, scale).clamp_min(1e-9)
        p_z = self.density.likelihood(z_noisy).clamp_min(1e-9)
        y_hat = (ste_round(yg - mg) + mg) * ig
        x_hat = self.g_s(y_hat.to(x.dtype)).float()
        bits_y = -torch.log2(p_y)
        bits_z = -torch.log2(p_z).sum((1, 2, 3))
        bits = bits_y.sum((1, 2, 3)) + bits_z
        out = {"x_hat": x_hat, "bits": bits, "bits_z": bits_z, "loss_bits": bits}
        if rate_weight is not None:
            out["loss_bits"] = (bits_y * rate_weight[:, None, None]).sum((1, 2, 3)) + bits_z
        return out
