"""ONNX Runtime sessions: device choice, threads and graph-optimisation level in one place."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .errors import DeviceError, ModelMismatchError

GRAPH_OPT = {
    "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
DEVICES = ("auto", "cpu", "cuda")


def cuda_present() -> bool:
    """True when ONNX Runtime offers CUDA and an NVIDIA driver is visible."""
    has_ep = "CUDAExecutionProvider" in ort.get_available_providers()
    return has_ep and (os.path.exists("/dev/nvidiactl") or shutil.which("nvidia-smi") is not None)


class Backend:
    """Creates ONNX Runtime sessions for one execution setting.

    `exact=True` sessions (the integer hyper-synthesis) always run on the CPU provider: their
    results must be bit-identical everywhere, and GPU convolution algorithms (Winograd, FFT,
    TF32) are not exact on integers.
    """

    def __init__(self, device: str = "auto", threads: int | None = None,
                 graph_opt: str = "all") -> None:
        if device not in DEVICES:
            raise DeviceError(f"unknown device {device!r}: choose one of {', '.join(DEVICES)}")
        if graph_opt not in GRAPH_OPT:
            raise DeviceError(f"unknown graph optimisation level {graph_opt!r}: "
                              f"choose one of {', '.join(GRAPH_OPT)}")
        if threads is not None and not 1 <= threads <= 256:
            raise DeviceError(f"threads must be between 1 and 256, not {threads}")
        if device == "cuda" and not cuda_present():
            raise DeviceError("CUDA was requested but no CUDA device/onnxruntime-gpu is available")
        self.use_cuda = device == "cuda" or (device == "auto" and cuda_present())
        self.threads = threads
        self.graph_opt = graph_opt
        self._checked_cuda = False

    @property
    def description(self) -> str:
        t = f"{self.threads} threads" if self.threads else "default threads"
        dev = "CUDA" if self.use_cuda else "CPU"
        return f"{dev} ({t}, graph optimisation {self.graph_opt})"

    def _options(self) -> ort.SessionOptions:
        so = ort.SessionOptions()
        so.graph_optimization_level = GRAPH_OPT[self.graph_opt]
        if self.threads:
            so.intra_op_num_threads = self.threads
            so.inter_op_num_threads = 1
        so.log_severity_level = 3
        # Idle worker threads sleep instead of spinning: on a few cores spinning threads steal
        # time from the entropy coder and the UI thread.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.add_session_config_entry("session.inter_op.allow_spinning", "0")
        return so

    def session(self, path: Path, exact: bool = False) -> ort.InferenceSession:
        providers = ["CPUExecutionProvider"]
        if self.use_cuda and not exact:
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        try:
            sess = ort.InferenceSession(str(path), self._options(), providers=providers)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelMismatchError(f"cannot load model {path.name}: {exc}") from None
        if self.use_cuda and not exact and "CUDAExecutionProvider" not in sess.get_providers():
            self.use_cuda = False  # fell back: say so in description
        return sess


def run(sess: ort.InferenceSession, name: str, x: np.ndarray) -> np.ndarray:
    """Run a one-input, one-output graph."""
    return sess.run(None, {name: np.ascontiguousarray(x, dtype=np.float32)})[0]
