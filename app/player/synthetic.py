"""An in-process frame source with real FrameStats and numpy frames.

Used by tests and for developing the studio without the codec: it behaves like
codec.api.StreamDecoder (GOP structure, decoding forward from the keyframe before a frame,
optional per-frame decode delay, injected errors and damage notes).
"""

from __future__ import annotations

import math
import time
from fractions import Fraction

import numpy as np

from codec.errors import CRCMismatchError, ZVC69Error
from codec.stats import FrameStats


class SyntheticSource:
    """A procedurally generated stream: a panning gradient with a moving square."""

    def __init__(
        self,
        width: int = 128,
        height: int = 96,
        num_frames: int = 48,
        fps: Fraction | int = 25,
        gop: int = 8,
        block_size: int = 16,
        mv_block: int = 8,
        delay_s: float = 0.0,
        bad_frames: frozenset[int] | set[int] = frozenset(),
        damage: str | None = None,
        encode_stats: bool = True,
        open_error: ZVC69Error | None = None,
    ) -> None:
        if open_error is not None:
            raise open_error
        self.width, self.height = width, height
        self.num_frames = num_frames
        self.fps = Fraction(fps)
        self.gop = gop
        self.block_size = block_size
        self.mv_block = mv_block
        self.delay_s = delay_s
        self.bad_frames = frozenset(bad_frames)
        self.damage = damage
        self._encode_stats = encode_stats
        self._last: int | None = None
        self.decode_calls = 0
        self.closed = False
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        self._xx, self._yy = xx, yy

    # -- StreamDecoder interface -------------------------------------------------------------
    def scan(self) -> list[FrameStats]:
        return [self._stats(n) for n in range(self.num_frames)]

    def keyframe_before(self, n: int) -> int:
        return (max(0, min(n, self.num_frames - 1)) // self.gop) * self.gop

    def decode(self, n: int) -> tuple[np.ndarray, FrameStats]:
        if not 0 <= n < self.num_frames:
            raise IndexError(f"frame {n} is out of range 0..{self.num_frames - 1}")
        self.decode_calls += 1
        start = n if self._last is not None and self._last == n - 1 else self.keyframe_before(n)
        t0 = time.perf_counter()
        for k in range(start, n + 1):
            if k in self.bad_frames:
                self._last = None
                raise CRCMismatchError(f"frame {k}: payload CRC mismatch", offset=1000 + k)
            if self.delay_s:
                time.sleep(self.delay_s)
        image = self.frame(n)
        self._last = n
        stats = self._stats(n)
        total = (time.perf_counter() - t0) * 1000.0
        split = {"parse": 0.05, "entropy_decode": 0.3, "synthesis": 0.45, "from_tensor": 0.05}
        if not stats.keyframe:
            split.update({"synthesis": 0.2, "warp": 0.15, "residual_synthesis": 0.1})
        scale = total / sum(split.values())
        stats.timings = {stage: share * scale for stage, share in split.items()}
        return image, stats

    def frames(self, start: int = 0, stop: int | None = None):
        for n in range(start, self.num_frames if stop is None else stop):
            yield self.decode(n)

    def encode_stats(self) -> list[FrameStats] | None:
        if not self._encode_stats:
            return None
        out = []
        for n in range(self.num_frames):
            s = self._stats(n)
            s.psnr = 34.0 + 3.0 * math.cos(n / 5.0) + (2.0 if s.keyframe else 0.0)
            s.timings = {"analysis": 4.0, "motion_search": 0.0 if s.keyframe else 6.0,
                         "entropy_encode": 2.0 + (n % 3)}
            out.append(s)
        return out

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> SyntheticSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- content -----------------------------------------------------------------------------
    def frame(self, n: int) -> np.ndarray:
        """The RGB uint8 picture of frame `n`."""
        w, h = self.width, self.height
        phase = 4.0 * n
        r = (self._xx + phase) % w / w * 255.0
        g = self._yy / max(1, h - 1) * 255.0
        b = 128.0 + 100.0 * np.sin((self._xx + self._yy + 2.0 * n) / 9.0)
        img = np.stack([r, g, b], axis=-1).astype(np.uint8)
        side = max(8, min(w, h) // 3)
        x0 = int((n * 3) % max(1, w - side))
        y0 = int((h - side) // 2 + (h // 6) * math.sin(n / 4.0))
        img[max(0, y0) : y0 + side, x0 : x0 + side] = (250, 250, 240)
        return img

    def _stats(self, n: int) -> FrameStats:
        bs = self.block_size
        rows, cols = -(-self.height // bs), -(-self.width // bs)
        key = n % self.gop == 0
        rr, cc = np.mgrid[0:rows, 0:cols].astype(np.float32)
        if key:
            mv = None
            skip = None
            energy = (20.0 + 10.0 * np.sin(rr + cc + n)).astype(np.float32)
            bpb = (400.0 + 150.0 * np.cos(rr - cc)).astype(np.float32)
        else:
            mb = self.mv_block
            mr, mc = np.mgrid[0 : -(-self.height // mb), 0 : -(-self.width // mb)]
            mv = np.zeros(mr.shape + (2,), np.float32)
            mv[..., 0] = 4.0 + 3.0 * np.sin(mc / 2.0 + n)
            mv[..., 1] = 3.0 * np.cos(mr / 2.0 + n / 3.0)
            skip = ((rr + cc + n) % 3 == 0)
            energy = (3.0 + 2.0 * np.sin(rr * 0.7 + cc * 0.3 + n)).astype(np.float32)
            energy[skip] = 0.0
            bpb = (40.0 + 30.0 * np.cos(rr * 0.5 - cc * 0.4 + n)).astype(np.float32)
            bpb[skip] = 2.0
        dr, dc = np.mgrid[0 : -(-self.height // 8), 0 : -(-self.width // 8)]
        detail = ((dr * 3 + dc * 5 + n) % 7 % 3).astype(np.uint8)  # none, 8x8, 4x4
        total_bits = int(bpb.sum())
        if key:
            bits = {"header": 96, "hyperprior": total_bits // 10, "latent": total_bits * 9 // 10}
        else:
            bits = {"header": 64, "motion": total_bits // 4, "skip": rows * cols // 2,
                    "residual": total_bits * 3 // 4}
        return FrameStats(
            index=n,
            frame_type="I" if key else "P",
            width=self.width,
            height=self.height,
            pts=int(n * 90000 / self.fps),
            quality=4,
            keyframe=key,
            size_bytes=(sum(bits.values()) + 7) // 8 + 12,
            bits=bits,
            block_size=bs,
            mv_block=self.mv_block,
            mv=mv,
            skip=skip,
            residual_energy=energy,
            bits_per_block=bpb,
            detail_blocks=detail,
        )
