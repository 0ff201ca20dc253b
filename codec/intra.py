"""I-frames: a whole frame through the intra hyperprior coder, optionally refined.

Payload: u8 quality level (1..8; bit 7 set: a refinement section follows; bit 6 set: a detail
section ends the payload), u32 length of the z stream, z stream, then the y stream to the end;
or, with bit 7, u32 length of the y stream, the y stream and the refinement section
(`RefineSection`, see refine.py). With bit 6 the payload ends with the detail section
(detail.py) and its u32 length; what precedes it is laid out as above. With bit 5 (format 6)
the payload ends with a bars record (bars.py, 11 bytes) after all of that: the latents then
code only the rectangle inside the bars. With bit 4 (format 8) the y symbols are differences
from the spatial latent prediction (latent_prediction.py).
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass

import numpy as np

from .bars import Bars, find_bars
from .errors import ZVC69FormatError
from .hyperprior import MULTIPLE, HyperpriorCoder, Latents, beyond_mask, pad_to
from .profiler import Profiler

_HEAD = struct.Struct("<BI")
# The encoder sets the latents lying more than this many positions beyond the frame (in the
# padding to a multiple of 64) to their mean: the padding is cropped, so they only matter for
# the border pixels. First frames, Q-levels 2/4/6, bits and luma PSNR against coding them:
# carphone 176x144 -5.5 % / -0.01 dB, megamind 720x528 -2.6 % / -0.04 dB, sintel 854x480
# -1.8 % / 0.00 dB; margin 0 lost up to 1.3 dB (megamind), margin 2 saved about half as much.
PAD_MARGIN = 1
_U32 = struct.Struct("<I")
_REFINE_HEAD = struct.Struct("<BII")
HAS_REFINEMENT = 0x80
HAS_DETAIL = 0x40
HAS_BARS = 0x20
HAS_SPATIAL = 0x10


@dataclass
class RefineSection:
    """The residual coder's pass over the intra reconstruction: level, skip map, z and y."""

    level: int
    skip_bytes: bytes
    z_bytes: bytes
    y_bytes: bytes

    def pack(self) -> bytes:
        return (_REFINE_HEAD.pack(self.level, len(self.skip_bytes), len(self.z_bytes))
                + self.skip_bytes + self.z_bytes + self.y_bytes)

    @classmethod
    def unpack(cls, data: bytes) -> RefineSection:
        if len(data) < _REFINE_HEAD.size:
            raise ZVC69FormatError(f"I-frame refinement of {len(data)} bytes is too short", 0)
        level, n_skip, n_z = _REFINE_HEAD.unpack_from(data)
        if not 1 <= level <= 8:
            raise ZVC69FormatError(f"I-frame refinement level {level} is not in 1..8", 0)
        p = _REFINE_HEAD.size
        if p + n_skip + n_z > len(data):
            raise ZVC69FormatError("I-frame refinement sections run past the payload", 1)
        return cls(level, data[p : p + n_skip], data[p + n_skip : p + n_skip + n_z],
                   data[p + n_skip + n_z :])


@dataclass
class IntraPayload:
    level: int
    z_bytes: bytes
    y_bytes: bytes
    refine: RefineSection | None = None
    detail_bytes: bytes = b""  # detail.DetailSection, packed; empty: no detail layer
    bars: Bars | None = None  # format 6: the latents code the rectangle inside these
    spatial: bool = False  # format 8: y coded as differences from the spatial prediction

    def pack(self) -> bytes:
        if self.spatial:  # the flag on top of the layout without it
            plain = dataclasses.replace(self, spatial=False).pack()
            return bytes([plain[0] | HAS_SPATIAL]) + plain[1:]
        if self.bars is not None:
            plain = dataclasses.replace(self, bars=None).pack()
            return bytes([plain[0] | HAS_BARS]) + plain[1:] + self.bars.pack()
        flag = (HAS_REFINEMENT if self.refine else 0) | (HAS_DETAIL if self.detail_bytes else 0)
        head = _HEAD.pack(self.level | flag, len(self.z_bytes)) + self.z_bytes
        if self.refine is None:
            body = head + self.y_bytes
        else:
            body = head + _U32.pack(len(self.y_bytes)) + self.y_bytes + self.refine.pack()
        if self.detail_bytes:
            body += self.detail_bytes + _U32.pack(len(self.detail_bytes))
        return body

    @classmethod
    def unpack(cls, data: bytes, height: int | None = None,
               width: int | None = None) -> IntraPayload:
        """Parse a payload; with the stream's frame size, a bars record is checked against it
        (the decoder always gives it)."""
        if len(data) < _HEAD.size:
            raise ZVC69FormatError(f"I-frame payload of {len(data)} bytes is too short", 0)
        byte, nz = _HEAD.unpack_from(data)
        if byte & HAS_SPATIAL:
            p = cls.unpack(bytes([byte & ~HAS_SPATIAL]) + data[1:], height, width)
            p.spatial = True
            return p
        if byte & HAS_BARS:
            end = len(data) - Bars.SIZE
            if end < _HEAD.size:
                raise ZVC69FormatError("I-frame payload is too short for its bars record", 0)
            bars = Bars.unpack(data[end:], height, width, end)
            p = cls.unpack(bytes([byte & ~HAS_BARS]) + data[1:end])
            p.bars = bars
            return p
        level = byte & ~(HAS_REFINEMENT | HAS_DETAIL)
        if not 1 <= level <= 8:
            raise ZVC69FormatError(f"I-frame quality level {level} is not in 1..8", 0)
        if byte & HAS_DETAIL:
            (nd,) = _U32.unpack_from(data, len(data) - _U32.size)
            if _HEAD.size + nd + _U32.size > len(data):
                raise ZVC69FormatError(f"I-frame detail section of {nd} bytes runs past the "
                                       "payload", len(data) - _U32.size)
            end = len(data) - _U32.size - nd
            p = cls.unpack(bytes([byte & ~HAS_DETAIL]) + data[1:end])
            p.detail_bytes = data[end : len(data) - _U32.size]
            return p
        p = _HEAD.size + nz
        if p > len(data):
            raise ZVC69FormatError(f"I-frame z stream of {nz} bytes runs past the payload", 1)
        z = data[_HEAD.size : p]
        if not byte & HAS_REFINEMENT:
            return cls(level, z, data[p:])
        if p + _U32.size > len(data):
            raise ZVC69FormatError("I-frame payload ends before the length of its y stream", p)
        (ny,) = _U32.unpack_from(data, p)
        p += _U32.size
        if p + ny > len(data):
            raise ZVC69FormatError(f"I-frame y stream of {ny} bytes runs past the payload", p)
        return cls(level, z, data[p : p + ny], RefineSection.unpack(data[p + ny :]))

    def bits(self) -> dict[str, int]:
        out = {"header": 8 * _HEAD.size, "hyperprior": 8 * len(self.z_bytes),
               "latent": 8 * len(self.y_bytes)}
        if self.refine is not None:
            r = self.refine
            out["header"] += 8 * (_U32.size + _REFINE_HEAD.size)
            out["hyperprior"] += 8 * len(r.z_bytes)
            out["skip"] = 8 * len(r.skip_bytes)
            out["residual"] = 8 * len(r.y_bytes)
        if self.detail_bytes:
            out["header"] += 8 * _U32.size
            out["detail"] = 8 * len(self.detail_bytes)
        if self.bars is not None:
            out["header"] += 8 * Bars.SIZE
        return out


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

    def encode(self, rgb: np.ndarray, level: int, prof: Profiler, bars: bool = True,
               spatial: bool = True) -> tuple[IntraPayload, np.ndarray, Latents]:
        """Returns the payload, the reconstruction (what the decoder will output) and latents
        (their bits map over the whole frame's latent grid). bars: look for flat bars and
        code only the picture inside them (format 6); spatial: predict the latents from their
        neighbours (format 8) where the model set has the coefficients."""
        h, w = rgb.shape[:2]
        with prof.stage("to_tensor"):
            found = find_bars(rgb) if bars else None
            inner = rgb if found is None else found.crop(rgb)
            ih, iw = inner.shape[:2]
            x = to_tensor(inner)
        a = self.coder.analyse(x, level, prof)
        spatial = spatial and self.coder.spatial is not None
        if spatial:
            with prof.stage("latent_prediction"):
                a = self.coder.predict_spatially(a, beyond_mask(a.bits.shape, ih, iw, PAD_MARGIN))
        else:
            a = self.coder.beyond_frame_to_mean(a, ih, iw, PAD_MARGIN)
        lat, x_hat = self.coder.code_and_synthesize(a, prof)
        with prof.stage("from_tensor"):
            recon = from_tensor(x_hat, ih, iw)
        if found is not None:
            recon = found.paste(recon, h, w)
            lat.bits_map = _whole_frame_bits(found, lat.bits_map, h, w)
        payload = IntraPayload(level, lat.z_bytes, lat.y_bytes, bars=found, spatial=spatial)
        return payload, recon, lat

    def decode_latents(self, payload: IntraPayload, height: int, width: int,
                       prof: Profiler) -> Latents:
        bars = payload.bars
        ih, iw = (height, width) if bars is None else bars.inner_shape(height, width)
        lat = self.coder.decode_latents(payload.z_bytes, payload.y_bytes, payload.level,
                                        _padded(ih, iw), prof, spatial=payload.spatial)
        if bars is not None:
            lat.bits_map = _whole_frame_bits(bars, lat.bits_map, height, width)
        return lat

    def reconstruct(self, lat: Latents, height: int, width: int, prof: Profiler,
                    bars: Bars | None = None) -> np.ndarray:
        x_hat = self.coder.synthesize(lat, prof)
        with prof.stage("from_tensor"):
            if bars is None:
                return from_tensor(x_hat, height, width)
            return bars.paste(from_tensor(x_hat, *bars.inner_shape(height, width)), height, width)

    def decode(self, payload: IntraPayload, height: int, width: int,
               prof: Profiler) -> tuple[np.ndarray, Latents]:
        lat = self.decode_latents(payload, height, width, prof)
        return self.reconstruct(lat, height, width, prof, payload.bars), lat


def _padded(height: int, width: int) -> tuple[int, int]:
    """The size the networks see: (height, width) padded to a multiple of MULTIPLE."""
    return height + -height % MULTIPLE, width + -width % MULTIPLE


def _whole_frame_bits(bars: Bars, bits: np.ndarray, height: int, width: int) -> np.ndarray:
    """The inner picture's bits per latent position spread over the whole frame's grid."""
    ph, pw = _padded(height, width)
    return bars.place_bits(bits, height, width, 16, (ph // 16, pw // 16))
