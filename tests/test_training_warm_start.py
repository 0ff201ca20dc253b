"""Warm start of training from the shipped model files (needs the `train` extra: torch, onnx)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

import onnxruntime as ort  # noqa: E402

from codec.training.from_onnx import load_from_onnx  # noqa: E402

MODELS = Path(__file__).resolve().parents[1] / "resources" / "models"


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x})[0]


@pytest.mark.parametrize("kind", ["intra", "residual"])
def test_rebuilt_model_matches_the_shipped_graphs(kind: str) -> None:
    folder = MODELS / kind
    model = load_from_onnx(folder, density_steps=300).eval()
    rng = np.random.default_rng(1)
    x = rng.random((1, 3, 64, 96), dtype=np.float32)
    if kind == "residual":  # residuals are small and signed
        x = (x - 0.5) * 0.2
    with torch.no_grad():
        y = model.g_a(torch.from_numpy(x))
        np.testing.assert_allclose(y.numpy(), _run(folder / "encoder.onnx", x), atol=1e-4)
        x_hat = model.g_s(y).numpy()
        np.testing.assert_allclose(x_hat, _run(folder / "decoder.onnx", y.numpy()), atol=1e-4)
        z = torch.round(model.h_a(y))
        mean, log_scale = model.h_s(z)
    # h_s ships as an integer network in units of 1/64; the float rebuild drops only the
    # per-layer rounding, so it agrees to a fraction of a unit on average.
    ints = _run(folder / "hyperprior_dec.onnx", z.numpy())
    diff = np.abs(torch.cat([mean, log_scale], 1).numpy() * 64 - ints)
    assert diff.mean() < 1.0
    tables = np.load(folder / "tables.npz")
    np.testing.assert_allclose(torch.exp(model.log_gain).detach().numpy(), tables["gain"],
                               rtol=1e-5)
    # the refitted z density gives every symbol nearly the shipped table's probability
    pmf = tables["z_pmf"][:, :-1].astype(np.float64)
    pmf /= pmf.sum(1, keepdims=True)
    k = torch.arange(-48, 49, dtype=torch.float32).view(1, 1, 1, -1)
    with torch.no_grad():
        p = model.density.likelihood(k.expand(1, pmf.shape[0], 1, -1))[0, :, 0, :].numpy()
    kl = np.sum(pmf * (np.log2(np.maximum(pmf, 1e-12)) - np.log2(np.maximum(p, 1e-12))), 1)
    assert kl.mean() < 0.1



def test_grown_gdn_model_is_the_same_function_and_round_trips_through_export(tmp_path) -> None:
    from codec.training.export import export_model
    from codec.training.layers import GDN
    from codec.training.networks import HyperpriorCodec, transform_layers, with_gdn

    torch.manual_seed(0)
    plain = HyperpriorCodec(16, 24, 8).eval()
    grown = with_gdn(plain).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(plain.g_s(plain.g_a(x)), grown.g_s(grown.g_a(x)))  # identity GDNs
        gdns = [m for m in transform_layers(grown) if isinstance(m, GDN)]
        assert len(gdns) == 6
        for m in gdns:  # make them do something, then export and rebuild
            m.gamma.uniform_(0.0, 0.2)
            m.beta.uniform_(0.5, 1.5)
        assert not torch.allclose(plain.g_a(x), grown.g_a(x), atol=1e-3)
    calib = np.random.default_rng(0).random((2, 3, 64, 64), dtype=np.float32)
    folder = export_model(grown, "intra", tmp_path, steps=1, minutes=0.0, train_args={},
                          calib=calib)
    rebuilt = load_from_onnx(folder, density_steps=1).eval()
    assert rebuilt.gdn
    with torch.no_grad():
        y = grown.g_a(x)
        np.testing.assert_allclose(rebuilt.g_a(x).numpy(), y.numpy(), atol=1e-6)
        np.testing.assert_allclose(_run(folder / "encoder.onnx", x.numpy()), y.numpy(), atol=1e-5)
        np.testing.assert_allclose(_run(folder / "decoder.onnx", y.numpy()),
                                   grown.g_s(y).numpy(), atol=1e-5)


def test_grown_latents_keep_the_function_and_export(tmp_path) -> None:
    from codec.training.export import export_model
    from codec.training.networks import HyperpriorCodec, with_latents

    torch.manual_seed(0)
    plain = HyperpriorCodec(16, 24, 8).eval()
    sample = torch.rand(2, 3, 64, 64)
    grown = with_latents(plain, 40, sample=sample).eval()
    assert grown.m == 40 and grown.log_gain.shape == (8, 40)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        y_old, y_new = plain.g_a(x), grown.g_a(x)
        assert torch.equal(y_new[:, :24], y_old)
        spread = (y_new - y_new.mean((2, 3), keepdim=True)).std((0, 2, 3))
        assert spread[24:].mean() > 0.1 * spread[:24].mean()  # the new channels carry data
        assert torch.allclose(grown.g_s(y_new), plain.g_s(y_old), atol=1e-6)  # g_s ignores them
        mean_old, log_scale_old = plain.h_s(torch.round(plain.h_a(y_old)))
        mean_new, log_scale_new = grown.h_s(torch.round(grown.h_a(y_new)))
        assert torch.equal(mean_new[:, :24], mean_old)
        assert torch.equal(log_scale_new[:, :24], log_scale_old)
        assert not mean_new[:, 24:].any()
        # the prior's scale of each new channel is its RMS on the sample
        rms = grown.g_a(sample)[:, 24:].pow(2).mean((0, 2, 3)).sqrt()
        torch.testing.assert_close(torch.exp(log_scale_new[0, 24:, 0, 0]), rms)
    with pytest.raises(ValueError, match="more than 24"):
        with_latents(plain, 24)
    # h_s's new rows have zero weights and a bias: the integer export must still fit 2^24
    calib = np.random.default_rng(0).random((2, 3, 64, 64), dtype=np.float32)
    folder = export_model(grown, "intra", tmp_path, steps=1, minutes=0.0, train_args={},
                          calib=calib)
    assert np.load(folder / "tables.npz")["gain"].shape == (8, 40)
