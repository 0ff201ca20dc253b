"""StreamEncoder: frames in, a .zvc69 stream out (GOP structure, references, statistics).

GOP: an I-frame every `gop` frames and at scene cuts, P-frames between, each predicted from
the previous reconstruction; I-frames are coded a level above the stream's quality
(`I_LEVEL`: their detail layer; their intra latents `KEY_INTRA_DOWN` levels below it). The
encoder keeps exactly the decoder's reconstruction as its reference, so there is no drift.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from . import alf, container
from .backend import Backend
from .bars import shared_bars
from .bipred import (
    BACKWARD,
    FORWARD,
    blend,
    choose_modes,
    encode_modes,
    fill_unused,
    temporal_prediction,
)
from .bside import encode_bside
from .container import ContainerWriter, FileHeader, FrameType
from .deblock import loop_filter
from .detail import YCC_FROM, CodedDetail, any_on_latent_grid, encode_detail, to_latent_grid
from .errors import SourceError, ZVC69Error
from .grey import FROM as GREY_FROM
from .grey import greyify, is_grey
from .hyperprior import HyperpriorCoder, Latents
from .inter import P32_FROM, SHARP_FROM, InterPayload
from .intra import IntraCodec, IntraPayload
from .metrics import psnr_rgb
from .models import ModelSet, load_models
from .motion import estimate_motions, highpass, luma
from .mvcoding import differences, encode_mvs
from .presets import PRESETS, Preset, for_quality, get_preset, needs_wide
from .profiler import Profiler
from .quant import LAMBDAS
from .refine import INTRA_PLAN, encode_refinement
from .residual import BLOCK, CodedResidual, ResidualCodec, block_energy
from .skip import encode_skip
from .stats import FrameStats
from .warp import warp
from .weights import apply as apply_weights
from .weights import estimate as estimate_weights
from .weights import estimate_v7 as estimate_weights_v7

MAX_DIMENSION = 16384
# A scene cut: the source's luma histogram jumps (L1 distance, 0..2) and the motion-compensated
# prediction is poor (mean absolute error, 0..1); fades change the histogram but predict well.
SCENE_CUT_HIST = 0.5
SCENE_CUT_HIST_MAE = 0.06
SCENE_CUT_MAE = 0.25  # a prediction this poor always forces an I-frame
RD_SKIP_FROM = list(PRESETS).index("medium")  # presets from here on try skips by synthesis
# The learned residual's trial (analysis, coding, synthesis: about 60 % of a 480p P-frame's
# encode time) wins on some content only (smooth residuals: sintel's fog). After a P-frame on
# which it lost, the encoder tries it again on every LEARNED_PROBE-th frame of the GOP only;
# after a win, on the next frame too. Against trying it on every frame (sintel 16, carphone
# 30, chaplin 12 frames, Q1/3/5/7, BD-rate Y): -0.1, +0.1, -1.5 %; encode time -48, -33, -60 %
# (probing every 4th: sintel +1.0 %, every 2nd: -1.0 % and -19 % time).
LEARNED_PROBE = 3
# Choosing among motion fields searched at several rate weights (Preset.mv_trials): cost =
# coded motion bits + MV_SSE_WEIGHT * the level's lambda * prediction SSE. The residual coder
# removes part of the prediction error, so it weighs less than final distortion; 0.5 measured
# best on sintel/carphone/megamind/vtest (10 frames, Q1-Q5).
MV_SSE_WEIGHT = 0.5
# Motion is searched on luma less its (2r + 1)^2 box mean around each pixel (r =
# MOTION_HIGHPASS; 0: plain luma): vectors follow structure, not brightness, which the
# weights, the learned residual and the detail layer's DC terms carry for little (a fade over
# a gradient matches brightness some way off; sintel's fog). A/B: see docs/DESIGN.md.
MOTION_HIGHPASS = 8
SEARCHED_KEPT = 8  # images whose searched luma `StreamEncoder._search_luma` keeps
# B-frame modes (forward, backward or both per block) are chosen by prediction SSE plus their
# bits in the mode map, as the frame's own mode frequencies price them, at MODE_RATE x the
# motion choice's price of a bit (0: SSE alone). On static, noisy footage the SSE-only choice
# followed the noise. A/B (Q1/3/5/7, BD-rate Y): vtest (9 frames) -1.40, bigbuckbunny (9,
# Q1/4/7) -0.75, chaplin (12) -0.34, sintel (12) -0.19, megamind (9) -0.06, carphone (17)
# +0.11 %; at 0.5 vtest -1.26, at 2 -1.40 %.
MODE_RATE = 1.0
# Format 13: P- and B-frames whose prediction has a lower SSE with the 8-tap filter than with
# the cubic one use it (a bit in the payload).
SHARP_MC = True
# Format 14: P-frames (at the presets that try skips by synthesis) also search 32x32 motion
# blocks and keep them where motion bits + the weighted prediction SSE come out lower, as
# B-frames do. A/B against format 13, BD-rate Y, Q1/3/5/7: room_handheld (13 frames) -2.30,
# megamind (9) -1.98 (Q1: -7 % bits), bigbuckbunny (9) -0.22, sintel (12) +0.28 %; carphone,
# vtest and chaplin never chose them.
P_BLOCKS_TRIED = (32,)
# The level an I-frame is coded at, per stream quality Q1..Q8 (P-frames use Q itself; every
# payload carries its level). A sharper keyframe is a better reference for the whole GOP:
# 30-frame runs, Q1-Q5, BD-rate (Y) against I at Q: +2 levels -8.0 % (sintel), -4.4 %
# (carphone); +1: -6.7 %, -2.9 %. The boost shrinks at the top, where the intra model saturates.
# Those runs predate the residual fix (all three colour channels); after it, Q1-Q8: +0.3 %
# (sintel, 16 frames), -0.5 % (carphone, 30 frames): neutral in BD-rate. With format 4, 30
# frames, BD-rate (Y) against this table: (2, 3, 4, 5, 6, 7, 8, 8) -1.0 % carphone, -0.8 %
# sintel, +2.5 % bigbuckbunny (1280x720, Q1/3/5/7); no boost -1.7, -1.0, +7.7 %: kept.
# With format 5 (finer detail steps, detail weight 2 on keyframes), 30 frames, Q1/3/5/7, the
# one-level boost against the table before it, (3, 4, 5, 6, 6, 7, 8, 8): carphone -0.5, sintel
# -3.0, megamind -1.6, bigbuckbunny (1280x720) +2.2 %: taken.
# Keyframes are not refined (refine.py; all-intra streams, gop 1, are). A/B on 2026-12-04
# (intra model of run 3), Q1-Q8 against x264, with the then INTRA_PLAN applied to I_LEVEL:
# BD-rate Y vtest (12 frames) +334 -> +351 %, bigbuckbunny (8) +135 -> +139 %, carphone (30)
# +374 -> +375 %; YUV 6:1:1 +271 -> +272, +131 -> +128, +287 -> +286 %: it buys chroma, not luma.
# Q1 keyframes at level 3, two above the stream (twenty-seventh session): at Q1 the B-frames
# cannot drop below level 1, so the GOP leans on its keyframe more. One level more at every Q
# (Q1/3/5/7, 30 frames; sintel 12, megamind 9), luma PSNR against the baseline's curve at the
# same rate (linear in log rate between its points):
# Q1 vtest +0.45 dB (-8.3 % rate), sintel +0.58 (-9.4 %), carphone +0.07 (-1.2 %), megamind
# -0.04 (+0.8 %); Q3 -8.2, +6.0, +0.5, -5.5 %; Q5 +5.1, +3.0, +3.8 % (docs/DESIGN.md
# "Keyframe level at Q1").
I_LEVEL = (3, 3, 4, 5, 6, 7, 8, 8)
# A GOP's keyframe codes its detail layer at I_LEVEL and its intra latents at I_LEVEL or
# KEY_INTRA_DOWN levels below, whichever costs less in bits + the detail layer's price of SSE
# (KEY_INTRA_TRIAL; False: always the lower level). Since format 15's 16x16 and 32x32
# transforms the detail layer codes what the intra model's upper levels code, for less:
# keyframes alone (each clip's first textured frame, Q1-Q7), BD-rate Y against intra at
# I_LEVEL: 1 level down -6.3 (carphone) to -9.6 % (megamind), 2 down -9.4 to -14.3 %; 3 down
# against 2: -0.4 to -2.1 % Y but YUV +0.2 to +1.7 % on three of five clips. In streams
# (Q1/3/5/7, 9-17 frames, BD-rate Y / YUV 6:1:1) the chroma the intra model codes better lasts
# through the GOP: always 2 down carphone -2.88 / -0.61, chaplin -4.07 / -0.24, sintel +1.04 /
# +1.05 %; the trial carphone -1.69 / -1.31, chaplin -0.48 / -0.33, sintel -0.50 / -0.44 %.
# megamind +1.19 / +15.4 (always) and +1.38 / +15.5 % (trial): its frame 0 is black, coded at
# 77 instead of 82 dB Y for 2,368 bits less, which moves a 9-frame mean of PSNRs; its real
# keyframe (frame 1, Q5) 192,288 -> 158,400 bits at -0.15 dB Y.
KEY_INTRA_DOWN = 2
KEY_INTRA_TRIAL = True
# The trial prices luma SSE alone (`luma_cost`), not RGB SSE: the intra model codes chroma
# better than the detail layer, so the RGB measure kept the upper intra level for the chroma
# it buys, at a luma cost (twenty-sixth session, docs/DESIGN.md).
KEY_TRIAL_LUMA = True
# Quality cascading, as in low-delay P configurations of HEVC encoders: every ANCHOR_EVERY-th
# P-frame of a GOP is coded a level above the stream's (the others reference it, directly or
# through one another). Measured with the detail layer, as the pattern q-1, q-1, q-1, q
# (which the BD-rate does not tell from q, q, q, q+1), Q2-Q7: BD-rate (Y) -1.1 % (carphone,
# 30 frames), -4.2 % (bigbuckbunny 480x270, 15 frames); every other frame: -1.3 %, -1.3 %.
ANCHOR_EVERY = 4
# The detail layer's choices (which 8x8 blocks send coefficients) in GOPs weigh distortion at
# DETAIL_WEIGHT_* times the level's price: a frame's reconstruction is the reference of the
# next, so its error costs more than once (as x264's macroblock tree reasons). 12-frame runs,
# Q1/3/5/7, BD-rate Y against weight 1: (I, P) = (2, 2): carphone -4.7, sintel -2.6,
# bigbuckbunny (640x360) -3.6, megamind (360x264) -2.3, vtest (384x288) -6.0 %; (2, 3) and
# (3, 3) about the same; (2, 1) -1.5 %, (1, 2) -3.9 % (carphone). Stills (gop 1) use 1.
DETAIL_WEIGHT_I = 2.0
DETAIL_WEIGHT_P = 2.0
DETAIL_WEIGHT_STILL = 1.0
# Format 12: the adaptive loop filter (alf.py), fitted per frame, kept where it pays
LOOP_FILTER = True
# Stills may split the filter into 2 or 4 activity classes (12 held-out photos at 384 px,
# BD-rate vs JPEG: one class -12.9 %, classes -13.4 %); video frames keep one (carphone, 17
# frames, Q1/3/5/7: classes +0.2 %, megamind, 9 frames, +0.7 % with an earlier choice rule)
LOOP_FILTER_CLASSES_STILL = (1, 2, 4)
# All-intra streams (gop 1, stills) code the detail layer with format 4's coarser steps
# (intra_rd BD-rate vs JPEG -3.5 %, with format 5's -2.0 %); GOP keyframes, as references,
# gain from the finer ones (12 frames, Q1/3/5/7, coarse keyframes: carphone +0.8,
# bigbuckbunny 640x360 +8.0, megamind 360x264 -0.1 %).
COARSE_STILLS = True
# Video frames leave out the detail layer's chroma coefficients at or above CHROMA_CUT of each
# transform's frequency range (detail.high_chroma; format 18's axes only, whose chroma moves no
# luma) when the source's chroma is coarser than its luma (StreamEncoder's subsampled_chroma:
# a 4:2:0 or 4:2:2 video, as codec.media reads it): the chroma detail of its RGB frames up
# there is what the upsampler to RGB made, and a 4:2:0 measure (video_rd's; x264 codes 4:2:0)
# keeps little of it. Full-resolution chroma (images, RGB or 4:4:4 video, the demo source)
# keeps it; so do stills of unknown origin (intra_rd measures RGB).
# A/B against no cut (Q1/3/5/7, BD-rate Y / YUV 6:1:1): carphone (30 frames) -1.32 / -1.37,
# megamind (9) -1.09 / -1.02, vtest (17) +0.21 / +0.25 %, sintel (12) 0.00 (identical streams:
# its chroma has no fine detail); mostly at Q5-Q7 (1-4 % fewer bits at +-0.01 dB). A cut at
# 0.75: carphone -0.81 / -0.70, vtest -0.07 / 0.00 %; 0.375 carphone -0.92 / -0.90, 0.25
# -1.05 / +0.72 %.
CHROMA_CUT: float | None = 0.5
# B-frames: groups of an anchor P-frame (predicted from the previous anchor) and up to
# B_FRAMES B-frames before it in display order, each predicted from the nearest coded frames
# before and after it (bipred.py), coded middle first so that a middle B-frame is the
# reference of the ones beside it. Levels: anchors at the stream's quality plus B_ANCHOR_UP,
# B-frames B_LEVELS_DOWN lower by layer of the hierarchy (1 is the middle one).
B_FRAMES = 3
MAX_B_FRAMES = 7
B_ANCHOR_UP = 0
B_LEVELS_DOWN = (1, 2, 3)  # per layer
DETAIL_WEIGHT_B = 2.0  # B-frames no other frame predicts from
B_BLOCKS = (16, 32)  # motion block sizes a B-frame tries (keeping the cheaper)
# Presets faster than medium: 32x32 only (ultrafast, Q1/3/5/7, BD-rate Y against P-frames
# only: carphone 17 frames -16.7 % against the choice's -19.0, bigbuckbunny 9 frames -9.4
# against -8.9 %, encode time -38 % and -27 %)
B_BLOCKS_FAST = (32,)
# Rounds of (fill unused vectors, warp, choose modes) per B-frame trial; format 10 codes no
# unused vector, so the last round keeps a block's previous mode rather than leave one with a
# difference (sintel 16 frames, BD-rate Y: one round +3.4 % against two)
MODE_ROUNDS = 2
# Group structure by trial (as x264's b-adapt 2, with the real coder): a group of B_FRAMES + 1
# frames is coded as one anchor with B_FRAMES B-frames, then as pairs (one B-frame each), then
# as P-frames only, each step only while the one before paid, and the coding that costs least
# in bits at equal mean luma PSNR is kept (`cheapest`). The first two groups of a GOP are
# tried, then every Preset.group_trials-th; the groups between reuse the last choice.
# 17 frames (room_handheld 13), Q1/3/5/7, BD-rate Y against 3 B-frames in every group, trying
# every group: room_handheld -8.4, megamind -4.5, vtest -0.2, carphone +0.6 %; every 4th
# group: megamind -3.8 %, carphone +0.6 %.
B_ADAPT = True  # (False: every group has `bframes` B-frames)
# dB of luma PSNR per e-fold of rate: ZVC69's curves measure 3-7 (median 5) from Q2 up,
# 4-9.5 from Q1 to Q2. 7 prices PSNR conservatively: a structure that spends more bits must
# buy more PSNR than most curves would (17 frames, every 4th group tried: carphone +0.57 % at
# 5, 0.00 at 7; megamind -3.77 at 5, -3.68 % at 7)
B_ADAPT_SLOPE = 7.0


def cheapest(tries: list[tuple[int, float]], per_frame_bits: float) -> int:
    """Which of several codings of the same frames, (bits, sum of their luma PSNRs), costs
    least in bits at equal mean PSNR, in a stream of `per_frame_bits` a frame on average:
    along an RD curve, a dB on every frame is worth 1 / B_ADAPT_SLOPE of an e-fold of the
    rate, so a dB on one frame is worth per_frame_bits / B_ADAPT_SLOPE bits."""
    price = per_frame_bits / B_ADAPT_SLOPE
    return min(range(len(tries)), key=lambda i: tries[i][0] - price * tries[i][1])


def luma_psnr(a: np.ndarray, b: np.ndarray) -> float:
    d = (luma(a) - luma(b)) * 255.0
    mse = float(np.mean(d.astype(np.float64) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def luma_histogram(frame: np.ndarray) -> np.ndarray:
    """Normalised 32-bin luma histogram."""
    h = np.bincount((luma(frame) * 31.999).astype(np.int32).ravel(), minlength=32)
    return h / max(1, h.sum())


def stats_path(path: Path) -> Path:
    """Where the encoder keeps its per-frame statistics beside the stream."""
    return path.with_name(path.name + ".stats.json")


@dataclass
class _BiPrediction:
    """A B-frame's prediction at one motion block size and its coded side information."""

    block: int
    mv_f: np.ndarray
    mv_b: np.ndarray
    modes: np.ndarray
    pred: np.ndarray
    temporal: bool
    sharp: bool
    mv_bytes: bytes
    back_bytes: bytes
    mode_bytes: bytes

    def motion_bytes(self) -> int:
        return len(self.mv_bytes) + len(self.back_bytes) + len(self.mode_bytes)


class Codecs:
    """The intra and residual coders of one model set on one backend."""

    def __init__(self, models: ModelSet, backend: Backend) -> None:
        self.models = models
        self.backend = backend
        self.intra = IntraCodec(HyperpriorCoder(models.intra, backend))
        self.residual = ResidualCodec(HyperpriorCoder(models.residual, backend))


def _ac_sse(err: np.ndarray, block: int = 8) -> float:
    """SSE (on a 0..1 scale) of an (H, W, 3) error about each block x block area's own mean
    (the whole blocks only): what is left once the detail layer's DC terms take the means."""
    h, w = err.shape[0] // block * block, err.shape[1] // block * block
    e = err[:h, :w].reshape(h // block, block, w // block, block, err.shape[2]) / np.float32(255.0)
    e = e - e.mean(axis=(1, 3), keepdims=True)
    return float(np.sum(e * e, dtype=np.float64))


def check_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """The encoder's own copy of a (height, width, 3) RGB frame: it holds frames for a B-frame
    group and keys cached planes by identity, so a caller may reuse its buffer."""
    if not isinstance(frame, np.ndarray) or frame.shape != (height, width, 3):
        shape = getattr(frame, "shape", type(frame).__name__)
        raise SourceError(f"frame of shape {shape} does not match the stream's "
                          f"{width}x{height} RGB")
    return np.array(frame, dtype=np.uint8, order="C", copy=True)


def luma255(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma (0.299 R + 0.587 G + 0.114 B) of an RGB image on the 8-bit scale, float64."""
    f = np.asarray(rgb, np.float64)
    return f[..., 0] * 0.299 + f[..., 1] * 0.587 + f[..., 2] * 0.114


def luma_cost(bits: int, recon: np.ndarray, src_y: np.ndarray, lam: float) -> float:
    """bits + lam x 3 x the luma SSE of recon against src_y (`luma255` of the source): the
    RGB SSE an error of that luma would have if it were grey (R = G = B), so that lam is the
    price `rd_cost` uses; chroma is not priced."""
    return bits + 3.0 * lam * float(np.sum((luma255(recon) - src_y) ** 2))


def rd_cost(bits: int, recon: np.ndarray, src: np.ndarray, lam: float) -> float:
    """bits + lam x the SSE of recon against src (float64, 8-bit scale): the measure the
    encoder's choices between two codings of a frame use."""
    return bits + lam * float(np.sum((recon - src) ** 2))


class StreamEncoder:
    """Encode frames one by one into a .zvc69 file (written atomically on close)."""

    def __init__(self, path: str | Path, width: int, height: int, fps: Fraction = Fraction(30),
                 quality: int = 4, preset: str = "medium", gop: int = 32,
                 device: str = "auto", threads: int | None = None, graph_opt: str = "all",
                 total_frames: int = 0, models: ModelSet | None = None,
                 codecs: Codecs | None = None, scene_cut: bool = True,
                 bframes: int | None = None, b_adapt: bool | None = None,
                 subsampled_chroma: bool | None = None) -> None:
        """subsampled_chroma: whether the source's chroma is coarser than its luma (a 4:2:0 or
        4:2:2 video: the detail layer then leaves out fine chroma, CHROMA_CUT); None assumes so
        for a video (gop > 1) and not for a still."""
        if not (1 <= width <= MAX_DIMENSION and 1 <= height <= MAX_DIMENSION):
            raise SourceError(f"frame size {width}x{height} is outside 1..{MAX_DIMENSION}")
        if not 1 <= quality <= 8:
            raise ZVC69Error(f"quality must be 1..8, not {quality}")
        if not 1 <= gop <= 255:
            raise ZVC69Error(f"GOP length must be 1..255, not {gop}")
        bframes = B_FRAMES if bframes is None else bframes
        if not 0 <= bframes <= MAX_B_FRAMES:
            raise ZVC69Error(f"B-frames between anchors must be 0..{MAX_B_FRAMES}, not {bframes}")
        self.bframes = bframes
        self.b_adapt = B_ADAPT if b_adapt is None else b_adapt
        try:
            self.preset = get_preset(preset)
        except ValueError as exc:
            raise ZVC69Error(str(exc)) from None
        fps = Fraction(fps).limit_denominator(1001)
        if fps <= 0 or fps.numerator > 0xFFFF or fps.denominator > 0xFFFF:
            raise ZVC69Error(f"frame rate {fps} cannot be stored")
        self.codecs = codecs or Codecs(models or load_models(),
                                       Backend(device, threads, graph_opt))
        models = self.codecs.models
        self.path = Path(path)
        self.width, self.height, self.fps = width, height, fps
        self.quality, self.gop, self.scene_cut = quality, gop, scene_cut
        self.total_frames = total_frames
        subsampled = gop > 1 if subsampled_chroma is None else subsampled_chroma
        self.chroma_cut = CHROMA_CUT if subsampled else None
        self.rd_skip = list(PRESETS).index(self.preset.name) >= RD_SKIP_FROM
        self.motion_preset = for_quality(self.preset, quality)
        self.layout = container.VERSION[0]  # payload layouts: format 4, or 3 (old readers)
        header = FileHeader(width=width, height=height, fps_num=fps.numerator,
                            fps_den=fps.denominator, total_frames=total_frames, gop_size=gop,
                            quality=quality, colour_space=2, bit_depth=8,
                            model_hash=models.hash, latent_channels=models.intra.latent_channels,
                            hyperprior_channels=models.intra.hyper_channels,
                            flags=container.YCC_AXES if self.layout >= YCC_FROM else 0)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = ContainerWriter(self.path, header)
        self.stats: list[FrameStats] = []
        self._ref: np.ndarray | None = None  # the last anchor's (I or P) reconstruction
        self._ref_n = -1  # its display index
        self._pending: list[np.ndarray] = []  # frames held for a B-frame group
        self._unwritten: list[tuple[FrameStats, dict[str, Any]]] = []  # the group's, coded
        self._coded = 0  # frames written (decode order)
        self._ref_order: list[int] = []  # display indices of recent references, decode order
        self._hist: np.ndarray | None = None
        self._since_key = 0
        self._learned_lost = False  # the last learned-residual trial lost (or was skipped)
        self._bcount = bframes  # B-frames per anchor, as the last group trial chose
        self._groups = 0  # groups started in this GOP
        self._searched: list[tuple[np.ndarray, np.ndarray]] = []  # (frame, its searched luma)

    @property
    def frames_done(self) -> int:
        return len(self.stats)

    def _grey(self, frame: np.ndarray) -> bool:
        """Whether a source frame is coded as a grey frame (format 16: R = G = B throughout)."""
        return self.layout >= GREY_FROM and is_grey(frame)

    def encode(self, frame: np.ndarray) -> list[tuple[np.ndarray, FrameStats]]:
        """Take one (H, W, 3) uint8 RGB frame; returns the frames coded by this call (their
        reconstructions and statistics, in display order): with B-frames the encoder holds
        frames until the one that ends their group arrives (`flush` codes the rest)."""
        self._pending.append(check_frame(frame, self.width, self.height))
        if len(self._pending) < self._group_length():
            return []
        return self._code_group()

    def encode_all(self, frames: Iterable[np.ndarray]
                   ) -> tuple[list[np.ndarray], list[FrameStats]]:
        """Encode every frame and flush: reconstructions and statistics in display order."""
        done = [d for f in frames for d in self.encode(f)] + self.flush()
        return [r for r, _ in done], [st for _, st in done]

    def flush(self) -> list[tuple[np.ndarray, FrameStats]]:
        """Code the frames held for a B-frame group (the last one becomes its anchor)."""
        return self._code_group() if self._pending else []

    def _group_length(self) -> int:
        """Frames in the group that starts with the first pending one: an anchor and the
        B-frames before it, never across a keyframe (GOPs stay closed)."""
        if (self._ref is None or self.bframes == 0 or self._since_key >= self.gop
                or self.layout < 9):  # (streams of older formats, for tests, have none)
            return 1
        return min(self.bframes + 1, self.gop - self._since_key)

    def _code_group(self) -> list[tuple[np.ndarray, FrameStats]]:
        frames, self._pending = self._pending, []
        base = len(self.stats)
        hists = [luma_histogram(f) for f in frames]
        jumps = [float(np.abs(b - a).sum()) > SCENE_CUT_HIST
                 for a, b in zip([self._hist, *hists[:-1]], hists, strict=True)
                 if a is not None]
        if len(frames) == 1 or (self.scene_cut and any(jumps)):
            done = self._code_chunks(frames, base, hists, 0)
        else:
            every = self.preset.group_trials
            # the first group of a GOP predicts from the keyframe (a level up), so the second
            # is tried too before a choice is carried over
            tried = self.b_adapt and every > 0 and (self._groups % every == 0
                                                    or self._groups == 1)
            self._groups += 1
            done = (self._try_structures(frames, base, hists) if tried
                    else self._code_chunks(frames, base, hists, self._bcount))
        for st, fields in self._unwritten:  # a group is written whole or not at all
            t0 = time.perf_counter()
            self.writer.write_frame(**fields)
            st.timings["io"] = st.timings.get("io", 0.0) + (time.perf_counter() - t0) * 1000
        self._unwritten = []
        done.sort(key=lambda d: d[1].index)
        self.stats[base:] = [st for _, st in done]
        return done

    def _code_chunks(self, frames: list[np.ndarray], base: int, hists: list[np.ndarray],
                     bcount: int) -> list[tuple[np.ndarray, FrameStats]]:
        """The group as runs of an anchor and `bcount` B-frames before it (a shorter run at
        the end); a run whose anchor prediction fails is coded frame by frame."""
        done: list[tuple[np.ndarray, FrameStats]] = []
        for i in range(0, len(frames), bcount + 1):
            run, hs = frames[i:i + bcount + 1], hists[i:i + bcount + 1]
            if len(run) == 1 or not self._code_bidir(run, base + i, hs[-1], done):
                done += [self._code_one(f, base + i + k, h)
                         for k, (f, h) in enumerate(zip(run, hs, strict=True))]
        return done

    def _try_structures(self, frames: list[np.ndarray], base: int,
                        hists: list[np.ndarray]) -> list[tuple[np.ndarray, FrameStats]]:
        """Code the group with the most B-frames (`bframes`) per anchor, then pairs, then
        P-frames only (each step to fewer B-frames only while the one before paid) and keep
        the coding that costs least in bits at equal mean luma PSNR (`B_ADAPT_SLOPE`); the
        others' frames are never written."""
        start = self._state()
        tries: list[tuple[Any, ...]] = []
        best = 0
        for bcount in sorted({min(b, len(frames) - 1) for b in (self.bframes, 1, 0)},
                             reverse=True):
            self._set_state(start)
            t0 = time.perf_counter()
            done = self._code_chunks(frames, base, hists, bcount)
            ms = (time.perf_counter() - t0) * 1000
            bits = 8 * sum(len(f["payload"]) for _, f in self._unwritten)
            psnr = sum(min(st.psnr_y, 99.0) for _, st in done)
            tries.append((bits, psnr, bcount, done, self._state(), ms))
            price = self._frame_bits(base, [t[0] / len(frames) for t in tries])
            best = cheapest([t[:2] for t in tries], price)
            if best != len(tries) - 1:  # fewer B-frames did not pay: still fewer are not tried
                break
        _, _, self._bcount, done, state, _ = tries[best]
        self._set_state(state)
        lost = sum(t[5] for i, t in enumerate(tries) if i != best) / len(done)
        for _, st in done:  # the trials not kept, spread over the frames that were
            st.timings["group_trial"] = lost
        return done

    def _frame_bits(self, base: int, tried: list[float]) -> float:
        """The stream's bits a frame, to price PSNR in a group trial of the frames from
        `base`: the GOP's keyframe spread over the GOP, plus the mean of its inter frames so
        far and of the tries' bits a frame (`tried`)."""
        key = next((i for i in range(base - 1, -1, -1) if self.stats[i].keyframe), 0)
        inter = [8 * st.size_bytes for st in self.stats[key + 1:base]] + tried
        length = min(self.gop, self.total_frames - key) if self.total_frames > key else self.gop
        return 8 * self.stats[key].size_bytes / length + float(np.mean(inter))

    _STATE = ("_ref", "_ref_n", "_hist", "_learned_lost", "_since_key", "_coded", "_groups")

    def _state(self) -> tuple[Any, ...]:
        """What coding a group changes, to try several structures from the same start."""
        return (tuple(getattr(self, k) for k in self._STATE), list(self._ref_order),
                list(self.stats), list(self._unwritten))

    def _set_state(self, state: tuple[Any, ...]) -> None:
        values, ref_order, stats, unwritten = state
        for k, v in zip(self._STATE, values, strict=True):
            setattr(self, k, v)
        self._ref_order, self.stats, self._unwritten = list(ref_order), list(stats), list(
            unwritten)

    def _code_bidir(self, frames: list[np.ndarray], base: int, hist: np.ndarray,
                    done: list[tuple[np.ndarray, FrameStats]]) -> bool:
        """The group as an anchor P-frame (the last frame, predicted from the previous anchor)
        and B-frames between, coded middle first (hierarchically); False, with nothing
        written, if the anchor's prediction fails (a scene cut: then code frame by frame)."""
        prev = self._ref
        assert prev is not None
        last = base + len(frames) - 1
        prof = Profiler()
        payload, recon, st = self._encode_p(frames[-1], last, prof, False,
                                            min(8, self.quality + B_ANCHOR_UP))
        if st is None:
            return False
        self._hist = hist
        done.append(self._write(FrameType.P, payload, frames[-1], recon, st, prof))
        refs = {base - 1: prev, last: recon}
        assert st.mv is not None
        fields = {last: (st.mv, last - base + 1)}  # a reference's field pointing back, span

        def middle(lo: int, hi: int, depth: int) -> None:
            if hi - lo < 2:
                return
            mid = (lo + hi) // 2
            reference = hi - lo > 2
            prof = Profiler()
            drop = B_LEVELS_DOWN[min(depth, len(B_LEVELS_DOWN)) - 1]
            level = max(1, self.quality + B_ANCHOR_UP - drop)
            payload, rec, st = self._encode_b(frames[mid - base], mid, (lo, hi), refs[lo],
                                              refs[hi], level, reference, fields[hi], prof)
            done.append(self._write(FrameType.B, payload, frames[mid - base], rec, st, prof,
                                    layer=depth))
            if reference:
                assert st.mv is not None
                refs[mid], fields[mid] = rec, (st.mv, mid - lo)
            middle(lo, mid, depth + 1)
            middle(mid, hi, depth + 1)

        middle(base - 1, last, 1)
        self._ref, self._ref_n = recon, last
        return True

    def _code_one(self, frame: np.ndarray, n: int,
                  hist: np.ndarray) -> tuple[np.ndarray, FrameStats]:
        """Frame n as an I-frame or a P-frame from the last reconstruction (GOP, scene cuts)."""
        prof = Profiler()
        key = self._ref is None or self._since_key >= self.gop
        cut = False
        jump = (self.scene_cut and self._hist is not None
                and float(np.abs(hist - self._hist).sum()) > SCENE_CUT_HIST)
        self._hist = hist
        st: FrameStats | None = None
        if not key:
            level = self.quality
            if self._since_key % ANCHOR_EVERY == 0:  # a better reference for the next frames
                level = min(8, level + 1)
            payload, recon, st = self._encode_p(frame, n, prof, jump, level)
            if st is None:  # prediction failed: scene cut
                key = cut = True
        if key:
            self._learned_lost = False
            payload, recon, st = self._encode_i(frame, n, prof)
        assert st is not None
        st.scene_cut = cut
        out = self._write(FrameType.I if key else FrameType.P, payload, frame, recon, st, prof)
        self._ref, self._ref_n = recon, n
        return out

    def _write(self, ftype: FrameType, payload: bytes, frame: np.ndarray, recon: np.ndarray,
               st: FrameStats, prof: Profiler, layer: int = 0) -> tuple[np.ndarray, FrameStats]:
        """Append a coded frame to the stream (decode order) and finish its statistics."""
        key = ftype == FrameType.I
        ref_flags = 0
        if not key:  # bit k: the k-th most recent reference in decode order
            uses = st.refs if st.refs is not None else (self._ref_n,)
            for d in uses:
                ref_flags |= 1 << (len(self._ref_order) - 1 - self._ref_order.index(d))
        tick = 90000 / self.fps
        pts, dts = round(st.index * tick), round(self._coded * tick)
        if pts >= container.MAX_PTS:
            raise ZVC69Error(f"frame {st.index} lies past the container's time limit "
                             f"({container.MAX_PTS / 90000 / 86400:.0f} days)")
        self._unwritten.append((st, dict(
            frame_type=ftype, payload=payload, pts=pts, dts=dts, keyframe=key,
            reference=st.reference, temporal_layer=layer, ref_flags=ref_flags,
            qp_offset=st.quality - self.quality, filtered=st.loop_filter is not None,
            grey=st.grey)))
        st.pts = pts
        st.decode_index = self._coded
        st.size_bytes = len(payload) + self.writer.frame_header_size
        st.psnr = psnr_rgb(frame, recon)
        st.psnr_y = luma_psnr(frame, recon)
        st.timings = prof.take()
        self._coded += 1
        if st.reference:
            self._ref_order = [*self._ref_order[-15:], st.index]
        self._since_key = 1 if key else self._since_key + 1
        if key:
            self._groups = 0  # a GOP's first two groups are tried
        self.stats.append(st)
        return recon, st

    def _intra(self, frame: np.ndarray, level: int,
               prof: Profiler) -> tuple[IntraPayload, np.ndarray, Latents]:
        """The intra coder with this stream's format: bars from 6, latent prediction from 8."""
        return self.codecs.intra.encode(frame, level, prof, bars=self.layout >= 6,
                                        spatial=self.layout >= 8)

    def _encode_i(self, frame: np.ndarray, n: int,
                  prof: Profiler) -> tuple[bytes, np.ndarray, FrameStats]:
        q = self.quality
        if self.gop == 1:  # a still: INTRA_PLAN, the detail layer at q
            return self._code_intra(frame, n, *INTRA_PLAN[q - 1], q, prof)
        # a GOP's keyframe: the detail layer at the boosted level (I_LEVEL), the intra latents
        # at it or KEY_INTRA_DOWN levels below, whichever costs less at the detail's price of
        # luma SSE
        top = I_LEVEL[q - 1]
        levels = list(dict.fromkeys((max(1, top - KEY_INTRA_DOWN), top)))
        tried = [self._code_intra(frame, n, lv, 0, top, prof)
                 for lv in (levels if KEY_INTRA_TRIAL else levels[:1])]
        if len(tried) == 1:
            return tried[0]
        lam = DETAIL_WEIGHT_I * LAMBDAS[top - 1] / 3.0  # bits per 8-bit SSE
        if KEY_TRIAL_LUMA:
            ys = luma255(frame)
            return min(tried, key=lambda t: luma_cost(8 * len(t[0]), t[1], ys, lam))
        src = frame.astype(np.float64)
        return min(tried, key=lambda t: rd_cost(8 * len(t[0]), t[1], src, lam))

    def _code_intra(self, frame: np.ndarray, n: int, level: int, refine_level: int,
                    detail_level: int, prof: Profiler) -> tuple[bytes, np.ndarray, FrameStats]:
        """An I-frame: intra latents at `level`, a refinement pass at `refine_level` (0: none;
        stills of older plans), the detail layer at `detail_level`, the loop filter."""
        q = self.quality
        payload, recon, lat = self._intra(frame, level, prof)
        rows, cols = -(-self.height // BLOCK), -(-self.width // BLOCK)
        bits_map = lat.bits_map
        st = FrameStats(index=n, frame_type="I", width=self.width, height=self.height,
                        quality=level, keyframe=True, block_size=BLOCK, grey=self._grey(frame))
        st.bars = None if payload.bars is None else payload.bars.sides
        refined = (encode_refinement(self.codecs.residual, frame, recon, refine_level,
                                     self.rd_skip, prof) if refine_level else None)
        if refine_level and refined is None:  # the pass did not pay: intra alone at level q
            st.quality = q
            payload, recon, lat = self._intra(frame, q, prof)
            bits_map = lat.bits_map
        if refined is not None:
            payload.refine, coded = refined
            st.refine_quality = refine_level
            assert coded.latents is not None
            recon = coded.recon
            bits_map = bits_map + coded.latents.bits_map
            st.skip = coded.skip[:rows, :cols].copy()
            st.residual_energy = coded.energy[:rows, :cols].copy()
        still = self.gop == 1
        detail = encode_detail(frame, recon, detail_level, prof, self.layout,
                               DETAIL_WEIGHT_STILL if still else DETAIL_WEIGHT_I,
                               still and COARSE_STILLS, st.grey, self.chroma_cut)
        if detail is not None:
            payload.detail_bytes = detail.section.pack()
            base = recon
            recon = loop_filter(detail.recon, detail.section, detail.keep, self.layout, prof,
                                detail.kinds)
            st.detail_blocks = detail.transforms()
            st.detail_quality = detail.section.level
            lat_rows, lat_cols = bits_map.shape
            bits_map = bits_map + to_latent_grid(detail.bits_map, lat_rows, lat_cols)
            energy = block_energy(recon, base.astype(np.float32), bits_map.shape)[:rows, :cols]
            if st.residual_energy is not None:
                energy = energy + st.residual_energy
            st.residual_energy = energy.copy()
        st.bits = payload.bits()
        st.latent_prediction = payload.spatial
        st.bits_per_block = bits_map[:rows, :cols].copy()
        return self._filter(frame, recon, payload.pack(), st,
                            DETAIL_WEIGHT_STILL if still else DETAIL_WEIGHT_I, prof,
                            LOOP_FILTER_CLASSES_STILL if still else (1,))

    def _encode_p(self, frame: np.ndarray, n: int, prof: Profiler, jump: bool,
                  level: int) -> tuple[bytes, np.ndarray, FrameStats | None]:
        ref = self._ref
        assert ref is not None
        p = self.preset
        mv, pred = self._motion(frame, ref, prof)
        mae = float(np.mean(np.abs(pred - frame))) / 255.0
        if self.scene_cut and (mae > SCENE_CUT_MAE or (jump and mae > SCENE_CUT_HIST_MAE)):
            prof.take()
            return b"", frame, None
        # Scene cuts are judged on the plain reference (weights would match a new scene's
        # brightness too); a fade is then predicted from the weighted one.
        with prof.stage("motion_search"):
            if self.layout >= 7:
                weights = estimate_weights_v7(frame, pred, shared_bars(frame, ref))
            else:
                weights = estimate_weights(frame, ref)
        if weights is not None:
            ref = apply_weights(ref, weights)
            mv, pred = self._motion(frame, ref, prof)
        block = p.block
        with prof.stage("motion_coding"):
            mv_bytes = encode_mvs(mv, p.subpel, self.layout >= 7)
        if self.layout >= P32_FROM and self.rd_skip:  # format 14: also 32x32 blocks
            for other in P_BLOCKS_TRIED:
                mv2, pred2 = self._motion(frame, ref, prof, block=other)
                with prof.stage("motion_coding"):
                    bytes2 = encode_mvs(mv2, p.subpel)
                if (self._field_cost(frame, bytes2, pred2)
                        < self._field_cost(frame, mv_bytes, pred)):
                    mv, pred, block, mv_bytes = mv2, pred2, other, bytes2
        pred, sharp = self._sharper(frame, pred, prof, lambda: warp(ref, mv, block, "sharp8"))
        base = InterPayload(level, block, p.subpel, mv_bytes, b"", b"", b"", False,
                            weights=weights, layout=self.layout, sharp=sharp)
        st = FrameStats(index=n, frame_type="P", width=self.width, height=self.height,
                        quality=level, block_size=BLOCK, mv_block=block, mv=mv,
                        weights=None if weights is None else weights.stats(), sharp_mc=sharp,
                        grey=self._grey(frame))
        payload, recon = self._code_residual(frame, pred, base, st, prof, DETAIL_WEIGHT_P)
        return payload, recon, st

    def _encode_b(self, frame: np.ndarray, n: int, refs: tuple[int, int], before: np.ndarray,
                  after: np.ndarray, level: int, reference: bool,
                  hint: tuple[np.ndarray, int],
                  prof: Profiler) -> tuple[bytes, np.ndarray, FrameStats]:
        """A B-frame: motion fields towards the references before and after it, per block
        the better of the two predictions or their average (at the motion block size of
        B_BLOCKS that costs least), then the residual as P-frames."""
        best: tuple[float, _BiPrediction] | None = None
        for block in B_BLOCKS if self.rd_skip else B_BLOCKS_FAST:
            bi = self._bidir(frame, n, refs, before, after, block, hint, prof)
            cost = self._field_cost(frame, bi.motion_bytes(), bi.pred)
            if best is None or cost < best[0]:
                best = (cost, bi)
        assert best is not None
        bi = best[1]
        base = InterPayload(level, bi.block, self.preset.subpel, bi.mv_bytes, b"", b"", b"",
                            False, layout=self.layout, refs=(n - refs[0], refs[1] - n),
                            mv_back_bytes=bi.back_bytes, mode_bytes=bi.mode_bytes,
                            temporal=bi.temporal, sharp=bi.sharp)
        st = FrameStats(index=n, frame_type="B", width=self.width, height=self.height,
                        quality=level, block_size=BLOCK, mv_block=bi.block, mv=bi.mv_f,
                        refs=refs, mv_back=bi.mv_b, modes=bi.modes, reference=reference,
                        sharp_mc=bi.sharp, grey=self._grey(frame))
        payload, recon = self._code_residual(
            frame, bi.pred, base, st, prof, DETAIL_WEIGHT_P if reference else DETAIL_WEIGHT_B)
        return payload, recon, st

    def _field_cost(self, frame: np.ndarray, motion: bytes | int, pred: np.ndarray) -> float:
        """What a motion block size is chosen by: the field's bits (`motion`: its bytes or
        their count) + MV_SSE_WEIGHT x the stream level's lambda x the prediction's SSE."""
        lam = MV_SSE_WEIGHT * LAMBDAS[self.quality - 1] / 3.0
        n = motion if isinstance(motion, int) else len(motion)
        return 8 * n + lam * float(np.sum((pred - frame.astype(np.float32)) ** 2,
                                          dtype=np.float64))

    def _mode_bit_sse(self) -> float:
        """The SSE (8-bit RGB) a bit of the B-frame mode map is worth: MODE_RATE x its price
        in the motion choice (0: modes by SSE alone)."""
        return MODE_RATE * 3.0 / (MV_SSE_WEIGHT * LAMBDAS[self.quality - 1])

    def _bidir(self, frame: np.ndarray, n: int, refs: tuple[int, int], before: np.ndarray,
               after: np.ndarray, block: int, hint: tuple[np.ndarray, int],
               prof: Profiler) -> _BiPrediction:
        """A B-frame's prediction with `block`-pixel motion blocks, and its coded side."""
        subpel = self.preset.subpel
        mv_f, pred_f = self._motion(frame, before, prof, block=block)
        mv_b, pred_b = self._motion(frame, after, prof, block=block)
        with prof.stage("warp"):
            modes = choose_modes(frame, pred_f, pred_b, block, self._mode_bit_sse())
        t_f, t_b = np.zeros_like(mv_f), np.zeros_like(mv_b)
        temporal = hint[0].shape == mv_f.shape
        if temporal:
            t_f, t_b = temporal_prediction(*hint, n - refs[0], refs[1] - n, subpel)
            with prof.stage("motion_coding"):  # the cheaper of vectors as they are and as
                temporal = (len(encode_mvs(mv_f - t_f, subpel))  # differences from that
                            + len(encode_mvs(mv_b - t_b, subpel))
                            < len(encode_mvs(mv_f, subpel)) + len(encode_mvs(mv_b, subpel)))
        if not temporal:
            t_f, t_b = np.zeros_like(t_f), np.zeros_like(t_b)
        with prof.stage("warp"):
            for round_ in range(1, MODE_ROUNDS + 1):
                # vectors a block does not use, set to their prediction, cost (almost) nothing
                mv_f = t_f + fill_unused(mv_f - t_f, modes == BACKWARD)
                mv_b = t_b + fill_unused(mv_b - t_b, modes == FORWARD)
                pred_f, pred_b = warp(before, mv_f, block), warp(after, mv_b, block)
                chosen = choose_modes(frame, pred_f, pred_b, block, self._mode_bit_sse())
                d_f, d_b = differences(mv_f - t_f, subpel), differences(mv_b - t_b, subpel)
                # format 10 codes no vector a block leaves unused: where the new choice
                # would leave one that has a difference, fill again (or, in the last round,
                # keep the mode the vectors were filled for)
                loose = ((chosen == BACKWARD) & d_f.any(-1) | (chosen == FORWARD) & d_b.any(-1)
                         if self.layout >= 10 else np.zeros(modes.shape, bool))
                if not loose.any() or round_ == MODE_ROUNDS:
                    chosen[loose] = modes[loose]
                    modes = chosen
                    break
                modes = chosen
            pred = blend(pred_f, pred_b, modes, block)
        pred, sharp = self._sharper(frame, pred, prof, lambda: blend(
            warp(before, mv_f, block, "sharp8"), warp(after, mv_b, block, "sharp8"), modes,
            block))
        with prof.stage("motion_coding"):
            if self.layout >= 10:
                side = encode_bside(d_f, d_b, modes)
                return _BiPrediction(block, mv_f, mv_b, modes, pred, temporal, sharp, side,
                                     b"", b"")
            return _BiPrediction(block, mv_f, mv_b, modes, pred, temporal, sharp,
                                 encode_mvs(mv_f - t_f, subpel), encode_mvs(mv_b - t_b, subpel),
                                 encode_modes(modes))

    def _code_residual(self, frame: np.ndarray, pred: np.ndarray, base: InterPayload,
                       st: FrameStats, prof: Profiler, weight: float) -> tuple[bytes, np.ndarray]:
        """The residual of a P- or B-frame on its prediction: fills in `base` (the payload
        with its motion side) and `st`; returns the packed payload and the reconstruction.
        weight: of the detail layer's distortion price (callers read DETAIL_WEIGHT_* at the
        call, so that changing the module's values takes effect)."""
        coded, detail = self._residual(frame, pred, base.level, prof, weight, st.grey)
        with prof.stage("motion_coding"):
            skip_bytes = encode_skip(coded.skip)
        lat = coded.latents
        recon, energy = coded.recon, coded.energy
        bits_map = lat.bits_map if lat else np.zeros(coded.skip.shape, np.float32)
        if detail is not None:
            recon = loop_filter(detail.recon, detail.section, detail.keep, self.layout, prof,
                                detail.kinds)
            st.detail_blocks = detail.transforms()
            st.detail_quality = detail.section.level
            energy = block_energy(recon, pred, coded.skip.shape)
            bits_map = bits_map + to_latent_grid(detail.bits_map, *coded.skip.shape)
        payload = replace(base, skip_bytes=skip_bytes, z_bytes=lat.z_bytes if lat else b"",
                          y_bytes=lat.y_bytes if lat else b"", has_residual=lat is not None,
                          detail_bytes=detail.section.pack() if detail else b"",
                          spatial=coded.spatial)
        rows, cols = -(-self.height // BLOCK), -(-self.width // BLOCK)
        skip = coded.skip  # reported: blocks that get no residual at all
        if detail is not None:
            skip = skip & ~any_on_latent_grid(detail.keep, *skip.shape)
        st.bits = payload.bits()
        st.skip = skip[:rows, :cols].copy()
        st.residual_energy = energy[:rows, :cols].copy()
        st.bits_per_block = bits_map[:rows, :cols].copy()
        st.latent_prediction = payload.spatial
        packed, recon, _ = self._filter(
            frame, recon, payload.pack() if self.layout >= 4 else payload.pack_v3(), st, weight,
            prof)
        return packed, recon

    def _filter(self, frame: np.ndarray, recon: np.ndarray, payload: bytes, st: FrameStats,
                weight: float, prof: Profiler, classes: tuple[int, ...] = (1,)
                ) -> tuple[bytes, np.ndarray, FrameStats]:
        """Format 12: the adaptive loop filter (alf.py) on the frame's reconstruction, where
        it pays at the frame's level and detail weight; its record ends the payload."""
        if st.grey:  # (the filter keeps a grey frame grey)
            recon = greyify(recon)
        if self.layout < alf.FROM or not LOOP_FILTER:
            return payload, recon, st
        found = alf.fit(recon, frame, weight * LAMBDAS[st.quality - 1] / 3.0, prof, st.bars,
                        classes)
        if found is None:
            return payload, recon, st
        filt, recon = found
        st.loop_filter = filt.stats()
        st.bits["filter"] = 8 * filt.size
        return payload + filt.pack(), recon, st

    def _residual(self, frame: np.ndarray, pred: np.ndarray, level: int, prof: Profiler,
                  weight: float, grey: bool = False
                  ) -> tuple[CodedResidual, CodedDetail | None]:
        """The learned residual and the detail layer on top of it; where the learned residual
        is sent, also the detail layer alone on the prediction, keeping the cheaper in
        bits + lambda * SSE. After a frame on which the learned residual lost, only the
        detail layer alone, but on every LEARNED_PROBE-th frame of the GOP."""
        rc = self.codecs.residual

        def detail_alone() -> tuple[CodedResidual, CodedDetail | None]:
            bare = rc.prediction_only(pred, prof)
            return bare, encode_detail(frame, bare.recon, level, prof, self.layout, weight,
                                       grey=grey, chroma_cut=self.chroma_cut)

        if self._learned_lost and self._since_key % LEARNED_PROBE:
            return detail_alone()
        coded = rc.encode(frame, pred, level, self.rd_skip, prof, self.layout >= 8)
        detail = encode_detail(frame, coded.recon, level, prof, self.layout, weight,
                               grey=grey, chroma_cut=self.chroma_cut)
        if coded.latents is None:
            self._learned_lost = True
            return coded, detail
        lam = LAMBDAS[level - 1] / 3.0  # bits per 8-bit SSE, as residual.py's
        src = frame.astype(np.float64)

        def cost(c: CodedResidual, d: CodedDetail | None) -> float:
            bits = 0 if c.latents is None else 8 * (len(c.latents.z_bytes)
                                                     + len(c.latents.y_bytes)
                                                     + len(encode_skip(c.skip)))
            if d is not None:
                bits += d.section.bits()
            recon = c.recon if d is None else d.recon
            return rd_cost(bits, greyify(recon) if grey else recon, src, lam)

        alone = detail_alone()
        won = cost(coded, detail) <= cost(*alone)
        self._learned_lost = not won
        return (coded, detail) if won else alone

    def _sharper(self, frame: np.ndarray, pred: np.ndarray, prof: Profiler,
                 sharp: Callable[[], np.ndarray]) -> tuple[np.ndarray, bool]:
        """Format 13: the prediction `sharp` makes with the 8-tap filter where its SSE is
        lower than the cubic one's, and whether it is."""
        if self.layout < SHARP_FROM or not SHARP_MC:
            return pred, False
        with prof.stage("warp"):
            alt = sharp()
        target = frame.astype(np.float32)
        if np.sum((alt - target) ** 2, dtype=np.float64) < np.sum((pred - target) ** 2,
                                                                  dtype=np.float64):
            return alt, True
        return pred, False

    def _motion(self, frame: np.ndarray, ref: np.ndarray, prof: Profiler,
                block: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The motion field and its prediction: of the fields searched at each of the preset's
        rate weights, the one with the lowest motion bits + weighted prediction SSE. Where
        those fields reach the edge of the search range, fields searched within the preset's
        wide range replace them if they cost less with the SSE of each 8x8 block's error
        about its mean (`_ac_sse`): a far vector that only matches brightness (a fade over
        a gradient) lowers the SSE, not what coding the error costs."""
        p = self.motion_preset
        if block is not None:  # a B-frame's
            p = replace(p, block=block)
        lam = MV_SSE_WEIGHT * LAMBDAS[self.quality - 1] * 255.0**2 / 3.0
        target = frame.astype(np.float32)
        with prof.stage("motion_search"):
            cur_y, ref_y = self._search_luma(frame), self._search_luma(ref)
            fields = estimate_motions(cur_y, ref_y, p, p.mv_trials)
        go_wide = needs_wide(p, fields)
        best = self._cheapest_field(fields, ref, target, p, lam, prof, go_wide)
        if not go_wide:
            return best[1], best[2]
        with prof.stage("motion_search"):
            wide = replace(p, search_range=p.wide_range, wide_range=0)
            fields = estimate_motions(cur_y, ref_y, wide, p.mv_trials)
        alt = self._cheapest_field(fields, ref, target, p, lam, prof, True)
        if alt[3] + lam * _ac_sse(alt[2] - target) < best[3] + lam * _ac_sse(best[2] - target):
            return alt[1], alt[2]
        return best[1], best[2]

    def _search_luma(self, img: np.ndarray) -> np.ndarray:
        """The plane motion is searched on (luma, high-passed by MOTION_HIGHPASS), kept for the
        last few images: a frame and its references are searched against up to eight times
        (P: plain and weighted reference, 16 and 32 blocks; B: two references x two sizes;
        group structures tried). Keyed by identity: encoder images are never written to."""
        for im, y in self._searched:
            if im is img:
                return y
        y = luma(img)
        if MOTION_HIGHPASS:
            y = highpass(y, MOTION_HIGHPASS)
        self._searched = [(img, y), *self._searched[:SEARCHED_KEPT - 1]]
        return y

    def _cheapest_field(self, fields: list[np.ndarray], ref: np.ndarray, target: np.ndarray,
                        p: Preset, lam: float, prof: Profiler, always: bool
                        ) -> tuple[float, np.ndarray, np.ndarray, int]:
        """(motion bits + lam x prediction SSE, field, prediction, motion bits) of the cheapest
        field; a single field is returned uncosted (0, 0) unless `always`."""
        best: tuple[float, np.ndarray, np.ndarray, int] | None = None
        for mv in fields:
            with prof.stage("warp"):
                pred = warp(ref, mv, p.block)
            if len(fields) == 1 and not always:
                return 0.0, mv, pred, 0
            with prof.stage("motion_coding"):
                bits = 8 * len(encode_mvs(mv, p.subpel, self.layout >= 7))
            sse = float(np.sum(((pred - target) / 255.0) ** 2, dtype=np.float64))
            cost = bits + lam * sse
            if best is None or cost < best[0]:
                best = (cost, mv, pred, bits)
        assert best is not None
        return best

    def close(self) -> Path:
        """Code the frames still held (`flush`), finish the file (index, header, atomic
        rename) and write the statistics beside it."""
        self.flush()
        path = self.writer.close()
        self._write_stats()
        return path

    def abort(self, keep: bool = True) -> None:
        """Stop: keep=True leaves a valid file of the frames done so far (frames held for a
        B-frame group are dropped), False removes it."""
        self._pending, self._unwritten = [], []
        del self.stats[self.writer.frames_written:]  # a group cut short is not written
        had_frames = self.writer.frames_written > 0
        self.writer.abort(keep=keep)
        if keep and had_frames:
            self._write_stats()

    def _write_stats(self) -> None:
        rows = [s.summary() | {"timings": s.timings} for s in self.stats]
        tmp = stats_path(self.path).with_suffix(".partial")
        tmp.write_text(json.dumps({"frames": rows}, allow_nan=True) + "\n")
        tmp.replace(stats_path(self.path))

    def __enter__(self) -> StreamEncoder:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort(keep=True)
