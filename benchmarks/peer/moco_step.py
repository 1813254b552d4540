"""The training step of a slimssl config, written in PyTorch: SlimCLR over MoCo v2.

It computes what slimssl's learner computes (ssl/train/learner.cpp, contrastive.cpp, optimizer.cpp):
a full-width key encoder (EMA of the query's parameters) over the second view, shuffled into
`shuffle_bn_groups` sub-batches with their own BN statistics and unshuffled; every width's query
over the first view; InfoNCE over [positive, queue] / T; for sub-widths the online distillation
from the full width's detached logits, (1 - alpha) * InfoNCE + alpha * KD; the weighted sum's one
backward; SGD with momentum and weight decay on conv and linear weights only; the key encoder's
EMA and the queue. Every width is active (the step after slow start).

Config keys are read from a slimssl config file (the keys' defaults below are slimssl's,
ssl/train/config.h; check.py verifies that they agree) or taken whole from a config that slimssl
resolved (`slimssl bench step --dump-reference`).
"""
import json
import os

import torch
import torch.nn.functional as F

import slim_models

# slimssl's defaults (ssl/train/config.h) for the keys the peer reads.
DEFAULTS = {
    "model": "resnet18_cifar", "widths": [1.0], "head": "simple", "head_dim": 128, "framework": "mocov2",
    "temperature": 0.2, "queue_size": 4096, "ema_momentum": 0.99, "shuffle_bn_groups": 4,
    "loss_weights": "size", "distill": True, "distill_alpha": 0.5, "distill_t_teacher": 5.0,
    "distill_t_student": 5.0, "batch_size": 256, "image_size": 32, "in_channels": 3, "optimizer": "sgd",
    "lr": 0.06, "weight_decay": 5e-4, "momentum": 0.9, "nesterov": False, "grad_clip": 0.0, "seed": 0,
}


def parse_override(kv):
    """key=value as slimssl reads it: JSON when it parses, a bare list a,b when it has commas, else a string."""
    key, _, value = kv.partition("=")
    if not key or not _:
        raise SystemExit("peer: override '%s' must look like key=value" % kv)
    try:
        return key, json.loads(value)
    except ValueError:
        if "," in value:
            try:
                return key, json.loads("[" + value + "]")
            except ValueError:
                pass
        return key, value


def find_config(name):
    if os.path.isfile(name):
        return name
    here = os.path.dirname(os.path.abspath(__file__))
    dirs = [os.environ.get("SLIMSSL_CONFIGS_DIR", ""), "configs", os.path.join(here, "..", "..", "configs")]
    file = name if name.endswith(".json") else name + ".json"
    for d in dirs:
        if d and os.path.isfile(os.path.join(d, file)):
            return os.path.join(d, file)
    raise SystemExit("peer: --config '%s' is neither a file nor a config in %s" % (name, ", ".join(d for d in dirs if d)))


def load_config(path_or_name, overrides=()):
    with open(find_config(path_or_name)) as f:
        raw = json.load(f)
    if "config" in raw and isinstance(raw["config"], dict):  # a slimssl reference dump
        raw = raw["config"]
    cfg = dict(DEFAULTS)
    cfg.update({k: v for k, v in raw.items()})
    for kv in overrides:
        k, v = parse_override(kv)
        cfg[k] = v
    if cfg["framework"] != "mocov2":
        raise SystemExit("peer: framework '%s' is not written in the peer (mocov2)" % cfg["framework"])
    if cfg["optimizer"] != "sgd" or cfg["grad_clip"] > 0:
        raise SystemExit("peer: only SGD without gradient clipping is written in the peer")
    return cfg


def loss_weights(cfg):
    lw, widths = cfg["loss_weights"], cfg["widths"]
    if lw == "uniform":
        return [1.0] * len(widths)
    if lw == "size":
        return [1.0 + sum(widths) - widths[0]] + [1.0] * (len(widths) - 1)
    return [float(x) for x in lw]


class MocoV2Step:
    """One optimizer step of SlimCLR-MoCo v2 at every width, on `device`.

    amp: bfloat16 autocast for the networks (losses in float32, as slimssl computes them);
    channels_last: the networks and views in NHWC memory; compile: torch.compile of the query's
    forward and loss (all widths, one graph) and of the key encoder's forward.
    """

    def __init__(self, cfg, device="cpu", amp=False, channels_last=False, compile=False):
        self.cfg, self.device, self.amp = cfg, torch.device(device), amp
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        torch.manual_seed(cfg["seed"])
        self.query = slim_models.Encoder(cfg).to(self.device, memory_format=self.memory_format)
        self.key = slim_models.Encoder(cfg).to(self.device, memory_format=self.memory_format)
        self.key.load_state_dict(self.query.state_dict())
        for p in self.key.parameters():
            p.requires_grad_(False)
        self.queue = F.normalize(torch.randn(cfg["queue_size"], cfg["head_dim"], device=self.device), dim=1)
        self.queue_ptr = 0
        self.weights = loss_weights(cfg)
        decay = [p for p in self.query.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.query.parameters() if p.dim() < 2]
        self.opt = torch.optim.SGD([{"params": decay, "weight_decay": cfg["weight_decay"]},
                                    {"params": no_decay, "weight_decay": 0.0}],
                                   lr=cfg["lr"], momentum=cfg["momentum"], nesterov=cfg["nesterov"])
        self._query_params = [p for p in self.query.parameters()]
        self._key_params = [p for p in self.key.parameters()]
        self._losses = torch.compile(self.losses) if compile else self.losses
        self._keys = torch.compile(self.key_embeddings) if compile else self.key_embeddings

    def autocast(self):
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def key_embeddings(self, x, perm):
        """Shuffled BN over `shuffle_bn_groups` sub-batches, unshuffled, L2-normalized in float32."""
        n = x.shape[0]
        groups = min(self.cfg["shuffle_bn_groups"], n)
        chunk = (n + groups - 1) // groups
        shuffled = x[perm]
        with self.autocast():
            parts = [self.key(shuffled[s:s + chunk].contiguous(memory_format=self.memory_format), 0)
                     for s in range(0, n, chunk)]
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.arange(n, device=perm.device)
        return F.normalize(torch.cat(parts, 0)[inverse].float(), dim=1)

    def losses(self, v1, k, queue):
        """(total, [InfoNCE per width], [distillation KL per width]) of every width against keys k and the queue."""
        c = self.cfg
        t, a = c["temperature"], c["distill_alpha"]
        ts, tt = c["distill_t_student"], c["distill_t_teacher"]
        labels = torch.zeros(v1.shape[0], dtype=torch.long, device=v1.device)
        total, nces, kds, teacher = 0.0, [], [], None
        for wi in range(len(c["widths"])):
            with self.autocast():
                z = self.query(v1, wi)
            q = F.normalize(z.float(), dim=1)
            logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue.t()], 1)
            nce = F.cross_entropy(logits / t, labels)
            term = nce
            if wi == 0:
                teacher = logits.detach()
                kds.append(torch.zeros((), device=v1.device))
            elif c["distill"]:
                target = F.softmax(teacher / tt, dim=1)
                kd = -(target * F.log_softmax(logits / ts, dim=1)).sum(1).mean() * ts * ts
                term = (1 - a) * nce + a * kd
                # Reported as slimssl logs it: the KL divergence, kd minus the teacher's entropy (x ts^2).
                entropy = -(target * F.log_softmax(teacher / tt, dim=1)).sum(1).mean() * ts * ts
                kds.append(kd.detach() - entropy)
            else:
                kds.append(torch.zeros((), device=v1.device))
            nces.append(nce)
            total = total + self.weights[wi] * term
        return total, torch.stack(nces), torch.stack(kds)

    def step(self, v1, v2, perm, lr=None):
        """One optimizer step; returns (total loss, InfoNCE per width, distillation KL per width) as tensors."""
        with torch.no_grad():
            k = self._keys(v2, perm)
        total, nces, kds = self._losses(v1, k, self.queue)
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        if lr is not None:
            for g in self.opt.param_groups:
                g["lr"] = lr
        self.opt.step()
        with torch.no_grad():
            m = self.cfg["ema_momentum"]
            torch._foreach_mul_(self._key_params, m)
            torch._foreach_add_(self._key_params, self._query_params, alpha=1.0 - m)
            n = k.shape[0]
            self.queue[self.queue_ptr:self.queue_ptr + n] = k
            self.queue_ptr = (self.queue_ptr + n) % self.queue.shape[0]
        return total.detach(), nces.detach(), kds.detach()

    def load_slimssl_state(self, tensors):
        """Loads slimssl's learner state ("query.*", "key.*", "queue") by name; every tensor must match."""
        for prefix, module in (("query.", self.query), ("key.", self.key)):
            own = dict(module.state_dict())
            theirs = {n[len(prefix):]: t for n, t in tensors.items() if n.startswith(prefix)}
            missing = sorted(set(own) - set(theirs))
            extra = sorted(set(theirs) - set(own))
            if missing or extra:
                raise SystemExit("peer: slimssl's %s* tensors do not match the peer's: missing %s, extra %s"
                                 % (prefix, missing[:5], extra[:5]))
            for name, t in theirs.items():
                if tuple(own[name].shape) != tuple(t.shape):
                    raise SystemExit("peer: %s%s has shape %s in slimssl, %s here"
                                     % (prefix, name, tuple(t.shape), tuple(own[name].shape)))
            module.load_state_dict({n: t.to(own[n].dtype) for n, t in theirs.items()})
        self.queue.copy_(tensors["queue"])
