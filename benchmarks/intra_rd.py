"""Still-image rate-distortion of ZVC69 I-frames against JPEG and WebP, and intra speed.

For every image, ZVC69 Q1..Q8 goes through the real stream path: StreamEncoder writes a
one-frame .zvc69 file, StreamDecoder reads it back, and the decoded frame must equal the
encoder's reconstruction (mismatches are counted; any makes the run fail). In the same run,
JPEG (Pillow/libjpeg, 4:2:0, optimised Huffman tables) and WebP (Pillow/libwebp, method 6)
sweep their quality settings on the same pixels.

* bpp: ZVC69 counts the frame payload only (FrameStats.size_bytes less the frame header; the
  file header and index are not counted); JPEG and WebP count the whole file.
* PSNR: RGB on uint8 (codec.metrics.psnr_rgb; capped at 100 dB), against the (downscaled)
  source.
* BD-rate (codec.metrics.bd_rate; negative = ZVC69 needs fewer bits): per image, then the
  mean over images (the number the targets use), and on the curves averaged per setting.
  The anchor curve is cut to the ZVC69 PSNR range plus one point either side.
* Speed: encode and decode wall milliseconds per megapixel, with each stage's share
  (FrameStats.timings), against JPEG and WebP measured here.

    .venv/bin/python -m benchmarks.intra_rd [--images DIR_OR_FILES...] [--max-side 768]
        [--qualities 1:8] [--jpeg 5:95:5] [--webp 5:95:5] [--out bench-out]
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.common import (  # noqa: E402
    GROUP_LABELS,
    GROUP_ORDER,
    PSNR_CAP,
    Report,
    bd,
    fmt,
    int_list,
    md_table,
    mean_finite,
    out_dir,
    pct,
    print_info,
    pyplot,
    run_info,
    shares,
    stage_split,
    verdict,
    write_json,
)
from codec.api import StreamDecoder, StreamEncoder, shared_codecs  # noqa: E402
from codec.container import VERSION, frame_header_size  # noqa: E402
from codec.encoder import Codecs  # noqa: E402
from codec.media import IMAGE_EXTENSIONS, read_image  # noqa: E402
from codec.metrics import psnr_rgb  # noqa: E402

TARGET_JPEG = -30.0  # BD-rate vs JPEG must be <= this (%)
TARGET_WEBP = 0.0  # BD-rate vs WebP must be < this (%)
Point = dict[str, Any]


def default_images() -> list[Path]:
    from codec.training.data import image_files

    return image_files(holdout=True)


def find_images(specs: list[str] | None) -> list[Path]:
    """Files as given, folders expanded to their images (sorted); the held-out set by default."""
    if not specs:
        return default_images()
    out: list[Path] = []
    for s in specs:
        p = Path(s)
        if p.is_dir():
            out += sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
        elif p.exists():
            out.append(p)
        else:
            raise SystemExit(f"error: {p}: no such file or folder")
    if not out:
        raise SystemExit("error: no images found")
    return out


def load(path: Path, max_side: int) -> np.ndarray:
    """RGB uint8, downscaled (Lanczos, as the training data) so the longer side <= max_side."""
    rgb = read_image(path)
    h, w = rgb.shape[:2]
    if max_side and max(h, w) > max_side:
        s = max_side / max(h, w)
        im = Image.fromarray(rgb).resize((max(1, round(w * s)), max(1, round(h * s))),
                                         Image.Resampling.LANCZOS)
        rgb = np.asarray(im)
    return np.ascontiguousarray(rgb)


def zvc69_point(img: np.ndarray, q: int, codecs: Codecs, tmp: Path) -> Point:
    """One image at one quality through StreamEncoder -> file -> StreamDecoder."""
    h, w = img.shape[:2]
    path = tmp / f"q{q}.zvc69"
    enc = StreamEncoder(path, w, h, quality=q, gop=1, codecs=codecs)
    t0 = time.perf_counter()
    (recon,), (est,) = enc.encode_all([img])
    enc_ms = (time.perf_counter() - t0) * 1000
    enc.close()
    with StreamDecoder(path, codecs=codecs) as dec:
        t0 = time.perf_counter()
        out, dst = dec.decode(0)
        dec_ms = (time.perf_counter() - t0) * 1000
    payload = est.size_bytes - frame_header_size(VERSION[0])  # size_bytes includes the frame header
    return {"q": q, "bytes": payload, "file_bytes": path.stat().st_size,
            "bpp": 8 * payload / (w * h), "psnr": min(PSNR_CAP, psnr_rgb(img, out)),
            "mismatch": not np.array_equal(out, recon), "enc_ms": enc_ms, "dec_ms": dec_ms,
            "enc_timings": est.timings, "dec_timings": dst.timings}


def pillow_point(img: np.ndarray, fmt_name: str, q: int) -> Point:
    """One image through Pillow at quality q (JPEG: optimised tables; WebP: method 6)."""
    h, w = img.shape[:2]
    pil = Image.fromarray(img)
    buf = io.BytesIO()
    opts: dict[str, Any] = ({"quality": q, "optimize": True} if fmt_name == "JPEG"
                            else {"quality": q, "method": 6})
    t0 = time.perf_counter()
    pil.save(buf, fmt_name, **opts)
    enc_ms = (time.perf_counter() - t0) * 1000
    data = buf.getvalue()
    t0 = time.perf_counter()
    with Image.open(io.BytesIO(data)) as im:
        out = np.asarray(im.convert("RGB"))
    dec_ms = (time.perf_counter() - t0) * 1000
    return {"q": q, "bytes": len(data), "bpp": 8 * len(data) / (w * h),
            "psnr": min(PSNR_CAP, psnr_rgb(img, out)), "enc_ms": enc_ms, "dec_ms": dec_ms}


def averaged(per_image: list[list[Point]]) -> tuple[list[float], list[float], list[int]]:
    """Mean bpp and mean PSNR per setting over images (settings in sweep order)."""
    qs = [p["q"] for p in per_image[0]]
    bpp = [float(np.mean([pts[i]["bpp"] for pts in per_image])) for i in range(len(qs))]
    psnr = [float(np.mean([pts[i]["psnr"] for pts in per_image])) for i in range(len(qs))]
    return bpp, psnr, qs


def curve(points: list[Point]) -> tuple[list[float], list[float]]:
    return [p["bpp"] for p in points], [p["psnr"] for p in points]


def ms_per_mp(points: list[Point], mps: list[float], key: str) -> float:
    """Total ms / total megapixels over all images and settings."""
    ms = sum(p[key] for pts in points for p in pts)
    mp = sum(mp * len(pts) for pts, mp in zip(points, mps, strict=True))
    return ms / mp if mp else math.nan


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", nargs="+", metavar="DIR_OR_FILE",
                    help="images or folders (default: the held-out evaluation images)")
    ap.add_argument("--max-side", type=int, default=768,
                    help="downscale so the longer side is at most this (0: keep)")
    ap.add_argument("--qualities", type=int_list, default=list(range(1, 9)),
                    help="ZVC69 levels, e.g. 1:8 or 2,4,6")
    ap.add_argument("--jpeg", type=int_list, default=list(range(5, 96, 5)),
                    help="JPEG qualities (default 5:95:5)")
    ap.add_argument("--webp", type=int_list, default=list(range(5, 96, 5)),
                    help="WebP qualities (default 5:95:5)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    ap.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    ap.add_argument("--graph-opt", default="all", choices=("none", "basic", "extended", "all"))
    ap.add_argument("--no-warmup", action="store_true",
                    help="skip the untimed encode+decode of each image before its sweep "
                         "(the first run at a new size is slower)")
    ap.add_argument("--out", default="bench-out", help="output folder")
    args = ap.parse_args(argv)

    out = out_dir(args.out)
    files = find_images(args.images)
    codecs = shared_codecs(args.device, args.threads, args.graph_opt)
    info = run_info(args.device, args.threads, args.graph_opt) | {
        "backend": codecs.backend.description}
    rep = Report()
    print_info(info)
    rep(f"# ZVC69 intra RD: {len(files)} images, max side {args.max_side or 'native'}")
    rep()

    zvc: list[list[Point]] = []
    jpeg: list[list[Point]] = []
    webp: list[list[Point]] = []
    names: list[str] = []
    mps: list[float] = []
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="zvc69-intra-rd-") as tmpdir:
        tmp = Path(tmpdir)
        for n, f in enumerate(files, 1):
            img = load(f, args.max_side)
            h, w = img.shape[:2]
            names.append(f.name)
            mps.append(w * h / 1e6)
            if not args.no_warmup:
                zvc69_point(img, args.qualities[len(args.qualities) // 2], codecs, tmp)
            zvc.append([zvc69_point(img, q, codecs, tmp) for q in args.qualities])
            jpeg.append([pillow_point(img, "JPEG", q) for q in args.jpeg])
            webp.append([pillow_point(img, "WEBP", q) for q in args.webp])
            print(f"[{n}/{len(files)}] {f.name} {w}x{h}: ZVC69 "
                  f"{fmt(zvc[-1][0]['bpp'], 3)}..{fmt(zvc[-1][-1]['bpp'], 3)} bpp, "
                  f"{fmt(zvc[-1][0]['psnr'])}..{fmt(zvc[-1][-1]['psnr'])} dB "
                  f"({time.perf_counter() - t_start:.0f} s)", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - t_start

    # -- RD tables on averaged curves --------------------------------------------------------
    curves = {"ZVC69": averaged(zvc), "JPEG": averaged(jpeg), "WebP": averaged(webp)}
    setting = {"ZVC69": "Q", "JPEG": "quality", "WebP": "quality"}
    for name, (bpp, psnr, qs) in curves.items():
        rep(f"## {name}: mean over {len(files)} images per setting")
        rep()
        rep(md_table([setting[name], "bpp", "PSNR RGB dB"],
                     [[q, fmt(b, 4), fmt(p)] for q, b, p in zip(qs, bpp, psnr, strict=True)]))
        rep()

    # -- BD-rate ---------------------------------------------------------------------------
    bd_rows = []
    per_image: dict[str, list[float]] = {"JPEG": [], "WebP": []}
    per_image_db: dict[str, list[float]] = {"JPEG": [], "WebP": []}
    for i, name in enumerate(names):
        row: list[object] = [name, f"{mps[i]:.3f}"]
        for anchor, pts in (("JPEG", jpeg), ("WebP", webp)):
            v = bd(*curve(pts[i]), *curve(zvc[i]))
            d = bd(*curve(pts[i]), *curve(zvc[i]), metric="psnr")
            per_image[anchor].append(v)
            per_image_db[anchor].append(d)
            row += [pct(v), fmt(d, 2, signed=True)]
        bd_rows.append(row)
    rep("## ZVC69 against JPEG and WebP per image (PSNR RGB)")
    rep()
    rep(md_table(["image", "MP", "BD-rate vs JPEG", "BD-PSNR dB", "BD-rate vs WebP",
                  "BD-PSNR dB"], bd_rows))
    rep()
    result: dict[str, dict[str, float]] = {}
    zb, zp, _ = curves["ZVC69"]
    for anchor in ("JPEG", "WebP"):
        mean, count = mean_finite(per_image[anchor])
        ab, ap_, _ = curves[anchor]
        result[anchor] = {"per_image_mean": mean, "images_with_overlap": count,
                          "averaged_curves": bd(ab, ap_, zb, zp),
                          "bd_psnr_per_image_mean": mean_finite(per_image_db[anchor])[0],
                          "bd_psnr_averaged_curves": bd(ab, ap_, zb, zp, metric="psnr")}
    # The same measurement between the two anchors checks the method (WebP should win).
    wj = [bd(*curve(jpeg[i]), *curve(webp[i])) for i in range(len(names))]
    check = {"per_image_mean": mean_finite(wj)[0], "images_with_overlap": mean_finite(wj)[1],
             "averaged_curves": bd(*curves["JPEG"][:2], *curves["WebP"][:2]),
             "bd_psnr_per_image_mean": mean_finite(
                 [bd(*curve(jpeg[i]), *curve(webp[i]), metric="psnr")
                  for i in range(len(names))])[0],
             "bd_psnr_averaged_curves": bd(*curves["JPEG"][:2], *curves["WebP"][:2],
                                           metric="psnr")}
    rows = [[a if " " in a else f"ZVC69 vs {a}", pct(r["per_image_mean"]),
             f"{r['images_with_overlap']}/{len(names)}", pct(r["averaged_curves"]),
             fmt(r["bd_psnr_per_image_mean"], 2, True), fmt(r["bd_psnr_averaged_curves"], 2, True)]
            for a, r in [*result.items(), ("WebP vs JPEG (method check)", check)]]
    rep(md_table(["BD of", "BD-rate: mean of per-image", "images with overlap",
                  "BD-rate: averaged curves", "BD-PSNR dB: per-image mean",
                  "BD-PSNR dB: averaged curves"], rows))
    rep()
    rep("BD-rate/BD-PSNR: codec.metrics.bd_rate/bd_psnr (cubic fits, overlap only; the anchor "
        "is cut to the tested curve's PSNR or rate range plus one point either side); n/a = no "
        f"overlap. ZVC69 bpp = payload only (size_bytes - {frame_header_size(VERSION[0])}-byte "
        "frame header); JPEG/WebP bpp = whole file.")
    rep()

    # -- speed -----------------------------------------------------------------------------
    enc_mp = ms_per_mp(zvc, mps, "enc_ms")
    dec_mp = ms_per_mp(zvc, mps, "dec_ms")
    speed_rows = [["ZVC69", fmt(enc_mp, 1), fmt(dec_mp, 1), "1.00", "1.00"]]
    for name, pts in (("JPEG", jpeg), ("WebP m6", webp)):
        e, d = ms_per_mp(pts, mps, "enc_ms"), ms_per_mp(pts, mps, "dec_ms")
        speed_rows.append([name, fmt(e, 1), fmt(d, 1), fmt(enc_mp / e, 1), fmt(dec_mp / d, 1)])
    rep(f"## Speed ({info['backend']}), mean over all images and settings")
    rep()
    rep(md_table(["codec", "encode ms/MP", "decode ms/MP", "ZVC69 enc time / this",
                  "ZVC69 dec time / this"], speed_rows))
    rep()
    enc_split = stage_split([p["enc_timings"] for pts in zvc for p in pts],
                            sum(p["enc_ms"] for pts in zvc for p in pts))
    dec_split = stage_split([p["dec_timings"] for pts in zvc for p in pts],
                            sum(p["dec_ms"] for pts in zvc for p in pts))
    es, ds = shares(enc_split), shares(dec_split)
    rep(md_table(["ZVC69 stage group", "encode %", "decode %"],
                 [[GROUP_LABELS[g], fmt(es[g], 1), fmt(ds[g], 1)] for g in GROUP_ORDER
                  if enc_split[g] or dec_split[g]]))
    rep()

    # -- summary ---------------------------------------------------------------------------
    mismatches = sum(p["mismatch"] for pts in zvc for p in pts)
    total = sum(len(pts) for pts in zvc)
    vj, vw = result["JPEG"]["per_image_mean"], result["WebP"]["per_image_mean"]
    ok_j = math.isfinite(vj) and vj <= TARGET_JPEG
    ok_w = math.isfinite(vw) and vw < TARGET_WEBP
    why = " (no PSNR overlap with the anchor: see BD-PSNR)"
    rep("## Summary (BD-rate: mean of per-image values)")
    rep()
    rep(f"- BD-rate vs JPEG {pct(vj)} (target <= {TARGET_JPEG:.0f}%): {verdict(ok_j)}"
        + ("" if math.isfinite(vj) else why))
    rep(f"- BD-rate vs WebP {pct(vw)} (target < {TARGET_WEBP:.0f}%): {verdict(ok_w)}"
        + ("" if math.isfinite(vw) else why))
    rep(f"- images with PSNR overlap: {result['JPEG']['images_with_overlap']}/{len(names)} "
        f"(JPEG), {result['WebP']['images_with_overlap']}/{len(names)} (WebP)")
    rep(f"- decoder output == encoder reconstruction: {mismatches} mismatches in {total} "
        f"streams: {verdict(mismatches == 0)}")
    rep(f"- ZVC69 encode {fmt(enc_mp, 0)} ms/MP, decode {fmt(dec_mp, 0)} ms/MP; "
        f"run took {elapsed:.0f} s")
    rep()

    rep.write(out / "intra_rd.md")
    write_json(out / "intra_rd.json", {
        "info": info, "args": vars(args), "images": names, "megapixels": mps,
        "zvc69": zvc, "jpeg": jpeg, "webp": webp, "bd_rate": result,
        "bd_rate_per_image": per_image, "bd_psnr_per_image": per_image_db,
        "webp_vs_jpeg": check, "mismatches": mismatches,
        "speed_ms_per_mp": {"encode": enc_mp, "decode": dec_mp},
        "encode_split_ms": enc_split, "decode_split_ms": dec_split})
    plt = pyplot()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(7, 5))
        for name, (bpp, psnr, _) in curves.items():
            ax.plot(bpp, psnr, "o-" if name == "ZVC69" else ".-", label=name)
        ax.set_xlabel("bits per pixel (mean over images)")
        ax.set_ylabel("PSNR RGB, dB (mean over images)")
        ax.set_title(f"Intra RD, {len(names)} images: ZVC69 BD-rate vs JPEG "
                     f"{pct(vj)}, vs WebP {pct(vw)} (per-image mean)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "intra_rd.png", dpi=120)
        plt.close(fig)
    print(f"wrote {out / 'intra_rd.md'}, intra_rd.json, intra_rd.png", file=sys.stderr)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
