#!/usr/bin/env python3
"""The PyTorch peer of `slimssl bench`: the same steps, timed the same way, the same JSON figures.

  bench.py step --config FILE|NAME [key=value ...] [options]   SlimCLR-MoCo v2 training step (moco_step.py)
  bench.py model --model NAME [--width W] [--batch N] [--resolution R] [--classes N] [options]
                                                                forward + backward with cross-entropy
options: --device cpu|cuda  --threads N  --steps N (10)  --warmup N (2)  --amp (bf16 autocast)
         --channels-last  --compile (torch.compile)  --json  --profile (torch.profiler's table)

Each timed step ends with the device synchronized; CPU time is the process's (every thread), as
slimssl measures it. FLOPs: 2 x (3 x MACs of the passes with a backward + MACs of those without),
conv and linear layers, counted by the peer's own layers (slim_models.count_macs).
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import moco_step  # noqa: E402
import slim_models  # noqa: E402


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def torch_profile(device, steps, run, first):
    """PyTorch's own op profile of `steps` more steps: the top ops by self time, per step."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        for i in range(steps):
            run(first + i)
        synchronize(device)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return "profile over %d steps (totals, not per step):\n%s" % (
        steps, prof.key_averages().table(sort_by=key, row_limit=20))


def measure(device, warmup, steps, images_per_step, run):
    """Times `run(i)` as slimssl's bench does: warm-up, then each step between device syncs."""
    i = 0
    for _ in range(warmup):
        run(i)
        i += 1
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    step_ms = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(steps):
        t0 = time.perf_counter()
        run(i)
        synchronize(device)
        step_ms.append(1e3 * (time.perf_counter() - t0))
        i += 1
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    out = {
        "steps": steps, "warmup": warmup, "step_ms": step_ms,
        "ms_per_step_median": statistics.median(step_ms), "ms_per_step_min": min(step_ms),
        "ms_per_step_max": max(step_ms), "wall_seconds": wall, "cpu_seconds": cpu,
        "images_per_step": images_per_step, "images_per_s": images_per_step * steps / wall,
        "images_per_cpu_s": images_per_step * steps / max(cpu, 1e-12), "threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        out["peak_device_bytes"] = torch.cuda.max_memory_allocated(device)
        out["device_name"] = torch.cuda.get_device_name(device)
    return out


def bench_step(args, device):
    cfg = moco_step.load_config(args.config, args.overrides)
    step = moco_step.MocoV2Step(cfg, device, amp=args.amp, channels_last=args.channels_last, compile=args.compile)
    n, c, s = cfg["batch_size"], cfg["in_channels"], cfg["image_size"]
    g = torch.Generator().manual_seed(cfg["seed"])
    fmt = step.memory_format
    v1 = torch.randn(n, c, s, s, generator=g).to(device).contiguous(memory_format=fmt)
    v2 = torch.randn(n, c, s, s, generator=g).to(device).contiguous(memory_format=fmt)
    with slim_models.count_macs() as macs:  # eager, uncompiled: one forward of everything
        with torch.no_grad():
            k = step.key_embeddings(v2, torch.randperm(n, device=device))
        step.losses(v1, k, step.queue)
    with_backward, without = macs[0] - macs[1], macs[1]

    def run(i):
        step.step(v1, v2, torch.randperm(n, generator=g).to(device))

    out = measure(device, args.warmup, args.steps, n, run)
    if args.profile:
        out["profile"] = torch_profile(device, args.steps, run, args.warmup + args.steps)
    out.update({"bench": "step", "config": cfg.get("name", args.config), "model": cfg["model"],
                "widths": cfg["widths"], "batch_size": n, "image_size": s, "in_channels": c,
                "macs_with_backward": with_backward, "macs_without_backward": without,
                "flops_per_step": 2.0 * (3.0 * with_backward + without)})
    return out


def bench_model(args, device):
    torch.manual_seed(0)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    model = slim_models.Classifier(slim_models.create_backbone(args.model, [args.width]), args.classes)
    model = model.to(device, memory_format=fmt).train()
    x = torch.randn(args.batch, 3, args.resolution, args.resolution).to(device).contiguous(memory_format=fmt)
    labels = (torch.arange(args.batch) % args.classes).to(device)
    with slim_models.count_macs() as macs, torch.no_grad():
        model(x, 0)
    forward = torch.compile(model) if args.compile else model

    def run(i):
        model.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=args.amp):
            logits = forward(x, 0)
        F.cross_entropy(logits.float(), labels).backward()

    out = measure(device, args.warmup, args.steps, args.batch, run)
    if args.profile:
        out["profile"] = torch_profile(device, args.steps, run, args.warmup + args.steps)
    out.update({"bench": "model", "model": args.model, "width": args.width, "batch_size": args.batch,
                "image_size": args.resolution, "classes": args.classes, "macs_with_backward": macs[0],
                "flops_per_step": 6.0 * macs[0]})
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description="The PyTorch peer of slimssl bench.")
    p.add_argument("what", choices=["step", "model"])
    p.add_argument("overrides", nargs="*", help="key=value config overrides (step)")
    p.add_argument("--config")
    p.add_argument("--model", default="resnet18_cifar")
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--amp", action="store_true")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--json", action="store_true")
    p.add_argument("--profile", action="store_true", help="then PyTorch's profile of --steps more steps")
    args = p.parse_intermixed_args(argv)
    if args.steps <= 0 or args.warmup < 0:
        p.error("--steps must be positive and --warmup >= 0")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set in this process
    device = torch.device(args.device)
    if args.what == "step":
        if not args.config:
            p.error("step needs --config FILE|NAME")
        out = bench_step(args, device)
    else:
        out = bench_model(args, device)
    out.update({"peer": "pytorch", "torch": torch.__version__, "device": str(device), "amp": args.amp,
                "channels_last": args.channels_last, "compile": args.compile})
    if args.json:
        print(json.dumps(out))
    else:
        spread = 100.0 * (out["ms_per_step_max"] - out["ms_per_step_min"]) / out["ms_per_step_median"]
        print("peer %s (torch %s) on %s: median %.1f ms per step (spread %.1f%%), %.1f images/s, "
              "%.1f images/CPU-s, %d threads" % (args.what, torch.__version__, device, out["ms_per_step_median"],
                                                 spread, out["images_per_s"], out["images_per_cpu_s"],
                                                 out["threads"]))
        if "profile" in out:
            print(out["profile"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
