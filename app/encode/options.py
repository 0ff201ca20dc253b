"""EncodeOptions: what the Encode view asks codec.api.encode_file to do, checked before it runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codec.encoder import B_FRAMES, MAX_B_FRAMES
from codec.presets import PRESETS

PRESET_NAMES: tuple[str, ...] = tuple(PRESETS)  # ordered fastest .. slowest
DEFAULT_PRESET = "medium"
QUALITY_RANGE = (1, 8)
DEFAULT_QUALITY = 4
GOP_RANGE = (1, 255)  # what the container can store
DEFAULT_GOP = 32
BFRAMES_RANGE = (0, MAX_B_FRAMES)
DEFAULT_BFRAMES = B_FRAMES
DEMO_SPEC = "demo:320x240"
STREAM_SUFFIX = ".zvc69"
MAX_SIZE = 16384


def is_demo(spec: str) -> bool:
    """Whether `spec` names the built-in demo source ("demo" or "demo:WxH")."""
    return spec == "demo" or spec.startswith("demo:")


def default_output(source: str, folder: Path | None = None) -> Path:
    """Where an encode of `source` goes unless the user says otherwise: beside a file source
    (same name, .zvc69), or `folder` (else the home folder) for the demo."""
    if is_demo(source) or not source:
        name = source.replace(":", "_") if source else "encode"
        return (folder or Path.home()) / f"{name}{STREAM_SUFFIX}"
    path = Path(source).expanduser()
    return path.with_name(path.stem + STREAM_SUFFIX) if path.suffix else path.with_suffix(
        STREAM_SUFFIX)


@dataclass(frozen=True)
class EncodeOptions:
    """One encode's settings; `check()` says what is wrong in words a user understands."""

    source: str
    output: str
    quality: int = DEFAULT_QUALITY
    preset: str = DEFAULT_PRESET
    gop: int = DEFAULT_GOP
    bframes: int = DEFAULT_BFRAMES
    start: int = 0
    count: int | None = None  # None: to the end of the source
    size: tuple[int, int] | None = None  # None: keep the source's size

    @property
    def output_path(self) -> Path:
        """The output path with the .zvc69 suffix added when it has none."""
        path = Path(self.output.strip()).expanduser()
        return path if path.suffix else path.with_suffix(STREAM_SUFFIX)

    def check(self) -> str | None:
        """None when the options can be encoded, else a one-line reason."""
        if not self.source.strip():
            return "Choose a source: a video or image file, or the built-in demo."
        if not self.output.strip():
            return "Choose where to save the encoded stream."
        typed, out = Path(self.output.strip()).expanduser(), self.output_path
        if typed.is_dir() or out.is_dir():
            return f"{typed} is a folder: add a file name such as clip{STREAM_SUFFIX}."
        if not is_demo(self.source) and Path(self.source).expanduser().resolve() == out.resolve():
            return "The output would overwrite the source: choose another file name."
        if not QUALITY_RANGE[0] <= self.quality <= QUALITY_RANGE[1]:
            return f"Quality must be Q{QUALITY_RANGE[0]}..Q{QUALITY_RANGE[1]}."
        if self.preset not in PRESETS:
            return f"Unknown preset {self.preset!r}."
        if not GOP_RANGE[0] <= self.gop <= GOP_RANGE[1]:
            return f"GOP length must be {GOP_RANGE[0]}..{GOP_RANGE[1]} frames."
        if not BFRAMES_RANGE[0] <= self.bframes <= BFRAMES_RANGE[1]:
            return f"B-frames must be {BFRAMES_RANGE[0]}..{BFRAMES_RANGE[1]}."
        if self.start < 0 or (self.count is not None and self.count < 1):
            return "The frame range must start at 0 or later and hold at least one frame."
        if self.size is not None and not all(1 <= v <= MAX_SIZE for v in self.size):
            return f"Output width and height must be 1..{MAX_SIZE}."
        return None

    def kwargs(self) -> dict[str, object]:
        """Keyword arguments of codec.api.encode_file (besides progress and cancel)."""
        return {"quality": self.quality, "preset": self.preset, "gop": self.gop,
                "bframes": self.bframes, "frames": self.count, "scale": self.size,
                "start": self.start}

    def describe(self) -> str:
        """"Q4 · medium · GOP 32 · 3 B" for status lines."""
        return f"Q{self.quality} · {self.preset} · GOP {self.gop} · {self.bframes} B"
