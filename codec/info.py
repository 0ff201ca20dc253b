"""What is inside a .zvc69 file: header fields, frame statistics, GOP structure, damage."""

from __future__ import annotations

import os
from fractions import Fraction
from typing import Any

from codec.container import (
    COLOUR_SPACES,
    FRAME_TYPE_LABELS,
    HAS_B_FRAMES,
    HAS_INDEX,
    YCC_AXES,
    ContainerReader,
    number_of,
)
from codec.errors import ZVC69FormatError

_FLAG_NAMES = {HAS_INDEX: "HAS_INDEX", HAS_B_FRAMES: "HAS_B_FRAMES", YCC_AXES: "YCC_AXES"}


def describe(path: str | os.PathLike[str], verify: bool = False) -> dict[str, Any]:
    """A JSON-serialisable summary of the file; ``verify`` also checks every payload's CRC."""
    with ContainerReader(path) as r:
        h = r.header
        fps = Fraction(h.fps_num, h.fps_den)
        frames: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for e in r.index:
            row: dict[str, Any] = {
                "frame": e.frame_number,
                "offset": e.offset,
                "keyframe": e.keyframe,
                "reference": e.reference,
            }
            try:
                fh = (
                    r.read_frame(e.frame_number)[0]
                    if verify
                    else r.read_frame_header(e.frame_number)
                )
            except ZVC69FormatError as err:
                errors.append({"frame": e.frame_number, "error": str(err)})
                row["error"] = str(err)
            else:
                row.update(
                    type=fh.label,
                    size=r.frame_header_size + fh.payload_size,
                    pts=fh.pts,
                    shown=number_of(fh.pts, fps),
                    dts=fh.dts,
                    temporal_layer=fh.temporal_layer,
                    ref_flags=fh.ref_flags,
                    qp_offset=fh.qp_offset,
                    crc=f"{fh.crc:04x}",
                    filtered=fh.filtered,
                    grey=fh.grey,
                )
            frames.append(row)
        out: dict[str, Any] = {
            "path": str(path),
            "file_size": r.file_size,
            "version": f"{h.version_major}.{h.version_minor}",
            "frame_header_bytes": r.frame_header_size,
            "flags": [name for bit, name in _FLAG_NAMES.items() if h.flags & bit],
            "width": h.width,
            "height": h.height,
            "fps_num": h.fps_num,
            "fps_den": h.fps_den,
            "fps": h.fps,
            "header_total_frames": h.total_frames,
            "gop_size": h.gop_size,
            "quality": h.quality,
            "colour_space": COLOUR_SPACES[h.colour_space],
            "bit_depth": h.bit_depth,
            "model_hash": h.model_hash.hex(),
            "index_offset": h.index_offset,
            "latent_channels": h.latent_channels,
            "hyperprior_channels": h.hyperprior_channels,
            "frames": len(r),
            "index_rebuilt": r.index_rebuilt,
            "damage": r.damage,
        }
    sizes = [f["size"] for f in frames if "size" in f]
    types = {t: sum(f.get("type") == t for f in frames) for t in FRAME_TYPE_LABELS}
    duration = len(frames) * h.fps_den / h.fps_num
    keyframes = [f["frame"] for f in frames if f["keyframe"]]
    bounds = keyframes + [len(frames)]
    out.update(
        frame_types=types,
        total_bytes=sum(sizes),
        mean_bytes=sum(sizes) / len(sizes) if sizes else None,
        min_bytes=min(sizes, default=None),
        max_bytes=max(sizes, default=None),
        duration_s=duration,
        bitrate_kbps=8 * sum(sizes) / duration / 1000 if duration else None,
        keyframes=keyframes,
        gop_lengths=[b - a for a, b in zip(bounds, bounds[1:], strict=False)],
        errors=errors,
        verified=verify,
        index=frames,
    )
    return out


def _short(values: list[Any], limit: int = 16) -> str:
    text = ", ".join(str(v) for v in values[:limit])
    return text + (f", ... ({len(values) - limit} more)" if len(values) > limit else "")


def format_info(d: dict[str, Any], frames: int = 0) -> str:
    """Human-readable text for ``describe``'s dict, with a table of the first ``frames`` frames."""
    types = ", ".join(f"{t} {n}" for t, n in d["frame_types"].items())
    rate = f"{d['bitrate_kbps']:.1f} kbit/s" if d["bitrate_kbps"] is not None else "-"
    sizes = (
        f"total {d['total_bytes']} B, mean {d['mean_bytes']:.1f} B, "
        f"min {d['min_bytes']} B, max {d['max_bytes']} B"
        if d["mean_bytes"] is not None
        else "-"
    )
    lines = [
        f"file          {d['path']} ({d['file_size']} bytes)",
        f"format        ZVC69 {d['version']}, flags {'|'.join(d['flags']) or '-'}",
        f"video         {d['width']}x{d['height']} {d['colour_space']} {d['bit_depth']}-bit, "
        f"{d['fps_num']}/{d['fps_den']} fps ({d['fps']:.3f})",
        f"coding        quality {d['quality']}, GOP size {d['gop_size'] or 'variable'}, "
        f"model {d['model_hash']}, latent {d['latent_channels']} ch, "
        f"hyperprior {d['hyperprior_channels']} ch",
        f"frames        {d['frames']} ({types}), header says {d['header_total_frames']}",
        f"duration      {d['duration_s']:.3f} s, {rate}",
        f"frame size    {sizes} ({d['frame_header_bytes']}-byte frame header included)",
        f"keyframes     {_short(d['keyframes']) or '-'}",
        f"GOP lengths   {_short(d['gop_lengths']) or '-'}",
        "index         "
        + (
            "rebuilt by scanning frame headers"
            if d["index_rebuilt"]
            else f"at byte {d['index_offset']}"
        ),
    ]
    if d["damage"]:
        lines.append(f"damage        {d['damage']}")
    if d["verified"] or d["errors"]:
        lines.append(f"frame errors  {len(d['errors'])}" + (" (CRCs verified)" * d["verified"]))
        lines += [f"  frame {e['frame']}: {e['error']}" for e in d["errors"][:16]]
    if frames:
        # stored (decode) order; "shown": the frame's place in display order (B-frames are
        # stored after the later frame they predict from)
        row = "{:>5} {:>6}  {:4} {:>11} {:>8} {:>12}  {:>3}  {:>3}  {:>3}  {:>4}"
        lines.append(row.format("frame", "shown", "type", "offset", "size", "pts", "key",
                                "ref", "alf", "grey"))
        for f in d["index"][:frames]:
            if "error" in f:
                lines.append(f"{f['frame']:5d} {'?':>6}  ?    {f['offset']:11d}  {f['error']}")
                continue
            mark = {True: "*", False: ""}
            lines.append(
                row.format(
                    f["frame"],
                    f["shown"],
                    f["type"],
                    f["offset"],
                    f["size"],
                    f["pts"],
                    mark[f["keyframe"]],
                    mark[f["reference"]],
                    mark[f["filtered"]],
                    mark[f["grey"]],
                )
            )
        if len(d["index"]) > frames:
            lines.append(f"... {len(d['index']) - frames} more frames")
    return "\n".join(lines)
