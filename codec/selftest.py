"""Self-test: encode the built-in demo source through the shipped models and decode it back.

Used by `zvc69 selftest` and `zvc69-studio --self-test` (the packaged app's check). Passes only
when the stream decodes to exactly the encoder's reconstruction, frame by frame, with both frame
types present and a plausible quality. Needs no display and writes only to a temporary folder.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MIN_PSNR = 20.0  # dB; far below any real quality level, far above a broken model


@dataclass
class SelfTestResult:
    """What the self-test found; `ok` is the verdict, `lines` the report to print."""

    ok: bool = False
    lines: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.lines.append(text)


def run_selftest(width: int = 160, height: int = 96, frames: int = 6, quality: int = 4,
                 device: str = "cpu") -> SelfTestResult:
    """Encode `frames` demo frames (GOP 4: I and P frames), decode them, compare bit for bit."""
    from .api import StreamDecoder, StreamEncoder, shared_codecs
    from .demo import demo_source
    from .errors import ZVC69Error
    from .metrics import psnr_rgb
    from .models import default_model_dir

    res = SelfTestResult()
    t0 = time.perf_counter()
    try:
        codecs = shared_codecs(device)
        res.say(f"models: {default_model_dir()} (set {codecs.models.hash_hex})")
        res.say(f"inference: {codecs.backend.description}")
        src = demo_source(width, height, frames)
        originals, recons, types = [], [], []
        with tempfile.TemporaryDirectory(prefix="zvc69-selftest-") as tmp:
            path = Path(tmp) / "selftest.zvc69"
            with StreamEncoder(path, width, height, src.fps, quality, "fast", gop=4,
                               codecs=codecs) as enc:
                originals = list(src)
                recons, stats = enc.encode_all(originals)
                types = [st.frame_type for st in stats]
            size = path.stat().st_size
            with StreamDecoder(path, codecs=codecs) as dec:
                decoded = [frame for frame, _ in dec.frames()]
    except (ZVC69Error, OSError) as exc:
        res.say(f"FAILED: {exc}")
        return res
    exact = len(decoded) == len(recons) and all(
        np.array_equal(a, b) for a, b in zip(decoded, recons, strict=False))
    quality_db = float(np.mean([psnr_rgb(o, r) for o, r in zip(originals, recons, strict=True)]))
    res.say(f"encoded {len(recons)} frames {width}x{height} ({''.join(types)}) "
            f"into {size} bytes; mean PSNR {quality_db:.2f} dB")
    res.say(f"decoded {len(decoded)} frames; identical to the encoder's reconstruction: "
            f"{'yes' if exact else 'NO'}")
    problems = []
    if not exact:
        problems.append("decoded frames differ from the encoder's reconstruction")
    if "I" not in types or "P" not in types:
        problems.append(f"expected I- and P-frames, got {''.join(types)}")
    if not quality_db >= MIN_PSNR:
        problems.append(f"PSNR {quality_db:.2f} dB is below {MIN_PSNR:g} dB: wrong models?")
    res.ok = not problems
    res.say(("PASSED" if res.ok else "FAILED: " + "; ".join(problems))
            + f" in {time.perf_counter() - t0:.1f} s")
    return res
