"""Building blocks: the factorized density of the hyper-latents (Ballé et al. 2018)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class FactorizedDensity(nn.Module):
    """Per-channel learned cumulative density c(x) = sigmoid(f(x)) (Ballé 2018, appendix 6.1)."""

    def __init__(self, channels: int, filters: tuple[int, ...] = (3, 3, 3),
                 init_scale: float = 10.0) -> None:
        super().__init__()
        dims = (1, *filters, 1)
        scale = init_scale ** (1 / (len(filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(filters) + 1):
            init = math.log(math.expm1(1 / scale / dims[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[i + 1], dims[i]), init)))
            self.biases.append(nn.Parameter(torch.rand(channels, dims[i + 1], 1) - 0.5))
            if i < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[i + 1], 1)))

    def logits_cdf(self, x: torch.Tensor) -> torch.Tensor:
        """x: (C, 1, N) -> logits of the CDF, (C, 1, N)."""
        for i, (m, b) in enumerate(zip(self.matrices, self.biases, strict=False)):
            x = torch.matmul(F.softplus(m), x) + b
            if i < len(self.factors):
                x = x + torch.tanh(self.factors[i]) * torch.tanh(x)
        return x

    def likelihood(self, z: torch.Tensor) -> torch.Tensor:
        """Probability mass of [z - 0.5, z + 0.5] per element; z: (B, C, H, W)."""
        b, c, h, w = z.shape
        v = z.permute(1, 0, 2, 3).reshape(c, 1, -1)
        lower = self.logits_cdf(v - 0.5)
        upper = self.logits_cdf(v + 0.5)
        sign = -torch.sign(lower + upper).detach()
        p = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
        return p.reshape(c, b, h, w).permute(1, 0, 2, 3)

    @torch.no_grad()
    def pmf_table(self, radius: int) -> torch.Tensor:
        """Probabilities of the integers -radius..radius per channel, (C, 2 * radius + 1)."""
        c = self.matrices[0].shape[0]
        k = torch.arange(-radius, radius + 1, dtype=torch.float32)
        return self.likelihood(k.view(1, 1, 1, -1).expand(1, c, 1, -1))[0, :, 0, :]


class GDN(nn.Module):
    """Generalized divisive normalization (Ballé et al. 2016): x / sqrt(beta + gamma * x^2).

    With `inverse` it multiplies instead (IGDN, for the synthesis). Starts as the identity
    (beta = 1, gamma = 0), so it can be inserted into a trained network without changing it.
    gamma >= 0 and beta >= BETA_MIN are kept by `project()` after every optimiser step, so the
    forward pass (and its ONNX graph) is a plain 1x1 Conv over x^2.
    """

    BETA_MIN = 1e-3

    def __init__(self, channels: int, inverse: bool = False) -> None:
        super().__init__()
        self.inverse = inverse
        self.beta = nn.Parameter(torch.ones(channels))
        self.gamma = nn.Parameter(torch.zeros(channels, channels, 1, 1))

    @torch.no_grad()
    def project(self) -> None:
        self.gamma.clamp_(min=0.0)
        self.beta.clamp_(min=self.BETA_MIN)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = F.conv2d(x * x, self.gamma, self.beta)
        return x * torch.sqrt(norm) if self.inverse else x * torch.rsqrt(norm)
