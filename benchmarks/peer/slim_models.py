"""Slimmable networks in PyTorch, written to compute what slimssl's models compute.

Layer shapes, channel rules and tensor names follow slimssl (models/slim_layers.h, models/resnet.cpp,
models/heads.cpp), so a state written by slimssl loads here by name: one full-size weight per
slimmable layer, width index wi using the slice weight[:out[wi], :in[wi]]; one batch norm per width
("bn1.0.weight", ... or plain "bn1.weight" with a single width); channels at width w are
max(1, int(w * C)).

MACs are counted over the whole batch while a `count_macs()` context is open, as slimssl's
MacCounter does: conv and linear layers only.
"""
import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F

_macs = None  # [total, without_grad] while counting


@contextlib.contextmanager
def count_macs():
    """Yields [MACs, MACs under no_grad] of the forward passes run inside."""
    global _macs
    previous, _macs = _macs, [0, 0]
    try:
        yield _macs
    finally:
        _macs = previous


def _add_macs(n):
    if _macs is not None:
        _macs[0] += int(n)
        if not torch.is_grad_enabled():
            _macs[1] += int(n)


def scale_channels(c, widths):
    return [max(1, int(w * c + 1e-9)) for w in widths]


class SlimConv2d(nn.Module):
    def __init__(self, cin, cout, kernel, stride=1, pad=None):
        super().__init__()
        self.cin, self.cout = list(cin), list(cout)
        self.stride, self.kernel = stride, kernel
        self.pad = (kernel - 1) // 2 if pad is None else pad
        self.weight = nn.Parameter(torch.empty(max(cout), max(cin), kernel, kernel))
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x, wi):
        w = self.weight[: self.cout[wi], : self.cin[wi]]
        y = F.conv2d(x, w, None, self.stride, self.pad)
        _add_macs(y.numel() * self.cin[wi] * self.kernel * self.kernel)
        return y

    def parameters_at(self, wi):
        return self.cout[wi] * self.cin[wi] * self.kernel * self.kernel


class SlimLinear(nn.Module):
    def __init__(self, cin, cout, bias=True):
        super().__init__()
        self.cin, self.cout = list(cin), list(cout)
        self.weight = nn.Parameter(torch.empty(max(cout), max(cin)))
        self.bias = nn.Parameter(torch.zeros(max(cout))) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)

    def forward(self, x, wi):
        w = self.weight[: self.cout[wi], : self.cin[wi]]
        b = None if self.bias is None else self.bias[: self.cout[wi]]
        _add_macs(x.numel() // x.shape[-1] * self.cin[wi] * self.cout[wi])
        return F.linear(x, w, b)

    def parameters_at(self, wi):
        return self.cin[wi] * self.cout[wi] + (0 if self.bias is None else self.cout[wi])


class _OneBN(nn.BatchNorm2d):
    """A single width: the norm's tensors sit directly under the layer's name."""

    def forward(self, x, wi=0):
        return super().forward(x)

    def parameters_at(self, wi):
        return 2 * self.num_features


class _PerWidthBN(nn.ModuleList):
    """One BatchNorm2d per width, named "0", "1", ..."""

    def forward(self, x, wi):
        return self[wi](x)

    def parameters_at(self, wi):
        return 2 * self[wi].num_features


def switchable_bn(channels):
    if len(channels) == 1:
        return _OneBN(channels[0])
    return _PerWidthBN([nn.BatchNorm2d(c) for c in channels])


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = SlimConv2d(cin, cout, 3, stride)
        self.bn1 = switchable_bn(cout)
        self.conv2 = SlimConv2d(cout, cout, 3, 1)
        self.bn2 = switchable_bn(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.ModuleList([SlimConv2d(cin, cout, 1, stride, 0), switchable_bn(cout)])

    def forward(self, x, wi):
        h = F.relu(self.bn1(self.conv1(x, wi), wi))
        h = self.bn2(self.conv2(h, wi), wi)
        s = x if self.downsample is None else self.downsample[1](self.downsample[0](x, wi), wi)
        return F.relu(h + s)


class ResNet(nn.Module):
    """ResNet-18 (CIFAR stem) and the CIFAR ResNet-20 family, as models/resnet.cpp builds them."""

    def __init__(self, depth, widths, multiplier=1):
        super().__init__()
        assert depth in (18, 20), "the peer builds resnet18_cifar and resnet20[x4]_cifar"
        r20 = depth == 20
        stem = scale_channels(16 * multiplier if r20 else 64, widths)
        self.conv1 = SlimConv2d([3] * len(widths), stem, 3, 1, 1)
        self.bn1 = switchable_bn(stem)
        blocks = [3, 3, 3] if r20 else [2, 2, 2, 2]
        feats = [16 * multiplier, 32 * multiplier, 64 * multiplier] if r20 else [64, 128, 256, 512]
        cin = stem
        for s, n in enumerate(blocks):
            cout = scale_channels(feats[s], widths)
            stage = nn.ModuleList()
            for b in range(n):
                stage.append(BasicBlock(cin, cout, 2 if (b == 0 and s > 0) else 1))
                cin = cout
            setattr(self, "layer%d" % (s + 1), stage)
        self.num_stages = len(blocks)
        self.feature_dims = cin

    def forward(self, x, wi):
        h = F.relu(self.bn1(self.conv1(x, wi), wi))
        for s in range(self.num_stages):
            for block in getattr(self, "layer%d" % (s + 1)):
                h = block(h, wi)
        return torch.flatten(F.adaptive_avg_pool2d(h, 1), 1)


def create_backbone(name, widths):
    table = {"resnet18_cifar": (18, 1), "resnet20_cifar": (20, 1), "resnet20x4_cifar": (20, 4)}
    if name not in table:
        raise SystemExit("peer: model '%s' is not written in the peer (known: %s)" % (name, ", ".join(table)))
    depth, k = table[name]
    return ResNet(depth, widths, k)


class ProjectionHead(nn.Module):
    """MoCo v2's "simple" head: d -> d -> out with biases and a ReLU (the "wide" one: d -> 2d -> out)."""

    def __init__(self, cin, out_dim, kind):
        super().__init__()
        if kind not in ("simple", "wide"):
            raise SystemExit("peer: head '%s' is not written in the peer (simple, wide)" % kind)
        hidden = [2 * c for c in cin] if kind == "wide" else list(cin)
        out = [out_dim] * len(cin)
        self.layers = nn.ModuleList([SlimLinear(cin, hidden), nn.ReLU(), SlimLinear(hidden, out)])

    def forward(self, x, wi):
        return self.layers[2](F.relu(self.layers[0](x, wi)), wi)


class Encoder(nn.Module):
    """backbone -> projector, tensors named "backbone.*" and "projector.*" as slimssl's encoder."""

    def __init__(self, cfg):
        super().__init__()
        self.backbone = create_backbone(cfg["model"], cfg["widths"])
        self.projector = ProjectionHead(self.backbone.feature_dims, cfg["head_dim"], cfg["head"])

    def forward(self, x, wi):
        return self.projector(self.backbone(x, wi), wi)


class Classifier(nn.Module):
    """A backbone and a slimmable classifier, as `slimssl models` measures them."""

    def __init__(self, backbone, classes):
        super().__init__()
        self.backbone = backbone
        self.fc = SlimLinear(backbone.feature_dims, [classes] * len(backbone.feature_dims))

    def forward(self, x, wi):
        return self.fc(self.backbone(x, wi), wi)


def parameters_at(module, wi):
    """Parameters the width's sub-network uses (its weight slices and its own norms)."""
    total = 0
    for m in module.modules():
        if isinstance(m, (SlimConv2d, SlimLinear, _OneBN, _PerWidthBN)):
            total += m.parameters_at(wi)
    return total
