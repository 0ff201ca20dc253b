"""The frame-source interface the player depends on: the methods of codec.api.StreamDecoder.

Every worker thread makes its own source through a `SourceFactory` (StreamDecoder is not
thread-safe), so tests and the app can plug in anything with these methods.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from codec.errors import ModelMismatchError
from codec.stats import FrameStats


@runtime_checkable
class FrameSource(Protocol):
    """What the player needs from a decoder (a subset of codec.api.StreamDecoder)."""

    width: int
    height: int
    fps: Fraction
    num_frames: int
    damage: str | None

    def scan(self) -> list[FrameStats]: ...

    def keyframe_before(self, n: int) -> int: ...

    def decode(self, n: int) -> tuple[np.ndarray, FrameStats]: ...

    def encode_stats(self) -> list[FrameStats] | None: ...

    def close(self) -> None: ...


SourceFactory = Callable[[], FrameSource]


@dataclass(frozen=True)
class StreamInfo:
    """What the UI knows about an open stream once its header has been read."""

    label: str  # file name or a description
    width: int
    height: int
    fps: Fraction
    num_frames: int
    damage: str | None = None
    path: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height * 3


def info_of(source: FrameSource, label: str, path: Path | None = None) -> StreamInfo:
    """Read the header fields of an open source."""
    fps = Fraction(source.fps) if source.fps else Fraction(25)
    extra: dict[str, str] = {}
    header = getattr(source, "header", None)
    if header is not None:
        major, minor = getattr(header, "version_major", None), getattr(header, "version_minor", 0)
        if major is not None:
            extra["format"] = f"{major}.{minor}"
        for key, name in (("quality", "quality"), ("gop_size", "GOP")):
            value = getattr(header, key, None)
            if value:
                extra[name] = str(value)
        model = getattr(header, "model_hash", None)
        if isinstance(model, bytes | bytearray):
            extra["model"] = model.hex()
    return StreamInfo(
        label=label,
        width=int(source.width),
        height=int(source.height),
        fps=fps,
        num_frames=int(source.num_frames),
        damage=getattr(source, "damage", None),
        path=path,
        extra=extra,
    )


def decoder_threads() -> int:
    """ONNX Runtime threads per decoder: half the cores (at most 4), so that the UI thread and
    a second decoder (comparison) keep a core; on 2 cores one thread is also the fastest."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def stream_factory(path: str | Path, threads: int | None = None,
                   device: str = "auto") -> SourceFactory:
    """A factory that opens `path` with a codec.api StreamDecoder (imported when first used).

    `codec.api.open_decoder` shares the loaded networks between the decoders of all threads.
    """
    path = Path(path)
    threads = threads or decoder_threads()

    def make() -> FrameSource:
        from codec import api

        opener = getattr(api, "open_decoder", None)
        if opener is None:
            return api.StreamDecoder(path, device=device, threads=threads)
        try:
            return opener(path, device=device, threads=threads)
        except ModelMismatchError:
            # open_decoder loads the models before it reads the file; StreamDecoder reads the
            # header first, so a file that is not a stream is reported as such
            api.StreamDecoder(path, device=device, threads=threads).close()
            raise

    return make
