"""What the app (and scripts) use of the codec: encode a source, preview a setting, decode.

`StreamEncoder` and `StreamDecoder` are re-exported from their modules. Loaded networks are
shared per execution setting (`shared_codecs`), so opening many streams loads them once.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from .backend import Backend
from .container import ContainerReader
from .decoder import StreamDecoder
from .encoder import Codecs, StreamEncoder
from .errors import ZVC69Error
from .models import default_model_dir, load_models
from .stats import FrameStats

__all__ = ["StreamDecoder", "StreamEncoder", "encode_file", "encode_preview", "shared_codecs",
           "open_decoder"]

Progress = Callable[[int, int | None, np.ndarray, np.ndarray, FrameStats], None]


def shared_codecs(device: str = "auto", threads: int | None = None,
                  graph_opt: str = "all") -> Codecs:
    """The model set (ZVC69_MODELS or the shipped one) loaded once per folder and execution
    setting; ONNX Runtime sessions are thread-safe, so every stream can share them."""
    return _codecs(default_model_dir().resolve(), device, threads, graph_opt)


@lru_cache(maxsize=4)
def _codecs(folder: Path, device: str, threads: int | None, graph_opt: str) -> Codecs:
    return Codecs(load_models(folder), Backend(device, threads, graph_opt))


def open_decoder(path: str | Path, device: str = "auto",
                 threads: int | None = None) -> StreamDecoder:
    """A StreamDecoder on the shared networks; a bad file is reported before any model loads."""
    ContainerReader(path).close()
    return StreamDecoder(path, codecs=shared_codecs(device, threads))


def encode_file(source: str, out_path: str | Path, quality: int = 4, preset: str = "medium",
                gop: int = 32, frames: int | None = None, scale: tuple[int, int] | None = None,
                progress: Progress | None = None, cancel: threading.Event | None = None,
                keep_on_cancel: bool = True, device: str = "auto", threads: int | None = None,
                graph_opt: str = "all", start: int = 0,
                bframes: int | None = None, b_adapt: bool | None = None) -> Path | None:
    """Encode `source` (a path PyAV opens, an image, or 'demo[:WxH]') into `out_path`.

    bframes: B-frames between anchors (None: the encoder's default, encoder.B_FRAMES); the
    encoder picks 0, 1 or that many per group unless b_adapt is False (None: encoder.B_ADAPT).
    progress(n, total, source_frame, recon, stats) is called after every frame (in display
    order; with B-frames, a group's frames come together). When `cancel`
    is set, stops: keep_on_cancel leaves a valid file of the frames done (returned), otherwise
    removes it (returns None). Ctrl-C finalises the frames done and re-raises.
    """
    from .media import open_any

    codecs = shared_codecs(device, threads, graph_opt)
    with open_any(source, scale=scale, frames=frames, start=start) as src:
        total = src.frame_count if frames is None else min(frames, src.frame_count or frames)
        if total == 1:
            gop = min(gop, 1)  # a still: its I-frame is no reference, so no keyframe boost
        enc = StreamEncoder(out_path, src.width, src.height, src.fps, quality, preset, gop,
                            total_frames=total or 0, codecs=codecs, bframes=bframes,
                            b_adapt=b_adapt, subsampled_chroma=src.subsampled_chroma)
        held: dict[int, np.ndarray] = {}  # source frames not yet coded (B-frame groups)

        def report(done: list[tuple[np.ndarray, FrameStats]]) -> None:
            for recon, st in done:
                source = held.pop(st.index)
                if progress is not None:
                    progress(st.index + 1, total, source, recon, st)

        try:
            for frame in src:
                if cancel is not None and cancel.is_set():
                    enc.abort(keep=keep_on_cancel)
                    return enc.path if keep_on_cancel and enc.frames_done else None
                held[enc.frames_done + len(held)] = frame
                report(enc.encode(frame))
            report(enc.flush())
        except BaseException:
            enc.abort(keep=True)
            raise
        if enc.frames_done == 0:
            enc.abort(keep=False)
            raise ZVC69Error(f"{source}: no frame could be read")
        return enc.close()


def encode_preview(frames: np.ndarray | list[np.ndarray], quality: int,
                   preset: str = "medium", device: str = "auto", still: bool = False,
                   subsampled_chroma: bool | None = None) -> tuple[np.ndarray, FrameStats]:
    """Encode and decode one frame (an I-frame) or two (I then P): the last one's result.

    The decoded frame comes from a real stream written and read back, so its size and PSNR
    are what an encode at this setting gives (`still`: of a one-frame source, whose I-frame
    is coded at the quality itself rather than a keyframe's boosted level; subsampled_chroma:
    the source's, as `StreamEncoder` takes it).
    """
    seq = [frames] if isinstance(frames, np.ndarray) else list(frames)
    if not seq:
        raise ZVC69Error("encode_preview needs at least one frame")
    h, w = seq[0].shape[:2]
    codecs = shared_codecs(device)
    with tempfile.TemporaryDirectory(prefix="zvc69-preview-") as tmp:
        path = Path(tmp) / "preview.zvc69"
        with StreamEncoder(path, w, h, quality=quality, preset=preset,
                           gop=1 if still else len(seq) + 1,
                           codecs=codecs, scene_cut=False,
                           subsampled_chroma=subsampled_chroma) as enc:
            enc_stats = enc.encode_all(seq)[1][-1]
        with StreamDecoder(path, codecs=codecs) as dec:
            frame, st = dec.decode(len(seq) - 1)
    st.psnr, st.psnr_y = enc_stats.psnr, enc_stats.psnr_y
    return frame, st
