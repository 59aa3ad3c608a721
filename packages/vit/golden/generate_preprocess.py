#!/usr/bin/python3
"""Golden values for @ggem/vit's preprocess(): timm's eval transform as torchvision runs it
on PIL images (Debian's python3-torchvision 0.14 and python3-pil 9.4).

Run: /usr/bin/python3 packages/vit/golden/generate_preprocess.py   (writes preprocess-golden.safetensors)

The transform is transforms_imagenet_eval of timm 1.0, written out: the shorter side resized
to floor(size / crop_pct) (torchvision's Resize(int), Pillow's resampling), CenterCrop(size),
ToTensor, Normalize(mean, std); crop_mode 'squash' resizes both sides to floor(size / crop_pct)
first. Images go through .convert('RGB') as timm's loader does (gray and RGBA ones too).
  image.<name>           U8 [H, W, C] (C = 1, 3 or 4), drawn from gradients, edges and noise
  <config>.<name>        F32 [3, S, S], the transform's output
The metadata key "configs" holds each config (input size, crop_pct, crop mode,
interpolation, mean, std) and the images it is applied to.
"""
import json
import math
import os
import sys

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

rng = np.random.default_rng(0)


def picture(h, w, c):
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([255 * x / max(w - 1, 1), 255 * y / max(h - 1, 1), 127 + 120 * np.sin(x / 5.0 + y / 7.0)], -1)
    base[(x // 9 + y // 11) % 2 == 0] *= 0.4  # a checkerboard of hard edges
    base[h // 3 : h // 2, w // 4 : w // 2] = [255, 0, 30]
    img = np.clip(base + rng.normal(0, 18, base.shape), 0, 255).astype(np.uint8)
    if c == 1:
        return img[..., :1]
    if c == 4:
        return np.concatenate([img, rng.integers(0, 256, (h, w, 1), dtype=np.uint8)], -1)
    return img


IMAGES = {
    "landscape": picture(203, 301, 3),
    "portrait": picture(260, 150, 3),
    "small": picture(40, 40, 3),
    "gray": picture(90, 120, 1),
    "rgba": picture(130, 97, 4),
    "wide": picture(61, 500, 3),
}
HALF = ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
CONFIGS = {
    "augreg64": dict(input_size=64, crop_pct=0.9, crop_mode="center", interpolation="bicubic", norm=HALF, images=list(IMAGES)),
    "imagenet56": dict(input_size=56, crop_pct=0.875, crop_mode="center", interpolation="bicubic", norm=IMAGENET, images=list(IMAGES)),
    "bilinear48": dict(input_size=48, crop_pct=1.0, crop_mode="center", interpolation="bilinear", norm=IMAGENET, images=["landscape", "gray", "small"]),
    "squash64": dict(input_size=64, crop_pct=0.95, crop_mode="squash", interpolation="bicubic", norm=HALF, images=["portrait", "wide", "rgba"]),
    "vit224": dict(input_size=224, crop_pct=0.9, crop_mode="center", interpolation="bicubic", norm=HALF, images=["landscape"]),
}
MODES = {"bicubic": T.InterpolationMode.BICUBIC, "bilinear": T.InterpolationMode.BILINEAR}


def eval_transform(c):
    scale = math.floor(c["input_size"] / c["crop_pct"])
    resize = T.Resize((scale, scale) if c["crop_mode"] == "squash" else scale, interpolation=MODES[c["interpolation"]])
    mean, std = c["norm"]
    return T.Compose([resize, T.CenterCrop(c["input_size"]), T.ToTensor(), T.Normalize(torch.tensor(mean), torch.tensor(std))])


out, meta = {}, {}
for name, a in IMAGES.items():
    out[f"image.{name}"] = a
for cname, c in CONFIGS.items():
    t = eval_transform(c)
    for name in c["images"]:
        a = IMAGES[name]
        mode = {1: "L", 3: "RGB", 4: "RGBA"}[a.shape[2]]
        pil = Image.fromarray(a[..., 0] if mode == "L" else a, mode).convert("RGB")
        out[f"{cname}.{name}"] = t(pil).numpy()
    mean, std = c["norm"]
    meta[cname] = {k: v for k, v in c.items() if k != "norm"} | {"mean": mean, "std": std}


import torchvision  # noqa: E402
import PIL  # noqa: E402

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "preprocess-golden.safetensors")
write_safetensors(path, out, {"configs": json.dumps(meta)})
print(f"wrote {path}: {len(out)} tensors, {os.path.getsize(path)} bytes (torchvision {torchvision.__version__}, Pillow {PIL.__version__})")
