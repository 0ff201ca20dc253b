"""Video and image I/O: every source yields (H, W, 3) uint8 RGB frames; sinks take the same.

Decoding, scaling and colour conversion go through PyAV (FFmpeg/swscale, flags
`codec.metrics.SWS_FLAGS`); still images go through Pillow. Every problem a user can cause
(missing or non-media file, no video stream, bad size, damaged data, unwritable output) raises
`codec.errors.SourceError` naming the file, never a raw PyAV/Pillow exception.

Decisions:

* Sources: any file FFmpeg demuxes (mp4, mkv, avi, y4m, webm, gif, ...), a still image
  (png/jpg/bmp/tif/webp/ppm: one frame) or a folder of images (sorted by natural name order,
  one frame each, all the same size). Frames are the stored pixels: sample aspect ratio and
  rotation metadata are ignored. YUV sources are converted with the matrix and range they are
  tagged with (BT.601 limited when untagged). ``subsampled_chroma`` says whether the stored
  chroma holds less detail than its luma at the size yielded (a 4:2:0 or 4:2:2 video, unless
  scaled down by the subsampling; False for images and RGB or 4:4:4 video):
  the encoder then leaves out chroma detail the source never had.
* Damaged data: if FFmpeg reports an error part-way through, the frames decoded before it have
  already been yielded; iteration then raises `SourceError` naming the file and how many frames
  decoded. A file that merely ends early (FFmpeg conceals or drops the damaged tail) stops
  quietly, with a logged warning when its header promised more frames than it held.
* Limits: ``start`` frames are decoded and dropped (exact, no seeking); a still image is one
  frame whatever ``frames`` says; a ``start`` past the end raises `SourceError`.
* Sinks: ``.y4m`` (raw yuv420p; odd sizes allowed, chroma is ceil(w/2) x ceil(h/2)),
  ``.mp4``/``.mkv`` (libx264 yuv420p, CRF 12, tagged BT.601 limited range) and a folder (numbered
  PNGs ``frame_000000.png``...). H.264 4:2:0 cannot code odd sizes (its cropping window moves in
  2-pixel steps), so odd-sized frames going to mp4/mkv are padded by one replicated column/row;
  the sink's ``coded_width``/``coded_height`` say so. Output files are created (with missing
  parent folders) when the sink opens; a sink closed without frames leaves an empty file.
"""

from __future__ import annotations

import logging
import os
import re
import weakref
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Protocol, runtime_checkable

import av
import numpy as np
from av.stream import Disposition
from PIL import Image, ImageOps, UnidentifiedImageError

from codec.demo import DEMO_NAME, MAX_SIZE, DemoSource, demo_source
from codec.errors import SourceError
from codec.metrics import SWS_FLAGS, rgb_to_yuv420_frame

__all__ = [
    "DEFAULT_FPS",
    "DEMO_NAME",
    "IMAGE_EXTENSIONS",
    "MAX_SIZE",
    "SINK_EXTENSIONS",
    "DemoSource",
    "FrameSource",
    "VideoSink",
    "VideoSource",
    "demo_source",
    "open_any",
    "open_sink",
    "open_source",
    "read_image",
    "write_image",
]

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

#: Frame rate used when a source does not say (still images, image folders, broken headers).
DEFAULT_FPS = Fraction(30)
#: Still-image extensions read through Pillow (as sources and by `read_image`).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
#: Image extensions `write_image` accepts.
WRITE_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
#: Video file extensions `open_sink` accepts (besides a folder path).
SINK_EXTENSIONS = (".y4m", ".mp4", ".mkv")

# Errors PyAV and Pillow raise for bad input; anything else is a bug and propagates as is.
_IO_ERRORS = (av.FFmpegError, OSError, ValueError, RuntimeError, EOFError, IndexError)


def _reason(exc: BaseException) -> str:
    """The readable part of a PyAV/OS error (without errno noise)."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text).rstrip(".")


@runtime_checkable
class FrameSource(Protocol):
    """What the encoder consumes: `VideoSource`, `DemoSource` and scaled wrappers provide it."""

    name: str
    width: int
    height: int
    fps: Fraction
    frame_count: int | None
    subsampled_chroma: bool | None  # chroma less detailed than luma (None: unknown)

    def __iter__(self) -> Iterator[np.ndarray]: ...

    def close(self) -> None: ...


def _check_size(where: str, label: str, width: object, height: object) -> tuple[int, int]:
    ok = all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 1 <= v <= MAX_SIZE
        for v in (width, height)
    )
    if not ok:
        raise SourceError(
            f"{where}: {label} {width!r}x{height!r} is not a valid size "
            f"(width and height must be integers in 1..{MAX_SIZE})"
        )
    return int(width), int(height)  # type: ignore[call-overload]


def _check_fps(where: str, fps: object) -> Fraction:
    try:
        rate = Fraction(fps)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise SourceError(f"{where}: frame rate {fps!r} is not a number") from exc
    if not 0 < rate <= 1000:
        raise SourceError(f"{where}: frame rate {fps!r} is outside (0, 1000]")
    return rate if rate.denominator <= 1001 else rate.limit_denominator(1001)


def _sane_fps(*candidates: object) -> Fraction:
    """The first plausible rate among the candidates, else `DEFAULT_FPS`."""
    for rate in candidates:
        if rate is None:
            continue
        try:
            value = Fraction(rate)  # type: ignore[arg-type]
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if 0.5 <= value <= 1000:
            return value if value.denominator <= 1001 else value.limit_denominator(1001)
    return DEFAULT_FPS


def _resize(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Rescale an RGB frame with swscale (bicubic); returns the input when the size matches."""
    if rgb.shape[1] == width and rgb.shape[0] == height:
        return rgb
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    out = frame.reformat(width, height, format="rgb24", interpolation=SWS_FLAGS)
    return np.ascontiguousarray(out.to_ndarray())


def _natural_key(path: Path) -> list[object]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


# --------------------------------------------------------------------------------------
# images


def _pil_to_rgb(img: Image.Image) -> np.ndarray:
    img = ImageOps.exif_transpose(img) or img
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        grey = (np.asarray(img, dtype=np.uint16) >> 8).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    if img.mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode == "I" and arr.max(initial=0) > 255 else 255.0
        grey = np.clip(arr * (255.0 / peak) + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def read_image(path: PathLike) -> np.ndarray:
    """Read a still image as (H, W, 3) uint8 RGB.

    Grey, palette, CMYK and 16-bit images are converted to 8-bit RGB; alpha is dropped; JPEG
    EXIF orientation is applied. Raises `SourceError` naming the file on any problem.
    """
    p = Path(path)
    if not p.exists():
        raise SourceError(f"{p}: no such file")
    if p.is_dir():
        raise SourceError(f"{p}: is a folder, not an image")
    try:
        with Image.open(p) as img:
            img.load()
            return _pil_to_rgb(img)
    except UnidentifiedImageError as exc:
        raise SourceError(f"{p}: not a readable image") from exc
    except (*_IO_ERRORS, Image.DecompressionBombError, SyntaxError) as exc:
        raise SourceError(f"{p}: cannot read image: {_reason(exc)}") from exc


def write_image(
    path: PathLike, rgb: np.ndarray, *, quality: int = 95, compress_level: int = 6
) -> None:
    """Write an (H, W, 3) uint8 RGB frame (or (H, W) grey, (H, W, 4) RGBA) as PNG/JPEG/....

    Grey and RGBA input is stored as RGB. JPEG uses ``quality``; PNG ``compress_level`` (0-9).
    """
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in WRITE_IMAGE_EXTENSIONS:
        raise SourceError(
            f"{p}: unsupported image extension {ext or '(none)'!r}; "
            f"use one of {', '.join(WRITE_IMAGE_EXTENSIONS)}"
        )
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8:
        raise ValueError(f"{p}: image must be uint8, got {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., :3]
    if arr.ndim != 3 or arr.shape[2] != 3 or 0 in arr.shape:
        raise ValueError(f"{p}: expected an (H, W, 3) image, got shape {np.shape(rgb)}")
    options: dict[str, object] = {}
    if ext in (".jpg", ".jpeg"):
        options = {"quality": quality, "subsampling": 0 if quality >= 90 else 2}
    elif ext == ".png":
        options = {"compress_level": compress_level}
    try:
        Image.fromarray(np.ascontiguousarray(arr), "RGB").save(p, **options)
    except (*_IO_ERRORS, KeyError) as exc:
        raise SourceError(f"{p}: cannot write image: {_reason(exc)}") from exc


# --------------------------------------------------------------------------------------
# sources

RawFrame = av.VideoFrame | np.ndarray


class VideoSource:
    """Frames of a media file, still image or image folder as (H, W, 3) uint8 RGB.

    ``width``/``height`` are the output size (after ``scale``), ``source_width``/
    ``source_height`` the stored size, ``fps`` a `Fraction` (`DEFAULT_FPS` when unknown) and
    ``frame_count`` the expected number of frames after ``start``/``frames`` (an estimate from
    the container, or None), ``subsampled_chroma`` whether the stored chroma holds less detail
    than the luma at the output size (module docstring). Each iteration decodes from the
    beginning; ``close()`` ends any iteration in progress.
    """

    def __init__(
        self,
        path: Path,
        kind: str,
        raw: Callable[[], Iterator[RawFrame]],
        size: tuple[int, int],
        source_size: tuple[int, int],
        fps: Fraction,
        total: int | None,
        start: int,
        frames: int | None,
        chroma_size: tuple[int, int] | None = None,
    ) -> None:
        self.path = path
        self.name = str(path)
        self.kind = kind
        self.width, self.height = size
        self.source_width, self.source_height = source_size
        self.fps = fps
        self.start = start
        self.limit = frames
        # chroma_size: the stored chroma planes' size (None: full resolution, as images); the
        # chroma is coarser than the frames where it holds less detail than the luma at their
        # size does
        cw, ch = chroma_size or source_size
        sw, sh = source_size
        self.subsampled_chroma = (min(cw, self.width) < min(sw, self.width)
                                  or min(ch, self.height) < min(sh, self.height))
        count = None if total is None else max(0, total - start)
        if frames is not None:
            count = frames if count is None else min(count, frames)
        self.frame_count: int | None = count
        self._raw = raw
        self._closed = False
        self._live: weakref.WeakSet[Iterator[RawFrame]] = weakref.WeakSet()

    def _convert(self, raw: RawFrame) -> np.ndarray:
        try:
            if isinstance(raw, np.ndarray):
                return _resize(raw, self.width, self.height)
            out = raw.reformat(self.width, self.height, format="rgb24", interpolation=SWS_FLAGS)
            return np.ascontiguousarray(out.to_ndarray())
        except _IO_ERRORS as exc:
            raise SourceError(
                f"{self.name}: cannot convert a frame to RGB: {_reason(exc)}"
            ) from exc

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._closed:
            raise ValueError(f"{self.name}: source is closed")
        raw = self._raw()
        self._live.add(raw)
        index = produced = 0
        try:
            while self.limit is None or produced < self.limit:
                try:
                    item = next(raw)
                except StopIteration:
                    break
                index += 1
                if index <= self.start:
                    continue
                yield self._convert(item)
                produced += 1
        finally:
            close = getattr(raw, "close", None)
            if close is not None:
                close()
        if produced == 0 and self.start > 0 and not self._closed:
            raise SourceError(
                f"{self.name}: start={self.start} skips past the end (it has {index} frames)"
            )

    def close(self) -> None:
        """Close the source and any file an iteration in progress holds open."""
        self._closed = True
        for raw in list(self._live):
            close = getattr(raw, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"VideoSource({self.name!r}, {self.kind}, {self.width}x{self.height}, "
            f"fps={self.fps}, frames={self.frame_count})"
        )


def _open_container(p: Path) -> av.container.InputContainer:
    try:
        return av.open(str(p), "r", metadata_errors="ignore")
    except _IO_ERRORS as exc:
        raise SourceError(f"{p}: not a readable media file ({_reason(exc)})") from exc


def _video_stream(container: av.container.InputContainer, p: Path) -> av.VideoStream:
    for stream in container.streams.video:
        if not stream.disposition & Disposition.attached_pic:
            return stream
    kinds = sorted({s.type for s in container.streams})
    if not kinds:
        raise SourceError(f"{p}: holds no streams at all (damaged, truncated or not media)")
    raise SourceError(f"{p}: no video stream (streams found: {', '.join(kinds)})")


def _estimate_count(
    container: av.container.InputContainer, stream: av.VideoStream, fps: Fraction
) -> int | None:
    if stream.frames and stream.frames > 0:
        return int(stream.frames)
    seconds: float | None = None
    if stream.duration and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration:
        seconds = container.duration / av.time_base
    return max(1, round(seconds * fps)) if seconds and seconds > 0 else None


def _av_frames(p: Path, expected: int | None) -> Iterator[av.VideoFrame]:
    container = _open_container(p)
    decoded = 0
    try:
        stream = _video_stream(container, p)
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                decoded += 1
                yield frame
        except _IO_ERRORS as exc:
            raise SourceError(
                f"{p}: damaged or unreadable video data after {decoded} decoded frames "
                f"({_reason(exc)})"
            ) from exc
        # Counts estimated from the duration may be off by one; more means a cut-off file.
        if expected is not None and decoded < expected - 1:
            log.warning(
                "%s: ends after %d frames, its header promised about %d (truncated?)",
                p,
                decoded,
                expected,
            )
    finally:
        container.close()


def _probe_av(p: Path) -> tuple[tuple[int, int], tuple[int, int], Fraction, int | None]:
    """The first frame's size and its chroma planes' size, the frame rate and frame count."""
    container = _open_container(p)
    try:
        stream = _video_stream(container, p)
        try:
            first = next(container.decode(stream), None)
        except _IO_ERRORS as exc:
            raise SourceError(f"{p}: cannot decode its video ({_reason(exc)})") from exc
        if first is None:
            raise SourceError(f"{p}: the video stream holds no decodable frames")
        fps = _sane_fps(stream.average_rate, stream.guessed_rate, stream.base_rate)
        w, h = first.width, first.height
        chroma = (first.format.chroma_width(w), first.format.chroma_height(h))
        return (w, h), chroma, fps, _estimate_count(container, stream, fps)
    finally:
        container.close()


def _folder_frames(files: list[Path], size: tuple[int, int]) -> Iterator[np.ndarray]:
    for f in files:
        rgb = read_image(f)
        if (rgb.shape[1], rgb.shape[0]) != size:
            raise SourceError(
                f"{f}: is {rgb.shape[1]}x{rgb.shape[0]}, but the folder's first image is "
                f"{size[0]}x{size[1]}"
            )
        yield rgb


def open_source(
    path: PathLike,
    scale: tuple[int, int] | None = None,
    frames: int | None = None,
    start: int = 0,
) -> VideoSource:
    """Open a video file, still image or image folder as a `VideoSource`.

    ``scale=(width, height)`` resamples every frame (bicubic, swscale); ``start`` skips that many
    frames and ``frames`` caps how many are yielded. Raises `SourceError` naming the file.
    """
    p = Path(path)
    if scale is not None:
        if not isinstance(scale, (tuple, list)) or len(scale) != 2:
            raise SourceError(f"{p}: scale must be (width, height), got {scale!r}")
        scale = _check_size(str(p), "scale", scale[0], scale[1])
    if frames is not None and (not isinstance(frames, (int, np.integer)) or frames < 1):
        raise SourceError(f"{p}: frames must be a positive integer, got {frames!r}")
    if not isinstance(start, (int, np.integer)) or start < 0:
        raise SourceError(f"{p}: start must be a non-negative integer, got {start!r}")
    if not p.exists():
        raise SourceError(f"{p}: no such file or folder")

    raw: Callable[[], Iterator[RawFrame]]
    if p.is_dir():
        files = sorted(
            (f for f in p.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file()),
            key=_natural_key,
        )
        if not files:
            raise SourceError(f"{p}: folder holds no images ({', '.join(IMAGE_EXTENSIONS)})")
        first = read_image(files[0])
        native = chroma = (first.shape[1], first.shape[0])
        kind, fps, total = "folder", DEFAULT_FPS, len(files)

        def raw() -> Iterator[RawFrame]:
            return _folder_frames(files, native)

    elif p.suffix.lower() in IMAGE_EXTENSIONS:
        image = read_image(p)
        native = chroma = (image.shape[1], image.shape[0])
        kind, fps, total = "image", DEFAULT_FPS, 1

        def raw() -> Iterator[RawFrame]:
            yield image

    else:
        native, chroma, fps, total = _probe_av(p)
        kind = "video"

        def raw() -> Iterator[RawFrame]:
            return _av_frames(p, total)

    return VideoSource(p, kind, raw, scale or native, native, fps, total, int(start), frames,
                       chroma)


class _ScaledSource:
    """A `FrameSource` whose frames are resampled to a fixed size."""

    def __init__(self, inner: FrameSource, size: tuple[int, int]) -> None:
        self.inner = inner
        self.width, self.height = size
        self.name = inner.name
        self.fps = inner.fps
        self.frame_count = inner.frame_count
        # resampling full-resolution chroma keeps it full; subsampled chroma may not stay so
        self.subsampled_chroma = False if inner.subsampled_chroma is False else None

    def __iter__(self) -> Iterator[np.ndarray]:
        for rgb in self.inner:
            yield _resize(rgb, self.width, self.height)

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> _ScaledSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_DEMO_SPEC = re.compile(r"(\d+)x(\d+)")


def open_any(
    spec: PathLike,
    scale: tuple[int, int] | None = None,
    frames: int | None = None,
    start: int = 0,
) -> FrameSource:
    """Open the string ``"demo"`` / ``"demo:WxH"`` as a `DemoSource` (60 frames unless
    ``frames``), anything else via `open_source`. A file named ``demo`` can be opened as
    ``"./demo"`` or as a `Path`."""
    if not isinstance(spec, str) or not (spec == DEMO_NAME or spec.startswith(DEMO_NAME + ":")):
        return open_source(spec, scale, frames, start)
    text = spec
    width, height = 320, 240
    if text != DEMO_NAME:
        m = _DEMO_SPEC.fullmatch(text[len(DEMO_NAME) + 1 :])
        if m is None:
            raise SourceError(f"{text}: a demo source is 'demo' or 'demo:WIDTHxHEIGHT'")
        width, height = _check_size(text, "size", int(m.group(1)), int(m.group(2)))
    if scale is not None:
        if not isinstance(scale, (tuple, list)) or len(scale) != 2:
            raise SourceError(f"{text}: scale must be (width, height), got {scale!r}")
        scale = _check_size(text, "scale", scale[0], scale[1])
    source = demo_source(width, height, 60 if frames is None else frames, start=start)
    if scale is None or scale == (width, height):
        return source
    return _ScaledSource(source, scale)


# --------------------------------------------------------------------------------------
# sinks


class VideoSink:
    """Base of the sinks `open_sink` returns: ``write(rgb)`` frames, then ``close()``."""

    def __init__(self, path: Path, width: int, height: int, fps: Fraction) -> None:
        self.path = path
        self.width = width
        self.height = height
        self.fps = fps
        self.coded_width = width
        self.coded_height = height
        self.frames_written = 0
        self._closed = False

    def _check(self, rgb: np.ndarray) -> np.ndarray:
        if self._closed:
            raise ValueError(f"{self.path}: sink is closed")
        arr = np.asarray(rgb)
        if arr.dtype != np.uint8 or arr.shape != (self.height, self.width, 3):
            raise ValueError(
                f"{self.path}: expected a ({self.height}, {self.width}, 3) uint8 frame, "
                f"got {arr.dtype} {arr.shape}"
            )
        return np.ascontiguousarray(arr)

    def write(self, rgb: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame."""
        raise NotImplementedError

    def close(self) -> None:
        """Finish the output (flush encoders, write trailers). Safe to call twice."""
        self._closed = True

    def __enter__(self) -> VideoSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _FolderSink(VideoSink):
    def __init__(self, path: Path, width: int, height: int, fps: Fraction) -> None:
        super().__init__(path, width, height, fps)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SourceError(f"{path}: cannot create output folder: {_reason(exc)}") from exc

    def write(self, rgb: np.ndarray) -> None:
        arr = self._check(rgb)
        write_image(self.path / f"frame_{self.frames_written:06d}.png", arr, compress_level=1)
        self.frames_written += 1


class _AVSink(VideoSink):
    def __init__(
        self, path: Path, width: int, height: int, fps: Fraction, crf: int, preset: str
    ) -> None:
        super().__init__(path, width, height, fps)
        self._h264 = path.suffix.lower() != ".y4m"
        if self._h264:
            self.coded_width = width + width % 2
            self.coded_height = height + height % 2
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb"):  # fail now, not at the first frame, if it cannot be written
                pass
        except OSError as exc:
            self._closed = True
            raise SourceError(f"{path}: cannot create video file: {_reason(exc)}") from exc
        try:
            if self._h264:
                self._container = av.open(str(path), "w")
                options = {"crf": str(crf), "preset": preset}
                self._stream = self._container.add_stream("libx264", rate=fps, options=options)
                ctx = self._stream.codec_context
                ctx.colorspace = 6  # AVCOL_SPC_SMPTE170M: BT.601 matrix, as converted
                ctx.color_range = 1  # AVCOL_RANGE_MPEG: limited range
            else:
                self._container = av.open(str(path), "w", format="yuv4mpegpipe")
                self._stream = self._container.add_stream("rawvideo", rate=fps)
            self._stream.width = self.coded_width
            self._stream.height = self.coded_height
            self._stream.pix_fmt = "yuv420p"
            self._stream.codec_context.time_base = 1 / fps
        except _IO_ERRORS as exc:
            self._closed = True
            if hasattr(self, "_container"):
                self._container.close()
            raise SourceError(f"{path}: cannot create video file: {_reason(exc)}") from exc

    def _mux(self, frame: av.VideoFrame | None) -> None:
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def write(self, rgb: np.ndarray) -> None:
        arr = self._check(rgb)
        if (self.coded_width, self.coded_height) != (self.width, self.height):
            pad = ((0, self.coded_height - self.height), (0, self.coded_width - self.width), (0, 0))
            arr = np.pad(arr, pad, mode="edge")
        frame = rgb_to_yuv420_frame(arr)
        frame.pts = self.frames_written
        frame.time_base = 1 / self.fps
        try:
            self._mux(frame)
        except _IO_ERRORS as exc:
            raise SourceError(f"{self.path}: cannot write video: {_reason(exc)}") from exc
        self.frames_written += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self.frames_written:
                self._mux(None)
        except _IO_ERRORS as exc:
            raise SourceError(f"{self.path}: cannot finish video: {_reason(exc)}") from exc
        finally:
            try:
                self._container.close()
            except _IO_ERRORS as exc:
                raise SourceError(f"{self.path}: cannot finish video: {_reason(exc)}") from exc


def open_sink(
    path: PathLike,
    width: int,
    height: int,
    fps: Fraction | int | float = DEFAULT_FPS,
    *,
    crf: int = 12,
    preset: str = "medium",
) -> VideoSink:
    """Open an output for (height, width, 3) uint8 RGB frames, chosen by ``path``.

    ``.y4m`` raw yuv420p, ``.mp4``/``.mkv`` libx264 (``crf``, ``preset``), or a folder (a path
    ending in ``/`` or an existing folder) of ``frame_000000.png``... Raises `SourceError` for an
    unsupported extension, a bad size or rate, or an output that cannot be created.
    """
    text = os.fspath(path)
    p = Path(text)
    width, height = _check_size(str(p), "frame size", width, height)
    rate = _check_fps(str(p), fps)
    if text.endswith(("/", os.sep)) or p.is_dir():
        return _FolderSink(p, width, height, rate)
    ext = p.suffix.lower()
    if ext not in SINK_EXTENSIONS:
        raise SourceError(
            f"{p}: unsupported output extension {ext or '(none)'!r}; use "
            f"{', '.join(SINK_EXTENSIONS)} or a folder path ending in '/' for PNG frames"
        )
    return _AVSink(p, width, height, rate, crf, preset)
