#!/usr/bin/env python3
"""Loads a `slimssl export` file into the matching torchvision (or timm, for DeiT) model and compares its features with
the ones slimssl computed (`slimssl export ... --check CHECK.safetensors`).

usage: check_export_torch.py EXPORT.safetensors CHECK.safetensors
Covers every architecture of the zoo (slimssl models). Needs torch, torchvision and safetensors (and timm for
DeiT). Exits 1 when a tensor does not load or features differ."""
import sys

import torch
import torch.nn as nn
import torchvision
from safetensors.torch import load_file
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet


def scaled(c, width):
    # slimssl's channel rule for ResNets: int(w * C), at least 1.
    return max(1, int(width * c + 1e-9))


def slim_resnet(depth, width, cifar, multiplier=1):
    """torchvision's ResNet class at a width. Depth 20 is the CIFAR ResNet-20 family: three stages of three basic
    blocks with 16/32/64 channels (times `multiplier`), projection shortcuts, no layer4."""
    if depth == 20:
        block, layers, feats = BasicBlock, [3, 3, 3], [16 * multiplier, 32 * multiplier, 64 * multiplier]
    else:
        block, layers = (BasicBlock, [2, 2, 2, 2]) if depth == 18 else (Bottleneck, [3, 4, 6, 3])
        feats = [64, 128, 256, 512]
    c = [scaled(f, width) for f in feats]
    stem = scaled(16 * multiplier if depth == 20 else 64, width)
    m = ResNet(block, [2, 2, 2, 2])
    m.inplanes = stem
    m.conv1 = nn.Conv2d(3, stem, 3, 1, 1, bias=False) if cifar else nn.Conv2d(3, stem, 7, 2, 3, bias=False)
    m.bn1 = nn.BatchNorm2d(stem)
    if cifar:
        m.maxpool = nn.Identity()
    m.layer1 = m._make_layer(block, c[0], layers[0])
    m.layer2 = m._make_layer(block, c[1], layers[1], stride=2)
    m.layer3 = m._make_layer(block, c[2], layers[2], stride=2)
    m.layer4 = m._make_layer(block, c[3], layers[3], stride=2) if depth != 20 else nn.Identity()
    m.fc = nn.Identity()
    return m


def build(model, width):
    if model in ("resnet20_cifar", "resnet20x4_cifar"):
        return slim_resnet(20, width, True, 4 if model.startswith("resnet20x4") else 1)
    if model.startswith("resnet18") or model.startswith("resnet50"):
        return slim_resnet(18 if model.startswith("resnet18") else 50, width, model.endswith("_cifar"))
    if model == "mobilenetv3_large" or model == "mobilenetv3_small":
        make = torchvision.models.mobilenet_v3_large if model.endswith("large") else torchvision.models.mobilenet_v3_small
        m = make(width_mult=width)
        m.classifier = nn.Sequential(m.classifier[0], m.classifier[1])  # slimssl's feature: classifier.0 + hardswish
        return m
    if model == "efficientnet_b0":
        # torchvision's B0 built at width_mult = w (its public builder fixes w = 1).
        from torchvision.models.efficientnet import EfficientNet, _efficientnet_conf
        setting, last = _efficientnet_conf("efficientnet_b0", width_mult=width, depth_mult=1.0)
        m = EfficientNet(setting, 0.2, last_channel=last)
        m.classifier = nn.Identity()
        return m
    if model.startswith("deit_tiny"):
        # timm's ViT with slimssl's width rule: heads = max(1, round(3 w)), 64 dims per head.
        from timm.models.vision_transformer import VisionTransformer
        heads = max(1, int(3 * width + 0.5))
        cifar = model.endswith("_cifar")
        return VisionTransformer(img_size=32 if cifar else 224, patch_size=4 if cifar else 16, embed_dim=64 * heads,
                                 depth=12, num_heads=heads, mlp_ratio=4.0, qkv_bias=True, num_classes=0,
                                 global_pool="token")
    raise SystemExit(f"no torchvision counterpart wired up for '{model}'")


def main():
    exported, check = load_file(sys.argv[1]), load_file(sys.argv[2])
    from safetensors import safe_open
    with safe_open(sys.argv[2], "pt") as f:
        meta = f.metadata()
    model, width = meta["model"], float(meta["width"])
    net = build(model, width)
    missing, unexpected = net.load_state_dict(exported, strict=False)
    if missing or unexpected:
        print(f"{model} w{width}: missing {missing[:5]}... unexpected {unexpected[:5]}...")
        return 1
    net.eval()
    with torch.no_grad():
        ours = check["features"]
        theirs = net(check["input"])
    err = (ours - theirs).abs().max().item()
    scale = ours.abs().max().item()
    ok = theirs.shape == ours.shape and err <= 1e-4 + 1e-3 * scale
    with safe_open(sys.argv[1], "pt") as f:
        export_meta = f.metadata()
    inputs = ", ".join(f"{k} {export_meta[k]}" for k in ("input_size", "input_channels", "mean", "std") if k in export_meta)
    print(f"{model} width {width}: {len(exported)} tensors loaded strictly, features {tuple(theirs.shape)}, "
          f"max |diff| {err:.2e} (max |f| {scale:.2e}): {'ok' if ok else 'MISMATCH'}; input: {inputs or 'not recorded'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
