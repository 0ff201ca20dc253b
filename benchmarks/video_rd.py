"""Video rate-distortion of ZVC69 against x264 (libx264 through PyAV), measured in one run.

For every clip, the first `--frames` frames (optionally `--scale`d) are coded by:

* ZVC69 at each quality (StreamEncoder, `--preset`, `--gop`), decoded by StreamDecoder
  (pipelined `frames()`, as the player); the decoded frames must equal the encoder's
  reconstructions (mismatches are counted; any makes the run fail).
* x264 over a CRF sweep: preset `--x264-preset` (medium), tune psnr, keyint = `--gop`
  (min-keyint, scenecut and B-frames as the preset), yuv420p input = the reference planes
  below, frame threads; decoded by FFmpeg's h264 decoder through PyAV.

Quality: PSNR against the source in YUV 4:2:0 (source RGB -> yuv420p planes with
codec.metrics.rgb_to_yuv420; ZVC69's decoded RGB converted the same way; x264's decoded
planes as they are), per frame and plane (capped at 100 dB as x264 does: identical frames),
then the mean over frames: Y:U:V weighted 6:1:1 and Y alone.
Rate: kbit/s = stream bytes * 8 / duration (ZVC69: the whole .zvc69 file; x264: the sum of the
encoder's packets, SPS/PPS/SEI included, no container). BD-rate (codec.metrics.bd_rate):
ZVC69 against x264, per clip and the mean over clips. Speed: ZVC69 encode/decode frames per
second at 480p (854x480) with x264's in the same run as the baseline.

    .venv/bin/python -m benchmarks.video_rd [--clips NAME_OR_PATH...] [--frames 30]
        [--scale WxH] [--gop 32] [--qualities 1:8] [--crfs 18:42:4] [--out bench-out]
"""

from __future__ import annotations

import argparse
import math
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
    PSNR_CAP,
    Planes,
    Report,
    annexb_bytes_without_sei,
    bd,
    capped_psnr_planes,
    fmt,
    int_list,
    md_table,
    mean_finite,
    out_dir,
    parse_size,
    pct,
    print_info,
    pyplot,
    rgb_frames_to_yuv,
    run_info,
    shares,
    stage_split,
    verdict,
    write_json,
    x264_decode,
    x264_encode,
    x264_option,
)
from codec.api import StreamDecoder, StreamEncoder, shared_codecs  # noqa: E402
from codec.container import VERSION, frame_header_size  # noqa: E402
from codec.encoder import Codecs  # noqa: E402
from codec.media import open_source  # noqa: E402
from codec.metrics import rgb_to_yuv420  # noqa: E402
from codec.presets import PRESETS  # noqa: E402
from codec.stats import BIT_PARTS  # noqa: E402

VIDEO_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "video"
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".y4m", ".webm")
SPEED_SIZE = (854, 480)
TARGET_X264 = 50.0  # BD-rate (YUV 6:1:1) against x264 medium must be <= this (%)
Run = dict[str, Any]


def find_clips(specs: list[str] | None) -> list[Path]:
    """Paths as given; a bare name picks the file in the shared video folder that starts with
    it (e.g. 'carphone'); no name: every clip there."""
    if not specs:
        clips = sorted(p for p in VIDEO_DIR.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
        if not clips:
            raise SystemExit(f"error: no clips in {VIDEO_DIR}")
        return clips
    out = []
    for s in specs:
        p = Path(s)
        if p.is_file():
            out.append(p)
            continue
        hits = sorted(VIDEO_DIR.glob(f"{s}*")) if VIDEO_DIR.is_dir() else []
        if len(hits) != 1:
            raise SystemExit(f"error: clip {s!r}: {'no' if not hits else 'several'} matching "
                             f"files in {VIDEO_DIR}" + (f" ({', '.join(h.name for h in hits)})"
                                                        if hits else ""))
        out.append(hits[0])
    return out


def load_clip(path: Path, frames: int, scale: tuple[int, int] | None,
              start: int = 0) -> tuple[list[np.ndarray], Fraction, bool]:
    """The frames, frame rate and whether the chroma is coarser than the frames."""
    with open_source(path, scale=scale, frames=frames, start=start) as src:
        return list(src), Fraction(src.fps), src.subsampled_chroma


def mean_psnr(ref: list[Planes], test: list[Planes]) -> dict[str, float]:
    """Per-frame PSNR (y, u, v capped at PSNR_CAP; yuv 6:1:1), averaged over frames."""
    per = [capped_psnr_planes(r, t) for r, t in zip(ref, test, strict=True)]
    out = {k: float(np.mean([p[k] for p in per])) for k in ("yuv", "y", "u", "v")}
    out["capped_planes"] = sum(p[k] >= PSNR_CAP for p in per for k in ("y", "u", "v"))
    return out


def zvc69_run(frames: list[np.ndarray], ref: list[Planes], fps: Fraction, q: int,
              args: argparse.Namespace, codecs: Codecs, tmp: Path,
              subsampled: bool | None = None) -> Run:
    """Encode, decode, check and measure one ZVC69 quality level (subsampled: the source's
    chroma is coarser than its frames, as StreamEncoder's subsampled_chroma)."""
    h, w = frames[0].shape[:2]
    path = tmp / f"q{q}.zvc69"
    enc = StreamEncoder(path, w, h, fps, quality=q, preset=args.preset, gop=args.gop,
                        codecs=codecs, total_frames=len(frames), subsampled_chroma=subsampled)
    t0 = time.perf_counter()
    recons, est = enc.encode_all(frames)
    enc_s = time.perf_counter() - t0
    enc.close()
    size = path.stat().st_size
    with StreamDecoder(path, codecs=codecs) as dec:
        t0 = time.perf_counter()
        decoded = list(dec.frames())
        dec_s = time.perf_counter() - t0
    mismatches = sum(not np.array_equal(d, r) for (d, _), r in zip(decoded, recons, strict=True))
    mismatches += abs(len(decoded) - len(frames))
    psnr = mean_psnr(ref, [rgb_to_yuv420(d) for d, _ in decoded])
    bits = {k: sum(s.bits.get(k, 0) for s in est) for k in BIT_PARTS}
    payload = sum(s.size_bytes - frame_header_size(VERSION[0]) for s in est)
    return {"q": q, "bytes": size, "kbps": size * 8 * float(fps) / len(frames) / 1000, **psnr,
            "stream_kbps": payload * 8 * float(fps) / len(frames) / 1000,
            "enc_s": enc_s, "dec_s": dec_s, "mismatches": mismatches,
            "i_frames": sum(s.frame_type == "I" for s in est),
            "payload_bytes": sum(s.size_bytes for s in est), "bits": bits,
            "enc_split_ms": stage_split([s.timings for s in est], enc_s * 1000),
            "dec_split_ms": stage_split([s.timings for _, s in decoded], dec_s * 1000)}


def warm_up(frames: list[np.ndarray], ref: list[Planes], fps: Fraction,
            args: argparse.Namespace, codecs: Codecs, tmp: Path,
            subsampled: bool | None = None) -> None:
    """An untimed I+P encode and decode: ONNX Runtime's first run at a new size is slower."""
    zvc69_run(frames[:2], ref[:2], fps, args.qualities[0], args, codecs, tmp, subsampled)


def x264_run(yuv: list[Any], ref: list[Planes], fps: Fraction, crf: int,
             args: argparse.Namespace) -> Run:
    """Encode and decode one x264 CRF point."""
    packets, enc_s, opts = x264_encode(yuv, fps, crf, args.gop, args.x264_preset)
    decoded, dec_s = x264_decode(packets)
    size = sum(len(p) for p in packets)
    stream = sum(annexb_bytes_without_sei(p) for p in packets)
    run: Run = {"crf": crf, "bytes": size, "kbps": size * 8 * float(fps) / len(yuv) / 1000,
                "stream_kbps": stream * 8 * float(fps) / len(yuv) / 1000,
                "enc_s": enc_s, "dec_s": dec_s, "decoded_frames": len(decoded),
                "options": opts}
    if len(decoded) != len(ref):
        raise RuntimeError(f"x264 CRF {crf}: {len(decoded)} frames decoded, {len(ref)} coded")
    return run | mean_psnr(ref, decoded)


def rd(runs: list[Run], key: str, rate: str = "kbps") -> tuple[list[float], list[float]]:
    return [r[rate] for r in runs], [r[key] for r in runs]


def fps_of(runs: list[Run], frames: int, key: str) -> float:
    s = sum(r[key] for r in runs)
    return frames * len(runs) / s if s > 0 else math.nan


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="+", metavar="NAME_OR_PATH",
                    help=f"clips (default: every clip in {VIDEO_DIR})")
    ap.add_argument("--frames", type=int, default=30, help="frames per clip (from the start)")
    ap.add_argument("--start", type=int, default=0, help="skip this many frames first")
    ap.add_argument("--scale", type=parse_size, default=None, metavar="WxH",
                    help="rescale every clip (bicubic), e.g. 854x480")
    ap.add_argument("--gop", type=int, default=32, help="keyframe interval for both codecs")
    ap.add_argument("--qualities", type=int_list, default=list(range(1, 9)),
                    help="ZVC69 levels, e.g. 1:8 or 2,6")
    ap.add_argument("--preset", default="medium", choices=list(PRESETS))
    ap.add_argument("--crfs", type=int_list, default=list(range(18, 43, 4)),
                    help="x264 CRF values (default 18:42:4)")
    ap.add_argument("--x264-preset", default="medium")
    ap.add_argument("--speed-frames", type=int, default=8,
                    help="frames for the 480p speed measurement when no clip in the run is "
                         "854x480 (0: skip it)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    ap.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    ap.add_argument("--graph-opt", default="all", choices=("none", "basic", "extended", "all"))
    ap.add_argument("--out", default="bench-out", help="output folder")
    args = ap.parse_args(argv)
    if len(args.qualities) < 2 or len(args.crfs) < 2:
        ap.error("BD-rate needs at least two qualities and two CRFs")

    out = out_dir(args.out)
    clips = find_clips(args.clips)
    codecs = shared_codecs(args.device, args.threads, args.graph_opt)
    info = run_info(args.device, args.threads, args.graph_opt) | {
        "backend": codecs.backend.description}
    rep = Report()
    print_info(info)
    rep(f"# ZVC69 video RD against x264 {args.x264_preset}: {len(clips)} clips, "
        f"{args.frames} frames from frame {args.start}, GOP {args.gop}, ZVC69 preset "
        f"{args.preset}")
    rep()

    results: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    mismatches = 0
    x264_opts = ""
    with tempfile.TemporaryDirectory(prefix="zvc69-video-rd-") as tmpdir:
        tmp = Path(tmpdir)
        for clip in clips:
            frames, fps, subsampled = load_clip(clip, args.frames, args.scale, args.start)
            h, w = frames[0].shape[:2]
            ref = [rgb_to_yuv420(f) for f in frames]
            yuv = rgb_frames_to_yuv(frames)
            zvc, x264 = [], []
            warm_up(frames, ref, fps, args, codecs, tmp, subsampled)
            for q in args.qualities:
                zvc.append(zvc69_run(frames, ref, fps, q, args, codecs, tmp, subsampled))
                print(f"{clip.name} ZVC69 Q{q}: {zvc[-1]['kbps']:.1f} kbit/s "
                      f"{zvc[-1]['yuv']:.2f} dB ({time.perf_counter() - t_start:.0f} s)",
                      file=sys.stderr, flush=True)
            for crf in args.crfs:
                x264.append(x264_run(yuv, ref, fps, crf, args))
            x264_opts = x264[0]["options"]
            mismatches += sum(r["mismatches"] for r in zvc)
            capped = sum(r["capped_planes"] for r in zvc + x264)
            res = {"clip": clip.name, "width": w, "height": h, "frames": len(frames),
                   "fps": fps, "zvc69": zvc, "x264": x264, "capped_planes": capped}
            for key in ("yuv", "y"):
                res[f"bd_rate_{key}"] = bd(*rd(x264, key), *rd(zvc, key))
                res[f"bd_psnr_{key}"] = bd(*rd(x264, key), *rd(zvc, key), metric="psnr")
                res[f"bd_rate_{key}_stream"] = bd(*rd(x264, key, "stream_kbps"),
                                                  *rd(zvc, key, "stream_kbps"))
            results.append(res)
            rep(f"## {clip.name}: {w}x{h}, {len(frames)} frames at {float(fps):.3f} fps")
            rep()
            rows = [["ZVC69", f"Q{r['q']}", fmt(r["kbps"], 1), fmt(r["yuv"]), fmt(r["y"]),
                     fmt(r["u"]), fmt(r["v"]), r["i_frames"],
                     fmt(len(frames) / r["enc_s"], 2), fmt(len(frames) / r["dec_s"], 2)]
                    for r in zvc]
            rows += [["x264", f"CRF {r['crf']}", fmt(r["kbps"], 1), fmt(r["yuv"]), fmt(r["y"]),
                      fmt(r["u"]), fmt(r["v"]), "", fmt(len(frames) / r["enc_s"], 1),
                      fmt(len(frames) / r["dec_s"], 1)] for r in x264]
            rep(md_table(["codec", "setting", "kbit/s", "PSNR YUV", "PSNR Y", "PSNR U",
                          "PSNR V", "I-frames", "enc fps", "dec fps"], rows))
            rep()
            rep(f"BD-rate of ZVC69 vs x264: YUV 6:1:1 {pct(res['bd_rate_yuv'])}, "
                f"Y {pct(res['bd_rate_y'])}; BD-PSNR YUV {fmt(res['bd_psnr_yuv'], 2, True)} dB, "
                f"Y {fmt(res['bd_psnr_y'], 2, True)} dB. Elementary streams (ZVC69 payloads, "
                f"x264 packets less SEI): YUV 6:1:1 {pct(res['bd_rate_yuv_stream'])}, "
                f"Y {pct(res['bd_rate_y_stream'])}")
            if capped:
                rep(f"* {capped} frame planes were coded exactly (PSNR capped at {PSNR_CAP:.0f} "
                    "dB), e.g. the flat chroma of a grey source: YUV 6:1:1 is then dominated by "
                    "the cap; compare Y.")
            rep()

        speed = speed_480p(results, clips, args, codecs, tmp)
        mismatches += speed.get("mismatches", 0) if speed else 0
    elapsed = time.perf_counter() - t_start

    # -- summary over clips ----------------------------------------------------------------
    rep("## BD-rate of ZVC69 against x264 per clip (negative = fewer bits than x264)")
    rep()
    rows = [[r["clip"] + (" *" if r["capped_planes"] else ""), f"{r['width']}x{r['height']}",
             pct(r["bd_rate_yuv"]),
             pct(r["bd_rate_y"]), fmt(r["bd_psnr_yuv"], 2, True), fmt(r["bd_psnr_y"], 2, True),
             pct(r["bd_rate_yuv_stream"]), pct(r["bd_rate_y_stream"])]
            for r in results]
    avg = {k: mean_finite(r[k] for r in results)
           for k in ("bd_rate_yuv", "bd_rate_y", "bd_psnr_yuv", "bd_psnr_y",
                     "bd_rate_yuv_stream", "bd_rate_y_stream")}
    rows.append([f"mean over clips ({avg['bd_rate_yuv'][1]}/{len(results)} with overlap)", "",
                 pct(avg["bd_rate_yuv"][0]), pct(avg["bd_rate_y"][0]),
                 fmt(avg["bd_psnr_yuv"][0], 2, True), fmt(avg["bd_psnr_y"][0], 2, True),
                 pct(avg["bd_rate_yuv_stream"][0]), pct(avg["bd_rate_y_stream"][0])])
    rep(md_table(["clip", "size", "BD-rate YUV 6:1:1", "BD-rate Y", "BD-PSNR YUV dB",
                  "BD-PSNR Y dB", "streams: BD-rate YUV", "streams: BD-rate Y"], rows))
    rep()
    if any(r["capped_planes"] for r in results):
        rep(f"Clips marked *: some frame planes at the {PSNR_CAP:.0f} dB cap (exactly coded, "
            "e.g. grey chroma): YUV 6:1:1 is not comparable there, use Y.")
        rep()
    rep(f"x264: {args.x264_preset}, tune psnr, keyint={x264_option(x264_opts, 'keyint')} "
        f"min-keyint={x264_option(x264_opts, 'keyint_min')} "
        f"scenecut={x264_option(x264_opts, 'scenecut')} "
        f"bframes={x264_option(x264_opts, 'bframes')} aq={x264_option(x264_opts, 'aq')} "
        f"psy={x264_option(x264_opts, 'psy')}. BD: codec.metrics.bd_rate/bd_psnr, x264 curve "
        "cut to ZVC69's range plus one point either side; n/a = no overlap. PSNR per frame "
        "and plane, capped at 100 dB, mean over frames. Rates: ZVC69 = .zvc69 file (with its "
        "16-byte frame headers, 8-byte index entries and file header), x264 = packet bytes "
        "(Annex B, with SPS/PPS and x264's option SEI). 'streams': the elementary streams "
        "alone, ZVC69 frame payloads against x264 packets less SEI NAL units.")
    rep()

    enc_split = {g: sum(r["enc_split_ms"][g] for c in results for r in c["zvc69"])
                 for g in GROUP_ORDER}
    dec_split = {g: sum(r["dec_split_ms"][g] for c in results for r in c["zvc69"])
                 for g in GROUP_ORDER}
    es, ds = shares(enc_split), shares(dec_split)
    rep("## ZVC69 time by stage group, all clips and qualities (decode is pipelined: shares "
        "of the stage total)")
    rep()
    rep(md_table(["stage group", "encode %", "decode %"],
                 [[GROUP_LABELS[g], fmt(es[g], 1), fmt(ds[g], 1)] for g in GROUP_ORDER
                  if enc_split[g] or dec_split[g]]))
    rep()

    if speed:
        rep(f"## Speed at 480p ({speed['source']}; {info['backend']})")
        rep()
        rep(md_table(["codec", "encode fps", "decode fps"], [
            ["ZVC69 " + args.preset, fmt(speed["zvc69_enc_fps"], 2),
             fmt(speed["zvc69_dec_fps"], 2)],
            ["x264 " + args.x264_preset, fmt(speed["x264_enc_fps"], 1),
             fmt(speed["x264_dec_fps"], 1)],
            ["ZVC69 / x264", fmt(speed["zvc69_enc_fps"] / speed["x264_enc_fps"], 4),
             fmt(speed["zvc69_dec_fps"] / speed["x264_dec_fps"], 4)]]))
        rep()

    ok_bd = math.isfinite(avg["bd_rate_yuv"][0]) and avg["bd_rate_yuv"][0] <= TARGET_X264
    rep("## Summary")
    rep()
    rep(f"- BD-rate (YUV 6:1:1) vs x264 {args.x264_preset}, mean over clips: "
        f"{pct(avg['bd_rate_yuv'][0])} ({avg['bd_rate_yuv'][1]}/{len(results)} clips with "
        f"overlap; target <= +{TARGET_X264:.0f}%): {verdict(ok_bd)}"
        + ("" if math.isfinite(avg["bd_rate_yuv"][0])
           else " (no PSNR overlap with x264: see BD-PSNR)"))
    rep(f"- BD-rate (Y) vs x264, mean over clips: {pct(avg['bd_rate_y'][0])}")
    rep(f"- decoder output == encoder reconstruction: {mismatches} mismatched frames: "
        f"{verdict(mismatches == 0)}")
    if speed:
        rep(f"- ZVC69 at 480p: encode {fmt(speed['zvc69_enc_fps'], 2)} fps, decode "
            f"{fmt(speed['zvc69_dec_fps'], 2)} fps")
    rep(f"- run took {elapsed:.0f} s")
    rep()

    rep.write(out / "video_rd.md")
    write_json(out / "video_rd.json", {"info": info, "args": vars(args), "clips": results,
                                       "bd_rate_mean": {k: v[0] for k, v in avg.items()},
                                       "speed_480p": speed, "mismatches": mismatches,
                                       "encode_split_ms": enc_split,
                                       "decode_split_ms": dec_split})
    plot(results, out / "video_rd.png")
    print(f"wrote {out / 'video_rd.md'}, video_rd.json, video_rd.png", file=sys.stderr)
    return 1 if mismatches else 0


def speed_480p(results: list[dict[str, Any]], clips: list[Path], args: argparse.Namespace,
               codecs: Codecs, tmp: Path) -> dict[str, Any] | None:
    """ZVC69 and x264 fps at 854x480: from the run's 480p clips, else measured on the sintel
    clip (or the first clip scaled to 854x480) with --speed-frames frames at the middle
    quality and CRF."""
    at480 = [r for r in results if (r["width"], r["height"]) == SPEED_SIZE]
    if at480:
        n = sum(r["frames"] * len(r["zvc69"]) for r in at480)
        nx = sum(r["frames"] * len(r["x264"]) for r in at480)

        def tot(key: str, codec: str) -> float:
            return sum(x[key] for r in at480 for x in r[codec])

        return {"source": ", ".join(r["clip"] for r in at480) + " (all settings above)",
                "zvc69_enc_fps": n / tot("enc_s", "zvc69"),
                "zvc69_dec_fps": n / tot("dec_s", "zvc69"),
                "x264_enc_fps": nx / tot("enc_s", "x264"),
                "x264_dec_fps": nx / tot("dec_s", "x264")}
    if args.speed_frames <= 0:
        return None
    sintel = sorted(VIDEO_DIR.glob("sintel_480p*")) if VIDEO_DIR.is_dir() else []
    clip = sintel[0] if sintel else clips[0]
    frames, fps, subsampled = load_clip(clip, args.speed_frames, SPEED_SIZE, args.start)
    ref = [rgb_to_yuv420(f) for f in frames]
    warm_up(frames, ref, fps, args, codecs, tmp, subsampled)
    q = args.qualities[len(args.qualities) // 2]
    crf = args.crfs[len(args.crfs) // 2]
    print(f"480p speed: {clip.name}, {len(frames)} frames, Q{q}", file=sys.stderr, flush=True)
    z = zvc69_run(frames, ref, fps, q, args, codecs, tmp, subsampled)
    x = x264_run(rgb_frames_to_yuv(frames), ref, fps, crf, args)
    n = len(frames)
    return {"source": f"{clip.name} at 854x480, {n} frames, ZVC69 Q{q}, x264 CRF {crf}",
            "zvc69_enc_fps": n / z["enc_s"], "zvc69_dec_fps": n / z["dec_s"],
            "x264_enc_fps": n / x["enc_s"], "x264_dec_fps": n / x["dec_s"],
            "mismatches": z["mismatches"]}


def plot(results: list[dict[str, Any]], path: Path) -> None:
    """One subplot per clip: PSNR (YUV 6:1:1 solid, Y dotted) against kbit/s."""
    plt = pyplot()
    if plt is None or not results:
        return
    cols = min(3, len(results))
    rows = -(-len(results) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.0 * rows), squeeze=False)
    for ax, r in zip(axes.ravel(), results, strict=False):
        for name, runs, colour in (("ZVC69", r["zvc69"], "C0"), ("x264", r["x264"], "C1")):
            ax.plot(*rd(runs, "yuv"), "o-", color=colour, ms=3, label=f"{name} YUV 6:1:1")
            ax.plot(*rd(runs, "y"), ":", color=colour, label=f"{name} Y")
        ax.set_title(f"{r['clip']} {r['width']}x{r['height']}\nBD-rate YUV "
                     f"{pct(r['bd_rate_yuv'])}, Y {pct(r['bd_rate_y'])}", fontsize=9)
        ax.set_xlabel("kbit/s")
        ax.set_ylabel("PSNR dB")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    for ax in axes.ravel()[len(results):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
