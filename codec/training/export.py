"""Export a trained HyperpriorCodec as ZVC69's shipped model files.

Writes into <root>/<kind>/: encoder.onnx (g_a), decoder.onnx (g_s), hyperprior_enc.onnx (h_a),
hyperprior_dec.onnx (the integer-exact h_s, see intquant.py), tables.npz (integer CDF tables of
z and of the Gaussian scale table, per-level gains) and training.json (what the card reports).
Run on a checkpoint: `python -m codec.training.export checkpoints/intra/last.pt --kind intra`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from codec import entropy
from codec.quant import OUT_FRAC_BITS, SCALE_INDEX_STEP, SCALE_LEVELS, SCALE_LOG_BASE, Z_RADIUS

from .intquant import Z_CLIP, IntLayer, quantize_hyper_synthesis
from .networks import HyperpriorCodec

OPSET = 17
TABLE_PRECISION = 16


def _export_float(module: torch.nn.Module, cin: int, name_in: str, name_out: str, path: Path,
                  size: int) -> None:
    x = torch.zeros(1, cin, size, size)
    torch.onnx.export(module, (x,), str(path), input_names=[name_in], output_names=[name_out],
                      dynamic_axes={name_in: {2: "h", 3: "w"}, name_out: {2: "h", 3: "w"}},
                      opset_version=OPSET, dynamo=False)
    onnx.checker.check_model(onnx.load(str(path)))


def build_int_graph(layers: list[IntLayer], nz: int, path: Path) -> None:
    """ONNX graph of the integer h_s: Conv, power-of-two Mul, Floor, Clip, DepthToSpace."""
    inits, nodes = [], []

    def const(name: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(arr, np.float32), name))
        return name

    x = "z_hat"
    nodes.append(helper.make_node("Clip", [x, const("zlo", -Z_CLIP), const("zhi", Z_CLIP)], ["a0"]))
    x = "a0"
    for i, layer in enumerate(layers):
        k = layer.weight.shape[2]
        p = k // 2
        nodes.append(helper.make_node("Conv", [x, const(f"w{i}", layer.weight),
                                               const(f"b{i}", layer.bias)], [f"acc{i}"],
                                      kernel_shape=[k, k], pads=[p, p, p, p]))
        mult = (2.0 ** layer.mult_exp.astype(np.float64)).astype(np.float32)[None, :, None, None]
        nodes.append(helper.make_node("Mul", [f"acc{i}", const(f"m{i}", mult)], [f"s{i}"]))
        nodes.append(helper.make_node("Add", [f"s{i}", const(f"half{i}", 0.5)], [f"r{i}"]))
        nodes.append(helper.make_node("Floor", [f"r{i}"], [f"f{i}"]))
        out = f"a{i + 1}" if not layer.upsample else f"c{i}"
        nodes.append(helper.make_node("Clip", [f"f{i}", const(f"lo{i}", layer.lo),
                                               const(f"hi{i}", layer.hi)], [out]))
        if layer.upsample:
            nodes.append(helper.make_node("DepthToSpace", [out], [f"a{i + 1}"], blocksize=2,
                                          mode="CRD"))
        x = f"a{i + 1}"
    nodes.append(helper.make_node("Identity", [x], ["entropy_params"]))
    graph = helper.make_graph(
        nodes, "zvc69_integer_hyper_synthesis",
        [helper.make_tensor_value_info("z_hat", TensorProto.FLOAT, [1, nz, "h", "w"])],
        [helper.make_tensor_value_info("entropy_params", TensorProto.FLOAT, [1, None, None, None])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="zvc69-export")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _table_arrays(prefix: str, tables: object) -> dict[str, np.ndarray]:
    return {f"{prefix}_{f.name}": np.asarray(getattr(tables, f.name))
            for f in dataclasses.fields(tables)
            if f.init and getattr(tables, f.name) is not None}


@torch.no_grad()
def calibration_z(model: HyperpriorCodec, batch: np.ndarray) -> torch.Tensor:
    return torch.round(model.h_a(model.g_a(torch.from_numpy(batch))))


@torch.no_grad()
def export_model(model: HyperpriorCodec, kind: str, root: Path, steps: int, minutes: float,
                 train_args: dict, calib: np.ndarray | None = None) -> Path:
    """Write the model files of one kind ('intra' or 'residual'); returns the folder."""
    from .train import make_batches

    out = root / kind
    out.mkdir(parents=True, exist_ok=True)
    model = model.float().eval().to(memory_format=torch.contiguous_format)
    c, m, nz = model.channels, model.m, model.nz
    _export_float(model.g_a, c, "x", "y", out / "encoder.onnx", 128)
    _export_float(model.g_s, m, "y_hat", "x_hat", out / "decoder.onnx", 8)
    _export_float(model.h_a, m, "y", "z", out / "hyperprior_enc.onnx", 8)
    if calib is None:
        calib = make_batches(kind, 256, 777, pool=16)(16)
    layers = quantize_hyper_synthesis(model.h_s, calibration_z(model, calib))
    build_int_graph(layers, nz, out / "hyperprior_dec.onnx")

    pmf = model.density.pmf_table(Z_RADIUS).double().numpy()
    z_tables = entropy.quantize_pmf(pmf, np.full(nz, -Z_RADIUS, np.int32), TABLE_PRECISION)
    log_q = SCALE_LOG_BASE + SCALE_INDEX_STEP * np.arange(SCALE_LEVELS)
    scales = np.exp(log_q / 2**OUT_FRAC_BITS)
    g_tables = entropy.build_gaussian_tables(scales, TABLE_PRECISION)
    log_gain = model.log_gain.double().numpy()
    np.savez_compressed(
        out / "tables.npz",
        gain=np.exp(log_gain).astype(np.float32),
        inv_gain=np.exp(model.log_inv_gain.double().numpy()).astype(np.float32),
        gain_log_q=np.round(log_gain * 2**OUT_FRAC_BITS).astype(np.int32),
        scales=scales,
        **_table_arrays("z", z_tables),
        **_table_arrays("y", g_tables),
        **{f"hs{i}_{k}": np.asarray(v) for i, layer in enumerate(layers)
           for k, v in vars(layer).items()},
    )
    info = {
        "kind": kind,
        "architecture": "mean-scale hyperprior (Minnen 2018) with per-level gains (Cui 2021)"
        + (", (I)GDN after each hidden layer of g_a/g_s" if model.gdn else ""),
        "channels": c, "N": model.n, "M": m, "Nz": nz, "gdn": model.gdn,
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "steps": steps, "minutes": round(minutes, 1),
        # a warm start (--init-onnx) continues an earlier model: totals over all its runs
        "total_steps": steps + int(train_args.get("prior_steps", 0)),
        "total_minutes": round(minutes + float(train_args.get("prior_minutes", 0.0)), 1),
        "train_args": {k: str(v) for k, v in train_args.items()},
    }
    (out / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"exported {kind} model to {out} ({info['parameters']} parameters)")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="export a checkpoint to ONNX + tables")
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--kind", choices=("intra", "residual"), default="intra")
    ap.add_argument("--to", type=Path, default=Path("resources/models"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    saved = torch.load(args.checkpoint, weights_only=False)
    a = saved["args"]
    model = HyperpriorCodec(a["n"], a["m"], a["nz"], gdn=bool(a.get("gdn", False)))
    model.load_state_dict(saved["model"])
    out = export_model(model, args.kind, args.to, saved["step"], saved["elapsed"] / 60, a)
    from .latent_prediction_fit import fit_and_store  # each kind's spatial latent prediction

    fit_and_store(out)


if __name__ == "__main__":
    main()
