"""Frame view, overlays and timeline as real widgets (offscreen)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage

from app.player.synthetic import SyntheticSource
from app.views.frame_view import FrameView
from app.views.overlays import OVERLAY_NAMES
from app.views.timeline import Timeline


def pixels(widget) -> np.ndarray:
    """The widget as it renders now, (H, W, 4) uint8."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGBA8888)
    arr = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    return arr.reshape(image.height(), image.bytesPerLine() // 4, 4)[:, : image.width()].copy()


@pytest.fixture
def view(qtbot):
    v = FrameView()
    qtbot.addWidget(v)
    v.resize(640, 480)
    v.show()
    qtbot.waitExposed(v)
    src = SyntheticSource(width=128, height=96)
    image, stats = src.decode(3)  # a P-frame: vectors, skip mask, residual and bits
    v.set_frame(image, stats)
    qtbot.wait(50)
    return v


@pytest.mark.parametrize("name", OVERLAY_NAMES)
def test_each_overlay_changes_the_rendered_pixels(qtbot, view, name):
    before = pixels(view)
    view.set_overlay_visible(name, True)
    qtbot.wait(50)
    shown = pixels(view)
    changed = np.any(shown != before, axis=2).mean()
    assert changed > 0.002, f"{name} did not change the picture"
    view.set_overlay_opacity(name, 0.0)
    qtbot.wait(50)
    assert np.any(pixels(view) != shown)  # opacity applies
    view.set_overlay_visible(name, False)
    qtbot.wait(50)
    assert np.array_equal(pixels(view), before)


def test_motion_vectors_thin_out_when_zoomed_out(qtbot):
    v = FrameView()
    qtbot.addWidget(v)
    v.resize(400, 300)
    v.show()
    src = SyntheticSource(width=512, height=384, mv_block=8)
    image, stats = src.decode(1)
    v.set_frame(image, stats)
    v.set_overlay_visible("mv", True)
    v.zoom_to(4.0)
    qtbot.waitUntil(lambda: abs(v.zoom - 4.0) < 0.1, timeout=2000)
    close_up = v.motion_vectors.arrow_count
    v.zoom_fit()
    qtbot.waitUntil(lambda: v.zoom < 1.0, timeout=2000)
    far = v.motion_vectors.arrow_count
    assert close_up == stats.mv.shape[0] * stats.mv.shape[1]  # one arrow per block
    assert 0 < far < close_up / 3
    v.motion_vectors.set_colour_by("magnitude")
    assert v.motion_vectors.colour_by == "magnitude"


def test_hover_reports_pixel_and_block(view):
    info = view.info_at(37.5, 20.2)
    assert (info.x, info.y) == (37, 20)
    assert info.rgb == tuple(int(c) for c in view.image[20, 37])
    assert (info.row, info.col) == (1, 2)
    text = info.describe()
    assert "x 37  y 20" in text and "block (1, 2)" in text and "mv (" in text
    assert view.info_at(-1, 5) is None and view.info_at(500, 5) is None


def test_timeline_click_and_drag_seek(qtbot):
    t = Timeline()
    qtbot.addWidget(t)
    t.resize(416, 28)
    t.show()
    t.set_length(100)
    t.set_buffered([(0, 30)])
    t.set_keyframes([0, 32, 64])
    seeks = []
    t.seek_requested.connect(seeks.append)
    qtbot.mouseClick(t, Qt.MouseButton.LeftButton, pos=QPoint(int(t.x_of(40)), 14))
    assert seeks == [40]
    qtbot.mousePress(t, Qt.MouseButton.LeftButton, pos=QPoint(int(t.x_of(10)), 14))
    qtbot.mouseMove(t, QPoint(int(t.x_of(75)), 14))
    qtbot.mouseRelease(t, Qt.MouseButton.LeftButton, pos=QPoint(int(t.x_of(75)), 14))
    assert seeks[-2:] == [10, 75]


def test_b_frame_arrows_and_info_show_both_references(qtbot, tmp_path):
    """A real B-frame: arrows to the reference before from blocks that use it and to the one
    after from blocks that use that; the info panel names both references and the modes."""
    from app.panels.frame_info import frame_rows
    from codec.api import StreamDecoder, shared_codecs
    from codec.bipred import BACKWARD, BOTH, FORWARD
    from tests.codec_helpers import encode, objects_clip

    path = tmp_path / "b.zvc69"
    encode(path, objects_clip(5, 64, 96), quality=3, bframes=3, b_adapt=False)
    with StreamDecoder(path, codecs=shared_codecs("cpu")) as dec:
        image, st = dec.decode(2)
    assert st.frame_type == "B" and st.refs == (0, 4)
    v = FrameView()
    qtbot.addWidget(v)
    v.resize(400, 300)
    v.show()
    v.set_frame(image, st)
    v.set_overlay_visible("mv", True)
    v.zoom_to(4.0)
    qtbot.waitUntil(lambda: abs(v.zoom - 4.0) < 0.1, timeout=2000)
    x, _, dx, _ = v.motion_vectors.vectors()
    m = st.modes.ravel()
    assert x.size == 2 * m.size  # one slot per block and reference (NaN: not used)
    fwd, bwd = dx[: m.size], dx[m.size:]
    assert np.isnan(fwd[m == BACKWARD]).all() and np.isnan(bwd[m == FORWARD]).all()
    assert np.isfinite(fwd[m != BACKWARD]).all() and np.isfinite(bwd[m != FORWARD]).all()
    assert "frame 0 and/or frame 4" in v.motion_vectors.legend()
    rows = {label: value for label, value, _ in frame_rows(st)}
    assert rows["References"].startswith("frame 0 (before) · frame 4 (after)")
    share = 100 * (m == BOTH).mean()
    assert f"both {share:.0f}%" in rows["Prediction"]
