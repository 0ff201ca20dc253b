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


def test_latents_far_in_the_padding_are_sent_as_their_mean():
    """A 70x80 frame pads to 128x128: latent rows/columns 6.. lie over 2+ positions of padding;
    the encoder sends them as symbol 0 (cheaper), and the decoder still matches exactly."""
    from codec.intra import PAD_MARGIN, to_tensor
    from codec.profiler import Profiler

    img = texture(70, 80, seed=5)
    coder = shared_codecs("cpu").intra.coder
    a = coder.analyse(to_tensor(img), 3, Profiler())
    b = coder.beyond_frame_to_mean(a, 70, 80, PAD_MARGIN)
    rows, cols = 5 + PAD_MARGIN, 5 + PAD_MARGIN  # ceil(70 / 16), ceil(80 / 16)
    assert a.sym[:, rows:].any() or a.sym[:, :, cols:].any()  # the padding had symbols
    assert not b.sym[:, rows:].any() and not b.sym[:, :, cols:].any()
    assert np.array_equal(b.sym[:, :rows, :cols], a.sym[:, :rows, :cols])
    assert b.bits.sum() < a.bits.sum()
    assert coder.beyond_frame_to_mean(a, 128, 128, PAD_MARGIN) is a  # no padding: unchanged
