"""Motion estimation: hierarchical block matching on luma, vectorised over all blocks.

Algorithm (per P-frame, encoder only; the decoder never runs it):

1. Both frames are edge-padded to a multiple of ``block << (levels - 1)`` and reduced by 2x2
   box averaging into a pyramid. Level ``l`` uses blocks of ``max(block >> l, 4)`` pixels, so the
   block grids of neighbouring levels nest (1:1 or 2:1).
2. At the top level every integer offset within ``ceil(range / 2**top)`` is tried for all
   blocks at once: one shifted-reference slice, ``|diff|`` and block sums per offset. A
   preset's wide range (128-256 pixels: +-16 to +-32 offsets at 1/8 resolution) is searched
   by the encoder where fields within the range reach its edge (`codec.presets.needs_wide`).
   `estimate_motions` searches fields at several rate weights (the encoder's trials) on one
   pyramid and one set of these sums.
3. Going down, vectors are doubled and refined ``refine_iters`` times: candidate vectors
   (neighbour-median predictor, zero, the four neighbours' vectors and, on the first pass,
   the preset's number of most frequent vectors of the field), then a 3x3 integer step.
   Per-block reference windows are gathered with one fancy index into a sliding-window view.
4. At full resolution, half- and then quarter-pel refinement (per preset) with bilinear
   interpolation (cheaper than the prediction's cubic sampling), evaluated for all blocks at
   once; then two passes re-try the median predictor and zero against the final field, so
   blocks that match equally well anywhere (flat areas) take the cheapest vector.
5. Quarter-pel fields: one pass re-tests each vector's eight quarter-pel neighbours with the
   cubic sampling the prediction uses (`codec.warp`): bilinear interpolation smooths noise, so
   on noisy content it ranks half-pel positions too well.

Every decision minimises ``SAD + mv_lambda * bits`` per full-resolution block, where ``bits``
estimates the cost of coding ``mv - pred`` (``2 * log2(1 + |d|)`` per component, ``d`` in
quarter pels; ``pred`` is `codec.mvcoding.median_predictor` of the current field), so flat or
noisy areas settle on smooth, cheap-to-code (usually zero) vectors.

Block sums use BLAS matrix-vector products (by far the fastest row sum in NumPy), so costs may
differ in the last bits between BLAS builds; only the encoder runs this, and the decoder reads
the chosen vectors from the stream.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from codec.mvcoding import median_predictor
from codec.presets import Preset
from codec.warp import Sampler

# BT.601 luma weights (the same as JPEG/JFIF full-range Y), scaled from uint8 to [0, 1].
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32) / np.float32(255.0)

_MIN_BLOCK = 4  # smallest block side used at coarse pyramid levels
_CLEANUP_PASSES = 2  # final predictor/zero re-tests at full resolution
# Quarter-pel fields: each vector's eight quarter-pel neighbours re-tested with the prediction's
# own sampling (codec.warp, "cubic"; "" to skip). A/B, 17 / 9 / 12 frames, Q1/3/5/7, BD-rate Y:
# carphone -2.09, megamind -0.07, sintel -0.22, chaplin +0.16, vtest +0.30 % ("sharp8":
# carphone -2.64, megamind +0.34, sintel +1.05 %).
POLISH = "cubic"
POLISH_PASSES = 1


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma (0.299 R + 0.587 G + 0.114 B) of an (H, W, 3) RGB frame, float32 in [0, 1].

    uint8 input is scaled by 1/255; float input is taken to be in [0, 1] already.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) RGB, got shape {rgb.shape}")
    x = rgb.astype(np.float32)
    if rgb.dtype != np.uint8:
        x *= np.float32(255.0)
    w = _LUMA_WEIGHTS
    return x[..., 0] * w[0] + x[..., 1] * w[1] + x[..., 2] * w[2]


def highpass(y: np.ndarray, r: int) -> np.ndarray:
    """(H, W) image less its (2r + 1)^2 box mean around each pixel (edges replicated), float32:
    its structure without its brightness, for matching across fades and exposure changes."""
    p = np.pad(y.astype(np.float64), r + 1, mode="edge")
    c = p.cumsum(axis=0).cumsum(axis=1)
    k = 2 * r + 1
    box = c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
    return (y - box[: y.shape[0], : y.shape[1]] / (k * k)).astype(np.float32)


def _downsample2(img: np.ndarray) -> np.ndarray:
    """2x2 box average of an image with even sides."""
    return (img[0::2, 0::2] + img[1::2, 0::2] + img[0::2, 1::2] + img[1::2, 1::2]) * np.float32(
        0.25
    )


def _blocks(img: np.ndarray, b: int) -> np.ndarray:
    """(rows*b, cols*b) image -> contiguous (rows*cols, b, b) blocks in raster order."""
    rows, cols = img.shape[0] // b, img.shape[1] // b
    return np.ascontiguousarray(img.reshape(rows, b, cols, b).transpose(0, 2, 1, 3)).reshape(
        rows * cols, b, b
    )


class _Level:
    """One pyramid level: current-frame blocks, padded reference, block origins, rate weight."""

    def __init__(
        self, cur: np.ndarray, ref: np.ndarray, b: int, rng: int, shape: tuple[int, int],
        scale: int, lam: float,
    ) -> None:  # fmt: skip
        self.b, self.rng, self.scale = b, rng, scale
        self.rows, self.cols = shape
        self.img = np.ascontiguousarray(cur[: self.rows * b, : self.cols * b])
        self.cur = _blocks(self.img, b)
        self.pad = rng + 2
        self.refp = np.pad(ref, self.pad, mode="edge")
        yy, xx = np.meshgrid(np.arange(self.rows) * b, np.arange(self.cols) * b, indexing="ij")
        self.y0 = yy.ravel() + self.pad
        self.x0 = xx.ravel() + self.pad
        self.area = np.float32(b * b)
        self.ones = np.ones(b, dtype=np.float32)
        self.ones_area = np.full(b * b, 1 / self.area, dtype=np.float32)
        self.lam = np.float32(lam)

    def windows(self, mv: np.ndarray, radius: int) -> np.ndarray:
        """Reference windows of side b + 2*radius around each block's integer vector (dx, dy)."""
        size = self.b + 2 * radius
        view = sliding_window_view(self.refp, (size, size))
        return view[self.y0 + mv[:, 1] - radius, self.x0 + mv[:, 0] - radius]

    def sad(self, patches: np.ndarray, sel: np.ndarray | None = None) -> np.ndarray:
        """Mean absolute difference of (n, b, b) patches against the blocks (or blocks[sel])."""
        cur = self.cur if sel is None else self.cur[sel]
        d = patches - cur
        np.abs(d, out=d)
        return d.reshape(d.shape[0], -1) @ self.ones_area  # BLAS: the fastest row sum

    def rate(self, mv: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """lam * estimated bits of coding mv (level pixels) against pred, per block."""
        u = np.abs(mv - pred).astype(np.float32) * np.float32(4 * self.scale)  # quarter-pels
        bits = np.log2(np.float32(1) + u)
        return (np.float32(2) * self.lam) * (bits[:, 0] + bits[:, 1])


# Column-wise forms: NumPy reductions over an axis of length 2 are ~15x slower.
def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows of (n, 2) a that differ from b."""
    return (a[:, 0] != b[:, 0]) | (a[:, 1] != b[:, 1])


def _outside(v: np.ndarray, r: float) -> np.ndarray:
    """Rows of (n, 2) vectors with a component beyond +-r."""
    return (np.abs(v[:, 0]) > r) | (np.abs(v[:, 1]) > r)


def _exhaustive(lv: _Level, weights: tuple[float, ...] = (1.0,)) -> list[np.ndarray]:
    """Full search of all integer offsets within lv.rng, all blocks at once per offset; one
    field per rate-weight multiple in `weights` (the block SADs are shared)."""
    b, r, p, rows, cols = lv.b, lv.rng, lv.pad, lv.rows, lv.cols
    h, w = rows * b, cols * b
    offs = np.array([(dx, dy) for dy in range(-r, r + 1) for dx in range(-r, r + 1)], np.int32)
    offs = offs[np.argsort(np.abs(offs).sum(axis=1), kind="stable")]  # ties go to short vectors
    rates = [lv.rate(offs, np.zeros_like(offs)) * np.float32(m) for m in weights]
    best = [np.full((rows, cols), np.inf, dtype=np.float32) for _ in weights]
    arg = [np.zeros((rows, cols), dtype=np.int32) for _ in weights]
    diff = np.empty((h, w), dtype=np.float32)
    for k, (dx, dy) in enumerate(offs.tolist()):
        np.subtract(lv.refp[p + dy : p + dy + h, p + dx : p + dx + w], lv.img, out=diff)
        np.abs(diff, out=diff)
        row_sums = (diff.reshape(h * cols, b) @ lv.ones).reshape(rows, b, cols)
        sad = np.matmul(lv.ones, row_sums) / lv.area
        for j in range(len(weights)):
            cost = sad + rates[j][k]
            better = cost < best[j]
            best[j] = np.where(better, cost, best[j])
            arg[j][better] = k
    return [offs[a.ravel()] for a in arg]


def _neighbour_candidates(mv2: np.ndarray) -> list[np.ndarray]:
    """Left, right, top and bottom neighbours (edge-replicated) of a (rows, cols, 2) field."""
    p = np.pad(mv2, ((1, 1), (1, 1), (0, 0)), mode="edge")
    return [p[1:-1, :-2], p[1:-1, 2:], p[:-2, 1:-1], p[2:, 1:-1]]


def _popular(mv: np.ndarray, k: int, rng: int) -> list[np.ndarray]:
    """The k most frequent vectors of the field (n, 2) (components within +-rng), as fields."""
    if k <= 0:
        return []
    side = 2 * rng + 1
    m = np.clip(mv, -rng, rng) + rng
    counts = np.bincount(m[:, 1] * side + m[:, 0], minlength=side * side)
    top = np.argsort(-counts, kind="stable")[:k]
    top = top[counts[top] > 0]
    vecs = np.stack([top % side - rng, top // side - rng], axis=1).astype(mv.dtype)
    return [np.broadcast_to(v, mv.shape) for v in vecs]


def _try(lv: _Level, mv: np.ndarray, sad: np.ndarray, cost: np.ndarray, cand: np.ndarray,
         pred: np.ndarray) -> None:  # fmt: skip
    """Replace mv/sad/cost in place by candidate vectors where they are cheaper."""
    sel = np.flatnonzero(_differs(cand, mv))
    if sel.size == 0:
        return
    c = cand[sel]
    cs = lv.sad(_gather(lv, c, sel), sel)
    cc = cs + lv.rate(c, pred[sel])
    better = cc < cost[sel]
    idx = sel[better]
    mv[idx] = c[better]
    sad[idx] = cs[better]
    cost[idx] = cc[better]


def _refine(
    lv: _Level, mv: np.ndarray, iters: int, n_popular: int
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate tests plus 3x3 integer steps; returns (mv (n, 2) int32, SAD per block)."""
    rows, cols, b, r = lv.rows, lv.cols, lv.b, lv.rng
    mv = mv.copy()
    sad = lv.sad(_gather(lv, mv, np.arange(mv.shape[0])))
    for it in range(iters):
        mv2 = mv.reshape(rows, cols, 2)
        pred = median_predictor(mv2).reshape(-1, 2)
        cost = sad + lv.rate(mv, pred)
        cands = [pred, np.zeros_like(mv)]
        cands += [c.reshape(-1, 2) for c in _neighbour_candidates(mv2)]
        if it == 0:
            cands += _popular(mv, n_popular, r)
        for cand in cands:
            _try(lv, mv, sad, cost, cand, pred)
        win = lv.windows(mv, 1)
        step = np.zeros_like(mv)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if dx == 0 and dy == 0:
                    continue
                d = np.array([dx, dy], dtype=np.int32)
                cand = mv + d
                cs = lv.sad(win[:, 1 + dy : 1 + dy + b, 1 + dx : 1 + dx + b])
                cc = cs + lv.rate(cand, pred)
                cc[_outside(cand, r)] = np.inf
                better = cc < cost
                cost = np.where(better, cc, cost)
                sad = np.where(better, cs, sad)
                step[better] = d
        mv = mv + step
    return mv, sad


def _gather(lv: _Level, mv: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """b x b reference patches at integer vectors mv for the blocks listed in sel."""
    view = sliding_window_view(lv.refp, (lv.b, lv.b))
    return view[lv.y0[sel] + mv[:, 1], lv.x0[sel] + mv[:, 0]]


def _taps(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear weights of samples -1, 0, +1 for per-block offsets t in [-1, 1], shaped (n,1,1)."""
    t = t.astype(np.float32)[:, None, None]
    return np.maximum(-t, 0), 1 - np.abs(t), np.maximum(t, 0)


def _lerp3(a: np.ndarray, b: np.ndarray, c: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Bilinear sample between neighbouring arrays a (-1), b (0), c (+1) at offset t."""
    if isinstance(t, float):  # the same offset for every block
        if t == 0:
            return b
        return (a + b) * np.float32(0.5) if t == -0.5 else (b + c) * np.float32(0.5)
    wa, wb, wc = _taps(t)
    return a * wa + b * wb + c * wc


def _subpel(
    lv: _Level, mv: np.ndarray, sad: np.ndarray, subpel: int
) -> tuple[np.ndarray, np.ndarray]:
    """Half- then quarter-pel bilinear refinement around integer vectors: (float32 mv, SAD).

    Half-pel candidates share offsets across blocks; quarter-pel ones sit around each block's
    own half-pel winner. Horizontal interpolation is done once per column offset, vertical per
    candidate.
    """
    b = lv.b
    pred = median_predictor(mv.reshape(lv.rows, lv.cols, 2)).reshape(-1, 2).astype(np.float32)
    base = mv.astype(np.float32)
    frac = np.zeros_like(base)
    best = sad + lv.rate(base, pred)
    sad = sad.copy()
    win = lv.windows(mv, 1)
    cols = (win[:, :, 0:b], win[:, :, 1 : b + 1], win[:, :, 2 : b + 2])
    step = 0.5
    while step >= 1.0 / subpel:
        centre = frac.copy()
        for sx in (-1, 0, 1):
            tx = sx * step if step == 0.5 else centre[:, 0] + np.float32(sx * step)
            h = _lerp3(*cols, tx)
            rows = (h[:, 0:b], h[:, 1 : b + 1], h[:, 2 : b + 2])
            for sy in (-1, 0, 1):
                if sx == 0 and sy == 0:
                    continue
                ty = sy * step if step == 0.5 else centre[:, 1] + np.float32(sy * step)
                f = centre + np.array([sx * step, sy * step], dtype=np.float32)
                cs = lv.sad(_lerp3(*rows, ty))
                cc = cs + lv.rate(base + f, pred)
                cc[_outside(base + f, lv.rng)] = np.inf  # stay within the search range
                better = cc < best
                best = np.where(better, cc, best)
                sad = np.where(better, cs, sad)
                frac[better] = f[better]
        step /= 2
    return base + frac, sad


def _sample(lv: _Level, v: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """Bilinear b x b reference patches at float vectors v for the blocks listed in sel."""
    fl = np.floor(v)
    f = (v - fl).astype(np.float32)
    i = fl.astype(np.int64)
    view = sliding_window_view(lv.refp, (lv.b + 1, lv.b + 1))
    q = view[lv.y0[sel] + i[:, 1], lv.x0[sel] + i[:, 0]]
    fx, fy = f[:, 0, None, None], f[:, 1, None, None]
    h = q[:, :, :-1] + fx * (q[:, :, 1:] - q[:, :, :-1])
    return h[:, :-1] + fy * (h[:, 1:] - h[:, :-1])


def _cleanup(lv: _Level, mv: np.ndarray, sad: np.ndarray, passes: int) -> np.ndarray:
    """Re-try the median predictor and zero for every block against the final field.

    Refinement updates all blocks at once against predictors of the previous field; these
    passes let blocks whose match is equally good elsewhere (flat areas) fall in line.
    """
    cost = np.empty_like(sad)
    for _ in range(passes):
        pred = median_predictor(mv.reshape(lv.rows, lv.cols, 2)).reshape(-1, 2)
        cost = sad + lv.rate(mv, pred)
        changed = False
        for cand in (pred, np.zeros_like(mv)):
            sel = np.flatnonzero(_differs(cand, mv))
            if sel.size == 0:
                continue
            c = cand[sel]
            cs = lv.sad(_sample(lv, c, sel), sel)
            cc = cs + lv.rate(c, pred[sel])
            better = cc < cost[sel]
            idx = sel[better]
            mv[idx] = c[better]
            sad[idx] = cs[better]
            cost[idx] = cc[better]
            changed = changed or bool(idx.size)
        if not changed:
            break
    return mv


def estimate_motion(cur: np.ndarray, ref: np.ndarray, preset: Preset) -> np.ndarray:
    """Block motion field of `cur` against `ref` ((H, W) float32 luma in [0, 1], any size).

    Returns (ceil(H / block), ceil(W / block), 2) float32 vectors (dx, dy) in pixels, multiples
    of 1 / preset.subpel: the block at (x, y) is predicted from ref at (x + dx, y + dy).
    """
    return estimate_motions(cur, ref, preset, (1.0,))[0]


def estimate_motions(
    cur: np.ndarray, ref: np.ndarray, preset: Preset, weights: tuple[float, ...]
) -> list[np.ndarray]:
    """`estimate_motion` at each multiple in `weights` of preset.mv_lambda: one field each.

    The pyramid and the top level's exhaustive block SADs are computed once for all weights.
    """
    if cur.shape != ref.shape or cur.ndim != 2:
        raise ValueError(f"cur and ref must be equal (H, W) arrays, got {cur.shape}, {ref.shape}")
    h, w = cur.shape
    bsz, nlev = preset.block, preset.levels
    rows, cols = -(-h // bsz), -(-w // bsz)
    m = bsz << (nlev - 1)
    hp, wp = -(-h // m) * m, -(-w // m) * m
    pad = ((0, hp - h), (0, wp - w))
    curs = [np.pad(cur.astype(np.float32, copy=False), pad, mode="edge")]
    refs = [np.pad(ref.astype(np.float32, copy=False), pad, mode="edge")]
    for _ in range(1, nlev):
        curs.append(_downsample2(curs[-1]))
        refs.append(_downsample2(refs[-1]))
    levels = []
    for lev in range(nlev - 1, -1, -1):
        b = max(bsz >> lev, _MIN_BLOCK)
        rng = -(-preset.search_range // (1 << lev))
        shape = (rows, cols) if lev == 0 else (curs[lev].shape[0] // b, curs[lev].shape[1] // b)
        levels.append(_Level(curs[lev], refs[lev], b, rng, shape, 1 << lev, 0.0))
    lam0 = preset.mv_lambda / float(bsz * bsz)  # per pixel of a full-resolution block
    levels[0].lam = np.float32(lam0)
    top = _exhaustive(levels[0], weights)
    fields = []
    for j, mult in enumerate(weights):
        mv, sad = top[j], np.zeros(0, dtype=np.float32)
        prev: _Level | None = None
        for lv in levels:
            lv.lam = np.float32(lam0 * mult)
            if prev is not None:
                k = (prev.b * prev.scale) // (lv.b * lv.scale)  # 1 or 2 blocks per parent side
                up = mv.reshape(prev.rows, prev.cols, 2) * 2
                up = np.repeat(np.repeat(up, k, axis=0), k, axis=1)[: lv.rows, : lv.cols]
                mv = np.clip(up.reshape(-1, 2), -lv.rng, lv.rng).astype(np.int32)
            mv, sad = _refine(lv, mv, preset.refine_iters, preset.candidates)
            prev = lv
        lv = levels[-1]
        if preset.subpel > 1:
            out, sad = _subpel(lv, mv, sad, preset.subpel)
        else:
            out = mv.astype(np.float32)
        out = _cleanup(lv, out, sad, _CLEANUP_PASSES)
        if POLISH and preset.subpel == 4:
            out = _polish(lv, refs[0], out, POLISH, POLISH_PASSES)
        fields.append(out.reshape(rows, cols, 2))
    return fields


def _polish(lv: _Level, ref: np.ndarray, mv: np.ndarray, interp: str, passes: int
            ) -> np.ndarray:
    """Re-test each vector's eight quarter-pel neighbours with the sampling the prediction
    uses (codec.warp) instead of the search's bilinear one."""
    sampler = Sampler(ref[:, :, None], lv.b, interp)
    y0, x0 = lv.y0 - lv.pad, lv.x0 - lv.pad
    mv = mv.astype(np.float32)  # (a copy)
    for _ in range(passes):
        pred = median_predictor(mv.reshape(lv.rows, lv.cols, 2)).reshape(-1, 2)
        best = lv.sad(sampler.sample(y0, x0, mv)[..., 0]) + lv.rate(mv, pred)
        new = mv.copy()
        for dx in (-0.25, 0.0, 0.25):
            for dy in (-0.25, 0.0, 0.25):
                if dx == 0 and dy == 0:
                    continue
                cand = mv + np.float32([dx, dy])
                cost = lv.sad(sampler.sample(y0, x0, cand)[..., 0]) + lv.rate(cand, pred)
                cost[_outside(cand, lv.rng)] = np.inf
                better = cost < best
                best = np.where(better, cost, best)
                new[better] = cand[better]
        if np.array_equal(new, mv):
            break
        mv = new
    return mv
