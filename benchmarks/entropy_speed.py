"""Entropy coder speed: grouped integer-table Gaussian coder vs constriction per-symbol models.

Usage: python benchmarks/entropy_speed.py [--n 1000000] [--repeats 3] [--seed 0]

Symbols are zero-mean Gaussians whose scales are drawn log-uniformly over the default scale
table; both coders see the same scales (the table scale of each symbol's index).  Timings are
the best of ``--repeats`` runs, in ns per symbol; the grouped coder's one-time model build (the
per-table constriction Categorical cache) is reported separately.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import constriction
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codec import entropy  # noqa: E402


def _best(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Best wall time of ``repeats`` calls (seconds) and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="symbols")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    n = args.n

    t0 = time.perf_counter()
    tables = entropy.build_gaussian_tables(entropy.default_scale_table())
    t_build = time.perf_counter() - t0
    assert tables.scales is not None
    rng = np.random.default_rng(args.seed)
    lo, hi = np.log(tables.scales[0]), np.log(tables.scales[-1])
    idx = entropy.scale_to_index(np.exp(rng.uniform(lo, hi, n)), tables.scales)
    std = tables.scales[idx]
    sym = np.round(rng.normal(size=n) * std).astype(np.int32)

    t0 = time.perf_counter()
    for i in range(tables.num_tables):
        tables.model(i)
    t_models = time.perf_counter() - t0

    t_enc, data = _best(lambda: entropy.encode_gaussian(sym, idx, tables), args.repeats)
    t_dec, out = _best(lambda: entropy.decode_gaussian(data, idx, tables), args.repeats)
    if not np.array_equal(out, sym):
        raise SystemExit("grouped coder round trip failed")
    info = float(entropy.information_bits_gaussian(sym, idx, tables).astype(np.float64).sum())

    # Baseline: constriction's per-symbol QuantizedGaussian family over one fixed range.
    r = int(-tables.offset.min())
    base_sym = np.clip(sym, -r, r)
    model = constriction.stream.model.QuantizedGaussian(-r, r)
    means = np.zeros(n, np.float64)

    def base_encode() -> np.ndarray:
        coder = constriction.stream.stack.AnsCoder()
        coder.encode_reverse(base_sym, model, means, std)
        return coder.get_compressed()

    t_benc, words = _best(base_encode, args.repeats)
    t_bdec, bout = _best(
        lambda: constriction.stream.stack.AnsCoder(words).decode(model, means, std),
        args.repeats,
    )
    if not np.array_equal(bout, base_sym):
        raise SystemExit("baseline round trip failed")

    ns = 1e9 / n
    rows = [
        ("grouped integer tables", t_enc * ns, t_dec * ns, 8 * len(data) / n),
        ("per-symbol QuantizedGaussian", t_benc * ns, t_bdec * ns, 32 * words.size / n),
    ]
    print(f"{n} symbols, {tables.num_tables} tables, best of {args.repeats}")
    print(f"table build {t_build * 1e3:.1f} ms, constriction model cache {t_models * 1e3:.1f} ms")
    print(f"information content {info / n:.4f} bits/symbol")
    print(f"{'coder':<30} {'enc ns/sym':>11} {'dec ns/sym':>11} {'bits/sym':>9}")
    for name, e, d, b in rows:
        print(f"{name:<30} {e:>11.1f} {d:>11.1f} {b:>9.4f}")
    print(
        f"{'speed-up (baseline / grouped)':<30} {t_benc / t_enc:>10.2f}x {t_bdec / t_dec:>10.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
