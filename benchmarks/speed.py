"""ZVC69 encode and decode speed at 480p, 720p and 1080p per device, with the per-stage split.

Frames come from the deterministic demo source (codec.demo.demo_source); the first frame is
an I-frame, the rest P- and B-frames (GOP `--gop`; the preset's group structure, at most
`--bframes` B-frames a group). Encoding goes through StreamEncoder, decoding through
StreamDecoder's pipelined `frames()` (as the player); the decoded frames must equal the
encoder's reconstructions. Before each size an untimed I+P encode and decode warms ONNX
Runtime up (its first run at a new size is slower). Printed:

* frames per second (wall) and mean ms of I, P and B frames (each frame's stage times scaled
  to the run's wall time: groups are coded, and anchors decoded, ahead of their B-frames),
  with x264 (`--x264-preset`, CRF `--crf`, same frames and keyint) measured in the same run
  as the baseline;
* mean ms per frame of every stage (FrameStats.timings) for I, P and B frames;
* the share of the time that the networks, entropy coding and motion search/warp take.

    .venv/bin/python -m benchmarks.speed [--sizes 480p,720p,1080p] [--frames 8]
        [--devices cpu|cuda|cpu,cuda|all] [--threads N] [--graph-opt all] [--out bench-out]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.common import (  # noqa: E402
    GROUP_LABELS,
    GROUP_ORDER,
    Report,
    fmt,
    md_table,
    mean_stages,
    out_dir,
    parse_size,
    print_info,
    rgb_frames_to_yuv,
    run_info,
    shares,
    size_name,
    stage_split,
    verdict,
    write_json,
    x264_decode,
    x264_encode,
)
from codec.api import StreamDecoder, StreamEncoder, shared_codecs  # noqa: E402
from codec.backend import cuda_present  # noqa: E402
from codec.demo import demo_source  # noqa: E402
from codec.encoder import Codecs  # noqa: E402
from codec.presets import PRESETS  # noqa: E402
from codec.stats import STAGES, FrameStats  # noqa: E402

FPS = Fraction(30)
KINDS = ("I", "P", "B")


def zvc69_pass(frames: list[np.ndarray], args: argparse.Namespace, codecs: Codecs,
               path: Path) -> dict[str, Any]:
    """Encode and decode the frames once: wall times per frame and FrameStats of both sides."""
    h, w = frames[0].shape[:2]
    enc = StreamEncoder(path, w, h, FPS, quality=args.quality, preset=args.preset,
                        gop=args.gop, codecs=codecs, total_frames=len(frames),
                        bframes=args.bframes, subsampled_chroma=False)  # the demo's: RGB
    t0 = time.perf_counter()
    recons, est = enc.encode_all(frames)
    enc_s = time.perf_counter() - t0
    # per frame: its stages' time, scaled to the wall time (B-frame groups code together)
    staged = sum(st.time_ms for st in est)
    enc_ms = [st.time_ms * enc_s * 1000 / max(staged, 1e-9) for st in est]
    enc.close()
    size = path.stat().st_size
    dst: list[FrameStats] = []
    mismatches = 0
    with StreamDecoder(path, codecs=codecs) as dec:
        t0 = time.perf_counter()
        for i, (frame, st) in enumerate(dec.frames()):
            dst.append(st)
            mismatches += not np.array_equal(frame, recons[i])
        dec_s = time.perf_counter() - t0
    mismatches += abs(len(dst) - len(frames))
    # per frame likewise: frames come out in display order, but an anchor is decoded before
    # the B-frames shown ahead of it, so the time between yields would fall on those
    staged = sum(st.time_ms for st in dst)
    dec_ms = [st.time_ms * dec_s * 1000 / max(staged, 1e-9) for st in dst]
    return {"enc_ms": enc_ms, "dec_ms": dec_ms, "enc_s": enc_s, "dec_s": dec_s,
            "enc_stats": est, "dec_stats": dst, "bytes": size, "mismatches": mismatches}


def by_type(values: list[float], stats: list[FrameStats], kind: str) -> float:
    v = [x for x, s in zip(values, stats, strict=True) if s.frame_type == kind]
    return float(np.mean(v)) if v else float("nan")


def stages_table(r: dict[str, Any]) -> tuple[list[str], list[list[object]]]:
    """Rows: stage; columns: mean ms per frame for I/P/B encode and decode."""
    cols = []
    for side in ("enc", "dec"):
        for kind in KINDS:
            sts = [s for s in r[f"{side}_stats"] if s.frame_type == kind]
            cols.append(mean_stages([s.timings for s in sts]) if sts else {})
    names = [s for s in STAGES if any(s in c for c in cols)]
    names += sorted({k for c in cols for k in c} - set(names))
    rows: list[list[object]] = [[s] + [fmt(c[s], 1) if s in c else "" for c in cols]
                                for s in names]
    rows.append(["sum of stages"] + [fmt(sum(c.values()), 1) if c else "" for c in cols])
    walls = [by_type(r[f"{side}_ms"], r[f"{side}_stats"], kind)
             for side in ("enc", "dec") for kind in KINDS]
    rows.append(["wall"] + [fmt(x, 1) for x in walls])
    return ["stage (mean ms/frame)", *(f"{k} {side}" for side in ("encode", "decode")
                                        for k in KINDS)], rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="480p,720p,1080p",
                    help="comma-separated WxH or 360p/480p/720p/1080p/2160p")
    ap.add_argument("--frames", type=int, default=8,
                    help="frames per size (1 I, then P- and B-frames)")
    ap.add_argument("--devices", default="cpu",
                    help="cpu, cuda, cpu,cuda or all (every available one)")
    ap.add_argument("--quality", type=int, default=4, help="ZVC69 level 1..8")
    ap.add_argument("--preset", default="medium", choices=list(PRESETS))
    ap.add_argument("--gop", type=int, default=32)
    ap.add_argument("--bframes", type=int, default=None, help="B-frames between anchors "
                    "(default: the encoder's)")
    ap.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    ap.add_argument("--graph-opt", default="all", choices=("none", "basic", "extended", "all"))
    ap.add_argument("--x264-preset", default="medium")
    ap.add_argument("--crf", type=int, default=23, help="x264 CRF of the baseline")
    ap.add_argument("--no-x264", action="store_true", help="skip the x264 baseline")
    ap.add_argument("--no-warmup", action="store_true")
    ap.add_argument("--out", default="bench-out", help="output folder")
    args = ap.parse_args(argv)
    if args.frames < 1:
        ap.error("--frames must be at least 1")
    try:
        sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError as exc:
        ap.error(str(exc))

    want = ["cpu", "cuda"] if args.devices == "all" else args.devices.split(",")
    devices = []
    for d in want:
        if d not in ("cpu", "cuda"):
            ap.error(f"unknown device {d!r}")
        if d == "cuda" and not cuda_present():
            print("note: no CUDA device/onnxruntime-gpu here: cuda skipped", file=sys.stderr)
            continue
        devices.append(d)
    if not devices:
        ap.error("no available device to measure")

    out = out_dir(args.out)
    rep = Report()
    info = run_info(",".join(devices), args.threads, args.graph_opt)
    print_info(info)
    bf = "default" if args.bframes is None else args.bframes
    rep(f"# ZVC69 speed: Q{args.quality}, preset {args.preset}, {args.frames} frames "
        f"(1 I, then P and B; B-frames {bf}), demo source")
    rep()

    results: list[dict[str, Any]] = []
    x264_cache: dict[tuple[int, int], dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="zvc69-speed-") as tmpdir:
        tmp = Path(tmpdir)
        for device in devices:
            codecs = shared_codecs(device, args.threads, args.graph_opt)
            for w, h in sizes:
                frames = list(demo_source(w, h, args.frames))
                if not args.no_warmup:
                    zvc69_pass(frames[:2], args, codecs, tmp / "warm.zvc69")
                r = zvc69_pass(frames, args, codecs, tmp / f"{device}_{w}x{h}.zvc69")
                r |= {"device": device, "backend": codecs.backend.description,
                      "width": w, "height": h, "frames": len(frames)}
                if not args.no_x264 and (w, h) not in x264_cache:
                    yuv = rgb_frames_to_yuv(frames)
                    packets, xe, _ = x264_encode(yuv, FPS, args.crf, args.gop, args.x264_preset)
                    _, xd = x264_decode(packets)
                    x264_cache[(w, h)] = {"enc_fps": len(frames) / xe,
                                          "dec_fps": len(frames) / xd}
                r["x264"] = x264_cache.get((w, h))
                results.append(r)
                print(f"{device} {w}x{h}: encode {len(frames) / r['enc_s']:.2f} fps, decode "
                      f"{len(frames) / r['dec_s']:.2f} fps", file=sys.stderr, flush=True)

    rep(f"## Frames per second (wall); x264 {args.x264_preset} CRF {args.crf} on the CPU in the "
        "same run")
    rep()
    rows = []
    for r in results:
        n = r["frames"]
        x = r["x264"] or {}
        ef, df = n / r["enc_s"], n / r["dec_s"]
        rows.append([r["device"], size_name(r["width"], r["height"]), fmt(ef, 2), fmt(df, 2),
                     *(fmt(by_type(r[f"{side}_ms"], r[f"{side}_stats"], k), 0)
                       for side in ("enc", "dec") for k in KINDS),
                     fmt(x.get("enc_fps"), 1), fmt(x.get("dec_fps"), 1),
                     fmt(ef / x["enc_fps"], 4) if x else "n/a",
                     fmt(df / x["dec_fps"], 4) if x else "n/a"])
    rep(md_table(["device", "size", "enc fps", "dec fps",
                  *(f"{k} {side} ms" for side in ("enc", "dec") for k in KINDS),
                  "x264 enc fps", "x264 dec fps", "enc fps / x264", "dec fps / x264"], rows))
    rep()

    rep("## Share of the time by stage group (decode is pipelined: entropy decoding of frame "
        "n+1 overlaps synthesis of frame n, so shares are of the stage total)")
    rep()
    splits = []
    for r in results:
        es = stage_split([s.timings for s in r["enc_stats"]], sum(r["enc_ms"]))
        ds = stage_split([s.timings for s in r["dec_stats"]], r["dec_s"] * 1000)
        splits.append({"encode_ms": es, "decode_ms": ds})
    groups = [g for g in GROUP_ORDER
              if any(sp["encode_ms"][g] or sp["decode_ms"][g] for sp in splits)]
    rows = []
    for r, sp in zip(results, splits, strict=True):
        label = f"{r['device']} {r['width']}x{r['height']}"
        for side in ("encode", "decode"):
            sh = shares(sp[f"{side}_ms"])
            rows.append([label, side] + [fmt(sh[g], 1) for g in groups])
    rep(md_table(["run", "side"] + [f"{g} %" for g in groups], rows))
    rep()
    rep("Groups: " + "; ".join(f"{g} = {GROUP_LABELS[g]}" for g in groups) + ".")
    rep()

    for r in results:
        rep(f"## Stages: {r['device']} {size_name(r['width'], r['height'])} ({r['backend']})")
        rep()
        rep(md_table(*stages_table(r)))
        rep()

    mismatches = sum(r["mismatches"] for r in results)
    rep(f"decoder output == encoder reconstruction: {mismatches} mismatched frames: "
        f"{verdict(mismatches == 0)}")
    rep.write(out / "speed.md")
    write_json(out / "speed.json", {"info": info, "args": vars(args), "runs": [
        {"device": r["device"], "backend": r["backend"], "width": r["width"],
         "height": r["height"], "frames": r["frames"], "bytes": r["bytes"],
         "enc_fps": r["frames"] / r["enc_s"], "dec_fps": r["frames"] / r["dec_s"],
         "enc_ms": r["enc_ms"], "dec_ms": r["dec_ms"], "x264": r["x264"],
         "mismatches": r["mismatches"], **sp,
         "enc_stages": [s.timings | {"type": s.frame_type} for s in r["enc_stats"]],
         "dec_stages": [s.timings | {"type": s.frame_type} for s in r["dec_stats"]]}
        for r, sp in zip(results, splits, strict=True)]})
    print(f"wrote {out / 'speed.md'}, speed.json", file=sys.stderr)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
