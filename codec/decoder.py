"""StreamDecoder: a .zvc69 file in, frames and their FrameStats out.

Frames are numbered in display order. Any frame can be asked for: the decoder goes back to
the keyframe before it and decodes forward in decode order (skipping B-frames no other frame
predicts from), keeping the references and the last few frames so that sequential access
costs one frame each. `scan()` reads only the side information (frame types, sizes, motion
vectors, skip masks), which needs no synthesis network, so the analyzer can index a long
stream quickly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from . import alf
from .backend import Backend
from .bipred import blend, decode_modes, temporal_prediction
from .bside import decode_bside
from .container import HAS_B_FRAMES, YCC_AXES, ContainerReader, FrameHeader, FrameType, number_of
from .deblock import loop_filter
from .detail import (
    DetailSection,
    any_on_latent_grid,
    block_kinds,
    decode_symbols,
    flagged_blocks,
    split_grid,
    to_latent_grid,
    transform_map,
)
from .detail import reconstruct as reconstruct_detail
from .encoder import Codecs, stats_path
from .errors import ModelMismatchError, ZVC69Error, ZVC69FormatError
from .grey import greyify
from .hyperprior import Latents
from .inter import InterPayload
from .intra import IntraPayload
from .models import ModelSet, load_models
from .mvcoding import decode_mvs, field_from_differences
from .profiler import Profiler
from .residual import BLOCK, block_energy, skip_grid
from .skip import decode_skip
from .stats import BIT_PARTS, FrameStats
from .warp import warp
from .weights import apply as apply_weights

RECENT = 2 * 8 + 2  # decoded frames kept by display index (a B-frame group and a margin)


# a parsed section, its flagged blocks and (format 11) its blocks of four 4x4 transforms
_DetailSide = tuple[DetailSection, np.ndarray, np.ndarray | None] | None


@dataclass
class _Prepared:
    stats: FrameStats
    payload: IntraPayload | InterPayload
    skip: np.ndarray
    latents: Latents | None
    prof: Profiler
    refine_latents: Latents | None = None  # I-frames with a refinement section
    # P-frames with a detail layer: the section, its flagged-block mask and coefficients
    detail: tuple[DetailSection, np.ndarray, np.ndarray, np.ndarray | None] | None = None


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
        self._anchor: int | None = None  # display index of the last I- or P-frame decoded
        self._refs: dict[int, np.ndarray] = {}  # reference frames by display index
        self._pos = -1  # decode index up to which the stream has been followed
        self._cache: dict[int, tuple[np.ndarray, FrameStats]] = {}  # recent, by display index
        self._fields: dict[int, tuple[np.ndarray, int]] = {}  # references' fields (B-frames)
        self._grid = skip_grid(self.height, self.width)
        self._pad = (self._grid[0] * BLOCK, self._grid[1] * BLOCK)
        # format 1.x streams were predicted with bilinear sampling, 2.x with cubic
        self._interp = "bilinear" if self.header.version_major == 1 else "cubic"
        self._version = self.header.version_major  # payload layouts changed in format 4
        self._ycc = bool(self.header.flags & YCC_AXES)  # format 18's detail axes (detail.py)
        self._order, self._display = self._display_order()

    def _headers(self) -> tuple[list[FrameType | None], list[int | None]]:
        """Every frame's type and pts: from the reader's scan of the frame headers, or read
        one by one where that scan did not cover the frames in use (None: unreadable)."""
        if self.reader.scanned is not None:
            types, pts = self.reader.scanned
            return list(types), list(pts)
        out_types: list[FrameType | None] = []
        out_pts: list[int | None] = []
        for j in range(self.num_frames):
            try:
                fh = self.reader.read_frame_header(j)
                out_types.append(fh.frame_type)
                out_pts.append(fh.pts)
            except ZVC69Error:
                out_types.append(None)
                out_pts.append(None)
        return out_types, out_pts

    def _display_order(self) -> tuple[list[int], list[int]]:
        """(decode index of each display position, display position of each decode index):
        display order is the order of the frames' pts (FORMAT.md section 2); streams without
        B-frames are in display order. Also sets, per decode index, `_anchor_before`: the I-
        or P-frame before it, which a P-frame predicts from (-1: none), and `_span`: a
        P-frame's distance to it in frame numbers (0: unknown), the span of its vectors for
        B-frames' temporal prediction."""
        n = self.num_frames
        self._anchor_before = list(range(-1, n - 1))
        self._span = [0] * n
        self._rank: dict[int, int] = {}  # display position of each frame number (from pts)
        if self._version < 9 and not self.header.flags & HAS_B_FRAMES:
            return list(range(n)), list(range(n))
        types, pts = self._headers()
        keys: list[tuple[int, int]] = []
        anchor = -1
        for j in range(n):
            self._anchor_before[j] = anchor
            p = pts[j]
            if p is None:  # a damaged header: keep the frame where it lies
                keys.append((keys[-1][0] if keys else 0, j))
                anchor = j
                continue
            keys.append((p, j))
            before = pts[anchor] if anchor >= 0 else None
            if types[j] == FrameType.P and before is not None:
                self._span[j] = number_of(p, self.fps) - number_of(before, self.fps)
            if types[j] in (FrameType.I, FrameType.P):
                anchor = j
        ranked = sorted(keys)
        order = [j for _, j in ranked]
        display = [0] * n
        for d, (pts, j) in enumerate(ranked):
            display[j] = d
            # B-frames name references by frame number (pts in frames): in a file that lost
            # frames, numbers and display positions differ
            self._rank[number_of(pts, self.fps)] = d
        return order, display

    @property
    def has_b_frames(self) -> bool:
        """Whether any frame is neither an I- nor a P-frame."""
        return self._anchor_before != list(range(-1, self.num_frames - 1))

    @property
    def codecs(self) -> Codecs:
        if self._codecs is None:  # networks load on first decode, not for scan()
            self._codecs = Codecs(self._models, Backend(*self._backend))
        return self._codecs

    def keyframe_before(self, n: int) -> int:
        """Display index of the last keyframe at or before display position n."""
        if not 0 <= n < self.num_frames:
            raise IndexError(f"frame {n} outside 0..{self.num_frames - 1}")
        return self._display[self.reader.keyframe_before(self._order[n])]

    def _read(self, j: int, prof: Profiler) -> tuple[FrameHeader, bytes]:
        """Header and payload of the frame at decode index j."""
        if not 0 <= j < self.num_frames:
            raise IndexError(f"frame {j} outside 0..{self.num_frames - 1}")
        with prof.stage("io"):
            return self.reader.read_frame(j)

    def _stats(self, n: int, fh: FrameHeader) -> FrameStats:
        j = self._order[n]
        return FrameStats(index=n, frame_type=fh.frame_type.label, width=self.width,
                          height=self.height, pts=fh.pts, quality=self.header.quality,
                          keyframe=fh.frame_type == FrameType.I, block_size=BLOCK,
                          size_bytes=fh.payload_size + self.reader.frame_header_size,
                          decode_index=j, grey=fh.grey,
                          reference=self.reader.index[j].reference)

    def _side_info(self, n: int, fh: FrameHeader, payload: bytes, prof: Profiler
                   ) -> tuple[FrameStats, IntraPayload | InterPayload, np.ndarray, _DetailSide]:
        """Stats, payload and skip mask of a frame; for a frame with a detail layer also its
        parsed section and flagged-block mask (for `_detail`, so they are read once)."""
        filt = None
        if fh.filtered:
            if self._version < alf.FROM:
                raise ZVC69FormatError(f"frame {n}: a loop filter record in a format "
                                       f"{self._version} stream ({alf.FROM}.0 and later only)", 0)
            try:
                payload, filt = alf.split(payload)
            except ZVC69FormatError as exc:
                raise ZVC69FormatError(f"frame {n}: {exc}") from None
        st, *rest = self._parse(n, fh, payload, prof)
        if filt is not None:
            st.loop_filter = filt.stats()
            st.bits["filter"] = 8 * filt.size
        return (st, *rest)

    def _parse(self, n: int, fh: FrameHeader, payload: bytes, prof: Profiler
               ) -> tuple[FrameStats, IntraPayload | InterPayload, np.ndarray, _DetailSide]:
        """`_side_info` of a payload without its loop filter record."""
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
                side = self._detail_side(ip.detail_bytes, st)
                if ip.refine is None:
                    return st, ip, np.zeros((0, 0), bool), side
                st.refine_quality = ip.refine.level
                skip = decode_skip(ip.refine.skip_bytes, *self._grid)
                st.skip = skip[:rows, :cols].copy()
                return st, ip, skip, side
            bidir = fh.frame_type == FrameType.B
            if fh.frame_type not in (FrameType.P, FrameType.B):
                raise ZVC69FormatError(f"frame {n}: frame type {fh.frame_type.label} is not "
                                       "supported by this decoder")
            try:
                pp = InterPayload.unpack(payload, self._version, bidir)
            except ZVC69FormatError as exc:  # (its offset, within the payload, is in the text)
                raise ZVC69FormatError(f"frame {n}: {exc}") from None
            st.bits = pp.bits()
            st.quality = pp.level
            st.mv_block = pp.mv_block
            st.weights = None if pp.weights is None else pp.weights.stats()
            st.latent_prediction = pp.spatial
            st.sharp_mc = pp.sharp
            mv_rows, mv_cols = -(-self.height // pp.mv_block), -(-self.width // pp.mv_block)
            if pp.refs is not None and self._version >= 10:
                try:
                    d_f, d_b, st.modes = decode_bside(pp.mv_bytes, mv_rows, mv_cols)
                    st.mv = field_from_differences(d_f, pp.precision)
                    st.mv_back = field_from_differences(d_b, pp.precision)
                except ZVC69FormatError as exc:
                    raise ZVC69FormatError(f"frame {n}: {exc}") from None
            elif pp.refs is not None:
                st.mv = decode_mvs(pp.mv_bytes, mv_rows, mv_cols, pp.precision)
                st.mv_back = decode_mvs(pp.mv_back_bytes, mv_rows, mv_cols, pp.precision)
                st.modes = decode_modes(pp.mode_bytes, mv_rows, mv_cols)
            else:
                st.mv = decode_mvs(pp.mv_bytes, mv_rows, mv_cols, pp.precision,
                                   contexts=self._version >= 7)
            if pp.refs is not None:
                number = number_of(fh.pts, self.fps)
                st.refs = (self._rank.get(number - pp.refs[0], -1),
                           self._rank.get(number + pp.refs[1], -1))
                hint = self._field(st.refs[1], n) if pp.temporal else None
                if pp.temporal and (hint is None or hint[0].shape != st.mv.shape):
                    raise ZVC69FormatError(f"frame {n}: its vectors are predicted from "
                                           f"frame {st.refs[1]}, which has none", 1)
                if hint is not None:
                    t_f, t_b = temporal_prediction(*hint, *pp.refs, pp.precision)
                    st.mv, st.mv_back = st.mv + t_f, st.mv_back + t_b
                if st.reference:
                    self._keep_field(n, st.mv, pp.refs[0])
            elif (span := self._span[self._order[n]]) > 0:  # format 9 P-frames
                self._keep_field(n, st.mv, span)
            skip = decode_skip(pp.skip_bytes, *self._grid)
            shown = skip  # reported: blocks that get no residual at all (nor detail)
            side = self._detail_side(pp.detail_bytes, st)
            if side is not None:
                shown = skip & ~any_on_latent_grid(side[1], *skip.shape)
            st.skip = shown[:rows, :cols].copy()
            return st, pp, skip, side

    def _detail_side(self, data: bytes, st: FrameStats) -> _DetailSide:
        """A frame's detail section (empty: none) parsed, with its flagged-block mask; sets
        st.detail_blocks (the maps only, no coefficients)."""
        if not data:
            return None
        try:
            section = DetailSection.unpack(data, self._version, st.grey, self._ycc)
            keep8 = flagged_blocks(section, self.height, self.width)
            kinds = block_kinds(section, keep8)
        except ZVC69FormatError as exc:  # (its offset, within the section, is in the text)
            raise ZVC69FormatError(f"frame {st.index}: {exc}") from None
        st.detail_blocks = transform_map(keep8, kinds)
        st.detail_quality = section.level
        return section, keep8, kinds

    def _keep_field(self, n: int, mv: np.ndarray, span: int) -> None:
        """Remember a reference's vector field, pointing back over `span` frames."""
        self._fields[n] = (mv, span)
        while len(self._fields) > 4 * RECENT:
            del self._fields[next(iter(self._fields))]

    def _field(self, d: int, n: int) -> tuple[np.ndarray, int] | None:
        """The field (and its span) of the reference at display position d, which B-frame n
        predicts its vectors from; read from the stream if it has not been seen."""
        if d < 0:
            return None
        if d not in self._fields:
            if self._order[d] >= self._order[n]:
                raise ZVC69FormatError(f"frame {n}: its reference {d} comes after it in the "
                                       "stream")
            prof = Profiler()
            self._side_info(d, *self._read(self._order[d], prof), prof)
        return self._fields.get(d)

    def scan(self) -> list[FrameStats]:
        """Side information of every frame, without running any network."""
        out: list[FrameStats | None] = [None] * self.num_frames
        for j in range(self.num_frames):  # decode order: B-frames' vectors need their refs'
            prof = Profiler()
            n = self._display[j]
            st = self._side_info(n, *self._read(j, prof), prof)[0]
            st.timings = prof.take()
            out[n] = st
        return [st for st in out if st is not None]

    def _prepare(self, j: int) -> _Prepared:
        """Stage 1 for the frame at decode index j, independent of the references: read,
        parse, entropy-decode the latents."""
        prof = Profiler()
        fh, payload = self._read(j, prof)
        st, p, skip, side = self._side_info(self._display[j], fh, payload, prof)
        if isinstance(p, IntraPayload):
            lat = self.codecs.intra.decode_latents(p, self.height, self.width, prof)
            r = p.refine
            refine = None if r is None else self.codecs.residual.decode_latents(
                r.z_bytes, r.y_bytes, r.level, skip, self._pad, prof)
            return _Prepared(st, p, skip, lat, prof, refine,
                             self._detail(p.detail_bytes, prof, side))
        lat = self.codecs.residual.decode_latents(p.z_bytes, p.y_bytes, p.level, skip,
                                                  self._pad, prof, p.spatial)
        return _Prepared(st, p, skip, lat, prof,
                         detail=self._detail(p.detail_bytes, prof, side))

    def _detail(self, data: bytes, prof: Profiler, side: _DetailSide
                ) -> tuple[DetailSection, np.ndarray, np.ndarray, np.ndarray | None] | None:
        """Entropy-decode a frame's detail section (empty: none); `side`: the section and
        flagged-block mask `_side_info` read (it knows whether the frame is grey)."""
        if not data:
            return None
        assert side is not None  # (`_detail_side` parses every non-empty section)
        section, keep, split8 = side
        keep, q, split = decode_symbols(section, self.height, self.width, prof, keep, split8)
        return section, keep, q, split

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
                section, keep, q, split = prep.detail
                base = frame
                frame, bits8 = reconstruct_detail(section, keep, q, base, prof, split)
                frame = loop_filter(frame, section, keep, self._version, prof,
                                    split_grid(keep, split))
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
            pred = self._prediction(st, p, prof)
            coded = self.codecs.residual.reconstruct(prep.latents, prep.skip, pred, prof)
            frame, energy = coded.recon, coded.energy
            if prep.detail is not None:
                section, keep, q, split = prep.detail
                frame, bits8 = reconstruct_detail(section, keep, q, frame, prof, split)
                frame = loop_filter(frame, section, keep, self._version, prof,
                                    split_grid(keep, split))
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
        if st.grey:  # (before the loop filter, which keeps it grey)
            frame = greyify(frame)
        if st.loop_filter is not None:
            frame = alf.apply(frame, alf.LoopFilter.of(st.loop_filter), prof, st.bars)
        st.timings = prof.take()
        self._keep(n, frame, st)
        return frame, st

    def _prediction(self, st: FrameStats, p: InterPayload, prof: Profiler) -> np.ndarray:
        """A P-frame's prediction from the last anchor, a B-frame's from its two references."""
        n, j = st.index, self._order[st.index]
        interp = "sharp8" if p.sharp else self._interp
        with prof.stage("warp"):
            if st.refs is not None:
                a, b = st.refs
                if a < 0 or b < 0:
                    raise ZVC69FormatError(f"frame {n} is a B-frame whose reference frames "
                                           "are not in the file")
                if a not in self._refs or b not in self._refs:
                    raise ZVC69FormatError(f"frame {n} is a B-frame without its reference "
                                           f"frames {a} and {b}")
                assert st.mv_back is not None and st.modes is not None
                return blend(warp(self._refs[a], st.mv, p.mv_block, interp),
                             warp(self._refs[b], st.mv_back, p.mv_block, interp),
                             st.modes, p.mv_block)
            if self._anchor is None or self._order[self._anchor] != self._anchor_before[j]:
                raise ZVC69FormatError(f"frame {n} is a P-frame without its reference frame")
            ref = self._refs[self._anchor]
            if p.weights is not None:
                ref = apply_weights(ref, p.weights)
            return warp(ref, st.mv, p.mv_block, interp)

    def _keep(self, n: int, frame: np.ndarray, st: FrameStats) -> None:
        """Remember a decoded frame: as a reference (an anchor drops the references before
        the previous anchor) and among the recent frames."""
        j = self._order[n]
        if st.reference or st.frame_type in ("I", "P"):
            if st.frame_type in ("I", "P"):
                if self._anchor is not None:
                    self._refs = {d: f for d, f in self._refs.items() if d >= self._anchor}
                self._anchor = n
            self._refs[n] = frame
        self._pos = max(self._pos, j)
        self._cache[n] = (frame, st)
        while len(self._cache) > RECENT:
            del self._cache[next(iter(self._cache))]

    def _reset(self) -> None:
        self._refs, self._anchor, self._pos = {}, None, -1

    def decode(self, n: int) -> tuple[np.ndarray, FrameStats]:
        """Frame n (display order), (H, W, 3) uint8 RGB, with its statistics."""
        if not 0 <= n < self.num_frames:
            raise IndexError(f"frame {n} outside 0..{self.num_frames - 1}")
        hit = self._cache.get(n)
        if hit is not None:
            return hit
        j = self._order[n]
        key = self.reader.keyframe_before(j)
        if (j <= self._pos and self._pos >= key  # passed over: a B-frame whose references
                and self.reader.read_frame_header(j).frame_type == FrameType.B):  # may be here
            prep = self._prepare(j)
            refs = prep.stats.refs
            if refs is not None and refs[0] in self._refs and refs[1] in self._refs:
                return self._finish(prep)
        if not key <= self._pos < j:
            self._reset()
        for m in range(max(key, self._pos + 1), j):
            if self.reader.index[m].reference:
                self._finish(self._prepare(m))
            else:  # no other frame predicts from it
                self._pos = m
        return self._finish(self._prepare(j))

    def frames(self, start: int = 0, stop: int | None = None, pipelined: bool = True
               ) -> Iterator[tuple[np.ndarray, FrameStats]]:
        """Frames start..stop-1 in order. Pipelined: a worker thread entropy-decodes frame n+1
        while this thread runs the synthesis of frame n (ONNX Runtime releases the GIL)."""
        stop = self.num_frames if stop is None else min(stop, self.num_frames)
        if start >= stop:
            return
        yield self.decode(start)
        if not pipelined:
            for n in range(start + 1, stop):
                yield self.decode(n)
            return
        # Decode order from where decode(start) left off; frames come out in display order.
        last = max(self._order[start:stop])

        def after(j: int) -> int | None:
            """The next frame to prepare after decode index j (None: none needed)."""
            while j + 1 <= last:
                j += 1
                if self._display[j] >= start and (self._display[j] < stop
                                                  or self.reader.index[j].reference):
                    return j
            return None

        with ThreadPoolExecutor(1, thread_name_prefix="zvc69-entropy") as pool:
            j = after(self._pos)
            nxt = pool.submit(self._prepare, j) if j is not None else None
            for n in range(start + 1, stop):
                while n not in self._cache:
                    if nxt is None:
                        raise ZVC69FormatError(f"frame {n} was not decoded on the way")
                    prep = nxt.result()
                    j = after(self._order[prep.stats.index])
                    nxt = pool.submit(self._prepare, j) if j is not None else None
                    self._finish(prep)
                yield self._cache[n]

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
