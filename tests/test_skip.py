"""Skip-mask coding: exact round trips, 1-byte constant masks, corrupt input rejected."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from codec.errors import ZVC69FormatError
from codec.skip import decode_skip, encode_skip


@st.composite
def masks(draw: st.DrawFn) -> np.ndarray:
    rows, cols = draw(st.integers(1, 16)), draw(st.integers(1, 16))
    p = draw(st.sampled_from([0.02, 0.5, 0.98]))
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed).random((rows, cols)) < p


@settings(max_examples=200, deadline=None)
@given(masks())
def test_round_trip(mask: np.ndarray) -> None:
    out = decode_skip(encode_skip(mask), *mask.shape)
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out, mask)


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.bool_, st.tuples(st.integers(1, 6), st.integers(1, 6))))
def test_round_trip_exhaustive_shapes(mask: np.ndarray) -> None:
    np.testing.assert_array_equal(decode_skip(encode_skip(mask), *mask.shape), mask)


@pytest.mark.parametrize("value", [False, True])
def test_constant_masks_cost_one_byte(value: bool) -> None:
    mask = np.full((68, 120), value)
    data = encode_skip(mask)
    assert len(data) == 1
    np.testing.assert_array_equal(decode_skip(data, 68, 120), mask)


def test_structured_mask_is_far_cheaper_than_random() -> None:
    yy, xx = np.mgrid[:68, :120]
    blob = (yy - 30) ** 2 + (xx - 60) ** 2 < 20**2
    noise = np.random.default_rng(0).random((68, 120)) < 0.5
    b, n = len(encode_skip(blob)), len(encode_skip(noise))
    assert b * 10 < n
    assert n < 68 * 120 / 8 * 1.05  # random bits cost about one bit each
    np.testing.assert_array_equal(decode_skip(encode_skip(blob), 68, 120), blob)


def test_truncated_or_bad_stream_is_rejected() -> None:
    mask = np.random.default_rng(1).random((9, 13)) < 0.3
    data = encode_skip(mask)
    for n in range(len(data)):
        with pytest.raises(ZVC69FormatError):
            decode_skip(data[:n], 9, 13)
    for bad in (b"\x00\x00", b"\x01\x05", b"\x03", b"\x02\x00\x80\x80" + data[4:]):
        with pytest.raises(ZVC69FormatError):
            decode_skip(bad, 9, 13)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=48), st.integers(1, 9), st.integers(1, 9))
def test_garbage_never_raises_anything_else(data: bytes, rows: int, cols: int) -> None:
    try:
        out = decode_skip(data, rows, cols)
    except ZVC69FormatError:
        return
    assert out.shape == (rows, cols) and out.dtype == np.bool_


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        encode_skip(np.zeros((2, 2, 2), bool))
    with pytest.raises(ValueError):
        decode_skip(b"\x00", 0, 4)
