"""A table of everything known about the current frame."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from codec.bipred import BACKWARD, FORWARD, MODE_NAMES
from codec.stats import BIT_PARTS, STAGES, FrameStats, LoopFilterInfo, WeightsInfo


def weights_row(w: WeightsInfo) -> tuple[str, str, list[tuple[str, str]]]:
    """The prediction weights: mean gain and offset, per channel and region as children."""
    gain, offset, region = w
    value = f"gain ≈{sum(gain) / 3:.2f} · offset ≈{sum(offset) / 3:+.0f}"
    kids = [("gain R G B", " ".join(f"{g:.3f}" for g in gain)),
            ("offset R G B", " ".join(f"{o:+d}" for o in offset))]
    if region is None:
        return "Prediction weights", value, [*kids, ("applied to", "the whole frame")]
    margins = "top {} · bottom {} · left {} · right {} px".format(*region)
    return "Prediction weights", value, [*kids, ("applied inside", margins)]


def motion_row(s: FrameStats) -> tuple[str, str, list[tuple[str, str]]]:
    """Vector lengths; for a B-frame those of the vectors its blocks use, per reference."""
    assert s.mv is not None
    if s.mv_back is None or s.modes is None:
        mag = np.hypot(s.mv[..., 0], s.mv[..., 1])
        return "Motion |mv|", f"mean {float(mag.mean()):.2f} · max {float(mag.max()):.2f} px", []
    kids, used = [], []
    for name, field, mask in (("to the frame before", s.mv, s.modes != BACKWARD),
                              ("to the frame after", s.mv_back, s.modes != FORWARD)):
        mag = np.hypot(field[..., 0], field[..., 1])[mask]
        if mag.size:
            used.append(mag)
            kids.append((name, f"mean {float(mag.mean()):.2f} · max {float(mag.max()):.2f} px "
                               f"({mag.size:,} blocks)"))
    if not used:
        return "Motion |mv|", "—", kids
    mag = np.concatenate(used)
    return ("Motion |mv|", f"mean {float(mag.mean()):.2f} · max {float(mag.max()):.2f} px "
            "(used)", kids)


def loop_filter_row(f: LoopFilterInfo) -> tuple[str, str, list[tuple[str, str]]]:
    """The adaptive loop filter: its clip, and per activity class its 12 taps (1/128) over
    the 7x7 diamond."""
    clip, coeffs, thresholds = f
    value = ("linear" if clip >= 255 else f"clip ±{clip}") + (
        f" · {len(coeffs)} activity classes" if len(coeffs) > 1 else " · one class")
    lows = (0, *thresholds)
    kids = [(f"taps (1/128), activity ≥ {lo}" if len(coeffs) > 1 else "taps (1/128)",
             " ".join(f"{c:+d}" for c in taps)) for lo, taps in zip(lows, coeffs, strict=True)]
    return "Loop filter", value, kids


def frame_rows(s: FrameStats, timings: dict[str, float] | None = None,
               psnr_source: float | None = None, encoded: FrameStats | None = None
               ) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(label, value, children) rows describing one frame (`encoded`: the encoder's stats)."""

    def opt(v: float | None, fmt: str) -> str:
        return "—" if v is None else format(v, fmt)

    rows: list[tuple[str, str, list[tuple[str, str]]]] = [
        ("Frame", str(s.index), []),
        ("Type", s.frame_type + ("  (keyframe)" if s.keyframe else "")
         + ("  scene cut" if s.scene_cut else ""), []),
        ("Size", f"{s.size_bytes:,} B · {s.bits_total / 1000:.1f} kbit", []),
        ("Quality", (str(s.quality) if s.quality else "—")
         + (f" + refinement at {s.refine_quality}" if s.refine_quality else "")
         + (f" · detail layer at {s.detail_quality}"
            if s.detail_quality and s.detail_quality != s.quality else ""), []),
        ("Resolution", f"{s.width} × {s.height}", []),
        *([("Colour", "grey (R = G = B; luma alone coded in the detail layer)", [])]
          if s.grey else []),
        *([("Bars (not coded)", "top {} · bottom {} · left {} · right {} px".format(*s.bars), [])]
          if s.bars else []),
        *([weights_row(s.weights)] if s.weights else []),
        *([("Latent prediction", "spatial (left, top, top-left, top-right)", [])]
          if s.latent_prediction else []),
        ("PTS", f"{s.pts}  ({s.pts / 90000:.3f} s)"
         + ("" if s.decode_index is None or s.decode_index == s.index
            else f" · decoded as frame {s.decode_index}"), []),
        *b_rows(s),
    ]
    total = sum(s.bits.values())
    bits = [(p, f"{s.bits[p]:,}  ({100 * s.bits[p] / total:.1f}%)")
            for p in BIT_PARTS if s.bits.get(p)] if total else []
    bits += [(k, f"{v:,} bits") for k, v in s.bits.items() if k not in BIT_PARTS]
    rows.append(("Bits by part", f"{total:,}" if total else "—", bits))
    rows.append(("Skipped blocks", "—" if s.skip_ratio is None
                 else f"{100 * s.skip_ratio:.1f}%", []))
    rows.append(("Residual energy", opt(s.mean_residual_energy, ".4g"), []))
    if s.detail_blocks is not None:
        coded = int(np.count_nonzero(s.detail_blocks))
        four = int(np.count_nonzero(s.detail_blocks == 2))
        wide = [int(np.count_nonzero(s.detail_blocks == k)) for k in (3, 4, 5)]
        parts = [("one 8×8 transform", f"{coded - four - sum(wide):,}"), ("four 4×4", f"{four:,}")]
        for size, n, per in ((16, wide[0], 4), (32, wide[1], 16), (64, wide[2], 64)):
            if n:
                parts.append((f"in {size}×{size} transforms", f"{n:,} ({n // per:,} transforms)"))
        rows.append(("Detail blocks", f"{coded:,} of {s.detail_blocks.size:,} 8×8", parts))
    if s.loop_filter is not None:
        rows.append(loop_filter_row(s.loop_filter))
    if s.mv is not None and s.mv.size:
        rows.append(motion_row(s))
        rows.append(("Motion blocks", f"{s.mv_block}×{s.mv_block} px ({s.mv.shape[0]}×"
                     f"{s.mv.shape[1]})", []))
    if s.sharp_mc:
        rows.append(("Interpolation", "8-tap (format 13)", []))
    rows.append(("Block size", f"{s.block_size} px", []))
    psnr = s.psnr if s.psnr is not None else (encoded.psnr if encoded else None)
    rows.append(("PSNR (encoder)", "—" if psnr is None else f"{psnr:.2f} dB", []))
    if psnr_source is not None:
        rows.append(("PSNR (vs source)", f"{psnr_source:.2f} dB", []))
    t = timings if timings is not None else s.timings
    if t:
        order = [k for k in STAGES if k in t] + sorted(set(t) - set(STAGES))
        rows.append(("Decode time", f"{sum(t.values()):.1f} ms",
                     [(k, f"{t[k]:.2f} ms") for k in order]))
    if encoded is not None and encoded.timings:
        e = encoded.timings
        order = [k for k in STAGES if k in e] + sorted(set(e) - set(STAGES))
        rows.append(("Encode time", f"{sum(e.values()):.1f} ms",
                     [(k, f"{e[k]:.2f} ms") for k in order]))
    return rows


class FrameInfoPanel(QTreeWidget):
    """Field/value tree of the current frame's FrameStats."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(2)
        self.setHeaderLabels(["Field", "Value"])
        self.setRootIsDecorated(True)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.header().setStretchLastSection(True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._expanded: set[str] = {"Bits by part"}
        self.show_empty()

    def show_empty(self) -> None:
        self.clear()
        QTreeWidgetItem(self, ["No frame", "open a stream to see its frame statistics"])

    def show_frame(self, s: FrameStats, timings: dict[str, float] | None = None,
                   psnr_source: float | None = None, encoded: FrameStats | None = None) -> None:
        for i in range(self.topLevelItemCount()):
            item = self.topLevelItem(i)
            if item.childCount():
                (self._expanded.add if item.isExpanded() else self._expanded.discard)(
                    item.text(0))
        self.setUpdatesEnabled(False)
        self.clear()
        for label, value, children in frame_rows(s, timings, psnr_source, encoded):
            item = QTreeWidgetItem(self, [label, value])
            for k, v in children:
                QTreeWidgetItem(item, [k, v])
            if children and label in self._expanded:
                item.setExpanded(True)
        self.setUpdatesEnabled(True)


def b_rows(s: FrameStats) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """A B-frame's references and how its blocks use them."""
    if s.refs is None:
        return []
    rows = [("References", f"frame {s.refs[0]} (before) · frame {s.refs[1]} (after)"
             + ("" if s.reference else " · not a reference itself"), [])]
    if s.modes is not None and s.modes.size:
        share = np.bincount(s.modes.ravel(), minlength=len(MODE_NAMES))[:len(MODE_NAMES)]
        share = 100.0 * share / s.modes.size
        rows.append(("Prediction", " · ".join(f"{name} {v:.0f}%" for name, v in
                                              zip(MODE_NAMES, share, strict=True)), []))
    return rows
