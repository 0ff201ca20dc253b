"""Entropy coding on integer PMF tables with constriction's ANS (stack) coder.

Exactness and device independence: a distribution is picked by an integer (a table index or a
channel) and every distribution is an integer PMF table (``pmf`` int32, rows summing to
``2**precision``, every used bin >= 1) computed once at model-export time and shipped.  Decoding
does no floating-point math that could decide a CDF.

Table conventions (both ``GaussianTables`` and ``FactorizedTables``): row ``s`` has
``length[s]`` bins; bin ``j < length[s] - 1`` holds the value ``offset[s] + j``, the last bin
(``length[s] - 1``) is the *escape* bin for every value outside that support.  An escaped value
is followed by its exact value (steps 2-3 of the stream layout), so any int32 can be coded.

constriction: models are ``Categorical(pmf / 2**precision, perfect=True)``.  constriction works
at 24-bit precision; with ``perfect=True`` it finds the 24-bit table closest (in KL) to the given
probabilities, which for a table with ``precision <= 24`` is exactly ``pmf << (24 - precision)``
(checked per table by ``verify_constriction_model`` in the tests).  ``perfect=False`` re-quantises
(``floor(cdf * (2**24 - n)) + i``, deterministic but off by up to tens of 2**-24 units) and is
therefore not used.

Stream layout (one ANS stack, 32-bit words stored little-endian; decode order):
  1. per group, ascending table index (Gaussian) or channel (factorized): that group's bins in
     raster (C) order, with ONE fixed Categorical model per group;
  2. escape headers: per escape, in the order of step 1, a side bit (Uniform 2: 0 above the
     support, 1 below) and ``nbits`` (Uniform 32);
  3. escape mantissas: ``m = distance outside the support >= 1`` is ``2**nbits + r``; ``r``
     is sent as a low chunk of ``min(nbits, 16)`` bits and, if ``nbits > 16``, a high chunk of
     ``nbits - 16`` bits (Uniform of power-of-two size, exact);
  4. a 16-bit check value of the coded values (Uniform 2**16; costs 16 bits);
  5. an end sentinel (symbol 1 of a {2**-24, 1 - 2**-24} model; costs < 1 bit, and keeps the
     ANS state off 0 so no non-empty message codes to ``b""``).
The decoder requires the check value, the sentinel and an empty coder afterwards.  The check
value is needed because an ANS decoder fed a truncated stream re-synchronises and can end in
the right final state; with it, truncated, damaged or wrongly indexed data is caught except with
probability ~2**-16.  ANS decoding is a bijection: damaged data that passes every check decodes
to different symbols, never silently to the original.
An empty symbol array codes to ``b""``.
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import constriction
import numpy as np

from codec.errors import ModelMismatchError, ZVC69FormatError

__all__ = [
    "FactorizedCoder",
    "FactorizedTables",
    "GaussianCoder",
    "GaussianTables",
    "build_gaussian_tables",
    "decode_factorized",
    "decode_gaussian",
    "default_scale_table",
    "encode_factorized",
    "encode_gaussian",
    "encode_gaussian_chunks",
    "GaussianChunkDecoder",
    "information_bits_factorized",
    "information_bits_gaussian",
    "load_tables",
    "quantize_pmf",
    "save_tables",
    "scale_to_index",
    "verify_constriction_model",
]

_Categorical = constriction.stream.model.Categorical
_Uniform = constriction.stream.model.Uniform
_AnsCoder = constriction.stream.stack.AnsCoder

CONSTRICTION_PRECISION = 24  # bits of constriction's default (Python) entropy models
MAX_PRECISION = CONSTRICTION_PRECISION
_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1
_NBITS_SIZE = 32  # escape nbits alphabet: m < 2**32, so nbits = bit_length(m) - 1 <= 31
_ESCAPE_BITS_FIXED = 1.0 + math.log2(_NBITS_SIZE)  # side bit + nbits symbol

# End sentinel: symbol 1 has left cumulative 1 and probability 1 - 2**-24 (see module doc).
_SENTINEL_PROBS = np.array([1.0, 2.0**24 - 1.0]) / 2.0**24
_sentinel_model: Any = None


def _digest(values: np.ndarray) -> int:
    """16-bit check value of the coded (grouped) int32 values: mixed 64-bit sum and count."""
    x = (int(np.sum(values, dtype=np.int64)) ^ (values.size << 48)) & (2**64 - 1)
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & (2**64 - 1)  # splitmix64 finaliser
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & (2**64 - 1)
    x ^= x >> 31
    return (x ^ (x >> 16) ^ (x >> 32) ^ (x >> 48)) & 0xFFFF


def _sentinel() -> Any:
    global _sentinel_model
    if _sentinel_model is None:
        _sentinel_model = _Categorical(_SENTINEL_PROBS, perfect=True)
    return _sentinel_model


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def _as_int32(name: str, a: Any, ndim: int) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be an integer array, got {arr.dtype}")
    if arr.size and (arr.min() < _INT32_MIN or arr.max() > _INT32_MAX):
        raise ValueError(f"{name} does not fit int32")
    out = np.array(arr, dtype=np.int32, copy=True, order="C")
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class _IntTables:
    """Integer PMF tables: ``pmf`` (S, Lmax) int32 zero-padded, ``length`` (S,), ``offset``
    (S,) (value of bin 0), ``precision`` (rows sum to ``2**precision``); last bin = escape."""

    pmf: np.ndarray
    length: np.ndarray
    offset: np.ndarray
    precision: int
    _cache: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pmf = _as_int32("pmf", self.pmf, 2)
        length = _as_int32("length", self.length, 1)
        offset = _as_int32("offset", self.offset, 1)
        if isinstance(self.precision, bool) or not isinstance(self.precision, (int, np.integer)):
            raise ValueError(f"precision must be an int, got {self.precision!r}")
        precision = int(self.precision)
        if not 1 <= precision <= MAX_PRECISION:
            raise ValueError(f"precision must be in [1, {MAX_PRECISION}], got {precision}")
        s, lmax = pmf.shape
        if s == 0:
            raise ValueError("tables must hold at least one distribution")
        if length.shape != (s,) or offset.shape != (s,):
            raise ValueError(f"length and offset must have shape ({s},)")
        if length.min() < 2 or length.max() > lmax:
            raise ValueError(f"every length must be in [2, {lmax}] (values + escape bin)")
        if length.max() > 2**precision:
            raise ValueError("a table has more bins than 2**precision")
        if (offset.astype(np.int64) + length - 2).max() > _INT32_MAX:
            raise ValueError("a table's support exceeds int32")
        used = np.arange(lmax)[None, :] < length[:, None]
        if np.any(pmf[used] < 1):
            raise ValueError("every bin inside a table's length must be >= 1")
        if np.any(pmf[~used] != 0):
            raise ValueError("pmf padding beyond length must be zero")
        sums = pmf.astype(np.int64).sum(axis=1)
        if np.any(sums != 2**precision):
            bad = int(np.flatnonzero(sums != 2**precision)[0])
            raise ValueError(f"row {bad} sums to {int(sums[bad])}, not 2**{precision}")
        object.__setattr__(self, "pmf", pmf)
        object.__setattr__(self, "length", length)
        object.__setattr__(self, "offset", offset)
        object.__setattr__(self, "precision", precision)

    @property
    def num_tables(self) -> int:
        """Number of distributions S."""
        return int(self.pmf.shape[0])

    def model(self, index: int) -> Any:
        """The cached constriction Categorical for row ``index`` (exact, ``perfect=True``)."""
        key = ("model", int(index))
        model = self._cache.get(key)
        if model is None:
            row = self.pmf[index, : self.length[index]].astype(np.float64)
            model = _Categorical(row / float(2**self.precision), perfect=True)
            self._cache[key] = model
        return model

    def log2_pmf(self) -> np.ndarray:
        """Cached ``log2(pmf)`` (S, Lmax) float64 (``-inf`` in padding)."""
        table = self._cache.get("log2")
        if table is None:
            with np.errstate(divide="ignore"):
                table = np.log2(self.pmf.astype(np.float64))
            table.flags.writeable = False
            self._cache["log2"] = table
        return table

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "pmf": self.pmf,
            "length": self.length,
            "offset": self.offset,
            "precision": np.array(self.precision, dtype=np.int32),
        }


@dataclass(frozen=True, eq=False)
class GaussianTables(_IntTables):
    """Zero-mean Gaussian tables, one row per entry of a scale table (``scales``, float64,
    kept for the encoder's scale-to-index mapping; the decoder never needs it)."""

    scales: np.ndarray | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.scales is not None:
            scales = np.array(self.scales, dtype=np.float64, copy=True)
            if scales.shape != (self.num_tables,):
                raise ValueError(f"scales must have shape ({self.num_tables},)")
            scales.flags.writeable = False
            object.__setattr__(self, "scales", scales)

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = super()._arrays()
        if self.scales is not None:
            arrays["scales"] = self.scales
        return arrays


@dataclass(frozen=True, eq=False)
class FactorizedTables(_IntTables):
    """Per-channel tables of a factorized prior: row ``c`` codes channel ``c``."""


Tables = GaussianTables | FactorizedTables


def default_scale_table(min: float = 0.11, max: float = 256.0, levels: int = 64) -> np.ndarray:
    """Log-spaced scales from ``min`` to ``max`` (like CompressAI's ``get_scale_table``)."""
    if not (0 < min < max) or levels < 2:
        raise ValueError("need 0 < min < max and levels >= 2")
    return np.exp(np.linspace(math.log(min), math.log(max), levels))


def _quantize_row(p: np.ndarray, precision: int) -> np.ndarray:
    """Integer counts summing to ``2**precision``, each >= 1, close in KL to ``p``."""
    total = 2**precision
    n = p.size
    if n > total:
        raise ValueError(f"{n} bins do not fit precision {precision} (every bin needs >= 1)")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError("probabilities must be finite and >= 0")
    norm = float(p.sum())
    if not norm > 0:
        raise ValueError("probabilities sum to zero")
    p = p / norm
    counts = np.maximum(np.floor(p * total), 1.0).astype(np.int64)
    deficit = total - int(counts.sum())
    while deficit != 0:  # greedy exchange on the marginal change of cross-entropy
        if deficit > 0:
            gain = p * np.log1p(1.0 / counts)
            k = min(deficit, n)
            counts[np.argsort(-gain, kind="stable")[:k]] += 1
            deficit -= k
        else:
            loss = np.where(counts > 1, -p * np.log1p(-1.0 / np.maximum(counts, 2)), np.inf)
            k = min(-deficit, int(np.count_nonzero(counts > 1)))
            counts[np.argsort(loss, kind="stable")[:k]] -= 1
            deficit += k
    return counts


def _pack_rows(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lmax = max(r.size for r in rows)
    pmf = np.zeros((len(rows), lmax), dtype=np.int32)
    for i, r in enumerate(rows):
        pmf[i, : r.size] = r
    return pmf, np.array([r.size for r in rows], dtype=np.int32)


def _upper_tail(x: np.ndarray) -> np.ndarray:
    """P(X > x) for a standard normal (float64, accurate in the far tail)."""
    return np.array([0.5 * math.erfc(v / math.sqrt(2.0)) for v in x.ravel()]).reshape(x.shape)


def _support_radius(scale: float, tail_mass: float) -> int:
    """Smallest R >= 0 with P(|X| > R + 0.5) <= tail_mass for X ~ N(0, scale**2)."""
    lo, hi = 0, max(1, math.ceil(40.0 * scale))
    while lo < hi:
        mid = (lo + hi) // 2
        if math.erfc((mid + 0.5) / (scale * math.sqrt(2.0))) <= tail_mass:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _symmetric_tables(scales: np.ndarray, precision: int, tail_mass: float,
                      radius: Callable[[float], int],
                      upper_tail: Callable[[np.ndarray, float], np.ndarray]) -> GaussianTables:
    """Rows of zero-mean symmetric distributions, one per scale: ``radius(s)`` is the support
    radius R_s, ``upper_tail(x, s)`` is P(X > x)."""
    scales = np.asarray(scales, dtype=np.float64).ravel()
    if scales.size == 0 or not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise ValueError("scales must be a non-empty array of finite positive numbers")
    if not 0 < tail_mass < 1:
        raise ValueError("tail_mass must be in (0, 1)")
    if not 1 <= precision <= MAX_PRECISION:
        raise ValueError(f"precision must be in [1, {MAX_PRECISION}]")
    rows, offsets = [], []
    for s in scales:
        r = radius(float(s))
        if 2 * r + 2 > 2**precision:
            raise ValueError(f"scale {s:g} needs {2 * r + 2} bins > 2**{precision}")
        upper = upper_tail(np.arange(r + 1, dtype=np.float64) + 0.5, float(s))  # P(X > k + .5)
        half = np.empty(r + 1)
        half[0] = 1.0 - 2.0 * upper[0]
        half[1:] = upper[:-1] - upper[1:]
        probs = np.concatenate([half[:0:-1], half, [2.0 * upper[-1]]])
        rows.append(_quantize_row(np.maximum(probs, 0.0), precision))
        offsets.append(-r)
    pmf, length = _pack_rows(rows)
    return GaussianTables(pmf, length, np.array(offsets, np.int32), precision, scales=scales)


def build_gaussian_tables(
    scales: np.ndarray, precision: int = 16, tail_mass: float = 1e-9
) -> GaussianTables:
    """Integer tables of zero-mean Gaussians, one per scale (export time; float math here).

    Row s: bins for the integers ``-R_s..R_s`` (mass of ``[k - 0.5, k + 0.5]``), ``R_s`` the
    smallest radius whose two-sided tail beyond ``R_s + 0.5`` is ``<= tail_mass``, plus one
    escape bin holding that tail; quantised to integers summing to ``2**precision``, each >= 1.
    """
    return _symmetric_tables(scales, precision, tail_mass,
                             lambda s: _support_radius(s, tail_mass),
                             lambda x, s: _upper_tail(x / s))


def build_laplace_tables(
    scales: np.ndarray, precision: int = 16, tail_mass: float = 1e-9
) -> GaussianTables:
    """Integer tables of zero-mean Laplace distributions with standard deviations ``scales``
    (export time; float math here), laid out like `build_gaussian_tables` (same class: rows
    indexed by scale). Transform coefficients are closer to Laplace than to Gaussian."""
    def radius(s: float) -> int:  # P(|X| > R + 0.5) <= tail_mass, b = s / sqrt(2)
        return max(0, math.ceil(s / math.sqrt(2.0) * math.log(1.0 / tail_mass) - 0.5))

    return _symmetric_tables(scales, precision, tail_mass, radius,
                             lambda x, s: 0.5 * np.exp(-x * math.sqrt(2.0) / s))


def quantize_pmf(
    probabilities: np.ndarray,
    offsets: np.ndarray,
    precision: int = 16,
    lengths: np.ndarray | None = None,
) -> FactorizedTables:
    """Factorized-prior tables from float PMFs (export time).

    ``probabilities`` (C, L): row c, column j is the mass of value ``offsets[c] + j`` (only the
    first ``lengths[c]`` columns are used, default all).  Whatever mass is missing from 1 goes to
    the escape bin (which always gets >= 1 count).
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] == 0:
        raise ValueError(f"probabilities must be (C, L) with C, L >= 1, got {probs.shape}")
    c, lcols = probs.shape
    offs = np.asarray(offsets)
    if offs.shape != (c,) or (offs.size and not np.issubdtype(offs.dtype, np.integer)):
        raise ValueError(f"offsets must be an integer array of shape ({c},)")
    lens = np.full(c, lcols) if lengths is None else np.asarray(lengths)
    if lens.shape != (c,) or np.any(lens < 1) or np.any(lens > lcols):
        raise ValueError(f"lengths must have shape ({c},) with values in [1, {lcols}]")
    if not 1 <= precision <= MAX_PRECISION:
        raise ValueError(f"precision must be in [1, {MAX_PRECISION}]")
    rows = []
    for i in range(c):
        p = probs[i, : int(lens[i])]
        if not np.all(np.isfinite(p)) or np.any(p < 0):
            raise ValueError(f"row {i}: probabilities must be finite and >= 0")
        rows.append(_quantize_row(np.append(p, max(0.0, 1.0 - float(p.sum()))), precision))
    pmf, length = _pack_rows(rows)
    return FactorizedTables(pmf, length, offs.astype(np.int64), precision)


def scale_to_index(scales: np.ndarray, scale_table: np.ndarray) -> np.ndarray:
    """Index of the smallest table scale >= each scale (clipped to the last), int32.

    Like CompressAI's ``build_indexes``.  Float comparisons: the decoder may only apply this to
    values that are bit-identical on both sides.
    """
    table = np.asarray(scale_table, dtype=np.float64)
    idx = np.searchsorted(table[:-1], np.asarray(scales, dtype=np.float64), side="left")
    return idx.astype(np.int32)


def verify_constriction_model(tables: Tables, index: int) -> bool:
    """True if constriction's model for row ``index`` is exactly ``pmf << (24 - precision)``.

    Probe: encoding one symbol onto an empty AnsCoder (state 0) leaves the state equal to the
    symbol's left cumulative, so this reads back the CDF constriction really uses.
    """
    model = tables.model(index)
    n = int(tables.length[index])
    shift = CONSTRICTION_PRECISION - tables.precision
    expected = np.concatenate([[0], np.cumsum(tables.pmf[index, : n - 1], dtype=np.int64)])
    for i in range(n):
        coder = _AnsCoder()
        coder.encode_reverse(np.array([i], dtype=np.int32), model)
        words = coder.get_compressed()  # state < 2**24: no word if 0, else one word
        left = 0 if words.size == 0 else int(words[0]) if words.size == 1 else -1
        if left != int(expected[i]) << shift:
            return False
    return True


# --------------------------------------------------------------------------------------------
# Save / load
# --------------------------------------------------------------------------------------------

_KINDS: dict[str, type[GaussianTables] | type[FactorizedTables]] = {
    "gaussian": GaussianTables,
    "factorized": FactorizedTables,
}


def save_tables(path: str | os.PathLike[str], **tables: Tables) -> None:
    """Write named tables to one ``.npz`` file (the exact path given, compressed)."""
    arrays: dict[str, np.ndarray] = {}
    for name, t in tables.items():
        if "." in name or "/" in name:
            raise ValueError(f"table name {name!r} must not contain '.' or '/'")
        kind = "gaussian" if isinstance(t, GaussianTables) else "factorized"
        if not isinstance(t, (GaussianTables, FactorizedTables)):
            raise TypeError(f"{name}: not a GaussianTables or FactorizedTables")
        arrays[f"{name}.kind"] = np.array(kind)
        for key, value in t._arrays().items():
            arrays[f"{name}.{key}"] = value
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def load_tables(path: str | os.PathLike[str]) -> dict[str, Tables]:
    """Read tables written by ``save_tables``; a missing, damaged or invalid file raises
    ``ModelMismatchError``."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
        out: dict[str, Tables] = {}
        for key in sorted(k for k in data if k.endswith(".kind")):
            name = key[: -len(".kind")]
            kind = str(data[key])
            if kind not in _KINDS:
                raise ValueError(f"{name}: unknown kind {kind!r}")
            kwargs: dict[str, Any] = {
                "pmf": data[f"{name}.pmf"],
                "length": data[f"{name}.length"],
                "offset": data[f"{name}.offset"],
                "precision": int(data[f"{name}.precision"]),
            }
            if kind == "gaussian" and f"{name}.scales" in data:
                kwargs["scales"] = data[f"{name}.scales"]
            out[name] = _KINDS[kind](**kwargs)
        return out
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as e:
        raise ModelMismatchError(f"entropy tables {os.fspath(path)!r}: {e}") from e


# --------------------------------------------------------------------------------------------
# Coding core
# --------------------------------------------------------------------------------------------


def _group_order(indexes: np.ndarray, num_tables: int) -> np.ndarray:
    """Stable argsort of small non-negative ints (radix sort for 16-bit keys)."""
    key = indexes.astype(np.uint16 if num_tables <= 2**16 else np.int32, copy=False)
    return np.argsort(key, kind="stable")


def _split_escapes(values: np.ndarray, side: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Escape distances ``values`` (int64, >= 1) and sides to two (2, k) int32 arrays of
    (symbols, Uniform sizes): the headers (side, nbits) and the mantissa chunks."""
    nbits = np.frexp(values.astype(np.float64))[1].astype(np.int64) - 1  # exact for m < 2**53
    r = values - (np.int64(1) << nbits)
    header = np.stack([side.astype(np.int64), nbits], axis=1).ravel()
    header_sizes = np.tile(np.array([2, _NBITS_SIZE], np.int64), values.size)
    lo_bits = np.minimum(nbits, 16)
    hi_bits = np.maximum(nbits - 16, 0)
    chunks = np.stack([r & ((np.int64(1) << lo_bits) - 1), r >> 16], axis=1).ravel()
    chunk_sizes = np.stack([np.int64(1) << lo_bits, np.int64(1) << hi_bits], axis=1).ravel()
    keep = chunk_sizes > 1
    return (
        np.stack([header, header_sizes]).astype(np.int32),
        np.stack([chunks[keep], chunk_sizes[keep]]).astype(np.int32),
    )


def _push_sorted(
    coder: Any, sym: np.ndarray, groups: list[tuple[int, int, int]], tables: _IntTables
) -> None:
    """Push ``sym`` (int32, grouped; ``groups`` = (table, start, stop) in decode order) onto
    the ANS stack: the decoder pops the bins group by group, then the escapes' headers, then
    their mantissas."""
    coded: list[tuple[Any, np.ndarray]] = []
    esc_vals: list[np.ndarray] = []
    esc_side: list[np.ndarray] = []
    for t, a, b in groups:
        seg = sym[a:b]
        lo = int(tables.offset[t])
        hi = lo + int(tables.length[t]) - 2
        above = seg > hi
        below = seg < lo
        bins = np.subtract(seg, np.int32(lo), dtype=np.int32)  # wraps only where escaped
        esc = above | below
        if esc.any():
            bins[esc] = hi - lo + 1
            e = seg[esc].astype(np.int64)
            esc_vals.append(np.where(above[esc], e - hi, lo - e))
            esc_side.append(below[esc])
        coded.append((tables.model(t), bins))
    if esc_vals:
        header, chunks = _split_escapes(np.concatenate(esc_vals), np.concatenate(esc_side))
        if chunks.shape[1]:
            coder.encode_reverse(chunks[0], _Uniform(), chunks[1])
        coder.encode_reverse(header[0], _Uniform(), header[1])
    for model, bins in reversed(coded):
        coder.encode_reverse(bins, model)


def _encode_sorted(
    sym: np.ndarray, groups: list[tuple[int, int, int]], tables: _IntTables
) -> bytes:
    """Code ``sym`` (int32, grouped) where ``groups`` = (table, start, stop) in decode order."""
    coder = _AnsCoder()
    coder.encode_reverse(np.array([1], dtype=np.int32), _sentinel())
    coder.encode_reverse(np.array([_digest(sym)], dtype=np.int32), _Uniform(2**16))
    _push_sorted(coder, sym, groups, tables)
    return coder.get_compressed().astype("<u4").tobytes()


def _run_decoder(fn: Callable[[], Any], what: str) -> Any:
    """Run a constriction call; any failure (incl. a Rust panic) becomes ZVC69FormatError."""
    try:
        return fn()
    except BaseException as e:  # pyo3's PanicException derives from BaseException
        if isinstance(e, (KeyboardInterrupt, SystemExit, GeneratorExit)):
            raise
        raise ZVC69FormatError(f"entropy decoder: {what}: {e}") from e


def _open_stream(data: bytes, n: int) -> Any:
    """An ANS decoder over ``data`` that is to yield ``n`` symbols (None: no symbols)."""
    if n == 0:
        if len(data):
            raise ZVC69FormatError(f"entropy stream: {len(data)} bytes for zero symbols")
        return None
    if len(data) == 0:
        raise ZVC69FormatError(f"entropy stream is empty but {n} symbols are expected")
    if len(data) % 4:
        raise ZVC69FormatError(f"entropy stream length {len(data)} is not a multiple of 4")
    words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
    return _run_decoder(lambda: _AnsCoder(words), "invalid stream")


def _pop_sorted(
    coder: Any, groups: list[tuple[int, int, int]], n: int, tables: _IntTables
) -> np.ndarray:
    """Inverse of ``_push_sorted``: the grouped int32 values."""
    out = np.empty(n, dtype=np.int32)
    esc_pos: list[np.ndarray] = []
    esc_lo: list[np.ndarray] = []
    esc_hi: list[np.ndarray] = []
    for t, a, b in groups:
        model = tables.model(t)
        bins = _run_decoder(lambda m=model, k=b - a: coder.decode(m, k), "symbols")
        lo = int(tables.offset[t])
        esc_bin = int(tables.length[t]) - 1
        esc = bins == esc_bin
        np.add(bins, np.int32(lo), out=out[a:b], casting="unsafe")
        if esc.any():
            pos = np.flatnonzero(esc) + a
            esc_pos.append(pos)
            esc_lo.append(np.full(pos.size, lo, np.int64))
            esc_hi.append(np.full(pos.size, lo + esc_bin - 1, np.int64))
    if esc_pos:
        pos = np.concatenate(esc_pos)
        e = pos.size
        sizes = np.tile(np.array([2, _NBITS_SIZE], np.int32), e)
        header = _run_decoder(lambda: coder.decode(_Uniform(), sizes), "escape headers")
        side = header[0::2].astype(np.int64)
        nbits = header[1::2].astype(np.int64)
        lo_bits = np.minimum(nbits, 16)
        hi_bits = np.maximum(nbits - 16, 0)
        chunk_sizes = np.stack([np.int64(1) << lo_bits, np.int64(1) << hi_bits], axis=1).ravel()
        keep = chunk_sizes > 1
        chunks = np.zeros(2 * e, np.int64)
        if keep.any():
            sz = chunk_sizes[keep].astype(np.int32)
            chunks[keep] = _run_decoder(lambda: coder.decode(_Uniform(), sz), "escape values")
        chunks = chunks.reshape(e, 2)
        m = (np.int64(1) << nbits) + chunks[:, 0] + (chunks[:, 1] << 16)
        values = np.where(side == 1, np.concatenate(esc_lo) - m, np.concatenate(esc_hi) + m)
        if values.min() < _INT32_MIN or values.max() > _INT32_MAX:
            raise ZVC69FormatError("entropy stream: escaped value outside int32")
        out[pos] = values
    return out


def _close_stream(coder: Any, values: np.ndarray) -> None:
    """Check the stream's check value against the decoded ``values`` and its end marker."""
    check = _run_decoder(lambda: coder.decode(_Uniform(2**16), 1), "check value")
    end = _run_decoder(lambda: coder.decode(_sentinel(), 1), "end marker")
    if int(check[0]) != _digest(values):
        raise ZVC69FormatError(
            "entropy stream check value mismatch (damaged, truncated or wrong tables)"
        )
    if int(end[0]) != 1 or not coder.is_empty():
        raise ZVC69FormatError("entropy stream is truncated, damaged or has trailing data")


def _decode_sorted(
    data: bytes, groups: list[tuple[int, int, int]], n: int, tables: _IntTables
) -> np.ndarray:
    """Inverse of ``_encode_sorted``: the grouped int32 values."""
    coder = _open_stream(data, n)
    if coder is None:
        return np.zeros(0, dtype=np.int32)
    out = _pop_sorted(coder, groups, n, tables)
    _close_stream(coder, out)
    return out


def _groups_from_counts(counts: np.ndarray) -> list[tuple[int, int, int]]:
    stops = np.cumsum(counts)
    return [(int(t), int(stops[t] - counts[t]), int(stops[t])) for t in np.flatnonzero(counts)]


def _check_symbols(symbols: Any) -> np.ndarray:
    """Symbols as a C-contiguous int32 array; raises ValueError if they are not int32 values."""
    arr = np.asarray(symbols)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"symbols must be integers, got {arr.dtype}")
    if arr.size and arr.dtype != np.int32:
        if arr.min() < _INT32_MIN or arr.max() > _INT32_MAX:
            raise ValueError("symbols must fit int32")
    return np.asarray(arr, dtype=np.int32, order="C")  # keeps 0-d shapes


def _check_indexes(indexes: Any, num_tables: int, shape: tuple[int, ...] | None) -> np.ndarray:
    """Validated flat int64 indexes; raises ValueError."""
    idx = np.asarray(indexes)
    if shape is not None and idx.shape != shape:
        raise ValueError(f"indexes shape {idx.shape} differs from symbols shape {shape}")
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"indexes must be integers, got {idx.dtype}")
    flat = idx.reshape(-1).astype(np.int64, copy=False)
    if flat.size and (flat.min() < 0 or flat.max() >= num_tables):
        bad = flat[(flat < 0) | (flat >= num_tables)][0]
        raise ValueError(f"table index {int(bad)} out of range [0, {num_tables})")
    return flat


# --------------------------------------------------------------------------------------------
# Gaussian (indexed) coder
# --------------------------------------------------------------------------------------------


def encode_gaussian(symbols: np.ndarray, indexes: np.ndarray, tables: GaussianTables) -> bytes:
    """Code int32 ``symbols`` (any shape), each with the table row ``indexes`` (same shape).

    Symbols are grouped by index (ascending), raster order within a group.  Raises ValueError
    for bad input (non-integers, shape mismatch, index out of range).
    """
    sym = _check_symbols(symbols)
    idx = _check_indexes(indexes, tables.num_tables, sym.shape)
    if sym.size == 0:
        return b""
    order = _group_order(idx, tables.num_tables)
    counts = np.bincount(idx, minlength=tables.num_tables)
    return _encode_sorted(sym.reshape(-1)[order], _groups_from_counts(counts), tables)


def decode_gaussian(data: bytes, indexes: np.ndarray, tables: GaussianTables) -> np.ndarray:
    """Inverse of ``encode_gaussian``: int32 array of ``indexes``' shape.

    Bad data or indexes out of range raise ZVC69FormatError.
    """
    idx_arr = np.asarray(indexes)
    try:
        idx = _check_indexes(idx_arr, tables.num_tables, None)
    except ValueError as e:
        raise ZVC69FormatError(f"entropy decoder: {e}") from e
    order = _group_order(idx, tables.num_tables)
    counts = np.bincount(idx, minlength=tables.num_tables)
    grouped = _decode_sorted(bytes(data), _groups_from_counts(counts), idx.size, tables)
    out = np.empty(idx.size, dtype=np.int32)
    out[order] = grouped
    return out.reshape(idx_arr.shape)


def encode_gaussian_chunks(chunks: Sequence[tuple[np.ndarray, np.ndarray]],
                           tables: GaussianTables) -> bytes:
    """Code a sequence of (symbols, indexes) chunks in one stream that `GaussianChunkDecoder`
    reads back chunk by chunk, so that a chunk's indexes may depend on the symbols of the
    chunks before it (context modelling). Each chunk is laid out as `encode_gaussian`'s
    symbols; one check value and end marker close the stream. b"" when there are no symbols."""
    prepared = []
    for symbols, indexes in chunks:
        sym = _check_symbols(symbols)
        idx = _check_indexes(indexes, tables.num_tables, sym.shape)
        order = _group_order(idx, tables.num_tables)
        counts = np.bincount(idx, minlength=tables.num_tables)
        prepared.append((sym.reshape(-1)[order], _groups_from_counts(counts)))
    every = np.concatenate([s for s, _ in prepared]) if prepared else np.zeros(0, np.int32)
    if every.size == 0:
        return b""
    coder = _AnsCoder()
    coder.encode_reverse(np.array([1], dtype=np.int32), _sentinel())
    coder.encode_reverse(np.array([_digest(every)], dtype=np.int32), _Uniform(2**16))
    for sym, groups in reversed(prepared):
        _push_sorted(coder, sym, groups, tables)
    return coder.get_compressed().astype("<u4").tobytes()


class GaussianChunkDecoder:
    """Reads an `encode_gaussian_chunks` stream: `decode(indexes)` per chunk, then `finish()`.

    ``total`` is the number of symbols in all chunks together (it tells an empty stream from
    a damaged one). Bad data raise ZVC69FormatError."""

    def __init__(self, data: bytes, total: int, tables: GaussianTables) -> None:
        self.tables = tables
        self.total = total
        self._coder = _open_stream(bytes(data), total)
        self._parts: list[np.ndarray] = []
        self._done = 0

    def decode(self, indexes: np.ndarray) -> np.ndarray:
        """The next chunk's symbols (int32, ``indexes``' shape)."""
        idx_arr = np.asarray(indexes)
        try:
            idx = _check_indexes(idx_arr, self.tables.num_tables, None)
        except ValueError as e:
            raise ZVC69FormatError(f"entropy decoder: {e}") from e
        if self._done + idx.size > self.total:
            raise ZVC69FormatError("entropy decoder: more symbols asked for than coded")
        out = np.empty(idx.size, dtype=np.int32)
        if idx.size:
            order = _group_order(idx, self.tables.num_tables)
            counts = np.bincount(idx, minlength=self.tables.num_tables)
            grouped = _pop_sorted(self._coder, _groups_from_counts(counts), idx.size,
                                  self.tables)
            self._parts.append(grouped)
            out[order] = grouped
        self._done += idx.size
        return out.reshape(idx_arr.shape)

    def finish(self) -> None:
        """Check that every symbol was read and the stream ends here."""
        if self._done != self.total:
            raise ZVC69FormatError(f"entropy decoder: {self._done} of {self.total} symbols read")
        if self._coder is not None:
            _close_stream(self._coder, np.concatenate(self._parts))


_LUT_REACH = 64  # symbols -64..64 are looked up in a table of their bits (`_information_bits`)


def _bits_lut(tables: _IntTables) -> np.ndarray:
    """Cached (S, 2 * _LUT_REACH + 1) float32: `_information_bits_exact` of every symbol in
    -_LUT_REACH.._LUT_REACH under every table."""
    lut = tables._cache.get("bits_lut")
    if lut is None:
        n = tables.pmf.shape[0]
        vals = np.arange(-_LUT_REACH, _LUT_REACH + 1)
        lut = _information_bits_exact(np.tile(vals, n), np.repeat(np.arange(n), len(vals)),
                                      tables).reshape(n, len(vals))
        lut.flags.writeable = False
        tables._cache["bits_lut"] = lut
    return lut


def _information_bits(sym: np.ndarray, idx: np.ndarray, tables: _IntTables) -> np.ndarray:
    """-log2 p per symbol (flat), escapes included (bin + side + nbits + mantissa bits): from
    a table for the usual small symbols, the same values `_information_bits_exact` gives."""
    s = sym.reshape(-1)
    i = idx.reshape(-1)
    if s.size < 4096:
        return _information_bits_exact(s, i, tables)
    far = np.abs(s) > _LUT_REACH
    out = _bits_lut(tables)[i, np.clip(s, -_LUT_REACH, _LUT_REACH) + _LUT_REACH]
    if far.any():
        out[far] = _information_bits_exact(s[far], i[far], tables)
    return out


def _information_bits_exact(sym: np.ndarray, idx: np.ndarray, tables: _IntTables
                            ) -> np.ndarray:
    """`_information_bits`, computed from the tables for every symbol."""
    s = sym.reshape(-1).astype(np.int64)
    lo = tables.offset.astype(np.int64)[idx]
    esc_bin = tables.length.astype(np.int64)[idx] - 1
    bins = s - lo
    below = bins < 0
    above = bins >= esc_bin
    esc = below | above
    m = np.where(below, -bins, bins - esc_bin + 1)[esc]  # distance outside the support
    bins[esc] = esc_bin[esc]
    bits = tables.precision - tables.log2_pmf()[idx, bins]
    if esc.any():
        nbits = np.frexp(m.astype(np.float64))[1] - 1
        bits[esc] += _ESCAPE_BITS_FIXED + nbits
    return bits.astype(np.float32)


def information_bits_gaussian(
    symbols: np.ndarray, indexes: np.ndarray, tables: GaussianTables
) -> np.ndarray:
    """-log2 p of each symbol in bits (float32, symbols' shape), escape payload included."""
    sym = _check_symbols(symbols)
    idx = _check_indexes(indexes, tables.num_tables, sym.shape)
    return _information_bits(sym, idx, tables).reshape(sym.shape)


# --------------------------------------------------------------------------------------------
# Factorized (per-channel) coder
# --------------------------------------------------------------------------------------------


def _check_chw(shape: tuple[int, ...], tables: FactorizedTables) -> None:
    if len(shape) != 3 or shape[0] != tables.num_tables or min(shape) < 0:
        raise ValueError(f"shape {shape} is not (C={tables.num_tables}, H, W)")


def _channel_groups(shape: tuple[int, ...]) -> list[tuple[int, int, int]]:
    hw = int(shape[1]) * int(shape[2])
    return [(c, c * hw, (c + 1) * hw) for c in range(int(shape[0]))] if hw else []


def encode_factorized(symbols: np.ndarray, tables: FactorizedTables) -> bytes:
    """Code int32 ``symbols`` (C, H, W), channel c with table row c (channel order, raster)."""
    sym = _check_symbols(symbols)
    _check_chw(sym.shape, tables)
    if sym.size == 0:
        return b""
    return _encode_sorted(sym.reshape(-1), _channel_groups(sym.shape), tables)


def decode_factorized(
    data: bytes, shape: tuple[int, int, int], tables: FactorizedTables
) -> np.ndarray:
    """Inverse of ``encode_factorized``; a shape that does not fit the tables raises
    ZVC69FormatError, as does bad data."""
    dims = tuple(int(v) for v in shape)
    try:
        _check_chw(dims, tables)
    except ValueError as e:
        raise ZVC69FormatError(f"entropy decoder: {e}") from e
    n = dims[0] * dims[1] * dims[2]
    return _decode_sorted(bytes(data), _channel_groups(dims), n, tables).reshape(dims)


def information_bits_factorized(symbols: np.ndarray, tables: FactorizedTables) -> np.ndarray:
    """-log2 p of each symbol of (C, H, W) ``symbols`` (float32, same shape)."""
    sym = _check_symbols(symbols)
    _check_chw(sym.shape, tables)
    idx = np.repeat(np.arange(sym.shape[0], dtype=np.int64), sym.shape[1] * sym.shape[2])
    return _information_bits(sym, idx, tables).reshape(sym.shape)


# --------------------------------------------------------------------------------------------
# Thin object API (names used in docs/DESIGN.md)
# --------------------------------------------------------------------------------------------


class GaussianCoder:
    """``encode_gaussian`` / ``decode_gaussian`` / ``information_bits_gaussian`` bound to
    tables."""

    def __init__(self, tables: GaussianTables) -> None:
        self.tables = tables

    def encode(self, symbols: np.ndarray, indexes: np.ndarray) -> bytes:
        """See ``encode_gaussian``."""
        return encode_gaussian(symbols, indexes, self.tables)

    def decode(self, data: bytes, indexes: np.ndarray) -> np.ndarray:
        """See ``decode_gaussian``."""
        return decode_gaussian(data, indexes, self.tables)

    def bits(self, symbols: np.ndarray, indexes: np.ndarray) -> np.ndarray:
        """See ``information_bits_gaussian``."""
        return information_bits_gaussian(symbols, indexes, self.tables)


class FactorizedCoder:
    """``encode_factorized`` / ``decode_factorized`` / ``information_bits_factorized`` bound to
    tables."""

    def __init__(self, tables: FactorizedTables) -> None:
        self.tables = tables

    def encode(self, symbols: np.ndarray) -> bytes:
        """See ``encode_factorized``."""
        return encode_factorized(symbols, self.tables)

    def decode(self, data: bytes, shape: tuple[int, int, int]) -> np.ndarray:
        """See ``decode_factorized``."""
        return decode_factorized(data, shape, self.tables)

    def bits(self, symbols: np.ndarray) -> np.ndarray:
        """See ``information_bits_factorized``."""
        return information_bits_factorized(symbols, self.tables)
