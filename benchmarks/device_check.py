"""Cross-device decoding check: encode in one execution setting, decode in others, compare.

For every size, the demo source (moving objects and a pan) is encoded once per encoder setting
and decoded in every decoder setting. Printed per (encoder, decoder) pair:

* entropy symbols: whether every frame's side information and per-block bits (computed from the
  decoded integer symbols and scale indexes) equal those of a decode in the encoder's own
  setting, i.e. the entropy decoder made the same choices;
* frames byte-identical to the encoder's reconstruction, the largest pixel difference and the
  share of differing pixel values over the whole clip.

    .venv/bin/python -m benchmarks.device_check [--sizes 96x64,480p,1080p] [--frames 8]
        [--settings cpu:1:none,cpu:2:all,cuda] [--out bench-out]

A setting is DEVICE[:THREADS[:GRAPH_OPT]]; settings whose device is missing are skipped.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.common import Report, md_table, out_dir, parse_size, write_json  # noqa: E402
from codec.api import StreamDecoder, StreamEncoder  # noqa: E402
from codec.backend import Backend, cuda_present  # noqa: E402
from codec.demo import demo_source  # noqa: E402
from codec.encoder import Codecs  # noqa: E402
from codec.errors import ZVC69Error  # noqa: E402
from codec.models import load_models  # noqa: E402


def parse_setting(text: str) -> tuple[str, int | None, str]:
    parts = text.split(":")
    device = parts[0]
    threads = int(parts[1]) if len(parts) > 1 and parts[1] else None
    opt = parts[2] if len(parts) > 2 else "all"
    return device, threads, opt


def encode(path: Path, frames: list[np.ndarray], codecs: Codecs, args: argparse.Namespace
           ) -> list[np.ndarray]:
    """Encode; the encoder's reconstructions."""
    h, w = frames[0].shape[:2]
    with StreamEncoder(path, w, h, Fraction(30), args.quality, args.preset, args.gop,
                       codecs=codecs) as enc:
        return enc.encode_all(frames)[0]


def decode(path: Path, codecs: Codecs) -> tuple[list[np.ndarray], list[tuple]]:
    """Decoded frames and, per frame, what the entropy decoder produced."""
    frames, side = [], []
    with StreamDecoder(path, codecs=codecs) as dec:
        for frame, st in dec.frames():
            frames.append(frame)
            side.append(tuple(None if a is None else np.asarray(a).tobytes() for a in
                              (st.mv, st.skip, st.bits_per_block)))
    return frames, side


def compare(recons: list[np.ndarray], frames: list[np.ndarray], side: list[tuple],
            ref_side: list[tuple]) -> dict[str, Any]:
    same_frames = max_diff = differing = total = 0
    for r, f in zip(recons, frames, strict=True):
        d = np.abs(f.astype(np.int16) - r.astype(np.int16))
        same_frames += not d.any()
        max_diff = max(max_diff, int(d.max()))
        differing += int(np.count_nonzero(d))
        total += d.size
    same_symbols = sum(a == b for a, b in zip(side, ref_side, strict=True))
    return {"frames": len(recons), "same_frames": same_frames, "same_symbols": same_symbols,
            "max_diff": max_diff, "differing_share": differing / max(total, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="96x64,200x120,480p,1080p")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--settings", default="cpu:1:none,cpu:2:all,cuda",
                    help="comma-separated DEVICE[:THREADS[:GRAPH_OPT]]")
    ap.add_argument("--encoders", default="cpu:1:none,cuda",
                    help="settings that also encode (a subset of --settings)")
    ap.add_argument("--quality", type=int, default=5)
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--gop", type=int, default=8)
    ap.add_argument("--out", default="bench-out")
    args = ap.parse_args(argv)

    try:
        settings = [parse_setting(s) for s in args.settings.split(",") if s]
        settings = [s for s in settings if s[0] != "cuda" or cuda_present()]
        encoders = [parse_setting(s) for s in args.encoders.split(",") if s]
        encoders = [s for s in encoders if s in settings]
        models = load_models()
        codecs = {s: Codecs(models, Backend(*s)) for s in settings}
    except (ValueError, ZVC69Error) as exc:
        ap.error(str(exc))

    rep = Report()
    rep(f"# Cross-device decoding: Q{args.quality}, preset {args.preset}, GOP {args.gop}, "
        f"{args.frames} frames of the demo source")
    rep()
    rows, runs = [], []
    with tempfile.TemporaryDirectory(prefix="zvc69-devcheck-") as tmp:
        for size in args.sizes.split(","):
            w, h = parse_size(size)
            frames = list(demo_source(w, h, args.frames))
            for es in encoders:
                path = Path(tmp) / f"{w}x{h}.zvc69"
                recons = encode(path, frames, codecs[es], args)
                _, ref_side = decode(path, codecs[es])
                for ds in settings:
                    r = compare(recons, *decode(path, codecs[ds]), ref_side)
                    r |= {"size": f"{w}x{h}", "encoder": codecs[es].backend.description,
                          "decoder": codecs[ds].backend.description}
                    runs.append(r)
                    rows.append([r["size"], r["encoder"], r["decoder"],
                                 f"{r['same_symbols']}/{r['frames']}",
                                 f"{r['same_frames']}/{r['frames']}", r["max_diff"],
                                 f"{100 * r['differing_share']:.4f}"])
                    print(" | ".join(map(str, rows[-1])), file=sys.stderr, flush=True)
    rep(md_table(["size", "encoded on", "decoded on", "same entropy symbols",
                  "frames identical", "max |diff|", "differing values %"], rows))
    out = out_dir(args.out)
    rep.write(out / "device_check.md")
    write_json(out / "device_check.json", {"args": vars(args), "runs": runs})
    return 0 if all(r["same_symbols"] == r["frames"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
