"""The self-test that the packaged app runs: passes on the shipped models, fails clearly on
missing or corrupt ones (exit status 1, one line naming the file), never with a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from codec.cli import main
from codec.models import default_model_dir
from codec.selftest import run_selftest

ROOT = Path(__file__).resolve().parents[1]


def test_selftest_passes_on_shipped_models(capsys):
    result = run_selftest(width=96, height=64, frames=5)
    assert result.ok, result.lines
    text = "\n".join(result.lines)
    assert "identical to the encoder's reconstruction: yes" in text and "IBBPI" in text
    assert main(["selftest"]) == 0
    assert "PASSED" in capsys.readouterr().out


def _studio_selftest(models: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ZVC69_MODELS": str(models)}
    env.pop("DISPLAY", None)
    env.pop("QT_QPA_PLATFORM", None)
    return subprocess.run([sys.executable, "-m", "app.main", "--self-test"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_studio_self_test_without_display():
    proc = _studio_selftest(default_model_dir())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASSED" in proc.stdout


def test_selftest_names_a_corrupt_or_missing_model(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(default_model_dir(), models)
    (models / "residual" / "decoder.onnx").write_bytes(b"not an onnx graph")
    proc = _studio_selftest(models)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "FAILED" in proc.stdout and "decoder.onnx" in proc.stdout
    (models / "intra" / "encoder.onnx").unlink()
    proc = _studio_selftest(models)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "model file missing" in proc.stdout and "encoder.onnx" in proc.stdout
