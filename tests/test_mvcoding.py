"""Motion-vector coding: exact round trips, compact smooth fields, corrupt input rejected."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from codec import mvcoding
from codec.errors import ZVC69FormatError
from codec.mvcoding import decode_mvs, encode_mvs, median_predictor


@st.composite
def fields(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    """(rows, cols, 2) float32 fields on a 1/precision grid, smooth or wild."""
    precision = draw(st.sampled_from([1, 2, 4]))
    rows, cols = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    big = draw(st.sampled_from([3, 40, 5000]))
    q = draw(hnp.arrays(np.int64, (rows, cols, 2), elements=st.integers(-big, big)))
    if draw(st.booleans()):  # mostly constant with a few outliers
        keep = draw(hnp.arrays(np.bool_, (rows, cols, 1)))
        q = np.where(keep, q, q[:1, :1])
    return (q / precision).astype(np.float32), precision


@settings(max_examples=150, deadline=None)
@given(fields())
def test_round_trip(case: tuple[np.ndarray, int]) -> None:
    mv, precision = case
    data = encode_mvs(mv, precision)
    out = decode_mvs(data, mv.shape[0], mv.shape[1], precision)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, mv)


def test_lone_vector_whose_symbols_cost_nothing_round_trips() -> None:
    """Mode 1 codes this field's symbols in no ANS word at all, which reads as truncated: the
    encoder writes mode 2 instead (hypothesis found the field)."""
    mv = np.array([[[-30.0, -30.0]]], np.float32)
    data = encode_mvs(mv, 1)
    assert data[0] == 2
    np.testing.assert_array_equal(decode_mvs(data, 1, 1, 1), mv)


@settings(max_examples=150, deadline=None)
@given(fields())
def test_round_trip_of_mode_2(case: tuple[np.ndarray, int]) -> None:
    """The context mode alone (the encoder writes it only where it is shorter)."""
    mv, precision = case
    q = np.rint(mv.astype(np.float64) * precision).astype(np.int64)
    if not q.any():
        return
    data = mvcoding._encode_contexts(q - median_predictor(q))
    assert data[0] == 2
    np.testing.assert_array_equal(decode_mvs(data, mv.shape[0], mv.shape[1], precision), mv)
    with pytest.raises(ZVC69FormatError, match="mode 2"):
        decode_mvs(data, mv.shape[0], mv.shape[1], precision, contexts=False)


def _object_field(rows: int = 45, cols: int = 80, seed: int = 0) -> np.ndarray:
    """Still background, a few objects moving fast, scattered quarter-pel jitter."""
    rng = np.random.default_rng(seed)
    mv = np.zeros((rows, cols, 2), np.float32)
    for _ in range(12):
        r, c = rng.integers(0, rows - 4), rng.integers(0, cols - 6)
        mv[r : r + 4, c : c + 6] = rng.integers(-96, 97, 2) / 4
    jitter = rng.random((rows, cols, 1)) < 0.15
    return mv + jitter * (rng.integers(-2, 3, (rows, cols, 2)) / 4).astype(np.float32)


def test_contexts_and_short_escapes_pay_on_sparse_fields() -> None:
    mv = _object_field()
    plain, best = encode_mvs(mv, contexts=False), encode_mvs(mv)
    assert plain[0] == 1 and best[0] == 2
    assert len(best) < 0.9 * len(plain)
    np.testing.assert_array_equal(decode_mvs(best, 45, 80), mv)
    tiny = np.zeros((2, 3, 2), np.float32)
    tiny[0, 0] = (0.25, 0)
    assert encode_mvs(tiny)[0] == 1  # mode 2's header is longer: not worth it here


def test_zero_field_costs_one_byte() -> None:
    data = encode_mvs(np.zeros((68, 120, 2), np.float32))
    assert len(data) == 1
    assert not decode_mvs(data, 68, 120).any()


def _smooth_field(rows: int = 34, cols: int = 60) -> np.ndarray:
    mv = np.zeros((rows, cols, 2), np.float32)
    mv[...] = (3.25, -1.5)  # pan
    mv[10:20, 15:35] = (-6.0, 2.75)  # object
    return mv


def test_smooth_field_is_far_cheaper_than_random() -> None:
    rng = np.random.default_rng(0)
    smooth = _smooth_field()
    noise = (rng.integers(-64, 65, smooth.shape) / 4).astype(np.float32)
    s, r = len(encode_mvs(smooth)), len(encode_mvs(noise))
    assert s * 20 < r
    pan = np.tile(np.float32([-12.75, 4.0]), (68, 120, 1))
    assert len(encode_mvs(pan)) <= 16


def test_rounds_to_the_precision_grid() -> None:
    mv = np.float32([[[0.3, -1.1], [2.9, 0.0]]])
    np.testing.assert_array_equal(decode_mvs(encode_mvs(mv, 4), 1, 2, 4), [[[0.25, -1], [3, 0]]])
    np.testing.assert_array_equal(decode_mvs(encode_mvs(mv, 1), 1, 2, 1), [[[0, -1], [3, 0]]])


def test_median_predictor() -> None:
    mv = np.array([[[1, 0], [2, 0], [3, 0]], [[4, 0], [9, 0], [7, 0]]], dtype=np.int64)
    pred = median_predictor(mv)[..., 0]
    # row 0: left; (1,0): median(top, top, top-right) = 1; (1,1): median(4, 2, 3) = 3;
    # (1,2): last column uses top-left: median(9, 3, 2) = 3
    np.testing.assert_array_equal(pred, [[0, 1, 2], [1, 3, 3]])


def test_1080p_field_decodes_fast() -> None:
    rng = np.random.default_rng(1)
    mv = _smooth_field(68, 120) + (rng.random((68, 120, 2)) < 0.1) * np.float32(0.25)
    data = encode_mvs(mv)
    best = min(_timed(lambda: decode_mvs(data, 68, 120)) for _ in range(5))
    assert best < 0.05  # typically 2-3 ms; generous for a shared machine
    np.testing.assert_array_equal(decode_mvs(data, 68, 120), mv)


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def test_truncated_or_extended_stream_is_rejected() -> None:
    data = encode_mvs(_smooth_field(8, 12))
    for n in range(len(data)):
        with pytest.raises(ZVC69FormatError):
            decode_mvs(data[:n], 8, 12)
    with pytest.raises(ZVC69FormatError):
        decode_mvs(data + b"\x00\x00\x00\x01", 8, 12)
    with pytest.raises(ZVC69FormatError):
        decode_mvs(b"\x00\x00", 8, 12)
    with pytest.raises(ZVC69FormatError):
        decode_mvs(b"\x07", 8, 12)
    data = encode_mvs(_object_field(12, 16))
    assert data[0] == 2
    for n in range(len(data)):
        with pytest.raises(ZVC69FormatError):
            decode_mvs(data[:n], 12, 16)
    with pytest.raises(ZVC69FormatError):
        decode_mvs(data + b"\x00\x00\x00\x01", 12, 16)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.integers(1, 9), st.integers(1, 9))
def test_garbage_never_raises_anything_else(data: bytes, rows: int, cols: int) -> None:
    try:
        out = decode_mvs(data, rows, cols)
    except ZVC69FormatError:
        return
    assert out.shape == (rows, cols, 2) and np.isfinite(out).all()


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 255))
def test_corrupted_byte_never_raises_anything_else(pos: int, value: int) -> None:
    for field in (_smooth_field(8, 12), _object_field(8, 12, seed=3)):
        data = bytearray(encode_mvs(field))
        data[pos % len(data)] = value
        try:
            decode_mvs(bytes(data), 8, 12)
        except ZVC69FormatError:
            pass


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        encode_mvs(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError):
        encode_mvs(np.full((2, 2, 2), np.inf, np.float32))
    with pytest.raises(ValueError):
        encode_mvs(np.full((2, 2, 2), 1e7, np.float32))
