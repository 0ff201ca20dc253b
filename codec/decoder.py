"""StreamDecoder: a .zvc69 file in, frames and their FrameStats out.

Any frame can be asked for: the decoder goes back to the keyframe before it and decodes
forward, keeping the last reconstruction so that sequential access costs one frame each.
`scan()` reads only the side information (frame types, sizes, motion vectors, skip masks),
which needs no synthesis network, so the analyzer can index a long stream quickly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .backend import Backend
from .container import ContainerReader, FrameHeader, FrameType
from .deblock import loop_filter
from .detail import (
    DetailSection,
    any_on_latent_grid,
    decode_symbols,
    flagged_blocks,
    to_latent_grid,
)
from .detail import reconstruct as reconstruct_detail
from .encoder import Codecs, stats_path
from .errors import ModelMismatchError, ZVC69FormatError
from .hyperprior import Latents
from .inter import InterPayload
from .intra import IntraPayload
from .models import ModelSet, load_models
from .mvcoding import decode_mvs
from .profiler import Profiler
from .residual import BLOCK, block_energy, skip_grid
from .skip import decode_skip
from .stats import BIT_PARTS, FrameStats
from .warp import warp
from .weights import apply as apply_weights

_DetailSide = tuple[DetailSection, np.ndarray] | None  # a parsed section, its flagged blocks


@dataclass
class _Prepared:
    stats: FrameStats
    payload: IntraPayload | InterPayload
    skip: np.ndarray
    latents: Latents | None
    prof: Profiler
    refine_latents: Latents | None = None  # I-frames with a refinement section
    # P-frames with a detail layer: the section, its flagged-block mask and coefficients
    detail: tuple[DetailSection, np.ndarray, np.ndarray] | None = None


class StreamDecoder:
    """Decode one .zvc69 file. Not thread-safe: use one per thread."""

    def __init__(self, path: str | Path, device: str = "auto", threads: int | None = None,
                 graph_opt: str = "all", models: ModelSet | None = None,
                 codecs: Codecs | None = None) -> None:
        self.path = Path(path)
        self.reader = ContainerReader(self.path)
        try:
            h = self.reader.header
            self.header = h
            self.width, self.height = h.width, h.height
            self.fps = Fraction(h.fps_num, h.fps_den)
            self.num_frames = len(self.reader)
            self.damage: str | None = self.reader.damage
            self._models = codecs.models if codecs else (models or load_models())
            if h.model_hash != self._models.hash:
                raise ModelMismatchError(
                    f"{self.path.name} was made with model set {h.model_hash.hex()}, but this "
                    f"decoder has model set {self._models.hash_hex}: it cannot be decoded")
            self._codecs = codecs
            self._backend = (device, threads, graph_opt)
            Backend(*self._backend)  # validate the settings now
        except BaseException:
            self.reader.close()
            raise
        self._ref: np.ndarray | None = None
        self._pos = -1
        self._grid = skip_grid(self.height, self.width)
        self._pad = (self._grid[0] * BLOCK, self._grid[1] * BLOCK)
        # format 1.x streams were predicted with bilinear sampling, 2.x with cubic
        self._interp = "bilinear" if self.header.version_major == 1 else "cubic"
        self._version = self.header.version_major  # payload layouts changed in format 4

    @property
    def codecs(self) -> Codecs:
        if self._codecs is None:  # networks load on first decode, not for scan()
            self._codecs = Codecs(self._models, Backend(*self._backend))
        return self._codecs

    def keyframe_before(self, n: int) -> int:
        return self.reader.keyframe_before(n)

    def _read(self, n: int, prof: Profiler) -> tuple[FrameHeader, bytes]:
        if not 0 <= n < self.num_frames:
            raise IndexError(f"frame {n} outside 0..{self.num_frames - 1}")
        with prof.stage("io"):
            return self.reader.read_frame(n)

    def _stats(self, n: int, fh: FrameHeader) -> FrameStats:
        return FrameStats(index=n, frame_type=fh.frame_type.label, width=self.width,
                          height=self.height, pts=fh.pts, quality=self.header.quality,
                          keyframe=fh.frame_type == FrameType.I, block_size=BLOCK,
                          size_bytes=fh.payload_size + 32)

    def _side_info(self, n: int, fh: FrameHeader, payload: bytes, prof: Profiler
                   ) -> tuple[FrameStats, IntraPayload | InterPayload, np.ndarray, _DetailSide]:
        """Stats, payload and skip mask of a frame; for a P-frame with a detail layer also its
        parsed section and flagged-block mask (for `_detail`, so they are read once)."""
        st = self._stats(n, fh)
        rows, cols = -(-self.height // BLOCK), -(-self.width // BLOCK)
        with prof.stage("parse"):
            if fh.frame_type == FrameType.I:
                ip = IntraPayload.unpack(payload, self.height, self.width)
                st.bits = ip.bits()
                if ip.bars is not None:
                    if self._version < 6:
                        raise ZVC69FormatError(f"frame {n}: a bars record in a format "
                                               f"{self._version} stream (6.0 and later only)", 0)
                    st.bars = ip.bars.sides
                if ip.spatial and self._version < 8:
                    raise ZVC69FormatError(f"frame {n}: spatial latent prediction in a format "
                                           f"{self._version} stream (8.0 and later only)", 0)
                st.latent_prediction = ip.spatial
                st.quality = ip.level
                if ip.refine is None:
                    return st, ip, np.zeros((0, 0), bool), None
                st.refine_quality = ip.refine.level
                skip = decode_skip(ip.refine.skip_bytes, *self._grid)
                st.skip = skip[:rows, :cols].copy()
                return st, ip, skip, None
            if fh.frame_type != FrameType.P:
                raise ZVC69FormatError(f"frame {n}: B-frames are not supported by this decoder")
            pp = InterPayload.unpack(payload, self._version)
            st.bits = pp.bits()
            st.quality = pp.level
            st.mv_block = pp.mv_block
            st.weights = None if pp.weights is None else pp.weights.stats()
            st.latent_prediction = pp.spatial
            st.mv = decode_mvs(pp.mv_bytes, -(-self.height // pp.mv_block),
                               -(-self.width // pp.mv_block), pp.precision,
                               contexts=self._version >= 7)
            skip = decode_skip(pp.skip_bytes, *self._grid)
            shown = skip  # reported: blocks that get no residual at all (nor detail)
            side = None
            if pp.detail_bytes:
                section = DetailSection.unpack(pp.detail_bytes, self._version)
                keep8 = flagged_blocks(section, self.height, self.width)
                shown = skip & ~any_on_latent_grid(keep8, *skip.shape)
                side = (section, keep8)
            st.skip = shown[:rows, :cols].copy()
            return st, pp, skip, side

    def scan(self) -> list[FrameStats]:
        """Side information of every frame, without running any network."""
        out = []
        for n in range(self.num_frames):
            prof = Profiler()
            st = self._side_info(n, *self._read(n, prof), prof)[0]
            st.timings = prof.take()
            out.append(st)
        return out

    def _prepare(self, n: int) -> _Prepared:
        """Stage 1, independent of the reference: read, parse, entropy-decode the latents."""
        prof = Profiler()
        fh, payload = self._read(n, prof)
        st, p, skip, side = self._side_info(n, fh, payload, prof)
        if isinstance(p, IntraPayload):
            lat = self.codecs.intra.decode_latents(p, self.height, self.width, prof)
            r = p.refine
            refine = None if r is None else self.codecs.residual.decode_latents(
                r.z_bytes, r.y_bytes, r.level, skip, self._pad, prof)
            return _Prepared(st, p, skip, lat, prof, refine, self._detail(p.detail_bytes, prof))
        lat = self.codecs.residual.decode_latents(p.z_bytes, p.y_bytes, p.level, skip,
                                                  self._pad, prof, p.spatial)
        return _Prepared(st, p, skip, lat, prof,
                         detail=self._detail(p.detail_bytes, prof, side))

    def _detail(self, data: bytes, prof: Profiler, side: _DetailSide = None
                ) -> tuple[DetailSection, np.ndarray, np.ndarray] | None:
        """Entropy-decode a frame's detail section (empty: none); `side`: the section and
        flagged-block mask `_side_info` already read."""
        if not data:
            return None
        section, keep = side if side is not None else (
            DetailSection.unpack(data, self._version), None)
        keep, q = decode_symbols(section, self.height, self.width, prof, keep)
        return section, keep, q

    def _finish(self, prep: _Prepared) -> tuple[np.ndarray, FrameStats]:
        """Stage 2: synthesis (and warp for P-frames) on top of the reference."""
        st, p, prof, n = prep.stats, prep.payload, prep.prof, prep.stats.index
        rows, cols = -(-self.height // BLOCK), -(-self.width // BLOCK)
        if isinstance(p, IntraPayload):
            assert prep.latents is not None
            frame = self.codecs.intra.reconstruct(prep.latents, self.height, self.width, prof,
                                                   p.bars)
            if p.refine is not None:
                coded = self.codecs.residual.reconstruct(prep.refine_latents, prep.skip,
                                                         frame.astype(np.float32), prof)
                frame = coded.recon
                st.residual_energy = coded.energy[:rows, :cols].copy()
            if prep.detail is not None:
                section, keep, q = prep.detail
                base = frame
                frame, bits8 = reconstruct_detail(section, keep, q, base, prof)
                frame = loop_filter(frame, section, keep, self._version, prof)
                assert prep.latents is not None
                shape = prep.latents.bits_map.shape
                energy = block_energy(frame, base.astype(np.float32), shape)[:rows, :cols]
                if st.residual_energy is not None:
                    energy = energy + st.residual_energy
                st.residual_energy = energy.copy()
                bits_map = prep.latents.bits_map + to_latent_grid(bits8, *shape)
                if prep.refine_latents is not None:
                    bits_map = bits_map + prep.refine_latents.bits_map
                st.bits_per_block = bits_map[:rows, :cols].copy()
        else:
            if self._ref is None or self._pos != n - 1:
                raise ZVC69FormatError(f"frame {n} is a P-frame without its reference frame")
            with prof.stage("warp"):
                ref = self._ref if p.weights is None else apply_weights(self._ref, p.weights)
                pred = warp(ref, st.mv, p.mv_block, self._interp)
            coded = self.codecs.residual.reconstruct(prep.latents, prep.skip, pred, prof)
            frame, energy = coded.recon, coded.energy
            if prep.detail is not None:
                section, keep, q = prep.detail
                frame, bits8 = reconstruct_detail(section, keep, q, frame, prof)
                frame = loop_filter(frame, section, keep, self._version, prof)
                energy = block_energy(frame, pred, prep.skip.shape)
                bits_map = to_latent_grid(bits8, *prep.skip.shape)
                if prep.latents is not None:
                    bits_map = bits_map + prep.latents.bits_map
                st.bits_per_block = bits_map[:rows, :cols].copy()
            st.residual_energy = energy[:rows, :cols].copy()
        if prep.latents is not None and prep.detail is None:  # (detail: bits set above)
            bits_map = prep.latents.bits_map
            if prep.refine_latents is not None:
                bits_map = bits_map + prep.refine_latents.bits_map
            st.bits_per_block = bits_map[:rows, :cols].copy()
        st.timings = prof.take()
        self._ref, self._pos = frame, n
        return frame, st

    def _decode_next(self, n: int) -> tuple[np.ndarray, FrameStats]:
        return self._finish(self._prepare(n))

    def decode(self, n: int) -> tuple[np.ndarray, FrameStats]:
        """Frame n, (H, W, 3) uint8 RGB, with its statistics."""
        if not 0 <= n < self.num_frames:
            raise IndexError(f"frame {n} outside 0..{self.num_frames - 1}")
        start = n if n == self._pos + 1 and self._ref is not None else self.keyframe_before(n)
        if n == self._pos and self._ref is not None:
            start = self.keyframe_before(n)
        for k in range(start, n):
            self._decode_next(k)
        return self._decode_next(n)

    def frames(self, start: int = 0, stop: int | None = None, pipelined: bool = True
               ) -> Iterator[tuple[np.ndarray, FrameStats]]:
        """Frames start..stop-1 in order. Pipelined: a worker thread entropy-decodes frame n+1
        while this thread runs the synthesis of frame n (ONNX Runtime releases the GIL)."""
        stop = self.num_frames if stop is None else min(stop, self.num_frames)
        if start >= stop:
            return
        first = self.decode(start)
        yield first
        if not pipelined:
            for n in range(start + 1, stop):
                yield self.decode(n)
            return
        with ThreadPoolExecutor(1, thread_name_prefix="zvc69-entropy") as pool:
            nxt = pool.submit(self._prepare, start + 1) if start + 1 < stop else None
            for n in range(start + 1, stop):
                assert nxt is not None
                prep = nxt.result()
                nxt = pool.submit(self._prepare, n + 1) if n + 1 < stop else None
                yield self._finish(prep)

    def encode_stats(self) -> list[FrameStats] | None:
        """The encoder's per-frame statistics (timings, PSNR) if its sidecar file is there."""
        p = stats_path(self.path)
        try:
            rows = json.loads(p.read_text())["frames"]
            out = []
            for r in rows:
                st = FrameStats(index=int(r["index"]), frame_type=str(r["type"]),
                                width=self.width, height=self.height, pts=int(r["pts"]),
                                quality=int(r["quality"]), keyframe=bool(r["keyframe"]),
                                size_bytes=int(r["size_bytes"]), psnr=r.get("psnr"),
                                psnr_y=r.get("psnr_y"),
                                timings={k: float(v) for k, v in r["timings"].items()},
                                bits={k: int(r.get(f"bits_{k}", 0)) for k in BIT_PARTS})
                out.append(st)
            return out
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def close(self) -> None:
        self.reader.close()

    def __enter__(self) -> StreamDecoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
