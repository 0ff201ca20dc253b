"""Motion-vector entropy coding: median prediction plus an integer-table ANS model.

Vectors are coded in integer units of 1/precision pel. Each is predicted from its causal
neighbours (`median_predictor`, H.264 style) and the differences are ANS-coded with
constriction, x components then y components, each with its own two-parameter model.

Stream layout (all integers little-endian)::

    mode      u8   0: every vector is zero (nothing follows), 1: coded
    zx tx     u8   x model: zero level and tail decay (see `_pmf`)
    zy ty     u8   y model
    n_esc     LEB128 byte length of the escape section
    escapes   n_esc bytes: zigzag LEB128 values of the differences coded as ESC, x then y
    ans       the rest: uint32 ANS words

The model is a symbol table over differences -K..K plus ESC, built from the two header bytes
with integer arithmetic only: a geometric tail w(|d|) = 2**20 * (t/256)**(|d|-1) (floored per
step), ESC weighted like the tail beyond K, and zero given a share 1 - 2**(-z/16) of the mass.
The integer weights convert to float64 exactly, so encoder and decoder hand constriction
identical tables on every machine.

Mode 2 (format 7.0 on) adds contexts and compact escapes; the encoder writes whichever of
modes 1 and 2 is shorter::

    mode      u8   2
    f0..f3    u8   probability (f/256) that a block's difference is not zero, by context: how
                   many of its top-left, top and top-right neighbours have one (0..3)
    zx tx     u8   model of x differences of the blocks with a non-zero difference
    zy ty     u8   model of their y differences where x is not zero
    z0 t0     u8   model of their y differences where x is zero (y is not zero there)
    ans       the rest: uint32 ANS words

Decoding order: the non-zero flags row by row (a row's contexts come from the row above, so
each row is one vectorised call), then x symbols, y symbols where x != 0, y symbols where
x == 0 (raster order each), then the escapes in the order of their ESC symbols: every
escape's bucket b (a fixed table, `_BUCKET_W`), then its sign and the b low bits of
|d| - K, in chunks of at most 16 bits (an Exp-Golomb code, about 8 bits where mode 1's
zigzag bytes take 16), and last a 16-bit check of the differences (`_digest`), so a damaged
payload is refused rather than decoded to other vectors.
"""

from __future__ import annotations

from functools import lru_cache

import constriction
import numpy as np

from codec.errors import ZVC69FormatError
from codec.varint import pack_uvarint, read_uvarint

K = 30  # differences in -K..K are coded directly, larger ones escape
_ESC = 2 * K + 1
_NSYM = 2 * K + 2
_MAX_UNITS = 1 << 24  # largest |vector| in 1/precision units that the format carries
# Mode 2 escape buckets b = floor(log2(|d| - K)), 0..24 (|d| < 2**25): peaked at 6, where
# outliers of a 16-64 pixel quarter-pel search fall.
_BUCKET_W = np.array([2, 4, 6, 10, 16, 20, 24, 8, 4, 2] + [1] * 15, dtype=np.float64)
_CHUNK = 16  # largest number of raw bits coded as one uniform symbol
_POW2_16 = (65536, 68438, 71468, 74632, 77936, 81386, 84990, 88752, 92682, 96785, 101070, 105545,
            110218, 115098, 120194, 125515)  # round(65536 * 2 ** (i / 16))  # fmt: skip


def median_predictor(mv: np.ndarray) -> np.ndarray:
    """Causal median predictor of every vector of a (rows, cols, 2) field (any numeric dtype).

    Row 0 predicts from the left neighbour (zero for the first block). Below it: the median of
    left (top in column 0), top and top-right (top-left in the last column, top if cols == 1).
    """
    rows, cols = mv.shape[:2]
    pred = np.zeros_like(mv)
    pred[0, 1:] = mv[0, :-1]
    if rows > 1:
        top = mv[:-1]
        left = np.empty_like(top)
        left[:, 1:] = mv[1:, :-1]
        left[:, 0] = top[:, 0]
        tr = np.empty_like(top)
        tr[:, :-1] = top[:, 1:]
        tr[:, -1] = top[:, -2] if cols > 1 else top[:, -1]
        lo = np.minimum(left, top)
        hi = np.maximum(left, top)
        pred[1:] = np.maximum(lo, np.minimum(hi, tr))
    return pred


@lru_cache(maxsize=512)
def _pmf(z: int, t: int) -> np.ndarray:
    """Integer symbol weights (as exact float64) for header bytes z (zero level), t (decay)."""
    w = [1 << 20]
    for _ in range(K - 1):
        w.append(max(1, (w[-1] * t) >> 8))
    esc = max(1, (w[-1] * t) // (256 - t))
    tail = 2 * sum(w) + esc
    zero = max(1, (tail * (_POW2_16[z % 16] << (z // 16)) >> 16) - tail)
    table = w[::-1] + [zero] + w + [esc]
    return np.array(table, dtype=np.float64)


@lru_cache(maxsize=512)
def _model(z: int, t: int) -> constriction.stream.model.Categorical:
    return constriction.stream.model.Categorical(_pmf(z, t), perfect=False)


def _fit(sym: np.ndarray) -> tuple[int, int]:
    """Header bytes (z, t) that minimise the coded size of symbols `sym` (approximately)."""
    hist = np.bincount(sym, minlength=_NSYM).astype(np.float64)
    n = hist.sum()
    nonzero = n - hist[K]
    if nonzero == 0:
        return 255, 0
    z = int(np.clip(np.rint(-16 * np.log2(nonzero / n)), 0, 255))
    best, best_t = np.inf, 0
    for t in range(0, 256, 3):
        p = _pmf(z, t)
        bits = -(hist * np.log2(p / p.sum())).sum()
        if bits < best:
            best, best_t = bits, t
    return z, best_t


def _decode_escapes(buf: bytes, offset: int) -> np.ndarray:
    """All zigzag LEB128 values (each at most 5 bytes) in buf, vectorised."""
    b = np.frombuffer(buf, dtype=np.uint8).astype(np.int64)
    if b.size == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.flatnonzero(b < 0x80)
    if ends.size == 0 or ends[-1] != b.size - 1:
        raise ZVC69FormatError("motion-vector escape section ends inside a value", offset)
    starts = np.concatenate(([0], ends[:-1] + 1))
    if (ends - starts).max() > 4:
        raise ZVC69FormatError("motion-vector escape value is too long", offset)
    pos = np.arange(b.size) - np.repeat(starts, ends - starts + 1)
    z = np.add.reduceat((b & 0x7F) << (7 * pos), starts)
    return (z >> 1) ^ -(z & 1)


def encode_mvs(mv: np.ndarray, precision: int = 4, contexts: bool = True) -> bytes:
    """Code a (rows, cols, 2) float32 field in pixels, rounded to multiples of 1/precision.

    contexts=False restricts the encoder to modes 0 and 1 (readers of format 6 and older).
    """
    if mv.ndim != 3 or mv.shape[2] != 2 or mv.shape[0] < 1 or mv.shape[1] < 1:
        raise ValueError(f"expected a (rows, cols, 2) field, got shape {mv.shape}")
    if precision < 1:
        raise ValueError(f"precision must be >= 1, got {precision}")
    if not np.isfinite(mv).all():
        raise ValueError("motion vectors must be finite")
    q = np.rint(mv.astype(np.float64) * precision)
    if np.abs(q).max() >= _MAX_UNITS:
        raise ValueError(f"motion vectors must stay below {_MAX_UNITS // precision} pixels")
    q = q.astype(np.int64)
    if not q.any():
        return b"\x00"
    d2 = q - median_predictor(q)
    plain = _encode_plain(d2.reshape(-1, 2))
    if not contexts:
        return plain
    ctx = _encode_contexts(d2)
    # mode 1 whose ANS words came out empty (every symbol the first of its table, as a lone
    # vector can be) reads as truncated: mode 2 ends with a check value, never empty
    return ctx if len(ctx) < len(plain) or _no_words(plain) else plain


def _no_words(plain: bytes) -> bool:
    """Whether a mode 1 payload has no ANS words (ends with its empty escape section)."""
    n_esc, pos = read_uvarint(plain, 5, "motion-vector escape length")
    return pos + n_esc == len(plain)


def _encode_plain(d: np.ndarray) -> bytes:
    """Mode 1: every difference (n, 2) with one model per component, LEB128 escapes."""
    coder = constriction.stream.stack.AnsCoder()
    header = bytearray([1])
    syms, escapes = [], []
    for comp in (0, 1):
        dc = d[:, comp]
        big = np.abs(dc) > K
        sym = _symbols(dc)
        syms.append(sym)
        escapes.extend(int(v) for v in (dc[big] << 1) ^ (dc[big] >> 63))
        header += bytes(_fit(sym))
    zx, tx, zy, ty = header[1:5]
    coder.encode_reverse(syms[1], _model(zy, ty))
    coder.encode_reverse(syms[0], _model(zx, tx))
    esc = b"".join(pack_uvarint(v) for v in escapes)
    words = coder.get_compressed().astype("<u4").tobytes()
    return bytes(header) + pack_uvarint(len(esc)) + esc + words


def _symbols(d: np.ndarray) -> np.ndarray:
    """Symbols of differences: d + K in the direct range, ESC beyond."""
    return np.where(np.abs(d) > K, _ESC, d + K).astype(np.int32)


def _row_contexts(above: np.ndarray) -> np.ndarray:
    """Contexts of the row(s) below `above` (..., cols) non-zero flags: how many of each
    block's top-left, top and top-right are set (0 outside)."""
    p = np.pad(above.astype(np.int32), [(0, 0)] * (above.ndim - 1) + [(1, 1)])
    return p[..., :-2] + p[..., 1:-1] + p[..., 2:]


def nonzero_contexts(nz: np.ndarray) -> np.ndarray:
    """Mode 2 context (0..3) of every block's non-zero flag in a (rows, cols) map: how many
    of its top-left, top and top-right neighbours are set."""
    ctx = np.zeros(nz.shape, dtype=np.int32)
    ctx[1:] = _row_contexts(nz[:-1])
    return ctx


@lru_cache(maxsize=1)
def _bucket_model() -> constriction.stream.model.Categorical:
    return constriction.stream.model.Categorical(_BUCKET_W, perfect=False)


_BERNOULLI = constriction.stream.model.Bernoulli(perfect=False)
_UNIFORM = constriction.stream.model.Uniform()


def _escape_parts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bucket, (sign + low bits) value and its bit count of escaped differences."""
    v = np.abs(values) - K  # >= 1, < 2**26: exact in float64
    b = np.frexp(v.astype(np.float64))[1].astype(np.int64) - 1  # floor(log2 v), exactly
    low = v - (np.int64(1) << b)
    return b, (low << 1) | (values < 0), b + 1


def push_escapes(coder: constriction.stream.stack.AnsCoder, esc: np.ndarray) -> None:
    """Push escaped differences (|d| > K) onto an ANS stack in mode 2's code (buckets first
    when decoded, then each one's low bits, then the high chunks)."""
    if not esc.size:
        return
    b, val, nbits = _escape_parts(esc)
    hi = nbits > _CHUNK
    if hi.any():
        coder.encode_reverse((val[hi] >> _CHUNK).astype(np.int32), _UNIFORM,
                             (np.int64(1) << (nbits[hi] - _CHUNK)).astype(np.int32))
    lo_bits = np.minimum(nbits, _CHUNK)
    coder.encode_reverse((val & ((np.int64(1) << lo_bits) - 1)).astype(np.int32), _UNIFORM,
                         (np.int64(1) << lo_bits).astype(np.int32))
    coder.encode_reverse(b.astype(np.int32), _bucket_model())


def pop_escapes(coder: constriction.stream.stack.AnsCoder, n: int) -> np.ndarray:
    """Inverse of `push_escapes`: the next n escaped differences (int64)."""
    b = coder.decode(_bucket_model(), n).astype(np.int64)
    nbits = b + 1
    lo_bits = np.minimum(nbits, _CHUNK)
    val = coder.decode(_UNIFORM, (np.int64(1) << lo_bits).astype(np.int32)).astype(np.int64)
    hi = nbits > _CHUNK
    if hi.any():
        top = coder.decode(_UNIFORM, (np.int64(1) << (nbits[hi] - _CHUNK)).astype(np.int32))
        val[hi] |= top.astype(np.int64) << _CHUNK
    mag = (np.int64(1) << b) + (val >> 1) + K
    return np.where(val & 1, -mag, mag)


def push_differences(coder: constriction.stream.stack.AnsCoder, dn: np.ndarray) -> bytes:
    """Push non-zero differences (n, 2) onto an ANS stack as mode 2 codes them (x symbols,
    y symbols where x != 0, where x == 0, then escapes, when decoded); returns the six
    header bytes of their three fitted models."""
    x0 = dn[:, 0] == 0
    groups = (dn[:, 0], dn[~x0, 1], dn[x0, 1])
    syms = [_symbols(g) for g in groups]
    fits = [_fit(s) for s in syms]
    push_escapes(coder, np.concatenate([g[np.abs(g) > K] for g in groups]))
    for sym, fit in zip(syms[::-1], fits[::-1], strict=True):
        if sym.size:
            coder.encode_reverse(sym, _model(*fit))
    return bytes(x for fit in fits for x in fit)


def pop_differences(coder: constriction.stream.stack.AnsCoder, m: int, fits: bytes,
                    pos: int) -> np.ndarray:
    """Inverse of `push_differences`: the next m non-zero differences (m, 2) int64, given
    the six header bytes; ZVC69FormatError (at byte `pos`) if one decodes as zero."""
    models = [_model(fits[2 * i], fits[2 * i + 1]) for i in range(3)]
    sx = coder.decode(models[0], m).astype(np.int64) - K
    x0 = sx == 0
    sy = np.zeros(m, dtype=np.int64)
    n1 = int((~x0).sum())
    if n1:
        sy[~x0] = coder.decode(models[1], n1).astype(np.int64) - K
    if m - n1:
        sy[x0] = coder.decode(models[2], m - n1).astype(np.int64) - K
    if (sy[x0] == 0).any():
        raise ZVC69FormatError("motion-vector difference flagged non-zero is zero", pos)
    esc_k = _ESC - K
    where = [np.flatnonzero(sx == esc_k), np.flatnonzero(~x0)[sy[~x0] == esc_k],
             np.flatnonzero(x0)[sy[x0] == esc_k]]
    n_esc = sum(w.size for w in where)
    if n_esc:
        parts = np.split(pop_escapes(coder, n_esc), np.cumsum([w.size for w in where])[:-1])
        sx[where[0]] = parts[0]
        sy[where[1]] = parts[1]
        sy[where[2]] = parts[2]
    return np.stack([sx, sy], axis=1)


def _digest(dn: np.ndarray) -> int:
    """16-bit check of the non-zero differences (n, 2), the last symbol of a mode 2 payload."""
    w = np.arange(1, 2 * dn.shape[0] + 1, dtype=np.int64) % 65521
    return int((np.sum((dn.ravel() % 65521) * w) + dn.shape[0]) % 65536)


def _encode_contexts(d2: np.ndarray) -> bytes:
    """Mode 2 of a (rows, cols, 2) difference field with at least one non-zero difference."""
    nz = (d2 != 0).any(-1)
    ctx = nonzero_contexts(nz)
    f = []
    for k in range(4):
        sel = nz[ctx == k]
        f.append(int(np.clip(np.rint(256 * sel.mean()), 1, 255)) if sel.size else 128)
    dn = d2[nz]
    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(np.array([_digest(dn)], dtype=np.int32), _UNIFORM,
                         np.array([1 << 16], dtype=np.int32))
    fits = push_differences(coder, dn)
    probs = np.array(f, dtype=np.float64)[ctx.ravel()] / 256.0
    coder.encode_reverse(nz.ravel().astype(np.int32), _BERNOULLI, probs)
    words = coder.get_compressed().astype("<u4").tobytes()
    return bytes([2, *f]) + fits + words


def _decode_contexts(data: bytes, rows: int, cols: int) -> np.ndarray:
    """Differences (rows * cols, 2) of a mode 2 payload; ZVC69FormatError if corrupt."""
    if len(data) < 11 + 4 or (len(data) - 11) % 4:
        raise ZVC69FormatError("motion-vector payload (mode 2) is truncated", len(data))
    f = np.array(list(data[1:5]), dtype=np.float64) / 256.0
    if (f == 0).any():
        raise ZVC69FormatError("motion-vector context probability is zero", 1)
    words = np.frombuffer(data[11:], dtype="<u4").astype(np.uint32)
    coder = constriction.stream.stack.AnsCoder(words)
    nz = np.zeros((rows, cols), dtype=bool)
    above = np.zeros(cols, dtype=bool)
    for r in range(rows):
        nz[r] = coder.decode(_BERNOULLI, f[_row_contexts(above)]) != 0
        above = nz[r]
    dn = pop_differences(coder, int(nz.sum()), data[5:11], 11)
    check = coder.decode(_UNIFORM, np.array([1 << 16], dtype=np.int32))[0]
    if check != _digest(dn) or not coder.is_empty():
        raise ZVC69FormatError("motion-vector payload (mode 2) fails its check", 11)
    d = np.zeros((rows * cols, 2), dtype=np.int64)
    d[nz.ravel()] = dn
    return d


@lru_cache(maxsize=16)
def _wavefront(rows: int, cols: int) -> list[tuple[np.ndarray, ...]]:
    """Groups of independent blocks (t = col + 2*row) with flat indices of their A, B, C."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    n = rows * cols
    zero = n  # index of an always-zero slot
    left = np.where(c > 0, r * cols + c - 1, zero)
    a = np.where((r > 0) & (c == 0), (r - 1) * cols, left)
    b = np.where(r > 0, (r - 1) * cols + c, left)
    tl = np.where(c > 0, (r - 1) * cols + c - 1, (r - 1) * cols + c)
    cc = np.where(r > 0, np.where(c < cols - 1, (r - 1) * cols + c + 1, tl), left)
    t = c + 2 * r
    order = np.argsort(t, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(t))))
    return [
        (order[s:e], a[order[s:e]], b[order[s:e]], cc[order[s:e]])
        for s, e in zip(bounds[:-1], bounds[1:], strict=True)
    ]


def _reconstruct(d: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Vectors from median-prediction differences d (n, 2), one wavefront at a time."""
    v = np.zeros((rows * cols + 1, 2), dtype=np.int64)
    for idx, a, b, c in _wavefront(rows, cols):
        va, vb, vc = v[a], v[b], v[c]
        med = np.maximum(np.minimum(va, vb), np.minimum(np.maximum(va, vb), vc))
        v[idx] = d[idx] + med
    return v[:-1].reshape(rows, cols, 2)


def decode_mvs(data: bytes, rows: int, cols: int, precision: int = 4,
               contexts: bool = True) -> np.ndarray:
    """Inverse of `encode_mvs`: (rows, cols, 2) float32 pixels; ZVC69FormatError if corrupt.

    contexts=False (streams of format 6 and older) refuses mode 2.
    """
    if rows < 1 or cols < 1 or precision < 1:
        raise ValueError(f"bad field geometry rows={rows} cols={cols} precision={precision}")
    if len(data) == 0:
        raise ZVC69FormatError("motion-vector payload is empty", 0)
    if data[0] == 0:
        if len(data) != 1:
            raise ZVC69FormatError("zero motion-vector field has trailing bytes", 1)
        return np.zeros((rows, cols, 2), dtype=np.float32)
    if data[0] == 2 and not contexts:
        raise ZVC69FormatError("motion-vector mode 2 in a stream of format 6 or older", 0)
    if data[0] == 2:
        try:
            d = _decode_contexts(data, rows, cols)
        except (ValueError, OverflowError) as exc:
            raise ZVC69FormatError(f"motion-vector ANS payload is invalid: {exc}", 11) from None
        return _vectors(d, rows, cols, precision, 11)
    if data[0] != 1:
        raise ZVC69FormatError(f"unknown motion-vector mode {data[0]}", 0)
    if len(data) < 6:
        raise ZVC69FormatError("motion-vector header is truncated", len(data))
    zx, tx, zy, ty = data[1:5]
    n_esc, pos = read_uvarint(data, 5, "motion-vector escape length")
    if pos + n_esc > len(data):
        raise ZVC69FormatError("motion-vector escape section is truncated", pos)
    esc = _decode_escapes(data[pos : pos + n_esc], pos)
    pos += n_esc
    if (len(data) - pos) % 4 or len(data) == pos:
        raise ZVC69FormatError("motion-vector ANS payload is empty or not whole words", pos)
    words = np.frombuffer(data[pos:], dtype="<u4").astype(np.uint32)
    n = rows * cols
    try:
        coder = constriction.stream.stack.AnsCoder(words)
        sx = coder.decode(_model(zx, tx), n)
        sy = coder.decode(_model(zy, ty), n)
    except ValueError as exc:
        raise ZVC69FormatError(f"motion-vector ANS payload is invalid: {exc}", pos) from None
    if not coder.is_empty():
        raise ZVC69FormatError("motion-vector ANS payload has data left over", pos)
    d = np.stack([sx, sy], axis=1).astype(np.int64) - K
    is_esc = d.T.ravel() == _ESC - K  # x components first, as written
    if int(is_esc.sum()) != esc.size:
        raise ZVC69FormatError("motion-vector escape count does not match the payload", pos)
    if esc.size:
        if (np.abs(esc) <= K).any():
            raise ZVC69FormatError("motion-vector escape value is in the direct range", pos)
        flat = d.T.copy().ravel()
        flat[is_esc] = esc
        d = flat.reshape(2, n).T
    return _vectors(d, rows, cols, precision, pos)


def field_from_differences(d: np.ndarray, precision: int) -> np.ndarray:
    """The (rows, cols, 2) float32 field in pixels whose median-prediction differences, in
    1/precision pel, are the integer field d; ZVC69FormatError if a vector is out of range."""
    rows, cols = d.shape[:2]
    return _vectors(d.reshape(-1, 2), rows, cols, precision, 0)


def differences(mv: np.ndarray, precision: int) -> np.ndarray:
    """Integer median-prediction differences, in 1/precision pel, of a field in pixels."""
    q = np.rint(mv.astype(np.float64) * precision).astype(np.int64)
    return q - median_predictor(q)


def _vectors(d: np.ndarray, rows: int, cols: int, precision: int, pos: int) -> np.ndarray:
    """Field in pixels from differences (n, 2); ZVC69FormatError if a vector is out of range."""
    if np.abs(d).max() >= 2 * _MAX_UNITS:
        raise ZVC69FormatError("decoded motion-vector difference is out of range", pos)
    v = _reconstruct(np.ascontiguousarray(d), rows, cols)
    if np.abs(v).max() >= _MAX_UNITS:
        raise ZVC69FormatError("decoded motion vector is out of range", pos)
    return (v.astype(np.float64) / precision).astype(np.float32)
