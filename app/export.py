"""Exporting per-frame statistics (FrameStats.summary()) as CSV or JSON."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codec.stats import FrameStats


def stats_rows(stats: Sequence[FrameStats],
               psnr_source: dict[int, float] | None = None) -> list[dict[str, Any]]:
    """One summary dict per frame; `psnr_source` adds the PSNR measured against a source."""
    rows = []
    for s in stats:
        row = s.summary()
        if psnr_source is not None:
            row["psnr_source"] = psnr_source.get(s.index)
        rows.append(row)
    return rows


def _columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    cols: list[str] = []
    seen: set[str] = set()
    for row in rows:
        for key in row:
            if key not in seen:
                seen.add(key)
                cols.append(key)
    return cols


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def write_csv(path: str | Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Write rows with the union of their keys as columns (missing cells empty)."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=_columns(rows), restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return path


def write_json(path: str | Path, rows: Sequence[dict[str, Any]],
               meta: dict[str, Any] | None = None) -> Path:
    """Write {"stream": meta, "frames": rows} as indented JSON (inf/nan made JSON-safe)."""
    path = Path(path)
    doc = {"stream": meta or {},
           "frames": [{k: _json_value(v) for k, v in row.items()} for row in rows]}
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return path


def write_stats(path: str | Path, rows: Sequence[dict[str, Any]],
                meta: dict[str, Any] | None = None) -> Path:
    """CSV or JSON chosen by the file suffix (.json → JSON, anything else → CSV)."""
    if Path(path).suffix.lower() == ".json":
        return write_json(path, rows, meta)
    return write_csv(path, rows)
