#!/usr/bin/env python3
"""Evidence that the peer computes what slimssl computes, so that the speed comparison is like for like.

  check.py --slimssl BIN --config FILE|NAME [key=value ...] [--model NAME --resolution R]

1. Layer shapes: for every width of the config's model (and for --model, the architecture of the
   forward + backward benchmark), the peer's parameter count and MACs per image equal
   `slimssl models --json` (backbone + a 10-class classifier, as that command measures).
2. The step's MACs: the peer's count for one training step equals `slimssl bench step --json`'s.
3. The arithmetic: slimssl writes its initial state, a batch of views and its key encoder's
   permutations (`slimssl bench step --dump-reference`); the peer loads them, runs the same two
   optimizer steps and must reproduce slimssl's losses (total, InfoNCE and distillation per width)
   within --rtol (float32 on both sides; the second step also checks SGD, EMA and the queue).
4. The peer's config defaults agree with slimssl's resolution of the same config.
Exit status 0 when every check passes. Runs on the CPU, in float32, in a few seconds.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import moco_step  # noqa: E402
import slim_models  # noqa: E402

DTYPES = {"F32": torch.float32, "F64": torch.float64, "BF16": torch.bfloat16, "I64": torch.int64,
          "I32": torch.int32, "U8": torch.uint8}


def read_safetensors(path):
    """name -> tensor, from the safetensors layout: u64 header size, JSON header, raw little-endian data."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = bytearray(blob[8 + n:])
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        dtype = DTYPES[h["dtype"]]
        t = torch.frombuffer(data[a:b], dtype=dtype) if b > a else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(h["shape"]).clone()
    return out


def slimssl_json(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("check: %s failed:\n%s" % (" ".join(cmd), r.stderr.strip()))
    return json.loads(r.stdout)


class Checks:
    def __init__(self):
        self.rows, self.failed = [], 0

    def add(self, what, ours, theirs, ok):
        self.rows.append((what, ours, theirs, "ok" if ok else "DIFFERS"))
        self.failed += 0 if ok else 1

    def print(self):
        w = max(len(r[0]) for r in self.rows)
        print("%-*s %16s %16s %10s  %s" % (w, "check", "slimssl", "peer", "rel. diff", ""))
        for what, ours, theirs, verdict in self.rows:
            fmt = lambda v: ("%.7g" % v) if isinstance(v, float) else str(v)  # noqa: E731
            diff = ""
            if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)):
                diff = "%.1e" % (abs(ours - theirs) / max(1e-30, abs(ours)))
            print("%-*s %16s %16s %10s  %s" % (w, what, fmt(ours), fmt(theirs), diff, verdict))


def close(a, b, rtol):
    return abs(a - b) <= rtol * max(1.0, abs(a))


def check_architecture(checks, slimssl, model, widths, resolution):
    rows = slimssl_json([slimssl, "models", "--json", "--model", model, "--classes", "10", "--resolution",
                         str(resolution), "--widths", ",".join(str(w) for w in widths)])
    net = slim_models.Classifier(slim_models.create_backbone(model, widths), 10).eval()
    for wi, row in enumerate(rows):
        with slim_models.count_macs() as macs, torch.no_grad():
            net(torch.zeros(1, 3, resolution, resolution), wi)
        tag = "%s w%.2f %dpx" % (model, widths[wi], resolution)
        checks.add(tag + " params", row["params"], slim_models.parameters_at(net, wi),
                   row["params"] == slim_models.parameters_at(net, wi))
        checks.add(tag + " MACs", row["macs"], macs[0], row["macs"] == macs[0])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("overrides", nargs="*")
    p.add_argument("--slimssl", required=True, help="the slimssl binary")
    p.add_argument("--config", required=True)
    p.add_argument("--model", help="also check this architecture (the forward + backward benchmark's)")
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--rtol", type=float, default=2e-4)
    p.add_argument("--out", help="keep slimssl's reference dump here (default: a temporary folder)")
    args = p.parse_intermixed_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    overrides = list(args.overrides)
    if not any(o.startswith("data=") for o in overrides):
        overrides.append("data=synthetic")
    checks = Checks()
    out = args.out or tempfile.mkdtemp(prefix="slimssl-peer-check-")

    subprocess.run([args.slimssl, "bench", "step", "--config", args.config, "--dump-reference", out] + overrides,
                   check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "reference.json")) as f:
        ref = json.load(f)
    cfg = moco_step.load_config(os.path.join(out, "reference.json"))

    # 4. defaults: the peer's own reading of the config file agrees with slimssl's
    own = moco_step.load_config(args.config, overrides)
    drift = [k for k in moco_step.DEFAULTS if own[k] != ref["config"][k]]
    checks.add("config keys the peer reads", "%d keys" % len(moco_step.DEFAULTS),
               "differ: " + ",".join(drift) if drift else "same", not drift)

    # 1. architecture
    check_architecture(checks, args.slimssl, cfg["model"], cfg["widths"], cfg["image_size"])
    if args.model:
        check_architecture(checks, args.slimssl, args.model, [1.0], args.resolution)

    # 3. the two steps
    tensors = read_safetensors(os.path.join(out, "initial.safetensors"))
    step = moco_step.MocoV2Step(cfg, "cpu")
    step.load_slimssl_state(tensors)
    v1, v2 = tensors["view1"], tensors["view2"]
    labels = [slim_label(w) for w in cfg["widths"]]
    for k, s in enumerate(ref["steps"]):
        perm = tensors["key_perm.%d.0" % s["step"]]
        total, nces, kds = step.step(v1, v2, perm, lr=s["lr"])
        tag = "step %d" % k
        checks.add(tag + " loss", s["loss"], total.item(), close(s["loss"], total.item(), args.rtol))
        for wi, label in enumerate(labels):
            w = s["widths"][label]
            checks.add(tag + " w" + label + " InfoNCE", w["info_nce"], nces[wi].item(),
                       close(w["info_nce"], nces[wi].item(), args.rtol))
            if wi > 0 and cfg["distill"]:
                checks.add(tag + " w" + label + " KL", w["distill"], kds[wi].item(),
                           close(w["distill"], kds[wi].item(), args.rtol))

    # 2. the step's MACs (synthetic views, one step)
    j = slimssl_json([args.slimssl, "bench", "step", "--config", args.config, "--json", "--steps", "1",
                      "--warmup", "0"] + overrides)
    n = cfg["batch_size"]
    with slim_models.count_macs() as macs:
        with torch.no_grad():
            keys = step.key_embeddings(v2, torch.arange(n))
        step.losses(v1, keys, step.queue)
    checks.add("step MACs with backward", j["macs_with_backward"], macs[0] - macs[1],
               j["macs_with_backward"] == macs[0] - macs[1])
    checks.add("step MACs without backward", j["macs_without_backward"], macs[1],
               j["macs_without_backward"] == macs[1])

    checks.print()
    print("peer check: %s (%d checks, %d differ; reference in %s)"
          % ("passed" if not checks.failed else "FAILED", len(checks.rows), checks.failed, out))
    return 1 if checks.failed else 0


def slim_label(w):
    return "%.2f" % w


if __name__ == "__main__":
    sys.exit(main())
