"""Frame numbers to time codes and back."""

from __future__ import annotations

from fractions import Fraction


def frame_time(n: int, fps: Fraction) -> float:
    """Seconds from the start of the stream to frame `n`."""
    return float(n / fps) if fps > 0 else 0.0


def timecode(n: int, fps: Fraction) -> str:
    """`HH:MM:SS.mmm` of frame `n` at `fps` frames per second."""
    ms = int(round(frame_time(n, fps) * 1000.0))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def format_fps(fps: Fraction) -> str:
    """`25`, `29.97` ... for display."""
    value = float(fps)
    return f"{value:.0f}" if abs(value - round(value)) < 1e-6 else f"{value:.3f}".rstrip("0")


def format_bytes(n: float) -> str:
    """Human-readable byte count (B, KB, MB, GB; powers of 1024)."""
    for unit in ("B", "KB", "MB"):
        if abs(n) < 1024.0:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0
    return f"{n:.2f} GB"
