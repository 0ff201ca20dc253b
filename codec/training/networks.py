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

    def forward(self, x: torch.Tensor, levels: torch.Tensor) -> dict[str, torch.Tensor]:
        """levels: (B,) int64 in 0..7. Returns x_hat and per-sample bits."""
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
        bits = -(torch.log2(p_y).sum((1, 2, 3)) + torch.log2(p_z).sum((1, 2, 3)))
        return {"x_hat": x_hat, "bits": bits, "bits_z": -torch.log2(p_z).sum((1, 2, 3))}
