"""Train a ZVC69 hyperprior model: `python -m codec.training.train --kind intra --minutes 45`.

Resumes from `<out>/last.pt`, prints progress and loss, and exports the ONNX graphs at the end
(`--export-to resources/models`). Time-based schedule: the learning rate drops for the last
fifth of the time budget, so a run of any length ends annealed.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from .layers import GDN
from .networks import LAMBDAS, LEVELS, HyperpriorCodec, with_gdn, with_latents


def make_batches(kind: str, crop: int, seed: int, pool: int = 1000,
                 scales: tuple[int, ...] = (2,), detail_pick: int = 1):
    """A function n -> (n, 3, crop, crop) float32 batch; `pool`: residual crops to prepare."""
    if kind == "intra":
        from .data import ImageCrops, image_files

        crops = ImageCrops(image_files(), crop=crop, seed=seed, scales=scales,
                           detail_pick=detail_pick)
        return crops.batch
    from .residual_data import ResidualCrops

    return ResidualCrops(crop=crop, seed=seed, pool=pool, scales=scales,
                         detail_pick=detail_pick).batch


def evaluate(model: HyperpriorCodec, batch: np.ndarray) -> list[tuple[float, float]]:
    """(bpp, PSNR) per level on a fixed batch, with the training-time rate estimate."""
    model.eval()
    out = []
    x = torch.from_numpy(batch)
    npix = x.shape[0] * x.shape[2] * x.shape[3]
    with torch.no_grad():
        for lvl in range(LEVELS):
            r = model(x, torch.full((x.shape[0],), lvl))
            mse = torch.mean((r["x_hat"].clamp(-1, 1) - x) ** 2).item()
            peak = 1.0 if x.min() >= 0 else 2.0
            out.append((r["bits"].sum().item() / npix, 10 * math.log10(peak**2 / max(mse, 1e-12))))
    model.train()
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", choices=("intra", "residual"), default="intra")
    ap.add_argument("--out", type=Path, default=None, help="checkpoint folder")
    ap.add_argument("--minutes", type=float, default=45.0, help="training time budget")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--n", type=int, default=96)
    ap.add_argument("--m", type=int, default=128)
    ap.add_argument("--nz", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gdn", action="store_true",
                    help="(I)GDN after each hidden layer of g_a/g_s; a plain warm start grows "
                    "them as identities")
    start = ap.add_mutually_exclusive_group()
    start.add_argument("--init", type=Path, default=None, help="start from another checkpoint")
    start.add_argument("--init-onnx", type=Path, default=None,
                       help="start from shipped model files, e.g. resources/models/intra")
    ap.add_argument("--grow-m", type=int, default=None,
                    help="with --init-onnx: widen the latents to this many channels (new ones "
                    "start small)")
    ap.add_argument("--rate-ramp", type=int, default=3000,
                    help="with --grow-m: the new channels' rate counts 0 for this many steps, "
                    "then ramps to full weight over as many again")
    ap.add_argument("--scales", default="2",
                    help="downscale factors of the images besides full size, e.g. 2,4")
    ap.add_argument("--detail-pick", type=int, default=1,
                    help="half of the crops: the most textured (intra) or energetic "
                    "(residual) of this many")
    ap.add_argument("--export-to", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.init_onnx and not (args.init_onnx / "training.json").is_file():
        ap.error(f"--init-onnx {args.init_onnx}: not a model folder (no training.json)")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = args.out or Path("checkpoints") / args.kind
    out.mkdir(parents=True, exist_ok=True)

    if args.init_onnx and not (out / "last.pt").exists():
        from .from_onnx import load_from_onnx

        model = load_from_onnx(args.init_onnx)
        prior = json.loads((args.init_onnx / "training.json").read_text())
        args.prior_steps = int(prior.get("total_steps", prior["steps"]))
        args.prior_minutes = float(prior.get("total_minutes", prior["minutes"]))
        if args.gdn and not model.gdn:
            model = with_gdn(model)
            print("grew identity (I)GDN layers into g_a and g_s")
        if args.grow_m and args.grow_m != model.m:
            print(f"grew the latents from M={model.m} to M={args.grow_m}")
            sample = torch.from_numpy(make_batches(args.kind, args.crop, args.seed + 1,
                                                   pool=8, scales=(2,))(8))
            model = with_latents(model, args.grow_m, seed=args.seed, sample=sample)
            args.grown_from_m = int(prior["M"])
        # resume and export rebuild the model from these
        args.n, args.m, args.nz, args.gdn = model.n, model.m, model.nz, model.gdn
    else:
        args.m = args.grow_m or args.m  # a resumed --grow-m run
        model = HyperpriorCodec(args.n, args.m, args.nz, gdn=args.gdn)
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    state = {"step": 0, "elapsed": 0.0, "args": vars(args)}
    ckpt = out / "last.pt"
    if ckpt.exists():
        saved = torch.load(ckpt, weights_only=False)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        state.update(step=saved["step"], elapsed=saved["elapsed"])
        for key in ("prior_steps", "prior_minutes", "grown_from_m"):  # a resumed warm start
            if key in saved["args"]:
                setattr(args, key, saved["args"][key])
        print(f"resumed from {ckpt} at step {state['step']} ({state['elapsed'] / 60:.1f} min)")
    elif args.init:
        model.load_state_dict(torch.load(args.init, weights_only=False)["model"])
        print(f"initialised from {args.init}")

    scales = tuple(int(s) for s in args.scales.split(",") if s)
    batches = make_batches(args.kind, args.crop, args.seed, scales=scales,
                           detail_pick=args.detail_pick)
    if args.kind == "intra":  # held-out photographs: what intra_rd measures
        from .data import ImageCrops, image_files

        eval_batch = ImageCrops(image_files(holdout=True), args.crop, seed=12345).batch(8)
    else:
        eval_batch = make_batches(args.kind, args.crop, 12345, pool=8)(8)
    lambdas = torch.tensor(LAMBDAS)
    grown_from = getattr(args, "grown_from_m", None)

    def rate_weight(step: int) -> torch.Tensor | None:
        """Grown channels: rate free at first (so g_s learns to use them), then phased in."""
        if grown_from is None or step >= 2 * args.rate_ramp:
            return None
        w = torch.ones(model.m)
        w[grown_from:] = max(0.0, step / args.rate_ramp - 1.0)
        return w

    gdns = [m for m in model.modules() if isinstance(m, GDN)]
    budget = args.minutes * 60
    t_start = time.time() - state["elapsed"]
    log_loss, log_bpp, log_mse, n_log = 0.0, 0.0, 0.0, 0
    last_save = time.time()

    def save() -> None:
        state["elapsed"] = time.time() - t_start
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": state["step"],
                    "elapsed": state["elapsed"], "args": vars(args)}, ckpt.with_suffix(".tmp"))
        ckpt.with_suffix(".tmp").replace(ckpt)

    while time.time() - t_start < budget:
        frac = (time.time() - t_start) / budget
        lr = args.lr * (1.0 if frac < 0.8 else 0.1)
        for group in opt.param_groups:
            group["lr"] = lr
        x = torch.from_numpy(batches(args.batch)).contiguous(memory_format=torch.channels_last)
        levels = torch.randint(0, LEVELS, (args.batch,))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            r = model(x, levels, rate_weight(state["step"]))
        npix = x.shape[2] * x.shape[3]
        mse = torch.mean((r["x_hat"] - x) ** 2, dim=(1, 2, 3))
        bpp = r["bits"] / npix
        loss = torch.mean(r["loss_bits"] / npix + lambdas[levels] * 255**2 * mse)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        for gdn in gdns:
            gdn.project()
        state["step"] += 1
        log_loss += loss.item()
        log_bpp += bpp.mean().item()
        log_mse += mse.mean().item()
        n_log += 1
        if state["step"] % 100 == 0:
            el = time.time() - t_start
            print(f"step {state['step']:6d}  {el / 60:5.1f}/{args.minutes:.0f} min  lr {lr:.1e}  "
                  f"loss {log_loss / n_log:.4f}  bpp {log_bpp / n_log:.3f}  "
                  f"mse {log_mse / n_log:.5f}", flush=True)
            log_loss, log_bpp, log_mse, n_log = 0.0, 0.0, 0.0, 0
        if time.time() - last_save > 120:
            save()
            last_save = time.time()
        if state["step"] % 1000 == 0:
            pts = evaluate(model, eval_batch)
            print("  eval bpp/psnr: " + "  ".join(f"{b:.3f}/{p:.2f}" for b, p in pts), flush=True)
    save()
    pts = evaluate(model, eval_batch)
    print("final eval bpp/psnr: " + "  ".join(f"{b:.3f}/{p:.2f}" for b, p in pts), flush=True)
    if args.export_to:
        from .export import export_model

        out = export_model(model, args.kind, args.export_to, steps=state["step"],
                           minutes=state["elapsed"] / 60, train_args=vars(args))
        from .latent_prediction_fit import fit_and_store  # the spatial latent prediction

        fit_and_store(out)


if __name__ == "__main__":
    main()
