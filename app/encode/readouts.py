"""The Encode view's text: frame sizes, the preview's numbers and estimate, encode summaries."""

from __future__ import annotations

import math

from app.encode.options import EncodeOptions
from app.encode.preview import PreviewResult, SourceInfo
from app.timecode import format_bytes, format_fps
from codec.stats import FrameStats


def bits_text(stats: FrameStats, pixels: int) -> str:
    """"12.3 kbit · 0.521 bpp · 31.20 dB" for one coded frame."""
    bits = stats.bits_total
    psnr = "–" if stats.psnr is None else ("∞" if math.isinf(stats.psnr) else f"{stats.psnr:.2f}")
    return f"{bits / 1000:,.1f} kbit · {bits / max(1, pixels):.3f} bpp · {psnr} dB"


def clock(seconds: float | None) -> str:
    """"1:05" or "1:02:05"; "–:––" when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "–:––"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


def estimate(r: PreviewResult, info: SourceInfo | None, opts: EncodeOptions) -> str:
    """The bitrate of the whole encode if every I- and P-frame coded like the previewed ones."""
    assert r.inter is not None
    h, w = r.source.shape[:2]
    gop = opts.gop
    bpp = (r.intra.bits_total + (gop - 1) * r.inter.bits_total) / gop / (w * h)
    if info is None:
        return f"≈ {bpp:.3f} bpp at GOP {gop}"
    out_w, out_h = opts.size or (info.width, info.height)
    kbps = bpp * out_w * out_h * float(info.fps) / 1000.0
    return f"≈ {kbps:,.0f} kbit/s for {out_w}×{out_h} at {format_fps(info.fps)} fps, GOP {gop}"


def preview_text(r: PreviewResult, info: SourceInfo | None, opts: EncodeOptions) -> str:
    """The preview's I- and P-frame numbers and the bitrate they promise."""
    h, w = r.source.shape[:2]
    lines = [f"Preview at Q{r.quality} · {r.preset}  (the range's first frames, coded in "
             f"{r.ms / 1000:.1f} s)",
             f"  I-frame  {bits_text(r.intra, w * h)}"]
    if r.inter is None:
        lines.append("  P-frame  – (the source has one frame)" if r.final
                     else "  P-frame  coding…")
    else:
        lines.append(f"  P-frame  {bits_text(r.inter, w * h)}")
        lines.append(f"  {estimate(r, info, opts)}")
    return "\n".join(lines)


def summary(stats: list[FrameStats], fps: float, elapsed: float | None = None) -> str:
    """"30 frames · 223.7 KB · 1,832 kbit/s · mean PSNR 18.87 dB in 0:04"."""
    if not stats:
        return ""
    bits = sum(s.bits_total for s in stats)
    psnr = [s.psnr for s in stats if s.psnr is not None and math.isfinite(s.psnr)]
    kbps = bits / len(stats) * fps / 1000.0
    mean = f" · mean PSNR {sum(psnr) / len(psnr):.2f} dB" if psnr else ""
    spent = f" in {clock(elapsed)}" if elapsed is not None else ""
    return f"{len(stats)} frames · {format_bytes(bits // 8)} · {kbps:,.0f} kbit/s{mean}{spent}"
