"""I-frames: a whole frame through the intra hyperprior coder.

Payload: u8 quality level (1..8), u32 length of the z stream, z stream, y stream (to the end).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from .errors import ZVC69FormatError
from .hyperprior import HyperpriorCoder, Latents, pad_to
from .profiler import Profiler

_HEAD = struct.Struct("<BI")


@dataclass
class IntraPayload:
    level: int
    z_bytes: bytes
    y_bytes: bytes

    def pack(self) -> bytes:
        return _HEAD.pack(self.level, len(self.z_bytes)) + self.z_bytes + self.y_bytes

    @classmethod
    def unpack(cls, data: bytes) -> IntraPayload:
        if len(data) < _HEAD.size:
            raise ZVC69FormatError(f"I-frame payload of {len(data)} bytes is too short", 0)
        level, nz = _HEAD.unpack_from(data)
        if not 1 <= level <= 8:
            raise ZVC69FormatError(f"I-frame quality level {level} is not in 1..8", 0)
        if _HEAD.size + nz > len(data):
            raise ZVC69FormatError(f"I-frame z stream of {nz} bytes runs past the payload", 1)
        return cls(level, data[_HEAD.size : _HEAD.size + nz], data[_HEAD.size + nz :])

    def bits(self) -> dict[str, int]:
        return {"header": 8 * _HEAD.size, "hyperprior": 8 * len(self.z_bytes),
                "latent": 8 * len(self.y_bytes)}


def to_tensor(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (3, Hp, Wp) float32 in [0, 1], padded to the coder's multiple."""
    return pad_to(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32) / 255.0)


def from_tensor(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """(3, Hp, Wp) float32 -> cropped (H, W, 3) uint8, rounded."""
    x = x[:, :height, :width]
    return np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8).transpose(1, 2, 0).copy()


class IntraCodec:
    def __init__(self, coder: HyperpriorCoder) -> None:
        self.coder = coder

    def encode(self, rgb: np.ndarray, level: int,
               prof: Profiler) -> tuple[bytes, np.ndarray, Latents]:
        """Returns the payload, the reconstruction (what the decoder will output) and latents."""
        h, w = rgb.shape[:2]
        with prof.stage("to_tensor"):
            x = to_tensor(rgb)
        lat, x_hat = self.coder.code_and_synthesize(self.coder.analyse(x, level, prof), prof)
        with prof.stage("from_tensor"):
            recon = from_tensor(x_hat, h, w)
        return IntraPayload(level, lat.z_bytes, lat.y_bytes).pack(), recon, lat

    def decode_latents(self, payload: IntraPayload, height: int, width: int,
                       prof: Profiler) -> Latents:
        shape = (height + -height % 64, width + -width % 64)
        return self.coder.decode_latents(payload.z_bytes, payload.y_bytes, payload.level, shape,
                                         prof)

    def reconstruct(self, lat: Latents, height: int, width: int, prof: Profiler) -> np.ndarray:
        x_hat = self.coder.synthesize(lat, prof)
        with prof.stage("from_tensor"):
            return from_tensor(x_hat, height, width)

    def decode(self, payload: IntraPayload, height: int, width: int,
               prof: Profiler) -> tuple[np.ndarray, Latents]:
        lat = self.decode_latents(payload, height, width, prof)
        return self.reconstruct(lat, height, width, prof), lat
