"""ONNX Runtime sessions: device choice, threads and graph-optimisation level in one place."""

from __future__ import annotations

import contextlib
import functools
import io
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
# CUDA provider settings. No TF32 (its 10-bit mantissa products would take GPU output far from
# the CPU's). cuDNN picks convolution kernels by heuristic instead of timing them. Measured on an
# H200 (onnxruntime-gpu 1.31, cuDNN 9): the kernels it picks for the synthesis' transposed
# convolutions give different floats from run to run (21.6 ms per 1080p synthesis), which would
# make the encoder's reconstruction and the decoder's output differ on one GPU; graphs built as
# `reproducible` sessions (the synthesis) use cuDNN's fixed default algorithms instead: identical
# on every run, 66.7 ms per 1080p synthesis.
CUDA_OPTIONS = {"use_tf32": "0", "cudnn_conv_algo_search": "HEURISTIC"}
CUDA_REPRODUCIBLE = CUDA_OPTIONS | {"cudnn_conv_algo_search": "DEFAULT"}


def cuda_present() -> bool:
    """True when ONNX Runtime offers CUDA and an NVIDIA driver is visible."""
    has_ep = "CUDAExecutionProvider" in ort.get_available_providers()
    return has_ep and (os.path.exists("/dev/nvidiactl") or shutil.which("nvidia-smi") is not None)


@functools.cache
def _preload_cuda_libraries() -> None:
    """Load CUDA/cuDNN from pip's nvidia-* packages when installed (onnxruntime-gpu[cuda,cudnn]).

    Without them the libraries must be on the loader path; a failure here is not an error, the
    session creation below reports (and falls back to the CPU) if CUDA still cannot load. Once
    per process: every CUDA Backend would otherwise load them again.
    """
    with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
        ort.preload_dlls(msvc=False)


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
        if self.use_cuda:
            _preload_cuda_libraries()
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
        # ONNX Runtime's deterministic kernels where it has a choice. On the H200 this did not
        # make the synthesis' convolutions repeatable (the cuDNN algorithm does: see
        # CUDA_REPRODUCIBLE); kept on CUDA for the other ops.
        so.use_deterministic_compute = self.use_cuda
        # Idle worker threads sleep instead of spinning: on a few cores spinning threads steal
        # time from the entropy coder and the UI thread.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.add_session_config_entry("session.inter_op.allow_spinning", "0")
        return so

    def session(self, path: Path, exact: bool = False,
                reproducible: bool = False) -> ort.InferenceSession:
        """A session for one graph; `reproducible`: same output on every run of one device."""
        providers: list = ["CPUExecutionProvider"]
        if self.use_cuda and not exact:
            opts = CUDA_REPRODUCIBLE if reproducible else CUDA_OPTIONS
            providers = [("CUDAExecutionProvider", opts), "CPUExecutionProvider"]
        try:
            sess = ort.InferenceSession(str(path), self._options(), providers=providers)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelMismatchError(f"cannot load model {path.name}: {exc}") from None
        if self.use_cuda and not exact and "CUDAExecutionProvider" not in sess.get_providers():
            self.use_cuda = False  # fell back: say so in description
        return sess

    @property
    def device_type(self) -> str:
        """Where intermediate tensors live between networks: "cuda" or "cpu"."""
        return "cuda" if self.use_cuda else "cpu"

    def run_on_device(self, sess: ort.InferenceSession, x: np.ndarray) -> ort.OrtValue:
        """Run a one-input graph from host memory, leaving its output on the device (I/O binding).

        On CUDA the output stays in GPU memory, so a following network (`run_value`) takes it
        without a round trip through the host; `.numpy()` copies it out once where needed.
        """
        x = np.ascontiguousarray(x, np.float32)
        b = sess.io_binding()
        b.bind_cpu_input(sess.get_inputs()[0].name, x)
        b.bind_output(sess.get_outputs()[0].name, self.device_type)
        sess.run_with_iobinding(b)
        return b.get_outputs()[0]

    @staticmethod
    def run_value(sess: ort.InferenceSession, value: ort.OrtValue) -> np.ndarray:
        """Run a one-input graph on a tensor already on the device; the output comes to host."""
        b = sess.io_binding()
        b.bind_ortvalue_input(sess.get_inputs()[0].name, value)
        b.bind_output(sess.get_outputs()[0].name, "cpu")
        sess.run_with_iobinding(b)
        return b.copy_outputs_to_cpu()[0]


def run(sess: ort.InferenceSession, name: str, x: np.ndarray) -> np.ndarray:
    """Run a one-input, one-output graph."""
    return sess.run(None, {name: np.ascontiguousarray(x, dtype=np.float32)})[0]
