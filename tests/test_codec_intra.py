"""Still images through the intra codec: any size, exact decode, rate over Q1..Q8."""

from __future__ import annotations

import numpy as np
import pytest

from codec.api import StreamDecoder, encode_preview, shared_codecs
from tests.codec_helpers import encode, texture


@pytest.mark.parametrize("size", [(1, 1), (17, 33), (64, 64), (75, 130)])
def test_any_size_round_trips_exactly(tmp_path, size):
    img = texture(*size, seed=size[0])
    recons, stats = encode(tmp_path / "i.zvc69", [img])
    assert recons[0].shape == img.shape
    with StreamDecoder(tmp_path / "i.zvc69", codecs=shared_codecs("cpu")) as dec:
        frame, st = dec.decode(0)
    assert np.array_equal(frame, recons[0])
    assert st.frame_type == "I" and st.bits["latent"] > 0


def test_intra_rate_and_quality_rise_with_level():
    img = texture(96, 128, seed=3)
    sizes, psnrs = [], []
    for q in range(1, 9):
        _, st = encode_preview(img, q, device="cpu", still=True)
        sizes.append(st.size_bytes)
        psnrs.append(st.psnr)
    assert all(a < b for a, b in zip(sizes, sizes[1:], strict=False)), sizes
    # measured with the shipped model on this texture: 25.1 dB at Q1, 27.9 dB at Q8
    assert psnrs[-1] > psnrs[0] + 2 and psnrs[0] < psnrs[3] < psnrs[-1], psnrs


def test_shared_networks_follow_the_model_folder(tmp_path, monkeypatch):
    """Pointing ZVC69_MODELS at another folder in the same process loads that folder."""
    from codec.models import default_model_dir

    shipped = shared_codecs("cpu")
    copy = tmp_path / "models"
    for kind in ("intra", "residual"):
        (copy / kind).mkdir(parents=True)
        for f in (default_model_dir() / kind).iterdir():
            (copy / kind / f.name).symlink_to(f)
    monkeypatch.setenv("ZVC69_MODELS", str(copy))
    other = shared_codecs("cpu")
    assert other is not shipped
    assert other.models.root == copy.resolve()
    monkeypatch.delenv("ZVC69_MODELS")
    assert shared_codecs("cpu") is shipped
