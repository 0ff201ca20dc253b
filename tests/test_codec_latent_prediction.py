"""Spatial prediction of intra latents (format 8): exact rebuild, payload flag, old formats."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import codec.container
from codec import latent_prediction as LP
from codec.api import StreamDecoder, StreamEncoder, shared_codecs
from codec.backend import Backend
from codec.errors import ModelMismatchError, ZVC69FormatError
from codec.hyperprior import HyperpriorCoder
from codec.inter import InterPayload
from codec.intra import IntraPayload
from codec.models import ModelSet, default_model_dir
from codec.profiler import Profiler
from tests.codec_helpers import encode, frame_payload, pan_clip, texture


def test_the_decoder_rebuilds_exactly_what_the_encoder_quantised():
    rng = np.random.default_rng(0)
    resid = rng.normal(0, 3, (5, 7, 11)).astype(np.float32).cumsum(2)  # correlated along rows
    coef = rng.integers(-40, 80, (5, 4)).astype(np.int64)
    sym, rec = LP.quantise(resid, coef)
    assert np.array_equal(LP.reconstruct(sym, coef), rec)
    assert np.abs(LP.to_float(rec) - resid).max() <= 0.5 + 1e-6  # still a rounding of resid
    left = np.tile([64, 0, 0, 0], (5, 1)).astype(np.int64)  # copy the left neighbour
    sym, _ = LP.quantise(resid, left)
    assert np.abs(sym).sum() < 0.5 * np.abs(np.round(resid)).sum()  # only the increments left


def test_a_constant_field_costs_nothing_past_its_first_position():
    coef = np.tile([64, 0, 0, 0], (2, 1)).astype(np.int64)  # copy the left neighbour
    sym, rec = LP.quantise(np.full((2, 3, 4), 5.0, np.float32), coef)
    assert (sym[:, :, 0] == 5).all() and (sym[:, :, 1:] == 0).all()
    assert (rec == 5 * LP.ONE).all()


def test_zeroed_positions_take_their_prediction():
    coef = np.tile([32, 32, 0, 0], (1, 1)).astype(np.int64)
    zero = np.zeros((4, 4), bool)
    zero[:, 2:] = True
    sym, rec = LP.quantise(np.full((1, 4, 4), 9.0, np.float32), coef, zero)
    assert (sym[:, zero] == 0).all() and (sym[:, ~zero] != 0).any()
    assert np.array_equal(LP.reconstruct(sym, coef), rec)


def test_damaged_symbols_cannot_overflow():
    coef = np.full((1, 4), 127, np.int64)  # a prediction that grows at every step
    sym = np.full((1, 16, 16), 2**30, np.int32)
    rec = LP.reconstruct(sym, coef)
    assert np.abs(rec).max() <= 2**40


def test_a_wrong_coefficient_table_is_refused(tmp_path):
    with pytest.raises(ValueError, match="expected"):
        LP.check_coefficients(np.zeros((3, 4), np.int16), 4)
    root = tmp_path / "models"
    shutil.copytree(default_model_dir(), root)
    path = root / "intra" / "tables.npz"
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["y_spatial"] = np.zeros((7, 4), np.int16)
    np.savez(path, **arrays)
    with pytest.raises(ModelMismatchError, match="latent prediction table"):
        HyperpriorCoder(ModelSet.load(root).intra, Backend("cpu"))


def test_the_shipped_model_predicts_and_it_saves_bits():
    coder = shared_codecs("cpu").intra
    assert coder.coder.spatial is not None and coder.coder.spatial.shape[1] == 4
    frame = np.zeros((256, 384, 3), np.uint8)
    frame[:] = np.linspace(40, 200, 256)[:, None, None].astype(np.uint8)  # a smooth gradient
    with_ = coder.encode(frame, 3, Profiler())[0]
    without = coder.encode(frame, 3, Profiler(), spatial=False)[0]
    assert with_.spatial and not without.spatial
    assert len(with_.y_bytes) < 0.9 * len(without.y_bytes)  # 332 against 392 bytes here
    data = with_.pack()
    assert data[0] & 0x10 and IntraPayload.unpack(data, 256, 384) == with_


def test_streams_decode_exactly_and_format_7_streams_still_do(tmp_path, monkeypatch):
    frames = pan_clip(3, 64, 96)
    new, _ = encode(tmp_path / "v8.zvc69", frames, quality=3, gop=2)
    today = codec.container.VERSION[0]
    monkeypatch.setattr(codec.container, "VERSION", (7, 0))
    old, _ = encode(tmp_path / "v7.zvc69", frames, quality=3, gop=2)
    for name, recons, major, spatial in (("v8", new, today, True), ("v7", old, 7, False)):
        with StreamDecoder(tmp_path / f"{name}.zvc69", codecs=shared_codecs("cpu")) as dec:
            assert dec.header.version_major == major
            for n in (0, 2):  # both keyframes
                assert IntraPayload.unpack(frame_payload(dec.reader, n), 64, 96).spatial == spatial
            for i, r in enumerate(recons):
                frame, st = dec.decode(i)
                assert np.array_equal(frame, r)
                data = frame_payload(dec.reader, i)  # the analyzer shows the payload's flag
                flag = (IntraPayload.unpack(data, 64, 96).spatial if i % 2 == 0
                        else InterPayload.unpack(data, major).spatial)
                assert st.latent_prediction == flag and (flag <= spatial)


def test_spatial_prediction_in_a_format_7_stream_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(codec.container, "VERSION", (7, 0))
    with StreamEncoder(tmp_path / "odd.zvc69", 96, 64, codecs=shared_codecs("cpu")) as enc:
        enc.layout = 8  # an encoder that writes format 8 payloads under a 7.0 header
        enc.encode(texture(64, 96, seed=3))
    with StreamDecoder(tmp_path / "odd.zvc69", codecs=shared_codecs("cpu")) as dec:
        with pytest.raises(ZVC69FormatError, match="spatial latent prediction in a format 7"):
            dec.decode(0)


def test_p_frame_residuals_with_spatial_prediction_round_trip():
    """The residual coder codes with prediction where it saves bits; decoding its latents
    with the skip map rebuilds exactly the encoder's reconstruction."""
    rc = shared_codecs("cpu").residual
    assert rc.coder.spatial is not None
    cur = texture(128, 192, seed=6)
    pred = np.clip(cur.astype(np.float32) * 0.8 + 30, 0, 255)  # a smooth error to code
    coded = rc.encode(cur, pred, 4, True, Profiler(), spatial=True)
    plain = rc.encode(cur, pred, 4, True, Profiler(), spatial=False)
    assert coded.latents is not None and coded.spatial and not plain.spatial
    assert len(coded.latents.y_bytes) < len(plain.latents.y_bytes)
    lat = rc.decode_latents(coded.latents.z_bytes, coded.latents.y_bytes, 4, coded.skip,
                            (128, 192), Profiler(), spatial=True)
    assert np.array_equal(rc.reconstruct(lat, coded.skip, pred, Profiler()).recon, coded.recon)


def test_the_p_frame_flag_is_format_8_and_needs_a_residual():
    p = InterPayload(3, 16, 4, b"m", b"\x01", b"z", b"y", True, layout=8, spatial=True)
    data = p.pack()
    assert data[1] & 0x08 and InterPayload.unpack(data, 8) == p
    with pytest.raises(ZVC69FormatError, match="motion byte"):
        InterPayload.unpack(data, 7)
    bare = InterPayload(3, 16, 4, b"m", b"\x01", b"", b"", False, layout=8, spatial=True)
    with pytest.raises(ZVC69FormatError, match="motion byte"):
        InterPayload.unpack(bare.pack(), 8)


def test_the_fit_finds_a_table_that_saves_bits_and_stores_it(tmp_path):
    """The fitting script (no torch needed): smooth pictures give a table that codes their
    latents in fewer ideal bits, and `store` keeps every other array of tables.npz."""
    from codec.training import latent_prediction_fit as fit

    coder = shared_codecs("cpu").intra.coder
    images = [texture(128, 192, seed=s) for s in (1, 2)]
    table, before, after = fit.fit(coder.y_tables, fit.intra_latents(coder, images))
    assert table.shape == (coder.m, 4) and table.dtype == np.int16
    assert after < before
    folder = tmp_path / "intra"
    folder.mkdir()
    np.savez(folder / "tables.npz", gain=np.ones(3))
    fit.store(folder, table)
    with np.load(folder / "tables.npz") as npz:
        assert sorted(npz.files) == ["gain", "y_spatial"]
        assert np.array_equal(npz["y_spatial"], table)
