"""`zvc69 encode`, `zvc69 decode` and `zvc69 demo`: the codec's command-line jobs."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

from .backend import DEVICES, GRAPH_OPT
from .errors import ZVC69Error
from .presets import PRESETS
from .stats import FrameStats


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 640x360, not {text!r}") from None
    if not (1 <= w <= 16384 and 1 <= h <= 16384):
        raise argparse.ArgumentTypeError(f"size {w}x{h} is outside 1..16384")
    return w, h


def _device_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=DEVICES, default="auto",
                   help="inference device (auto: CUDA when present, else CPU)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="ONNX Runtime threads per network (default: all cores)")
    p.add_argument("--graph-opt", choices=tuple(GRAPH_OPT), default="all",
                   help="ONNX Runtime graph optimisation level")


def encode_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="video or image file PyAV opens, or 'demo' / 'demo:WxH'")
    p.add_argument("-o", "--output", required=True, help="output .zvc69 file")
    p.add_argument("--quality", "-q", type=int, default=4, choices=range(1, 9), metavar="1-8",
                   help="quality level, 1 (smallest) .. 8 (best); default 4")
    p.add_argument("--preset", choices=tuple(PRESETS), default="medium",
                   help="speed/efficiency trade-off of the motion search")
    p.add_argument("--gop", type=int, default=32, help="keyframe interval in frames (1..255)")
    p.add_argument("--bframes", type=int, default=None, metavar="0-7",
                   help="most B-frames between anchor frames (default 3; 0: I- and P-frames "
                   "only); each group gets 0, 1 or this many, whichever codes best")
    p.add_argument("--fixed-groups", action="store_true",
                   help="every group gets --bframes B-frames (no per-group choice; faster)")
    p.add_argument("--frames", type=int, default=None, help="encode at most N frames")
    p.add_argument("--start", type=int, default=0, help="skip the first N frames")
    p.add_argument("--scale", type=parse_size, default=None, metavar="WxH",
                   help="resize frames to WxH")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    _device_arguments(p)


class ProgressLine:
    """One self-updating stderr line: frames, fps, bitrate, PSNR, time left."""

    def __init__(self, fps: float, enabled: bool = True) -> None:
        self.fps, self.enabled = fps, enabled and sys.stderr.isatty()
        self.t0 = time.perf_counter()
        self.bits = 0
        self.psnr: list[float] = []
        self.types = {"I": 0, "P": 0}

    def __call__(self, n: int, total: int | None, src: np.ndarray, recon: np.ndarray,
                 st: FrameStats) -> None:
        self.bits += st.bits_total
        self.types[st.frame_type] = self.types.get(st.frame_type, 0) + 1
        if st.psnr is not None and math.isfinite(st.psnr):
            self.psnr.append(st.psnr)
        if not self.enabled:
            return
        el = time.perf_counter() - self.t0
        rate = n / el if el > 0 else 0.0
        kbps = self.bits / max(n, 1) * self.fps / 1000
        bar, left = "", ""
        if total:
            done = int(30 * n / total)
            bar = f"[{'#' * done}{'.' * (30 - done)}] {n}/{total} "
            if rate > 0:
                left = f" ETA {int((total - n) / rate)}s"
        print(f"\r{bar or f'frame {n} '}{rate:5.1f} fps  {kbps:8.1f} kbit/s  "
              f"PSNR {np.mean(self.psnr) if self.psnr else 0:5.2f} dB{left}   ",
              end="", file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self.enabled:
            print(file=sys.stderr)


def cmd_encode(args: argparse.Namespace) -> int:
    from .api import encode_file
    from .media import open_any

    with open_any(args.input, scale=args.scale, frames=args.frames, start=args.start) as src:
        fps = float(src.fps)
    bar = ProgressLine(fps, not args.quiet)
    t0 = time.perf_counter()
    try:
        out = encode_file(args.input, args.output, args.quality, args.preset, args.gop,
                          args.frames, args.scale, progress=bar, device=args.device,
                          threads=args.threads, graph_opt=args.graph_opt, start=args.start,
                          bframes=args.bframes, b_adapt=False if args.fixed_groups else None)
    except KeyboardInterrupt:
        bar.finish()
        n = sum(bar.types.values())
        print(f"interrupted: {n} frames written to {args.output}" if n else
              "interrupted: nothing written", file=sys.stderr)
        return 130
    bar.finish()
    n = sum(bar.types.values())
    el = time.perf_counter() - t0
    size = Path(out).stat().st_size if out else 0
    print(f"{out}: {n} frames ({bar.types.get('I', 0)} I, {bar.types.get('P', 0)} P, "
          f"{bar.types.get('B', 0)} B), "
          f"{size} bytes, {size * 8 * fps / max(n, 1) / 1000:.1f} kbit/s, "
          f"mean PSNR {np.mean(bar.psnr) if bar.psnr else float('inf'):.2f} dB, "
          f"{n / el:.2f} fps")
    return 0


def decode_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help=".zvc69 file")
    p.add_argument("-o", "--output", required=True,
                   help="OUT.y4m, OUT.mp4, OUT.mkv, OUT.png (one frame) or DIR/ for PNG frames")
    p.add_argument("--frames", type=int, default=None, help="decode at most N frames")
    _device_arguments(p)


def cmd_decode(args: argparse.Namespace) -> int:
    from .api import StreamDecoder
    from .media import open_sink, write_image

    t0 = time.perf_counter()
    with StreamDecoder(args.input, args.device, args.threads, args.graph_opt) as dec:
        if dec.damage:
            print(f"note: {dec.damage}", file=sys.stderr)
        if dec.num_frames == 0:
            raise ZVC69Error(f"{args.input}: no complete frame to decode")
        stop = dec.num_frames if args.frames is None else min(args.frames, dec.num_frames)
        out = args.output
        if out.lower().endswith((".png", ".jpg", ".jpeg")) and not out.endswith("/"):
            if stop != 1:
                raise ZVC69Error(f"{out}: an image holds one frame but {stop} were asked for; "
                                 "use a folder (DIR/) or a video file")
            frame, _ = dec.decode(0)
            write_image(out, frame)
        else:
            with open_sink(out, dec.width, dec.height, dec.fps) as sink:
                for frame, _ in dec.frames(0, stop):
                    sink.write(frame)
    el = time.perf_counter() - t0
    print(f"{out}: {stop} frames {dec.width}x{dec.height} decoded in {el:.2f} s "
          f"({stop / el:.2f} fps)")
    return 0


def demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=parse_size, default=(320, 240), metavar="WxH")
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--quality", "-q", type=int, default=4, choices=range(1, 9), metavar="1-8")
    p.add_argument("--preset", choices=tuple(PRESETS), default="medium")
    p.add_argument("-o", "--output", default="zvc69-demo.zvc69", help="where the stream goes")
    _device_arguments(p)


def cmd_demo(args: argparse.Namespace) -> int:
    """Encode the built-in demo source, decode it back and print the figures."""
    from .api import StreamDecoder, StreamEncoder, shared_codecs
    from .demo import demo_source

    w, h = args.size
    codecs = shared_codecs(args.device, args.threads, args.graph_opt)
    print(f"ZVC69 demo: {args.frames} frames of the built-in source at {w}x{h}, "
          f"Q{args.quality}, preset {args.preset}, on {codecs.backend.description}")
    src = demo_source(w, h, args.frames)
    t0 = time.perf_counter()
    with StreamEncoder(args.output, w, h, src.fps, args.quality, args.preset, gop=32,
                       codecs=codecs, subsampled_chroma=src.subsampled_chroma) as enc:
        recons, stats = enc.encode_all(src)
    t_enc = time.perf_counter() - t0
    t0 = time.perf_counter()
    exact = True
    with StreamDecoder(args.output, codecs=codecs) as dec:
        for i, (frame, _) in enumerate(dec.frames()):
            exact &= bool(np.array_equal(frame, recons[i]))
    t_dec = time.perf_counter() - t0
    size = Path(args.output).stat().st_size
    fps = float(src.fps)
    for t in ("I", "P", "B"):
        sel = [s for s in stats if s.frame_type == t]
        if sel:
            print(f"  {t}-frames: {len(sel):3d}, mean {np.mean([s.size_bytes for s in sel]):8.0f}"
                  f" bytes, mean PSNR {np.mean([s.psnr for s in sel]):.2f} dB")
    skips = [s.skip_ratio for s in stats if s.skip_ratio is not None]
    print(f"  stream {args.output}: {size} bytes, {size * 8 * fps / len(stats) / 1000:.1f} kbit/s"
          f" at {fps:g} fps, {size * 8 / (w * h * len(stats)):.3f} bpp")
    if skips:
        print(f"  skip blocks in P- and B-frames: {100 * np.mean(skips):.1f}%")
    print(f"  encode {len(stats) / t_enc:.2f} fps, decode {len(stats) / t_dec:.2f} fps")
    print(f"  decoder output equals the encoder's reconstruction: {'yes' if exact else 'NO'}")
    return 0 if exact else 1
