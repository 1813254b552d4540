#!/usr/bin/env python3
"""slimssl beside its PyTorch peer, in one run: the same steps, repeated and interleaved, one table.

  compare.py cpu --slimssl BIN --python PEER_PYTHON [--repeats N] [--threads 1,2] [--out DIR]
  compare.py gpu --slimssl BIN --python PEER_PYTHON [--config NAME] [--budget S] [--out DIR]

cpu: for each thread count (OMP_NUM_THREADS and torch.set_num_threads; OMP_WAIT_POLICY=PASSIVE),
  each repeat runs, alternately, slimssl and the peer on
    step  the demo's training step (configs/fmnist_demo_mocov2.json: slimmable ResNet-20 at widths
          1.0/0.5/0.25, MoCo v2 with key encoder and queue, batch 128, 28 px x 3; synthetic views)
    model ResNet-18 with the CIFAR stem, 32 px, batch 64, forward + backward (cross-entropy)
  and the table gives images per CPU-second (process CPU time, all threads: the figure that a
  shared machine distorts least) and, with more than one thread, images per wall-second too.
gpu: slimssl's step of --config (default cifar10_slimclr_mocov2_resnet18: slimmable ResNet-18 at
  widths 1.0/0.75/0.5/0.25, MoCo v2, distillation, size weights, SGD) beside the peer in eager
  mode and under torch.compile, both with bf16 autocast and channels-last: images/s, the ratios,
  peak device memory and model FLOP utilisation.

Every run's JSON goes to DIR/results.jsonl as it ends; the table to DIR/table.md and stdout (DIR:
a new temporary folder unless --out).
Only the Python standard library is needed here; PEER_PYTHON must have torch.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_json(cmd, env, timeout):
    """The JSON line a benchmark printed, or {"error": ...}."""
    t0 = time.time()
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=max(1, timeout))
    except subprocess.TimeoutExpired:
        return {"error": "timed out after %.0f s" % (time.time() - t0)}
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    if r.returncode != 0 or not lines:
        tail = (r.stderr.strip().splitlines() or ["exit status %d" % r.returncode])[-1]
        return {"error": tail[:300]}
    return json.loads(lines[-1])


def spread(values):
    return "%.3g-%.3g" % (min(values), max(values)) if len(values) > 1 else ""


def with_range(values):
    r = spread(values)
    return "%.1f%s" % (statistics.median(values), " (%s)" % r if r else "")


def cpu_mode(args):
    results = []
    workloads = {
        "step": ("demo step: ResNet-20 x3 widths, MoCo v2, b128 28px",
                 [args.slimssl, "bench", "step", "--config", "fmnist_demo_mocov2", "--json", "--steps", str(args.steps),
                  "--warmup", "2", "data=synthetic"],
                 [args.python, os.path.join(HERE, "bench.py"), "step", "--config", "fmnist_demo_mocov2", "--json",
                  "--steps", str(args.steps), "--warmup", "2"]),
        "model": ("ResNet-18 CIFAR fwd+bwd, b64 32px",
                  [args.slimssl, "bench", "model", "--model", "resnet18_cifar", "--batch", "64", "--resolution", "32",
                   "--json", "--steps", str(args.model_steps), "--warmup", "1"],
                  [args.python, os.path.join(HERE, "bench.py"), "model", "--model", "resnet18_cifar", "--batch", "64",
                   "--resolution", "32", "--json", "--steps", str(args.model_steps), "--warmup", "1"]),
    }
    threads = [int(t) for t in args.threads.split(",")]
    total = len(threads) * args.repeats * len(workloads) * 2
    done, t_start = 0, time.time()
    for t in threads:
        env = dict(os.environ, OMP_NUM_THREADS=str(t), OMP_WAIT_POLICY="PASSIVE", MKL_NUM_THREADS=str(t))
        for rep in range(args.repeats):
            for name, (_, ours, peer) in workloads.items():
                # slimssl reads its thread count from the environment or threads=N; the peer from --threads.
                runs = [("slimssl", ours + (["threads=%d" % t] if name == "step" else ["--threads", str(t)])),
                        ("pytorch", peer + ["--threads", str(t)])]
                if rep % 2:
                    runs.reverse()  # alternate who goes first, so drifting load hits both alike
                for engine, cmd in runs:
                    j = run_json(cmd, env, args.timeout)
                    j.update({"engine": engine, "workload": name, "threads_asked": t, "repeat": rep})
                    results.append(j)
                    with open(os.path.join(args.out, "results.jsonl"), "a") as f:
                        f.write(json.dumps(j) + "\n")
                    done += 1
                    eta = (time.time() - t_start) / done * (total - done)
                    status = j.get("error") or "%.1f img/CPU-s" % j["images_per_cpu_s"]
                    print("[%d/%d, ETA %.0f s] %s %s %d thread%s, repeat %d: %s" % (
                        done, total, eta, engine, name, t, "" if t == 1 else "s", rep + 1, status), flush=True)

    lines = ["| workload | threads | figure | slimssl | PyTorch | ratio | ratio range |", "|---|---|---|---|---|---|---|"]
    for t in threads:
        for name, (title, _, _) in workloads.items():
            figures = [("images/CPU-s", "images_per_cpu_s")] + ([("images/s (wall)", "images_per_s")] if t > 1 else [])
            for label, key in figures:
                ours = {r["repeat"]: r[key] for r in results
                        if r["engine"] == "slimssl" and r["workload"] == name and r["threads_asked"] == t and key in r}
                peer = {r["repeat"]: r[key] for r in results
                        if r["engine"] == "pytorch" and r["workload"] == name and r["threads_asked"] == t and key in r}
                if not ours or not peer:
                    lines.append("| %s | %d | %s | %s | %s | | |" % (title, t, label, "failed" if not ours else "",
                                                                     "failed" if not peer else ""))
                    continue
                ratios = [ours[k] / peer[k] for k in ours if k in peer]
                lines.append("| %s | %d | %s | %s | %s | %.2f | %s |" % (
                    title, t, label, with_range(list(ours.values())), with_range(list(peer.values())),
                    statistics.median(ours.values()) / statistics.median(peer.values()), spread(ratios)))
    note = ("Medians over %d repeats (range in brackets); ratio = slimssl / PyTorch, above 1 means slimssl "
            "does more work per CPU-second (or per second). OMP_WAIT_POLICY=PASSIVE." % args.repeats)
    return lines, note


def gpu_mode(args):
    deadline = time.time() + args.budget
    cfg = args.config
    runs = [
        ("slimssl", [args.slimssl, "bench", "step", "--config", cfg, "--json", "--steps", str(args.steps),
                     "--warmup", "3", "device=cuda", "data=synthetic"] + args.overrides),
        ("pytorch eager", [args.python, os.path.join(HERE, "bench.py"), "step", "--config", cfg, "--json",
                           "--device", "cuda", "--amp", "--channels-last", "--steps", str(args.steps),
                           "--warmup", "3"] + args.overrides),
        ("pytorch compiled", [args.python, os.path.join(HERE, "bench.py"), "step", "--config", cfg, "--json",
                              "--device", "cuda", "--amp", "--channels-last", "--compile", "--steps",
                              str(args.steps), "--warmup", "3"] + args.overrides),
    ]
    results = {}
    for engine, cmd in runs:
        left = deadline - time.time()
        j = run_json(cmd, dict(os.environ), left) if left > 5 else {"error": "the budget was spent"}
        j["engine"] = engine
        results[engine] = j
        with open(os.path.join(args.out, "results.jsonl"), "a") as f:
            f.write(json.dumps(j) + "\n")
        print("%s: %s" % (engine, j.get("error") or "%.0f images/s" % j["images_per_s"]), flush=True)

    peak = next((r.get("device_bf16_peak_flops") for r in results.values() if r.get("device_bf16_peak_flops")), 0)
    flops = next((r.get("flops_per_step") for r in results.values() if r.get("flops_per_step")), 0)
    lines = ["| engine | images/s | ms per step (median, range) | x slimssl | peak memory (MiB) | MFU |",
             "|---|---|---|---|---|---|"]
    base = results["slimssl"].get("images_per_s")
    for engine, r in results.items():
        if "error" in r:
            lines.append("| %s | %s | | | | |" % (engine, r["error"].replace("|", "/")))
            continue
        mfu = flops / (r["ms_per_step_median"] * 1e-3) / peak if peak and flops else None
        lines.append("| %s | %.0f | %.1f (%.1f-%.1f) | %s | %.0f | %s |" % (
            engine, r["images_per_s"], r["ms_per_step_median"], r["ms_per_step_min"], r["ms_per_step_max"],
            "%.2f" % (base / r["images_per_s"]) if base else "", r.get("peak_device_bytes", 0) / 2 ** 20,
            "%.1f%%" % (100 * mfu) if mfu else ""))
    device = next((r.get("device_name") for r in results.values() if r.get("device_name")), "unknown device")
    note = ("%s on %s: images/s over %d timed steps after 3 warm-up steps; x slimssl = slimssl's images/s / "
            "the row's; MFU: the step's FLOPs (conv and linear layers, 2 x (3 x MACs with a backward + MACs "
            "without), the same count on both sides: benchmarks/peer/check.py) per second against %s."
            % (cfg, device, args.steps, "the %.0f TFLOP/s bf16 dense peak" % (peak / 1e12) if peak
               else "the device's bf16 dense peak, which slimssl reports only when its own run succeeds"))
    return lines, note


def main(argv=None):
    p = argparse.ArgumentParser(description="slimssl beside the PyTorch peer.")
    p.add_argument("mode", choices=["cpu", "gpu"])
    p.add_argument("overrides", nargs="*", help="key=value overrides for the gpu step's config")
    p.add_argument("--slimssl", required=True)
    p.add_argument("--python", default=sys.executable, help="the Python that has torch (the peer's)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--model-steps", type=int, default=4)
    p.add_argument("--timeout", type=float, default=600, help="seconds for one run (cpu)")
    p.add_argument("--config", default="cifar10_slimclr_mocov2_resnet18", help="the gpu step's config")
    p.add_argument("--budget", type=float, default=140, help="seconds for all gpu runs")
    p.add_argument("--out", default=None)
    args = p.parse_intermixed_args(argv)
    args.out = args.out or tempfile.mkdtemp(prefix="slimssl-peer-%s-" % args.mode)
    os.makedirs(args.out, exist_ok=True)
    lines, note = cpu_mode(args) if args.mode == "cpu" else gpu_mode(args)
    table = "\n".join(lines) + "\n\n" + note + "\n"
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(table)
    print("\n" + table + "\n(written to %s)" % args.out)
    with open(os.path.join(args.out, "results.jsonl")) as f:
        failed = [json.loads(l) for l in f if '"error"' in l]
    for r in failed:
        print("failed: %s %s: %s" % (r["engine"], r.get("workload", ""), r["error"]), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
