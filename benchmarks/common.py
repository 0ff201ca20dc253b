"""Helpers shared by the benchmarks: argument parsing, run information, stage groups, BD-rate,
x264 through PyAV, markdown tables, JSON and plots.

Run the benchmarks from the repository root (``python -m benchmarks.intra_rd``) or as scripts
(``python benchmarks/intra_rd.py``); both find the `codec` package.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import av  # noqa: E402

from codec.metrics import (  # noqa: E402
    bd_psnr,
    bd_rate,
    frame_planes,
    psnr_planes,
    rgb_to_yuv420_frame,
)

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]

#: FrameStats.timings stages by group. Stages not listed (new ones) count as "other stages".
STAGE_GROUPS: dict[str, tuple[str, ...]] = {
    "networks": ("analysis", "hyper_analysis", "hyper_synthesis", "synthesis",
                 "residual_analysis", "residual_synthesis"),
    "entropy": ("entropy_encode", "entropy_decode"),
    "motion": ("motion_search", "warp", "motion_coding"),
    "tensor": ("to_tensor", "from_tensor"),
    "io": ("io", "parse"),
    "trials": ("group_trial",),
}
GROUP_LABELS = {
    "networks": "networks (analysis, hyper a/s, synthesis)",
    "entropy": "entropy coding (latents)",
    "motion": "motion search + warp + MV/skip coding",
    "tensor": "tensor conversion",
    "io": "I/O + parse (decoder: parse includes MV/skip decoding)",
    "trials": "group structures tried and not kept (B-frames per group)",
    "other stages": "other timed stages",
    "untimed": "untimed (wall - stages: PSNR for stats, bookkeeping)",
}
GROUP_ORDER = ("networks", "entropy", "motion", "tensor", "io", "trials", "other stages",
               "untimed")
#: Per-frame (per-plane) PSNR ceiling, as x264 reports it: identical frames (black leaders,
#: static scenes) would otherwise make a mean over frames infinite.
PSNR_CAP = 100.0
SIZE_NAMES = {"360p": (640, 360), "480p": (854, 480), "720p": (1280, 720),
              "1080p": (1920, 1080), "2160p": (3840, 2160)}


# ------------------------------------------------------------------------------------------
# arguments


def int_list(text: str) -> list[int]:
    """'1,2,5' or 'a:b' (inclusive) or 'a:b:step' -> list of ints."""
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if ":" in part:
            bits = [int(x) for x in part.split(":")]
            if len(bits) not in (2, 3):
                raise ValueError(f"bad range {part!r}: use a:b or a:b:step")
            step = bits[2] if len(bits) == 3 else 1
            out.extend(range(bits[0], bits[1] + (1 if step > 0 else -1), step))
        else:
            out.append(int(part))
    if not out:
        raise ValueError(f"no numbers in {text!r}")
    return out


def parse_size(text: str) -> tuple[int, int]:
    """'854x480' or a name such as '480p' -> (width, height)."""
    t = text.strip().lower()
    if t in SIZE_NAMES:
        return SIZE_NAMES[t]
    m = re.fullmatch(r"(\d+)x(\d+)", t)
    if not m:
        raise ValueError(f"bad size {text!r}: use WxH or one of {', '.join(SIZE_NAMES)}")
    return int(m.group(1)), int(m.group(2))


def size_name(w: int, h: int) -> str:
    for name, size in SIZE_NAMES.items():
        if size == (w, h):
            return f"{name} ({w}x{h})"
    return f"{w}x{h}"


# ------------------------------------------------------------------------------------------
# run information and output


def git_revision() -> str:
    """Short commit of the checkout, with '+dirty' when tracked codec files are modified."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, check=True,
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no",
                                "--", "codec"], cwd=REPO, capture_output=True,
                               text=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_info(device: str, threads: int | None, graph_opt: str) -> dict[str, Any]:
    """What a result depends on: code, models, libraries, machine, load."""
    import onnxruntime as ort

    from codec.models import default_model_dir, load_models

    models = load_models()
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "git": git_revision(),
        "models": str(default_model_dir()),
        "model_hash": models.hash_hex,
        "device": device,
        "threads": threads,
        "graph_opt": graph_opt,
        "onnxruntime": ort.__version__,
        "pyav": av.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_1min": round(load, 2),
    }


def print_info(info: Mapping[str, Any]) -> None:
    print("# " + ", ".join(f"{k}={v}" for k, v in info.items()))


def out_dir(path: str | Path) -> Path:
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    return p


def _json_default(o: object) -> object:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (Path, Fraction)):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _clean(o: Any) -> Any:
    """nan/inf -> None so the JSON is standard."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(_clean(data), indent=1, default=_json_default) + "\n")


class Report:
    """Prints lines and keeps them for the markdown file."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    def write(self, path: Path) -> None:
        path.write_text("\n".join(self.lines) + "\n")


def fmt(x: float | None, nd: int = 2, signed: bool = False) -> str:
    """A number for a table; n/a for None, nan or inf."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:+.{nd}f}" if signed else f"{x:.{nd}f}"


def md_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A markdown table; numbers right-aligned, text left-aligned."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def numeric(i: int) -> bool:
        return bool(rows) and all(re.fullmatch(r"[-+]?[\d.]+%?|n/a|[-+]?inf|", r[i])
                                  for r in rows)

    right = [numeric(i) for i in range(len(headers))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    sep = "|" + "|".join(("-" * (w + 1) + ":") if r else ("-" * (w + 2))
                         for w, r in zip(widths, right, strict=True)) + "|"
    body = ["| " + " | ".join(c.rjust(w) if r else c.ljust(w)
                              for c, w, r in zip(row, widths, right, strict=True)) + " |"
            for row in rows]
    return "\n".join([line, sep, *body])


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# ------------------------------------------------------------------------------------------
# timings


def group_timings(timings: Mapping[str, float]) -> dict[str, float]:
    """Milliseconds per group (see STAGE_GROUPS) of one FrameStats.timings."""
    out = dict.fromkeys(GROUP_ORDER[:-1], 0.0)
    for stage, ms in timings.items():
        for group, stages in STAGE_GROUPS.items():
            if stage in stages:
                out[group] += ms
                break
        else:
            out["other stages"] += ms
    return out


def stage_split(timings: Iterable[Mapping[str, float]], wall_ms: float) -> dict[str, float]:
    """Summed ms per group over frames, plus 'untimed' = wall - sum of stages (>= 0).

    In pipelined decoding the stages of two frames overlap, so the stages can add up to more
    than the wall time; shares (see `shares`) are then of the stage total.
    """
    total = dict.fromkeys(GROUP_ORDER, 0.0)
    for t in timings:
        for k, v in group_timings(t).items():
            total[k] += v
    total["untimed"] = max(0.0, wall_ms - sum(total.values()))
    return total


def shares(split: Mapping[str, float]) -> dict[str, float]:
    """Percent of the total per group."""
    s = sum(split.values())
    return {k: (100.0 * v / s if s > 0 else math.nan) for k, v in split.items()}


def mean_stages(timings: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Mean ms per frame per stage (a stage missing from a frame counts as 0)."""
    if not timings:
        return {}
    keys: list[str] = []
    for t in timings:
        keys += [k for k in t if k not in keys]
    return {k: sum(t.get(k, 0.0) for t in timings) / len(timings) for k in keys}


# ------------------------------------------------------------------------------------------
# BD-rate


def clip_anchor(rate: Sequence[float], quality: Sequence[float], lo: float,
                hi: float) -> tuple[list[float], list[float]]:
    """The anchor's points with quality inside [lo, hi] (the test curve's range) plus the
    nearest one outside on each side, sorted by quality: the cubic fit is then made where the
    curves are compared, and a long anchor sweep (JPEG 5..95) does not bend it. (Called with
    the arguments swapped, it cuts by rate.)"""
    pts = sorted(zip(quality, rate, strict=True))
    inside = [i for i, (q, _) in enumerate(pts) if lo <= q <= hi]
    if not inside:
        below = [i for i, (q, _) in enumerate(pts) if q < lo]
        above = [i for i, (q, _) in enumerate(pts) if q > hi]
        inside = below[-1:] + above[:1]
    else:
        a, b = inside[0], inside[-1]
        inside = list(range(max(0, a - 1), min(len(pts), b + 2)))
    return [pts[i][1] for i in inside], [pts[i][0] for i in inside]


def _finite_curve(rate: Sequence[float], q: Sequence[float]) -> tuple[list[float], list[float]]:
    keep = [(r, p) for r, p in zip(rate, q, strict=True)
            if math.isfinite(r) and math.isfinite(p) and r > 0]
    return [r for r, _ in keep], [p for _, p in keep]


def bd(anchor_rate: Sequence[float], anchor_q: Sequence[float], test_rate: Sequence[float],
       test_q: Sequence[float], metric: str = "rate") -> float:
    """BD-rate in % (metric 'rate', codec.metrics.bd_rate) or BD-PSNR in dB ('psnr', bd_psnr)
    of test against anchor; nan when the curves do not overlap or cannot be fitted.

    The anchor is cut to the test curve's range (of quality for BD-rate, of rate for BD-PSNR)
    plus one point either side (`clip_anchor`).
    """
    ar, aq = _finite_curve(anchor_rate, anchor_q)
    tr, tq = _finite_curve(test_rate, test_q)
    if len(tr) < 2 or len(ar) < 2:
        return math.nan
    try:
        if metric == "rate":
            ar, aq = clip_anchor(ar, aq, min(tq), max(tq))
            return bd_rate(ar, aq, tr, tq)
        aq, ar = clip_anchor(aq, ar, min(tr), max(tr))
        return bd_psnr(ar, aq, tr, tq)
    except (ValueError, np.linalg.LinAlgError):
        return math.nan


def pct(x: float) -> str:
    """A signed percentage, n/a when undefined."""
    return fmt(x, 1, signed=True) + ("%" if x is not None and math.isfinite(x) else "")


def capped_psnr_planes(ref: Planes, test: Planes) -> dict[str, float]:
    """codec.metrics.psnr_planes with each plane capped at PSNR_CAP; yuv = (6y + u + v) / 8."""
    p = {k: min(v, PSNR_CAP) for k, v in psnr_planes(ref, test).items() if k != "yuv"}
    return p | {"yuv": (6 * p["y"] + p["u"] + p["v"]) / 8}


def mean_finite(values: Iterable[float]) -> tuple[float, int]:
    """Mean of the finite values and how many there were."""
    v = [x for x in values if x is not None and math.isfinite(x)]
    return (sum(v) / len(v) if v else math.nan), len(v)


# ------------------------------------------------------------------------------------------
# x264 through PyAV


def yuv_frame(planes: Planes) -> av.VideoFrame:
    """yuv420p planes -> av.VideoFrame."""
    y, u, v = planes
    frame = av.VideoFrame(y.shape[1], y.shape[0], "yuv420p")
    for plane, data in zip(frame.planes, planes, strict=True):
        padded = np.zeros((plane.height, plane.line_size), np.uint8)
        padded[:, : plane.width] = data
        plane.update(padded.tobytes())
    return frame


def x264_encode(frames: Sequence[av.VideoFrame], fps: Fraction, crf: float, gop: int,
                preset: str = "medium", tune: str = "psnr") -> tuple[list[bytes], float, str]:
    """Encode yuv420p frames with libx264: (packets in decode order, seconds, x264 options).

    keyint = gop, other settings (min-keyint, scenecut, B-frames) as x264's preset; frame
    threads as the x264 command line (PyAV's default slice threads would cost compression).
    The packets carry SPS/PPS and x264's version/options SEI in band.
    """
    if not frames:
        raise ValueError("no frames to encode")
    w, h = frames[0].width, frames[0].height
    if w % 2 or h % 2:
        raise ValueError(f"x264 yuv420p needs an even size, not {w}x{h}")
    cc = av.CodecContext.create("libx264", "w")
    cc.width, cc.height, cc.pix_fmt = w, h, "yuv420p"
    cc.time_base = Fraction(fps.denominator, fps.numerator)
    cc.framerate = fps
    cc.gop_size = gop
    cc.thread_type = "AUTO"
    cc.options = {"preset": preset, "tune": tune, "crf": str(crf),
                  "x264-params": f"keyint={gop}"}
    packets: list[bytes] = []
    t0 = time.perf_counter()
    for i, f in enumerate(frames):
        f.pts = i
        packets += [bytes(p) for p in cc.encode(f)]
    packets += [bytes(p) for p in cc.encode(None)]
    seconds = time.perf_counter() - t0
    opts = ""
    m = re.search(rb"options: ([ -~]*)", packets[0]) if packets else None
    if m:
        opts = m.group(1).decode()
    return packets, seconds, opts


def x264_decode(packets: Sequence[bytes]) -> tuple[list[Planes], float]:
    """Decode H.264 packets with FFmpeg's decoder: yuv420p planes in display order, seconds."""
    dc = av.CodecContext.create("h264", "r")
    dc.thread_type = "AUTO"
    frames: list[av.VideoFrame] = []
    t0 = time.perf_counter()
    for data in packets:
        frames += dc.decode(av.Packet(data))
    frames += dc.decode(None)
    seconds = time.perf_counter() - t0
    frames.sort(key=lambda f: f.pts if f.pts is not None else 0)
    out = []
    for f in frames:
        if f.format.name != "yuv420p":
            f = f.reformat(format="yuv420p")
        out.append(frame_planes(f))
    return out, seconds


def annexb_bytes_without_sei(packet: bytes) -> int:
    """Bytes of an Annex B packet less its SEI NAL units (type 6: x264 writes its version and
    full option string there, several hundred bytes that carry no picture data)."""
    starts = [m.end() for m in re.finditer(b"\x00\x00\x01", packet)]
    if not starts:
        return len(packet)
    sei = 0
    for i, a in enumerate(starts):
        b = starts[i + 1] - 3 if i + 1 < len(starts) else len(packet)
        if a < len(packet) and packet[a] & 0x1F == 6:
            sei += b - a + 3  # the unit and its start code
    return len(packet) - sei


def x264_option(opts: str, name: str) -> str:
    m = re.search(rf"(?:^| ){re.escape(name)}=(\S+)", opts)
    return m.group(1) if m else "?"


def rgb_frames_to_yuv(frames: Sequence[np.ndarray]) -> list[av.VideoFrame]:
    return [rgb_to_yuv420_frame(f) for f in frames]


# ------------------------------------------------------------------------------------------
# plots


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, or None (with a note) when not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib is not installed (pip install -e '.[bench]'): no plot written")
        return None
    return plt
