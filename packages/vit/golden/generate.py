#!/usr/bin/python3
"""Golden values for @ggem/vit from a real PyTorch (Debian's python3-torch).

Run: /usr/bin/python3 packages/vit/golden/generate.py   (writes vit-golden.safetensors)

A small timm-compatible ViT written in torch (in_chans 1, img 28, patch 4, D 64, depth 2,
4 heads, MLP ratio 2, exact GELU, pre-norm, LayerNorm eps 1e-6), with timm's parameter
names, evaluated in float64 for each pooling on one batch of 4 images:
  weights.<name>            the shared initial weights (float32 values), every name any
                            pooling uses (norm.* for token, fc_norm.* for the others,
                            pool.p [1] for gem and [4] for ggem with p = 3, 3.5, 4, 4.5)
  input [4,1,28,28], labels [4] (as F32)
  <pooling>.logits, <pooling>.features (pooled, after fc_norm / the class token after norm),
  <pooling>.loss (cross-entropy), <pooling>.input_grad, <pooling>.grad.<name>
The file is written with the minimal writer of safetensors_io.py (F32, 8-byte aligned
header), so the TypeScript reader is also tested on a file it did not write.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

torch.manual_seed(0)
D, DEPTH, HEADS, P, IMG, CIN, MLP, CLASSES, EPS = 64, 2, 4, 4, 28, 1, 128, 10, 1e-6
N = (IMG // P) ** 2


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(D, 3 * D)
        self.proj = nn.Linear(D, D)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, HEADS, c // HEADS).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = ((q * (c // HEADS) ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(D, MLP)
        self.fc2 = nn.Linear(MLP, D)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(D, eps=EPS)
        self.attn = Attention()
        self.norm2 = nn.LayerNorm(D, eps=EPS)
        self.mlp = Mlp()

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(CIN, D, P, P)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class Pool(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = nn.Parameter(p)


class ViT(nn.Module):
    def __init__(self, pooling):
        super().__init__()
        self.pooling = pooling
        self.patch_embed = PatchEmbed()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + N, D))
        self.blocks = nn.ModuleList([Block() for _ in range(DEPTH)])
        if pooling == "token":
            self.norm = nn.LayerNorm(D, eps=EPS)
        else:
            self.fc_norm = nn.LayerNorm(D, eps=EPS)
        if pooling in ("gem", "ggem"):
            self.pool = Pool(torch.zeros(1 if pooling == "gem" else HEADS))
        self.head = nn.Linear(D, CLASSES)

    def features(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        if self.pooling == "token":
            return self.norm(x)[:, 0]
        t = x[:, 1:]
        if self.pooling == "avg":
            y = t.mean(1)
        elif self.pooling == "max":
            y = t.amax(1)
        else:
            pc = self.pool.p.repeat_interleave(D // self.pool.p.shape[0])
            y = t.clamp(min=1e-6).pow(pc).mean(1).pow(1.0 / pc)
        return self.fc_norm(y)

    def forward(self, x):
        f = self.features(x)
        return f, self.head(f)


# shared initial weights, rounded to float32
base = {}
for pooling in ("token", "avg", "gem", "ggem"):
    m = ViT(pooling)
    for k, v in m.state_dict().items():
        base.setdefault(k if k != "pool.p" else f"pool.p.{pooling}", v.clone())
with torch.no_grad():
    base["cls_token"].normal_(std=0.02)
    base["pos_embed"].normal_(std=0.02)
    for k in ("norm.weight", "fc_norm.weight"):
        base[k].copy_(1 + 0.1 * torch.randn(D))
    for k in ("norm.bias", "fc_norm.bias"):
        base[k].copy_(0.1 * torch.randn(D))
    for i in range(DEPTH):
        for n in ("norm1", "norm2"):
            base[f"blocks.{i}.{n}.weight"].copy_(1 + 0.1 * torch.randn(D))
            base[f"blocks.{i}.{n}.bias"].copy_(0.1 * torch.randn(D))
    base["pool.p.gem"] = torch.tensor([3.0])
    base["pool.p.ggem"] = torch.tensor([3.0, 3.5, 4.0, 4.5])
base = {k: v.float() for k, v in base.items()}

x = torch.randn(4, CIN, IMG, IMG)
labels = torch.tensor([3, 1, 7, 0])
out = {"input": x, "labels": labels.float()}
for k, v in base.items():
    out[f"weights.{k}"] = v

for pooling in ("token", "avg", "max", "gem", "ggem"):
    m = ViT(pooling).double()
    sd = {}
    for k in m.state_dict():
        sd[k] = base[f"pool.p.{pooling}" if k == "pool.p" else k].double()
    m.load_state_dict(sd)
    xi = x.double().requires_grad_(True)
    feats, logits = m(xi)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    out[f"{pooling}.logits"] = logits
    out[f"{pooling}.features"] = feats
    out[f"{pooling}.loss"] = loss.reshape(1)
    out[f"{pooling}.input_grad"] = xi.grad
    for k, p in m.named_parameters():
        out[f"{pooling}.grad.{k}"] = p.grad


path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vit-golden.safetensors")
write_safetensors(path, out)
print(f"wrote {path}: {len(out)} tensors, {os.path.getsize(path)} bytes (torch {torch.__version__})")
