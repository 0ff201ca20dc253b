"""Tests for codec.media: sources, sinks, images and their errors, on small real files."""

from __future__ import annotations

import logging
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from codec.demo import DemoSource, demo_source
from codec.errors import SourceError
from codec.media import (
    FrameSource,
    VideoSource,
    open_any,
    open_sink,
    open_source,
    read_image,
    write_image,
)
from codec.metrics import frame_planes, psnr_rgb, psnr_yuv420, rgb_to_yuv420, yuv420_to_rgb


def demo_frames(w: int, h: int, n: int) -> list[np.ndarray]:
    return list(demo_source(w, h, frames=n))


def smooth_frames(w: int, h: int, n: int) -> list[np.ndarray]:
    """Frames that 4:2:0 represents exactly (detailed luma, smooth chroma), moving with n."""
    out = []
    for t in range(n):
        yy, xx = np.mgrid[0:h, 0:w]
        y = (110 + 60 * np.sin((xx + t) / 3.0) * np.cos(yy / 4.0)).astype(np.uint8)
        cy, cx = np.mgrid[0 : (h + 1) // 2, 0 : (w + 1) // 2]
        u = (128 + 20 * np.sin((cx + t) / 4.0)).astype(np.uint8)
        v = (128 + 20 * np.cos(cy / 3.0)).astype(np.uint8)
        out.append(yuv420_to_rgb(y, u, v))
    return out


def write_with_pyav(
    path: Path,
    frames: list[np.ndarray],
    codec: str,
    pix_fmt: str = "yuv420p",
    rate: Fraction | int = 25,
    fmt: str | None = None,
    options: dict[str, str] | None = None,
) -> None:
    """Make a test video straight with PyAV (independent of the sinks under test)."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, options=options or {})
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def decoded_planes(path: Path) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    with av.open(str(path)) as c:
        return [frame_planes(f) for f in c.decode(video=0)]


# -- sinks and round trips ----------------------------------------------------------------


@pytest.mark.parametrize(("w", "h"), [(32, 24), (33, 17)])
def test_y4m_round_trip(tmp_path: Path, w: int, h: int) -> None:
    src = demo_frames(w, h, 4)
    path = tmp_path / "clip.y4m"
    with open_sink(path, w, h, Fraction(30000, 1001)) as sink:
        for f in src:
            sink.write(f)
    assert sink.frames_written == 4 and (sink.coded_width, sink.coded_height) == (w, h)
    planes = decoded_planes(path)
    assert len(planes) == 4
    for got, rgb in zip(planes, src, strict=True):  # the file holds exactly our yuv420p planes
        assert all(np.array_equal(a, b) for a, b in zip(got, rgb_to_yuv420(rgb), strict=True))
    with open_source(path) as back:
        assert (back.width, back.height, back.kind) == (w, h, "video")
        assert back.fps == Fraction(30000, 1001)
        assert back.frame_count == 4
        frames = list(back)
    for f, p in zip(frames, planes, strict=True):
        assert f.shape == (h, w, 3) and f.dtype == np.uint8
        assert np.array_equal(f, yuv420_to_rgb(*p))


@pytest.mark.parametrize(("w", "h"), [(32, 24), (33, 17)])
def test_y4m_exact_for_yuv420_content(tmp_path: Path, w: int, h: int) -> None:
    src = smooth_frames(w, h, 3)
    path = tmp_path / "smooth.y4m"
    with open_sink(path, w, h, 25) as sink:
        for f in src:
            sink.write(f)
    back = list(open_source(path))
    assert all(np.array_equal(a, b) for a, b in zip(back, src, strict=True))


def test_png_folder_round_trip_exact(tmp_path: Path) -> None:
    src = demo_frames(33, 17, 3)
    out = tmp_path / "frames"
    with open_sink(f"{out}/", 33, 17, 24) as sink:
        for f in src:
            sink.write(f)
    assert sorted(p.name for p in out.iterdir()) == [
        "frame_000000.png",
        "frame_000001.png",
        "frame_000002.png",
    ]
    with open_source(out) as back:
        assert (back.kind, back.frame_count, back.width, back.height) == ("folder", 3, 33, 17)
        frames = list(back)
    assert all(np.array_equal(a, b) for a, b in zip(frames, src, strict=True))
    # An existing folder is a PNG sink even without the trailing slash.
    with open_sink(out, 33, 17, 24) as sink:
        sink.write(src[2])
    assert np.array_equal(read_image(out / "frame_000000.png"), src[2])


def test_folder_source_natural_order(tmp_path: Path) -> None:
    for i in (1, 2, 10):
        write_image(tmp_path / f"img{i}.png", np.full((4, 6, 3), i * 20, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    values = [int(f[0, 0, 0]) for f in open_source(tmp_path)]
    assert values == [20, 40, 200]


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_h264_round_trip(tmp_path: Path, ext: str) -> None:
    src = smooth_frames(32, 24, 5)
    path = tmp_path / f"clip{ext}"
    with open_sink(path, 32, 24, Fraction(30000, 1001)) as sink:
        for f in src:
            sink.write(f)
    with open_source(path) as back:
        assert (back.width, back.height) == (32, 24)
        assert back.fps == Fraction(30000, 1001)
        assert back.frame_count == 5
        frames = list(back)
    assert len(frames) == 5
    for a, b in zip(frames, src, strict=True):
        assert psnr_yuv420(b, a)["yuv"] > 40  # CRC 12: close to lossless


def test_h264_odd_size_is_padded(tmp_path: Path) -> None:
    src = smooth_frames(33, 17, 2)
    path = tmp_path / "odd.mp4"
    with open_sink(path, 33, 17, 25) as sink:
        assert (sink.coded_width, sink.coded_height) == (34, 18)
        for f in src:
            sink.write(f)
    frames = list(open_source(path))
    assert frames[0].shape == (18, 34, 3)
    for a, b in zip(frames, src, strict=True):
        assert psnr_rgb(a[:17, :33], b) > 38


def test_sink_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"clip\.avi.*\.y4m, \.mp4, \.mkv"):
        open_sink(tmp_path / "clip.avi", 16, 16, 25)
    with pytest.raises(SourceError, match="noext"):
        open_sink(tmp_path / "noext", 16, 16, 25)
    with pytest.raises(SourceError, match=r"size\.y4m"):
        open_sink(tmp_path / "size.y4m", 0, 16, 25)
    with pytest.raises(SourceError, match=r"rate\.y4m"):
        open_sink(tmp_path / "rate.y4m", 16, 16, 0)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SourceError, match="file"):
        open_sink(blocker / "clip.mp4", 16, 16, 25)
    with pytest.raises(SourceError, match="file"):
        open_sink(f"{blocker}/sub/", 16, 16, 25)
    with open_sink(tmp_path / "ok.y4m", 16, 16, 25) as sink:
        with pytest.raises(ValueError, match="uint8"):
            sink.write(np.zeros((16, 15, 3), np.uint8))
        with pytest.raises(ValueError):
            sink.write(np.zeros((16, 16, 3), np.float32))
    with pytest.raises(ValueError, match="closed"):
        sink.write(np.zeros((16, 16, 3), np.uint8))


# -- sources ------------------------------------------------------------------------------


@pytest.fixture()
def y4m6(tmp_path: Path) -> tuple[Path, list[np.ndarray]]:
    frames = smooth_frames(32, 24, 6)
    path = tmp_path / "six.y4m"
    write_with_pyav(path, frames, "rawvideo", fmt="yuv4mpegpipe")
    return path, frames


def test_scaling(y4m6: tuple[Path, list[np.ndarray]]) -> None:
    path, _ = y4m6
    for size in ((16, 12), (45, 31), (1, 1)):
        with open_source(path, scale=size, frames=2) as src:
            assert (src.width, src.height) == size
            assert (src.source_width, src.source_height) == (32, 24)
            frames = list(src)
        assert [f.shape for f in frames] == [(size[1], size[0], 3)] * 2


def test_scaling_keeps_flat_colour(tmp_path: Path) -> None:
    path = tmp_path / "flat.mkv"
    write_with_pyav(path, [np.full((24, 32, 3), (200, 80, 40), np.uint8)] * 2, "ffv1", "bgr0")
    (frame,) = open_source(path, scale=(13, 7), frames=1)
    assert np.all(np.abs(frame.astype(int) - (200, 80, 40)) <= 1)


def test_frame_limits(y4m6: tuple[Path, list[np.ndarray]]) -> None:
    path, src = y4m6
    assert len(list(open_source(path))) == 6
    with open_source(path, frames=2, start=3) as s:
        assert s.frame_count == 2
        got = list(s)
    assert len(got) == 2
    assert all(np.array_equal(a, b) for a, b in zip(got, src[3:5], strict=True))
    s = open_source(path, start=4)
    assert s.frame_count == 2 and len(list(s)) == 2
    assert open_source(path, frames=100).frame_count == 6
    with pytest.raises(SourceError, match=r"six\.y4m.*start"):
        list(open_source(path, start=9))


def test_reiterable_and_close(y4m6: tuple[Path, list[np.ndarray]]) -> None:
    path, _ = y4m6
    src = open_source(path)
    first = list(src)
    second = list(src)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    it = iter(src)
    next(it)
    src.close()
    assert list(it) == []  # closing ends an iteration in progress
    with pytest.raises(ValueError, match="closed"):
        iter(src).__next__()


def test_lossless_rgb_source_is_exact(tmp_path: Path) -> None:
    frames = demo_frames(31, 19, 3)
    path = tmp_path / "rgb.mkv"
    write_with_pyav(path, frames, "ffv1", "bgr0")
    got = list(open_source(path))
    assert all(np.array_equal(a, b) for a, b in zip(got, frames, strict=True))


@pytest.mark.parametrize(
    ("name", "codec", "options"),
    [
        ("clip.avi", "mpeg4", {"qscale": "2"}),
        ("clip.webm", "libvpx-vp9", {"deadline": "realtime", "cpu-used": "8", "crf": "10"}),
        ("clip.mov", "libx264", {"crf": "10"}),
    ],
)
def test_other_containers(tmp_path: Path, name: str, codec: str, options: dict) -> None:
    frames = smooth_frames(32, 24, 4)
    path = tmp_path / name
    write_with_pyav(path, frames, codec, rate=Fraction(24), options=options)
    with open_source(path) as src:
        assert src.fps == 24
        assert src.frame_count == 4
        got = list(src)
    assert len(got) == 4
    assert psnr_rgb(got[0], frames[0]) > 30


@pytest.mark.parametrize(
    ("pix_fmt", "scales"),
    [
        ("yuv420p", {None: True, (16, 12): False, (16, 24): True, (64, 48): True}),
        ("yuv422p", {None: True, (16, 24): False, (32, 12): True}),
        ("yuv444p", {None: False, (64, 48): False}),
        ("bgr0", {None: False}),
        ("gray", {None: False}),
    ],
)
def test_subsampled_chroma(tmp_path: Path, pix_fmt: str, scales: dict) -> None:
    """Whether the stored chroma is coarser than the frames yielded (at their scale)."""
    path = tmp_path / "clip.mkv"
    write_with_pyav(path, smooth_frames(32, 24, 2), "ffv1", pix_fmt)
    for scale, coarse in scales.items():
        with open_source(path, scale=scale) as src:
            assert src.subsampled_chroma is coarse, scale


def test_images_and_demo_have_full_chroma(tmp_path: Path) -> None:
    write_image(tmp_path / "a.jpg", demo_frames(32, 24, 1)[0])
    assert open_source(tmp_path / "a.jpg").subsampled_chroma is False
    assert open_source(tmp_path).subsampled_chroma is False  # the folder
    assert open_any("demo:32x24").subsampled_chroma is False
    assert open_any("demo:32x24", scale=(16, 12)).subsampled_chroma is False


def test_bt709_tagged_source_uses_its_matrix(tmp_path: Path) -> None:
    y = np.full((16, 16), 81, np.uint8)  # BT.601 red: under BT.709 it is a different colour
    u = np.full((8, 8), 90, np.uint8)
    v = np.full((8, 8), 240, np.uint8)
    path = tmp_path / "hd.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        stream.codec_context.colorspace = 1  # AVCOL_SPC_BT709
        stream.codec_context.color_range = 1  # limited
        frame = av.VideoFrame(16, 16, "yuv420p")
        for plane, data in zip(frame.planes, (y, u, v), strict=True):
            padded = np.zeros((plane.height, plane.line_size), np.uint8)
            padded[:, : plane.width] = data
            plane.update(padded.tobytes())
        frame.pts = 0
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    (rgb,) = open_source(path)
    as_601 = yuv420_to_rgb(y, u, v)[0, 0]
    assert np.abs(as_601.astype(int) - (255, 0, 0)).max() <= 2
    # BT.709 decoding of the same code values: R' = 1.164*65 + 1.793*112 -> clipped 255,
    # G' = 1.164*65 - 0.213*(-38) - 0.533*112 = 23, B' = 1.164*65 + 2.112*(-38) = -4 -> 0.
    assert np.abs(rgb[0, 0].astype(int) - (255, 23, 0)).max() <= 3


# -- still images -------------------------------------------------------------------------


def test_still_image_sources(tmp_path: Path) -> None:
    rgb = demo_frames(33, 17, 1)[0]
    write_image(tmp_path / "a.png", rgb)
    with open_source(tmp_path / "a.png") as src:
        assert (src.kind, src.frame_count, src.width, src.height) == ("image", 1, 33, 17)
        assert src.fps == Fraction(30)
        frames = list(src)
    assert len(frames) == 1 and np.array_equal(frames[0], rgb)
    (small,) = open_source(tmp_path / "a.png", scale=(11, 5))
    assert small.shape == (5, 11, 3)
    write_image(tmp_path / "a.jpg", rgb)
    (jpg,) = open_source(tmp_path / "a.jpg")
    assert psnr_rgb(jpg, rgb) > 30
    with pytest.raises(SourceError, match=r"a\.png.*start"):
        list(open_source(tmp_path / "a.png", start=1))


def test_read_image_converts_modes(tmp_path: Path) -> None:
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 7
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    got = read_image(tmp_path / "rgba.png")
    assert got.shape == (4, 5, 3) and np.all(got == (200, 0, 0))
    Image.fromarray(np.full((3, 2), 90, np.uint8), "L").save(tmp_path / "grey.png")
    assert np.all(read_image(tmp_path / "grey.png") == 90)
    Image.fromarray(np.full((3, 2), 0x8000, np.uint16)).save(tmp_path / "deep.png")
    deep = read_image(tmp_path / "deep.png")
    assert deep.dtype == np.uint8 and np.all(deep == 128)
    pal = Image.fromarray(np.full((3, 2, 3), (10, 20, 30), np.uint8))
    pal.convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "pal.png")
    assert np.all(read_image(tmp_path / "pal.png") == (10, 20, 30))


def test_write_image_inputs_and_errors(tmp_path: Path) -> None:
    write_image(tmp_path / "g.png", np.full((3, 4), 50, np.uint8))
    assert np.all(read_image(tmp_path / "g.png") == 50)
    write_image(tmp_path / "c.png", np.full((3, 4, 4), 60, np.uint8))
    assert read_image(tmp_path / "c.png").shape == (3, 4, 3)
    with pytest.raises(SourceError, match=r"x\.gif.*\.png"):
        write_image(tmp_path / "x.gif", np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError):
        write_image(tmp_path / "f.png", np.zeros((2, 2, 3), np.float32))
    with pytest.raises(SourceError, match="nodir"):
        write_image(tmp_path / "nodir" / "x.png", np.zeros((2, 2, 3), np.uint8))


def test_read_image_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"gone\.png"):
        read_image(tmp_path / "gone.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(SourceError, match=r"bad\.png"):
        read_image(bad)
    with pytest.raises(SourceError, match=r"bad\.png"):
        open_source(bad)


# -- source errors ------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nothere\.mp4.*no such"):
        open_source(tmp_path / "nothere.mp4")


def test_not_media(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 20)
    with pytest.raises(SourceError, match=r"notes\.mp4"):
        open_source(path)


def test_no_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.zeros(800, np.int16).tobytes())
    with pytest.raises(SourceError, match=r"tone\.wav.*no video stream.*audio"):
        open_source(path)


def test_corrupt_mid_stream(tmp_path: Path) -> None:
    frames = smooth_frames(16, 16, 8)
    path = tmp_path / "broken.y4m"
    write_with_pyav(path, frames, "rawvideo", fmt="yuv4mpegpipe")
    data = bytearray(path.read_bytes())
    markers = [i for i in range(len(data)) if data[i : i + 5] == b"FRAME"]
    data[markers[5] : markers[5] + 5] = b"JUNK!"
    path.write_bytes(bytes(data))
    src = open_source(path)
    got = []
    with pytest.raises(SourceError, match=r"broken\.y4m.*damaged.*after 5"):
        for f in src:
            got.append(f)
    assert len(got) == 5  # what decoded before the damage was delivered
    assert all(psnr_rgb(a, b) > 40 for a, b in zip(got, frames[:5], strict=True))


def test_truncated_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    frames = smooth_frames(16, 16, 10)
    mp4 = tmp_path / "cut.mp4"
    write_with_pyav(mp4, frames, "libx264")
    mp4.write_bytes(mp4.read_bytes()[: mp4.stat().st_size // 2])
    with pytest.raises(SourceError, match=r"cut\.mp4"):
        open_source(mp4)
    mkv = tmp_path / "cut.mkv"
    write_with_pyav(mkv, frames, "ffv1")
    mkv.write_bytes(mkv.read_bytes()[: int(mkv.stat().st_size * 0.6)])
    src = open_source(mkv)
    assert src.frame_count == 10  # what the header says
    with caplog.at_level(logging.WARNING, logger="codec.media"):
        got = list(src)
    assert 0 < len(got) < 10
    assert "cut.mkv" in caplog.text and "truncated" in caplog.text


@pytest.mark.parametrize(
    "scale", [(0, 10), (10, -1), (16385, 10), (10.5, 10), (10,), "big", (True, 10)]
)
def test_absurd_scale(y4m6: tuple[Path, list[np.ndarray]], scale: object) -> None:
    path, _ = y4m6
    with pytest.raises(SourceError, match=r"six\.y4m.*scale"):
        open_source(path, scale=scale)  # type: ignore[arg-type]


def test_bad_frame_arguments(y4m6: tuple[Path, list[np.ndarray]]) -> None:
    path, _ = y4m6
    with pytest.raises(SourceError, match=r"six\.y4m.*frames"):
        open_source(path, frames=0)
    with pytest.raises(SourceError, match=r"six\.y4m.*start"):
        open_source(path, start=-1)


def test_empty_and_inconsistent_folders(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="empty.*no images"):
        open_source(empty)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    write_image(mixed / "a.png", np.zeros((4, 4, 3), np.uint8))
    write_image(mixed / "b.png", np.zeros((5, 4, 3), np.uint8))
    with pytest.raises(SourceError, match=r"b\.png.*4x5"):
        list(open_source(mixed))


# -- open_any -----------------------------------------------------------------------------


def test_open_any(y4m6: tuple[Path, list[np.ndarray]]) -> None:
    demo = open_any("demo")
    assert isinstance(demo, DemoSource) and isinstance(demo, FrameSource)
    assert (demo.width, demo.height, demo.frame_count) == (320, 240, 60)
    small = open_any("demo:64x48", frames=3)
    frames = list(small)
    assert len(frames) == 3 and frames[0].shape == (48, 64, 3)
    assert np.array_equal(frames[1], demo_source(64, 48).frame(1))
    scaled = open_any("demo:64x48", scale=(32, 24), frames=2)
    assert isinstance(scaled, FrameSource)
    assert (scaled.width, scaled.height) == (32, 24)
    assert [f.shape for f in scaled] == [(24, 32, 3)] * 2
    path, _ = y4m6
    video = open_any(path, frames=2)
    assert isinstance(video, VideoSource) and isinstance(video, FrameSource)
    assert len(list(video)) == 2
    for spec in ("demo:64", "demo:0x48", "demo:axb", "demo:99999x10"):
        with pytest.raises(SourceError, match="demo"):
            open_any(spec)
    with pytest.raises(SourceError, match="scale"):
        open_any("demo", scale=(0, 0))


def test_open_any_file_named_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_with_pyav(tmp_path / "demo", smooth_frames(16, 16, 2), "rawvideo", fmt="yuv4mpegpipe")
    monkeypatch.chdir(tmp_path)
    assert isinstance(open_any("demo"), DemoSource)
    for spec in ("./demo", Path("demo")):
        src = open_any(spec)
        assert isinstance(src, VideoSource) and src.frame_count == 2
