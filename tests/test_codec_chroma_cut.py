"""The detail layer leaves out high-frequency chroma where the source's chroma is subsampled
(encoder.CHROMA_CUT)."""

from __future__ import annotations

import numpy as np

from codec import detail as D
from codec import encoder as E
from codec.api import StreamDecoder, encode_file, shared_codecs
from codec.media import open_source
from codec.metrics import rgb_to_yuv420
from codec.profiler import Profiler
from codec.regions import KIND_4X4, KIND_8X8, KIND_16, KIND_32, KIND_64
from tests.codec_helpers import encode, pan_clip, texture
from tests.test_media import write_with_pyav


def test_high_chroma_masks():
    """Half the range of an 8x8 DCT, of each 4x4 of a split block and of a 16x16 region."""
    m8 = D.high_chroma(8, 0.5)
    assert not m8[:4, :4].any() and m8[4:].all() and m8[:, 4:].all()
    m4 = D.high_chroma(8, 0.5, four=True)
    low = np.array([0, 1, 4, 5])  # the two low frequencies of each 4x4's rows and columns
    assert not m4[np.ix_(low, low)].any() and m4.sum() == 64 - 16
    m16 = D.high_chroma(16, 0.5)
    assert not m16[:8, :8].any() and m16.sum() == 256 - 64


def _residual_case():
    """A textured frame and a base off by a fine chroma pattern (alternating Cb per pixel) and a
    fine luma pattern on its lower half."""
    frame = texture(64, 96, seed=5)
    yy, xx = np.mgrid[:64, :96]
    chroma = 12.0 * (-1.0) ** (xx + yy)  # the highest frequency, in Cb: B up, G a little down
    err = np.stack([0 * chroma, -0.19 * chroma, chroma], -1)
    err[32:] += (8.0 * np.sin(xx[32:] * 2.6))[..., None]  # grey, fine
    base = np.clip(frame + err, 0, 255).astype(np.uint8)
    return frame, base


def _fine(kinds: np.ndarray | None, n: int) -> np.ndarray:
    """(n, 8, 8) bool: per kept block, the positions `high_chroma(..., 0.5)` marks for the
    transform it was coded with (a region's 8x8 part holds its share of the region's
    frequencies)."""
    out = np.empty((n, 8, 8), bool)
    for i, kind in enumerate(np.zeros(n, int) if kinds is None else kinds):
        if kind == KIND_8X8:
            out[i] = D.high_chroma(8, 0.5)
        elif kind == KIND_4X4:
            out[i] = D.high_chroma(8, 0.5, four=True)
        else:
            first, nb = max((f, nb) for f, nb in ((KIND_16, 2), (KIND_32, 4), (KIND_64, 8))
                            if kind >= f)
            a, b = divmod(int(kind) - first, nb)
            out[i] = D.high_chroma(8 * nb, 0.5)[8 * a : 8 * a + 8, 8 * b : 8 * b + 8]
    return out


def test_cut_leaves_out_fine_chroma_and_keeps_luma():
    frame, base = _residual_case()
    src = rgb_to_yuv420(frame)
    out = {}
    for cut in (None, 0.5):
        coded = D.encode_detail(frame, base, 6, Profiler(), 18, chroma_cut=cut)
        assert coded is not None
        section = D.DetailSection.unpack(coded.section.pack(), 18, ycc=True)
        keep, q, kinds = D.decode_symbols(section, 64, 96, Profiler())
        recon, _ = D.reconstruct(section, keep, q, base, Profiler(), kinds)
        assert np.array_equal(recon, coded.recon)  # the decoder needs nothing new
        luma = float(np.mean((rgb_to_yuv420(recon)[0].astype(float) - src[0]) ** 2))
        rgb = float(np.mean((recon.astype(float) - frame) ** 2))
        fine = np.abs(q[:, 1:]) * _fine(kinds, len(q))[:, None]
        out[cut] = (coded.section.bits(), luma, rgb, int(fine.sum()))
    bits_all, luma_all, rgb_all, fine_all = out[None]
    bits_cut, luma_cut, rgb_cut, fine_cut = out[0.5]
    assert fine_all > 0  # coded in full, the pattern's fine chroma is sent
    assert fine_cut == 0  # with the cut, no fine chroma coefficient is
    assert bits_cut < 0.8 * bits_all
    assert rgb_cut > rgb_all  # the pattern stays in RGB ...
    assert luma_cut <= luma_all * 1.05 + 0.05  # ... but luma is corrected as well as before


def _coded(path, frames, gop, subsampled=None):
    """Bytes of the stream and whether it decodes to the encoder's reconstruction."""
    recons, _ = encode(path, frames, quality=6, gop=gop, subsampled_chroma=subsampled)
    with StreamDecoder(path, codecs=shared_codecs("cpu")) as dec:
        same = all(np.array_equal(f, recons[i]) for i, (f, _) in enumerate(dec.frames()))
    return path.stat().st_size, same


def test_cut_follows_the_source_chroma(tmp_path, monkeypatch):
    """The cut applies where the source's chroma is subsampled (unknown: to video streams, not
    stills), on a clip with fine chroma detail it then saves bits; every stream decodes to the
    encoder's reconstruction."""
    yy, xx = np.mgrid[:64, :96]
    tint = (10.0 * (-1.0) ** (xx + yy))[..., None] * np.array([1.0, -0.5, 0.0])
    frames = [np.clip(f + tint, 0, 255).astype(np.uint8) for f in pan_clip(3, 64, 96, seed=2)]
    sizes = {}
    for cut, subs in ((None, (None,)), (0.5, (None, False, True))):
        monkeypatch.setattr(E, "CHROMA_CUT", cut)
        for gop, clip in ((3, frames), (1, frames[:1])):
            for sub in subs:
                size, same = _coded(tmp_path / f"{cut}_{gop}_{sub}.zvc69", clip, gop, sub)
                assert same, (cut, gop, sub)
                sizes[cut, gop, sub] = size
    for gop in (3, 1):
        full = sizes[None, gop, None]  # no cut at all
        assert sizes[0.5, gop, False] == full  # full-resolution chroma keeps every coefficient
        assert sizes[0.5, gop, True] < full  # subsampled chroma: video and stills take the cut
    assert sizes[0.5, 3, None] == sizes[0.5, 3, True]  # unknown: a video stream takes it
    assert sizes[0.5, 1, None] == sizes[None, 1, None]  # ... a still does not


def test_encode_file_passes_the_source_chroma(tmp_path):
    """encode_file takes the flag from codec.media: a 4:4:4 file's stream is the one coded with
    full-resolution chroma, not the one with the cut."""
    yy, xx = np.mgrid[:64, :96]
    tint = (10.0 * (-1.0) ** (xx + yy))[..., None] * np.array([1.0, -0.5, 0.0])
    clip = [np.clip(f + tint, 0, 255).astype(np.uint8) for f in pan_clip(3, 64, 96, seed=2)]
    src = tmp_path / "full.mkv"
    write_with_pyav(src, clip, "ffv1", "yuv444p")
    frames = list(open_source(src))
    out = encode_file(str(src), tmp_path / "file.zvc69", quality=6, gop=3, device="cpu")
    direct = {}
    for sub in (False, True):
        encode(tmp_path / f"{sub}.zvc69", frames, quality=6, gop=3, subsampled_chroma=sub)
        direct[sub] = (tmp_path / f"{sub}.zvc69").read_bytes()
    assert direct[False] != direct[True]
    assert out is not None and out.read_bytes() == direct[False]
