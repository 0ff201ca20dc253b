"""The shipped model set: where it lives, what it holds, and its hash for the file header."""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ModelMismatchError

KINDS = ("intra", "residual")
GRAPHS = ("encoder.onnx", "decoder.onnx", "hyperprior_enc.onnx", "hyperprior_dec.onnx")
FILES = (*GRAPHS, "tables.npz")


def default_model_dir() -> Path:
    """ZVC69_MODELS, else the bundled copy (PyInstaller), else resources/models in the repo."""
    if env := os.environ.get("ZVC69_MODELS"):
        return Path(env)
    if bundle := getattr(sys, "_MEIPASS", None):
        return Path(bundle) / "resources" / "models"
    return Path(__file__).resolve().parents[1] / "resources" / "models"


def format_tables_path() -> Path:
    """The detail layer's entropy tables: part of the stream format, not of a model set, so
    always the bundled copy (PyInstaller) or the repository's, whatever ZVC69_MODELS says."""
    if bundle := getattr(sys, "_MEIPASS", None):
        return Path(bundle) / "resources" / "models" / "detail_tables.npz"
    return Path(__file__).resolve().parents[1] / "resources" / "models" / "detail_tables.npz"


@dataclass
class ModelFiles:
    """One kind of model (intra or residual): its folder and integer tables."""

    kind: str
    folder: Path
    tables: dict[str, np.ndarray] = field(repr=False)

    @property
    def latent_channels(self) -> int:
        return int(self.tables["gain"].shape[1])

    @property
    def hyper_channels(self) -> int:
        return int(self.tables["z_pmf"].shape[0])

    def path(self, name: str) -> Path:
        return self.folder / name


@dataclass
class ModelSet:
    root: Path
    hash: bytes  # first 4 bytes of SHA-256 over every file of every kind, in a fixed order
    kinds: dict[str, ModelFiles]

    @property
    def hash_hex(self) -> str:
        return self.hash.hex()

    @property
    def intra(self) -> ModelFiles:
        return self.kinds["intra"]

    @property
    def residual(self) -> ModelFiles:
        return self.kinds["residual"]

    @classmethod
    def load(cls, root: Path | None = None) -> ModelSet:
        root = Path(root) if root else default_model_dir()
        digest = hashlib.sha256()
        kinds: dict[str, ModelFiles] = {}
        for kind in KINDS:
            folder = root / kind
            for name in FILES:
                p = folder / name
                if not p.is_file():
                    raise ModelMismatchError(f"model file missing: {p}")
                digest.update(f"{kind}/{name}\0".encode())
                digest.update(p.read_bytes())
            try:
                with np.load(folder / "tables.npz") as npz:
                    tables = {k: npz[k] for k in npz.files}
            except Exception as exc:
                raise ModelMismatchError(f"model tables unreadable: {folder / 'tables.npz'}: "
                                         f"{exc}") from None
            for key in ("gain", "inv_gain", "gain_log_q", "z_pmf", "y_pmf"):
                if key not in tables:
                    raise ModelMismatchError(f"model tables {folder / 'tables.npz'} lack {key!r}")
            kinds[kind] = ModelFiles(kind, folder, tables)
        return cls(root, digest.digest()[:4], kinds)


_cache: dict[Path, ModelSet] = {}


def load_models(root: Path | None = None) -> ModelSet:
    """ModelSet.load, cached per folder."""
    key = Path(root) if root else default_model_dir()
    if key not in _cache:
        _cache[key] = ModelSet.load(key)
    return _cache[key]
